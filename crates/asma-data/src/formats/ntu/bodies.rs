//! From a parsed `.skeleton` file to a `(3, T, 25, 2)` [`Sequence`]: which bodies fill the
//! two slots (docs/DATA.md §1.4).

use std::path::Path;

use asma_skeleton::{Sequence, MAX_BODIES};
use serde::{Deserialize, Serialize};

use super::skeleton::SkeletonFile;
use crate::error::{DataError, Result};

/// How the two body slots are filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BodyPolicy {
    /// Slot m of frame t = the m-th body listed in frame t (AimCLR, CrosSCLR, ST-GCN).
    #[default]
    First2,
    /// Read up to four per-frame slots, keep the two with the largest "energy" (sum over
    /// x, y, z of the standard deviation over the frames where the slot is non-zero),
    /// ordered by energy (2s-AGCN, MS-G3D).
    Energy2,
}

impl std::str::FromStr for BodyPolicy {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "first2" => Ok(BodyPolicy::First2),
            "energy2" => Ok(BodyPolicy::Energy2),
            _ => Err(format!(
                "unknown body policy '{s}' (expected first2 or energy2)"
            )),
        }
    }
}

/// Slots read before the energy ranking (2s-AGCN's `max_body_kinect`).
const ENERGY_SLOTS: usize = 4;

/// Builds the `(3, T, 25, 2)` xyz tensor of `file` with `T` = its frame count. Errors when
/// the file has more than `max_frames` frames (every NTU pipeline pads to 300).
pub fn to_sequence(
    file: &SkeletonFile,
    policy: BodyPolicy,
    max_frames: usize,
    path: &Path,
) -> Result<Sequence> {
    let t_len = file.frames.len();
    if t_len > max_frames {
        return Err(DataError::invalid(
            path,
            format!("{t_len} frames, more than the {max_frames} this layout holds"),
        ));
    }
    let slots = match policy {
        BodyPolicy::First2 => MAX_BODIES,
        BodyPolicy::Energy2 => ENERGY_SLOTS,
    };
    let mut seq = Sequence::zeros(t_len, 25, slots);
    for (t, frame) in file.frames.iter().enumerate() {
        for (m, body) in frame.bodies.iter().take(slots).enumerate() {
            for (v, joint) in body.joints.iter().enumerate().take(25) {
                seq.set_joint(t, v, m, joint.xyz);
            }
        }
    }
    match policy {
        BodyPolicy::First2 => Ok(seq),
        BodyPolicy::Energy2 => {
            let energy: Vec<f64> = (0..slots).map(|m| slot_energy(&seq, m)).collect();
            let mut order: Vec<usize> = (0..slots).collect();
            // Descending energy; ties keep the lower slot first.
            order.sort_by(|&a, &b| energy[b].total_cmp(&energy[a]).then(a.cmp(&b)));
            let mut out = Sequence::zeros(t_len, 25, MAX_BODIES);
            for (dst, &src) in order.iter().take(MAX_BODIES).enumerate() {
                for t in 0..t_len {
                    for v in 0..25 {
                        out.set_joint(t, v, dst, seq.joint(t, v, src));
                    }
                }
            }
            Ok(out)
        }
    }
}

/// Σ_c std_c over the (frame, joint) values of the frames where slot `m` is non-zero
/// (population standard deviation, as NumPy's default).
fn slot_energy(seq: &Sequence, m: usize) -> f64 {
    let frames: Vec<usize> = (0..seq.frames)
        .filter(|&t| {
            (0..seq.joints)
                .map(|v| seq.joint(t, v, m).iter().map(|&x| x as f64).sum::<f64>())
                .sum::<f64>()
                != 0.0
        })
        .collect();
    if frames.is_empty() {
        return 0.0;
    }
    (0..3)
        .map(|c| {
            let vals: Vec<f64> = frames
                .iter()
                .flat_map(|&t| (0..seq.joints).map(move |v| (t, v)))
                .map(|(t, v)| seq.at(c, t, v, m) as f64)
                .collect();
            let mean = vals.iter().sum::<f64>() / vals.len() as f64;
            (vals.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / vals.len() as f64).sqrt()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::ntu::skeleton::{Body, Frame, Joint};

    fn body(x: f32, spread: f32) -> Body {
        Body {
            joints: (0..25)
                .map(|j| Joint {
                    xyz: [x + spread * j as f32, 1.0, 3.0],
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    fn file() -> SkeletonFile {
        // Body listed first barely moves; the second moves a lot; a third is noise.
        SkeletonFile {
            frames: (0..6)
                .map(|t| Frame {
                    bodies: vec![body(0.1, 0.0), body(0.2 * t as f32, 0.05), body(5.0, 0.0)],
                })
                .collect(),
        }
    }

    #[test]
    fn first2_keeps_file_order_and_drops_the_third_body() {
        let s = to_sequence(&file(), BodyPolicy::First2, 300, Path::new("f")).unwrap();
        assert_eq!((s.frames, s.joints, s.bodies), (6, 25, 2));
        assert_eq!(s.joint(3, 0, 0)[0], 0.1);
        assert!((s.joint(3, 0, 1)[0] - 0.6).abs() < 1e-6);
    }

    #[test]
    fn energy2_orders_slots_by_motion_energy() {
        let s = to_sequence(&file(), BodyPolicy::Energy2, 300, Path::new("f")).unwrap();
        // The moving body (listed second) has the largest energy.
        assert!((s.joint(3, 0, 0)[0] - 0.6).abs() < 1e-6);
        assert_eq!(s.bodies, 2);
    }

    #[test]
    fn too_many_frames_is_an_error_naming_the_file() {
        let e =
            to_sequence(&file(), BodyPolicy::First2, 5, Path::new("S001.skeleton")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "S001.skeleton: 6 frames, more than the 5 this layout holds"
        );
    }
}
