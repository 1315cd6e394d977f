//! Helpers shared by the unit tests of the encoder's operation forms.

use burn::module::{Module, Param};
use burn::nn::{BatchNorm, BatchNormConfig};
use burn::tensor::{Device, Distribution, Tensor};

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

/// Checks a training-mode BatchNorm form (`form`, called as `batch_norm(bn, x)`) against
/// burn's `BatchNorm`: two training steps (the second sees the running statistics the first
/// wrote; values, dx, dgamma, dbeta, running mean and variance), then inference on a plain
/// tensor. `dims` is `(N, C, …)`: 4-D for BatchNorm2d, 3-D for the encoder's data
/// BatchNorm1d. Runs on `device` (plain; its autodiff form is taken here).
pub fn assert_batch_norm_equals_burns<const D: usize>(
    device: &Device,
    dims: [usize; D],
    form: impl Fn(&BatchNorm, Tensor<D>) -> Tensor<D>,
) {
    let plain = device.clone();
    let device = plain.clone().autodiff();
    let ours_bn = BatchNormConfig::new(dims[1])
        .with_momentum(0.3)
        .init(&device);
    let theirs_bn = BatchNormConfig::new(dims[1])
        .with_momentum(0.3)
        .init(&device);
    // Non-trivial gamma and beta, the same values in both (separate parameters).
    let gamma = Tensor::<1>::random([dims[1]], Distribution::Normal(1.0, 0.5), &plain).into_data();
    let beta = Tensor::<1>::random([dims[1]], Distribution::Normal(0.0, 0.5), &plain).into_data();
    let set = |mut bn: BatchNorm| {
        bn.gamma = Param::from_tensor(Tensor::from_data(gamma.clone(), &device));
        bn.beta = Param::from_tensor(Tensor::from_data(beta.clone(), &device));
        bn
    };
    let (ours_bn, theirs_bn) = (set(ours_bn), set(theirs_bn));
    for step in 0..2 {
        let what = |s: &str| format!("{dims:?} step {step}: {s}");
        let x = Tensor::<D>::random(dims, Distribution::Normal(0.5, 2.0), &device).require_grad();
        let dy = Tensor::<D>::random(dims, Distribution::Normal(0.0, 1.0), &device);
        let ours = form(&ours_bn, x.clone());
        let theirs = theirs_bn.forward(x.clone());
        assert_close(ours.clone(), theirs.clone(), 1e-4, &what("forward"));
        let g_ours = (ours * dy.clone()).sum().backward();
        let g_theirs = (theirs * dy).sum().backward();
        assert_close(
            x.grad(&g_ours).unwrap(),
            x.grad(&g_theirs).unwrap(),
            1e-3,
            &what("dx"),
        );
        for (a, b, name) in [
            (&ours_bn.gamma, &theirs_bn.gamma, "dgamma"),
            (&ours_bn.beta, &theirs_bn.beta, "dbeta"),
        ] {
            assert_close(
                a.val().grad(&g_ours).unwrap(),
                b.val().grad(&g_theirs).unwrap(),
                1e-3,
                &what(name),
            );
        }
        assert_close(
            ours_bn.running_mean.value(),
            theirs_bn.running_mean.value(),
            1e-5,
            &what("running mean"),
        );
        assert_close(
            ours_bn.running_var.value(),
            theirs_bn.running_var.value(),
            1e-5,
            &what("running var"),
        );
    }
    // Inference (plain tensors): the running statistics, as burn's inference path.
    let x = Tensor::<D>::random(dims, Distribution::Normal(0.5, 2.0), &plain);
    let (ours_bn, theirs_bn) = (ours_bn.valid(), theirs_bn.valid());
    assert_close(
        form(&ours_bn, x.clone()),
        theirs_bn.forward(x),
        1e-5,
        "inference",
    );
}
