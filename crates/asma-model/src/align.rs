//! The feature alignment module of ASMa (Anand et al., TMLR 2026, §3.4 "feature alignment"):
//! a bi-directional cross-attention between the block-10 token maps of f_θ and f_φ, as
//! specified in docs/METHOD.md §7.1 (our concrete design, the paper gives none):
//!
//! * tokens: each encoder's block-10 map averaged over persons, `L = T'·V` tokens of 256;
//! * θ←φ: `H_θ = X_θ + softmax(Q Kᵀ/√d) V` with `Q = X_θ W_q`, `K, V = X_φ W_{k,v}`;
//!   φ←θ symmetric with its own maps; single head, residual, no output projection;
//! * pooling: the mean over tokens of `H_θ` and `H_φ`, concatenated to `2d`.
//!
//! Parameter names: `theta.{q,k,v}` are the maps of the θ←φ direction (queries from θ),
//! `phi.{q,k,v}` those of φ←θ; the PyTorch mirror in `tools/reference/asma_reference.py`
//! uses the same names.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor};

/// One direction of the cross-attention: queries from one encoder, keys and values from the
/// other.
#[derive(Module, Debug)]
pub struct CrossAttention {
    pub q: Linear,
    pub k: Linear,
    pub v: Linear,
}

impl CrossAttention {
    /// PyTorch's default `nn.Linear` initialisation (burn's `LinearConfig` default matches it:
    /// Kaiming-uniform with a = √5 for the weight, U(±1/√fan_in) for the bias).
    pub fn new(dim: usize, device: &Device) -> Self {
        let lin = || LinearConfig::new(dim, dim).init(device);
        CrossAttention {
            q: lin(),
            k: lin(),
            v: lin(),
        }
    }

    /// `query (N, L, d)`, `context (N, L', d)` → `(N, L, d)`: `query + softmax(QKᵀ/√d)·V`.
    pub fn forward(&self, query: Tensor<3>, context: Tensor<3>) -> Tensor<3> {
        let [_, _, d] = query.dims();
        let q = self.q.forward(query.clone());
        let k = self.k.forward(context.clone());
        let v = self.v.forward(context);
        let scores = q.matmul(k.swap_dims(1, 2)) / (d as f64).sqrt();
        query + softmax(scores, 2).matmul(v)
    }
}

/// Both directions of the alignment.
#[derive(Module, Debug)]
pub struct FeatureAlignment {
    /// θ←φ: refines f_θ's tokens with f_φ's.
    pub theta: CrossAttention,
    /// φ←θ.
    pub phi: CrossAttention,
}

impl FeatureAlignment {
    pub fn new(dim: usize, device: &Device) -> Self {
        FeatureAlignment {
            theta: CrossAttention::new(dim, device),
            phi: CrossAttention::new(dim, device),
        }
    }

    /// Token sequences `(N, L, d)` of both encoders → `(N, 2d)`: `[mean_L H_θ, mean_L H_φ]`.
    pub fn forward(&self, x_theta: Tensor<3>, x_phi: Tensor<3>) -> Tensor<2> {
        let h_theta = self.theta.forward(x_theta.clone(), x_phi.clone());
        let h_phi = self.phi.forward(x_phi, x_theta);
        let pool = |h: Tensor<3>| {
            let [n, _, d] = h.dims();
            h.mean_dim(1).reshape([n, d])
        };
        Tensor::cat(vec![pool(h_theta), pool(h_phi)], 1)
    }
}

/// Block-10 map `(N·M, d, T', V)` → tokens `(N, T'·V, d)`, averaged over the `M` persons.
pub fn tokens(map: Tensor<4>, persons: usize) -> Tensor<3> {
    let [nm, d, t, v] = map.dims();
    let n = nm / persons;
    map.reshape([n, persons, d, t * v])
        .mean_dim(1)
        .reshape([n, d, t * v])
        .swap_dims(1, 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_count_is_six_linear_maps() {
        let device = Device::flex();
        let a = FeatureAlignment::new(256, &device);
        // docs/METHOD.md §7.1: 6 × (256·256 + 256) = 394,752 per stream.
        assert_eq!(a.num_params(), 394_752);
    }

    #[test]
    fn attention_rows_sum_to_one_so_equal_values_pass_through() {
        // With identical context tokens, softmax·V is V's row for every query: the output is
        // query + v(context_token), whatever the scores.
        let device = Device::flex();
        let att = CrossAttention::new(4, &device);
        let q = Tensor::<3>::random([2, 3, 4], burn::tensor::Distribution::Default, &device);
        let row = Tensor::<3>::random([2, 1, 4], burn::tensor::Distribution::Default, &device);
        let ctx = row.clone().repeat_dim(1, 5);
        let out = att.forward(q.clone(), ctx);
        let expected = q + att.v.forward(row).repeat_dim(1, 3);
        out.into_data()
            .assert_approx_eq::<f32>(&expected.into_data(), burn::tensor::Tolerance::default());
    }

    #[test]
    fn tokens_average_persons() {
        let device = Device::flex();
        let map = Tensor::<4>::random([4, 3, 2, 5], burn::tensor::Distribution::Default, &device);
        let tok = tokens(map.clone(), 2);
        assert_eq!(tok.dims(), [2, 10, 3]);
        let first = map
            .narrow(0, 0, 2)
            .mean_dim(0)
            .reshape([3, 10])
            .swap_dims(0, 1);
        tok.narrow(0, 0, 1)
            .reshape([10, 3])
            .into_data()
            .assert_approx_eq::<f32>(&first.into_data(), burn::tensor::Tolerance::default());
    }
}
