//! One skeleton sequence as a dense f32 tensor `(C = 3, T, V, M)`, C-order, the per-sample
//! layout of every ST-GCN-lineage `.npy` file.

use serde::Serialize;

/// Errors of [`Sequence`] construction.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SequenceError {
    /// The buffer does not hold `3 · T · V · M` values.
    #[error(
        "sequence buffer holds {got} values, expected 3·{frames}·{joints}·{bodies} = {expected}"
    )]
    WrongLength {
        got: usize,
        expected: usize,
        frames: usize,
        joints: usize,
        bodies: usize,
    },
}

/// A skeleton sequence: xyz of `joints` joints for `bodies` body slots over `frames` frames.
/// Absent bodies and padding frames are zeros.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sequence {
    /// Frames (T).
    pub frames: usize,
    /// Joints (V).
    pub joints: usize,
    /// Body slots (M).
    pub bodies: usize,
    /// `3 · T · V · M` values, index `((c · T + t) · V + v) · M + m`.
    #[serde(skip)]
    pub data: Vec<f32>,
}

impl Sequence {
    /// All-zero sequence.
    pub fn zeros(frames: usize, joints: usize, bodies: usize) -> Self {
        Sequence {
            frames,
            joints,
            bodies,
            data: vec![0.0; 3 * frames * joints * bodies],
        }
    }

    /// Wraps an existing `(3, T, V, M)` buffer.
    pub fn from_vec(
        data: Vec<f32>,
        frames: usize,
        joints: usize,
        bodies: usize,
    ) -> Result<Self, SequenceError> {
        let expected = 3 * frames * joints * bodies;
        if data.len() != expected {
            return Err(SequenceError::WrongLength {
                got: data.len(),
                expected,
                frames,
                joints,
                bodies,
            });
        }
        Ok(Sequence {
            frames,
            joints,
            bodies,
            data,
        })
    }

    /// Flat index of `(c, t, v, m)`.
    #[inline]
    pub fn index(&self, c: usize, t: usize, v: usize, m: usize) -> usize {
        ((c * self.frames + t) * self.joints + v) * self.bodies + m
    }

    /// Value at `(c, t, v, m)`.
    #[inline]
    pub fn at(&self, c: usize, t: usize, v: usize, m: usize) -> f32 {
        self.data[self.index(c, t, v, m)]
    }

    /// Sets `(c, t, v, m)`.
    #[inline]
    pub fn set(&mut self, c: usize, t: usize, v: usize, m: usize, value: f32) {
        let i = self.index(c, t, v, m);
        self.data[i] = value;
    }

    /// xyz of joint `v` of body `m` at frame `t`.
    pub fn joint(&self, t: usize, v: usize, m: usize) -> [f32; 3] {
        [
            self.at(0, t, v, m),
            self.at(1, t, v, m),
            self.at(2, t, v, m),
        ]
    }

    /// Writes xyz of joint `v` of body `m` at frame `t`.
    pub fn set_joint(&mut self, t: usize, v: usize, m: usize, xyz: [f32; 3]) {
        for (c, value) in xyz.into_iter().enumerate() {
            self.set(c, t, v, m, value);
        }
    }

    /// True when every coordinate of body `m` at frame `t` is zero.
    pub fn body_is_empty(&self, t: usize, m: usize) -> bool {
        (0..self.joints).all(|v| self.joint(t, v, m) == [0.0; 3])
    }

    /// True when any value is NaN or infinite.
    pub fn has_non_finite(&self) -> bool {
        self.data.iter().any(|x| !x.is_finite())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_is_c_order_over_c_t_v_m() {
        let s = Sequence::zeros(4, 25, 2);
        assert_eq!(s.index(0, 0, 0, 1), 1);
        assert_eq!(s.index(0, 0, 1, 0), 2);
        assert_eq!(s.index(0, 1, 0, 0), 50);
        assert_eq!(s.index(1, 0, 0, 0), 200);
    }

    #[test]
    fn from_vec_checks_the_length() {
        assert!(Sequence::from_vec(vec![0.0; 10], 4, 25, 2).is_err());
        assert!(Sequence::from_vec(vec![0.0; 600], 4, 25, 2).is_ok());
    }

    #[test]
    fn joint_roundtrip() {
        let mut s = Sequence::zeros(3, 25, 2);
        assert!(s.body_is_empty(1, 1));
        s.set_joint(1, 7, 1, [1.0, 2.0, 3.0]);
        assert_eq!(s.joint(1, 7, 1), [1.0, 2.0, 3.0]);
        assert!(!s.body_is_empty(1, 1));
        assert!(s.body_is_empty(1, 0));
    }
}
