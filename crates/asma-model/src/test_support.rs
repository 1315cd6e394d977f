//! Helpers shared by the unit tests of the encoder's operation forms.

use burn::tensor::Tensor;

/// Element-wise `|a − b| ≤ tol·(1 + |b|)`, naming `what` and the first index that differs.
pub fn assert_close<const D: usize>(a: Tensor<D>, b: Tensor<D>, tol: f32, what: &str) {
    let (a, b): (Vec<f32>, Vec<f32>) = (
        a.into_data().try_into_vec::<f32>().unwrap(),
        b.into_data().try_into_vec::<f32>().unwrap(),
    );
    assert_eq!(a.len(), b.len(), "{what}");
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert!(
            (x - y).abs() <= tol * (1.0 + y.abs()),
            "{what}[{i}]: {x} vs {y}"
        );
    }
}
