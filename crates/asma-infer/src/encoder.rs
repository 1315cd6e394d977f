//! The ST-GCN encoder (Yan et al., AAAI 2018; PSTL's configuration, docs/METHOD.md §3) with every
//! BatchNorm folded away, evaluated one person at a time on contiguous `(C, T·V)` buffers.
//!
//! Folding (eval mode, `ŝ = γ/√(σ²+ε)`):
//! * `tcn.0` (after the graph product, before the ReLU) scales the rows of `gcn.conv` per
//!   output channel; its shift and the conv bias pushed through the graph become a
//!   `(C_out, V)` bias map `B[o,w] = ŝ_o Σ_k b_{k,o} Σ_v Ã_k[v,w] + β_o − ŝ_o μ_o`;
//! * `tcn.3` into the temporal convolution, `residual.1` into the residual convolution;
//! * data-BN stays an element-wise scale and shift per (joint, coordinate): its scale depends
//!   on the joint, which a 1×1 convolution cannot express.
//!
//! The graph product runs in whichever order costs fewer MACs: aggregate the input over the
//! graph first when the block widens (`C_in < C_out`, e.g. 3 → 32), else convolve first.
//! A person slot that is all zeros (an absent second body) gives the same map every time:
//! it is computed once per length and reused (same output, half the work for one-person clips).

use std::collections::HashMap;
use std::sync::Mutex;

use asma_arch::StgcnEncoderConfig;
use asma_skeleton::{spatial_adjacency, NTU25};

use crate::error::{model_err, Result};
use crate::kernels::{fill_rows, matmul, relu, View};
use crate::tensors::Tensors;

/// PyTorch's and burn's BatchNorm ε.
const BN_EPS: f32 = 1e-5;
/// Spatial partitions.
const K: usize = 3;

/// `(scale, shift)` of an eval-mode BatchNorm `prefix.{weight,bias,running_mean,running_var}`.
fn batch_norm(w: &Tensors, prefix: &str, c: usize) -> Result<(Vec<f32>, Vec<f32>)> {
    let gamma = w.get(&format!("{prefix}.weight"), &[c])?;
    let beta = w.get(&format!("{prefix}.bias"), &[c])?;
    let mean = w.get(&format!("{prefix}.running_mean"), &[c])?;
    let var = w.get(&format!("{prefix}.running_var"), &[c])?;
    if let Some(i) = var.iter().position(|&v| v < 0.0) {
        return Err(model_err(
            w.path(),
            format!("{prefix}.running_var[{i}] is negative"),
        ));
    }
    let scale: Vec<f32> = gamma
        .iter()
        .zip(&var)
        .map(|(g, v)| g / (v + BN_EPS).sqrt())
        .collect();
    let shift = (0..c).map(|i| beta[i] - mean[i] * scale[i]).collect();
    Ok((scale, shift))
}

/// One block with BatchNorm folded in.
struct Block {
    c_in: usize,
    c_out: usize,
    stride: usize,
    kernel: usize,
    /// Aggregate over the graph before the 1×1 convolution.
    aggregate_first: bool,
    /// `Ã_k = A_k ⊙ E_k`, `(K, V, V)`.
    a: Vec<f32>,
    /// Aggregate-first: `(C_out, K·C_in)`, `[o][k·C_in + c]`; else `(K·C_out, C_in)`.
    gcn_w: Vec<f32>,
    /// `(C_out, V)`.
    gcn_bias: Vec<f32>,
    /// `(C_out, kernel·C_out)`, `[o][j·C_out + c]`.
    tcn_w: Vec<f32>,
    /// Temporal bias (+ the residual conv's bias when there is one), `(C_out)`.
    out_bias: Vec<f32>,
    residual: Residual,
}

pub(crate) enum Residual {
    None,
    Identity,
    /// `(C_out, C_in)`.
    Conv(Vec<f32>),
}

impl Block {
    #[allow(clippy::too_many_arguments)]
    fn load(
        w: &Tensors,
        p: &str,
        c_in: usize,
        c_out: usize,
        stride: usize,
        kernel: usize,
        residual: bool,
        a: Vec<f32>,
    ) -> Result<Self> {
        let v = NTU25.num_joints();
        let conv_w = w.get(&format!("{p}.gcn.conv.weight"), &[K * c_out, c_in, 1, 1])?;
        let conv_b = w.get(&format!("{p}.gcn.conv.bias"), &[K * c_out])?;
        let (s_in, t_in) = batch_norm(w, &format!("{p}.tcn.0"), c_out)?;
        let aggregate_first = c_in < c_out;
        let mut gcn_w = vec![0.0; K * c_out * c_in];
        for k in 0..K {
            for o in 0..c_out {
                for c in 0..c_in {
                    let value = s_in[o] * conv_w[(k * c_out + o) * c_in + c];
                    let at = if aggregate_first {
                        o * K * c_in + k * c_in + c
                    } else {
                        (k * c_out + o) * c_in + c
                    };
                    gcn_w[at] = value;
                }
            }
        }
        let mut gcn_bias = vec![0.0; c_out * v];
        for o in 0..c_out {
            for wj in 0..v {
                let through_graph: f32 = (0..K)
                    .map(|k| {
                        conv_b[k * c_out + o] * (0..v).map(|s| a[(k * v + s) * v + wj]).sum::<f32>()
                    })
                    .sum();
                gcn_bias[o * v + wj] = s_in[o] * through_graph + t_in[o];
            }
        }
        let t_w = w.get(&format!("{p}.tcn.2.weight"), &[c_out, c_out, kernel, 1])?;
        let t_b = w.get(&format!("{p}.tcn.2.bias"), &[c_out])?;
        let (s_out, t_out) = batch_norm(w, &format!("{p}.tcn.3"), c_out)?;
        let mut tcn_w = vec![0.0; c_out * kernel * c_out];
        for o in 0..c_out {
            for c in 0..c_out {
                for j in 0..kernel {
                    tcn_w[o * kernel * c_out + j * c_out + c] =
                        s_out[o] * t_w[(o * c_out + c) * kernel + j];
                }
            }
        }
        let mut out_bias: Vec<f32> = (0..c_out).map(|o| s_out[o] * t_b[o] + t_out[o]).collect();
        let identity = residual && c_in == c_out && stride == 1;
        let residual = if !residual {
            Residual::None
        } else if identity {
            Residual::Identity
        } else {
            let r_w = w.get(&format!("{p}.residual.0.weight"), &[c_out, c_in, 1, 1])?;
            let r_b = w.get(&format!("{p}.residual.0.bias"), &[c_out])?;
            let (s_r, t_r) = batch_norm(w, &format!("{p}.residual.1"), c_out)?;
            let folded = (0..c_out * c_in).map(|i| s_r[i / c_in] * r_w[i]).collect();
            for o in 0..c_out {
                out_bias[o] += s_r[o] * r_b[o] + t_r[o];
            }
            Residual::Conv(folded)
        };
        Ok(Block {
            c_in,
            c_out,
            stride,
            kernel,
            aggregate_first,
            a,
            gcn_w,
            gcn_bias,
            tcn_w,
            out_bias,
            residual,
        })
    }

    fn out_len(&self, t: usize) -> usize {
        (t - 1) / self.stride + 1
    }

    /// `x`: `(C_in, T, V)` → `(C_out, T', V)`.
    fn forward(&self, x: &[f32], t: usize, threads: usize) -> Vec<f32> {
        let v = NTU25.num_joints();
        let (ci, co) = (self.c_in, self.c_out);
        let tv = t * v;
        // Graph convolution → (C_out, T·V), BatchNorm folded, then ReLU.
        let mut y = vec![0.0; co * tv];
        for (row, o) in y.chunks_exact_mut(tv).zip(0..co) {
            for frame in row.chunks_exact_mut(v) {
                frame.copy_from_slice(&self.gcn_bias[o * v..(o + 1) * v]);
            }
        }
        if self.aggregate_first {
            // xa[k] = x (C_in·T × V) · Ã_k, stacked to (K·C_in, T·V); then y += W · xa.
            let mut xa = vec![0.0; K * ci * tv];
            for k in 0..K {
                let a_k = &self.a[k * v * v..(k + 1) * v * v];
                matmul(
                    &mut xa[k * ci * tv..],
                    v,
                    ci * t,
                    v,
                    v,
                    View::rows(x, v),
                    View::rows(a_k, v),
                    false,
                    threads,
                );
            }
            matmul(
                &mut y,
                tv,
                co,
                tv,
                K * ci,
                View::rows(&self.gcn_w, K * ci),
                View::rows(&xa, tv),
                true,
                threads,
            );
        } else {
            // z = W (K·C_out × C_in) · x; then y (C_out·T × V) += Σ_k z_k · Ã_k.
            let mut z = vec![0.0; K * co * tv];
            matmul(
                &mut z,
                tv,
                K * co,
                tv,
                ci,
                View::rows(&self.gcn_w, ci),
                View::rows(x, tv),
                false,
                threads,
            );
            for k in 0..K {
                let a_k = &self.a[k * v * v..(k + 1) * v * v];
                matmul(
                    &mut y,
                    v,
                    co * t,
                    v,
                    v,
                    View::rows(&z[k * co * tv..], v),
                    View::rows(a_k, v),
                    true,
                    threads,
                );
            }
        }
        relu(&mut y);

        // Temporal convolution (BatchNorm folded) + residual, then ReLU.
        let t_out = self.out_len(t);
        let otv = t_out * v;
        let mut out = vec![0.0; co * otv];
        fill_rows(&mut out, &self.out_bias, otv);
        match &self.residual {
            Residual::None => {}
            Residual::Identity => {
                for (o, xi) in out.iter_mut().zip(x) {
                    *o += xi;
                }
            }
            Residual::Conv(w) => {
                let xs = strided_frames(x, ci, t, v, self.stride);
                matmul(
                    &mut out,
                    otv,
                    co,
                    otv,
                    ci,
                    View::rows(w, ci),
                    View::rows(&xs, otv),
                    true,
                    threads,
                );
            }
        }
        let pad = (self.kernel - 1) / 2;
        if self.stride == 1 {
            // One GEMM per tap on shifted views of y: no column buffer.
            for j in 0..self.kernel {
                let lo = pad.saturating_sub(j);
                let hi = (t + pad).saturating_sub(j).min(t);
                if lo >= hi {
                    continue;
                }
                let src = (lo + j - pad) * v;
                let w_j = View {
                    data: &self.tcn_w[j * co..],
                    rs: self.kernel * co,
                    cs: 1,
                };
                let rhs = View {
                    data: &y[src..],
                    rs: tv,
                    cs: 1,
                };
                matmul(
                    &mut out[lo * v..],
                    otv,
                    co,
                    (hi - lo) * v,
                    co,
                    w_j,
                    rhs,
                    true,
                    threads,
                );
            }
        } else {
            let cols = im2col(&y, co, t, v, self.kernel, self.stride, t_out);
            matmul(
                &mut out,
                otv,
                co,
                otv,
                self.kernel * co,
                View::rows(&self.tcn_w, self.kernel * co),
                View::rows(&cols, otv),
                true,
                threads,
            );
        }
        relu(&mut out);
        out
    }
}

/// Frames `0, s, 2s, …` of a `(C, T, V)` buffer.
fn strided_frames(x: &[f32], c: usize, t: usize, v: usize, s: usize) -> Vec<f32> {
    if s == 1 {
        return x.to_vec();
    }
    let t_out = (t - 1) / s + 1;
    let mut out = Vec::with_capacity(c * t_out * v);
    for ch in 0..c {
        for f in 0..t_out {
            let at = (ch * t + f * s) * v;
            out.extend_from_slice(&x[at..at + v]);
        }
    }
    out
}

/// `(C, T, V)` → `(kernel·C, T'·V)` columns of a zero-padded `kernel×1` convolution of
/// stride `s`: row `j·C + c`, column `t'·V + v` holds `x[c, t'·s + j − pad, v]`.
fn im2col(
    x: &[f32],
    c: usize,
    t: usize,
    v: usize,
    kernel: usize,
    s: usize,
    t_out: usize,
) -> Vec<f32> {
    let pad = (kernel - 1) / 2;
    let mut cols = vec![0.0; kernel * c * t_out * v];
    for j in 0..kernel {
        for ch in 0..c {
            let row = (j * c + ch) * t_out * v;
            for f in 0..t_out {
                let src = (f * s + j) as isize - pad as isize;
                if src >= 0 && (src as usize) < t {
                    let at = (ch * t + src as usize) * v;
                    cols[row + f * v..row + (f + 1) * v].copy_from_slice(&x[at..at + v]);
                }
            }
        }
    }
    cols
}

/// A folded encoder.
pub struct Encoder {
    /// Data-BN scale and shift per `v·C + c`.
    data_scale: Vec<f32>,
    data_shift: Vec<f32>,
    blocks: Vec<Block>,
    in_channels: usize,
    /// Output width.
    pub dim: usize,
    /// Parameters as PyTorch counts them (before folding).
    pub params: usize,
    /// Map of an all-zero person, by input length.
    zero_maps: Mutex<HashMap<usize, (Vec<f32>, usize)>>,
}

impl Encoder {
    /// Loads and folds the encoder under `prefix` (e.g. `encoder_theta.`) of `w`.
    pub fn load(w: &Tensors, prefix: &str, cfg: &StgcnEncoderConfig) -> Result<Self> {
        let v = NTU25.num_joints();
        let c = cfg.in_channels;
        let (data_scale, data_shift) = batch_norm(w, &format!("{prefix}data_bn"), v * c)?;
        let graph = spatial_adjacency(&NTU25);
        let specs = cfg.blocks();
        let mut blocks = Vec::with_capacity(specs.len());
        let mut params = 2 * v * c;
        for (i, s) in specs.iter().enumerate() {
            let mut a = graph.data.clone();
            if cfg.edge_importance {
                let e = w.get(&format!("{prefix}edge_importance.{i}"), &[K, v, v])?;
                for (x, e) in a.iter_mut().zip(&e) {
                    *x *= e;
                }
                params += K * v * v;
            }
            let block = Block::load(
                w,
                &format!("{prefix}st_gcn_networks.{i}"),
                s.in_channels,
                s.out_channels,
                s.stride,
                cfg.temporal_kernel,
                s.residual,
                a,
            )?;
            let (ci, co) = (s.in_channels, s.out_channels);
            params += K * co * ci + K * co + 2 * co + co * co * cfg.temporal_kernel + co + 2 * co;
            if let Residual::Conv(_) = block.residual {
                params += co * ci + co + 2 * co;
            }
            blocks.push(block);
        }
        let extra = w
            .names()
            .filter(|n| n.starts_with(prefix))
            .filter(|n| {
                let rest = &n[prefix.len()..];
                rest.starts_with("st_gcn_networks.") || rest.starts_with("edge_importance.")
            })
            .find(|n| {
                let rest = &n[prefix.len()..];
                let idx = rest.split('.').nth(1).and_then(|i| i.parse::<usize>().ok());
                idx.is_some_and(|i| i >= specs.len())
            });
        if let Some(name) = extra {
            return Err(model_err(
                w.path(),
                format!(
                    "tensor '{name}' belongs to a block beyond the {} of this configuration (another layout)",
                    specs.len()
                ),
            ));
        }
        Ok(Encoder {
            data_scale,
            data_shift,
            dim: specs.last().map_or(c, |s| s.out_channels),
            blocks,
            in_channels: c,
            params,
            zero_maps: Mutex::new(HashMap::new()),
        })
    }

    /// One person `(C, T, V)` → block-last map `(dim, T', V)` and `T'`.
    pub fn person_map(&self, x: &[f32], t: usize, threads: usize) -> (Vec<f32>, usize) {
        let v = NTU25.num_joints();
        let c = self.in_channels;
        let mut h: Vec<f32> = x
            .iter()
            .enumerate()
            .map(|(i, &value)| {
                let (ch, joint) = (i / (t * v), i % v);
                value * self.data_scale[joint * c + ch] + self.data_shift[joint * c + ch]
            })
            .collect();
        let mut frames = t;
        for b in &self.blocks {
            h = b.forward(&h, frames, threads);
            frames = b.out_len(frames);
        }
        (h, frames)
    }

    /// Like [`Self::person_map`], reusing the map of an all-zero person.
    pub fn person_map_cached(&self, x: &[f32], t: usize, threads: usize) -> (Vec<f32>, usize) {
        if x.iter().any(|&v| v != 0.0) {
            return self.person_map(x, t, threads);
        }
        let mut cache = self.zero_maps.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .entry(t)
            .or_insert_with(|| self.person_map(x, t, threads))
            .clone()
    }

    /// `(C, T, V, M)` sample → one map `(dim, T'·V)` per person, and `T'`.
    pub fn maps(
        &self,
        sample: &[f32],
        t: usize,
        m: usize,
        threads: usize,
    ) -> (Vec<Vec<f32>>, usize) {
        let v = NTU25.num_joints();
        let c = self.in_channels;
        let mut out = Vec::with_capacity(m);
        let mut frames = t;
        for person in 0..m {
            let x: Vec<f32> = (0..c * t * v).map(|i| sample[i * m + person]).collect();
            let (map, f) = self.person_map_cached(&x, t, threads);
            frames = f;
            out.push(map);
        }
        (out, frames)
    }

    /// `(C, T, V, M)` → `(dim)`: the mean over (T', V), then over persons.
    pub fn pooled(&self, sample: &[f32], t: usize, m: usize, threads: usize) -> Vec<f32> {
        let (maps, _) = self.maps(sample, t, m, threads);
        let mut out = vec![0.0; self.dim];
        for map in &maps {
            let len = map.len() / self.dim;
            for (o, row) in out.iter_mut().zip(map.chunks_exact(len)) {
                *o += row.iter().sum::<f32>() / (len * maps.len()) as f32;
            }
        }
        out
    }

    /// Multiply-accumulates of one sample as the paper counts them (every convolution and
    /// the graph product in the convolve-first order, all `m` persons, BatchNorm not
    /// counted).
    pub fn macs(&self, t: usize, m: usize) -> u64 {
        let v = NTU25.num_joints() as u64;
        let mut frames = t;
        let mut total = 0u64;
        for b in &self.blocks {
            let (ci, co, tt) = (b.c_in as u64, b.c_out as u64, frames as u64);
            let to = b.out_len(frames) as u64;
            total += K as u64 * co * ci * tt * v + K as u64 * co * tt * v * v;
            total += co * co * b.kernel as u64 * to * v;
            if let Residual::Conv(_) = b.residual {
                total += co * ci * to * v;
            }
            frames = b.out_len(frames);
        }
        total * m as u64
    }
}

impl Encoder {
    /// Blocks.
    pub fn depth(&self) -> usize {
        self.blocks.len()
    }

    /// Frames of the block-last map for `t` input frames.
    pub fn out_frames(&self, t: usize) -> usize {
        self.blocks.iter().fold(t, |f, b| b.out_len(f))
    }
}

/// One block's folded weights in the convolve-first, PyTorch-ordered layout a graph exporter
/// needs (the ONNX export): [`Block`] keeps whichever layout its kernels run fastest on.
pub(crate) struct BlockWeights<'a> {
    pub c_in: usize,
    pub c_out: usize,
    pub stride: usize,
    pub kernel: usize,
    /// `Ã`, `(K, V, V)`.
    pub a: &'a [f32],
    /// The 1×1 convolution before the graph product, `(K·C_out, C_in)`, row `k·C_out + o`.
    pub gcn_w: Vec<f32>,
    /// `(C_out, V)`, added after the graph product.
    pub gcn_bias: &'a [f32],
    /// `(C_out, C_out, kernel)`, PyTorch's `(o, c, k)` order.
    pub tcn_w: Vec<f32>,
    /// `(C_out)`: the temporal bias plus the residual convolution's.
    pub out_bias: &'a [f32],
    /// A `Conv` residual is `(C_out, C_in)`, of stride `stride`, without bias.
    pub residual: &'a Residual,
}

impl Encoder {
    /// Input channels and the data-BN `(scale, shift)` per `v·C + c`.
    pub(crate) fn data_bn(&self) -> (usize, &[f32], &[f32]) {
        (self.in_channels, &self.data_scale, &self.data_shift)
    }

    pub(crate) fn block_weights(&self) -> Vec<BlockWeights<'_>> {
        self.blocks
            .iter()
            .map(|b| {
                let (ci, co, kernel) = (b.c_in, b.c_out, b.kernel);
                let mut gcn_w = b.gcn_w.clone();
                if b.aggregate_first {
                    // Stored `[o][k·C_in + c]`: back to row `k·C_out + o`.
                    for k in 0..K {
                        for o in 0..co {
                            for c in 0..ci {
                                gcn_w[(k * co + o) * ci + c] = b.gcn_w[o * K * ci + k * ci + c];
                            }
                        }
                    }
                }
                let mut tcn_w = vec![0.0; co * co * kernel];
                for o in 0..co {
                    for c in 0..co {
                        for j in 0..kernel {
                            tcn_w[(o * co + c) * kernel + j] =
                                b.tcn_w[o * kernel * co + j * co + c];
                        }
                    }
                }
                BlockWeights {
                    c_in: ci,
                    c_out: co,
                    stride: b.stride,
                    kernel,
                    a: &b.a,
                    gcn_w,
                    gcn_bias: &b.gcn_bias,
                    tcn_w,
                    out_bias: &b.out_bias,
                    residual: &b.residual,
                }
            })
            .collect()
    }
}
