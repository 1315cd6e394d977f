//! The two downstream protocols behind one interface: linear evaluation trains the head on
//! frozen encodings; fine-tuning trains the whole classifier on loader batches.

use std::path::Path;

use asma_data::pipeline::loader::Loader;
use asma_model::burn::module::Module;
use asma_model::burn::nn::loss::CrossEntropyLossConfig;
use asma_model::burn::optim::{GradientsParams, ModuleOptimizer};
use asma_model::burn::store::ModuleSnapshot;
use asma_model::burn::tensor::{Device, Int, Tensor, TensorData};
use asma_model::classifier::{AsmaClassifier, ClassifierHead};
use asma_model::student::{kd_loss, KdConfig, StudentClassifier};
use asma_model::weights::save_module;

use super::encodings::{Encodings, FrozenEncoders};
use crate::checkpoint::{load_model_and_optim, save_model_and_optim};
use crate::error::TrainError;
use crate::eval::argmax;
use crate::features::to_tensor;
use crate::parallel;
use crate::seed::seed_step;

/// Loss and accuracy of one training batch.
pub struct BatchResult {
    pub loss: f32,
    pub correct: usize,
    pub samples: usize,
}

/// One protocol's model, optimiser and data.
pub trait Learner {
    /// The loader that fixes the epoch's order and batch count.
    fn loader(&self) -> &Loader;
    /// One optimiser step on batch `b` of `order`.
    fn step(
        &mut self,
        epoch: usize,
        order: &[usize],
        b: usize,
        lr: f64,
    ) -> Result<BatchResult, TrainError>;
    /// `(N_test, C)` logits of the whole test split, in dataset order.
    fn test_logits(&self) -> Result<Vec<f32>, TrainError>;
    /// Saves the trainable state (parameters, BatchNorm statistics, optimiser) into `dir`.
    fn save(&self, dir: &Path) -> Result<(), TrainError>;
    /// Loads what [`Learner::save`] wrote.
    fn load(&mut self, dir: &Path) -> Result<(), TrainError>;
    /// Writes the trained model (eval mode, PyTorch names) as safetensors.
    fn export(&self, path: &Path) -> Result<(), TrainError>;
    /// Restores the optimiser step counter on resume (it seeds dropout).
    fn set_step(&mut self, _step: usize) {}
}

fn targets(labels: &[usize], device: &Device) -> Tensor<1, Int> {
    let v: Vec<i64> = labels.iter().map(|&l| l as i64).collect();
    Tensor::from_data(TensorData::new(v, [labels.len()]), device)
}

pub(super) fn logits_host(t: Tensor<2>) -> Result<Vec<f32>, TrainError> {
    t.into_data()
        .try_into_vec::<f32>()
        .map_err(|e| TrainError::Config(format!("reading logits: {e:?}")))
}

/// Cross entropy, backward and the optimiser step for any module; returns the new module and
/// the batch result.
fn train_step<M: Module>(
    module: M,
    optim: &mut ModuleOptimizer,
    logits: Tensor<2>,
    labels: &[usize],
    lr: f64,
) -> Result<(M, BatchResult), TrainError> {
    let device = logits.device();
    let loss = CrossEntropyLossConfig::new()
        .init(&device)
        .forward(logits.clone(), targets(labels, &device));
    finish_step(module, optim, logits, loss, labels, lr)
}

/// Backward of `loss` and the optimiser step; the batch result from `logits`.
fn finish_step<M: Module>(
    module: M,
    optim: &mut ModuleOptimizer,
    logits: Tensor<2>,
    loss: Tensor<1>,
    labels: &[usize],
    lr: f64,
) -> Result<(M, BatchResult), TrainError> {
    let (loss_value, correct) = read_back(&logits, &loss, labels)?;
    let grads = GradientsParams::from_grads(loss.backward(), &module);
    let module = optim.step(lr, module, grads);
    Ok((
        module,
        BatchResult {
            loss: loss_value,
            correct,
            samples: labels.len(),
        },
    ))
}

/// The loss and the number of correct predictions, in one read-back (one device wait); an
/// error when the loss is not finite.
fn read_back(
    logits: &Tensor<2>,
    loss: &Tensor<1>,
    labels: &[usize],
) -> Result<(f32, usize), TrainError> {
    let [n, c] = logits.dims();
    let both = Tensor::cat(
        vec![
            loss.clone().detach().reshape([1, 1]),
            logits.clone().detach().reshape([1, n * c]),
        ],
        1,
    );
    let host = logits_host(both)?;
    let (loss_value, preds) = (host[0], &host[1..]);
    if !loss_value.is_finite() {
        // Epoch, step and run are filled in by the loop.
        return Err(TrainError::NonFinite {
            epoch: 0,
            step: 0,
            value: loss_value,
            run: Default::default(),
        });
    }
    let correct = preds
        .chunks_exact(c)
        .zip(labels)
        .filter(|(r, &y)| argmax(r) == y)
        .count();
    Ok((loss_value, correct))
}

/// `(N, C)` logits of every batch of `loader` (one plain view), in its order, on `device`.
pub(super) fn loader_logits(
    loader: &Loader,
    device: &Device,
    forward: impl Fn(Tensor<5>) -> Tensor<2>,
) -> Result<Vec<f32>, TrainError> {
    let mut out = Vec::new();
    for batch in loader.epoch(0) {
        let x = to_tensor(batch?.views.into_iter().next().unwrap(), device);
        out.extend(logits_host(forward(x))?);
    }
    Ok(out)
}

/// The module in `slot` and `optim` from a checkpoint folder.
pub(super) fn load_into<M: Module + ModuleSnapshot>(
    slot: &mut Option<M>,
    optim: &mut ModuleOptimizer,
    dir: &Path,
) -> Result<(), TrainError> {
    let module = slot
        .as_mut()
        .expect("the module is always in place between steps");
    load_model_and_optim(module, optim, dir)
}

/// Linear evaluation (docs/METHOD.md §7.2): encoders frozen in eval mode, the head trains.
pub struct LinearProbe {
    pub frozen: FrozenEncoders,
    pub head: Option<ClassifierHead>,
    pub optim: ModuleOptimizer,
    pub train: Encodings,
    pub test: Encodings,
    pub device: Device,
}

impl Learner for LinearProbe {
    fn loader(&self) -> &Loader {
        self.train.loader()
    }

    fn step(
        &mut self,
        epoch: usize,
        order: &[usize],
        b: usize,
        lr: f64,
    ) -> Result<BatchResult, TrainError> {
        let (enc, labels) = self
            .train
            .batch(&self.frozen, epoch as u64, order, b, &self.device)?;
        let head = self.head.take().expect("the head is always put back");
        let logits = head.forward(enc);
        let (head, r) = train_step(head, &mut self.optim, logits, &labels, lr)?;
        self.head = Some(head);
        Ok(r)
    }

    fn test_logits(&self) -> Result<Vec<f32>, TrainError> {
        // Not `clone().freeze()`: a frozen clone would freeze the trained head too (burn's
        // parameter clones share their state). The graph this forward records is dropped.
        let head = self.head.as_ref().unwrap();
        let loader = self.test.loader();
        let order = loader.order(0);
        let mut out = Vec::new();
        for b in 0..loader.batches_per_epoch() {
            let (enc, _) = self.test.batch(&self.frozen, 0, &order, b, &self.device)?;
            out.extend(logits_host(head.forward(enc).detach())?);
        }
        Ok(out)
    }

    fn save(&self, dir: &Path) -> Result<(), TrainError> {
        save_model_and_optim(self.head.as_ref().unwrap(), &self.optim, dir)
    }

    fn load(&mut self, dir: &Path) -> Result<(), TrainError> {
        load_into(&mut self.head, &mut self.optim, dir)
    }

    fn export(&self, path: &Path) -> Result<(), TrainError> {
        let classifier = AsmaClassifier {
            encoder_theta: self.frozen.theta.valid(),
            encoder_phi: self.frozen.phi.valid(),
            head: self.head.as_ref().unwrap().valid(),
        };
        Ok(save_module(&classifier, path)?)
    }
}

/// A model trained whole: the ASMa classifier (fine-tuning) or the student (distillation).
pub trait Logits: Module + ModuleSnapshot {
    /// `(N, 3, T, 25, M)` → `(N, C)`.
    fn logits(&self, x: Tensor<5>) -> Tensor<2>;
}

impl Logits for AsmaClassifier {
    fn logits(&self, x: Tensor<5>) -> Tensor<2> {
        self.forward(x)
    }
}

impl Logits for StudentClassifier {
    fn logits(&self, x: Tensor<5>) -> Tensor<2> {
        self.forward(x)
    }
}

/// A frozen teacher's logits of the training split, for distillation (docs/METHOD.md §8).
pub struct Teacher {
    /// `(N_train, C)`, row = dataset index.
    pub logits: Vec<f32>,
    pub num_classes: usize,
    pub kd: KdConfig,
}

impl Teacher {
    /// The rows of `samples`, `(B, C)` on `device`.
    fn rows(&self, samples: &[usize], device: &Device) -> Tensor<2> {
        let c = self.num_classes;
        let mut rows = Vec::with_capacity(samples.len() * c);
        for &s in samples {
            rows.extend_from_slice(&self.logits[s * c..(s + 1) * c]);
        }
        Tensor::from_data(TensorData::new(rows, [samples.len(), c]), device)
    }
}

/// The whole model trains, in train mode: fine-tuning (docs/METHOD.md §7.3, cross entropy) or,
/// with a teacher, distillation (§8, `α·CE + (1 − α)·τ²·KL`).
pub struct FineTune<M> {
    pub model: Option<M>,
    pub optim: ModuleOptimizer,
    pub train: Loader,
    pub test: Loader,
    pub teacher: Option<Teacher>,
    /// The training (autodiff) device and the device it wraps (evaluation).
    pub device: Device,
    pub base: Device,
    /// Plain devices of data-parallel training, `base` first ([`crate::parallel`]); with one
    /// (or none) every step runs on `device` alone.
    pub devices: Vec<Device>,
    pub seed: u64,
    pub step: usize,
}

/// The loss of `logits` against `labels`: cross entropy, or with a teacher the KD loss
/// against its rows of `samples`.
fn finetune_loss(
    teacher: &Option<Teacher>,
    logits: Tensor<2>,
    labels: &[usize],
    samples: &[usize],
    device: &Device,
) -> Tensor<1> {
    let y = targets(labels, device);
    match teacher {
        None => CrossEntropyLossConfig::new()
            .init(device)
            .forward(logits, y),
        Some(t) => kd_loss(logits, t.rows(samples, device), y, t.kd),
    }
}

impl<M: Logits> FineTune<M> {
    /// One step with the batch split over `self.devices` (weighted losses, summed gradients).
    fn step_parallel(
        &mut self,
        model: M,
        batch: asma_data::pipeline::loader::Batch,
        lr: f64,
    ) -> Result<(M, BatchResult), TrainError> {
        let shards = parallel::shards(batch.labels.len(), self.devices.len(), 1);
        let view = batch.views.into_iter().next().unwrap();
        let (seed, step, teacher) = (self.seed, self.step, &self.teacher);
        let (labels, samples) = (&batch.labels, &batch.samples);
        let run = |m: &M,
                   shard: &parallel::Shard,
                   dev: &Device|
         -> Result<(Tensor<1>, (f64, usize)), TrainError> {
            parallel::seed_shard(dev, seed, step, shard.index);
            let r = shard.rows.clone();
            let logits = m.logits(to_tensor(parallel::view_rows(&view, r.clone()), dev));
            let loss = finetune_loss(
                teacher,
                logits.clone(),
                &labels[r.clone()],
                &samples[r.clone()],
                dev,
            );
            let (value, correct) = read_back(&logits, &loss, &labels[r])?;
            Ok((
                loss.mul_scalar(shard.weight),
                (value as f64 * shard.weight, correct),
            ))
        };
        let (model, outs) =
            parallel::step(model, &mut self.optim, lr, &self.devices, &shards, run)?;
        Ok((
            model,
            BatchResult {
                loss: outs.iter().map(|o| o.0).sum::<f64>() as f32,
                correct: outs.iter().map(|o| o.1).sum(),
                samples: labels.len(),
            },
        ))
    }
}

impl<M: Logits> Learner for FineTune<M> {
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
        let model = self.model.take().expect("the model is always put back");
        if self.devices.len() > 1 {
            let stepped = self.step_parallel(model, batch, lr);
            self.step += 1;
            let (model, r) = stepped?;
            self.model = Some(model);
            return Ok(r);
        }
        seed_step(&self.device, self.seed, self.step);
        self.step += 1;
        let x = to_tensor(batch.views.into_iter().next().unwrap(), &self.device);
        let logits = model.logits(x);
        let loss = finetune_loss(
            &self.teacher,
            logits.clone(),
            &batch.labels,
            &batch.samples,
            &self.device,
        );
        let (model, r) = finish_step(model, &mut self.optim, logits, loss, &batch.labels, lr)?;
        self.model = Some(model);
        Ok(r)
    }

    fn test_logits(&self) -> Result<Vec<f32>, TrainError> {
        let model = self.model.as_ref().unwrap().valid();
        loader_logits(&self.test, &self.base, |x| model.logits(x))
    }

    fn save(&self, dir: &Path) -> Result<(), TrainError> {
        // `valid()` first: burn keeps the latest BatchNorm statistics per thread until a sync.
        save_model_and_optim(&self.model.as_ref().unwrap().valid(), &self.optim, dir)
    }

    fn load(&mut self, dir: &Path) -> Result<(), TrainError> {
        load_into(&mut self.model, &mut self.optim, dir)
    }

    fn export(&self, path: &Path) -> Result<(), TrainError> {
        Ok(save_module(&self.model.as_ref().unwrap().valid(), path)?)
    }

    fn set_step(&mut self, step: usize) {
        self.step = step;
    }
}
