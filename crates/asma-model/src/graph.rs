//! The ST-GCN spatial-partition adjacency as a burn tensor (docs/METHOD.md §3.1), built from
//! `asma_skeleton::spatial_adjacency` so there is one definition of the graph.

use asma_skeleton::{spatial_adjacency, Layout};
use burn::tensor::{Device, Tensor, TensorData};

/// `(K = 3, V, V)`, `a[k][src][dst]`.
pub fn adjacency(layout: &Layout, device: &Device) -> Tensor<3> {
    let a = spatial_adjacency(layout);
    Tensor::from_data(TensorData::new(a.data, [a.k, a.v, a.v]), device)
}
