//! Data-parallel training on several devices of one machine (`run.devices`, `--devices`):
//! pre-training, fine-tuning and distillation split every loader batch over the devices
//! instead of giving each device a batch of its own, so a run's global batch, learning rate
//! and schedule mean the same with one device or eight.
//!
//! One step with `D` devices and a batch of `N` samples:
//! - the batch is cut into `D` contiguous shards of `⌈N/D⌉` or `⌊N/D⌋` samples (fewer shards
//!   when a short last batch has fewer samples than a shard needs: 1 for fine-tuning and
//!   distillation, 2 for pre-training);
//! - shard 0 runs on the main device with the model itself, on the calling thread; shard
//!   `k ≥ 1` runs on device `k`, on a thread of its own, with a replica made from the current
//!   parameters (`valid().train().fork(device)`: same parameter ids, its own BatchNorm
//!   statistics);
//! - each shard's loss is multiplied by `n_k / N`, so the gradients burn-optim's
//!   `ModuleOptimizer::step_multi` sums per parameter are the gradient of the global-batch
//!   mean for a per-sample-mean loss (cross entropy, the KD loss); then one optimiser step
//!   updates the main model (and the parameters come back to the main device when the step
//!   put them elsewhere).
//!
//! What differs from the one-device step on the same global batch, and why:
//! - BatchNorm in train mode normalises each shard with that shard's batch statistics (as
//!   PyTorch's DDP without SyncBatchNorm). The gradients therefore differ slightly; the tests
//!   measure it. The running statistics kept are the main device's replica's (shard 0); the
//!   other replicas' are dropped after the step.
//! - Barlow Twins' loss is not a per-sample mean: its cross-correlation and standardisation
//!   run over the batch. Each shard computes its own Barlow Twins loss over its `n_k` samples
//!   (as DDP without an all-gather of the embeddings does), weighted by `n_k / N`. With one
//!   device this is exactly the usual loss; with several it is a different (noisier, smaller
//!   batch) estimate of the objective, so pre-training needs `optim.batch_size ≥ 2·D`.
//! - Dropout: shard 0 draws from (seed, step) exactly as a one-device run does, shard `k`
//!   from (seed, step, k), each on its own thread (asma's host masks are seeded per thread),
//!   so a resumed run repeats its draws with the same device count.
//! - The logged loss is the `n_k / N`-weighted sum of the shards' losses.
//!
//! `"cpu"` may be listed several times: the replicas then share the one CPU device (burn's
//! flex) and only split its cores, which is no faster, but it runs the whole data-parallel
//! path and is how the tests check it against the one-device step. Other devices may not
//! repeat. Linear evaluation does not take several devices: it trains a head on cached
//! encodings, far from device-bound.
//!
//! Several machines. asma runs on one machine. burn's repository has, besides the
//! `step_multi` used here, `burn-collective` (all-reduce, reduce, broadcast between threads
//! of one process with centralized, tree and ring strategies, and a "global" level where each
//! node registers with an orchestrator over the network — `CollectiveConfig::with_num_nodes`,
//! `with_global_address`, `with_node_address`, `with_data_service_port` — and tensors move
//! peer to peer through `burn-communication`) and burn-train's DDP learning strategy, which
//! runs one thread per local device and all-reduces the gradients every step; the user starts
//! the same program on every node with matching configurations. What asma lacks to use it:
//! asma does not use burn-train's `Learner` (its loops are its own, for exact resume and the
//! run-directory layout), so it would have to call `burn-collective`'s all-reduce itself; it
//! would need a launcher (rank, node count, orchestrator address per process), a sampler that
//! gives each node a disjoint part of every global batch (the loader's order is already a
//! function of (seed, epoch), so each node can take its own slice), checkpointing from one
//! rank only, and a test bed with two machines. Neither crate is a dependency here; this note
//! is read from burn's repository sources (burn-collective's README and `CollectiveConfig`,
//! burn-train's DDP strategy), not from a multi-node run, and not checked against the
//! 0.22.1 release in detail. In the sources read, burn-train's multi-device strategies give
//! each device a batch of its own and sum the gradients (a global batch of
//! `D × batch_size`); asma instead splits one batch and averages.

use std::ops::Range;

use asma_data::pipeline::loader::View;
use asma_data::rng::Rng;
use asma_model::burn::module::Module;
use asma_model::burn::optim::{GradientsParams, ModuleOptimizer, MultiGradientsParams};
use asma_model::burn::tensor::{Device, Tensor};

use crate::error::TrainError;
use crate::seed::seed_step;

/// One shard of a batch: its rows and its share of the global batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Shard {
    /// 0 is the main device's.
    pub index: usize,
    pub rows: Range<usize>,
    /// `rows.len() / N`.
    pub weight: f64,
}

/// Contiguous shards of a batch of `n` samples for `devices` devices, each of at least
/// `min_rows` samples (fewer shards when `n` is short; always at least one).
pub fn shards(n: usize, devices: usize, min_rows: usize) -> Vec<Shard> {
    let parts = devices.min(n / min_rows.max(1)).max(1);
    let (base, extra) = (n / parts, n % parts);
    let mut start = 0;
    (0..parts)
        .map(|index| {
            let len = base + usize::from(index < extra);
            let rows = start..start + len;
            start += len;
            Shard {
                index,
                rows,
                weight: len as f64 / n as f64,
            }
        })
        .collect()
}

/// The samples `rows` of a loader view (a copy; the joint selection is the batch's).
pub fn view_rows(view: &View, rows: Range<usize>) -> View {
    let s = view.shape;
    let per = s.c * s.t * s.v * s.m;
    let mut shape = s;
    shape.n = rows.len();
    View {
        shape,
        data: view.data[rows.start * per..rows.end * per].to_vec(),
        joints: view.joints.clone(),
        motion: view
            .motion
            .as_ref()
            .map(|m| m[rows.start * per..rows.end * per].to_vec()),
    }
}

/// Reseeds the dropout draws of shard `shard` of optimiser step `step`, on the calling
/// thread (asma's host masks) and on `device` (burn's generator). Shard 0 draws exactly as a
/// one-device run ([`seed_step`]).
pub fn seed_shard(device: &Device, run_seed: u64, step: usize, shard: usize) {
    if shard == 0 {
        return seed_step(device, run_seed, step);
    }
    let step_seed = Rng::derive(run_seed, step as u64).next_u64();
    let seed = Rng::derive(step_seed, shard as u64).next_u64();
    device.seed(seed);
    asma_model::dropout::reseed(seed);
}

/// A replica of `model` on `device` (an autodiff device) with the current parameters (same
/// ids, so its gradients add to the main model's) and BatchNorm statistics of its own.
pub fn replicate<M: Module>(model: &M, device: &Device) -> M {
    model.valid().train().fork(device)
}

/// One data-parallel optimiser step. `devices` are plain devices, main first, at least as
/// many as `shards`. `run` computes one shard on the autodiff device it is given, with the
/// model it is given: it returns the shard's loss, already weighted by [`Shard::weight`], and
/// what the caller wants back from the shard (read on the host before the backward pass).
/// The first error of a shard, in shard order, is returned before any update.
pub fn step<M, T, F>(
    model: M,
    optim: &mut ModuleOptimizer,
    lr: f64,
    devices: &[Device],
    shards: &[Shard],
    run: F,
) -> Result<(M, Vec<T>), TrainError>
where
    M: Module,
    T: Send,
    F: Fn(&M, &Shard, &Device) -> Result<(Tensor<1>, T), TrainError> + Sync,
{
    assert!(
        !shards.is_empty() && shards.len() <= devices.len(),
        "one device per shard"
    );
    let main = devices[0].clone().autodiff();
    let replicas: Vec<M> = devices[1..shards.len()]
        .iter()
        .map(|d| replicate(&model, &d.clone().autodiff()))
        .collect();
    let one = |m: &M, shard: &Shard, device: &Device| -> Result<(GradientsParams, T), TrainError> {
        let (loss, out) = run(m, shard, device)?;
        Ok((GradientsParams::from_grads(loss.backward(), m), out))
    };
    let results: Vec<Result<(GradientsParams, T), TrainError>> = std::thread::scope(|s| {
        let handles: Vec<_> = replicas
            .into_iter()
            .zip(&shards[1..])
            .zip(&devices[1..])
            .map(|((replica, shard), device)| {
                let one = &one;
                s.spawn(move || one(&replica, shard, &device.clone().autodiff()))
            })
            .collect();
        let mut results = vec![one(&model, &shards[0], &main)];
        for h in handles {
            results.push(h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
        }
        results
    });
    let mut grads = MultiGradientsParams::default();
    let mut outs = Vec::with_capacity(results.len());
    for (r, device) in results.into_iter().zip(devices) {
        let (g, out) = r?;
        grads.grads.push((g, device.clone()));
        outs.push(out);
    }
    let mut model = optim.step_multi(lr, model, grads);
    // step_multi updates each parameter on the device of one of its gradients (chosen by
    // parameter id); the next forward needs them all on the main device.
    if devices[1..shards.len()].iter().any(|d| *d != devices[0]) {
        model = model.fork(&main);
    }
    Ok((model, outs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use asma_model::burn::nn::loss::CrossEntropyLossConfig;
    use asma_model::burn::nn::{Linear, LinearConfig};
    use asma_model::burn::optim::SgdConfig;
    use asma_model::burn::tensor::{Int, TensorData};

    #[test]
    fn shards_are_contiguous_cover_the_batch_and_respect_the_minimum() {
        let s = shards(5, 2, 1);
        assert_eq!(
            s.iter().map(|s| s.rows.clone()).collect::<Vec<_>>(),
            [0..3, 3..5]
        );
        assert_eq!(s.iter().map(|s| s.weight).sum::<f64>(), 1.0);
        assert_eq!(
            shards(3, 2, 2).len(),
            1,
            "pre-training's shards need 2 samples"
        );
        assert_eq!(shards(1, 4, 1).len(), 1);
        assert_eq!(shards(8, 4, 2).len(), 4);
    }

    fn data(n: usize, device: &Device) -> (Tensor<2>, Vec<i64>) {
        let mut rng = Rng::new(3);
        let x: Vec<f32> = (0..n * 6).map(|_| rng.normal() as f32).collect();
        let y: Vec<i64> = (0..n as i64).map(|i| i % 3).collect();
        (Tensor::from_data(TensorData::new(x, [n, 6]), device), y)
    }

    fn ce(model: &Linear, x: Tensor<2>, y: &[i64], device: &Device) -> Tensor<1> {
        let t = Tensor::<1, Int>::from_data(TensorData::new(y.to_vec(), [y.len()]), device);
        CrossEntropyLossConfig::new()
            .init(device)
            .forward(model.forward(x), t)
    }

    fn host(model: &Linear) -> Vec<f32> {
        let mut v: Vec<f32> = model.weight.val().into_data().try_into_vec().unwrap();
        v.extend(
            model
                .bias
                .as_ref()
                .unwrap()
                .val()
                .into_data()
                .try_into_vec::<f32>()
                .unwrap(),
        );
        v
    }

    /// Without BatchNorm the per-shard losses weighted by `n_k / N` have exactly the gradient
    /// of the global mean: after one SGD step (whose update is proportional to the gradient,
    /// unlike Adam's first step) the parameters agree to f32 rounding. Uneven shards (3 + 2)
    /// check the weights; an unweighted sum would move the parameters twice as far.
    #[test]
    fn two_cpu_replicas_step_like_one_device_on_the_same_batch() {
        let plain = Device::flex();
        let ad = plain.clone().autodiff();
        ad.seed(4);
        let init: Linear = LinearConfig::new(6, 3).init(&ad);
        let before = host(&init);
        let (x, y) = data(5, &ad);

        let mut optim: ModuleOptimizer = SgdConfig::new().init();
        let one = init.clone();
        let loss = ce(&one, x.clone(), &y, &ad);
        let grads = GradientsParams::from_grads(loss.backward(), &one);
        let single = host(&optim.step(0.5, one, grads));

        let mut optim: ModuleOptimizer = SgdConfig::new().init();
        let devices = [plain.clone(), plain.clone()];
        let parts = shards(5, 2, 1);
        let xh: Vec<f32> = x.clone().into_data().try_into_vec().unwrap();
        let (model, outs) = step(init, &mut optim, 0.5, &devices, &parts, |m, shard, dev| {
            let r = shard.rows.clone();
            let xs = Tensor::from_data(
                TensorData::new(xh[r.start * 6..r.end * 6].to_vec(), [r.len(), 6]),
                dev,
            );
            let loss = ce(m, xs, &y[r], dev);
            Ok((loss.mul_scalar(shard.weight), std::thread::current().id()))
        })
        .unwrap();
        assert_ne!(
            outs[0], outs[1],
            "the second shard ran on a thread of its own"
        );
        let parallel = host(&model);

        let moved = before
            .iter()
            .zip(&single)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        let diff = single
            .iter()
            .zip(&parallel)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(moved > 1e-2, "the step moved the parameters ({moved})");
        assert!(diff < 1e-6, "max |Δ| {diff} (step size {moved})");
    }
}
