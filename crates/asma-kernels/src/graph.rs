//! The graph product of ST-GCN's spatial convolution, `y[n,c,t,w] = Σ_k Σ_v z[n,k,c,t,v] ·
//! a[k,v,w]` (PyTorch's `einsum('nkctv,kvw->nctw')`), forward and backward, on contiguous
//! `z (N, K·C, T, V)`: per sample, `K` GEMMs `(C·T, V) · (V, W)` accumulated into one output,
//! samples in parallel. No permutation is materialised.

use rayon::prelude::*;

use crate::gemm::{matmul, View};
use crate::{sum_in_order, GROUP};

/// The shape of one graph product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GraphProduct {
    pub n: usize,
    /// Partitions (3 in the spatial strategy).
    pub k: usize,
    pub c: usize,
    pub t: usize,
    /// Input joints.
    pub v: usize,
    /// Output joints.
    pub w: usize,
}

impl GraphProduct {
    /// Values of `z`, `a` and `y`.
    pub fn sizes(&self) -> [usize; 3] {
        let rows = self.c * self.t;
        [
            self.n * self.k * rows * self.v,
            self.k * self.v * self.w,
            self.n * rows * self.w,
        ]
    }

    fn check(&self, z: &[f32], a: &[f32], y: &[f32]) {
        let [nz, na, ny] = self.sizes();
        assert!(
            z.len() == nz && a.len() == na && y.len() == ny,
            "graph product {self:?}: input {}, adjacency {}, output {} values",
            z.len(),
            a.len(),
            y.len()
        );
    }

    /// `y (N, C, T, W)` from `z (N, K·C, T, V)` and `a (K, V, W)`.
    pub fn forward(&self, z: &[f32], a: &[f32], y: &mut [f32]) {
        self.check(z, a, y);
        let (rows, v, w) = (self.c * self.t, self.v, self.w);
        y.par_chunks_mut(rows * w)
            .zip(z.par_chunks(self.k * rows * v))
            .for_each(|(y, z)| {
                for k in 0..self.k {
                    let z_k = View::rows(&z[k * rows * v..], v);
                    let a_k = View::rows(&a[k * v * w..], w);
                    matmul(y, w, rows, w, v, z_k, a_k, k > 0, 1);
                }
            });
    }

    /// Gradients for the output gradient `dy`: `dz` (written) and `da` (returned).
    pub fn backward(&self, z: &[f32], a: &[f32], dy: &[f32], dz: &mut [f32]) -> Vec<f32> {
        self.check(z, a, dy);
        assert_eq!(dz.len(), z.len(), "input gradient size");
        let (rows, v, w, kk) = (self.c * self.t, self.v, self.w, self.k);
        let (z_len, y_len) = (kk * rows * v, rows * w);
        let parts: Vec<Vec<f32>> = dz
            .par_chunks_mut(GROUP * z_len)
            .zip(dy.par_chunks(GROUP * y_len))
            .zip(z.par_chunks(GROUP * z_len))
            .map(|((dz, dy), z)| {
                let mut da = vec![0f32; kk * v * w];
                let samples = dz
                    .chunks_mut(z_len)
                    .zip(dy.chunks(y_len))
                    .zip(z.chunks(z_len));
                for ((dz, dy), z) in samples {
                    let dy = View::rows(dy, w);
                    for k in 0..kk {
                        // dz_k (CT, V) = dy (CT, W) · a_kᵀ (W, V)
                        let a_t = View {
                            data: &a[k * v * w..],
                            rs: 1,
                            cs: w,
                        };
                        matmul(&mut dz[k * rows * v..], v, rows, v, w, dy, a_t, false, 1);
                        // da_k (V, W) += z_kᵀ (V, CT) · dy (CT, W)
                        let z_t = View {
                            data: &z[k * rows * v..],
                            rs: 1,
                            cs: v,
                        };
                        matmul(&mut da[k * v * w..], w, v, w, rows, z_t, dy, true, 1);
                    }
                }
                da
            })
            .collect();
        sum_in_order(parts, kk * v * w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(len: usize, seed: f32) -> Vec<f32> {
        (0..len)
            .map(|i| ((i as f32 + seed) * 0.731).sin())
            .collect()
    }

    fn naive(s: &GraphProduct, z: &[f32], a: &[f32]) -> Vec<f32> {
        let mut y = vec![0f32; s.sizes()[2]];
        for n in 0..s.n {
            for c in 0..s.c {
                for t in 0..s.t {
                    for w in 0..s.w {
                        let mut acc = 0f64;
                        for k in 0..s.k {
                            for v in 0..s.v {
                                let zi = (((n * s.k + k) * s.c + c) * s.t + t) * s.v + v;
                                acc += (z[zi] * a[(k * s.v + v) * s.w + w]) as f64;
                            }
                        }
                        y[((n * s.c + c) * s.t + t) * s.w + w] = acc as f32;
                    }
                }
            }
        }
        y
    }

    #[test]
    fn forward_and_backward_match_the_definition() {
        for (v, w) in [(6, 6), (5, 4)] {
            let s = GraphProduct {
                n: 3,
                k: 3,
                c: 2,
                t: 4,
                v,
                w,
            };
            let [nz, na, ny] = s.sizes();
            let (z, a, dy) = (values(nz, 0.0), values(na, 1.0), values(ny, 2.0));
            let mut y = vec![f32::NAN; ny];
            s.forward(&z, &a, &mut y);
            for (got, want) in y.iter().zip(naive(&s, &z, &a)) {
                assert!((got - want).abs() < 1e-4, "{got} vs {want}");
            }
            // The scalar ⟨dy, y⟩ is linear in z and in a: its gradients are exact differences.
            let loss = |z: &[f32], a: &[f32]| -> f64 {
                naive(&s, z, a)
                    .iter()
                    .zip(&dy)
                    .map(|(y, d)| (y * d) as f64)
                    .sum()
            };
            let mut dz = vec![f32::NAN; nz];
            let da = s.backward(&z, &a, &dy, &mut dz);
            let h = 1e-2;
            for i in 0..nz {
                let (mut p, mut m) = (z.clone(), z.clone());
                p[i] += h;
                m[i] -= h;
                let numeric = (loss(&p, &a) - loss(&m, &a)) / (2.0 * h as f64);
                assert!((numeric - dz[i] as f64).abs() < 1e-2, "dz[{i}]");
            }
            for i in 0..na {
                let (mut p, mut m) = (a.clone(), a.clone());
                p[i] += h;
                m[i] -= h;
                let numeric = (loss(&z, &p) - loss(&z, &m)) / (2.0 * h as f64);
                assert!((numeric - da[i] as f64).abs() < 1e-2, "da[{i}]");
            }
        }
    }
}
