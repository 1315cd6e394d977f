//! Knowledge distillation (ASMa, Anand et al., TMLR 2026, §3.5; docs/METHOD.md §8): the student —
//! a shallow ST-GCN (S5: five blocks, 181,205 parameters) with a linear head, trained from
//! scratch — and the distillation loss `α·CE(s, y) + (1 − α)·τ²·KL(softmax(t/τ) ‖ softmax(s/τ))`.
//!
//! Parameter names: `encoder.*` (the ST-GCN names of [`crate::stgcn`]) and `fc.*`.

use burn::module::{Module, Param};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor};
use serde::{Deserialize, Serialize};

pub use asma_arch::StudentConfig;

use crate::stgcn::{StgcnEncoder, StgcnEncoderInit};

/// Building a student from its configuration (plain data in `asma-arch`).
pub trait StudentInit {
    /// A fresh student; the head initialised as PSTL's classifier (Xavier-normal, zero bias).
    fn init(&self, device: &Device) -> StudentClassifier;
}

impl StudentInit for StudentConfig {
    fn init(&self, device: &Device) -> StudentClassifier {
        let encoder = self.encoder_config().init(device);
        let mut fc = LinearConfig::new(encoder.hidden_dim, self.num_classes)
            .with_initializer(Initializer::XavierNormal { gain: 1.0 })
            .init(device);
        fc.bias = Some(Param::from_tensor(Tensor::zeros(
            [self.num_classes],
            device,
        )));
        StudentClassifier { encoder, fc }
    }
}

/// A student: encoder + linear head.
#[derive(Module, Debug)]
pub struct StudentClassifier {
    pub encoder: StgcnEncoder,
    pub fc: Linear,
}

impl StudentClassifier {
    /// `(N, 3, T, 25, M)` → `(N, C)` logits.
    pub fn forward(&self, x: Tensor<5>) -> Tensor<2> {
        self.fc.forward(self.encoder.forward(x, None))
    }

    /// `(N, 3, T, 25, M)` → `(N, d)` pooled features (t-SNE).
    pub fn features(&self, x: Tensor<5>) -> Tensor<2> {
        self.encoder.forward(x, None)
    }

    /// Trainable parameters (PyTorch's count), head included.
    pub fn num_params(&self) -> usize {
        self.encoder.num_params() + self.fc.num_params()
    }
}

/// Temperature and weight of the distillation loss.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KdConfig {
    /// τ (the paper's best: 8–9).
    pub tau: f64,
    /// α, the weight of the cross entropy with the labels.
    pub alpha: f64,
}

impl Default for KdConfig {
    fn default() -> Self {
        KdConfig {
            tau: 8.0,
            alpha: 0.5,
        }
    }
}

/// `α·CE(s, y) + (1 − α)·τ²·KL(softmax(t/τ) ‖ softmax(s/τ))`, the KL summed over classes and
/// averaged over the batch. `student`, `teacher`: `(N, C)` logits; `targets`: `(N)`.
pub fn kd_loss(
    student: Tensor<2>,
    teacher: Tensor<2>,
    targets: Tensor<1, Int>,
    kd: KdConfig,
) -> Tensor<1> {
    let [n, _] = student.dims();
    let ce = CrossEntropyLossConfig::new()
        .init(&student.device())
        .forward(student.clone(), targets);
    let log_s = log_softmax(student / kd.tau, 1);
    let log_t = log_softmax(teacher.detach() / kd.tau, 1);
    let kl = (log_t.clone().exp() * (log_t - log_s)).sum() / n as f64;
    ce * kd.alpha + kl * ((1.0 - kd.alpha) * kd.tau * kd.tau)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    #[test]
    fn kd_loss_by_hand() {
        let device = Device::flex();
        let s = Tensor::<2>::from_data([[2.0, 0.0], [0.0, 1.0]], &device);
        let t = Tensor::<2>::from_data([[1.0, 1.0], [0.0, 3.0]], &device);
        let y = Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 1], [2]), &device);
        let kd = KdConfig {
            tau: 2.0,
            alpha: 0.25,
        };
        let got: f32 = kd_loss(s, t, y, kd).into_scalar();
        // By hand, in f64.
        let softmax = |v: [f64; 2]| {
            let m = v[0].max(v[1]);
            let e = [(v[0] - m).exp(), (v[1] - m).exp()];
            [e[0] / (e[0] + e[1]), e[1] / (e[0] + e[1])]
        };
        let ce = (-softmax([2.0, 0.0])[0].ln() - softmax([0.0, 1.0])[1].ln()) / 2.0;
        let kl = |t: [f64; 2], s: [f64; 2]| {
            let (pt, ps) = (
                softmax([t[0] / 2.0, t[1] / 2.0]),
                softmax([s[0] / 2.0, s[1] / 2.0]),
            );
            pt[0] * (pt[0] / ps[0]).ln() + pt[1] * (pt[1] / ps[1]).ln()
        };
        let kl = (kl([1.0, 1.0], [2.0, 0.0]) + kl([0.0, 3.0], [0.0, 1.0])) / 2.0;
        let want = 0.25 * ce + 0.75 * 4.0 * kl;
        assert!((got as f64 - want).abs() < 1e-5, "{got} vs {want}");
    }

    #[test]
    fn s5_student_counts() {
        let device = Device::flex();
        let s = StudentConfig::default().init(&device);
        assert_eq!(s.encoder.num_params(), 181_205);
        assert_eq!(s.num_params(), 181_205 + 64 * 60 + 60);
        let d3 = StudentConfig {
            depth: 3,
            ..Default::default()
        }
        .init(&device);
        assert_eq!(d3.encoder.st_gcn_networks.len(), 3);
    }
}
