//! MS²L pre-training (`method = "ms2l"`; `LanglandsLin/MS2L`, `procedure.py`,
//! `MS2LProcessor`) in the loop the compared methods share ([`crate::pretrain_moco`]): per
//! batch the clips (augmented by `augment`, none in MS²L's presets) and, with
//! `masking.plugin = "asma"`, ASMa's masked views; the model makes the masked and jigsaw views
//! itself ([`asma_model::ms2l`]). One step: the three losses, the gradients clipped per module
//! (encoder, motion head, jigsaw head, contrastive head, each to `ms2l.clip_gradient`, as
//! MS²L's `train_epoch`), the optimiser step (Adam in the presets).
//!
//! The jigsaw permutations are drawn per clip from the run seed and the step, so a resumed run
//! draws the same ones. The encoder is exported as `encoder.safetensors` (PyTorch-named),
//! which the downstream commands load like a SkeletonCLR run's `encoder_q.safetensors`.

use asma_data::pipeline::loader::Batch;
use asma_data::rng::Rng;
use asma_model::burn::optim::{GradientsParams, ModuleOptimizer};
use asma_model::burn::tensor::{Device, Tensor};
use asma_model::moco::QueryView;
use asma_model::ms2l::{Ms2lModel, Ms2lModelConfig};
use asma_model::weights::save_module;
use asma_model::{ModelError, StgcnEncoder};

use crate::checkpoint::RunDir;
use crate::config::PretrainConfig;
use crate::error::TrainError;
use crate::features::to_tensor;
use crate::grad_clip::clip_grad_norm;
use crate::pretrain_moco::{query_views, ComparedMethod, StepLog};

/// The model configuration of an MS²L run: `model.encoder` and `ms2l`.
pub fn model_config(cfg: &PretrainConfig) -> Ms2lModelConfig {
    Ms2lModelConfig {
        encoder: cfg.model.encoder.clone(),
        ms2l: cfg.ms2l.clone(),
    }
}

/// The jigsaw permutation (below `seg_num!`) of each of `n` clips at optimiser step `step`.
pub fn jigsaw_labels(run_seed: u64, step: usize, n: usize, seg_num: usize) -> Vec<usize> {
    // A stream of its own: the dropout draws use `Rng::derive(run_seed, step)` too.
    let mut rng = Rng::derive(run_seed ^ 0x6a69_6773_6177, step as u64);
    let classes: usize = (1..=seg_num).product();
    (0..n).map(|_| rng.below(classes)).collect()
}

/// One optimiser step of MS²L: the loss of the clips `x` with the jigsaw `labels` and the
/// plug-in's views, the gradients clipped per module to `max_norm`, the optimiser step. Logs
/// the three terms (motion, jigsaw, contrastive) and the contrastive accuracy; on a
/// non-finite loss no step (the caller stops).
pub fn train_step(
    model: Ms2lModel,
    optim: &mut ModuleOptimizer,
    lr: f64,
    x: Tensor<5>,
    labels: &[usize],
    extra: Vec<QueryView>,
    max_norm: f64,
) -> Result<(Ms2lModel, StepLog), TrainError> {
    let loss = model.loss(x, labels, extra);
    let terms = [loss.motion, loss.jigsaw, loss.contrastive];
    let log = StepLog::read(&loss.total, loss.accuracy, None, &terms)?;
    // A non-finite loss: no step (the loop stops with an error and keeps the last checkpoint).
    if !log.total.is_finite() {
        return Ok((model, log));
    }
    let mut grads = GradientsParams::from_grads(loss.total.backward(), &model);
    clip_grad_norm(&mut grads, &model.encoder, max_norm)?;
    clip_grad_norm(&mut grads, &model.motion_head, max_norm)?;
    clip_grad_norm(&mut grads, &model.jigsaw_head, max_norm)?;
    clip_grad_norm(&mut grads, &model.contra_head, max_norm)?;
    Ok((optim.step(lr, model, grads), log))
}

impl ComparedMethod for Ms2lModel {
    fn check(cfg: &PretrainConfig) -> Result<(), TrainError> {
        if cfg.optim.batch_size < 2 {
            return Err(TrainError::Config(
                "ms2l: optim.batch_size must be ≥ 2 (its projectors' BatchNorm and its contrastive loss compare the batch's clips)".into(),
            ));
        }
        Ok(())
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
        _epoch: usize,
        step: usize,
    ) -> Result<(Self, StepLog), TrainError> {
        let mut views = batch.views.into_iter();
        let x = to_tensor(views.next().expect("the clips"), device);
        let [n, c, _, v, m] = x.dims();
        if c * v * m != cfg.ms2l.input_size {
            return Err(TrainError::Config(format!(
                "ms2l.input_size = {} but the data has {c} × {v} × {m} = {} values per frame",
                cfg.ms2l.input_size,
                c * v * m
            )));
        }
        let labels = jigsaw_labels(cfg.run.seed, step, n, cfg.ms2l.seg_num);
        let extra = query_views(views, device);
        train_step(self, optim, lr, x, &labels, extra, cfg.ms2l.clip_gradient)
    }

    fn monitored(&self) -> &StgcnEncoder {
        &self.encoder
    }

    /// The encoder as `encoder.safetensors`.
    fn export(&self, run: &RunDir) -> Result<(), ModelError> {
        save_module(&self.encoder, &run.root.join("encoder.safetensors"))
    }
}
