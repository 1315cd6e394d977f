//! The MoCo-family pre-training loop: SkeletonCLR (`method = "skeletonclr"`;
//! `LinguoLi/CrosSCLR`, `processor/pretrain_skeletonclr.py`), AimCLR (`method =
//! "aimclr"`; `Levigty/AimCLR`, `processor/pretrain_aimclr.py`) and CrosSCLR (`method =
//! "crossclr"`, [`crate::pretrain_crossclr`]); MS²L (`method = "ms2l"`,
//! [`crate::pretrain_ms2l`]) runs in it too (`ComparedMethod`). Per batch a query and a key
//! view, each with its own augmentation draws (per sample in the presets), AimCLR's extreme
//! view, and with `masking.plugin = "asma"` ASMa's masked views as extra queries
//! ([`asma_model::moco`]). One step: momentum update of the key encoder, the loss, the
//! optimiser step (SGD with momentum and step decay in the presets), the keys into the queue.
//!
//! The loop shares the ASMa loop's run directory, checkpoints, exact resume (the queue is part
//! of the checkpointed model; its write position is `(step · batch) mod K`, whole batches
//! only), k-NN monitor with both baselines, and `metrics.jsonl`. One device.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use asma_data::pipeline::loader::{Batch, View};
use asma_model::burn::module::Module;
use asma_model::burn::optim::{GradientsParams, ModuleOptimizer};
use asma_model::burn::store::ModuleSnapshot;
use asma_model::burn::tensor::{Device, Tensor};
use asma_model::crossclr::CrossclrModel;
use asma_model::moco::{EnergyDrop, ExtremeView, MocoModel, MocoModelConfig, QueryView};
use asma_model::ms2l::Ms2lModel;
use asma_model::weights::save_module;
use asma_model::{ModelError, StgcnEncoder};
use serde::Serialize;

use crate::checkpoint::{RunDir, TrainState};
use crate::config::{Method, PretrainConfig};
use crate::diagnostics::FeatureDiagnostics;
use crate::error::TrainError;
use crate::features::{shaped_tensor, to_tensor};
use crate::metrics::MetricsLog;
use crate::pretrain::{
    append_baseline, knn_due, knn_eval_encoders, open_data, open_run, read_parts, recalibrated,
    save_checkpoint, Baseline, Data, EncoderEvaluation, PretrainOutcome, Progress,
};
use crate::seed::seed_step;

/// One line of `metrics.jsonl` of a SkeletonCLR or AimCLR run.
#[derive(Debug, Clone, Serialize)]
pub struct ContrastiveEpochMetrics {
    pub epoch: usize,
    pub lr: f64,
    /// Mean total loss over the epoch's batches (the sum over query views).
    pub loss: f64,
    /// Mean InfoNCE per query view: MoCo's own query first, then the plug-in's views (CrosSCLR:
    /// each stream's loss, then the plug-in's views stream by stream; MS²L: its motion, jigsaw
    /// and contrastive terms).
    pub queries: Vec<f64>,
    /// AimCLR's D³M term (mean).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ddm: Option<f64>,
    /// AimCLR's nearest-neighbour mining, or CrosSCLR's cross-view mining, was on.
    pub mining: bool,
    /// Share of MoCo's own queries whose positive key has the largest logit (MS²L: of its
    /// contrastive task's rows whose partner has).
    pub accuracy: f64,
    pub batches: usize,
    pub samples_per_s: f64,
    pub seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub knn: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub features: Option<FeatureDiagnostics>,
    /// The evaluation with BatchNorm statistics re-estimated on the training split.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recalibrated: Option<EncoderEvaluation>,
}

/// An epoch's sums of [`StepLog`]s.
#[derive(Debug, Default)]
struct Sums {
    total: f64,
    queries: Vec<f64>,
    ddm: Option<f64>,
    accuracy: f64,
}

impl Sums {
    fn add(&mut self, log: &StepLog) {
        self.total += f64::from(log.total);
        self.accuracy += f64::from(log.accuracy);
        self.queries.resize(log.queries.len(), 0.0);
        for (s, q) in self.queries.iter_mut().zip(&log.queries) {
            *s += f64::from(*q);
        }
        if let Some(d) = log.ddm {
            *self.ddm.get_or_insert(0.0) += f64::from(d);
        }
    }
}

/// The model configuration of a MoCo-family run: `model.encoder` and `moco`.
pub fn model_config(cfg: &PretrainConfig) -> MocoModelConfig {
    MocoModelConfig {
        encoder: cfg.model.encoder.clone(),
        moco: cfg.moco.clone(),
    }
}

/// The checks every compared method shares; each adds its own ([`ComparedMethod::check`]).
fn check(cfg: &PretrainConfig) -> Result<(), TrainError> {
    if cfg.optim.epochs == 0 || cfg.optim.batch_size == 0 {
        return Err(TrainError::Config(
            "optim.epochs and optim.batch_size must be ≥ 1".into(),
        ));
    }
    if cfg.run.device_names().len() > 1 {
        return Err(TrainError::Config(format!(
            "run.devices: {} trains on one device",
            cfg.method.name()
        )));
    }
    Ok(())
}

/// The MoCo-family check: the queue takes whole batches.
pub(crate) fn check_queue(cfg: &PretrainConfig) -> Result<(), TrainError> {
    let bs = cfg.optim.batch_size;
    if !cfg.optim.drop_last || !cfg.moco.queue_size.is_multiple_of(bs) {
        return Err(TrainError::Config(format!(
            "{}: the queue takes whole batches: set optim.drop_last = true and a moco.queue_size that is a multiple of optim.batch_size ({} % {bs} ≠ 0 or drop_last off)",
            cfg.method.name(),
            cfg.moco.queue_size
        )));
    }
    Ok(())
}

/// What one step logs.
#[derive(Debug, Clone, PartialEq)]
pub struct StepLog {
    pub total: f32,
    /// InfoNCE per query view (CrosSCLR: per stream, then the plug-in's views; MS²L: motion,
    /// jigsaw, contrastive).
    pub queries: Vec<f32>,
    /// AimCLR's D³M term.
    pub ddm: Option<f32>,
    pub accuracy: f32,
}

impl StepLog {
    /// Reads a step's terms from the device in one transfer: the total, the accuracy,
    /// AimCLR's D³M term, and the per-view (per-stream, per-task) terms.
    pub(crate) fn read(
        total: &Tensor<1>,
        accuracy: Tensor<1>,
        ddm: Option<&Tensor<1>>,
        terms: &[Tensor<1>],
    ) -> Result<Self, TrainError> {
        let mut logged = vec![total.clone().detach(), accuracy];
        logged.extend(ddm.map(|d| d.clone().detach()));
        logged.extend(terms.iter().map(|l| l.clone().detach()));
        let parts = read_parts(Tensor::cat(logged, 0))?;
        let first_term = 2 + ddm.is_some() as usize;
        Ok(StepLog {
            total: parts[0],
            accuracy: parts[1],
            ddm: ddm.map(|_| parts[2]),
            queries: parts[first_term..].to_vec(),
        })
    }
}

/// One optimiser step of a MoCo-family method: the key encoder's momentum update, the loss
/// of the query views (MoCo's own first, then the plug-in's) and, for AimCLR, the extreme
/// view against the keys, the optimiser step, the keys into the queue at `ptr` (on a
/// non-finite loss neither: the caller stops).
pub fn train_step(
    model: MocoModel,
    optim: &mut ModuleOptimizer,
    lr: f64,
    queries: Vec<QueryView>,
    key: Tensor<5>,
    extreme: Option<ExtremeView>,
    ptr: usize,
) -> Result<(MocoModel, StepLog), TrainError> {
    let model = model.momentum_update();
    let loss = model.loss(queries, key, extreme);
    let log = StepLog::read(
        &loss.total,
        loss.accuracy,
        loss.ddm.as_ref(),
        &loss.per_view,
    )?;
    // A non-finite loss: no step (the loop stops with an error and keeps the last checkpoint).
    if !log.total.is_finite() {
        return Ok((model, log));
    }
    let grads = GradientsParams::from_grads(loss.total.backward(), &model);
    let model = optim.step(lr, model, grads);
    Ok((model.enqueue(loss.keys, ptr), log))
}

/// The query views, the key and AimCLR's extreme view of a batch on `device` (views as
/// [`crate::pretrain::loader_config`] orders them: the query, the key, the extreme view, the
/// plug-in's queries).
pub(crate) fn batch_views(
    batch: Batch,
    device: &Device,
    extreme: Option<(EnergyDrop, Option<usize>)>,
) -> (Vec<QueryView>, Tensor<5>, Option<ExtremeView>) {
    let mut views = batch.views.into_iter();
    let query = views.next().expect("a query view");
    let key = to_tensor(views.next().expect("a key view"), device);
    let extreme = extreme.map(|(drop, mining_topk)| ExtremeView {
        x: to_tensor(views.next().expect("an extreme view"), device),
        drop,
        mining_topk,
    });
    (
        query_views(std::iter::once(query).chain(views), device),
        key,
        extreme,
    )
}

/// Loader views as query views on `device`, each with the joints its mask kept (and the
/// motion taken before its frame mask, where the loader was asked for it).
pub(crate) fn query_views(views: impl Iterator<Item = View>, device: &Device) -> Vec<QueryView> {
    views
        .map(|mut v| {
            let keep = (!v.joints.removed.is_empty()).then(|| v.joints.kept.clone());
            let motion = v.motion.take().map(|m| shaped_tensor(v.shape, m, device));
            QueryView {
                x: to_tensor(v, device),
                keep_joints: keep,
                motion,
            }
        })
        .collect()
}

/// What the loop needs of the model of a method ASMa is compared with: SkeletonCLR's and
/// AimCLR's [`MocoModel`], CrosSCLR's [`asma_model::crossclr::CrossclrModel`], MS²L's
/// [`asma_model::ms2l::Ms2lModel`].
pub(crate) trait ComparedMethod: Module + ModuleSnapshot + Sized {
    /// The method's own configuration checks, after the shared ones.
    fn check(cfg: &PretrainConfig) -> Result<(), TrainError>;
    /// What the run directory needs before the first step besides the shared files.
    fn prepare(_cfg: &PretrainConfig, _run: &RunDir) -> Result<(), TrainError> {
        Ok(())
    }
    /// The model of `cfg`, initialised on `device` (seeded by the caller).
    fn build(cfg: &PretrainConfig, device: &Device) -> Self;
    /// Optimiser step `step` (counted over the run) on `batch`'s views in 0-based `epoch`.
    #[allow(clippy::too_many_arguments)]
    fn step(
        self,
        optim: &mut ModuleOptimizer,
        lr: f64,
        batch: Batch,
        device: &Device,
        cfg: &PretrainConfig,
        epoch: usize,
        step: usize,
    ) -> Result<(Self, StepLog), TrainError>;
    /// The encoder the k-NN monitor evaluates (on `data.stream`).
    fn monitored(&self) -> &StgcnEncoder;
    /// Writes the encoders the downstream commands load (called on every checkpoint).
    fn export(&self, run: &RunDir) -> Result<(), ModelError>;
}

impl ComparedMethod for MocoModel {
    fn check(cfg: &PretrainConfig) -> Result<(), TrainError> {
        check_queue(cfg)
    }

    fn build(cfg: &PretrainConfig, device: &Device) -> Self {
        model_config(cfg).init(device)
    }

    fn step(
        self,
        optim: &mut ModuleOptimizer,
        lr: f64,
        batch: Batch,
        device: &Device,
        cfg: &PretrainConfig,
        epoch: usize,
        step: usize,
    ) -> Result<(Self, StepLog), TrainError> {
        // AimCLR's drop, and its mining from the 0-based epoch `mining_epoch` on.
        let aimclr = (cfg.method == Method::Aimclr).then(|| {
            let a = &cfg.aimclr;
            let drop = EnergyDrop {
                keep_prob: a.keep_prob,
                e_lambda: a.e_lambda,
            };
            (drop, phase(cfg, epoch).then_some(a.topk))
        });
        let (queries, key, extreme) = batch_views(batch, device, aimclr);
        train_step(self, optim, lr, queries, key, extreme, queue_ptr(cfg, step))
    }

    fn monitored(&self) -> &StgcnEncoder {
        &self.encoder_q.encoder
    }

    /// The query encoder as `encoder_q.safetensors` (PyTorch-named), which the downstream
    /// commands load (`init.from`).
    fn export(&self, run: &RunDir) -> Result<(), ModelError> {
        save_module(&self.encoder_q.encoder, &run.encoder("q"))
    }
}

/// Where step `step`'s keys go in the queue: `(step · batch) mod K` (whole batches only).
pub(crate) fn queue_ptr(cfg: &PretrainConfig, step: usize) -> usize {
    (step * cfg.optim.batch_size) % cfg.moco.queue_size
}

/// Whether the method's second phase is on in the 0-based `epoch`: AimCLR's nearest-neighbour
/// mining, CrosSCLR's cross-view mining (the references' 1-based epochs after the configured
/// one).
pub(crate) fn phase(cfg: &PretrainConfig, epoch: usize) -> bool {
    match cfg.method {
        Method::Aimclr => epoch >= cfg.aimclr.mining_epoch,
        Method::Crossclr => epoch >= cfg.crossclr.cross_epoch,
        Method::Asma | Method::Skeletonclr | Method::Ms2l => false,
    }
}

/// Runs (or, with `resume`, continues) SkeletonCLR, AimCLR, CrosSCLR or MS²L pre-training in
/// `cfg.run.dir`; see [`crate::pretrain::pretrain`], which calls it for these methods.
pub fn pretrain(
    cfg: &PretrainConfig,
    resume: bool,
    stop: &AtomicBool,
    progress: &dyn Fn(Progress),
) -> Result<PretrainOutcome, TrainError> {
    check(cfg)?;
    match cfg.method {
        Method::Crossclr => run::<CrossclrModel>(cfg, resume, stop, progress),
        Method::Ms2l => run::<Ms2lModel>(cfg, resume, stop, progress),
        Method::Skeletonclr | Method::Aimclr | Method::Asma => {
            run::<MocoModel>(cfg, resume, stop, progress)
        }
    }
}

fn run<M: ComparedMethod>(
    cfg: &PretrainConfig,
    resume: bool,
    stop: &AtomicBool,
    progress: &dyn Fn(Progress),
) -> Result<PretrainOutcome, TrainError> {
    M::check(cfg)?;
    let run = RunDir::new(&cfg.run.dir);
    std::fs::create_dir_all(&run.root).map_err(|e| TrainError::io(&run.root, e))?;
    let base = cfg.run.resolve_devices(cfg.optim.batch_size)?.remove(0);
    let ad = base.clone().autodiff();
    let Data { train, val, loader } = open_data(cfg)?;

    ad.seed(cfg.run.seed);
    let mut model = M::build(cfg, &ad);
    let mut optim = cfg.optim.optimizer();
    let metrics = MetricsLog::new(&run.metrics());
    let (mut state, fresh) = open_run(
        &run, cfg, resume, &mut model, &mut optim, &metrics, progress,
    )?;
    M::prepare(cfg, &run)?;
    let evaluate = |model: &M, recalibrate: bool| {
        let val = val.as_ref().expect("opened when knn.every > 0");
        let encoder = model.monitored();
        let (each, _) = match recalibrate {
            false => knn_eval_encoders(&[encoder], cfg, &train, val, &base)?,
            true => {
                let [copy] = recalibrated([encoder], cfg, &train, &ad)?;
                knn_eval_encoders(&[&copy], cfg, &train, val, &base)?
            }
        };
        Ok::<_, TrainError>(each[0])
    };
    if fresh && cfg.knn.every > 0 && cfg.knn.at_start {
        for (baseline, recalibrate) in [
            (Baseline::Random, false),
            (Baseline::RandomBnEstimated, true),
        ] {
            let e = evaluate(&model, recalibrate)?;
            append_baseline(&metrics, baseline, e.knn, e.features)?;
            progress(Progress::EncoderKnnAtStart(baseline, e));
        }
    }

    let schedule = cfg.optim.schedule();
    let batches = loader.batches_per_epoch();
    let save = |model: &M, optim: &ModuleOptimizer, state: TrainState| {
        save_checkpoint(&run, model, optim, state, |m| m.export(&run))
    };
    while state.epoch < cfg.optim.epochs {
        let epoch = state.epoch;
        let lr = schedule.lr(epoch);
        let order = loader.order(epoch as u64);
        let started = Instant::now();
        let mut sums = Sums::default();
        let (mut seen_batches, mut samples) = (0usize, 0usize);
        for b in state.batch..batches {
            let batch = loader.batch(epoch as u64, &order, b)?;
            samples += batch.samples.len();
            seed_step(&ad, cfg.run.seed, state.step);
            let (m, log) = model.step(&mut optim, lr, batch, &ad, cfg, epoch, state.step)?;
            model = m;
            if !log.total.is_finite() {
                return Err(TrainError::NonFinite {
                    epoch,
                    step: state.step,
                    value: log.total,
                    run: run.root.clone(),
                });
            }
            sums.add(&log);
            seen_batches += 1;
            state.step += 1;
            state.batch = b + 1;
            progress(Progress::Batch {
                epoch,
                batch: b,
                batches,
                loss: f64::from(log.total),
            });
            if stop.load(Ordering::SeqCst) && state.batch < batches {
                save(&model, &optim, state)?;
                return Ok(PretrainOutcome {
                    state,
                    interrupted: true,
                    last: None,
                });
            }
        }
        state.epoch += 1;
        state.batch = 0;
        let seconds = started.elapsed().as_secs_f64();
        let n = seen_batches.max(1) as f64;
        let (kept, recal) = match knn_due(cfg, state.epoch) {
            true => (
                Some(evaluate(&model, false)?),
                match cfg.knn.recalibrate {
                    true => Some(evaluate(&model, true)?),
                    false => None,
                },
            ),
            false => (None, None),
        };
        let m = ContrastiveEpochMetrics {
            epoch,
            lr,
            loss: sums.total / n,
            queries: sums.queries.iter().map(|s| s / n).collect(),
            ddm: sums.ddm.map(|s| s / n),
            mining: phase(cfg, epoch),
            accuracy: sums.accuracy / n,
            batches: seen_batches,
            samples_per_s: samples as f64 / seconds.max(1e-9),
            seconds,
            knn: kept.map(|e| e.knn),
            features: kept.map(|e| e.features),
            recalibrated: recal,
        };
        save(&model, &optim, state)?;
        metrics.append(&m)?;
        progress(Progress::ContrastiveEpoch(Box::new(m)));
        if stop.load(Ordering::SeqCst) {
            break;
        }
    }
    Ok(PretrainOutcome {
        interrupted: state.epoch < cfg.optim.epochs,
        state,
        last: None,
    })
}
