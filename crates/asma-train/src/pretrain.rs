//! The ASMa pre-training loop (docs/METHOD.md §5–6): per batch, each branch gets an anchor, a
//! temporally masked and a spatially masked view with its own augmentation draws; the loss
//! is Σ_branches BT(anchor, temporal) + BT(anchor, spatial); Adam with L2 weight decay and a
//! warm-up + cosine learning rate set per epoch.
//!
//! Exact resume: the loader's order and draws are functions of (seed, epoch, batch), dropout
//! is reseeded per step from (seed, step), and the checkpoint holds the parameters, the
//! BatchNorm statistics and Adam's moments by parameter id. So `E` epochs in one go and
//! `k` epochs + resume give the same losses.
//!
//! With several `run.devices` each batch is split over them (the `parallel` module): every
//! shard computes its own Barlow Twins loss over its samples (as DDP without an all-gather),
//! weighted by its share of the batch; one device is the loss above, unchanged.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use asma_data::pipeline::loader::{
    FrameMaskSetting, JointMaskSetting, Loader, LoaderConfig, SkeletonDataset, ViewConfig,
};
use asma_data::pipeline::mask::{FrameMask, JointMask};
use asma_data::prepare::splits::Part;
use asma_model::asma::{AsmaPretrainModel, BranchViews};
use asma_model::burn::module::Module;
use asma_model::burn::optim::{GradientsParams, ModuleOptimizer};
use asma_model::burn::store::ModuleSnapshot;
use asma_model::burn::tensor::{Device, Tensor};
use asma_model::weights::save_module;
use asma_model::StgcnEncoder;
use serde::Serialize;

use crate::bn_stats;
use crate::checkpoint::{load_model_and_optim, save_model_and_optim, RunDir, TrainState};
use crate::config::{Method, Plugin, PluginViews, PretrainConfig};
use crate::diagnostics::FeatureDiagnostics;
use crate::error::TrainError;
use crate::features::{extract, to_tensor};
use crate::knn::knn_top1;
use crate::metrics::MetricsLog;
use crate::parallel;
use crate::pretrain_moco::ContrastiveEpochMetrics;
use crate::seed::seed_step;

/// k-NN top-1 of f_θ, f_φ and their concatenation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct KnnResult {
    pub theta: f64,
    pub phi: f64,
    pub both: f64,
}

/// Something measured once per encoder.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PerEncoder<T> {
    pub theta: T,
    pub phi: T,
}

/// Barlow Twins' terms of one branch over an epoch (means over its batches and its two view
/// pairs): learning shows as the off-diagonal term falling while the mean diagonal of the
/// cross-correlation approaches 1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BarlowDiagnostics {
    pub on_diagonal: f64,
    /// Unweighted `Σ_{i≠j} C_ij²` (the loss weighs it by λ).
    pub off_diagonal: f64,
    pub mean_diagonal: f64,
}

/// A k-NN evaluation of one encoder: top-1 and its val features' diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EncoderEvaluation {
    pub knn: f64,
    pub features: FeatureDiagnostics,
}

/// A k-NN evaluation: top-1 and the collapse diagnostics of the val features.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Evaluation {
    pub knn: KnnResult,
    pub features: PerEncoder<FeatureDiagnostics>,
}

/// The baselines measured before step 1 (`knn.at_start`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Baseline {
    /// The encoders as initialised: BatchNorm statistics untouched (mean 0, variance 1).
    Random,
    /// The fair baseline: the same weights, BatchNorm statistics estimated on the training
    /// split ([`crate::bn_stats`]).
    RandomBnEstimated,
}

/// One line of `metrics.jsonl`.
#[derive(Debug, Clone, Serialize)]
pub struct EpochMetrics {
    pub epoch: usize,
    pub lr: f64,
    /// Mean total loss over the epoch's batches.
    pub loss: f64,
    pub theta_anchor_temporal: f64,
    pub theta_anchor_spatial: f64,
    pub phi_anchor_temporal: f64,
    pub phi_anchor_spatial: f64,
    pub batches: usize,
    pub samples_per_s: f64,
    pub seconds: f64,
    /// Barlow Twins' terms apart, per branch.
    pub bt: PerEncoder<BarlowDiagnostics>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub knn: Option<KnnResult>,
    /// Collapse diagnostics of the val features, with every k-NN evaluation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub features: Option<PerEncoder<FeatureDiagnostics>>,
    /// The same evaluation with BatchNorm statistics re-estimated on the training split
    /// (`knn.recalibrate`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recalibrated: Option<Evaluation>,
}

/// Progress events.
#[derive(Debug, Clone)]
pub enum Progress {
    Batch {
        epoch: usize,
        batch: usize,
        batches: usize,
        loss: f64,
    },
    Epoch(Box<EpochMetrics>),
    /// An epoch of a single-encoder method (SkeletonCLR).
    ContrastiveEpoch(Box<ContrastiveEpochMetrics>),
    /// A baseline's evaluation before step 1.
    KnnAtStart(Baseline, Evaluation),
    /// The same, of a single-encoder method.
    EncoderKnnAtStart(Baseline, EncoderEvaluation),
    Resumed(TrainState),
}

/// How a run ended.
#[derive(Debug, Clone)]
pub struct PretrainOutcome {
    pub state: TrainState,
    pub interrupted: bool,
    /// The last epoch's metrics of an ASMa run (`None` for the other methods, whose
    /// metrics come through [`Progress::ContrastiveEpoch`]).
    pub last: Option<EpochMetrics>,
}

/// The burn device for a config name.
pub fn device(name: &str) -> Result<Device, TrainError> {
    asma_model::device::select(name).map_err(TrainError::Model)
}

fn views(cfg: &PretrainConfig) -> Vec<ViewConfig> {
    let view = |frame: FrameMask, joint: JointMask| ViewConfig {
        transforms: cfg.augment.clone(),
        per_sample: cfg.augment_per_sample,
        frame_mask: FrameMaskSetting(frame),
        joint_mask: JointMaskSetting(joint),
        with_motion: false,
    };
    let (theta, phi) = (cfg.masking.theta, cfg.masking.phi);
    match cfg.method {
        // θ's anchor, temporal-masked and spatial-masked views, then φ's.
        Method::Asma => [theta, phi]
            .into_iter()
            .flat_map(|m| {
                [
                    view(FrameMask::None, JointMask::None),
                    view(m.frame, JointMask::None),
                    view(FrameMask::None, m.joint),
                ]
            })
            .collect(),
        // MS²L: the clip (its masked and jigsaw views are made from it in the model), then the
        // plug-in's views. The MoCo family: the query, the key, AimCLR's extreme view, then
        // the plug-in's queries.
        Method::Skeletonclr | Method::Aimclr | Method::Crossclr | Method::Ms2l => {
            let mut v = vec![view(FrameMask::None, JointMask::None)];
            if cfg.method.is_moco() {
                v.push(view(FrameMask::None, JointMask::None));
            }
            if cfg.method == Method::Aimclr {
                v.push(ViewConfig {
                    transforms: cfg.aimclr.extreme_augment.clone(),
                    ..view(FrameMask::None, JointMask::None)
                });
            }
            // CrosSCLR derives its motion stream from the joint clips it is given; a
            // frame-masked view brings its motion from before the mask.
            let plugin = |frame: FrameMask, joint: JointMask| ViewConfig {
                with_motion: cfg.method == Method::Crossclr && frame != FrameMask::None,
                ..view(frame, joint)
            };
            match (cfg.masking.plugin, cfg.masking.plugin_views) {
                (Plugin::None, _) => {}
                (Plugin::Asma, PluginViews::Combined) => {
                    v.extend([theta, phi].map(|m| plugin(m.frame, m.joint)));
                }
                (Plugin::Asma, PluginViews::Separate) => {
                    for m in [theta, phi] {
                        v.push(plugin(m.frame, JointMask::None));
                        v.push(plugin(FrameMask::None, m.joint));
                    }
                }
            }
            v
        }
    }
}

/// The loader settings of pre-training with `cfg`: batches of `optim.batch_size`, shuffled
/// by `run.seed`, each view with `augment`: for ASMa six views per batch (θ's anchor,
/// temporal-masked and spatial-masked views, then φ's), for SkeletonCLR the query, the key
/// and the plug-in's views. `asma bench loader` measures this same loader.
pub fn loader_config(cfg: &PretrainConfig) -> LoaderConfig {
    LoaderConfig {
        batch_size: cfg.optim.batch_size,
        shuffle: true,
        drop_last: cfg.optim.drop_last,
        seed: cfg.run.seed,
        stream: cfg.data.stream,
        prefetch: cfg.run.prefetch,
        mask: cfg.masking.sizes,
        views: views(cfg),
    }
}

fn check(cfg: &PretrainConfig) -> Result<(), TrainError> {
    // A branch with neither mask is plain Barlow Twins between augmented views (the
    // ablation's "no masking" row); without augmentation too its three views would be the
    // same clip and the invariance term zero from the start, which teaches nothing.
    for (name, m) in [("theta", cfg.masking.theta), ("phi", cfg.masking.phi)] {
        if m.frame == FrameMask::None && m.joint == JointMask::None && cfg.augment.is_empty() {
            return Err(TrainError::Config(format!(
                "masking.{name}: a branch with neither a joint nor a frame mask needs `augment`, or its three views are the same clip"
            )));
        }
    }
    if cfg.masking.plugin != Plugin::None {
        return Err(TrainError::Config(
            "masking.plugin adds ASMa's masks to another method; method = \"asma\" has them already".into(),
        ));
    }
    if cfg.optim.epochs == 0 || cfg.optim.batch_size < 2 {
        return Err(TrainError::Config("optim.epochs must be ≥ 1 and optim.batch_size ≥ 2 (Barlow Twins standardises over the batch)".into()));
    }
    Ok(())
}

/// Runs (or, with `resume`, continues) pre-training in `cfg.run.dir`. `stop` is polled after
/// every step: when set, a checkpoint is written and the function returns.
pub fn pretrain(
    cfg: &PretrainConfig,
    resume: bool,
    stop: &AtomicBool,
    progress: &dyn Fn(Progress),
) -> Result<PretrainOutcome, TrainError> {
    if cfg.method.is_single_encoder() {
        return crate::pretrain_moco::pretrain(cfg, resume, stop, progress);
    }
    check(cfg)?;
    let run = RunDir::new(&cfg.run.dir);
    std::fs::create_dir_all(&run.root).map_err(|e| TrainError::io(&run.root, e))?;
    let devices = cfg.run.resolve_devices(cfg.optim.batch_size)?;
    if devices.len() > 1 && cfg.optim.batch_size < 2 * devices.len() {
        return Err(TrainError::Config(format!(
            "run.devices: pre-training on {} devices needs optim.batch_size ≥ {} (each shard's Barlow Twins loss standardises over its own samples)",
            devices.len(),
            2 * devices.len()
        )));
    }
    let base = devices[0].clone();
    let ad = base.clone().autodiff();
    let Data { train, val, loader } = open_data(cfg)?;

    ad.seed(cfg.run.seed);
    let mut model: AsmaPretrainModel = cfg.model.init(&ad);
    let mut optim: ModuleOptimizer = cfg.optim.optimizer();
    let metrics = MetricsLog::new(&run.metrics());

    let (mut state, fresh) = open_run(
        &run, cfg, resume, &mut model, &mut optim, &metrics, progress,
    )?;
    if fresh && cfg.knn.every > 0 && cfg.knn.at_start {
        let val = val.as_ref().expect("opened when knn.every > 0");
        let random = knn_eval_as_is(&model, cfg, &train, val, &base)?;
        let fair = knn_eval_recalibrated(&model, cfg, &train, val, &base, &ad)?;
        for (baseline, e) in [
            (Baseline::Random, random),
            (Baseline::RandomBnEstimated, fair),
        ] {
            append_baseline(&metrics, baseline, e.knn, e.features)?;
            progress(Progress::KnnAtStart(baseline, e));
        }
    }

    let schedule = cfg.optim.schedule();
    let batches = loader.batches_per_epoch();
    let mut last = None;
    while state.epoch < cfg.optim.epochs {
        let epoch = state.epoch;
        let lr = schedule.lr(epoch);
        let order = loader.order(epoch as u64);
        let started = Instant::now();
        let mut sums = [0f64; PARTS];
        let (mut seen_batches, mut samples) = (0usize, 0usize);
        for b in state.batch..batches {
            let batch = loader.batch(epoch as u64, &order, b)?;
            let samples_in_batch = batch.samples.len();
            let non_finite = |value, step| TrainError::NonFinite {
                epoch,
                step,
                value,
                run: run.root.clone(),
            };
            let parts: Vec<f64> = if devices.len() > 1 {
                let (m, parts) = step_parallel(
                    model,
                    &mut optim,
                    lr,
                    &devices,
                    &batch,
                    (cfg.run.seed, state.step),
                    &non_finite,
                )?;
                model = m;
                parts
            } else {
                seed_step(&ad, cfg.run.seed, state.step);
                let (total, logged) = batch_loss(&model, batch.views, &ad);
                let parts = read_parts(logged)?;
                if !parts[0].is_finite() {
                    return Err(non_finite(parts[0], state.step));
                }
                let grads = GradientsParams::from_grads(total.backward(), &model);
                model = optim.step(lr, model, grads);
                parts.into_iter().map(f64::from).collect()
            };
            let value = parts[0];
            for (s, p) in sums.iter_mut().zip(parts) {
                *s += p;
            }
            seen_batches += 1;
            samples += samples_in_batch;
            state.step += 1;
            state.batch = b + 1;
            progress(Progress::Batch {
                epoch,
                batch: b,
                batches,
                loss: value,
            });
            if stop.load(Ordering::SeqCst) && state.batch < batches {
                save_asma_checkpoint(&run, &model, &optim, state)?;
                return Ok(PretrainOutcome {
                    state,
                    interrupted: true,
                    last,
                });
            }
        }
        state.epoch += 1;
        state.batch = 0;
        let seconds = started.elapsed().as_secs_f64();
        let n = seen_batches.max(1) as f64;
        let (eval, recalibrated) = if knn_due(cfg, state.epoch) {
            let val = val.as_ref().expect("opened when knn.every > 0");
            let kept = knn_eval_as_is(&model, cfg, &train, val, &base)?;
            let recalibrated = match cfg.knn.recalibrate {
                true => Some(knn_eval_recalibrated(&model, cfg, &train, val, &base, &ad)?),
                false => None,
            };
            (Some(kept), recalibrated)
        } else {
            (None, None)
        };
        let bt = |at: usize| BarlowDiagnostics {
            on_diagonal: sums[at] / n,
            off_diagonal: sums[at + 1] / n,
            mean_diagonal: sums[at + 2] / n,
        };
        let m = EpochMetrics {
            epoch,
            lr,
            loss: sums[0] / n,
            theta_anchor_temporal: sums[1] / n,
            theta_anchor_spatial: sums[2] / n,
            phi_anchor_temporal: sums[3] / n,
            phi_anchor_spatial: sums[4] / n,
            batches: seen_batches,
            samples_per_s: samples as f64 / seconds.max(1e-9),
            seconds,
            bt: PerEncoder {
                theta: bt(5),
                phi: bt(8),
            },
            knn: eval.map(|e| e.knn),
            features: eval.map(|e| e.features),
            recalibrated,
        };
        save_asma_checkpoint(&run, &model, &optim, state)?;
        metrics.append(&m)?;
        progress(Progress::Epoch(Box::new(m.clone())));
        last = Some(m);
        if stop.load(Ordering::SeqCst) {
            return Ok(PretrainOutcome {
                state,
                interrupted: state.epoch < cfg.optim.epochs,
                last,
            });
        }
    }
    Ok(PretrainOutcome {
        state,
        interrupted: false,
        last,
    })
}

/// One data-parallel step of `batch` over `devices` ([`crate::parallel`]): each shard of at
/// least two samples computes its own Barlow Twins loss, weighted by its share of the batch,
/// with dropout drawn from (seed, step, shard). Returns the updated model and the five logged
/// parts (shard-weighted sums); a shard's non-finite loss is `non_finite(value, step)`.
pub(crate) fn step_parallel(
    model: AsmaPretrainModel,
    optim: &mut ModuleOptimizer,
    lr: f64,
    devices: &[Device],
    batch: &asma_data::pipeline::loader::Batch,
    (seed, step): (u64, usize),
    non_finite: &(dyn Fn(f32, usize) -> TrainError + Sync),
) -> Result<(AsmaPretrainModel, Vec<f64>), TrainError> {
    let shards = parallel::shards(batch.samples.len(), devices.len(), 2);
    let shard_step = |m: &AsmaPretrainModel,
                      shard: &parallel::Shard,
                      dev: &Device|
     -> Result<(Tensor<1>, Vec<f64>), TrainError> {
        parallel::seed_shard(dev, seed, step, shard.index);
        let views = batch
            .views
            .iter()
            .map(|v| parallel::view_rows(v, shard.rows.clone()))
            .collect();
        let (total, logged) = batch_loss(m, views, dev);
        let parts = read_parts(logged)?;
        if !parts[0].is_finite() {
            return Err(non_finite(parts[0], step));
        }
        let w = shard.weight;
        let parts = parts.iter().map(|&p| p as f64 * w).collect();
        Ok((total.mul_scalar(w), parts))
    };
    let (model, outs) = parallel::step(model, optim, lr, devices, &shards, shard_step)?;
    let parts = (0..PARTS)
        .map(|i| outs.iter().map(|o| o[i]).sum())
        .collect();
    Ok((model, parts))
}

/// Number of logged parts of a batch's loss ([`batch_loss`]).
pub(crate) const PARTS: usize = 11;

/// The loss of one batch (or shard) of the six views on `device`, and its [`PARTS`] logged
/// parts `[total, θ anchor–temporal, θ anchor–spatial, φ anchor–temporal, φ anchor–spatial,
/// θ on-diagonal, θ off-diagonal, θ mean diagonal, φ on-diagonal, φ off-diagonal, φ mean
/// diagonal]` (detached, one tensor: one read-back, since each read waits for the device).
pub(crate) fn batch_loss(
    model: &AsmaPretrainModel,
    views: Vec<asma_data::pipeline::loader::View>,
    device: &Device,
) -> (Tensor<1>, Tensor<1>) {
    // Views in the order of `views()`: θ anchor, temporal, spatial, then φ's.
    let branch = |v: &mut std::vec::IntoIter<asma_data::pipeline::loader::View>| {
        let (a, t, s) = (v.next().unwrap(), v.next().unwrap(), v.next().unwrap());
        let keep_joints = s.joints.kept.clone();
        BranchViews {
            anchor: to_tensor(a, device),
            temporal: to_tensor(t, device),
            spatial: to_tensor(s, device),
            keep_joints,
        }
    };
    let mut views = views.into_iter();
    let lt = model.theta.loss(branch(&mut views));
    let lp = model.phi.loss(branch(&mut views));
    let total = lt.total.clone() + lp.total.clone();
    let logged = Tensor::cat(
        vec![
            total.clone().detach(),
            lt.anchor_temporal.detach(),
            lt.anchor_spatial.detach(),
            lp.anchor_temporal.detach(),
            lp.anchor_spatial.detach(),
            lt.on_diagonal.detach(),
            lt.off_diagonal.detach(),
            lt.mean_diagonal.detach(),
            lp.on_diagonal.detach(),
            lp.off_diagonal.detach(),
            lp.mean_diagonal.detach(),
        ],
        0,
    );
    (total, logged)
}

pub(crate) fn read_parts(logged: Tensor<1>) -> Result<Vec<f32>, TrainError> {
    logged
        .into_data()
        .try_into_vec::<f32>()
        .map_err(|e| TrainError::Config(format!("reading the loss: {e:?}")))
}

/// A pre-training run's data.
pub(crate) struct Data {
    pub train: Arc<SkeletonDataset>,
    /// The k-NN monitor's test side (with `knn.every > 0`), opened once for the run.
    pub val: Option<Arc<SkeletonDataset>>,
    pub loader: Loader,
}

/// Opens `cfg.data.dir`'s splits and the training loader, checked: the class count, at
/// least one batch per epoch.
pub(crate) fn open_data(cfg: &PretrainConfig) -> Result<Data, TrainError> {
    let train = Arc::new(cfg.data.open(Part::Train)?);
    train.check_num_classes(cfg.data.num_classes)?;
    let val = match cfg.knn.every {
        0 => None,
        _ => Some(Arc::new(cfg.data.open(Part::Val)?)),
    };
    let loader = Loader::new(train.clone(), loader_config(cfg))?;
    if loader.batches_per_epoch() == 0 {
        return Err(TrainError::Config(format!(
            "the training split has {} clips, fewer than one batch of {} (optim.drop_last is on)",
            train.len(),
            cfg.optim.batch_size
        )));
    }
    Ok(Data { train, val, loader })
}

/// A baseline's line of `metrics.jsonl`: `epoch` null, `init` naming the baseline, its k-NN
/// top-1 and feature diagnostics (one encoder's or per encoder).
pub(crate) fn append_baseline(
    metrics: &MetricsLog,
    baseline: Baseline,
    knn: impl Serialize,
    features: impl Serialize,
) -> Result<(), TrainError> {
    metrics.append(&serde_json::json!({
        "epoch": null, "init": baseline, "knn": knn, "features": features
    }))
}

/// Whether the k-NN monitor runs after `epochs_done` epochs: every `knn.every`, and after the
/// last.
pub(crate) fn knn_due(cfg: &PretrainConfig, epochs_done: usize) -> bool {
    cfg.knn.every > 0
        && (epochs_done.is_multiple_of(cfg.knn.every) || epochs_done == cfg.optim.epochs)
}

/// Resumes the run in `run` from its latest checkpoint (into `model` and `optim`, checked
/// against the saved `config.json`: same method, model and stream) or starts it afresh
/// (writes `config.json`, clears `metrics.jsonl`). Returns where training continues and
/// whether the run is new.
pub(crate) fn open_run<M: Module + ModuleSnapshot>(
    run: &RunDir,
    cfg: &PretrainConfig,
    resume: bool,
    model: &mut M,
    optim: &mut ModuleOptimizer,
    metrics: &MetricsLog,
    progress: &dyn Fn(Progress),
) -> Result<(TrainState, bool), TrainError> {
    if !resume {
        std::fs::write(run.config(), serde_json::to_vec_pretty(cfg).unwrap())
            .map_err(|e| TrainError::io(run.config(), e))?;
        let _ = std::fs::remove_file(run.metrics());
        return Ok((TrainState::default(), true));
    }
    let dir = run.latest().ok_or_else(|| TrainError::Checkpoint {
        path: run.checkpoint(),
        msg: "no checkpoint to resume from".into(),
    })?;
    let saved: PretrainConfig = read_json(&run.config())?;
    if saved.method != cfg.method
        || saved.model != cfg.model
        || saved.moco != cfg.moco
        || saved.aimclr != cfg.aimclr
        || saved.data.stream != cfg.data.stream
    {
        return Err(TrainError::Checkpoint {
            path: run.config(),
            msg: "the run was started with another method, model or stream; resume with the same configuration".into(),
        });
    }
    let state = RunDir::read_state(&dir)?;
    load_model_and_optim(model, optim, &dir)?;
    metrics.truncate_from(state.epoch)?;
    progress(Progress::Resumed(state));
    Ok((state, false))
}

pub(crate) fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, TrainError> {
    let bytes = std::fs::read(path).map_err(|e| TrainError::io(path, e))?;
    serde_json::from_slice(&bytes).map_err(|e| TrainError::Checkpoint {
        path: path.to_path_buf(),
        msg: e.to_string(),
    })
}

/// Writes the checkpoint (parameters, BatchNorm statistics, optimiser state) and then
/// `export`s the user-facing weights (PyTorch-named encoders) of the synced model.
pub(crate) fn save_checkpoint<M: Module + ModuleSnapshot>(
    run: &RunDir,
    model: &M,
    optim: &ModuleOptimizer,
    state: TrainState,
    export: impl FnOnce(&M) -> Result<(), asma_model::ModelError>,
) -> Result<(), TrainError> {
    // burn keeps the latest BatchNorm running statistics per thread until a sync; `valid()`
    // syncs them (a plain save would store the statistics of one step earlier).
    let model = &model.valid();
    run.write_checkpoint(state, |dir| save_model_and_optim(model, optim, dir))?;
    export(model)?;
    Ok(())
}

/// ASMa's exports: `encoder_theta.safetensors`, `encoder_phi.safetensors`.
fn save_asma_checkpoint(
    run: &RunDir,
    model: &AsmaPretrainModel,
    optim: &ModuleOptimizer,
    state: TrainState,
) -> Result<(), TrainError> {
    save_checkpoint(run, model, optim, state, |m| {
        save_module(&m.theta.encoder, &run.encoder("theta"))?;
        save_module(&m.phi.encoder, &run.encoder("phi"))
    })
}

/// [`knn_eval`] of the model's encoders with the BatchNorm statistics they have.
fn knn_eval_as_is(
    model: &AsmaPretrainModel,
    cfg: &PretrainConfig,
    train: &Arc<SkeletonDataset>,
    val: &Arc<SkeletonDataset>,
    device: &Device,
) -> Result<Evaluation, TrainError> {
    knn_eval(
        &model.theta.encoder,
        &model.phi.encoder,
        cfg,
        train,
        val,
        device,
    )
}

/// [`knn_eval`] of copies of the model's encoders whose BatchNorm statistics are estimated
/// on the training split ([`crate::bn_stats`]); the model itself is left as it is. Of the
/// encoders as initialised, this is the fair baseline.
fn knn_eval_recalibrated(
    model: &AsmaPretrainModel,
    cfg: &PretrainConfig,
    train: &Arc<SkeletonDataset>,
    val: &Arc<SkeletonDataset>,
    device: &Device,
    ad: &Device,
) -> Result<Evaluation, TrainError> {
    let [theta, phi] = recalibrated([&model.theta.encoder, &model.phi.encoder], cfg, train, ad)?;
    knn_eval(&theta, &phi, cfg, train, val, device)
}

/// Copies of `encoders` with BatchNorm statistics estimated on the training split.
pub(crate) fn recalibrated<const E: usize>(
    encoders: [&StgcnEncoder; E],
    cfg: &PretrainConfig,
    train: &Arc<SkeletonDataset>,
    ad: &Device,
) -> Result<[StgcnEncoder; E], TrainError> {
    let mut copies = encoders.map(bn_stats::detached_copy);
    bn_stats::estimate(
        &mut copies.each_mut(),
        train.clone(),
        cfg.data.stream,
        cfg.optim.batch_size,
        ad,
        cfg.run.seed,
    )?;
    Ok(copies)
}

/// k-NN top-1 (train → val) of the two encoders in eval mode, and their val features'
/// diagnostics.
fn knn_eval(
    theta: &StgcnEncoder,
    phi: &StgcnEncoder,
    cfg: &PretrainConfig,
    train: &Arc<SkeletonDataset>,
    val: &Arc<SkeletonDataset>,
    device: &Device,
) -> Result<Evaluation, TrainError> {
    let (each, both) = knn_eval_encoders(&[theta, phi], cfg, train, val, device)?;
    Ok(Evaluation {
        knn: KnnResult {
            theta: each[0].knn,
            phi: each[1].knn,
            both: both.expect("two encoders"),
        },
        features: PerEncoder {
            theta: each[0].features,
            phi: each[1].features,
        },
    })
}

/// k-NN top-1 (train → val, `knn.k` neighbours) of each encoder in eval mode with its val
/// features' diagnostics, and with several encoders the top-1 of their concatenated features.
pub(crate) fn knn_eval_encoders(
    encoders: &[&StgcnEncoder],
    cfg: &PretrainConfig,
    train: &Arc<SkeletonDataset>,
    val: &Arc<SkeletonDataset>,
    device: &Device,
) -> Result<(Vec<EncoderEvaluation>, Option<f64>), TrainError> {
    let encoders: Vec<StgcnEncoder> = encoders
        .iter()
        .map(|e| e.valid().to_device(device))
        .collect();
    let refs: Vec<&StgcnEncoder> = encoders.iter().collect();
    let bs = cfg.knn.batch_size;
    let ftr = extract(&refs, train.clone(), cfg.data.stream, bs, device)?;
    let fva = extract(&refs, Arc::clone(val), cfg.data.stream, bs, device)?;
    let part = |f: &[Vec<f32>], r: std::ops::Range<usize>| -> Vec<Vec<f32>> {
        f.iter().map(|x| x[r.clone()].to_vec()).collect()
    };
    let (ltr, lva) = (train.labels(), val.labels());
    let k = cfg.knn.k;
    let mut each = Vec::with_capacity(encoders.len());
    let mut at = 0;
    for e in &encoders {
        let r = at..at + e.hidden_dim;
        at = r.end;
        let va = part(&fva, r.clone());
        each.push(EncoderEvaluation {
            knn: knn_top1(&part(&ftr, r), ltr, &va, lva, k),
            features: FeatureDiagnostics::of(&va),
        });
    }
    let both = (encoders.len() > 1).then(|| knn_top1(&ftr, ltr, &fva, lva, k));
    Ok((each, both))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masks(views: &[ViewConfig]) -> Vec<(FrameMask, JointMask)> {
        views
            .iter()
            .map(|v| (v.frame_mask.0, v.joint_mask.0))
            .collect()
    }

    #[test]
    fn each_method_and_plugin_form_has_its_views() {
        use FrameMask as F;
        use JointMask as J;
        let mut cfg = PretrainConfig::default();
        assert_eq!(
            masks(&views(&cfg)),
            [
                (F::None, J::None),
                (F::High, J::None),
                (F::None, J::Low),
                (F::None, J::None),
                (F::Low, J::None),
                (F::None, J::High)
            ]
        );
        cfg.method = Method::Skeletonclr;
        cfg.augment_per_sample = true;
        assert_eq!(masks(&views(&cfg)), [(F::None, J::None); 2]);
        cfg.masking.plugin = Plugin::Asma;
        let v = views(&cfg);
        assert!(v
            .iter()
            .all(|v| v.per_sample && v.transforms == cfg.augment));
        assert_eq!(
            masks(&v)[2..],
            [(F::High, J::Low), (F::Low, J::High)],
            "f_θ's operators together, then f_φ's"
        );
        cfg.masking.plugin_views = PluginViews::Separate;
        assert_eq!(
            masks(&views(&cfg))[2..],
            [
                (F::High, J::None),
                (F::None, J::Low),
                (F::Low, J::None),
                (F::None, J::High)
            ]
        );
        assert!(views(&cfg).iter().all(|v| !v.with_motion));
        // CrosSCLR: the frame-masked plug-in views bring their motion from before the mask.
        cfg.method = Method::Crossclr;
        let with_motion: Vec<bool> = views(&cfg).iter().map(|v| v.with_motion).collect();
        assert_eq!(with_motion, [false, false, true, false, true, false]);
        // AimCLR: the extreme view third, with its own augmentations, drawn per sample too.
        cfg.method = Method::Aimclr;
        let v = views(&cfg);
        assert_eq!(v.len(), 7);
        assert_eq!(v[2].transforms, cfg.aimclr.extreme_augment);
        assert!(v[2].per_sample);
        assert_eq!(masks(&v)[2], (F::None, J::None));
        assert_eq!(masks(&v)[3], (F::High, J::None));
        // ASMa has its masks already; the plug-in key would do nothing there.
        cfg.method = Method::Asma;
        let e = check(&cfg).unwrap_err().to_string();
        assert!(e.contains("masking.plugin"), "{e}");
    }
}
