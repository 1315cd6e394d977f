//! The pre-training configuration: one TOML file per experiment (`configs/`), every field
//! with a default, unknown keys rejected. The whole config is written to the run directory
//! as `config.json` before step 1.

use std::path::PathBuf;

use asma_data::pipeline::augment::{aimclr_extreme, pstl_pretrain, Transform};
use asma_data::pipeline::loader::SkeletonDataset;
use asma_data::pipeline::mask::{FrameMask, JointMask, MaskConfig};
use asma_data::pipeline::stream::Stream;
use asma_data::prepare::splits::Part;
use asma_model::asma::AsmaModelConfig;
use asma_model::burn::optim::decay::WeightDecayConfig;
use asma_model::burn::optim::momentum::MomentumConfig;
use asma_model::burn::optim::{AdamConfig, ModuleOptimizer, SgdConfig};
use asma_model::burn::tensor::Device;
use asma_model::crossclr::CrossclrConfig;
use asma_model::moco::MocoConfig;
use asma_model::ms2l::Ms2lConfig;
use asma_skeleton::ClassNames;
use serde::{Deserialize, Serialize};

use crate::error::TrainError;
use crate::schedule::{Schedule, StepDecay, WarmupCosine};

/// `asma pretrain`'s configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PretrainConfig {
    /// Which self-supervised method trains the encoders.
    pub method: Method,
    pub data: DataConfig,
    /// The encoder (every method) and ASMa's Barlow Twins projector (`asma` only).
    pub model: AsmaModelConfig,
    /// MoCo's head, queue, momentum and temperature (`skeletonclr`, `aimclr`, `crossclr`).
    pub moco: MocoConfig,
    /// AimCLR's extreme view, drop and mining (`aimclr` only).
    pub aimclr: AimclrConfig,
    /// CrosSCLR's streams, cross-view mining and head sharing (`crossclr` only).
    pub crossclr: CrossclrConfig,
    /// MS²L's tasks and heads (`ms2l` only).
    pub ms2l: Ms2lConfig,
    pub masking: MaskingConfig,
    /// Augmentations of every view, in order, one draw per batch and view (PSTL).
    pub augment: Vec<Transform>,
    /// Draw the augmentations per sample instead of per batch (SkeletonCLR's feeders do).
    pub augment_per_sample: bool,
    pub optim: OptimConfig,
    pub knn: KnnConfig,
    pub run: RunConfig,
}

impl Default for PretrainConfig {
    fn default() -> Self {
        PretrainConfig {
            method: Method::Asma,
            data: DataConfig::default(),
            model: AsmaModelConfig::default(),
            moco: MocoConfig::default(),
            aimclr: AimclrConfig::default(),
            crossclr: CrossclrConfig::default(),
            ms2l: Ms2lConfig::default(),
            masking: MaskingConfig::default(),
            augment: pstl_pretrain(),
            augment_per_sample: false,
            optim: OptimConfig::default(),
            knn: KnnConfig::default(),
            run: RunConfig::default(),
        }
    }
}

/// The pre-training method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// ASMa (docs/METHOD.md §5–6): two encoders, Barlow Twins on asymmetrically masked views;
    /// with `masking` set to PSTL's pair, PSTL.
    #[default]
    Asma,
    /// SkeletonCLR (`LinguoLi/CrosSCLR`, `net/skeletonclr.py`): MoCo v2, one encoder
    /// (`asma_model::moco`). With `masking.plugin = "asma"`, ASMa's masked views join as
    /// extra queries.
    Skeletonclr,
    /// AimCLR (`Levigty/AimCLR`, `net/aimclr.py`): SkeletonCLR's model with an extremely
    /// augmented query, its energy-based drop, the D³M loss and nearest-neighbour mining
    /// (`[aimclr]`).
    Aimclr,
    /// CrosSCLR (`LinguoLi/CrosSCLR`, `net/crossclr_3views.py`): a SkeletonCLR model per
    /// stream (joint, motion, bone, computed from the joint clips) and cross-view consistent
    /// knowledge mining (`[crossclr]`).
    Crossclr,
    /// MS²L (`LanglandsLin/MS2L`): motion prediction, jigsaw puzzle recognition and
    /// contrastive learning as one multi-task objective, on asma's ST-GCN encoder (`[ms2l]`).
    Ms2l,
}

impl Method {
    /// A MoCo-family method (per stream one encoder, a momentum key encoder and a queue).
    pub fn is_moco(self) -> bool {
        matches!(
            self,
            Method::Skeletonclr | Method::Aimclr | Method::Crossclr
        )
    }

    /// One of the methods ASMa is compared with (one encoder per stream, trained by the loop
    /// of `crate::pretrain_moco`), not ASMa itself.
    pub fn is_single_encoder(self) -> bool {
        self != Method::Asma
    }

    /// The config value (`method = "…"`).
    pub fn name(self) -> &'static str {
        match self {
            Method::Asma => "asma",
            Method::Skeletonclr => "skeletonclr",
            Method::Aimclr => "aimclr",
            Method::Crossclr => "crossclr",
            Method::Ms2l => "ms2l",
        }
    }
}

/// AimCLR's settings; the defaults are its authors' (`config/ntu60/pretext/*.yaml`,
/// `net/st_gcn.py`, `feeder/ntu_feeder.py`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AimclrConfig {
    /// The extreme view's augmentations (drawn per sample with `augment_per_sample`).
    pub extreme_augment: Vec<Transform>,
    /// The energy-based drop's threshold (`Simam_Drop(keep_prob=0.7)`).
    pub keep_prob: f64,
    /// The energy's λ.
    pub e_lambda: f64,
    /// Nearest-neighbour mining in the reference's 1-based epochs after this one, i.e. from
    /// the 0-based epoch `mining_epoch` on (`if epoch <= mining_epoch` with `train(epoch + 1)`
    /// in `processor/pretrain_aimclr.py`).
    pub mining_epoch: usize,
    /// Queue entries mined per query.
    pub topk: usize,
}

impl Default for AimclrConfig {
    fn default() -> Self {
        AimclrConfig {
            extreme_augment: aimclr_extreme(),
            keep_prob: 0.7,
            e_lambda: 1e-4,
            mining_epoch: 150,
            topk: 1,
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
    /// Persons read per clip. Unset: every person the files hold (2 for NTU RGB+D and
    /// PKU-MMD, whose mutual actions need both). `1` is the single-body mode for data that
    /// never has a second person (one performer in front of a robot's camera): every
    /// training and inference step costs half. Saved with the run, so `asma infer` reads
    /// clips the same way.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bodies: Option<usize>,
}

/// `data.classes`: the names themselves or a file of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ClassList {
    Names(Vec<String>),
    File(PathBuf),
}

impl DataConfig {
    /// Opens the `part` split of `dir`, reading `bodies` persons per clip when set.
    pub fn open(&self, part: Part) -> Result<SkeletonDataset, TrainError> {
        let dataset = SkeletonDataset::open_split(&self.dir, part)?;
        Ok(match self.bodies {
            Some(bodies) => dataset.keep_bodies(bodies)?,
            None => dataset,
        })
    }

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
            bodies: None,
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
    /// ASMa's masks as extra views of another method (docs/METHOD.md §6.5); `none` leaves the
    /// method as its authors wrote it. Unused by `method = "asma"`, whose masks these are.
    pub plugin: Plugin,
    /// How the plug-in forms its views from `theta` and `phi`.
    pub plugin_views: PluginViews,
}

/// `masking.plugin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Plugin {
    #[default]
    None,
    /// \[CHOICE\] (docs/METHOD.md §6.5 proposes the form, the paper does not give it): views masked
    /// by f_θ's and f_φ's operators join as extra positives of the method's anchor (for MoCo:
    /// extra queries scored against the same keys and queue, their losses added).
    Asma,
}

/// `masking.plugin_views`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PluginViews {
    /// Two views: θ's joint and frame masks together, φ's together.
    #[default]
    Combined,
    /// Four views, each mask alone as ASMa's branches use them: θ temporal, θ spatial,
    /// φ temporal, φ spatial (twice the plug-in's cost).
    Separate,
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
            plugin: Plugin::None,
            plugin_views: PluginViews::Combined,
        }
    }
}

/// Adam with classic L2 weight decay, warm-up + cosine (docs/METHOD.md §6.3); SGD with
/// momentum and step decay for the MoCo methods (their `processor/pretrain.py`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OptimConfig {
    pub optimizer: OptimizerKind,
    pub lr: f64,
    /// Classic L2 (added to the gradient), as PyTorch's Adam and SGD.
    pub weight_decay: f64,
    pub warmup_epochs: usize,
    pub epochs: usize,
    pub batch_size: usize,
    /// Drop the last partial batch (PSTL keeps it; SkeletonCLR drops it, its queue takes
    /// whole batches).
    pub drop_last: bool,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// SGD's momentum (dampening 0, as PyTorch).
    pub momentum: f64,
    pub nesterov: bool,
    /// Not empty: step decay instead of warm-up + cosine, the learning rate times `lr_gamma`
    /// for every listed epoch that the current 0-based epoch exceeds (SkeletonCLR: `[250]`).
    pub lr_steps: Vec<usize>,
    pub lr_gamma: f64,
}

/// `optim.optimizer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    #[default]
    Adam,
    Sgd,
}

impl Default for OptimConfig {
    fn default() -> Self {
        OptimConfig {
            optimizer: OptimizerKind::Adam,
            lr: 5e-3,
            weight_decay: 1e-5,
            warmup_epochs: 10,
            epochs: 150,
            batch_size: 128,
            drop_last: false,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            momentum: 0.9,
            nesterov: false,
            lr_steps: Vec::new(),
            lr_gamma: 0.1,
        }
    }
}

impl OptimConfig {
    /// The schedule.
    pub fn schedule(&self) -> Schedule {
        match self.lr_steps.is_empty() {
            true => Schedule::WarmupCosine(WarmupCosine {
                base_lr: self.lr,
                warmup_epochs: self.warmup_epochs,
                epochs: self.epochs,
            }),
            false => Schedule::Step(StepDecay {
                base_lr: self.lr,
                milestones: self.lr_steps.clone(),
                gamma: self.lr_gamma,
            }),
        }
    }

    /// The optimiser: Adam (β, ε) or SGD (momentum, Nesterov), with L2 weight decay when
    /// `weight_decay > 0`.
    pub fn optimizer(&self) -> ModuleOptimizer {
        let decay =
            (self.weight_decay > 0.0).then(|| WeightDecayConfig::new(self.weight_decay as f32));
        match self.optimizer {
            OptimizerKind::Adam => AdamConfig::new()
                .with_beta_1(self.beta1 as f32)
                .with_beta_2(self.beta2 as f32)
                .with_epsilon(self.eps as f32)
                .with_weight_decay(decay)
                .init(),
            OptimizerKind::Sgd => SgdConfig::new()
                .with_momentum((self.momentum > 0.0).then(|| {
                    MomentumConfig::new()
                        .with_momentum(self.momentum)
                        .with_dampening(0.0)
                        .with_nesterov(self.nesterov)
                }))
                .with_weight_decay(decay)
                .init(),
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
    /// `cpu` (burn flex), `gpu` (burn wgpu on Vulkan, feature `vulkan`), `wgpu` (feature
    /// `wgpu`) or `cuda[:N]` (feature `cuda`); `asma_model::device::select` reads it.
    pub device: String,
    /// Data-parallel training (pretrain, finetune, distill) over these devices, e.g.
    /// `["cuda:0", "cuda:1"]`; the first is the main device (parameters, optimiser state,
    /// evaluation). Empty: `device` alone. `"cpu"` may repeat (replicas on the one CPU
    /// device, which is how the tests check the gradient averaging); see the `parallel` module.
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
    fn moco_family_defaults_are_their_authors() {
        let c = PretrainConfig::default();
        assert_eq!(c.method, Method::Asma);
        assert_eq!(
            (
                c.moco.feature_dim,
                c.moco.queue_size,
                c.moco.momentum,
                c.moco.temperature,
                c.moco.mlp
            ),
            (128, 32768, 0.999, 0.07, true)
        );
        let a = &c.aimclr;
        assert_eq!(
            (a.keep_prob, a.e_lambda, a.mining_epoch, a.topk),
            (0.7, 1e-4, 150, 1)
        );
        assert_eq!(a.extreme_augment.len(), 7);
        assert_eq!(c.masking.plugin, Plugin::None);
        // SGD as the MoCo methods' processor: dampening 0 is set by `optimizer()`.
        assert_eq!(
            (c.optim.momentum, c.optim.nesterov, c.optim.lr_gamma),
            (0.9, false, 0.1)
        );
        let toml = r#"{"method": "aimclr", "masking": {"plugin": "asma", "plugin_views": "separate"}, "optim": {"optimizer": "sgd", "lr_steps": [250]}}"#;
        let c: PretrainConfig = serde_json::from_str(toml).unwrap();
        assert!(c.method.is_moco());
        assert_eq!(
            serde_json::to_value(c.method).unwrap(),
            serde_json::json!(c.method.name())
        );
        assert!((c.optim.schedule().lr(251) - 5e-4).abs() < 1e-12);
        let e = serde_json::from_str::<PretrainConfig>(r#"{"method": "mocov3"}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("skeletonclr"), "{e}");
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
