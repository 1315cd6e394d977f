//! The fair random baseline's BatchNorm statistics: a randomly initialised ST-GCN whose
//! BatchNorm layers have seen the training data is a much stronger feature extractor than one
//! with untouched statistics (mean 0, variance 1), whose eval-mode features barely depend on
//! the input. Every comparison of pre-training against "random" uses this baseline.
//!
//! The statistics come from train-mode forward passes over the training split, with no
//! gradient step (PyTorch's equivalent is a forward pass in `model.train()` under
//! `torch.no_grad()`). Each BatchNorm's momentum is set per batch to `n_b / (n_1 + … + n_b)`,
//! so the running statistics end as the sample-weighted mean of every batch's statistics
//! (PyTorch's `momentum=None`) rather than an average dominated by the last batches; the
//! configured momentum is restored afterwards.

use std::sync::Arc;

use asma_data::pipeline::loader::SkeletonDataset;
use asma_data::pipeline::stream::Stream;
use asma_model::burn::module::{Module, ModuleMapper, Param, RunningState};
use asma_model::burn::nn::BatchNorm;
use asma_model::burn::tensor::{Device, Tensor};
use asma_model::StgcnEncoder;
use serde::{Deserialize, Serialize};

use crate::error::TrainError;
use crate::features::{plain_loader, to_tensor};
use crate::seed::seed_step;

/// What happens to the encoders' BatchNorm statistics before training or evaluation starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BnStatistics {
    /// As initialised or loaded.
    #[default]
    Keep,
    /// Estimated on the training split ([`estimate`]): with random encoders, the fair
    /// random baseline.
    Estimate,
}

/// Replaces every parameter with a new one holding its value, detached from the graph.
struct Detach;

impl ModuleMapper for Detach {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        Param::initialized(param.id, param.val().detach())
    }
}

/// Every BatchNorm of `encoder`, in forward order.
fn batch_norms(encoder: &mut StgcnEncoder) -> Vec<&mut BatchNorm> {
    let mut out = vec![&mut encoder.data_bn];
    for block in encoder.st_gcn_networks.iter_mut() {
        out.push(&mut block.tcn.bn_in);
        out.push(&mut block.tcn.bn_out);
        if let Some(r) = block.residual.as_mut() {
            out.push(&mut r.bn);
        }
    }
    out
}

/// A copy of `encoder` for measurements: its BatchNorm running statistics are its own (a
/// plain `clone` shares them with the original, so updating the copy's would change the
/// original's) and its parameters build no autodiff graph (a train-mode pass then keeps
/// nothing alive but the statistics it updates).
pub fn detached_copy(encoder: &StgcnEncoder) -> StgcnEncoder {
    // Not `no_grad()`: on a clone of not yet initialised (lazy) parameters it also stopped
    // the original's gradients. New parameters holding detached values leave it alone.
    let mut copy = encoder.clone().map(&mut Detach);
    for bn in batch_norms(&mut copy) {
        bn.running_mean = RunningState::new(bn.running_mean.value_sync());
        bn.running_var = RunningState::new(bn.running_var.value_sync());
    }
    copy
}

/// Replaces the running statistics of every BatchNorm of `encoders` with the statistics of
/// `dataset` (one un-augmented pass of `stream` in batches of `batch_size`, dataset order).
/// The encoders must be in training mode on an autodiff device (`ad`); their parameters are
/// unchanged. Dropout (active in training mode, as in every train-mode pass) is drawn from
/// `seed`, so the result is a function of the weights, the data and the seed.
pub fn estimate(
    encoders: &mut [&mut StgcnEncoder],
    dataset: Arc<SkeletonDataset>,
    stream: Stream,
    batch_size: usize,
    ad: &Device,
    seed: u64,
) -> Result<(), TrainError> {
    if !ad.is_autodiff() {
        return Err(TrainError::Config(
            "BatchNorm statistics are estimated in training mode: give an autodiff device".into(),
        ));
    }
    // The passes run on copies without gradients; only the statistics come back.
    let mut copies: Vec<StgcnEncoder> = encoders.iter().map(|e| detached_copy(e)).collect();
    let loader = plain_loader(dataset, stream, batch_size)?;
    let mut seen = 0usize;
    for (b, batch) in loader.epoch(0).enumerate() {
        let view = batch?
            .views
            .into_iter()
            .next()
            .expect("a loader has at least one view");
        let n = view.shape.n;
        seen += n;
        let momentum = n as f64 / seen as f64;
        seed_step(ad, seed, b);
        let x = to_tensor(view, ad);
        for copy in copies.iter_mut() {
            for bn in batch_norms(copy) {
                bn.momentum = momentum;
            }
            // burn's autodiff backend records every operation, untracked ones too, in the
            // graph of the parameters' nodes, and frees those records only in a backward
            // pass (the parameters live on, so the graph is never orphaned). Without one,
            // every batch's activations stayed: 17.5 GB resident for the 381 clips of the
            // synthetic split, against 3.6 GB for a training step. Nothing here requires a
            // gradient, so this backward computes none; it releases the batch's records.
            drop(copy.forward(x.clone(), None).sum().backward());
        }
    }
    for (e, copy) in encoders.iter_mut().zip(copies.iter_mut()) {
        for (bn, estimated) in batch_norms(e).into_iter().zip(batch_norms(copy)) {
            bn.running_mean.update(estimated.running_mean.value_sync());
            bn.running_var.update(estimated.running_var.value_sync());
            // Commit now, so that every later reader sees the estimate.
            let _ = (bn.running_mean.value_sync(), bn.running_var.value_sync());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use asma_data::formats::labels::Labels;
    use asma_data::prepare::splits::Part;
    use asma_data::rng::Rng;
    use asma_model::{StgcnEncoderConfig, StgcnEncoderInit};

    fn values(t: asma_model::burn::tensor::Tensor<1>) -> Vec<f32> {
        t.into_data().try_into_vec::<f32>().unwrap()
    }

    #[test]
    fn estimated_statistics_are_the_training_split_s_whatever_the_batch_sizes() {
        // 10 samples in batches of 4, 4 and 2: the sample-weighted mean over batches equals
        // the mean over the whole split, which data-BN's running mean must then hold.
        let (n, t, v, m) = (10, 50, 25, 2);
        let mut rng = Rng::new(4);
        let len = 3 * t * v * m;
        let data: Vec<f32> = (0..n * len)
            .map(|i| {
                let (c, j) = ((i / (t * v * m)) % 3, (i / m) % v);
                (c as f32 - 1.0) + 0.1 * j as f32 + rng.normal() as f32 * (1.0 + c as f32)
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let labels = Labels {
            names: (0..n).map(|i| format!("s{i}.skeleton")).collect(),
            labels: vec![0; n],
        };
        SkeletonDataset::write_split(dir.path(), Part::Train, &[n, 3, t, v, m], &data, &labels)
            .unwrap();
        let train = Arc::new(SkeletonDataset::open_split(dir.path(), Part::Train).unwrap());
        let ad = Device::flex().autodiff();
        let mut enc = StgcnEncoderConfig {
            hidden_channels: 4,
            hidden_dim: 8,
            ..Default::default()
        }
        .init(&ad);
        let gamma_before = values(enc.st_gcn_networks[0].tcn.bn_in.gamma.val());
        // Estimating on a detached copy leaves the original (and its clones) alone.
        let mut probe = detached_copy(&enc);
        estimate(&mut [&mut probe], train.clone(), Stream::Joint, 4, &ad, 7).unwrap();
        assert!(values(enc.data_bn.running_mean.value())
            .iter()
            .all(|&m| m == 0.0));
        estimate(&mut [&mut enc], train, Stream::Joint, 4, &ad, 7).unwrap();
        assert_eq!(
            values(enc.data_bn.running_mean.value()),
            values(probe.data_bn.running_mean.value())
        );

        // data-BN's channels are (joint, coordinate) pairs, each over samples, bodies, frames.
        let got = values(enc.data_bn.running_mean.value());
        for j in 0..v {
            for c in 0..3 {
                let mut sum = 0f64;
                for s in 0..n {
                    for f in 0..t {
                        for b in 0..m {
                            sum += data[s * len + ((c * t + f) * v + j) * m + b] as f64;
                        }
                    }
                }
                let want = sum / (n * t * m) as f64;
                let g = got[j * 3 + c] as f64;
                assert!(
                    (g - want).abs() < 1e-4,
                    "joint {j} coord {c}: {g} vs {want}"
                );
            }
        }
        // The variances are the data's (coordinate c has standard deviation 1 + c), not 1.
        let var = values(enc.data_bn.running_var.value());
        for (ch, &s2) in var.iter().enumerate() {
            let want = (1.0 + (ch % 3) as f32).powi(2);
            // 1,000 values per channel: within 20 % of the true variance (1, 4 or 9).
            assert!(
                (s2 / want - 1.0).abs() < 0.2,
                "channel {ch}: {s2} vs {want}"
            );
        }
        // Deeper layers moved too; parameters and the configured momentum did not.
        let deep = values(enc.st_gcn_networks[3].tcn.bn_out.running_mean.value());
        assert!(deep.iter().any(|x| x.abs() > 1e-6), "{deep:?}");
        assert_eq!(
            values(enc.st_gcn_networks[0].tcn.bn_in.gamma.val()),
            gamma_before
        );
        assert!(batch_norms(&mut enc).iter().all(|bn| bn.momentum == 0.1));
        // The encoder still trains: every weight gets a gradient.
        let x = Tensor::<5>::ones([2, 3, t, v, m], &ad);
        let grads = enc.forward(x, None).sum().backward();
        assert!(enc.data_bn.gamma.val().grad(&grads).is_some());
        assert!(enc.st_gcn_networks[2]
            .tcn
            .conv
            .weight
            .val()
            .grad(&grads)
            .is_some());
        // A plain device cannot run training-mode passes: refused, not silently ignored.
        let dir2 = tempfile::tempdir().unwrap();
        SkeletonDataset::write_split(dir2.path(), Part::Train, &[n, 3, t, v, m], &data, &labels)
            .unwrap();
        let again = Arc::new(SkeletonDataset::open_split(dir2.path(), Part::Train).unwrap());
        let mut plain = enc.valid();
        let e = estimate(
            &mut [&mut plain],
            again,
            Stream::Joint,
            4,
            &Device::flex(),
            7,
        );
        assert!(e.unwrap_err().to_string().contains("autodiff"));
    }
}
