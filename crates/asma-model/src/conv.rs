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
//!
//! [`ConvImpl::Shifted`] avoids the stacked copy: the padded input, split into `s` phases for
//! stride `s` (one phase, no copy, at stride 1), is viewed as `(N, C, T_phase·V)`, and tap `j`
//! reads the window that starts `⌊j/s⌋·V` values into phase `j mod s` — a slice of the last
//! axis, no copy. The convolution is then `k` batched products `(O, C) @ (C, T'·V)` summed
//! ([`conv_kx1_shifted`]), and its weight gradient `k` batched products of the output gradient
//! with the same windows.

use burn::nn::conv::Conv2d;
use burn::tensor::ops::PadMode;
use burn::tensor::Tensor;

pub use asma_arch::ConvImpl;

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

/// The same convolution as [`conv_kx1_matmul`] (`(N, C, T, V)` → `(N, O, T', V)`), as `k`
/// batched matmuls over shifted views of the padded input, summed: no stacked copy of the
/// input, and the weight gradient of each tap is a batched matmul.
pub fn conv_kx1_shifted(x: Tensor<4>, conv: &Conv2d, stride: usize, padding: usize) -> Tensor<4> {
    let w = conv.weight.val();
    let [o, c, k, _] = w.dims();
    let [n, _, t, v] = x.dims();
    let s = stride;
    let t_out = (t + 2 * padding - k) / s + 1;
    // Tap j = q·s + r reads padded frames (t' + q)·s + r for t' < T': frame t' + q of phase r
    // (the frames ≡ r mod s). Each phase needs T' + ⌈k/s⌉ − 1 frames, so the padded input is
    // cut or zero-extended to s times that (frames past the last window are never read).
    let phase_len = t_out + k.div_ceil(s) - 1;
    let padded = s * phase_len;
    let x = if padding > 0 || padded > t + padding {
        x.pad(
            [(padding, padded.saturating_sub(t + padding)), (0, 0)],
            PadMode::Constant(0.0),
        )
    } else {
        x
    };
    let x = if x.dims()[2] > padded {
        x.slice([0..n, 0..c, 0..padded, 0..v])
    } else {
        x
    };
    // Phase r as (N, C, phase_len·V): the padded input itself at stride 1 (a free reshape),
    // one strided copy per phase otherwise (s copies of 1/s of the input: one input in all).
    let phases: Vec<Tensor<3>> = if s == 1 {
        vec![x.reshape([n, c, padded * v])]
    } else {
        let grouped = x.reshape([n, c, phase_len, s * v]);
        (0..s.min(k))
            .map(|r| {
                grouped
                    .clone()
                    .slice([0..n, 0..c, 0..phase_len, r * v..(r + 1) * v])
                    .reshape([n, c, phase_len * v])
            })
            .collect()
    };
    let w = w.reshape([o, c, k]);
    let y = (0..k)
        .map(|j| {
            let (q, r) = (j / s, j % s);
            // A view: rows of phase r from frame q on, T'·V values each.
            let window = phases[r]
                .clone()
                .slice([0..n, 0..c, q * v..(q + t_out) * v]);
            let w_j = w.clone().slice([0..o, 0..c, j..j + 1]).reshape([1, o, c]);
            w_j.matmul(window)
        })
        .reduce(|acc, y| acc + y)
        .expect("a kernel has at least one tap");
    let y = match &conv.bias {
        Some(b) => y + b.val().reshape([1, o, 1]),
        None => y,
    };
    y.reshape([n, o, t_out, v])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::assert_close;
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
            for ours in [
                conv_kx1_matmul(x.clone(), &conv, s, p),
                conv_kx1_shifted(x.clone(), &conv, s, p),
            ] {
                assert_eq!(ours.dims(), direct.dims(), "k {k} s {s} T {t}");
                ours.into_data().assert_approx_eq::<f32>(
                    &direct.clone().into_data(),
                    Tolerance::absolute(1e-5),
                );
            }
        }
    }

    #[test]
    fn shifted_form_and_its_gradients_equal_burns_convolution() {
        // Every device the build has: this form exists for the GPUs.
        for (name, device) in crate::device::test_devices() {
            eprintln!("{name}");
            shifted_form_equals_burns_on(&device.autodiff());
        }
    }

    fn shifted_form_equals_burns_on(device: &Device) {
        let device = device.clone();
        // (in, out, k, stride, padding, T): the temporal unit at stride 1 and 2 on even, odd
        // and short lengths, an even kernel, stride 3, no padding, and the 1×1 convolutions.
        for (i, o, k, s, p, t) in [
            (4, 6, 9, 1, 4, 50),
            (4, 6, 9, 2, 4, 50),
            (4, 6, 9, 2, 4, 25),
            (4, 6, 9, 2, 4, 13),
            (3, 5, 9, 2, 4, 2),
            (4, 6, 4, 3, 1, 17),
            (4, 6, 3, 1, 0, 11),
            (3, 12, 1, 1, 0, 30),
            (4, 8, 1, 2, 0, 25),
        ] {
            let what = format!("k {k} s {s} p {p} T {t}");
            let conv = Conv2dConfig::new([i, o], [k, 1])
                .with_stride([s, 1])
                .with_padding(PaddingConfig2d::Explicit(p, 0, p, 0))
                .init(&device);
            let x = Tensor::<4>::random([3, i, t, 5], Distribution::Normal(0.0, 1.0), &device)
                .require_grad();
            let ours = conv_kx1_shifted(x.clone(), &conv, s, p);
            let theirs = conv.forward(x.clone());
            assert_eq!(ours.dims(), theirs.dims(), "{what}");
            assert_close(ours.clone(), theirs.clone(), 1e-5, &what);
            let dy = Tensor::<4>::random(theirs.dims(), Distribution::Normal(0.0, 1.0), &device);
            let g_ours = (ours * dy.clone()).sum().backward();
            let g_theirs = (theirs * dy).sum().backward();
            let grad = |t: Tensor<4>, name: &str| {
                assert_close(
                    t.grad(&g_ours).unwrap(),
                    t.grad(&g_theirs).unwrap(),
                    1e-4,
                    &format!("{what}: {name}"),
                )
            };
            grad(x.clone(), "dx");
            grad(conv.weight.val(), "dw");
            let b = conv.bias.as_ref().unwrap().val();
            assert_close(
                b.grad(&g_ours).unwrap(),
                b.grad(&g_theirs).unwrap(),
                1e-4,
                &format!("{what}: db"),
            );
        }
    }
}
