//! The configuration of `asma quickstart` (`configs/quickstart.toml`): synthetic data →
//! ASMa pre-training of the joint stream → linear evaluation (the teacher) → distillation
//! (the S5 student). The stage templates are the ordinary run configurations; the command
//! fills in data folders, streams, run directories and `init.from`.

use std::path::PathBuf;

use asma_synth::SynthConfig;
use serde::{Deserialize, Serialize};

use crate::config::PretrainConfig;
use crate::downstream::distill::DistillConfig;
use crate::downstream::DownstreamConfig;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QuickstartConfig {
    /// Root of the data and the run directories.
    pub dir: PathBuf,
    pub synth: SynthConfig,
    pub pretrain: PretrainConfig,
    pub linear: DownstreamConfig,
    pub distill: DistillConfig,
}

impl Default for QuickstartConfig {
    fn default() -> Self {
        QuickstartConfig {
            dir: PathBuf::from("runs/quickstart"),
            synth: SynthConfig::default(),
            pretrain: PretrainConfig::default(),
            linear: DownstreamConfig::default(),
            distill: DistillConfig::default(),
        }
    }
}
