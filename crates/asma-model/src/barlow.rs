//! Barlow Twins (Zbontar et al., ICML 2021) as PSTL uses it (docs/METHOD.md §6.1): a three-layer
//! projector and the redundancy-reduction loss on per-batch standardised embeddings.
//!
//! Parameter paths `lin0`, `bn1`, `lin3`, `bn4`, `lin6` are PyTorch's `nn.Sequential`
//! indices 0, 1, 3, 4, 6 (ReLUs at 2 and 5 hold no weights); [`crate::weights`] maps them.

use burn::module::Module;
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

/// Projector sizes and the loss weight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BarlowTwinsConfig {
    /// Encoder feature size (input of the projector).
    pub in_dim: usize,
    /// Output sizes of the three linear layers.
    pub dims: [usize; 3],
    /// Weight of the off-diagonal term.
    pub lambda: f64,
    /// BatchNorm epsilon of the standardisation.
    pub epsilon: f64,
}

impl Default for BarlowTwinsConfig {
    fn default() -> Self {
        BarlowTwinsConfig {
            in_dim: 256,
            dims: [6144, 6144, 6144],
            lambda: 2e-4,
            epsilon: 1e-5,
        }
    }
}

impl BarlowTwinsConfig {
    /// Builds the projector.
    pub fn init(&self, device: &Device) -> BarlowTwinsHead {
        let [a, b, c] = self.dims;
        let lin = |i, o| LinearConfig::new(i, o).with_bias(false).init(device);
        BarlowTwinsHead {
            lin0: lin(self.in_dim, a),
            bn1: BatchNormConfig::new(a).init(device),
            lin3: lin(a, b),
            bn4: BatchNormConfig::new(b).init(device),
            lin6: lin(b, c),
            lambda: self.lambda,
            epsilon: self.epsilon,
        }
    }
}

/// Linear → BN → ReLU → Linear → BN → ReLU → Linear, no biases.
#[derive(Module, Debug)]
pub struct BarlowTwinsHead {
    pub lin0: Linear,
    pub bn1: BatchNorm,
    pub lin3: Linear,
    pub bn4: BatchNorm,
    pub lin6: Linear,
    pub lambda: f64,
    pub epsilon: f64,
}

impl BarlowTwinsHead {
    /// `(N, in_dim)` → `(N, dims[2])`.
    pub fn forward(&self, h: Tensor<2>) -> Tensor<2> {
        let x = relu(self.bn1.forward(self.lin0.forward(h)));
        let x = relu(self.bn4.forward(self.lin3.forward(x)));
        self.lin6.forward(x)
    }

    /// Trainable parameters (burn's count includes the BatchNorm running statistics).
    pub fn num_params(&self) -> usize {
        Module::num_params(self)
            - crate::stgcn::running_stats(&self.bn1)
            - crate::stgcn::running_stats(&self.bn4)
    }

    /// The loss between the projections of two views of the same batch.
    pub fn loss(&self, z1: Tensor<2>, z2: Tensor<2>) -> Tensor<1> {
        barlow_twins_loss(z1, z2, self.lambda, self.epsilon)
    }

    /// The loss's terms apart ([`BarlowTerms::loss`] with `self.lambda` is [`Self::loss`]).
    pub fn terms(&self, z1: Tensor<2>, z2: Tensor<2>) -> BarlowTerms {
        barlow_twins_terms(z1, z2, self.epsilon)
    }
}

/// `(x − mean) / sqrt(var + eps)` per column with the batch's biased variance: BatchNorm1d
/// without affine parameters, in training mode.
fn standardise(z: Tensor<2>, epsilon: f64) -> Tensor<2> {
    let mean = z.clone().mean_dim(0);
    let centred = z - mean;
    let var = centred.clone().powi_scalar(2).mean_dim(0);
    centred / (var + epsilon).sqrt()
}

/// The two terms of Barlow Twins' loss apart, and the cross-correlation's mean diagonal:
/// the diagnostics that tell learning from collapse (a mean diagonal near 1 with a large
/// off-diagonal term is two views agreeing through a few redundant dimensions).
/// One-element tensors, still attached to the graph.
pub struct BarlowTerms {
    /// `Σ_i (C_ii − 1)²`.
    pub on_diagonal: Tensor<1>,
    /// `Σ_{i≠j} C_ij²` (unweighted).
    pub off_diagonal: Tensor<1>,
    /// `Σ_i C_ii / D`.
    pub mean_diagonal: Tensor<1>,
}

impl BarlowTerms {
    /// `on + λ·off`, the loss.
    pub fn loss(&self, lambda: f64) -> Tensor<1> {
        self.on_diagonal.clone() + self.off_diagonal.clone() * lambda
    }
}

/// The terms of [`barlow_twins_loss`] for `z1`, `z2` `(N, D)`, with `C = ẑ₁ᵀ ẑ₂ / N`.
pub fn barlow_twins_terms(z1: Tensor<2>, z2: Tensor<2>, epsilon: f64) -> BarlowTerms {
    let [n, d] = z1.dims();
    let c = standardise(z1, epsilon)
        .transpose()
        .matmul(standardise(z2, epsilon))
        / n as f64;
    let diag = c
        .clone()
        .mul(Tensor::eye(d, &c.device()))
        .sum_dim(1)
        .reshape([d]);
    BarlowTerms {
        on_diagonal: (diag.clone() - 1.0).powi_scalar(2).sum(),
        off_diagonal: c.powi_scalar(2).sum() - diag.clone().powi_scalar(2).sum(),
        mean_diagonal: diag.mean(),
    }
}

/// `Σ_i (C_ii − 1)² + λ Σ_{i≠j} C_ij²` with `C = ẑ₁ᵀ ẑ₂ / N` (docs/METHOD.md §6.1). Returns a
/// one-element tensor. `z1`, `z2`: `(N, D)`.
pub fn barlow_twins_loss(z1: Tensor<2>, z2: Tensor<2>, lambda: f64, epsilon: f64) -> Tensor<1> {
    barlow_twins_terms(z1, z2, epsilon).loss(lambda)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    #[test]
    fn pstl_projector_has_77094912_parameters() {
        let h = BarlowTwinsConfig::default().init(&Device::flex());
        // Three weight matrices and two affine BatchNorms (docs/METHOD.md §10).
        assert_eq!(h.num_params(), 77_094_912);
    }

    #[test]
    fn small_projector_shapes() {
        let h = BarlowTwinsConfig {
            dims: [32, 32, 16],
            ..Default::default()
        }
        .init(&Device::flex());
        let z = h.forward(Tensor::<2>::zeros([4, 256], &Device::flex()));
        assert_eq!(z.dims(), [4, 16]);
    }

    #[test]
    fn identical_standardised_views_cost_only_their_off_diagonal() {
        let device = Device::flex();
        let z = Tensor::<2>::random([64, 8], Distribution::Normal(0.0, 1.0), &device);
        let with = barlow_twins_loss(z.clone(), z.clone(), 1.0, 0.0).into_scalar::<f32>();
        let without = barlow_twins_loss(z.clone(), z, 0.0, 0.0).into_scalar::<f32>();
        // C is the correlation matrix: its diagonal is 1, so only the off-diagonal term remains.
        assert!(without.abs() < 1e-4, "{without}");
        assert!(with > without);
    }

    #[test]
    fn terms_add_up_to_the_loss_and_show_a_perfect_match() {
        let device = Device::flex();
        let z1 = Tensor::<2>::random([32, 6], Distribution::Normal(0.0, 1.0), &device);
        let z2 = Tensor::<2>::random([32, 6], Distribution::Normal(0.0, 1.0), &device);
        let t = barlow_twins_terms(z1.clone(), z2.clone(), 1e-5);
        let loss = barlow_twins_loss(z1.clone(), z2, 0.3, 1e-5).into_scalar::<f32>();
        let on = t.on_diagonal.clone().into_scalar::<f32>();
        let off = t.off_diagonal.clone().into_scalar::<f32>();
        assert!((on + 0.3 * off - loss).abs() < 1e-4 * loss.abs().max(1.0));
        // Independent views: the diagonal is near 0; identical ones: exactly 1.
        assert!(t.mean_diagonal.into_scalar::<f32>().abs() < 0.3);
        let same = barlow_twins_terms(z1.clone(), z1, 0.0);
        assert!((same.mean_diagonal.into_scalar::<f32>() - 1.0).abs() < 1e-5);
        assert!(same.on_diagonal.into_scalar::<f32>() < 1e-8);
    }
}
