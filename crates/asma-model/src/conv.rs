//! The encoder's convolutions written as matrix products, an alternative to burn's `Conv2d`
//! forward that uses the same parameters (so names, shapes and initialisation are unchanged).
//!
//! Every convolution of ST-GCN is `k×1` over time (`k = 9` in the temporal unit, `k = 1` for
//! the graph convolution's channel mixing and the residual): output channel `o` at frame `t`
//! is `Σ_c Σ_j W[o,c,j] · x[c, t·s + j − p]`. Stacking the `k` shifted (and strided) copies
//! of the input as channels gives one `(O, C·k) @ (C·k, T'·V)` product per sample. Its
//! gradient is two more products, where a direct convolution's weight gradient reduces over
//! `N·T'·V` in few threads — the reason to offer this form on GPUs (see BENCHMARKS.md). On the
//! CPU backend the default form, [`ConvImpl::Host`], runs the host kernels of [`crate::host`].

use burn::nn::conv::Conv2d;
use burn::tensor::ops::PadMode;
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// How the encoder evaluates its convolutions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConvImpl {
    /// The convolutions, the graph product and BatchNorm on the host kernels of
    /// [`crate::host`] on the CPU backend (forward and backward); on other backends as
    /// `Direct`.
    #[default]
    Host,
    /// burn's `Conv2d` for the temporal convolutions, matmuls for the 1×1 ones, burn's
    /// operations for everything else (the form before the host kernels).
    Direct,
    /// Shifted copies of the input stacked as channels, then one matmul ([`conv_kx1_matmul`]).
    Matmul,
}

impl std::str::FromStr for ConvImpl {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "host" => Ok(ConvImpl::Host),
            "direct" => Ok(ConvImpl::Direct),
            "matmul" => Ok(ConvImpl::Matmul),
            _ => Err(format!(
                "unknown convolution form '{s}' (host, direct or matmul)"
            )),
        }
    }
}

/// `(N, C, T, V)` → `(N, O, T', V)`, `T' = ⌊(T + 2p − k)/s⌋ + 1`: the `k×1` convolution of
/// `conv` (weight `(O, C, k, 1)`, bias `(O)`) with stride `s` and zero padding `p` over T.
pub fn conv_kx1_matmul(x: Tensor<4>, conv: &Conv2d, stride: usize, padding: usize) -> Tensor<4> {
    let w = conv.weight.val();
    let [o, c, k, _] = w.dims();
    let [n, _, t, v] = x.dims();
    let t_out = (t + 2 * padding - k) / stride + 1;
    // Every tap reads `t_out·s` frames from its offset; pad the end so they all fit (the
    // frames past the last output's window are never used).
    let needed = k - 1 + t_out * stride;
    let x = if padding > 0 || needed > t {
        x.pad(
            [(padding, needed - t - padding), (0, 0)],
            PadMode::Constant(0.0),
        )
    } else {
        x
    };
    if k == 1 && stride == 1 {
        // Channel mixing only: per sample, `(O, C) @ (C, T·V)`.
        let y = w.reshape([1, o, c]).matmul(x.reshape([n, c, t * v]));
        let y = match &conv.bias {
            Some(b) => y + b.val().reshape([1, o, 1]),
            None => y,
        };
        return y.reshape([n, o, t, v]);
    }
    let taps: Vec<Tensor<4>> = (0..k)
        .map(|j| {
            let window = x.clone().slice([0..n, 0..c, j..j + t_out * stride, 0..v]);
            if stride == 1 {
                window
            } else {
                // Frames t·s + j: group the window in runs of s frames and keep each run's first.
                window
                    .reshape([n, c, t_out, stride * v])
                    .slice([0..n, 0..c, 0..t_out, 0..v])
            }
        })
        .collect();
    // (N, C, k, T', V) → (N, C·k, T'·V): channel-major, then tap, as the weight's layout.
    // (Stacking channels-first for one (O, C·k) @ (C·k, N·T'·V) product measured slower on
    // the CPU backend: its permutes and slices cost more than the product saves.)
    let cols = Tensor::<4>::stack::<5>(taps, 2).reshape([n, c * k, t_out * v]);
    let y = w.reshape([1, o, c * k]).matmul(cols);
    let y = match &conv.bias {
        Some(b) => y + b.val().reshape([1, o, 1]),
        None => y,
    };
    y.reshape([n, o, t_out, v])
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::conv::Conv2dConfig;
    use burn::nn::PaddingConfig2d;
    use burn::tensor::{Device, Distribution, Tolerance};

    #[test]
    fn equals_burns_convolution_for_every_shape_the_encoder_uses() {
        let device = Device::flex();
        // (in, out, k, stride, T): the temporal unit at stride 1 and 2 on odd and even lengths,
        // the graph convolution's 1×1 and the strided 1×1 residual.
        for (i, o, k, s, t) in [
            (4, 6, 9, 1, 50),
            (4, 6, 9, 2, 50),
            (4, 6, 9, 2, 25),
            (4, 6, 9, 2, 13),
            (3, 12, 1, 1, 30),
            (4, 8, 1, 2, 25),
        ] {
            let p = (k - 1) / 2;
            let conv = Conv2dConfig::new([i, o], [k, 1])
                .with_stride([s, 1])
                .with_padding(PaddingConfig2d::Explicit(p, 0, p, 0))
                .init(&device);
            let x = Tensor::<4>::random([3, i, t, 5], Distribution::Normal(0.0, 1.0), &device);
            let direct = conv.forward(x.clone());
            let ours = conv_kx1_matmul(x, &conv, s, p);
            assert_eq!(ours.dims(), direct.dims(), "k {k} s {s} T {t}");
            ours.into_data()
                .assert_approx_eq::<f32>(&direct.into_data(), Tolerance::absolute(1e-5));
        }
    }
}
