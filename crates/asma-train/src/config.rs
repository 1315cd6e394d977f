//! The pre-training configuration: one TOML file per experiment (`configs/`), every field
//! with a default, unknown keys rejected. The whole config is written to the run directory
//! as `config.json` before step 1.

use std::path::PathBuf;

use asma_data::augment::{pstl_pretrain, Transform};
use asma_data::mask::{FrameMask, JointMask, MaskConfig};
use asma_data::stream::Stream;
use asma_model::asma::AsmaModelConfig;
use asma_model::burn::tensor::Device;
use asma_skeleton::ClassNames;
use serde::{Deserialize, Serialize};

use crate::error::TrainError;
use crate::schedule::WarmupCosine;

/// `asma pretrain`'s configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PretrainConfig {
    pub data: DataConfig,
    pub model: AsmaModelConfig,
    pub masking: MaskingConfig,
    /// Augmentations of every view, in order, one draw per batch and view (PSTL).
    pub augment: Vec<Transform>,
    pub optim: OptimConfig,
    pub knn: KnnConfig,
    pub run: RunConfig,
}

impl Default for PretrainConfig {
    fn default() -> Self {
        PretrainConfig {
            data: DataConfig::default(),
            model: AsmaModelConfig::default(),
            masking: MaskingConfig::default(),
            augment: pstl_pretrain(),
            optim: OptimConfig::default(),
            knn: KnnConfig::default(),
            run: RunConfig::default(),
        }
    }
}

/// Where the data is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataConfig {
    /// A prepared split folder (`train_position.npy`, `train_label.pkl`, `val_…`).
    pub dir: PathBuf,
    /// One stream per run.
    pub stream: Stream,
    /// Class count of the dataset (for the k-NN monitor's checks).
    pub num_classes: usize,
    /// The classes' names, for a dataset of one's own: a list (`classes = ["wave", …]`) or a
    /// text file of one name per line (`classes = "classes.txt"`). Unset: NTU-60, NTU-120 or
    /// PKU-MMD's names for 60, 120 or 51 classes, ids alone otherwise. A classifier run
    /// saves the names it used as `classes.json`, which `asma infer` prints.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub classes: Option<ClassList>,
}

/// `data.classes`: the names themselves or a file of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ClassList {
    Names(Vec<String>),
    File(PathBuf),
}

impl DataConfig {
    /// The class names this configuration gives (checked against `num_classes`), if any.
    pub fn class_names(&self) -> Result<Option<ClassNames>, TrainError> {
        let names = match &self.classes {
            Some(ClassList::Names(v)) => Some(ClassNames::new(
                v.clone(),
                self.num_classes,
                "data.classes",
            )?),
            Some(ClassList::File(path)) => Some(ClassNames::read(path, self.num_classes)?),
            None => ClassNames::guess(self.num_classes),
        };
        Ok(names)
    }
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig {
            dir: PathBuf::from("data/ntu60/xsub"),
            stream: Stream::Joint,
            num_classes: 60,
            classes: None,
        }
    }
}

/// The joint and frame operator of one encoder.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BranchMasks {
    pub joint: JointMask,
    pub frame: FrameMask,
}

/// ASMa's asymmetric pair by default; PSTL and the ablation grid are other values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MaskingConfig {
    /// f_θ: low-degree joints + high-motion frames.
    pub theta: BranchMasks,
    /// f_φ: high-degree joints + low-motion frames.
    pub phi: BranchMasks,
    /// Sizes: joints drawn, frames dropped by rank, frames kept.
    pub sizes: MaskConfig,
}

impl Default for MaskingConfig {
    fn default() -> Self {
        MaskingConfig {
            theta: BranchMasks {
                joint: JointMask::Low,
                frame: FrameMask::High,
            },
            phi: BranchMasks {
                joint: JointMask::High,
                frame: FrameMask::Low,
            },
            sizes: MaskConfig::default(),
        }
    }
}

/// Adam with classic L2 weight decay, warm-up + cosine (METHOD.md §6.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OptimConfig {
    pub lr: f64,
    pub weight_decay: f64,
    pub warmup_epochs: usize,
    pub epochs: usize,
    pub batch_size: usize,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
}

impl Default for OptimConfig {
    fn default() -> Self {
        OptimConfig {
            lr: 5e-3,
            weight_decay: 1e-5,
            warmup_epochs: 10,
            epochs: 150,
            batch_size: 128,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }
}

impl OptimConfig {
    /// The schedule.
    pub fn schedule(&self) -> WarmupCosine {
        WarmupCosine {
            base_lr: self.lr,
            warmup_epochs: self.warmup_epochs,
            epochs: self.epochs,
        }
    }
}

/// The k-NN monitor: top-1 of a k-NN classifier on frozen features (train → val).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KnnConfig {
    /// Every how many epochs (0: never; the last epoch is always measured when non-zero).
    pub every: usize,
    pub k: usize,
    /// Batch size of feature extraction.
    pub batch_size: usize,
    /// Also measure the randomly initialised encoders before step 1 (the baseline).
    pub at_start: bool,
    /// Also measure the pre-trained encoders with BatchNorm statistics re-estimated on the
    /// un-augmented training split, as the fair baseline's are (`"recalibrated"` in
    /// `metrics.jsonl`). The paper's protocol keeps the statistics of pre-training, which
    /// come from augmented, masked views; this separates what the weights learned from how
    /// far those statistics sit from clean data. Costs one training-mode pass per k-NN.
    pub recalibrate: bool,
}

impl Default for KnnConfig {
    fn default() -> Self {
        KnnConfig {
            every: 10,
            k: 20,
            batch_size: 256,
            at_start: true,
            recalibrate: false,
        }
    }
}

/// The run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunConfig {
    /// The run directory.
    pub dir: PathBuf,
    pub seed: u64,
    /// `cpu` (burn flex) or `gpu` (burn wgpu, with the `vulkan` feature).
    pub device: String,
    /// Data-parallel training (pretrain, finetune, distill) over these devices, e.g.
    /// `["cuda:0", "cuda:1"]`; the first is the main device (parameters, optimiser state,
    /// evaluation). Empty: `device` alone. `"cpu"` may repeat (replicas on the one CPU
    /// device, which is how the tests check the gradient averaging); see [`crate::parallel`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<String>,
    /// Batches built ahead by the loader.
    pub prefetch: usize,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            dir: PathBuf::from("runs/pretrain"),
            seed: 1,
            device: "cpu".into(),
            devices: Vec::new(),
            prefetch: 2,
        }
    }
}

impl RunConfig {
    /// The device names in use: `devices`, or `[device]` when it is empty.
    pub fn device_names(&self) -> Vec<String> {
        match self.devices.is_empty() {
            true => vec![self.device.clone()],
            false => self.devices.clone(),
        }
    }

    /// The training devices (plain, not autodiff), main device first, checked: every name
    /// selectable, no device twice except the CPU, at least one sample per device in a batch
    /// of `batch_size`.
    pub fn resolve_devices(&self, batch_size: usize) -> Result<Vec<Device>, TrainError> {
        let names = self.device_names();
        let mut devices: Vec<Device> = Vec::with_capacity(names.len());
        for name in &names {
            let d = asma_model::device::select(name).map_err(TrainError::Model)?;
            if devices.contains(&d) && d != Device::flex() {
                return Err(TrainError::Config(format!(
                    "run.devices: '{name}' is listed twice (only cpu may repeat)"
                )));
            }
            devices.push(d);
        }
        if batch_size < devices.len() {
            return Err(TrainError::Config(format!(
                "run.devices: {} devices need optim.batch_size ≥ {} (got {batch_size})",
                devices.len(),
                devices.len()
            )));
        }
        Ok(devices)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_paper_values() {
        let c = PretrainConfig::default();
        assert_eq!(
            (
                c.optim.lr,
                c.optim.weight_decay,
                c.optim.warmup_epochs,
                c.optim.epochs,
                c.optim.batch_size
            ),
            (5e-3, 1e-5, 10, 150, 128)
        );
        assert_eq!(
            c.masking.theta,
            BranchMasks {
                joint: JointMask::Low,
                frame: FrameMask::High
            }
        );
        assert_eq!(
            c.masking.phi,
            BranchMasks {
                joint: JointMask::High,
                frame: FrameMask::Low
            }
        );
        assert_eq!(c.model.projector.dims, [6144, 6144, 6144]);
        assert_eq!(c.augment.len(), 4);
    }

    #[test]
    fn json_roundtrip_and_unknown_keys() {
        let c = PretrainConfig::default();
        let back: PretrainConfig =
            serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
        let e = serde_json::from_str::<PretrainConfig>(r#"{"optim": {"lr": 0.1, "lrr": 2}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("lrr"), "{e}");
    }

    #[test]
    fn device_lists_resolve_or_fail_naming_the_problem() {
        let mut r = RunConfig::default();
        assert_eq!(r.device_names(), ["cpu"]);
        assert_eq!(r.resolve_devices(1).unwrap().len(), 1);
        r.devices = vec!["cpu".into(), "cpu".into()];
        assert_eq!(r.resolve_devices(2).unwrap().len(), 2);
        let e = r.resolve_devices(1).unwrap_err().to_string();
        assert!(e.contains("batch_size ≥ 2"), "{e}");
        r.devices = vec!["cpu".into(), "tpu:3".into()];
        let e = r.resolve_devices(8).unwrap_err().to_string();
        assert!(e.contains("tpu:3"), "{e}");
        // Not written when unset, so older runs' config.json files are unchanged.
        let json = serde_json::to_string(&RunConfig::default()).unwrap();
        assert!(!json.contains("devices"), "{json}");
    }
}
