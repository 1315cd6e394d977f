//! BatchNorm in training mode with its statistics as two-stage sums, in burn's own tensor
//! operations (so every backend runs it, GPUs included), next to burn's `BatchNorm` and the
//! CPU host kernel of [`crate::host`].
//!
//! Why: burn 0.22's `batch_norm_train` reduces over a `(C, N·T·V)` view made by swapping the
//! batch and channel axes, which costs a full permuted copy of the activation per statistic
//! (and two more in its backward), and on CubeCL without `autotune` each reduction runs one
//! thread per channel (16 threads summing 320,000 values each at pre-training sizes; issue 12).
//! Here the input is reshaped for free to `(N, C, T·V)`, summed over the contiguous last axis
//! first (`N·C` outputs, many threads) and then over `N` (`C` outputs of `N` values each).
//! The gradients come from autodiff through these sums; the tests compare values, gradients
//! and running statistics with burn's `BatchNorm`.

use burn::nn::BatchNorm;
use burn::tensor::Tensor;

pub use asma_arch::NormImpl;

/// `bn` on `x (N, C, …)` in the form `norm` (`Auto` as `Burn`: resolve it first).
pub fn batch_norm<const D: usize>(norm: NormImpl, bn: &BatchNorm, x: Tensor<D>) -> Tensor<D> {
    match norm {
        NormImpl::Host => crate::host::batch_norm(bn, x),
        NormImpl::Sums => batch_norm_sums(bn, x),
        NormImpl::Auto | NormImpl::Burn => bn.forward(x),
    }
}

/// `bn` applied to `x (N, C, …)` as burn's `BatchNorm::forward` does — batch statistics
/// (biased variance) and the running statistics updated with `momentum` when `x` is tracked
/// by autodiff and `bn` is training, the running statistics otherwise — with the batch
/// statistics computed as two-stage sums over `(N, C, L)`, `L` the product of the trailing
/// axes.
pub fn batch_norm_sums<const D: usize>(bn: &BatchNorm, x: Tensor<D>) -> Tensor<D> {
    if !(x.device().is_autodiff() && bn.training.is_enabled()) {
        // Inference: burn's form is already one elementwise pass, no reduction.
        return bn.forward(x);
    }
    let dims = x.dims();
    let (n, c) = (dims[0], dims[1]);
    let l: usize = dims[2..].iter().product();
    let count = (n * l) as f64;
    // Free for a contiguous input: the trailing axes are adjacent in memory.
    let x = x.reshape([n, c, l]);
    // Stage one over the contiguous axis (N·C sums), stage two over the batch (C sums).
    let mean = x.clone().sum_dim(2).sum_dim(0).div_scalar(count);
    let centered = x - mean.clone();
    let var = centered
        .clone()
        .square()
        .sum_dim(2)
        .sum_dim(0)
        .div_scalar(count);
    let scale =
        var.clone().add_scalar(bn.epsilon).sqrt().recip() * bn.gamma.val().reshape([1, c, 1]);
    let y = centered * scale + bn.beta.val().reshape([1, c, 1]);

    update_running_statistics(bn, mean.reshape([c]), var.reshape([c]));
    y.reshape(dims)
}

/// Updates `bn`'s running statistics with a batch's `mean` and biased `var` (`(C)` each),
/// exactly as burn's `BatchNorm::forward_train` does.
pub(crate) fn update_running_statistics(bn: &BatchNorm, mean: Tensor<1>, var: Tensor<1>) {
    let device = mean.device();
    let momentum = bn.momentum;
    let running_mean = bn.running_mean.value_sync().to_device(&device);
    let running_var = bn.running_var.value_sync().to_device(&device);
    bn.running_mean.update(
        (running_mean.mul_scalar(1.0 - momentum) + mean.detach().mul_scalar(momentum)).detach(),
    );
    bn.running_var.update(
        (running_var.mul_scalar(1.0 - momentum) + var.detach().mul_scalar(momentum)).detach(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::assert_batch_norm_equals_burns;

    #[test]
    fn batch_norm_sums_values_gradients_and_running_statistics_equal_burns() {
        // Every device the build has: this form exists for the GPUs.
        for (name, device) in crate::device::test_devices() {
            eprintln!("{name}");
            assert_batch_norm_equals_burns(&device, [4, 3, 7, 5], batch_norm_sums);
            assert_batch_norm_equals_burns(&device, [6, 16, 50, 25], batch_norm_sums);
            assert_batch_norm_equals_burns(&device, [5, 75, 30], batch_norm_sums);
        }
    }
}
