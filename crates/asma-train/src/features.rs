//! Frozen features of a whole split: the encoder in eval mode over un-augmented batches.

use std::sync::Arc;

use asma_data::pipeline::loader::{Loader, LoaderConfig, SkeletonDataset};
use asma_data::pipeline::stream::BatchShape;
use asma_data::pipeline::stream::Stream;
use asma_model::burn::tensor::{Device, Tensor, TensorData};
use asma_model::StgcnEncoder;

use crate::error::TrainError;

/// A batch of loader data as a `(N, C, T, V, M)` tensor (the buffer moves, no copy).
pub fn to_tensor(view: asma_data::pipeline::loader::View, device: &Device) -> Tensor<5> {
    shaped_tensor(view.shape, view.data, device)
}

/// A C-order buffer of shape `s` as a tensor on `device`.
pub(crate) fn shaped_tensor(s: BatchShape, data: Vec<f32>, device: &Device) -> Tensor<5> {
    Tensor::from_data(TensorData::new(data, [s.n, s.c, s.t, s.v, s.m]), device)
}

/// A loader of `dataset` in its own order, one un-augmented view of `stream`, no masks.
pub(crate) fn plain_loader(
    dataset: Arc<SkeletonDataset>,
    stream: Stream,
    batch_size: usize,
) -> Result<Loader, TrainError> {
    Ok(Loader::new(
        dataset,
        LoaderConfig {
            batch_size,
            shuffle: false,
            stream,
            ..Default::default()
        },
    )?)
}

/// `(N, hidden_dim)` features of every sample of `dataset`, in dataset order, with each
/// encoder in `encoders` (eval mode: call with `valid()` copies), concatenated per sample.
pub fn extract(
    encoders: &[&StgcnEncoder],
    dataset: Arc<SkeletonDataset>,
    stream: Stream,
    batch_size: usize,
    device: &Device,
) -> Result<Vec<Vec<f32>>, TrainError> {
    let loader = plain_loader(dataset, stream, batch_size)?;
    let mut out = Vec::with_capacity(loader.dataset().len());
    for batch in loader.epoch(0) {
        let batch = batch?;
        let view = batch
            .views
            .into_iter()
            .next()
            .expect("a loader has at least one view");
        let x = to_tensor(view, device);
        let parts: Vec<Tensor<2>> = encoders
            .iter()
            .map(|e| e.forward(x.clone(), None))
            .collect();
        let feats = Tensor::cat(parts, 1);
        let [n, d] = feats.dims();
        let flat: Vec<f32> = feats
            .into_data()
            .try_into_vec::<f32>()
            .map_err(|e| TrainError::Config(format!("reading features: {e:?}")))?;
        out.extend((0..n).map(|i| flat[i * d..(i + 1) * d].to_vec()));
    }
    Ok(out)
}
