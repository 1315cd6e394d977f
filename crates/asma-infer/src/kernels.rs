//! The CPU kernels of the folded encoder: the strided GEMM of `asma-kernels` and the
//! element-wise epilogues fused around it. Every convolution of the folded ST-GCN block is one
//! or a few calls of [`matmul`] on views of contiguous `(C, T·V)` activations, so nothing is
//! copied except for the strided (stride 2) temporal convolution's column buffer.

pub use asma_kernels::{matmul, View};

/// `x = max(x, 0)`.
pub fn relu(x: &mut [f32]) {
    for v in x {
        *v = v.max(0.0);
    }
}

/// `out[c, i] = bias[c]` for a `(C, len)` buffer.
pub fn fill_rows(out: &mut [f32], bias: &[f32], len: usize) {
    for (row, &b) in out.chunks_exact_mut(len).zip(bias) {
        row.fill(b);
    }
}

/// Row-wise softmax of an `(rows, cols)` buffer, in place.
pub fn softmax_rows(x: &mut [f32], cols: usize) {
    for row in x.chunks_exact_mut(cols) {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0.0;
        for v in row.iter_mut() {
            *v = (*v - max).exp();
            sum += *v;
        }
        let inv = 1.0 / sum;
        for v in row {
            *v *= inv;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_rows_sum_to_one() {
        let mut x = vec![1.0, 2.0, 3.0, -1e4, 0.0, 1e4];
        softmax_rows(&mut x, 3);
        assert!((x[..3].iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!((x[5] - 1.0).abs() < 1e-6 && x[3] == 0.0);
    }
}
