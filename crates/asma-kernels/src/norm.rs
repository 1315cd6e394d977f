//! Training-mode BatchNorm over a contiguous `(N, C, L)` input (L = T·V, or 1 for the data
//! BatchNorm's `(N, C)`), forward and backward, in few passes over contiguous rows.
//!
//! Statistics are the batch's mean and biased variance per channel (what normalises the
//! batch, and what burn's `BatchNorm` feeds its running statistics). Each `(n, c)` row is
//! summed in `f32` on one thread, rows are combined in `f64`; the variance is taken around the
//! mean in a second pass (no cancellation from `E[x²] − E[x]²`).

use rayon::prelude::*;

/// The shape of one BatchNorm input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchNormShape {
    pub n: usize,
    pub c: usize,
    pub l: usize,
}

impl BatchNormShape {
    fn check(&self, x: &[f32], gamma: &[f32], out: &[f32]) {
        assert!(
            x.len() == self.n * self.c * self.l && gamma.len() == self.c && out.len() == x.len(),
            "batch norm {self:?}: input {}, gamma {}, output {} values",
            x.len(),
            gamma.len(),
            out.len()
        );
    }

    /// Per channel, `Σ_n f(row(n, c), c)` over the `N` rows of each channel.
    fn per_channel(&self, x: &[f32], f: impl Fn(&[f32], usize) -> f64 + Sync) -> Vec<f64> {
        let rows: Vec<f64> = x
            .par_chunks(self.l)
            .enumerate()
            .map(|(i, row)| f(row, i % self.c))
            .collect();
        let mut sums = vec![0f64; self.c];
        for (i, r) in rows.iter().enumerate() {
            sums[i % self.c] += r;
        }
        sums
    }

    /// Normalises `x` with its batch statistics into `y`; returns the mean and biased variance.
    pub fn forward(
        &self,
        x: &[f32],
        gamma: &[f32],
        beta: &[f32],
        epsilon: f64,
        y: &mut [f32],
    ) -> (Vec<f32>, Vec<f32>) {
        self.check(x, gamma, y);
        let count = (self.n * self.l) as f64;
        let mean: Vec<f64> = self
            .per_channel(x, |row, _| row.iter().sum::<f32>() as f64)
            .into_iter()
            .map(|s| s / count)
            .collect();
        let var: Vec<f64> = self
            .per_channel(x, |row, c| {
                let m = mean[c] as f32;
                row.iter().map(|v| (v - m) * (v - m)).sum::<f32>() as f64
            })
            .into_iter()
            .map(|s| s / count)
            .collect();
        let scale: Vec<f32> = (0..self.c)
            .map(|c| gamma[c] / (var[c] + epsilon).sqrt() as f32)
            .collect();
        let shift: Vec<f32> = (0..self.c)
            .map(|c| beta[c] - mean[c] as f32 * scale[c])
            .collect();
        self.affine(x, &scale, &shift, y);
        let to_f32 = |v: Vec<f64>| v.into_iter().map(|v| v as f32).collect();
        (to_f32(mean), to_f32(var))
    }

    /// `y = x · scale[c] + shift[c]`: BatchNorm with fixed statistics (inference), folded.
    pub fn affine(&self, x: &[f32], scale: &[f32], shift: &[f32], y: &mut [f32]) {
        self.check(x, scale, y);
        assert_eq!(shift.len(), self.c, "batch norm {self:?}: shift size");
        y.par_chunks_mut(self.l)
            .zip(x.par_chunks(self.l))
            .enumerate()
            .for_each(|(i, (y, x))| {
                let (a, b) = (scale[i % self.c], shift[i % self.c]);
                for (y, x) in y.iter_mut().zip(x) {
                    *y = x * a + b;
                }
            });
    }

    /// Gradients for the output gradient `dy`, given the statistics [`Self::forward`]
    /// returned: `dx` (written), then `(dgamma, dbeta)`. With `x̂ = (x − μ)/σ` and `M = N·L`:
    /// `dx = γ/σ · (dy − mean(dy) − x̂ · mean(dy·x̂))`, `dγ = Σ dy·x̂`, `dβ = Σ dy`.
    #[allow(clippy::too_many_arguments)]
    pub fn backward(
        &self,
        x: &[f32],
        gamma: &[f32],
        mean: &[f32],
        var: &[f32],
        epsilon: f64,
        dy: &[f32],
        dx: &mut [f32],
    ) -> (Vec<f32>, Vec<f32>) {
        self.check(x, gamma, dx);
        assert_eq!(dy.len(), x.len(), "output gradient size");
        let count = (self.n * self.l) as f64;
        let inv_std: Vec<f32> = var
            .iter()
            .map(|&v| 1.0 / (v as f64 + epsilon).sqrt() as f32)
            .collect();
        let sums: Vec<(f64, f64)> = x
            .par_chunks(self.l)
            .zip(dy.par_chunks(self.l))
            .enumerate()
            .map(|(i, (x, dy))| {
                let m = mean[i % self.c];
                let (mut s, mut sx) = (0f32, 0f32);
                for (x, g) in x.iter().zip(dy) {
                    s += g;
                    sx += g * (x - m);
                }
                (s as f64, sx as f64)
            })
            .collect();
        let (mut dbeta, mut dot) = (vec![0f64; self.c], vec![0f64; self.c]);
        for (i, (s, sx)) in sums.into_iter().enumerate() {
            dbeta[i % self.c] += s;
            dot[i % self.c] += sx;
        }
        // dγ = Σ dy·x̂ = inv_std · Σ dy·(x − μ)
        let dgamma: Vec<f32> = (0..self.c)
            .map(|c| (dot[c] * inv_std[c] as f64) as f32)
            .collect();
        dx.par_chunks_mut(self.l)
            .zip(x.par_chunks(self.l).zip(dy.par_chunks(self.l)))
            .enumerate()
            .for_each(|(i, (dx, (x, dy)))| {
                let c = i % self.c;
                let (m, is) = (mean[c], inv_std[c]);
                let mean_dy = (dbeta[c] / count) as f32;
                // x̂ · mean(dy·x̂) = (x − μ) · is² · mean(dy·(x − μ))
                let k = (dot[c] / count) as f32 * is * is;
                let a = gamma[c] * is;
                for ((d, x), g) in dx.iter_mut().zip(x).zip(dy) {
                    *d = a * (g - mean_dy - (x - m) * k);
                }
            });
        (dgamma, dbeta.into_iter().map(|v| v as f32).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(len: usize, seed: f32) -> Vec<f32> {
        (0..len)
            .map(|i| ((i as f32 + seed) * 0.731).sin() * 2.0 + 0.5)
            .collect()
    }

    #[test]
    fn normalises_each_channel_over_batch_and_positions() {
        let s = BatchNormShape { n: 4, c: 3, l: 10 };
        let x = values(120, 0.0);
        let (gamma, beta) = (vec![1.0, 2.0, 0.5], vec![0.0, -1.0, 3.0]);
        let mut y = vec![0.0; 120];
        let (mean, var) = s.forward(&x, &gamma, &beta, 1e-5, &mut y);
        for c in 0..3 {
            let vals: Vec<f64> = (0..4)
                .flat_map(|n| x[(n * 3 + c) * 10..][..10].iter().map(|&v| v as f64))
                .collect();
            let m = vals.iter().sum::<f64>() / 40.0;
            let v = vals.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / 40.0;
            assert!((mean[c] as f64 - m).abs() < 1e-5 && (var[c] as f64 - v).abs() < 1e-5);
            let out: Vec<f64> = (0..4)
                .flat_map(|n| y[(n * 3 + c) * 10..][..10].iter().map(|&v| v as f64))
                .collect();
            let om = out.iter().sum::<f64>() / 40.0;
            let ov = out.iter().map(|x| (x - om) * (x - om)).sum::<f64>() / 40.0;
            assert!((om - beta[c] as f64).abs() < 1e-4, "channel {c} mean {om}");
            let g2 = (gamma[c] * gamma[c]) as f64 * v / (v + 1e-5);
            assert!((ov - g2).abs() < 1e-3, "channel {c} variance {ov} vs {g2}");
        }
    }

    #[test]
    fn backward_is_the_forwards_gradient() {
        let s = BatchNormShape { n: 3, c: 2, l: 5 };
        let x = values(30, 0.0);
        let (gamma, beta) = (vec![1.5, -0.7], vec![0.2, 0.1]);
        let dy = values(30, 9.0);
        let loss = |x: &[f32], gamma: &[f32], beta: &[f32]| -> f64 {
            let mut y = vec![0.0; 30];
            s.forward(x, gamma, beta, 1e-5, &mut y);
            y.iter().zip(&dy).map(|(y, d)| (y * d) as f64).sum()
        };
        let mut y = vec![0.0; 30];
        let (mean, var) = s.forward(&x, &gamma, &beta, 1e-5, &mut y);
        let mut dx = vec![f32::NAN; 30];
        let (dgamma, dbeta) = s.backward(&x, &gamma, &mean, &var, 1e-5, &dy, &mut dx);
        let h = 1e-3f32;
        let numeric = |plus: f64, minus: f64| (plus - minus) / (2.0 * h as f64);
        for i in 0..30 {
            let (mut p, mut m) = (x.clone(), x.clone());
            p[i] += h;
            m[i] -= h;
            let n = numeric(loss(&p, &gamma, &beta), loss(&m, &gamma, &beta));
            assert!(
                (n - dx[i] as f64).abs() < 2e-2 * (1.0 + n.abs()),
                "dx[{i}] {} vs {n}",
                dx[i]
            );
        }
        for c in 0..2 {
            let (mut p, mut m) = (gamma.clone(), gamma.clone());
            p[c] += h;
            m[c] -= h;
            let n = numeric(loss(&x, &p, &beta), loss(&x, &m, &beta));
            assert!(
                (n - dgamma[c] as f64).abs() < 1e-2 * (1.0 + n.abs()),
                "dgamma {c}"
            );
            let (mut p, mut m) = (beta.clone(), beta.clone());
            p[c] += h;
            m[c] -= h;
            let n = numeric(loss(&x, &gamma, &p), loss(&x, &gamma, &m));
            assert!(
                (n - dbeta[c] as f64).abs() < 1e-2 * (1.0 + n.abs()),
                "dbeta {c}"
            );
        }
    }
}
