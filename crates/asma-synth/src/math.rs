//! The little 3-D algebra the generator needs: a `V3` vector, a row-major 3×3 rotation
//! matrix `M3`, and the conversion of a rotation to the (w, x, y, z) quaternion a Kinect
//! joint-orientation field holds.
//!
//! Kept private to the generator (f64 throughout; files store f32) rather than pulling a
//! linear-algebra crate into asma-data for a dozen operations.

use std::ops::{Add, AddAssign, Mul, Neg, Sub};

/// A 3-vector (metres or directions).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct V3 {
    pub x: f64,
    pub y: f64,
    pub z: f64,
}

/// Shorthand constructor.
pub const fn v3(x: f64, y: f64, z: f64) -> V3 {
    V3 { x, y, z }
}

impl V3 {
    pub const ZERO: V3 = v3(0.0, 0.0, 0.0);

    pub fn dot(self, o: V3) -> f64 {
        self.x * o.x + self.y * o.y + self.z * o.z
    }

    pub fn cross(self, o: V3) -> V3 {
        v3(
            self.y * o.z - self.z * o.y,
            self.z * o.x - self.x * o.z,
            self.x * o.y - self.y * o.x,
        )
    }

    pub fn norm(self) -> f64 {
        self.dot(self).sqrt()
    }

    /// Unit vector in the same direction, or `fallback` when `self` is (nearly) zero, so
    /// degenerate poses (a target exactly on a joint) never produce NaN.
    pub fn unit_or(self, fallback: V3) -> V3 {
        let n = self.norm();
        if n > 1e-9 {
            self * (1.0 / n)
        } else {
            fallback
        }
    }

    /// Linear interpolation `self + (o − self)·t`.
    pub fn lerp(self, o: V3, t: f64) -> V3 {
        self + (o - self) * t
    }
}

impl Add for V3 {
    type Output = V3;
    fn add(self, o: V3) -> V3 {
        v3(self.x + o.x, self.y + o.y, self.z + o.z)
    }
}

impl AddAssign for V3 {
    fn add_assign(&mut self, o: V3) {
        *self = *self + o;
    }
}

impl Sub for V3 {
    type Output = V3;
    fn sub(self, o: V3) -> V3 {
        v3(self.x - o.x, self.y - o.y, self.z - o.z)
    }
}

impl Mul<f64> for V3 {
    type Output = V3;
    fn mul(self, s: f64) -> V3 {
        v3(self.x * s, self.y * s, self.z * s)
    }
}

impl Neg for V3 {
    type Output = V3;
    fn neg(self) -> V3 {
        v3(-self.x, -self.y, -self.z)
    }
}

/// A 3×3 matrix, row-major; used for rotations (orthonormal, det +1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct M3(pub [[f64; 3]; 3]);

impl M3 {
    /// Rotation about x by `a` radians (right-handed): with x = left, y = up, z = forward
    /// a positive angle tips "up" towards "forward", i.e. a forward bend.
    pub fn rot_x(a: f64) -> M3 {
        let (s, c) = a.sin_cos();
        M3([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])
    }

    /// Rotation about y (vertical): a positive angle turns "forward" towards "left".
    pub fn rot_y(a: f64) -> M3 {
        let (s, c) = a.sin_cos();
        M3([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
    }

    /// Rotation about z (forward): a positive angle tips "up" towards "right" (−x).
    pub fn rot_z(a: f64) -> M3 {
        let (s, c) = a.sin_cos();
        M3([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    }

    /// The matrix whose columns are `a`, `b`, `c`.
    pub fn from_cols(a: V3, b: V3, c: V3) -> M3 {
        M3([[a.x, b.x, c.x], [a.y, b.y, c.y], [a.z, b.z, c.z]])
    }

    /// The matrix whose rows are `a`, `b`, `c`.
    pub fn from_rows(a: V3, b: V3, c: V3) -> M3 {
        M3([[a.x, a.y, a.z], [b.x, b.y, b.z], [c.x, c.y, c.z]])
    }

    pub fn col(&self, j: usize) -> V3 {
        v3(self.0[0][j], self.0[1][j], self.0[2][j])
    }

    pub fn apply(&self, v: V3) -> V3 {
        let m = &self.0;
        v3(
            m[0][0] * v.x + m[0][1] * v.y + m[0][2] * v.z,
            m[1][0] * v.x + m[1][1] * v.y + m[1][2] * v.z,
            m[2][0] * v.x + m[2][1] * v.y + m[2][2] * v.z,
        )
    }

    /// Quaternion (w, x, y, z) of this rotation, normalised, with w ≥ 0 (the Kinect SDK
    /// emits either sign; one convention keeps the files reproducible).
    pub fn quaternion(&self) -> [f64; 4] {
        let m = &self.0;
        let tr = m[0][0] + m[1][1] + m[2][2];
        // Shepperd's method: divide by the largest of the four candidates for stability.
        let q = if tr > 0.0 {
            let s = (tr + 1.0).sqrt() * 2.0;
            [
                0.25 * s,
                (m[2][1] - m[1][2]) / s,
                (m[0][2] - m[2][0]) / s,
                (m[1][0] - m[0][1]) / s,
            ]
        } else if m[0][0] > m[1][1] && m[0][0] > m[2][2] {
            let s = (1.0 + m[0][0] - m[1][1] - m[2][2]).sqrt() * 2.0;
            [
                (m[2][1] - m[1][2]) / s,
                0.25 * s,
                (m[0][1] + m[1][0]) / s,
                (m[0][2] + m[2][0]) / s,
            ]
        } else if m[1][1] > m[2][2] {
            let s = (1.0 + m[1][1] - m[0][0] - m[2][2]).sqrt() * 2.0;
            [
                (m[0][2] - m[2][0]) / s,
                (m[0][1] + m[1][0]) / s,
                0.25 * s,
                (m[1][2] + m[2][1]) / s,
            ]
        } else {
            let s = (1.0 + m[2][2] - m[0][0] - m[1][1]).sqrt() * 2.0;
            [
                (m[1][0] - m[0][1]) / s,
                (m[0][2] + m[2][0]) / s,
                (m[1][2] + m[2][1]) / s,
                0.25 * s,
            ]
        };
        let n = q.iter().map(|v| v * v).sum::<f64>().sqrt();
        let sign = if q[0] < 0.0 { -1.0 } else { 1.0 };
        q.map(|v| sign * v / n)
    }
}

impl Mul for M3 {
    type Output = M3;
    fn mul(self, o: M3) -> M3 {
        let mut r = [[0.0; 3]; 3];
        for (i, row) in r.iter_mut().enumerate() {
            for (j, cell) in row.iter_mut().enumerate() {
                *cell = (0..3).map(|k| self.0[i][k] * o.0[k][j]).sum();
            }
        }
        M3(r)
    }
}

/// Smooth 0→1 step of `x` over [0, 1] (clamped), zero slope at both ends.
pub fn smooth(x: f64) -> f64 {
    let x = x.clamp(0.0, 1.0);
    x * x * (3.0 - 2.0 * x)
}

/// Smooth trapezoid: 0 before `a`, rising to 1 at `b`, 1 until `c`, back to 0 at `d`.
pub fn envelope(u: f64, a: f64, b: f64, c: f64, d: f64) -> f64 {
    if u <= b {
        smooth((u - a) / (b - a).max(1e-9))
    } else if u <= c {
        1.0
    } else {
        1.0 - smooth((u - c) / (d - c).max(1e-9))
    }
}

/// Piecewise interpolation through `(time, value)` keys with ease-in/out between keys;
/// constant before the first and after the last key. Keys must be sorted by time.
pub fn keys<T: Lerp + Copy>(u: f64, ks: &[(f64, T)]) -> T {
    let (first, last) = (ks[0], ks[ks.len() - 1]);
    if u <= first.0 {
        return first.1;
    }
    for w in ks.windows(2) {
        let ((t0, a), (t1, b)) = (w[0], w[1]);
        if u <= t1 {
            return a.lerp_to(b, smooth((u - t0) / (t1 - t0).max(1e-9)));
        }
    }
    last.1
}

/// Values that `keys` can interpolate.
pub trait Lerp {
    fn lerp_to(self, o: Self, t: f64) -> Self;
}

impl Lerp for f64 {
    fn lerp_to(self, o: f64, t: f64) -> f64 {
        self + (o - self) * t
    }
}

impl Lerp for V3 {
    fn lerp_to(self, o: V3, t: f64) -> V3 {
        self.lerp(o, t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: V3, b: V3) -> bool {
        (a - b).norm() < 1e-9
    }

    #[test]
    fn rotations_follow_the_body_frame_conventions() {
        let up = v3(0.0, 1.0, 0.0);
        let fwd = v3(0.0, 0.0, 1.0);
        let h = std::f64::consts::FRAC_PI_2;
        assert!(close(M3::rot_x(h).apply(up), fwd));
        assert!(close(M3::rot_y(h).apply(fwd), v3(1.0, 0.0, 0.0)));
        assert!(close(M3::rot_z(h).apply(up), v3(-1.0, 0.0, 0.0)));
    }

    #[test]
    fn quaternion_of_a_known_rotation() {
        // 90° about y: q = (cos 45°, 0, sin 45°, 0).
        let q = M3::rot_y(std::f64::consts::FRAC_PI_2).quaternion();
        let h = std::f64::consts::FRAC_1_SQRT_2;
        for (a, b) in q.iter().zip([h, 0.0, h, 0.0]) {
            assert!((a - b).abs() < 1e-9, "{q:?}");
        }
        let q = (M3::rot_x(2.5) * M3::rot_z(-2.9)).quaternion();
        assert!((q.iter().map(|v| v * v).sum::<f64>() - 1.0).abs() < 1e-9);
        assert!(q[0] >= 0.0);
    }

    #[test]
    fn keys_and_envelope_interpolate() {
        let ks = [(0.2, 0.0), (0.6, 1.0), (1.0, 3.0)];
        assert_eq!(keys(0.0, &ks), 0.0);
        assert!((keys(0.4, &ks) - 0.5).abs() < 1e-12);
        assert_eq!(keys(2.0, &ks), 3.0);
        assert_eq!(envelope(0.5, 0.1, 0.3, 0.7, 0.9), 1.0);
        assert_eq!(envelope(0.05, 0.1, 0.3, 0.7, 0.9), 0.0);
        assert_eq!(envelope(0.95, 0.1, 0.3, 0.7, 0.9), 0.0);
    }
}
