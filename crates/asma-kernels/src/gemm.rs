//! One strided single-precision GEMM (the `gemm` crate: runtime-dispatched AVX2/AVX-512/NEON
//! micro-kernels, threads through rayon). Every convolution here and in `asma-infer` is one or
//! a few calls of [`matmul`] on views of contiguous `(C, T·V)` activations.

use gemm::Parallelism;

/// A matrix view: element `(i, j)` at `ptr[i·rs + j·cs]`.
#[derive(Clone, Copy)]
pub struct View<'a> {
    pub data: &'a [f32],
    pub rs: usize,
    pub cs: usize,
}

impl<'a> View<'a> {
    /// A row-major matrix with `cols` columns.
    pub fn rows(data: &'a [f32], cols: usize) -> Self {
        View {
            data,
            rs: cols,
            cs: 1,
        }
    }

    /// The transpose of a row-major matrix with `cols` columns (PyTorch's `Linear.weight`).
    pub fn transposed(data: &'a [f32], cols: usize) -> Self {
        View {
            data,
            rs: 1,
            cs: cols,
        }
    }

    /// Checks that `(m, n)` fits inside `data`: the GEMM reads through raw pointers.
    fn check(&self, m: usize, n: usize, what: &str) {
        if m > 0 && n > 0 {
            let last = (m - 1) * self.rs + (n - 1) * self.cs;
            assert!(
                last < self.data.len(),
                "{what} view of {m}×{n} (strides {}, {}) exceeds {} values",
                self.rs,
                self.cs,
                self.data.len()
            );
        }
    }
}

/// `dst (m×n, row stride dst_rs) = [dst +] lhs (m×k) · rhs (k×n)`. BLAS's argument list, on
/// purpose: every call site reads like the GEMM it is.
#[allow(clippy::too_many_arguments)]
pub fn matmul(
    dst: &mut [f32],
    dst_rs: usize,
    m: usize,
    n: usize,
    k: usize,
    lhs: View,
    rhs: View,
    accumulate: bool,
    threads: usize,
) {
    if m == 0 || n == 0 {
        return;
    }
    View {
        data: dst,
        rs: dst_rs,
        cs: 1,
    }
    .check(m, n, "dst");
    lhs.check(m, k, "lhs");
    rhs.check(k, n, "rhs");
    let parallelism = if threads > 1 {
        Parallelism::Rayon(threads)
    } else {
        Parallelism::None
    };
    // SAFETY: the three views were bounds-checked above for the extents the GEMM touches,
    // and `dst` is borrowed mutably so it aliases neither input.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_rs as isize,
            accumulate,
            lhs.data.as_ptr(),
            lhs.cs as isize,
            lhs.rs as isize,
            rhs.data.as_ptr(),
            rhs.cs as isize,
            rhs.rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f32], b: &[f32], m: usize, n: usize, k: usize) -> Vec<f32> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            }
        }
        c
    }

    #[test]
    fn matmul_matches_naive_with_transposes_and_accumulation() {
        let (m, n, k) = (7, 5, 9);
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.11).cos()).collect();
        let expected = naive(&a, &b, m, n, k);
        for threads in [1, 2] {
            let mut c = vec![1.0; m * n];
            matmul(
                &mut c,
                n,
                m,
                n,
                k,
                View::rows(&a, k),
                View::rows(&b, n),
                true,
                threads,
            );
            for (x, e) in c.iter().zip(&expected) {
                assert!((x - (e + 1.0)).abs() < 1e-5);
            }
        }
        // bᵀ stored as (n, k): the same product through the transposed view.
        let bt: Vec<f32> = (0..n * k).map(|i| b[(i % k) * n + i / k]).collect();
        let mut c = vec![0.0; m * n];
        matmul(
            &mut c,
            n,
            m,
            n,
            k,
            View::rows(&a, k),
            View::transposed(&bt, k),
            false,
            1,
        );
        for (x, e) in c.iter().zip(&expected) {
            assert!((x - e).abs() < 1e-5);
        }
    }

    #[test]
    #[should_panic(expected = "exceeds")]
    fn views_are_bounds_checked() {
        let a = vec![0.0; 6];
        let mut c = vec![0.0; 4];
        matmul(
            &mut c,
            2,
            2,
            2,
            4,
            View::rows(&a, 4),
            View::rows(&a, 2),
            false,
            1,
        );
    }
}
