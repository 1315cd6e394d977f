//! Knowledge distillation (METHOD.md §8): a student trained from scratch on the labelled
//! training split with `α·CE + (1 − α)·τ²·KL` against a frozen ASMa classifier (the teacher,
//! from `asma linear` or `asma finetune`). Without augmentation the teacher's logits of the
//! training split are fixed, so they are computed once, in eval mode, before step 1.
//!
//! The run directory is a classifier run's (`metrics.jsonl`, scores, confusion, `result.json`,
//! checkpoint) with `student.safetensors` (names `encoder.*`, `fc.*`) as the model.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use asma_data::loader::{Loader, LoaderConfig, SkeletonDataset};
use asma_model::burn::module::Module;
use asma_model::burn::optim::{AdamConfig, ModuleOptimizer};
use asma_model::burn::tensor::{Device, Tensor, TensorData};
use asma_model::student::{kd_loss, KdConfig, StudentClassifier, StudentConfig};
use asma_model::weights::save_module;
use serde::{Deserialize, Serialize};

use super::config::DownstreamOptim;
use super::epochs::{read_json, EpochPlan};
use super::learners::{finish_step, load_into, loader_logits, targets, BatchResult, Learner};
use super::{drive, load_classifier, plain_loader, setup, Facts, Outcome, Progress, Setup, Start};
use crate::checkpoint::save_model_and_optim;
use crate::config::{DataConfig, RunConfig};
use crate::error::TrainError;
use crate::features::to_tensor;

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

/// The student, its optimiser, the data and the teacher's logits of the training split.
struct Distill {
    student: Option<StudentClassifier>,
    optim: ModuleOptimizer,
    train: Loader,
    test: Loader,
    /// `(N_train, C)`, row = dataset index.
    teacher: Vec<f32>,
    num_classes: usize,
    kd: KdConfig,
    device: Device,
    base: Device,
    seed: u64,
    step: usize,
}

impl Learner for Distill {
    fn loader(&self) -> &Loader {
        &self.train
    }

    fn step(
        &mut self,
        epoch: usize,
        order: &[usize],
        b: usize,
        lr: f64,
    ) -> Result<BatchResult, TrainError> {
        let batch = self.train.batch(epoch as u64, order, b)?;
        let step_seed = asma_data::rng::Rng::derive(self.seed, self.step as u64).next_u64();
        self.device.seed(step_seed);
        asma_model::dropout::reseed(step_seed);
        self.step += 1;
        let c = self.num_classes;
        let mut rows = Vec::with_capacity(batch.samples.len() * c);
        for &s in &batch.samples {
            rows.extend_from_slice(&self.teacher[s * c..(s + 1) * c]);
        }
        let teacher = Tensor::<2>::from_data(
            TensorData::new(rows, [batch.samples.len(), c]),
            &self.device,
        );
        let x = to_tensor(batch.views.into_iter().next().unwrap(), &self.device);
        let student = self.student.take().expect("the student is always put back");
        let logits = student.forward(x);
        let loss = kd_loss(
            logits.clone(),
            teacher,
            targets(&batch.labels, &self.device),
            self.kd,
        );
        let (student, r) = finish_step(student, &mut self.optim, logits, loss, &batch.labels, lr)?;
        self.student = Some(student);
        Ok(r)
    }

    fn test_logits(&self) -> Result<Vec<f32>, TrainError> {
        let model = self.student.as_ref().unwrap().valid();
        loader_logits(&self.test, &self.base, |x| model.forward(x))
    }

    fn save(&self, dir: &Path) -> Result<(), TrainError> {
        save_model_and_optim(&self.student.as_ref().unwrap().valid(), &self.optim, dir)
    }

    fn load(&mut self, dir: &Path) -> Result<(), TrainError> {
        load_into(&mut self.student, &mut self.optim, dir)
    }

    fn export(&self, path: &Path) -> Result<(), TrainError> {
        Ok(save_module(&self.student.as_ref().unwrap().valid(), path)?)
    }

    fn set_step(&mut self, step: usize) {
        self.step = step;
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
        train,
        test,
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
    let mut learner = Distill {
        student: Some(student),
        optim: AdamConfig::new().init(),
        train: Loader::new(train.clone(), loader_cfg(true))?,
        test: Loader::new(test.clone(), loader_cfg(false))?,
        teacher,
        num_classes: cfg.data.num_classes,
        kd: cfg.kd,
        device: ad.clone(),
        base: base.clone(),
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
        },
        stop,
        progress,
    )
}
