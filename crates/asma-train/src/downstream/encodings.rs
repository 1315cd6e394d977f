//! What linear evaluation's head reads: the frozen encoders' outputs for a set of samples,
//! computed once and kept in memory when they fit (`optim.cache_mb`), else recomputed per batch.
//! Without augmentation and with frozen eval-mode encoders, both give the same numbers.

use asma_data::pipeline::loader::Loader;
use asma_model::burn::tensor::{Device, Tensor, TensorData};
use asma_model::classifier::{encode_pair, Encoded};
use asma_model::StgcnEncoder;

use crate::error::TrainError;
use crate::features::to_tensor;

/// Host copies of the encodings of some samples, row `r` = the `r`-th sample of `rows`.
struct Cache {
    /// Per sample: `L·d` (tokens) or `d` (pooled) values of each encoder.
    theta: Vec<f32>,
    phi: Vec<f32>,
    /// `[L, d]` for tokens, `[d]` for pooled.
    shape: Vec<usize>,
    /// Dataset index → row.
    row_of: Vec<usize>,
}

/// Encodings of a dataset (or a subset of it) for the head.
pub struct Encodings {
    loader: Loader,
    cache: Option<Cache>,
}

/// Both encoders, frozen (eval mode) on the training device, and what the head reads.
pub struct FrozenEncoders {
    pub theta: StgcnEncoder,
    pub phi: StgcnEncoder,
    /// Block-10 tokens (cross-attention) rather than pooled features (averaging).
    pub tokens: bool,
}

impl FrozenEncoders {
    /// Floats per sample the encodings take (both encoders).
    fn floats_per_sample(&self, frames: usize) -> usize {
        let d = self.theta.hidden_dim;
        if self.tokens {
            // Block 10 keeps ⌈T/4⌉ frames (two stride-2 blocks), 25 joints.
            2 * d * frames.div_ceil(4) * 25
        } else {
            2 * d
        }
    }
}

fn host(t: Tensor<3>) -> Result<Vec<f32>, TrainError> {
    t.into_data()
        .try_into_vec::<f32>()
        .map_err(|e| TrainError::Config(format!("reading encodings: {e:?}")))
}

impl Encodings {
    /// `loader` decides the samples and order (its views must be one plain view).
    pub fn new(
        model: &FrozenEncoders,
        loader: Loader,
        cache_mb: usize,
        device: &Device,
    ) -> Result<Self, TrainError> {
        let frames = loader.dataset().sample_shape()[1];
        let bytes = 4 * model.floats_per_sample(frames) * loader.num_samples();
        let mut out = Encodings {
            loader,
            cache: None,
        };
        if bytes <= cache_mb << 20 {
            out.cache = Some(out.build_cache(model, device)?);
        }
        Ok(out)
    }

    pub fn loader(&self) -> &Loader {
        &self.loader
    }

    pub fn is_cached(&self) -> bool {
        self.cache.is_some()
    }

    fn build_cache(&self, model: &FrozenEncoders, device: &Device) -> Result<Cache, TrainError> {
        let n = self.loader.dataset().len();
        let mut row_of = vec![usize::MAX; n];
        let (mut theta, mut phi, mut shape) = (Vec::new(), Vec::new(), Vec::new());
        let order: Vec<usize> = {
            let mut o = self.loader.order(0);
            o.sort_unstable();
            o
        };
        let mut row = 0;
        for b in 0..self.loader.batches_per_epoch() {
            let batch = self.loader.batch(0, &order, b)?;
            let e = self.encode(model, batch.views.into_iter().next().unwrap(), device);
            let (t, p) = match e {
                Encoded::Tokens { theta, phi } => {
                    let [_, l, d] = theta.dims();
                    shape = vec![l, d];
                    (host(theta)?, host(phi)?)
                }
                Encoded::Pooled { theta, phi } => {
                    let [_, d] = theta.dims();
                    shape = vec![d];
                    (host(theta.unsqueeze_dim(1))?, host(phi.unsqueeze_dim(1))?)
                }
            };
            theta.extend(t);
            phi.extend(p);
            for s in batch.samples {
                row_of[s] = row;
                row += 1;
            }
        }
        Ok(Cache {
            theta,
            phi,
            shape,
            row_of,
        })
    }

    fn encode(
        &self,
        model: &FrozenEncoders,
        view: asma_data::pipeline::loader::View,
        device: &Device,
    ) -> Encoded {
        match encode_pair(
            &model.theta,
            &model.phi,
            to_tensor(view, device),
            model.tokens,
        ) {
            Encoded::Tokens { theta, phi } => Encoded::Tokens {
                theta: theta.detach(),
                phi: phi.detach(),
            },
            Encoded::Pooled { theta, phi } => Encoded::Pooled {
                theta: theta.detach(),
                phi: phi.detach(),
            },
        }
    }

    /// Batch `b` of `order` (from [`Loader::order`]): its encodings on `device` and labels.
    pub fn batch(
        &self,
        model: &FrozenEncoders,
        epoch: u64,
        order: &[usize],
        b: usize,
        device: &Device,
    ) -> Result<(Encoded, Vec<usize>), TrainError> {
        let Some(c) = &self.cache else {
            let batch = self.loader.batch(epoch, order, b)?;
            let view = batch.views.into_iter().next().unwrap();
            return Ok((self.encode(model, view, device), batch.labels));
        };
        let bs = self.loader.config().batch_size;
        let samples: Vec<usize> = order.iter().skip(b * bs).take(bs).copied().collect();
        let per: usize = c.shape.iter().product();
        let gather = |src: &[f32]| -> Vec<f32> {
            let mut out = Vec::with_capacity(samples.len() * per);
            for &s in &samples {
                let r = c.row_of[s];
                out.extend_from_slice(&src[r * per..(r + 1) * per]);
            }
            out
        };
        let mut dims = vec![samples.len()];
        dims.extend(&c.shape);
        let (t, p) = (gather(&c.theta), gather(&c.phi));
        let e = match c.shape.len() {
            2 => Encoded::Tokens {
                theta: Tensor::from_data(TensorData::new(t, dims.clone()), device),
                phi: Tensor::from_data(TensorData::new(p, dims), device),
            },
            _ => Encoded::Pooled {
                theta: Tensor::from_data(TensorData::new(t, dims.clone()), device),
                phi: Tensor::from_data(TensorData::new(p, dims), device),
            },
        };
        let labels: Vec<usize> = samples
            .iter()
            .map(|&s| self.loader.dataset().labels()[s])
            .collect();
        Ok((e, labels))
    }
}
