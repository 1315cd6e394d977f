//! The ASMa classifier of the downstream protocols (docs/METHOD.md §7): both encoders f_θ and f_φ,
//! the feature alignment module ([`crate::align`]) or, for the ablation, simple averaging,
//! and a linear head.
//!
//! * cross-attention: block-10 tokens of both encoders → alignment → `(N, 512)` → Linear;
//! * averaging: `½(h̄_θ + h̄_φ)` of the pooled 256-d features → Linear(256 → C).
//!
//! The head (alignment + linear) is its own module, [`ClassifierHead`], so linear evaluation
//! trains it alone on encodings computed once ([`Encoded`]), while fine-tuning trains the
//! whole [`AsmaClassifier`]. Parameter names: `encoder_theta.*`, `encoder_phi.*` (the
//! encoder's PSTL names), `head.align.{theta,phi}.{q,k,v}.*`, `head.fc.*`.

use burn::module::{Module, Param};
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::align::{tokens, FeatureAlignment};
use crate::stgcn::{StgcnEncoder, StgcnEncoderConfig, StgcnEncoderInit};

pub use asma_arch::Fusion;

/// The classifier's shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClassifierConfig {
    pub encoder: StgcnEncoderConfig,
    pub fusion: Fusion,
    pub num_classes: usize,
}

impl Default for ClassifierConfig {
    fn default() -> Self {
        ClassifierConfig {
            encoder: StgcnEncoderConfig::pstl(),
            fusion: Fusion::CrossAttention,
            num_classes: 60,
        }
    }
}

impl ClassifierConfig {
    /// Size of the feature the linear head reads.
    pub fn feature_dim(&self) -> usize {
        match self.fusion {
            Fusion::CrossAttention => 2 * self.encoder.hidden_dim,
            Fusion::Average => self.encoder.hidden_dim,
        }
    }

    /// A fresh head: attention maps with PyTorch's defaults, the linear layer as PSTL's
    /// classifier (Xavier-normal weight, zero bias).
    pub fn init_head(&self, device: &Device) -> ClassifierHead {
        let align = match self.fusion {
            Fusion::CrossAttention => Some(FeatureAlignment::new(self.encoder.hidden_dim, device)),
            Fusion::Average => None,
        };
        let mut fc = LinearConfig::new(self.feature_dim(), self.num_classes)
            .with_initializer(Initializer::XavierNormal { gain: 1.0 })
            .init(device);
        fc.bias = Some(Param::from_tensor(Tensor::zeros(
            [self.num_classes],
            device,
        )));
        ClassifierHead { align, fc }
    }

    /// A fresh classifier (encoders randomly initialised).
    pub fn init(&self, device: &Device) -> AsmaClassifier {
        AsmaClassifier {
            encoder_theta: self.encoder.init(device),
            encoder_phi: self.encoder.init(device),
            head: self.init_head(device),
        }
    }
}

/// What the head reads from the two encoders for a batch.
#[derive(Debug, Clone)]
pub enum Encoded {
    /// Block-10 tokens `(N, L, d)` of f_θ and f_φ (cross-attention).
    Tokens { theta: Tensor<3>, phi: Tensor<3> },
    /// Pooled features `(N, d)` (averaging).
    Pooled { theta: Tensor<2>, phi: Tensor<2> },
}

/// `(N, 3, T, 25, M)` → what a head reads from f_θ and f_φ: block-10 tokens (for the
/// cross-attention) or pooled features (for averaging).
pub fn encode_pair(
    theta: &StgcnEncoder,
    phi: &StgcnEncoder,
    x: Tensor<5>,
    tokens_wanted: bool,
) -> Encoded {
    let m = x.dims()[4];
    if tokens_wanted {
        Encoded::Tokens {
            theta: tokens(theta.forward_map(x.clone(), None), m),
            phi: tokens(phi.forward_map(x, None), m),
        }
    } else {
        Encoded::Pooled {
            theta: theta.forward(x.clone(), None),
            phi: phi.forward(x, None),
        }
    }
}

/// Alignment (or averaging) and the linear layer.
#[derive(Module, Debug)]
pub struct ClassifierHead {
    pub align: Option<FeatureAlignment>,
    pub fc: Linear,
}

impl ClassifierHead {
    /// The feature the linear layer reads: `(N, 2d)` aligned or `(N, d)` averaged.
    pub fn features(&self, e: Encoded) -> Tensor<2> {
        match (e, &self.align) {
            (Encoded::Tokens { theta, phi }, Some(align)) => align.forward(theta, phi),
            (Encoded::Pooled { theta, phi }, None) => (theta + phi) / 2.0,
            _ => panic!(
                "the encoding does not fit the head (tokens ↔ cross-attention, pooled ↔ average)"
            ),
        }
    }

    /// `(N, C)` logits.
    pub fn forward(&self, e: Encoded) -> Tensor<2> {
        self.fc.forward(self.features(e))
    }

    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        self.fc.weight.dims()[1]
    }
}

/// Both encoders and the head.
#[derive(Module, Debug)]
pub struct AsmaClassifier {
    pub encoder_theta: StgcnEncoder,
    pub encoder_phi: StgcnEncoder,
    pub head: ClassifierHead,
}

impl AsmaClassifier {
    /// `(N, 3, T, 25, M)` → what the head reads (tokens when the head aligns, else pooled).
    pub fn encode(&self, x: Tensor<5>) -> Encoded {
        encode_pair(
            &self.encoder_theta,
            &self.encoder_phi,
            x,
            self.head.align.is_some(),
        )
    }

    /// `(N, 3, T, 25, M)` → `(N, C)` logits.
    pub fn forward(&self, x: Tensor<5>) -> Tensor<2> {
        self.head.forward(self.encode(x))
    }

    /// `(N, 3, T, 25, M)` → the `(N, F)` feature before the linear layer (t-SNE, distillation).
    pub fn features(&self, x: Tensor<5>) -> Tensor<2> {
        self.head.features(self.encode(x))
    }

    /// Trainable parameters, PyTorch's count (BatchNorm running statistics excluded).
    pub fn num_params(&self) -> usize {
        self.encoder_theta.num_params() + self.encoder_phi.num_params() + self.head.num_params()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_counts_per_stream() {
        let device = Device::flex();
        let cfg = ClassifierConfig::default();
        let m = cfg.init(&device);
        // 2 encoders + alignment (394,752) + Linear(512 → 60).
        assert_eq!(m.num_params(), 2 * 821_380 + 394_752 + 512 * 60 + 60);
        let avg = ClassifierConfig {
            fusion: Fusion::Average,
            num_classes: 120,
            ..cfg
        }
        .init_head(&device);
        assert_eq!(avg.num_params(), 256 * 120 + 120);
        assert_eq!(avg.num_classes(), 120);
    }

    #[test]
    fn forward_shapes_for_both_fusions() {
        let device = Device::flex();
        let x = Tensor::<5>::random(
            [2, 3, 20, 25, 2],
            burn::tensor::Distribution::Normal(0.0, 0.3),
            &device,
        );
        for fusion in [Fusion::CrossAttention, Fusion::Average] {
            let cfg = ClassifierConfig {
                fusion,
                num_classes: 7,
                ..Default::default()
            };
            let m = cfg.init(&device).valid();
            assert_eq!(m.forward(x.clone()).dims(), [2, 7]);
            assert_eq!(m.features(x.clone()).dims(), [2, cfg.feature_dim()]);
        }
    }
}
