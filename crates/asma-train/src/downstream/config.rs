//! The configuration of `asma linear` and `asma finetune` (docs/METHOD.md §7.2–7.4): one TOML file
//! per experiment, every field with a default, unknown keys rejected; written to the run
//! directory as `config.json` (with the protocol and the learning rate it used).

use std::path::PathBuf;

use asma_model::burn::optim::decay::WeightDecayConfig;
use asma_model::burn::optim::AdamConfig;
use asma_model::classifier::{ClassifierConfig, Fusion};
use asma_model::StgcnEncoderConfig;
use serde::{Deserialize, Serialize};

use crate::bn_stats::BnStatistics;
use crate::config::{DataConfig, RunConfig};

/// Which parameters train.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// Encoders frozen in eval mode; alignment + head train (§7.2).
    #[default]
    Linear,
    /// Everything trains, encoders in train mode (§7.3).
    Finetune,
}

impl Protocol {
    /// PSTL's learning rate of the protocol (Adam): 0.01 linear, 5e-3 fine-tune.
    pub fn default_lr(self) -> f64 {
        match self {
            Protocol::Linear => 0.01,
            Protocol::Finetune => 5e-3,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Protocol::Linear => "linear",
            Protocol::Finetune => "finetune",
        }
    }
}

/// `asma linear` / `asma finetune`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DownstreamConfig {
    /// Set by the command (`asma linear` / `asma finetune`).
    pub protocol: Protocol,
    pub data: DataConfig,
    /// Labelled share of the training split, stratified per class (1.0 = all; 0.01 and 0.1
    /// are the semi-supervised settings).
    pub label_fraction: f64,
    pub model: HeadConfig,
    pub init: InitConfig,
    pub optim: DownstreamOptim,
    pub run: RunConfig,
}

/// The classifier's shape (the class count is `data.num_classes`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HeadConfig {
    pub encoder: StgcnEncoderConfig,
    pub fusion: Fusion,
}

/// Where the encoders come from.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InitConfig {
    /// A pre-training run directory (its `encoder_theta/phi.safetensors`) or a classifier run
    /// directory (its `classifier.safetensors`; the head is re-initialised, so another class
    /// count is fine: transfer). Unset: random encoders (the random-init baseline).
    pub from: Option<PathBuf>,
    /// Accept encoders pre-trained on another stream (normally an error).
    pub allow_other_stream: bool,
    /// `estimate`: replace the encoders' BatchNorm statistics with those of the training
    /// split before training (train-mode passes, no gradient step). With `from` unset this is
    /// the fair random baseline; `keep` (the default) leaves them as initialised or loaded.
    pub bn_statistics: BnStatistics,
}

/// Optimisation (Adam, cosine over `epochs` stepped per epoch, no warm-up).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DownstreamOptim {
    /// Unset: the protocol's default ([`Protocol::default_lr`]).
    pub lr: Option<f64>,
    pub weight_decay: f64,
    pub epochs: usize,
    pub batch_size: usize,
    /// Evaluate the test split every this many epochs (and after the last).
    pub eval_every: usize,
    /// Linear evaluation keeps the frozen encoders' outputs in memory when they fit in this
    /// many MB (computed once), else recomputes them every epoch.
    pub cache_mb: usize,
    /// Adam's ε (PyTorch's default 1e-8; burn's own default would be 1e-5).
    pub eps: f64,
}

impl Default for DownstreamOptim {
    fn default() -> Self {
        DownstreamOptim {
            lr: None,
            weight_decay: 0.0,
            epochs: 150,
            batch_size: 128,
            eval_every: 1,
            cache_mb: 4096,
            eps: 1e-8,
        }
    }
}

impl DownstreamOptim {
    /// Adam (PyTorch's β and ε) with PyTorch's L2 weight decay when `weight_decay > 0` (none
    /// by default, as PSTL).
    pub fn adam(&self) -> AdamConfig {
        AdamConfig::new()
            .with_epsilon(self.eps as f32)
            .with_weight_decay(
                (self.weight_decay > 0.0).then(|| WeightDecayConfig::new(self.weight_decay as f32)),
            )
    }
}

impl DownstreamConfig {
    /// The classifier this config builds.
    pub fn classifier(&self) -> ClassifierConfig {
        ClassifierConfig {
            encoder: self.model.encoder.clone(),
            fusion: self.model.fusion,
            num_classes: self.data.num_classes,
        }
    }

    /// The learning rate in use.
    pub fn lr(&self) -> f64 {
        self.optim.lr.unwrap_or(self.protocol.default_lr())
    }
}

impl Default for DownstreamConfig {
    fn default() -> Self {
        DownstreamConfig {
            protocol: Protocol::Linear,
            data: DataConfig::default(),
            label_fraction: 1.0,
            model: HeadConfig::default(),
            init: InitConfig::default(),
            optim: DownstreamOptim::default(),
            run: RunConfig::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_pstl_and_unknown_keys_fail() {
        let mut c = DownstreamConfig::default();
        assert_eq!(
            (c.lr(), c.optim.epochs, c.optim.batch_size),
            (0.01, 150, 128)
        );
        c.protocol = Protocol::Finetune;
        assert_eq!(c.lr(), 5e-3);
        assert_eq!(c.classifier().num_classes, 60);
        let e = serde_json::from_str::<DownstreamConfig>(r#"{"optim": {"epoch": 3}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("epoch"), "{e}");
        let back: DownstreamConfig =
            serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
    }
}
