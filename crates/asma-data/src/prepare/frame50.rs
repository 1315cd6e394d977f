//! AimCLR's offline reduction of a 300-frame sequence to the "frame50" layout that AimCLR,
//! CrosSCLR and PSTL train on (docs/METHOD.md §2.2, docs/DATA.md §3a-iii): length rule, centring on
//! J21, OpenCV-linear resize in time, per-frame rotation about the vertical axis.
//!
//! The arithmetic follows the reference pipeline step by step (f32 where NumPy/OpenCV work
//! in f32, the rotation product in f64 as `np.dot` of a float64 matrix does), so prepared
//! files agree with AimCLR's to well under 1e-5.

use asma_skeleton::Sequence;

/// Index of J21, "spine shoulder": the centre subtracted from every joint.
const CENTRE: usize = 20;
/// Left and right shoulder (J5, J9), whose difference defines the body's facing.
const LEFT_SHOULDER: usize = 4;
const RIGHT_SHOULDER: usize = 8;

/// Options of the reduction; the defaults are AimCLR's `preprocess_ntu.py`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Frame50Options {
    /// Output frames (50).
    pub frames: usize,
    /// Subtract J21 of each body and frame (`data_type = relative`).
    pub centre: bool,
    /// Rotate each frame about y so that the shoulders lie along +x (`y_rotation`).
    pub y_rotation: bool,
}

impl Default for Frame50Options {
    fn default() -> Self {
        Frame50Options {
            frames: 50,
            centre: true,
            y_rotation: true,
        }
    }
}

/// Why a sequence cannot be reduced.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Frame50Error {
    /// Joint J1 of body 0 is zero in every frame: the reference resize has no input rows.
    #[error(
        "body 0 is empty in every frame (its spine base J1 is never non-zero), nothing to resize"
    )]
    EmptySequence,
}

/// The number of frames in which J1 (index 0) of body 0 is non-zero: a count, not a span
/// (a zero frame in the middle is not counted, yet the first `length` frames are used).
pub fn valid_length(seq: &Sequence) -> usize {
    (0..seq.frames)
        .filter(|&t| seq.joint(t, 0, 0).iter().map(|v| v.abs()).sum::<f32>() != 0.0)
        .count()
}

/// Zero-pads (or truncates) to `frames` frames: the 300-frame layout of `ntu_gendata.py`.
pub fn pad_frames(seq: &Sequence, frames: usize) -> Sequence {
    copy_frames(seq, 0, frames)
}

/// Keeps the centre `frames` frames of a longer sequence (AimCLR's PKU-MMD gendata), or
/// returns it unchanged when it is short enough.
pub fn centre_crop(seq: &Sequence, frames: usize) -> Sequence {
    if seq.frames <= frames {
        return seq.clone();
    }
    copy_frames(seq, (seq.frames - frames) / 2, frames)
}

/// A `frames`-frame sequence holding `seq`'s frames `start..` (zeros past its end).
fn copy_frames(seq: &Sequence, start: usize, frames: usize) -> Sequence {
    let mut out = Sequence::zeros(frames, seq.joints, seq.bodies);
    let n = frames.min(seq.frames.saturating_sub(start));
    let frame_len = seq.joints * seq.bodies;
    for c in 0..3 {
        let src = seq.index(c, start, 0, 0);
        let dst = out.index(c, 0, 0, 0);
        out.data[dst..dst + n * frame_len].copy_from_slice(&seq.data[src..src + n * frame_len]);
    }
    out
}

/// Reduces one sequence (any number of frames, typically the 300-frame layout) to
/// `opts.frames` frames.
pub fn frame50(seq: &Sequence, opts: &Frame50Options) -> Result<Sequence, Frame50Error> {
    let length = valid_length(seq);
    if length == 0 {
        return Err(Frame50Error::EmptySequence);
    }
    let mut centred = seq.clone();
    if opts.centre {
        for t in 0..seq.frames {
            for m in 0..seq.bodies {
                let centre = seq.joint(t, CENTRE, m);
                for v in 0..seq.joints {
                    for (c, &cv) in centre.iter().enumerate() {
                        let i = centred.index(c, t, v, m);
                        centred.data[i] -= cv;
                    }
                }
            }
        }
    }
    let mut out = resize_linear(&centred, length, opts.frames);
    if opts.y_rotation {
        for m in 0..out.bodies {
            rotate_body_about_y(&mut out, m);
        }
    }
    Ok(out)
}

/// OpenCV `INTER_LINEAR` resize of frames `0..length` to `frames` rows, per body and joint:
/// source row `fy = (i + 0.5)·length/frames − 0.5`, `sy = ⌊fy⌋`, weights `(1 − w, w)` in
/// f32 with `w = fy − sy`, both source rows clamped to `[0, length − 1]`.
pub fn resize_linear(seq: &Sequence, length: usize, frames: usize) -> Sequence {
    let mut out = Sequence::zeros(frames, seq.joints, seq.bodies);
    let scale = 1.0 / (frames as f64 / length as f64);
    let last = length as i64 - 1;
    for i in 0..frames {
        let fy = ((i as f64 + 0.5) * scale - 0.5) as f32;
        let sy = fy.floor();
        let w = fy - sy;
        let (b0, b1) = (1.0f32 - w, w);
        let r0 = (sy as i64).clamp(0, last) as usize;
        let r1 = (sy as i64 + 1).clamp(0, last) as usize;
        for c in 0..3 {
            for v in 0..seq.joints {
                for m in 0..seq.bodies {
                    let value = seq.at(c, r0, v, m) * b0 + seq.at(c, r1, v, m) * b1;
                    out.set(c, i, v, m, value);
                }
            }
        }
    }
    out
}

/// AimCLR's `parallel_skeleton`: per frame, θ_t = arccos(v_x / (‖v‖ + 1e-4)) with
/// v = (J9 − J5) and v_y = 0; all angles negated when Σ_t v_z ≥ 0; every joint of frame t
/// rotated by R_y(θ_t) with rows (cos, 0, −sin), (0, 1, 0), (sin, 0, cos). An all-zero body
/// stays zero. Angles go through degrees in f32, as the reference does.
pub fn rotate_body_about_y(seq: &mut Sequence, m: usize) {
    let deg_per_rad = (180.0 / std::f64::consts::PI) as f32;
    let pi = std::f64::consts::PI as f32;
    let mut thetas = Vec::with_capacity(seq.frames);
    let mut z_sum = 0.0f64;
    for t in 0..seq.frames {
        let r = seq.joint(t, RIGHT_SHOULDER, m);
        let l = seq.joint(t, LEFT_SHOULDER, m);
        let (vx, vz) = (r[0] - l[0], r[2] - l[2]);
        let norm = (vx * vx + 0.0 + vz * vz).sqrt();
        let cos = vx / (norm + 0.0001);
        thetas.push(cos.acos() * deg_per_rad);
        z_sum += vz as f64;
    }
    let sign = if z_sum >= 0.0 { -1.0f32 } else { 1.0 };
    for (t, theta_deg) in thetas.into_iter().enumerate() {
        let rad = (sign * theta_deg) * pi / 180.0;
        let (c, s) = (rad.cos() as f64, rad.sin() as f64);
        for v in 0..seq.joints {
            let [x, y, z] = seq.joint(t, v, m).map(|a| a as f64);
            let x2 = c * x + 0.0 * y + (-s) * z;
            let z2 = s * x + 0.0 * y + c * z;
            seq.set_joint(t, v, m, [x2 as f32, y as f32, z2 as f32]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A two-body sequence of `frames` frames (body 1 absent) with varied joints.
    fn walker(frames: usize) -> Sequence {
        let mut s = Sequence::zeros(frames, 25, 2);
        for t in 0..frames {
            let a = t as f32 * 0.05;
            for v in 0..25 {
                s.set_joint(
                    t,
                    v,
                    0,
                    [
                        0.3 + 0.02 * v as f32 + 0.1 * a.sin(),
                        0.5 - 0.03 * v as f32,
                        3.0 + 0.01 * v as f32 * a.cos(),
                    ],
                );
            }
            // Shoulders: a body turned about y by an angle that drifts with t.
            s.set_joint(t, LEFT_SHOULDER, 0, [0.1, 0.4, 3.0 + 0.05 * a.cos()]);
            s.set_joint(t, RIGHT_SHOULDER, 0, [0.5, 0.4, 3.1 - 0.05 * a.sin()]);
        }
        s
    }

    #[test]
    fn length_is_a_count_of_non_zero_j1_frames() {
        let mut s = pad_frames(&walker(40), 300);
        assert_eq!(valid_length(&s), 40);
        s.set_joint(5, 0, 0, [0.0; 3]);
        assert_eq!(valid_length(&s), 39);
    }

    #[test]
    fn output_shape_centre_is_zero_and_absent_body_stays_zero() {
        let s = pad_frames(&walker(73), 300);
        let out = frame50(&s, &Frame50Options::default()).unwrap();
        assert_eq!((out.frames, out.joints, out.bodies), (50, 25, 2));
        for t in 0..50 {
            assert_eq!(out.joint(t, CENTRE, 0), [0.0; 3]);
            assert!(out.body_is_empty(t, 1));
        }
    }

    #[test]
    fn resize_of_equal_length_is_the_identity_and_samples_half_pixel_centres() {
        let s = walker(50);
        assert_eq!(resize_linear(&s, 50, 50), s);
        // Upsampling 2 → 4 frames: positions −0.25, 0.25, 0.75, 1.25 → clamped/linear.
        let mut two = Sequence::zeros(2, 25, 2);
        two.set(0, 0, 3, 0, 1.0);
        two.set(0, 1, 3, 0, 3.0);
        let up = resize_linear(&two, 2, 4);
        let got: Vec<f32> = (0..4).map(|t| up.at(0, t, 3, 0)).collect();
        assert_eq!(got, vec![1.0, 1.5, 2.5, 3.0]);
        // Downsampling 100 → 50 averages neighbour pairs.
        let mut ramp = Sequence::zeros(100, 25, 2);
        for t in 0..100 {
            ramp.set(1, t, 0, 0, t as f32);
        }
        let down = resize_linear(&ramp, 100, 50);
        assert_eq!(down.at(1, 0, 0, 0), 0.5);
        assert_eq!(down.at(1, 49, 0, 0), 98.5);
    }

    #[test]
    fn rotation_aligns_shoulders_with_x_where_the_sign_agrees() {
        let s = pad_frames(&walker(60), 300);
        let centred = frame50(
            &s,
            &Frame50Options {
                y_rotation: false,
                ..Default::default()
            },
        )
        .unwrap();
        let rotated = frame50(&s, &Frame50Options::default()).unwrap();
        let z_sum: f32 = (0..50)
            .map(|t| centred.joint(t, RIGHT_SHOULDER, 0)[2] - centred.joint(t, LEFT_SHOULDER, 0)[2])
            .sum();
        let mut checked = 0;
        for t in 0..50 {
            let before =
                centred.joint(t, RIGHT_SHOULDER, 0)[2] - centred.joint(t, LEFT_SHOULDER, 0)[2];
            if (before >= 0.0) == (z_sum >= 0.0) {
                let vx =
                    rotated.joint(t, RIGHT_SHOULDER, 0)[0] - rotated.joint(t, LEFT_SHOULDER, 0)[0];
                let vz =
                    rotated.joint(t, RIGHT_SHOULDER, 0)[2] - rotated.joint(t, LEFT_SHOULDER, 0)[2];
                // Not exactly 0: the +1e-4 in the denominator leaves a residual angle of
                // about sqrt(2e-4/|v|) rad.
                assert!(vz.abs() < 0.03 * vx && vx > 0.0, "frame {t}: ({vx}, {vz})");
                checked += 1;
            }
        }
        assert!(checked > 10);
        // Rotation about y keeps heights and distances to the centre.
        for t in [0, 17, 49] {
            for v in [3, 11, 19] {
                let a = centred.joint(t, v, 0);
                let b = rotated.joint(t, v, 0);
                assert_eq!(a[1], b[1]);
                assert!(
                    ((a[0] * a[0] + a[2] * a[2]).sqrt() - (b[0] * b[0] + b[2] * b[2]).sqrt()).abs()
                        < 1e-5
                );
            }
        }
    }

    #[test]
    fn empty_body_zero_is_an_error() {
        assert_eq!(
            frame50(&Sequence::zeros(300, 25, 2), &Frame50Options::default()),
            Err(Frame50Error::EmptySequence)
        );
    }

    #[test]
    fn centre_crop_keeps_the_middle() {
        let mut s = Sequence::zeros(310, 25, 2);
        for t in 0..310 {
            s.set(0, t, 0, 0, t as f32);
        }
        let c = centre_crop(&s, 300);
        assert_eq!((c.at(0, 0, 0, 0), c.at(0, 299, 0, 0)), (5.0, 304.0));
    }
}
