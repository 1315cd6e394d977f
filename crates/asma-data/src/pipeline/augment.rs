//! PSTL's pre-training augmentations (docs/METHOD.md §2.4): temporal crop with reflection
//! padding, shear, rotation and left/right flip, as a typed list applied in order.
//!
//! Every random parameter is drawn **once per call**, i.e. once per mini-batch and view,
//! and shared by all samples of the batch, because that is what PSTL does (a per-sample
//! draw would be a different method). The augmentations run on whichever stream the
//! encoder trains on: motion and bone vectors are sheared and rotated like positions.

use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};
use crate::pipeline::stream::BatchShape;
use crate::rng::Rng;
use asma_skeleton::layout::NTU25;

/// One augmentation with its parameters. Serialised as `{"type": "crop", ...}`; a missing
/// parameter takes the PSTL default, an unknown one is an error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Transform {
    /// Temporal shift: reflection-pad `P = ⌊T / padding_ratio⌋` frames at each end, then
    /// take `T` consecutive frames from a start drawn uniformly in `0..=2P`.
    Crop {
        /// Divisor of `T` giving the padding (PSTL: 6, so `P = 8` at `T = 50`).
        #[serde(default = "default_padding_ratio")]
        padding_ratio: usize,
    },
    /// `p' = Sᵀ p` with `S` 3×3, unit diagonal, off-diagonals i.i.d. `U(−amplitude,
    /// amplitude)`.
    Shear {
        /// Half-width of the off-diagonal range (PSTL: 1).
        #[serde(default = "default_shear_amplitude")]
        amplitude: f32,
    },
    /// `p' = R_z R_y R_x p`: one main axis drawn uniformly from x/y/z is turned by
    /// `U(0, main_max_deg)` degrees, the two others by `U(0, other_max_deg)`.
    Rotate {
        /// Upper bound of the main-axis angle in degrees (PSTL: 30).
        #[serde(default = "default_main_max_deg")]
        main_max_deg: f32,
        /// Upper bound of the other two angles in degrees (PSTL: 1).
        #[serde(default = "default_other_max_deg")]
        other_max_deg: f32,
    },
    /// With probability `p`, new joint `j` takes old joint `NTU25.flip_perm[j]`. The
    /// coordinates are not mirrored (as in PSTL).
    Flip {
        /// Probability of flipping the batch (PSTL: 0.5).
        #[serde(default = "default_flip_p")]
        p: f64,
    },
    /// Sets `joints` distinct joints, drawn uniformly, to zero in every frame, person and
    /// sample. Defined in PSTL but not used by its pre-training; the "random" ablation of
    /// docs/METHOD.md §5.3 removes joints through [`crate::pipeline::mask`] instead.
    RandomJointZero {
        /// Number of joints zeroed (PSTL's `mask_joint`: 8).
        #[serde(default = "default_zero_joints")]
        joints: usize,
    },
    /// With probability `p`, adds i.i.d. `N(0, std²)` noise to every value (AimCLR's
    /// `gaus_noise`: std 0.01, p 0.5).
    GaussianNoise {
        #[serde(default = "default_noise_std")]
        std: f32,
        #[serde(default = "default_half")]
        p: f64,
    },
    /// With probability `p`, convolves every (channel, joint, person) trajectory over time
    /// with `exp(−k²/2σ²)`, `k = −⌊kernel/2⌋..=⌊kernel/2⌋`, `σ ~ U(sigma_min, sigma_max)`,
    /// zero padding (AimCLR's `gaus_filter`: kernel 15, σ in [0.1, 2], p 0.5). As in AimCLR
    /// the taps are not normalised: they sum to about σ√(2π) for σ ≥ 0.5, so the blur also
    /// scales the sequence.
    GaussianBlur {
        #[serde(default = "default_blur_kernel")]
        kernel: usize,
        #[serde(default = "default_sigma_min")]
        sigma_min: f64,
        #[serde(default = "default_sigma_max")]
        sigma_max: f64,
        #[serde(default = "default_half")]
        p: f64,
    },
    /// With probability `p`, zeroes one coordinate axis drawn uniformly (AimCLR's
    /// `axis_mask`, p 0.5).
    AxisMask {
        #[serde(default = "default_half")]
        p: f64,
    },
}

fn default_padding_ratio() -> usize {
    6
}
fn default_shear_amplitude() -> f32 {
    1.0
}
fn default_main_max_deg() -> f32 {
    30.0
}
fn default_other_max_deg() -> f32 {
    1.0
}
fn default_flip_p() -> f64 {
    0.5
}
fn default_zero_joints() -> usize {
    8
}
fn default_noise_std() -> f32 {
    0.01
}
fn default_half() -> f64 {
    0.5
}
fn default_blur_kernel() -> usize {
    15
}
fn default_sigma_min() -> f64 {
    0.1
}
fn default_sigma_max() -> f64 {
    2.0
}

/// AimCLR's extreme view (`Feeder_triple._strong_aug` with `aug_method = '12345'`): crop,
/// shear 0.5, flip, rotate, Gaussian noise, Gaussian blur, axis mask, drawn per sample.
pub fn aimclr_extreme() -> Vec<Transform> {
    vec![
        Transform::Crop {
            padding_ratio: default_padding_ratio(),
        },
        Transform::Shear { amplitude: 0.5 },
        Transform::Flip {
            p: default_flip_p(),
        },
        Transform::Rotate {
            main_max_deg: default_main_max_deg(),
            other_max_deg: default_other_max_deg(),
        },
        Transform::GaussianNoise {
            std: default_noise_std(),
            p: default_half(),
        },
        Transform::GaussianBlur {
            kernel: default_blur_kernel(),
            sigma_min: default_sigma_min(),
            sigma_max: default_sigma_max(),
            p: default_half(),
        },
        Transform::AxisMask { p: default_half() },
    ]
}

/// PSTL's pre-training view: crop → shear → rotate → flip with the paper's parameters.
pub fn pstl_pretrain() -> Vec<Transform> {
    vec![
        Transform::Crop {
            padding_ratio: default_padding_ratio(),
        },
        Transform::Shear {
            amplitude: default_shear_amplitude(),
        },
        Transform::Rotate {
            main_max_deg: default_main_max_deg(),
            other_max_deg: default_other_max_deg(),
        },
        Transform::Flip {
            p: default_flip_p(),
        },
    ]
}

impl Transform {
    /// Checks the parameters, and that a batch of `shape` can take this transform.
    pub fn validate(&self, shape: &BatchShape) -> Result<()> {
        let bad = |msg: String| Err(DataError::Config(msg));
        let finite_nonneg = |x: f64| x.is_finite() && x >= 0.0;
        match *self {
            Transform::Crop { padding_ratio: 0 } => {
                bad("crop: padding_ratio must be at least 1".into())
            }
            Transform::Shear { amplitude } if !finite_nonneg(amplitude.into()) => bad(format!(
                "shear: amplitude must be finite and >= 0, got {amplitude}"
            )),
            Transform::Rotate {
                main_max_deg,
                other_max_deg,
            } if !finite_nonneg(main_max_deg.into()) || !finite_nonneg(other_max_deg.into()) => {
                bad(format!(
                    "rotate: angles must be finite and >= 0, got {main_max_deg}, {other_max_deg}"
                ))
            }
            Transform::Flip { p }
            | Transform::GaussianNoise { p, .. }
            | Transform::GaussianBlur { p, .. }
            | Transform::AxisMask { p }
                if !(0.0..=1.0).contains(&p) =>
            {
                bad(format!("{self:?}: p must lie in [0, 1], got {p}"))
            }
            Transform::GaussianNoise { std, .. } if !finite_nonneg(std.into()) => bad(format!(
                "gaussian_noise: std must be finite and >= 0, got {std}"
            )),
            Transform::GaussianBlur {
                kernel,
                sigma_min,
                sigma_max,
                ..
            } if kernel % 2 == 0 || !(sigma_min > 0.0 && sigma_min <= sigma_max && sigma_max.is_finite()) => {
                bad(format!(
                    "gaussian_blur: kernel must be odd and 0 < sigma_min <= sigma_max, got {kernel}, {sigma_min}, {sigma_max}"
                ))
            }
            Transform::AxisMask { .. } if shape.c != 3 => bad(format!(
                "axis_mask: needs 3 channels, the batch has {}",
                shape.c
            )),
            Transform::Flip { .. } if shape.v != NTU25.num_joints() => bad(format!(
                "flip: the permutation is NTU-25's, the batch has {} joints",
                shape.v
            )),
            Transform::RandomJointZero { joints } if joints > shape.v => bad(format!(
                "random_joint_zero: cannot zero {joints} of {} joints",
                shape.v
            )),
            Transform::Shear { .. } | Transform::Rotate { .. } if shape.c != 3 => bad(format!(
                "shear and rotate need 3 channels, the batch has {}",
                shape.c
            )),
            _ => Ok(()),
        }
    }
}

/// Applies `transforms` in order to a batch, in place.
///
/// * `data`: `(N, C, T, V, M)` as described by `shape`; it keeps that shape.
/// * `rng`: every random parameter is drawn from it once per transform and shared by the
///   whole batch. Draw order: crop start; shear off-diagonals row by row; rotation main
///   axis then x, y, z angles; flip coin; zeroed joints; noise coin then values; blur σ then
///   coin; axis-mask coin then axis.
///
/// All transforms are validated before any is applied, so an error leaves `data`
/// untouched.
///
/// # Panics
/// If `data.len()` does not match `shape`.
pub fn apply(
    transforms: &[Transform],
    shape: &BatchShape,
    data: &mut [f32],
    rng: &mut Rng,
) -> Result<()> {
    shape.assert_len(data.len());
    for tr in transforms {
        tr.validate(shape)?;
    }
    for tr in transforms {
        match *tr {
            Transform::Crop { padding_ratio } => {
                let pad = shape.t / padding_ratio;
                let start = rng.below(2 * pad + 1);
                crop(shape, data, pad, start);
            }
            Transform::Shear { amplitude } => {
                let s = draw_shear(rng, amplitude);
                // p'_d = Σ_c p_c S[c][d]: the map applied to column vectors is Sᵀ.
                linear_map(shape, data, &transpose(&s));
            }
            Transform::Rotate {
                main_max_deg,
                other_max_deg,
            } => {
                let angles = draw_rotation_angles(rng, main_max_deg, other_max_deg);
                linear_map(shape, data, &rotation_matrix(angles));
            }
            Transform::Flip { p } => {
                if rng.bernoulli(p) {
                    permute_joints(shape, data, NTU25.flip_perm);
                }
            }
            Transform::RandomJointZero { joints } => {
                let chosen = rng.sample_indices(shape.v, joints);
                zero_joints(shape, data, &chosen);
            }
            Transform::GaussianNoise { std, p } => {
                if rng.bernoulli(p) {
                    for x in data.iter_mut() {
                        *x += std * rng.normal() as f32;
                    }
                }
            }
            Transform::GaussianBlur {
                kernel,
                sigma_min,
                sigma_max,
                p,
            } => {
                let sigma = rng.uniform(sigma_min, sigma_max);
                if rng.bernoulli(p) {
                    blur_time(shape, data, &gaussian_taps(kernel, sigma));
                }
            }
            Transform::AxisMask { p } => {
                if rng.bernoulli(p) {
                    let axis = rng.below(3);
                    for sample in data.chunks_exact_mut(shape.sample_len()) {
                        let cl = shape.channel_len();
                        sample[axis * cl..(axis + 1) * cl].fill(0.0);
                    }
                }
            }
        }
    }
    Ok(())
}

/// `exp(−k²/2σ²)` for `k = −⌊kernel/2⌋..=⌊kernel/2⌋`, unnormalised (AimCLR's filter).
fn gaussian_taps(kernel: usize, sigma: f64) -> Vec<f32> {
    let r = (kernel / 2) as i64;
    (-r..=r)
        .map(|k| (-((k * k) as f64) / (2.0 * sigma * sigma)).exp() as f32)
        .collect()
}

/// Every (sample, channel, joint, person) trajectory correlated over time with `taps`
/// (centred, zero padding), in place.
fn blur_time(shape: &BatchShape, data: &mut [f32], taps: &[f32]) {
    let (t, fl) = (shape.t, shape.frame_len());
    let r = taps.len() / 2;
    let mut src = vec![0.0; shape.channel_len()];
    for channel in data.chunks_exact_mut(shape.channel_len()) {
        src.copy_from_slice(channel);
        for out_t in 0..t {
            let dst = &mut channel[out_t * fl..(out_t + 1) * fl];
            dst.fill(0.0);
            for (i, &w) in taps.iter().enumerate() {
                let Some(in_t) = (out_t + i).checked_sub(r).filter(|&s| s < t) else {
                    continue;
                };
                for (d, s) in dst.iter_mut().zip(&src[in_t * fl..(in_t + 1) * fl]) {
                    *d += w * s;
                }
            }
        }
    }
}

/// Source frame of each output frame of the crop: output `i` is frame `start + i` of the
/// padded sequence `x[P−1], …, x[0], x[0], …, x[T−1], x[T−1], …, x[T−P]`.
fn crop_source_frames(t: usize, pad: usize, start: usize) -> Vec<usize> {
    debug_assert!(pad <= t && start <= 2 * pad);
    (start..start + t)
        .map(|k| {
            if k < pad {
                pad - 1 - k
            } else if k < pad + t {
                k - pad
            } else {
                // k = pad + t + j takes x[T−1−j].
                2 * t + pad - 1 - k
            }
        })
        .collect()
}

/// The crop with a fixed padding and start.
fn crop(shape: &BatchShape, data: &mut [f32], pad: usize, start: usize) {
    if start == pad {
        // The unpadded window: identity.
        return;
    }
    let src = crop_source_frames(shape.t, pad, start);
    let fl = shape.frame_len();
    let mut slab = vec![0.0; shape.channel_len()];
    for dst in data.chunks_exact_mut(shape.channel_len()) {
        slab.copy_from_slice(dst);
        for (t, &s) in src.iter().enumerate() {
            dst[t * fl..(t + 1) * fl].copy_from_slice(&slab[s * fl..(s + 1) * fl]);
        }
    }
}

/// `S` with unit diagonal and off-diagonals `U(−a, a)`, drawn row by row.
fn draw_shear(rng: &mut Rng, amplitude: f32) -> [[f32; 3]; 3] {
    let mut s = [[1.0; 3]; 3];
    let a = f64::from(amplitude);
    for (i, row) in s.iter_mut().enumerate() {
        for (j, e) in row.iter_mut().enumerate() {
            if i != j {
                *e = rng.uniform(-a, a) as f32;
            }
        }
    }
    s
}

/// Angles in degrees about x, y, z: the main axis (drawn first, uniformly) gets
/// `U(0, main_max)`, the others `U(0, other_max)`, drawn in x, y, z order.
fn draw_rotation_angles(rng: &mut Rng, main_max: f32, other_max: f32) -> [f32; 3] {
    let main = rng.below(3);
    let mut angles = [0.0; 3];
    for (axis, a) in angles.iter_mut().enumerate() {
        let hi = if axis == main { main_max } else { other_max };
        *a = rng.uniform(0.0, f64::from(hi)) as f32;
    }
    angles
}

/// `R_z R_y R_x` for angles in degrees, with docs/METHOD.md §2.4's matrices
/// `R_x = [[1,0,0],[0,c,s],[0,−s,c]]`, `R_y = [[c,0,−s],[0,1,0],[s,0,c]]`,
/// `R_z = [[c,s,0],[−s,c,0],[0,0,1]]`.
fn rotation_matrix(angles_deg: [f32; 3]) -> [[f32; 3]; 3] {
    let [x, y, z] = angles_deg.map(|d| f64::from(d).to_radians());
    let rx = [
        [1.0, 0.0, 0.0],
        [0.0, x.cos(), x.sin()],
        [0.0, -x.sin(), x.cos()],
    ];
    let ry = [
        [y.cos(), 0.0, -y.sin()],
        [0.0, 1.0, 0.0],
        [y.sin(), 0.0, y.cos()],
    ];
    let rz = [
        [z.cos(), z.sin(), 0.0],
        [-z.sin(), z.cos(), 0.0],
        [0.0, 0.0, 1.0],
    ];
    // Composed in f64 so that the f32 result is the correctly rounded product.
    let r = matmul(&rz, &matmul(&ry, &rx));
    r.map(|row| row.map(|e| e as f32))
}

fn matmul(a: &[[f64; 3]; 3], b: &[[f64; 3]; 3]) -> [[f64; 3]; 3] {
    let mut out = [[0.0; 3]; 3];
    for (i, row) in out.iter_mut().enumerate() {
        for (j, e) in row.iter_mut().enumerate() {
            *e = (0..3).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    out
}

fn transpose(a: &[[f32; 3]; 3]) -> [[f32; 3]; 3] {
    let mut out = [[0.0; 3]; 3];
    for (i, row) in a.iter().enumerate() {
        for (j, &e) in row.iter().enumerate() {
            out[j][i] = e;
        }
    }
    out
}

/// `p' = A p` for every `(n, t, v, m)` point, with `p` the 3 channels. Linear, so absent
/// (all-zero) bodies stay zero.
fn linear_map(shape: &BatchShape, data: &mut [f32], a: &[[f32; 3]; 3]) {
    debug_assert_eq!(shape.c, 3);
    let cl = shape.channel_len();
    for sample in data.chunks_exact_mut(shape.sample_len()) {
        let (c0, rest) = sample.split_at_mut(cl);
        let (c1, c2) = rest.split_at_mut(cl);
        for ((x, y), z) in c0.iter_mut().zip(c1.iter_mut()).zip(c2.iter_mut()) {
            let p = [*x, *y, *z];
            *x = a[0][0] * p[0] + a[0][1] * p[1] + a[0][2] * p[2];
            *y = a[1][0] * p[0] + a[1][1] * p[1] + a[1][2] * p[2];
            *z = a[2][0] * p[0] + a[2][1] * p[1] + a[2][2] * p[2];
        }
    }
}

/// New joint `j` takes old joint `perm[j]`, in every frame, channel, person and sample.
fn permute_joints(shape: &BatchShape, data: &mut [f32], perm: &[usize]) {
    debug_assert_eq!(perm.len(), shape.v);
    let m = shape.m;
    let mut old = vec![0.0; shape.frame_len()];
    for frame in data.chunks_exact_mut(shape.frame_len()) {
        old.copy_from_slice(frame);
        for (j, &src) in perm.iter().enumerate() {
            frame[j * m..(j + 1) * m].copy_from_slice(&old[src * m..(src + 1) * m]);
        }
    }
}

/// Zeroes the listed joints everywhere.
fn zero_joints(shape: &BatchShape, data: &mut [f32], joints: &[usize]) {
    let m = shape.m;
    for frame in data.chunks_exact_mut(shape.frame_len()) {
        for &j in joints {
            frame[j * m..(j + 1) * m].fill(0.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A (n, 3, t, 25, 2) batch of normal noise with person 1 absent (all zero).
    fn noisy_batch(n: usize, t: usize, seed: u64) -> (BatchShape, Vec<f32>) {
        let s = BatchShape::new(n, 3, t, 25, 2);
        let mut r = Rng::new(seed);
        let mut x = vec![0.0; s.len()];
        for (i, e) in x.iter_mut().enumerate() {
            if i % 2 == 0 {
                *e = r.normal() as f32;
            }
        }
        (s, x)
    }

    #[test]
    fn crop_source_frames_follow_the_reflection_rule() {
        // T = 5, P = 2: padded = x1 x0 | x0 x1 x2 x3 x4 | x4 x3.
        assert_eq!(crop_source_frames(5, 2, 0), [1, 0, 0, 1, 2]);
        assert_eq!(crop_source_frames(5, 2, 1), [0, 0, 1, 2, 3]);
        assert_eq!(crop_source_frames(5, 2, 2), [0, 1, 2, 3, 4]);
        assert_eq!(crop_source_frames(5, 2, 3), [1, 2, 3, 4, 4]);
        assert_eq!(crop_source_frames(5, 2, 4), [2, 3, 4, 4, 3]);
        // PSTL's T = 50: P = 8, the extreme starts.
        let first = crop_source_frames(50, 8, 0);
        assert_eq!(&first[..10], &[7, 6, 5, 4, 3, 2, 1, 0, 0, 1]);
        let last = crop_source_frames(50, 8, 16);
        assert_eq!(&last[40..], &[48, 49, 49, 48, 47, 46, 45, 44, 43, 42]);
    }

    #[test]
    fn crop_moves_whole_frames_of_every_slab() {
        // N=2, C=3, T=5, V=1, M=2; value = 1000 n + 100 c + 10 t + m.
        let s = BatchShape::new(2, 3, 5, 1, 2);
        let mut x = vec![0.0; s.len()];
        for n in 0..2 {
            for c in 0..3 {
                for t in 0..5 {
                    for m in 0..2 {
                        x[s.index(n, c, t, 0, m)] = (1000 * n + 100 * c + 10 * t + m) as f32;
                    }
                }
            }
        }
        crop(&s, &mut x, 2, 4);
        for n in 0..2 {
            for c in 0..3 {
                for (t, src) in [2, 3, 4, 4, 3].into_iter().enumerate() {
                    for m in 0..2 {
                        let want = (1000 * n + 100 * c + 10 * src + m) as f32;
                        assert_eq!(x[s.index(n, c, t, 0, m)], want);
                    }
                }
            }
        }
    }

    #[test]
    fn crop_draws_every_start_and_nothing_else() {
        // T = 12, ratio 6: P = 2, five possible starts, told apart by their frame order.
        let s = BatchShape::new(1, 3, 12, 25, 1);
        let x: Vec<f32> = (0..s.len()).map(|i| (i / s.frame_len()) as f32).collect();
        let mut seen = [false; 5];
        let mut rng = Rng::new(11);
        for _ in 0..200 {
            let mut y = x.clone();
            let tr = [Transform::Crop { padding_ratio: 6 }];
            apply(&tr, &s, &mut y, &mut rng).unwrap();
            let start = (0..5)
                .find(|&st| {
                    let src = crop_source_frames(12, 2, st);
                    (0..12).all(|t| y[t * s.frame_len()] == src[t] as f32)
                })
                .expect("output is not any of the five crops");
            seen[start] = true;
        }
        assert!(seen.iter().all(|&b| b), "{seen:?}");
    }

    #[test]
    fn shear_matrix_has_unit_diagonal_and_bounded_off_diagonals() {
        let mut rng = Rng::new(2);
        for _ in 0..100 {
            let s = draw_shear(&mut rng, 0.5);
            for (i, row) in s.iter().enumerate() {
                for (j, &e) in row.iter().enumerate() {
                    assert!(if i == j { e == 1.0 } else { e.abs() <= 0.5 });
                }
            }
        }
    }

    #[test]
    fn shear_applies_the_transpose() {
        // S = [[1,a,b],[c,1,d],[e,f,1]]: p' = Sᵀp, p'_0 = x + c y + e z, etc.
        let s = [[1.0, 2.0, 3.0], [4.0, 1.0, 5.0], [6.0, 7.0, 1.0]];
        let shape = BatchShape::new(1, 3, 1, 1, 1);
        let mut p = vec![1.0, 10.0, 100.0];
        linear_map(&shape, &mut p, &transpose(&s));
        assert_eq!(
            p,
            [1.0 + 40.0 + 600.0, 2.0 + 10.0 + 700.0, 3.0 + 50.0 + 100.0]
        );
    }

    #[test]
    fn apply_uses_s_transposed_for_shear_and_r_for_rotation() {
        let shape = BatchShape::new(1, 3, 1, 1, 1);
        let p = [1.0f32, 10.0, 100.0];
        let s = draw_shear(&mut Rng::new(3), 1.0);
        let mut y = p.to_vec();
        let shear = [Transform::Shear { amplitude: 1.0 }];
        apply(&shear, &shape, &mut y, &mut Rng::new(3)).unwrap();
        for d in 0..3 {
            let want: f32 = (0..3).map(|c| p[c] * s[c][d]).sum();
            assert!((y[d] - want).abs() < 1e-4, "shear {d}: {} vs {want}", y[d]);
        }
        let r = rotation_matrix(draw_rotation_angles(&mut Rng::new(4), 30.0, 1.0));
        let mut y = p.to_vec();
        let rot = [Transform::Rotate {
            main_max_deg: 30.0,
            other_max_deg: 1.0,
        }];
        apply(&rot, &shape, &mut y, &mut Rng::new(4)).unwrap();
        for i in 0..3 {
            let want: f32 = (0..3).map(|j| r[i][j] * p[j]).sum();
            assert!((y[i] - want).abs() < 1e-4, "rotate {i}: {} vs {want}", y[i]);
        }
    }

    #[test]
    fn rotation_matrices_match_the_spec_and_compose_z_y_x() {
        let apply_r = |angles: [f32; 3], p: [f32; 3]| {
            let shape = BatchShape::new(1, 3, 1, 1, 1);
            let mut v = p.to_vec();
            linear_map(&shape, &mut v, &rotation_matrix(angles));
            v
        };
        let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-6);
        // R_x(90°) (0,1,0) = (0, c, −s) = (0, 0, −1).
        assert!(close(
            &apply_r([90.0, 0.0, 0.0], [0.0, 1.0, 0.0]),
            &[0.0, 0.0, -1.0]
        ));
        // R_y(90°) (1,0,0) = (c, 0, s) = (0, 0, 1).
        assert!(close(
            &apply_r([0.0, 90.0, 0.0], [1.0, 0.0, 0.0]),
            &[0.0, 0.0, 1.0]
        ));
        // R_z(90°) (1,0,0) = (c, −s, 0) = (0, −1, 0).
        assert!(close(
            &apply_r([0.0, 0.0, 90.0], [1.0, 0.0, 0.0]),
            &[0.0, -1.0, 0.0]
        ));
        // x first, then z: R_z R_x (0,1,0) = R_z (0,0,−1) = (0,0,−1); the other order
        // would give (1,0,0).
        assert!(close(
            &apply_r([90.0, 0.0, 90.0], [0.0, 1.0, 0.0]),
            &[0.0, 0.0, -1.0]
        ));
    }

    #[test]
    fn rotation_angles_have_one_main_axis() {
        let mut rng = Rng::new(4);
        let mut main_counts = [0usize; 3];
        for _ in 0..3000 {
            let a = draw_rotation_angles(&mut rng, 30.0, 1.0);
            assert!(a.iter().all(|&d| (0.0..30.0).contains(&d)));
            assert!(a.iter().filter(|&&d| d >= 1.0).count() <= 1);
            if let Some(i) = a.iter().position(|&d| d >= 1.0) {
                main_counts[i] += 1;
            }
        }
        // Main angle ≥ 1° with probability 29/30: about 967 per axis.
        for c in main_counts {
            assert!((870..1060).contains(&c), "{main_counts:?}");
        }
    }

    #[test]
    fn shear_and_rotate_keep_absent_bodies_zero_and_rotation_keeps_lengths() {
        let (s, x) = noisy_batch(3, 7, 5);
        let mut rng = Rng::new(6);
        let mut rotated = x.clone();
        let rot = [Transform::Rotate {
            main_max_deg: 30.0,
            other_max_deg: 1.0,
        }];
        apply(&rot, &s, &mut rotated, &mut rng).unwrap();
        let cl = s.channel_len();
        for n in 0..s.n {
            let base = n * s.sample_len();
            for i in 0..cl {
                let norm = |d: &[f32]| {
                    (0..3)
                        .map(|c| f64::from(d[base + c * cl + i]).powi(2))
                        .sum::<f64>()
                        .sqrt()
                };
                assert!((norm(&x) - norm(&rotated)).abs() < 1e-5 * (1.0 + norm(&x)));
            }
        }
        assert_ne!(rotated, x);

        let mut sheared = x.clone();
        apply(
            &[Transform::Shear { amplitude: 1.0 }],
            &s,
            &mut sheared,
            &mut rng,
        )
        .unwrap();
        assert_ne!(sheared, x);
        for y in [&rotated, &sheared] {
            // Odd offsets are person 1, absent.
            assert!(y.iter().skip(1).step_by(2).all(|&v| v == 0.0));
        }
    }

    #[test]
    fn flip_swaps_sides_and_twice_is_identity() {
        let (s, x) = noisy_batch(2, 4, 7);
        let mut y = x.clone();
        let flip = [Transform::Flip { p: 1.0 }];
        let mut rng = Rng::new(0);
        apply(&flip, &s, &mut y, &mut rng).unwrap();
        // New left shoulder (4) is the old right shoulder (8), new J21 is the old J21.
        assert_eq!(y[s.index(1, 2, 3, 4, 0)], x[s.index(1, 2, 3, 8, 0)]);
        assert_eq!(y[s.index(1, 2, 3, 21, 0)], x[s.index(1, 2, 3, 23, 0)]);
        assert_eq!(y[s.index(0, 0, 0, 20, 0)], x[s.index(0, 0, 0, 20, 0)]);
        assert_ne!(y, x);
        apply(&flip, &s, &mut y, &mut rng).unwrap();
        assert_eq!(y, x);
        // p = 0 never flips.
        apply(&[Transform::Flip { p: 0.0 }], &s, &mut y, &mut rng).unwrap();
        assert_eq!(y, x);
    }

    #[test]
    fn random_joint_zero_zeroes_exactly_that_many_joints() {
        let s = BatchShape::new(2, 3, 3, 25, 2);
        let mut y = vec![1.0; s.len()];
        let tr = [Transform::RandomJointZero { joints: 5 }];
        apply(&tr, &s, &mut y, &mut Rng::new(8)).unwrap();
        let zeroed: Vec<usize> = (0..25)
            .filter(|&v| y[s.index(0, 0, 0, v, 0)] == 0.0)
            .collect();
        assert_eq!(zeroed.len(), 5);
        // Same joints in every sample, channel, frame and person.
        for n in 0..2 {
            for c in 0..3 {
                for t in 0..3 {
                    for v in 0..25 {
                        for m in 0..2 {
                            let z = y[s.index(n, c, t, v, m)] == 0.0;
                            assert_eq!(z, zeroed.contains(&v));
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn the_batch_shares_one_draw() {
        let (one, x) = noisy_batch(1, 50, 9);
        let s = BatchShape { n: 2, ..one };
        let mut batch = [x.clone(), x.clone()].concat();
        apply(&pstl_pretrain(), &s, &mut batch, &mut Rng::new(10)).unwrap();
        let (a, b) = batch.split_at(s.sample_len());
        assert_eq!(a, b);
        assert_ne!(a, &x[..]);
    }

    #[test]
    fn same_seed_same_result_other_seed_other_result() {
        let (s, x) = noisy_batch(2, 50, 12);
        let run = |seed: u64| {
            let mut y = x.clone();
            apply(&pstl_pretrain(), &s, &mut y, &mut Rng::new(seed)).unwrap();
            y
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
    }

    #[test]
    fn transform_lists_roundtrip_through_json() {
        let list = pstl_pretrain();
        let json = serde_json::to_string(&list).unwrap();
        assert!(
            json.contains(r#"{"type":"crop","padding_ratio":6}"#),
            "{json}"
        );
        let back: Vec<Transform> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, list);
        let extra = vec![Transform::RandomJointZero { joints: 3 }];
        let json = serde_json::to_string(&extra).unwrap();
        assert_eq!(
            serde_json::from_str::<Vec<Transform>>(&json).unwrap(),
            extra
        );
    }

    #[test]
    fn missing_parameters_take_the_pstl_defaults() {
        let json = r#"[{"type":"crop"},{"type":"shear"},{"type":"rotate"},{"type":"flip"}]"#;
        let list: Vec<Transform> = serde_json::from_str(json).unwrap();
        assert_eq!(list, pstl_pretrain());
    }

    #[test]
    fn unknown_fields_and_types_are_errors() {
        let bad_field = r#"[{"type":"crop","padding_ratio":6,"ratio":3}]"#;
        assert!(serde_json::from_str::<Vec<Transform>>(bad_field).is_err());
        let bad_type = r#"[{"type":"blur"}]"#;
        assert!(serde_json::from_str::<Vec<Transform>>(bad_type).is_err());
    }

    #[test]
    fn invalid_parameters_are_rejected_before_anything_changes() {
        let (s, x) = noisy_batch(1, 10, 13);
        let mut rng = Rng::new(0);
        for tr in [
            Transform::Crop { padding_ratio: 0 },
            Transform::Shear { amplitude: -1.0 },
            Transform::Rotate {
                main_max_deg: f32::NAN,
                other_max_deg: 1.0,
            },
            Transform::Flip { p: 1.5 },
            Transform::RandomJointZero { joints: 26 },
            Transform::GaussianNoise { std: -0.1, p: 0.5 },
            Transform::GaussianBlur {
                kernel: 14,
                sigma_min: 0.1,
                sigma_max: 2.0,
                p: 0.5,
            },
            Transform::AxisMask { p: -0.5 },
        ] {
            let mut y = x.clone();
            let list = [Transform::Shear { amplitude: 1.0 }, tr.clone()];
            assert!(apply(&list, &s, &mut y, &mut rng).is_err(), "{tr:?}");
            assert_eq!(y, x);
        }
        // Flip needs the 25 NTU joints.
        let small = BatchShape::new(1, 3, 2, 5, 1);
        let mut y = vec![0.0; small.len()];
        assert!(apply(&[Transform::Flip { p: 0.5 }], &small, &mut y, &mut rng).is_err());
    }

    #[test]
    fn aimclr_blur_noise_and_axis_mask() {
        // The taps of σ = 2 over 15 points: unnormalised, centred, sum ≈ σ√(2π).
        let taps = gaussian_taps(15, 2.0);
        assert_eq!(taps.len(), 15);
        assert_eq!(taps[7], 1.0);
        let sum: f32 = taps.iter().sum();
        assert!(
            (sum - 2.0 * (2.0 * std::f32::consts::PI).sqrt()).abs() < 1e-2,
            "{sum}"
        );
        // An impulse at frame 2 of a 10-frame trajectory becomes the taps, cut at the start.
        let s = BatchShape::new(1, 3, 10, 25, 2);
        let mut x = vec![0.0; s.len()];
        let at = s.index(0, 1, 2, 4, 1);
        x[at] = 1.0;
        blur_time(&s, &mut x, &taps);
        for t in 0..10 {
            let want = taps.get(t + 5).copied().unwrap_or(0.0);
            assert_eq!(x[s.index(0, 1, t, 4, 1)], want, "frame {t}");
        }
        assert_eq!(x.iter().filter(|&&v| v != 0.0).count(), 10);

        let (s, x) = noisy_batch(2, 10, 3);
        let mut rng = Rng::new(4);
        let mut y = x.clone();
        apply(&[Transform::AxisMask { p: 1.0 }], &s, &mut y, &mut rng).unwrap();
        let zero_axes: Vec<usize> = (0..3)
            .filter(|&c| (0..s.n).all(|n| (0..s.t).all(|t| y[s.index(n, c, t, 0, 0)] == 0.0)))
            .collect();
        assert_eq!(zero_axes.len(), 1, "one axis, the same for the batch");
        let mut y = x.clone();
        apply(
            &[Transform::GaussianNoise { std: 0.01, p: 1.0 }],
            &s,
            &mut y,
            &mut rng,
        )
        .unwrap();
        let mse: f64 = x
            .iter()
            .zip(&y)
            .map(|(a, b)| f64::from(a - b).powi(2))
            .sum::<f64>()
            / x.len() as f64;
        assert!((mse.sqrt() - 0.01).abs() < 1e-3, "{}", mse.sqrt());
        let mut y = x.clone();
        let never = [
            Transform::GaussianNoise { std: 0.01, p: 0.0 },
            Transform::AxisMask { p: 0.0 },
            Transform::GaussianBlur {
                kernel: 15,
                sigma_min: 0.1,
                sigma_max: 2.0,
                p: 0.0,
            },
        ];
        apply(&never, &s, &mut y, &mut rng).unwrap();
        assert_eq!(y, x);
    }
}
