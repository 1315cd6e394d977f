//! Knowledge distillation (docs/METHOD.md §8): a student trained from scratch on the labelled
//! training split with `α·CE + (1 − α)·τ²·KL` against a frozen ASMa classifier (the teacher,
//! from `asma linear` or `asma finetune`). Without augmentation the teacher's logits of the
//! training split are fixed, so they are computed once, in eval mode, before step 1.
//!
//! The run directory is a classifier run's (`metrics.jsonl`, scores, confusion, `result.json`,
//! checkpoint) with `student.safetensors` (names `encoder.*`, `fc.*`) as the model.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use asma_data::pipeline::loader::{Loader, LoaderConfig, SkeletonDataset};
use asma_model::burn::tensor::Device;
use asma_model::student::{KdConfig, StudentConfig, StudentInit};
use serde::{Deserialize, Serialize};

use super::config::DownstreamOptim;
use super::epochs::{read_json, EpochPlan};
use super::learners::{loader_logits, FineTune, Teacher};
use super::{drive, load_classifier, plain_loader, setup, Facts, Outcome, Progress, Setup, Start};
use crate::config::{DataConfig, RunConfig};
use crate::error::TrainError;

/// `asma distill`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DistillConfig {
    pub data: DataConfig,
    /// The teacher: a classifier run directory (`asma linear` or `asma finetune`) of the same
    /// stream and class count.
    pub teacher: PathBuf,
    /// The student (its class count is `data.num_classes`).
    pub student: StudentShape,
    pub kd: KdConfig,
    /// Fine-tuning's settings by default (Adam 5e-3, cosine over 150 epochs, batch 128).
    pub optim: DownstreamOptim,
    pub run: RunConfig,
}

/// The student's depth and convolution form.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StudentShape {
    /// 1–10 blocks; 5 is S5.
    pub depth: usize,
    pub conv: asma_model::conv::ConvImpl,
}

impl Default for StudentShape {
    fn default() -> Self {
        StudentShape {
            depth: 5,
            conv: Default::default(),
        }
    }
}

impl Default for DistillConfig {
    fn default() -> Self {
        DistillConfig {
            data: DataConfig::default(),
            teacher: PathBuf::from("runs/linear"),
            student: StudentShape::default(),
            kd: KdConfig::default(),
            optim: DownstreamOptim::default(),
            run: RunConfig::default(),
        }
    }
}

impl DistillConfig {
    pub fn student_config(&self) -> StudentConfig {
        StudentConfig {
            depth: self.student.depth,
            num_classes: self.data.num_classes,
            conv: self.student.conv,
        }
    }

    /// The learning rate in use (fine-tuning's by default).
    pub fn lr(&self) -> f64 {
        self.optim.lr.unwrap_or(5e-3)
    }
}

/// The teacher's `(N, C)` logits of every sample of `dataset`, in dataset order.
fn teacher_logits(
    teacher_run: &Path,
    cfg: &DistillConfig,
    dataset: Arc<SkeletonDataset>,
    base: &Device,
) -> Result<Vec<f32>, TrainError> {
    let teacher = load_classifier(teacher_run, cfg.data.stream, cfg.data.num_classes, base)?;
    let loader = Loader::new(
        dataset,
        LoaderConfig {
            batch_size: cfg.optim.batch_size,
            shuffle: false,
            stream: cfg.data.stream,
            ..Default::default()
        },
    )?;
    loader_logits(&loader, base, |x| teacher.forward(x))
}

/// Runs (or, with `resume`, continues) distillation in `cfg.run.dir`.
pub fn run(
    cfg: &DistillConfig,
    resume: bool,
    stop: &AtomicBool,
    progress: &dyn Fn(Progress),
) -> Result<Outcome, TrainError> {
    if !(cfg.kd.alpha >= 0.0 && cfg.kd.alpha <= 1.0 && cfg.kd.tau > 0.0) {
        return Err(TrainError::Config(format!(
            "kd.alpha must be in [0, 1] and kd.tau > 0 (got α {}, τ {})",
            cfg.kd.alpha, cfg.kd.tau
        )));
    }
    let Setup {
        run,
        base,
        ad,
        devices,
        train,
        test,
        names,
    } = setup(&cfg.data, &cfg.optim, &cfg.run)?;

    let teacher = teacher_logits(&cfg.teacher, cfg, train.clone(), &base)?;
    progress(Progress::Note(format!(
        "teacher {}: logits of {} training samples computed",
        cfg.teacher.display(),
        train.len()
    )));
    ad.seed(cfg.run.seed);
    let student = cfg.student_config().init(&ad);
    let parameters = student.num_params();
    let loader_cfg = |shuffle| plain_loader(&cfg.data, &cfg.optim, &cfg.run, shuffle);
    let mut learner = FineTune {
        model: Some(student),
        optim: cfg.optim.adam().init(),
        train: Loader::new(train.clone(), loader_cfg(true))?,
        test: Loader::new(test.clone(), loader_cfg(false))?,
        teacher: Some(Teacher {
            logits: teacher,
            num_classes: cfg.data.num_classes,
            kd: cfg.kd,
        }),
        device: ad.clone(),
        base: base.clone(),
        devices,
        seed: cfg.run.seed,
        step: 0,
    };
    let mut saved = cfg.clone();
    saved.optim.lr = Some(cfg.lr());
    drive(
        &run,
        &mut learner,
        Start {
            resume,
            config: serde_json::to_value(&saved).unwrap(),
            same_config: &|| {
                let old: DistillConfig = read_json(&run.config())?;
                Ok(old.student_config() == cfg.student_config()
                    && old.data.stream == cfg.data.stream)
            },
        },
        EpochPlan {
            epochs: cfg.optim.epochs,
            eval_every: cfg.optim.eval_every,
            lr: cfg.lr(),
        },
        &test,
        Facts {
            protocol: "distill",
            stream: cfg.data.stream,
            label_fraction: 1.0,
            num_classes: cfg.data.num_classes,
            train_samples: train.len(),
            parameters,
            model_file: "student.safetensors",
            names,
        },
        stop,
        progress,
    )
}
