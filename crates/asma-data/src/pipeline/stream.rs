//! The three input streams of docs/METHOD.md §2.3 / docs/DATA.md §4 (joint, motion, bone), and the
//! [`BatchShape`] of the `(N, C, T, V, M)` batch buffers that streams, augmentations
//! ([`crate::pipeline::augment`]) and masks ([`crate::pipeline::mask`]) all work on.

use std::fmt;
use std::str::FromStr;

use asma_skeleton::layout::NTU25;
use serde::{Deserialize, Serialize};

use crate::error::DataError;

/// Shape of a C-order batch buffer `(N, C, T, V, M)`: samples, channels (xyz), frames,
/// joints, persons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BatchShape {
    /// Samples in the batch.
    pub n: usize,
    /// Channels (3 for xyz).
    pub c: usize,
    /// Frames.
    pub t: usize,
    /// Joints.
    pub v: usize,
    /// Persons (bodies).
    pub m: usize,
}

impl BatchShape {
    /// A shape from its five extents.
    pub fn new(n: usize, c: usize, t: usize, v: usize, m: usize) -> Self {
        BatchShape { n, c, t, v, m }
    }

    /// The frame50 layout of docs/METHOD.md §2.2: `(n, 3, 50, 25, 2)`.
    pub fn frame50(n: usize) -> Self {
        BatchShape::new(n, 3, 50, 25, 2)
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.n * self.sample_len()
    }

    /// True when the buffer holds no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Elements of one sample, `C·T·V·M`.
    pub fn sample_len(&self) -> usize {
        self.c * self.channel_len()
    }

    /// Elements of one `(n, c)` slab, `T·V·M`: the stride of the channel axis.
    pub fn channel_len(&self) -> usize {
        self.t * self.frame_len()
    }

    /// Elements of one `(n, c, t)` frame, `V·M`: the stride of the time axis.
    pub fn frame_len(&self) -> usize {
        self.v * self.m
    }

    /// Flat C-order offset of element `(n, c, t, v, m)`.
    pub fn index(&self, n: usize, c: usize, t: usize, v: usize, m: usize) -> usize {
        debug_assert!(n < self.n && c < self.c && t < self.t && v < self.v && m < self.m);
        (((n * self.c + c) * self.t + t) * self.v + v) * self.m + m
    }

    /// The same shape with `t` frames.
    pub fn with_t(&self, t: usize) -> Self {
        BatchShape { t, ..*self }
    }

    /// The same shape with `v` joints.
    pub fn with_v(&self, v: usize) -> Self {
        BatchShape { v, ..*self }
    }

    /// The same shape with `m` persons.
    pub fn with_m(&self, m: usize) -> Self {
        BatchShape { m, ..*self }
    }

    /// Panics unless a buffer of `len` elements has this shape. Shapes come from the code
    /// that built the buffer, so a mismatch is a bug, not a data error.
    pub fn assert_len(&self, len: usize) {
        assert_eq!(
            len,
            self.len(),
            "buffer of {len} elements does not have shape {self:?}"
        );
    }
}

/// Which view of the skeleton an encoder is trained on (docs/METHOD.md §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    /// Joint positions, unchanged.
    Joint,
    /// Frame differences `x[t+1] − x[t]`, last frame 0.
    Motion,
    /// Joint minus parent joint over the NTU-25 bone pairs, centre joint 0.
    Bone,
}

impl Stream {
    /// The three streams in the order of "3s" fusion tables.
    pub const ALL: [Stream; 3] = [Stream::Joint, Stream::Motion, Stream::Bone];

    /// Lower-case name, as in configs.
    pub fn name(self) -> &'static str {
        match self {
            Stream::Joint => "joint",
            Stream::Motion => "motion",
            Stream::Bone => "bone",
        }
    }
}

impl fmt::Display for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Stream {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Self, DataError> {
        match s.to_ascii_lowercase().as_str() {
            "joint" => Ok(Stream::Joint),
            "motion" => Ok(Stream::Motion),
            "bone" => Ok(Stream::Bone),
            _ => Err(DataError::Config(format!(
                "unknown stream '{s}' (expected joint, motion or bone)"
            ))),
        }
    }
}

/// The first `keep` persons of a C-order buffer whose innermost axis holds `m` persons (any
/// `(…, M)` layout: a batch `(N, C, T, V, M)` or one sample `(C, T, V, M)`). The single-body
/// mode (`data.bodies = 1`) reads clips this way, in training and in inference alike.
pub fn first_bodies(data: &[f32], m: usize, keep: usize) -> Vec<f32> {
    assert!(
        keep <= m && m > 0 && data.len().is_multiple_of(m),
        "first_bodies: keep {keep} of {m} persons from {} values",
        data.len()
    );
    data.chunks_exact(m)
        .flat_map(|persons| &persons[..keep])
        .copied()
        .collect()
}

/// Converts a batch of joint positions into `stream`.
///
/// * `data`: `(N, C, T, V, M)` positions as described by `shape`.
/// * returns: `(N, C, T, V, M)`, the same shape.
///
/// # Panics
/// If `data.len()` does not match `shape`, or for [`Stream::Bone`] if `shape.v` is not 25
/// (the bone pairs are NTU-25's).
pub fn apply_stream(stream: Stream, shape: &BatchShape, data: &[f32]) -> Vec<f32> {
    shape.assert_len(data.len());
    match stream {
        Stream::Joint => data.to_vec(),
        Stream::Motion => motion(shape, data),
        Stream::Bone => bone(shape, data),
    }
}

/// `m[t] = x[t+1] − x[t]` for `t < T−1`, `m[T−1] = 0`.
fn motion(shape: &BatchShape, data: &[f32]) -> Vec<f32> {
    let mut out = vec![0.0; data.len()];
    let fl = shape.frame_len();
    if shape.t < 2 || fl == 0 {
        return out;
    }
    // Each (n, c) slab is T contiguous frames of V·M values; the differences stay inside a
    // slab, and the slab's last frame keeps its zero.
    for (src, dst) in data
        .chunks_exact(shape.channel_len())
        .zip(out.chunks_exact_mut(shape.channel_len()))
    {
        for t in 0..shape.t - 1 {
            let (now, next) = (&src[t * fl..(t + 1) * fl], &src[(t + 1) * fl..(t + 2) * fl]);
            for ((d, a), b) in dst[t * fl..(t + 1) * fl].iter_mut().zip(now).zip(next) {
                *d = b - a;
            }
        }
    }
    out
}

/// `b[child] = x[child] − x[parent]` over `NTU25.bone_pairs`; the centre joint, which is
/// nobody's child, keeps 0.
fn bone(shape: &BatchShape, data: &[f32]) -> Vec<f32> {
    assert_eq!(
        shape.v,
        NTU25.num_joints(),
        "the bone stream needs the 25 NTU joints, got V = {}",
        shape.v
    );
    let mut out = vec![0.0; data.len()];
    let m = shape.m;
    for (src, dst) in data
        .chunks_exact(shape.frame_len())
        .zip(out.chunks_exact_mut(shape.frame_len()))
    {
        for &(child, parent) in NTU25.bone_pairs {
            for p in 0..m {
                dst[child * m + p] = src[child * m + p] - src[parent * m + p];
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_is_c_order() {
        let s = BatchShape::new(2, 3, 4, 5, 6);
        assert_eq!(s.len(), 720);
        assert_eq!(s.index(0, 0, 0, 0, 1), 1);
        assert_eq!(s.index(0, 0, 0, 1, 0), 6);
        assert_eq!(s.index(0, 0, 1, 0, 0), 30);
        assert_eq!(s.index(0, 1, 0, 0, 0), 120);
        assert_eq!(s.index(1, 0, 0, 0, 0), 360);
        assert_eq!(s.index(1, 2, 3, 4, 5), 719);
        assert_eq!(s.with_t(2).len(), 360);
        assert_eq!(BatchShape::frame50(1).len(), 3 * 50 * 25 * 2);
    }

    #[test]
    fn joint_is_a_copy() {
        let s = BatchShape::new(1, 3, 2, 25, 1);
        let x: Vec<f32> = (0..s.len()).map(|i| i as f32).collect();
        assert_eq!(apply_stream(Stream::Joint, &s, &x), x);
    }

    #[test]
    fn motion_by_hand() {
        // N=1, C=2, T=3, V=1, M=2: x[c, t, 0, m].
        let s = BatchShape::new(1, 2, 3, 1, 2);
        #[rustfmt::skip]
        let x = [
            1.0, 10.0,  4.0, 20.0,  9.0, 5.0, // c = 0, t = 0, 1, 2
            0.0, -1.0,  2.0, -1.0,  2.0, 3.0, // c = 1
        ];
        #[rustfmt::skip]
        let want = [
            3.0, 10.0,  5.0, -15.0,  0.0, 0.0,
            2.0, 0.0,   0.0, 4.0,    0.0, 0.0,
        ];
        assert_eq!(apply_stream(Stream::Motion, &s, &x), want);
    }

    #[test]
    fn motion_of_a_single_frame_is_zero() {
        let s = BatchShape::new(2, 3, 1, 25, 2);
        let x = vec![1.5; s.len()];
        assert!(apply_stream(Stream::Motion, &s, &x)
            .iter()
            .all(|&v| v == 0.0));
    }

    #[test]
    fn bone_by_hand() {
        // N=1, C=3, T=1, V=25, M=2; person 0 at x = joint index, person 1 at x = −10·index,
        // y = 1 everywhere, z = 0.
        let s = BatchShape::new(1, 3, 1, 25, 2);
        let mut x = vec![0.0; s.len()];
        for v in 0..25 {
            x[s.index(0, 0, 0, v, 0)] = v as f32;
            x[s.index(0, 0, 0, v, 1)] = -10.0 * v as f32;
            x[s.index(0, 1, 0, v, 0)] = 1.0;
            x[s.index(0, 1, 0, v, 1)] = 1.0;
        }
        let b = apply_stream(Stream::Bone, &s, &x);
        // (1,2) 1-based: J1 − J2 = 0 − 1.
        assert_eq!(b[s.index(0, 0, 0, 0, 0)], -1.0);
        assert_eq!(b[s.index(0, 0, 0, 0, 1)], 10.0);
        // (2,21): 1 − 20.
        assert_eq!(b[s.index(0, 0, 0, 1, 0)], -19.0);
        // (23,8) 1-based = (22,7): 22 − 7.
        assert_eq!(b[s.index(0, 0, 0, 22, 0)], 15.0);
        assert_eq!(b[s.index(0, 0, 0, 22, 1)], -150.0);
        // (25,12) = (24,11): 24 − 11.
        assert_eq!(b[s.index(0, 0, 0, 24, 0)], 13.0);
        // The centre J21 is zero in every channel and person.
        for c in 0..3 {
            for m in 0..2 {
                assert_eq!(b[s.index(0, c, 0, 20, m)], 0.0);
            }
        }
        // Equal y everywhere gives zero y bones.
        for v in 0..25 {
            assert_eq!(b[s.index(0, 1, 0, v, 0)], 0.0);
        }
    }

    #[test]
    fn stream_names_roundtrip() {
        for s in Stream::ALL {
            assert_eq!(s.to_string().parse::<Stream>().unwrap(), s);
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{s}\""));
            assert_eq!(serde_json::from_str::<Stream>(&json).unwrap(), s);
        }
        assert_eq!("Bone".parse::<Stream>().unwrap(), Stream::Bone);
        assert!("velocity".parse::<Stream>().is_err());
    }
    #[test]
    fn first_bodies_keeps_the_leading_persons_of_every_joint() {
        // (1, 1, 2, 2, 3): value = 100·t + 10·v + m.
        let data: Vec<f32> = (0..2)
            .flat_map(|t| {
                (0..2).flat_map(move |v| (0..3).map(move |m| (100 * t + 10 * v + m) as f32))
            })
            .collect();
        assert_eq!(first_bodies(&data, 3, 1), [0.0, 10.0, 100.0, 110.0]);
        assert_eq!(
            first_bodies(&data, 3, 2),
            [0.0, 1.0, 10.0, 11.0, 100.0, 101.0, 110.0, 111.0]
        );
        assert_eq!(first_bodies(&data, 3, 3), data);
        assert_eq!(BatchShape::new(1, 1, 2, 2, 3).with_m(1).len(), 4);
    }
}
