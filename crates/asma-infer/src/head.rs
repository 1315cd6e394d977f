//! The classifier heads in plain f32: `nn.Linear` and ASMa's bi-directional cross-attention
//! feature alignment (Anand et al., TMLR 2026, §3.4; docs/METHOD.md §7.1), the same maths as
//! `asma_model::align` with the same parameter names.

use crate::error::Result;
use crate::kernels::{matmul, softmax_rows, View};
use crate::tensors::Tensors;

/// `y = x Wᵀ + b` with PyTorch's `(out, in)` weight.
pub struct Linear {
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
    pub d_in: usize,
    pub d_out: usize,
}

impl Linear {
    pub fn load(w: &Tensors, prefix: &str, d_in: usize, d_out: usize) -> Result<Self> {
        Ok(Linear {
            weight: w.get(&format!("{prefix}.weight"), &[d_out, d_in])?,
            bias: w.get(&format!("{prefix}.bias"), &[d_out])?,
            d_in,
            d_out,
        })
    }

    /// `(rows, d_in)` → `(rows, d_out)`.
    pub fn forward(&self, x: &[f32], rows: usize, threads: usize) -> Vec<f32> {
        let mut y: Vec<f32> = (0..rows).flat_map(|_| self.bias.iter().copied()).collect();
        matmul(
            &mut y,
            self.d_out,
            rows,
            self.d_out,
            self.d_in,
            View::rows(x, self.d_in),
            View::transposed(&self.weight, self.d_in),
            true,
            threads,
        );
        y
    }

    pub fn params(&self) -> usize {
        self.weight.len() + self.bias.len()
    }
}

/// One direction: queries from one encoder's tokens, keys and values from the other's.
pub struct CrossAttention {
    pub(crate) q: Linear,
    pub(crate) k: Linear,
    pub(crate) v: Linear,
}

impl CrossAttention {
    fn load(w: &Tensors, prefix: &str, d: usize) -> Result<Self> {
        Ok(CrossAttention {
            q: Linear::load(w, &format!("{prefix}.q"), d, d)?,
            k: Linear::load(w, &format!("{prefix}.k"), d, d)?,
            v: Linear::load(w, &format!("{prefix}.v"), d, d)?,
        })
    }

    /// `query (L, d)`, `context (L', d)` → the mean over L of `query + softmax(QKᵀ/√d)·V`.
    fn pooled(&self, query: &[f32], context: &[f32], d: usize, threads: usize) -> Vec<f32> {
        let (l, lc) = (query.len() / d, context.len() / d);
        let q = self.q.forward(query, l, threads);
        let k = self.k.forward(context, lc, threads);
        let v = self.v.forward(context, lc, threads);
        let mut scores = vec![0.0; l * lc];
        matmul(
            &mut scores,
            lc,
            l,
            lc,
            d,
            View::rows(&q, d),
            View::transposed(&k, d),
            false,
            threads,
        );
        let scale = 1.0 / (d as f32).sqrt();
        scores.iter_mut().for_each(|s| *s *= scale);
        softmax_rows(&mut scores, lc);
        let mut h = query.to_vec();
        matmul(
            &mut h,
            d,
            l,
            d,
            lc,
            View::rows(&scores, lc),
            View::rows(&v, d),
            true,
            threads,
        );
        let mut pooled = vec![0.0; d];
        for row in h.chunks_exact(d) {
            for (p, x) in pooled.iter_mut().zip(row) {
                *p += x / l as f32;
            }
        }
        pooled
    }

    fn params(&self) -> usize {
        self.q.params() + self.k.params() + self.v.params()
    }
}

/// Both directions (`head.align.theta.*`: θ←φ, `head.align.phi.*`: φ←θ).
pub struct Alignment {
    pub(crate) theta: CrossAttention,
    pub(crate) phi: CrossAttention,
    pub dim: usize,
}

impl Alignment {
    pub fn load(w: &Tensors, prefix: &str, dim: usize) -> Result<Self> {
        Ok(Alignment {
            theta: CrossAttention::load(w, &format!("{prefix}.theta"), dim)?,
            phi: CrossAttention::load(w, &format!("{prefix}.phi"), dim)?,
            dim,
        })
    }

    /// Token sequences `(L, d)` of f_θ and f_φ → `(2d)`.
    pub fn forward(&self, x_theta: &[f32], x_phi: &[f32], threads: usize) -> Vec<f32> {
        let mut out = self.theta.pooled(x_theta, x_phi, self.dim, threads);
        out.extend(self.phi.pooled(x_phi, x_theta, self.dim, threads));
        out
    }

    pub fn params(&self) -> usize {
        self.theta.params() + self.phi.params()
    }

    /// Multiply-accumulates for `l` tokens per encoder.
    pub fn macs(&self, l: usize) -> u64 {
        let (l, d) = (l as u64, self.dim as u64);
        // Per direction: three maps, QKᵀ and the weighted sum.
        2 * (3 * l * d * d + 2 * l * l * d)
    }
}
