//! CrosSCLR pre-training (`method = "crossclr"`; `LinguoLi/CrosSCLR`,
//! `processor/pretrain_crossclr_3views.py`) in the MoCo-family loop
//! ([`crate::pretrain_moco`]): per batch a query and a key view of the joint clips (the
//! motion and bone streams computed from them inside the model), with `masking.plugin =
//! "asma"` ASMa's masked views as extra queries of every stream; one step updates every
//! stream ([`asma_model::crossclr`]).
//!
//! Downstream, each stream is its own run directory under the pre-training run:
//! `joint/`, `motion/`, `bone/`, each with its query encoder as `encoder_q.safetensors` and a
//! `config.json` naming its stream, so `asma linear` and `asma finetune` take
//! `init.from = "<run>/motion"` as they take a SkeletonCLR run, and the three streams' scores
//! fuse as ASMa's do.

use std::path::PathBuf;

use asma_data::pipeline::loader::Batch;
use asma_data::pipeline::stream::Stream;
use asma_data::write_atomic;
use asma_model::burn::optim::{GradientsParams, ModuleOptimizer};
use asma_model::burn::tensor::{Device, Tensor};
use asma_model::crossclr::{CrossMining, CrossclrModel, CrossclrModelConfig};
use asma_model::moco::QueryView;
use asma_model::weights::save_module;
use asma_model::{ModelError, StgcnEncoder};

use crate::checkpoint::RunDir;
use crate::config::PretrainConfig;
use crate::error::TrainError;
use crate::pretrain_moco::{batch_views, check_queue, phase, queue_ptr, ComparedMethod, StepLog};

/// The model configuration of a CrosSCLR run: `model.encoder`, `moco` and `crossclr`.
pub fn model_config(cfg: &PretrainConfig) -> CrossclrModelConfig {
    CrossclrModelConfig {
        encoder: cfg.model.encoder.clone(),
        moco: cfg.moco.clone(),
        crossclr: cfg.crossclr.clone(),
    }
}

/// CrosSCLR's own checks: MoCo's queue, two or three streams, computed from joint clips.
fn check(cfg: &PretrainConfig) -> Result<(), TrainError> {
    check_queue(cfg)?;
    if !matches!(cfg.crossclr.views, 2 | 3) {
        return Err(TrainError::Config(format!(
            "crossclr.views = {}: CrosSCLR trains 2 streams (joint, motion) or 3 (joint, motion, bone)",
            cfg.crossclr.views
        )));
    }
    if cfg.data.stream != Stream::Joint {
        return Err(TrainError::Config(format!(
            "data.stream = \"{}\": CrosSCLR reads the joint stream and computes motion and bone from it; set data.stream = \"joint\"",
            cfg.data.stream
        )));
    }
    if cfg.crossclr.topk == 0 || cfg.crossclr.topk > cfg.moco.queue_size {
        return Err(TrainError::Config(format!(
            "crossclr.topk = {} must be between 1 and moco.queue_size ({})",
            cfg.crossclr.topk, cfg.moco.queue_size
        )));
    }
    Ok(())
}

/// The streams of a run, in the model's order.
fn streams(cfg: &PretrainConfig) -> &'static [Stream] {
    &Stream::ALL[..cfg.crossclr.views]
}

/// A stream's run directory (`<run>/<stream>/`).
pub fn stream_dir(run: &RunDir, stream: Stream) -> PathBuf {
    run.root.join(stream.name())
}

/// Each stream's directory with a `config.json` that names the stream (the run's config with
/// `data.stream` set to it), which the downstream commands check against their own stream.
fn write_stream_dirs(cfg: &PretrainConfig, run: &RunDir) -> Result<(), TrainError> {
    for &s in streams(cfg) {
        let dir = stream_dir(run, s);
        std::fs::create_dir_all(&dir).map_err(|e| TrainError::io(&dir, e))?;
        let mut own = cfg.clone();
        own.data.stream = s;
        write_atomic(
            &dir.join("config.json"),
            &serde_json::to_vec_pretty(&own).unwrap(),
        )?;
    }
    Ok(())
}

/// One optimiser step of CrosSCLR: the key encoders' momentum update (the motion stream's
/// only in the cross phase, unless `momentum_all`), every stream's loss (with `cross`, the
/// cross-view mined positives and context), the optimiser step, each stream's keys into its
/// queue at `ptr` (on a non-finite loss neither: the caller stops).
pub fn train_step(
    model: CrossclrModel,
    optim: &mut ModuleOptimizer,
    lr: f64,
    queries: Vec<QueryView>,
    key: Tensor<5>,
    cross: Option<CrossMining>,
    ptr: usize,
) -> Result<(CrossclrModel, StepLog), TrainError> {
    let model = model.momentum_update(cross.is_some(), cross.is_some_and(|c| c.momentum_all));
    let loss = model.loss(queries, key, cross);
    let log = StepLog::read(&loss.total, loss.accuracy, None, &loss.per_view)?;
    // A non-finite loss: no step (the loop stops with an error and keeps the last checkpoint).
    if !log.total.is_finite() {
        return Ok((model, log));
    }
    let grads = GradientsParams::from_grads(loss.total.backward(), &model);
    let model = optim.step(lr, model, grads);
    Ok((model.enqueue(loss.keys, ptr), log))
}

impl ComparedMethod for CrossclrModel {
    fn check(cfg: &PretrainConfig) -> Result<(), TrainError> {
        check(cfg)
    }

    /// Each stream's directory and its `config.json`.
    fn prepare(cfg: &PretrainConfig, run: &RunDir) -> Result<(), TrainError> {
        write_stream_dirs(cfg, run)
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
        let c = &cfg.crossclr;
        let cross = phase(cfg, epoch).then_some(CrossMining {
            topk: c.topk,
            context: c.context,
            momentum_all: c.cross_momentum_all,
        });
        let (queries, key, _) = batch_views(batch, device, None);
        train_step(self, optim, lr, queries, key, cross, queue_ptr(cfg, step))
    }

    /// The joint stream's query encoder (the k-NN monitor reads `data.stream`, the joints).
    fn monitored(&self) -> &StgcnEncoder {
        &self.encoder_q.encoder
    }

    /// Each stream's query encoder as `<stream>/encoder_q.safetensors`.
    fn export(&self, run: &RunDir) -> Result<(), ModelError> {
        let mut encoders = vec![
            (Stream::Joint, &self.encoder_q.encoder),
            (Stream::Motion, &self.encoder_q_motion.encoder),
        ];
        if let Some(b) = &self.encoder_q_bone {
            encoders.push((Stream::Bone, &b.encoder));
        }
        for (s, e) in encoders {
            save_module(e, &stream_dir(run, s).join("encoder_q.safetensors"))?;
        }
        Ok(())
    }
}
