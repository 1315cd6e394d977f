//! The `k×1` temporal convolution of ST-GCN (weight `(O, C, k, 1)`, stride `s` and zero
//! padding `p` over T), forward and backward, as GEMMs over samples in parallel.
//!
//! At stride 1 every tap `j` is one GEMM on shifted views, nothing copied: output frames
//! `t ∈ [t0, t1)` read input frames `t + j − p`, a contiguous column range of the `(C, T·V)`
//! sample, so `Y[:, t0·V..t1·V] += W_j (O, C) · X[:, (t0+j−p)·V..]`. Its gradients are the same
//! views the other way round: `dX += W_jᵀ · dY`, `dW_j += dY · Xᵀ` (a long inner dimension,
//! the GEMM's best case). At stride 2 the frames of one tap are not a column range, so each
//! sample's columns are gathered once (im2col, `(C·k, T'·V)`) and the product is one GEMM.
//! Each GEMM runs on one thread, the samples on all of them; gradient sums over samples are
//! taken in a fixed order (see `GROUP` in the crate root), so results do not depend on the threads.

use rayon::prelude::*;

use crate::gemm::{matmul, View};
use crate::{sum_in_order, GROUP};

/// The shape of one temporal convolution on a `(N, C, T, V)` input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TemporalConv {
    pub n: usize,
    pub c_in: usize,
    pub c_out: usize,
    pub t: usize,
    pub v: usize,
    pub kernel: usize,
    pub stride: usize,
    pub padding: usize,
}

impl TemporalConv {
    /// Output frames `⌊(T + 2p − k)/s⌋ + 1`.
    pub fn t_out(&self) -> usize {
        (self.t + 2 * self.padding - self.kernel) / self.stride + 1
    }

    fn in_len(&self) -> usize {
        self.c_in * self.t * self.v
    }

    fn out_len(&self) -> usize {
        self.c_out * self.t_out() * self.v
    }

    /// Values of the input, weight and output.
    pub fn sizes(&self) -> [usize; 3] {
        [
            self.n * self.in_len(),
            self.c_out * self.c_in * self.kernel,
            self.n * self.out_len(),
        ]
    }

    /// Output frames `[t0, t1)` whose input frame for tap `j` exists (stride 1).
    fn taps(&self, j: usize) -> (usize, usize) {
        let (p, t_out) = (self.padding, self.t_out());
        let t0 = p.saturating_sub(j);
        let t1 = t_out.min((self.t + p).saturating_sub(j));
        (t0, t1.max(t0))
    }

    fn cols_len(&self) -> usize {
        if self.stride == 1 {
            0
        } else {
            self.c_in * self.kernel * self.t_out() * self.v
        }
    }

    /// `cols[(c·k + j), t·V + v] = x[c, t·s + j − p, v]` (zero outside the sequence).
    fn im2col(&self, x: &[f32], cols: &mut [f32]) {
        let (k, v, t_out) = (self.kernel, self.v, self.t_out());
        for c in 0..self.c_in {
            for j in 0..k {
                let row = &mut cols[(c * k + j) * t_out * v..][..t_out * v];
                for (t, out) in row.chunks_exact_mut(v).enumerate() {
                    match (t * self.stride + j).checked_sub(self.padding) {
                        Some(ti) if ti < self.t => {
                            out.copy_from_slice(&x[(c * self.t + ti) * v..][..v])
                        }
                        _ => out.fill(0.0),
                    }
                }
            }
        }
    }

    /// The adjoint of [`Self::im2col`]: `dx[c, t·s + j − p, v] += cols[(c·k + j), t·V + v]`.
    fn col2im(&self, cols: &[f32], dx: &mut [f32]) {
        let (k, v, t_out) = (self.kernel, self.v, self.t_out());
        for c in 0..self.c_in {
            for j in 0..k {
                let row = &cols[(c * k + j) * t_out * v..][..t_out * v];
                for (t, grad) in row.chunks_exact(v).enumerate() {
                    if let Some(ti) = (t * self.stride + j).checked_sub(self.padding) {
                        if ti < self.t {
                            let dst = &mut dx[(c * self.t + ti) * v..][..v];
                            for (d, g) in dst.iter_mut().zip(grad) {
                                *d += g;
                            }
                        }
                    }
                }
            }
        }
    }

    fn check(&self, x: &[f32], w: &[f32], y: &[f32]) {
        let [nx, nw, ny] = self.sizes();
        assert!(
            x.len() == nx && w.len() == nw && y.len() == ny,
            "temporal convolution {self:?}: input {}, weight {}, output {} values",
            x.len(),
            w.len(),
            y.len()
        );
    }

    /// `y = conv(x, w) + b`, `y` of `(N, O, T', V)`.
    pub fn forward(&self, x: &[f32], w: &[f32], b: Option<&[f32]>, y: &mut [f32]) {
        self.check(x, w, y);
        let (c, o, k, v, t_out) = (self.c_in, self.c_out, self.kernel, self.v, self.t_out());
        y.par_chunks_mut(self.out_len())
            .zip(x.par_chunks(self.in_len()))
            .for_each_init(
                || vec![0f32; self.cols_len()],
                |cols, (y, x)| {
                    for (oc, row) in y.chunks_exact_mut(t_out * v).enumerate() {
                        row.fill(b.map_or(0.0, |b| b[oc]));
                    }
                    if self.stride == 1 {
                        for j in 0..k {
                            let (t0, t1) = self.taps(j);
                            if t0 == t1 {
                                continue;
                            }
                            let w_j = View {
                                data: &w[j..],
                                rs: c * k,
                                cs: k,
                            };
                            let x_j = View {
                                data: &x[(t0 + j - self.padding) * v..],
                                rs: self.t * v,
                                cs: 1,
                            };
                            let dst = &mut y[t0 * v..];
                            matmul(dst, t_out * v, o, (t1 - t0) * v, c, w_j, x_j, true, 1);
                        }
                    } else {
                        self.im2col(x, cols);
                        let (w, cols) = (View::rows(w, c * k), View::rows(cols, t_out * v));
                        matmul(y, t_out * v, o, t_out * v, c * k, w, cols, true, 1);
                    }
                },
            );
    }

    /// The gradients for the output gradient `dy`: `dx` (written), and `dw`, `db` (returned,
    /// in the weight's `(O, C, k)` layout and `(O)`).
    pub fn backward(
        &self,
        x: &[f32],
        w: &[f32],
        dy: &[f32],
        dx: &mut [f32],
    ) -> (Vec<f32>, Vec<f32>) {
        self.check(x, w, dy);
        assert_eq!(dx.len(), x.len(), "input gradient size");
        let (c, o, k, v, t, t_out) = (
            self.c_in,
            self.c_out,
            self.kernel,
            self.v,
            self.t,
            self.t_out(),
        );
        // Groups of samples each accumulate their own weight and bias gradients, `(k, O, C)`
        // at stride 1 (one block per tap), `(O, C·k)` otherwise; the groups are summed in order.
        let (in_g, out_g) = (GROUP * self.in_len(), GROUP * self.out_len());
        let parts: Vec<(Vec<f32>, Vec<f32>)> = dx
            .par_chunks_mut(in_g)
            .zip(dy.par_chunks(out_g))
            .zip(x.par_chunks(in_g))
            .map(|((dx, dy), x)| {
                let (mut dw, mut db) = (vec![0f32; o * c * k], vec![0f32; o]);
                let (mut cols, mut dcols) =
                    (vec![0f32; self.cols_len()], vec![0f32; self.cols_len()]);
                let samples = dx
                    .chunks_mut(self.in_len())
                    .zip(dy.chunks(self.out_len()))
                    .zip(x.chunks(self.in_len()));
                for ((dx, dy), x) in samples {
                    for (b, row) in db.iter_mut().zip(dy.chunks_exact(t_out * v)) {
                        *b += row.iter().sum::<f32>();
                    }
                    dx.fill(0.0);
                    if self.stride == 1 {
                        for j in 0..k {
                            let (t0, t1) = self.taps(j);
                            if t0 == t1 {
                                continue;
                            }
                            let len = (t1 - t0) * v;
                            let start = (t0 + j - self.padding) * v;
                            let dy_j = View {
                                data: &dy[t0 * v..],
                                rs: t_out * v,
                                cs: 1,
                            };
                            // dW_j (O, C) += dY (O, L) · Xᵀ (L, C)
                            let x_t = View {
                                data: &x[start..],
                                rs: 1,
                                cs: t * v,
                            };
                            matmul(&mut dw[j * o * c..], c, o, c, len, dy_j, x_t, true, 1);
                            // dX (C, L) += W_jᵀ (C, O) · dY (O, L)
                            let w_t = View {
                                data: &w[j..],
                                rs: k,
                                cs: c * k,
                            };
                            matmul(&mut dx[start..], t * v, c, len, o, w_t, dy_j, true, 1);
                        }
                    } else {
                        self.im2col(x, &mut cols);
                        let dy = View::rows(dy, t_out * v);
                        let cols_t = View {
                            data: &cols,
                            rs: 1,
                            cs: t_out * v,
                        };
                        matmul(&mut dw, c * k, o, c * k, t_out * v, dy, cols_t, true, 1);
                        let w_t = View {
                            data: w,
                            rs: 1,
                            cs: c * k,
                        };
                        matmul(
                            &mut dcols,
                            t_out * v,
                            c * k,
                            t_out * v,
                            o,
                            w_t,
                            dy,
                            false,
                            1,
                        );
                        self.col2im(&dcols, dx);
                    }
                }
                (dw, db)
            })
            .collect();
        let (dws, dbs): (Vec<_>, Vec<_>) = parts.into_iter().unzip();
        let (dw_acc, db) = (sum_in_order(dws, o * c * k), sum_in_order(dbs, o));
        let dw = if self.stride == 1 {
            // (k, O, C) → (O, C, k)
            let mut dw = vec![0f32; o * c * k];
            for j in 0..k {
                for oc in 0..o {
                    for ic in 0..c {
                        dw[(oc * c + ic) * k + j] = dw_acc[(j * o + oc) * c + ic];
                    }
                }
            }
            dw
        } else {
            dw_acc
        };
        (dw, db)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition, one output at a time.
    fn naive(s: &TemporalConv, x: &[f32], w: &[f32], b: &[f32]) -> Vec<f32> {
        let t_out = s.t_out();
        let mut y = vec![0f32; s.n * s.c_out * t_out * s.v];
        for n in 0..s.n {
            for o in 0..s.c_out {
                for t in 0..t_out {
                    for v in 0..s.v {
                        let mut acc = b[o] as f64;
                        for c in 0..s.c_in {
                            for j in 0..s.kernel {
                                let ti = (t * s.stride + j) as isize - s.padding as isize;
                                if ti >= 0 && (ti as usize) < s.t {
                                    acc += (w[(o * s.c_in + c) * s.kernel + j]
                                        * x[((n * s.c_in + c) * s.t + ti as usize) * s.v + v])
                                        as f64;
                                }
                            }
                        }
                        y[((n * s.c_out + o) * t_out + t) * s.v + v] = acc as f32;
                    }
                }
            }
        }
        y
    }

    fn values(len: usize, seed: f32) -> Vec<f32> {
        (0..len)
            .map(|i| ((i as f32 + seed) * 0.731).sin())
            .collect()
    }

    fn shapes() -> Vec<TemporalConv> {
        // The encoder's stride-1 and stride-2 units on even, odd and short sequences.
        [
            (9, 1, 50),
            (9, 2, 50),
            (9, 2, 25),
            (9, 2, 13),
            (9, 1, 3),
            (3, 1, 7),
            (1, 2, 9),
        ]
        .into_iter()
        .map(|(kernel, stride, t)| TemporalConv {
            n: 3,
            c_in: 4,
            c_out: 5,
            t,
            v: 6,
            kernel,
            stride,
            padding: (kernel - 1) / 2,
        })
        .collect()
    }

    #[test]
    fn gradients_do_not_depend_on_the_thread_count() {
        let s = TemporalConv {
            n: 37,
            c_in: 4,
            c_out: 5,
            t: 20,
            v: 6,
            kernel: 9,
            stride: 1,
            padding: 4,
        };
        let [nx, nw, ny] = s.sizes();
        let (x, w, dy) = (values(nx, 0.0), values(nw, 1.0), values(ny, 2.0));
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let mut dx = vec![0f32; nx];
            let (dw, db) = pool.install(|| s.backward(&x, &w, &dy, &mut dx));
            (dx, dw, db)
        };
        assert_eq!(run(1), run(3));
    }

    #[test]
    fn forward_matches_the_definition() {
        for s in shapes() {
            let [nx, nw, ny] = s.sizes();
            let (x, w, b) = (values(nx, 0.0), values(nw, 1.0), values(s.c_out, 2.0));
            let mut y = vec![f32::NAN; ny];
            s.forward(&x, &w, Some(&b), &mut y);
            for (a, e) in y.iter().zip(naive(&s, &x, &w, &b)) {
                assert!((a - e).abs() < 1e-4, "{s:?}: {a} vs {e}");
            }
        }
    }

    /// The backward is the adjoint of the forward: for any `dy`, `⟨dy, conv(x, w)⟩` has
    /// gradient `dx` in x and `dw` in w, so each finite difference of that scalar must match.
    #[test]
    fn backward_is_the_forwards_gradient() {
        for s in shapes() {
            let [nx, nw, ny] = s.sizes();
            let (x, w, b) = (values(nx, 0.0), values(nw, 1.0), values(s.c_out, 2.0));
            let dy = values(ny, 3.0);
            let mut dx = vec![f32::NAN; nx];
            let (dw, db) = s.backward(&x, &w, &dy, &mut dx);
            let loss = |x: &[f32], w: &[f32], b: &[f32]| -> f64 {
                naive(&s, x, w, b)
                    .iter()
                    .zip(&dy)
                    .map(|(y, d)| (y * d) as f64)
                    .sum()
            };
            let h = 1e-2;
            let check = |what: &str, i: usize, grad: f32, plus: f64, minus: f64| {
                let numeric = (plus - minus) / (2.0 * h as f64);
                assert!(
                    (numeric - grad as f64).abs() < 2e-2 * (1.0 + numeric.abs()),
                    "{s:?} d{what}[{i}]: {grad} vs {numeric}"
                );
            };
            for i in (0..nx).step_by(7) {
                let (mut p, mut m) = (x.clone(), x.clone());
                p[i] += h;
                m[i] -= h;
                check("x", i, dx[i], loss(&p, &w, &b), loss(&m, &w, &b));
            }
            for i in 0..nw {
                let (mut p, mut m) = (w.clone(), w.clone());
                p[i] += h;
                m[i] -= h;
                check("w", i, dw[i], loss(&x, &p, &b), loss(&x, &m, &b));
            }
            for i in 0..s.c_out {
                let (mut p, mut m) = (b.clone(), b.clone());
                p[i] += h;
                m[i] -= h;
                check("b", i, db[i], loss(&x, &w, &p), loss(&x, &w, &m));
            }
        }
    }
}
