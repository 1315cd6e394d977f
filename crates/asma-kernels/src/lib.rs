//! Host CPU kernels on plain `f32` slices, shared by the burn training path (`asma-model`
//! wraps them as autodiff operations on the CPU backend) and the deployed path (`asma-infer`).
//! Activations are contiguous `(N, C, T, V)`, as PyTorch lays them out.

mod gemm;
pub mod graph;
pub mod norm;
pub mod temporal;

pub use gemm::{matmul, View};

/// Samples per task of a backward pass. Each group sums its samples' weight gradients in
/// sample order and the groups are summed in group order, so a gradient is the same bit for
/// bit whatever the thread count and scheduling (exact resume compares losses bit for bit).
pub(crate) const GROUP: usize = 8;

/// The element-wise sum of parts of `len` values, in their order.
pub(crate) fn sum_in_order(parts: Vec<Vec<f32>>, len: usize) -> Vec<f32> {
    let mut sum = vec![0f32; len];
    for part in parts {
        sum.iter_mut().zip(&part).for_each(|(s, p)| *s += p);
    }
    sum
}
