//! The ST-GCN encoder of PSTL/AimCLR as ASMa uses it (docs/METHOD.md §3; Yan et al., AAAI 2018,
//! with PSTL's 16-channel configuration): data BatchNorm over 75 channels with persons folded
//! into the batch, ten spatial-temporal blocks with learnable edge importance, global average
//! pooling and the mean over persons.
//!
//! Spatial masking is joint *removal* (docs/METHOD.md §3.4 step 2): the kept joints are selected
//! after data-BN and every layer's `Ã = A ⊙ E` is restricted to them, without
//! re-normalising. Temporal masking needs nothing here: a shorter sequence just runs.
//!
//! Parameter paths follow PyTorch's `state_dict` keys except inside `tcn` and `residual`,
//! whose PyTorch names are `nn.Sequential` indices; [`crate::weights`] maps
//! `tcn.{bn_in,conv,bn_out}` ↔ `tcn.{0,2,3}` and `residual.{conv,bn}` ↔ `residual.{0,1}`.

use asma_skeleton::NTU25;
use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Dropout, DropoutConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Int, Tensor, TensorData};

pub use asma_arch::{BlockSpec, StgcnEncoderConfig};

use crate::conv::{conv_kx1_matmul, conv_kx1_shifted, ConvImpl};
use crate::graph::adjacency;
use crate::norm::{batch_norm, NormImpl};

/// Partitions of the spatial strategy (root, centripetal, centrifugal).
const K: usize = 3;

/// Building an encoder from its configuration (the configuration is plain data in
/// `asma-arch`, shared with the burn-free deployed path; this is the burn side).
pub trait StgcnEncoderInit {
    /// Builds the encoder with PyTorch's default initialisation.
    fn init(&self, device: &Device) -> StgcnEncoder;
}

impl StgcnEncoderInit for StgcnEncoderConfig {
    fn init(&self, device: &Device) -> StgcnEncoder {
        let v = NTU25.num_joints();
        let blocks = self.blocks();
        let norm = self.batch_norm.resolve(self.conv);
        let st_gcn_networks = blocks
            .iter()
            .map(|s| StgcnBlock::new(s, self.temporal_kernel, self.conv, norm, device))
            .collect();
        let edge_importance = if self.edge_importance {
            (0..blocks.len())
                .map(|_| Param::from_tensor(Tensor::ones([K, v, v], device)))
                .collect()
        } else {
            Vec::new()
        };
        StgcnEncoder {
            data_bn: BatchNormConfig::new(self.in_channels * v).init(device),
            st_gcn_networks,
            edge_importance,
            a: adjacency(&NTU25, device),
            hidden_dim: blocks.last().map_or(self.in_channels, |b| b.out_channels),
            norm,
        }
    }
}

/// The spatial graph convolution's 1×1 convolution (`gcn.conv`), producing K·out channels.
#[derive(Module, Debug)]
pub struct ConvTemporalGraphical {
    pub conv: Conv2d,
}

/// BN → ReLU → conv (k×1, stride s) → BN → dropout (`tcn.{0,2,3}` in PyTorch).
#[derive(Module, Debug)]
pub struct Tcn {
    pub bn_in: BatchNorm,
    pub conv: Conv2d,
    pub bn_out: BatchNorm,
    pub dropout: Dropout,
}

/// The 1×1 convolution + BN residual of blocks that change width or stride.
#[derive(Module, Debug)]
pub struct ResidualConv {
    pub conv: Conv2d,
    pub bn: BatchNorm,
}

/// One ST-GCN block (docs/METHOD.md §3.2).
#[derive(Module, Debug)]
pub struct StgcnBlock {
    pub gcn: ConvTemporalGraphical,
    pub tcn: Tcn,
    /// `Some` for the 1×1 conv residual.
    pub residual: Option<ResidualConv>,
    /// Identity residual (same width, stride 1); neither this nor `residual` in block 1.
    pub identity_residual: bool,
    pub out_channels: usize,
    pub stride: usize,
    /// How the convolutions (and, under `host`, the graph product) are evaluated; not part
    /// of the checkpoint.
    #[module(skip)]
    pub conv: ConvImpl,
    /// How BatchNorm is evaluated (resolved: never `auto`); not part of the checkpoint.
    #[module(skip)]
    pub norm: NormImpl,
}

impl StgcnBlock {
    fn new(s: &BlockSpec, kernel: usize, conv: ConvImpl, norm: NormImpl, device: &Device) -> Self {
        let (i, o) = (s.in_channels, s.out_channels);
        let identity = s.residual && i == o && s.stride == 1;
        let residual = (s.residual && !identity).then(|| ResidualConv {
            conv: Conv2dConfig::new([i, o], [1, 1])
                .with_stride([s.stride, 1])
                .init(device),
            bn: BatchNormConfig::new(o).init(device),
        });
        StgcnBlock {
            gcn: ConvTemporalGraphical {
                conv: Conv2dConfig::new([i, K * o], [1, 1]).init(device),
            },
            tcn: Tcn {
                bn_in: BatchNormConfig::new(o).init(device),
                conv: Conv2dConfig::new([o, o], [kernel, 1])
                    .with_stride([s.stride, 1])
                    .with_padding(PaddingConfig2d::Explicit(
                        (kernel - 1) / 2,
                        0,
                        (kernel - 1) / 2,
                        0,
                    ))
                    .init(device),
                bn_out: BatchNormConfig::new(o).init(device),
                dropout: DropoutConfig::new(s.dropout).init(),
            },
            residual,
            identity_residual: identity,
            out_channels: o,
            stride: s.stride,
            conv,
            norm,
        }
    }

    /// `conv` (a `k×1` convolution of this block with the given stride) on `x`, in the form
    /// [`ConvImpl`] says; outside the host kernels the 1×1 convolutions are always matmuls
    /// (faster on every backend measured: `asma bench ops`).
    fn conv(&self, conv: &Conv2d, x: Tensor<4>, stride: usize) -> Tensor<4> {
        let k = conv.weight.dims()[2];
        let p = (k - 1) / 2;
        if self.conv == ConvImpl::Host {
            if let Some(y) = crate::host::temporal_conv(&x, conv, stride, p) {
                return y;
            }
        }
        match self.conv {
            _ if k == 1 => conv_kx1_matmul(x, conv, stride, p),
            ConvImpl::Matmul => conv_kx1_matmul(x, conv, stride, p),
            ConvImpl::Shifted => conv_kx1_shifted(x, conv, stride, p),
            ConvImpl::Host | ConvImpl::Direct => conv.forward(x),
        }
    }

    /// `(N·M, C_in, T, V)` → `(N·M, C_out, ⌊(T−1)/s⌋+1, V)`; `a` is this block's `(K, V, V)`
    /// adjacency, already multiplied by the edge importance and restricted to the kept joints.
    pub fn forward(&self, x: Tensor<4>, a: Tensor<3>) -> Tensor<4> {
        let res = match (&self.residual, self.identity_residual) {
            (Some(r), _) => Some(batch_norm(
                self.norm,
                &r.bn,
                self.conv(&r.conv, x.clone(), self.stride),
            )),
            (None, true) => Some(x.clone()),
            (None, false) => None,
        };
        let z = self.conv(&self.gcn.conv, x, 1);
        let y = match self.conv {
            ConvImpl::Host => graph_product(z, a, self.out_channels),
            _ => graph_product_matmul(z, a, self.out_channels),
        };
        let y = batch_norm(self.norm, &self.tcn.bn_in, y);
        let y = self.conv(&self.tcn.conv, relu(y), self.stride);
        let y = crate::dropout::dropout(
            &self.tcn.dropout,
            batch_norm(self.norm, &self.tcn.bn_out, y),
        );
        relu(match res {
            Some(r) => y + r,
            None => y,
        })
    }
}

/// Values in a BatchNorm's running mean and variance.
pub fn running_stats(bn: &BatchNorm) -> usize {
    2 * bn.gamma.dims()[0]
}

/// `y[n,c,t,w] = Σ_k Σ_v z[n,k·C+c,t,v] · a[k,v,w]`: the host kernel on the CPU backend,
/// [`graph_product_matmul`] elsewhere.
pub fn graph_product(z: Tensor<4>, a: Tensor<3>, c: usize) -> Tensor<4> {
    crate::host::graph_product(&z, &a, c).unwrap_or_else(|| graph_product_matmul(z, a, c))
}

/// The graph product as one matmul: `(N·C·T, K·V) @ (K·V, W)`.
pub fn graph_product_matmul(z: Tensor<4>, a: Tensor<3>, c: usize) -> Tensor<4> {
    let [n, _, t, v] = z.dims();
    let w = a.dims()[2];
    let z = z
        .reshape([n, K, c, t, v])
        .permute([0, 2, 3, 1, 4])
        .reshape([n * c * t, K * v]);
    z.matmul(a.reshape([K * v, w])).reshape([n, c, t, w])
}

/// A block-10 map `(N·M, d, T', V')` → `(N, d)`: mean over (T', V'), then over the `m`
/// persons.
pub fn pool(map: Tensor<4>, n: usize, m: usize) -> Tensor<2> {
    let [nm, d, t, v] = map.dims();
    let pooled = map.reshape([nm, d, t * v]).mean_dim(2).reshape([n, m, d]);
    pooled.mean_dim(1).reshape([n, d])
}

/// The ST-GCN encoder.
#[derive(Module, Debug)]
pub struct StgcnEncoder {
    /// BatchNorm1d over `V·C` channels (index `v·3 + c`).
    pub data_bn: BatchNorm,
    pub st_gcn_networks: Vec<StgcnBlock>,
    /// `(3, V, V)` per block, initialised to ones.
    pub edge_importance: Vec<Param<Tensor<3>>>,
    /// The fixed spatial-partition adjacency (PyTorch's buffer `A`), not a parameter.
    pub a: Tensor<3>,
    pub hidden_dim: usize,
    /// How the data BatchNorm is evaluated (resolved); not part of the checkpoint.
    #[module(skip)]
    pub norm: NormImpl,
}

impl StgcnEncoder {
    /// `(N, 3, T, 25, M)` → block-10 map `(N·M, hidden_dim, T', V')` with `V'` the kept joints
    /// (`keep`: ascending 0-based indices; `None` keeps all).
    pub fn forward_map(&self, x: Tensor<5>, keep: Option<&[usize]>) -> Tensor<4> {
        let [n, c, t, v, m] = x.dims();
        let device = x.device();
        // (N, C, T, V, M) → (N, M, V, C, T) → (N·M, V·C, T): data-BN per (joint, coordinate).
        let x = x.permute([0, 4, 3, 1, 2]).reshape([n * m, v * c, t]);
        let x = batch_norm(self.norm, &self.data_bn, x);
        // → (N, M, V, C, T) → (N, M, C, T, V) → (N·M, C, T, V).
        let mut x = x
            .reshape([n, m, v, c, t])
            .permute([0, 1, 3, 4, 2])
            .reshape([n * m, c, t, v]);
        let index = keep.map(|k| {
            Tensor::<1, Int>::from_data(
                TensorData::new(k.iter().map(|&j| j as i64).collect::<Vec<_>>(), [k.len()]),
                &device,
            )
        });
        if let Some(idx) = &index {
            x = x.select(3, idx.clone());
        }
        for (i, block) in self.st_gcn_networks.iter().enumerate() {
            let mut a = self.a.clone();
            if let Some(e) = self.edge_importance.get(i) {
                a = a * e.val();
            }
            if let Some(idx) = &index {
                a = a.select(1, idx.clone()).select(2, idx.clone());
            }
            x = block.forward(x, a);
        }
        x
    }

    /// `(N, 3, T, 25, M)` → `(N, hidden_dim)`: mean over (T', V'), then over persons (an
    /// absent second person, all zeros, is averaged in as PSTL does).
    pub fn forward(&self, x: Tensor<5>, keep: Option<&[usize]>) -> Tensor<2> {
        let [n, _, _, _, m] = x.dims();
        pool(self.forward_map(x, keep), n, m)
    }

    /// Trainable parameters, as PyTorch's `sum(p.numel() for p in model.parameters())`
    /// counts them (BatchNorm running statistics and `A` are buffers, not parameters).
    pub fn num_params(&self) -> usize {
        let mut running = running_stats(&self.data_bn);
        for b in &self.st_gcn_networks {
            running += running_stats(&b.tcn.bn_in) + running_stats(&b.tcn.bn_out);
            running += b.residual.as_ref().map_or(0, |r| running_stats(&r.bn));
        }
        // burn's count includes the BatchNorm running statistics.
        Module::num_params(self) - running
    }

    /// The same encoder with dropout off (for "train mode" inference: batch statistics
    /// without the randomness).
    pub fn without_dropout(mut self) -> Self {
        for b in &mut self.st_gcn_networks {
            b.tcn.dropout = DropoutConfig::new(0.0).init();
        }
        self
    }

    /// The same encoder evaluating its convolutions the other way, BatchNorm in the form
    /// that goes with it ([`NormImpl::Auto`]; call [`Self::with_norm`] after this for another).
    pub fn with_conv(mut self, conv: ConvImpl) -> Self {
        for b in &mut self.st_gcn_networks {
            b.conv = conv;
        }
        self.with_norm(NormImpl::Auto.resolve(conv))
    }

    /// The same encoder evaluating BatchNorm the other way (`auto` follows the blocks'
    /// convolution form).
    pub fn with_norm(mut self, norm: NormImpl) -> Self {
        let conv = self
            .st_gcn_networks
            .first()
            .map_or(ConvImpl::default(), |b| b.conv);
        let norm = norm.resolve(conv);
        self.norm = norm;
        for b in &mut self.st_gcn_networks {
            b.norm = norm;
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pstl_encoder_has_821380_parameters() {
        let e = StgcnEncoderConfig::pstl().init(&Device::flex());
        assert_eq!(e.num_params(), 821_380);
    }

    #[test]
    fn student_s5_has_181205_parameters_and_depths_build() {
        let device = Device::flex();
        let s5 = StgcnEncoderConfig::student_s5().init(&device);
        assert_eq!(s5.num_params(), 181_205);
        assert_eq!(s5.hidden_dim, 64);
        let x = Tensor::<5>::random(
            [2, 3, 50, 25, 2],
            burn::tensor::Distribution::Normal(0.0, 0.3),
            &device,
        );
        assert_eq!(s5.forward_map(x.clone(), None).dims(), [4, 64, 25, 25]);
        for depth in [1, 3, 7, 10] {
            let s = StgcnEncoderConfig::student(depth).init(&device);
            assert_eq!(s.st_gcn_networks.len(), depth);
            assert_eq!(s.forward(x.clone(), None).dims(), [2, 64]);
        }
    }

    #[test]
    fn temporal_lengths_and_output_shape() {
        let device = Device::flex();
        let e = StgcnEncoderConfig::pstl().init(&device);
        for (t, expected) in [(50, 13), (30, 8)] {
            let x = Tensor::<5>::random(
                [2, 3, t, 25, 2],
                burn::tensor::Distribution::Normal(0.0, 0.3),
                &device,
            );
            let map = e.forward_map(x.clone(), None);
            assert_eq!(map.dims(), [4, 256, expected, 25]);
            assert_eq!(e.forward(x, None).dims(), [2, 256]);
        }
        let lengths: Vec<usize> = e
            .st_gcn_networks
            .iter()
            .scan(50, |t, b| {
                let s = if b.residual.is_some() && b.out_channels != 256 {
                    2
                } else {
                    1
                };
                *t = (*t - 1) / s + 1;
                Some(*t)
            })
            .collect();
        assert_eq!(lengths[4], 25);
        assert_eq!(lengths[9], 13);
    }

    #[test]
    fn joint_removal_shrinks_the_map() {
        let device = Device::flex();
        let e = StgcnEncoderConfig::pstl().init(&device);
        let x = Tensor::<5>::random(
            [1, 3, 20, 25, 2],
            burn::tensor::Distribution::Normal(0.0, 0.3),
            &device,
        );
        let keep: Vec<usize> = (0..25).filter(|j| ![3, 7, 11].contains(j)).collect();
        assert_eq!(e.forward_map(x, Some(&keep)).dims(), [2, 256, 5, 22]);
    }
}
