//! The encoder's costliest operations on the CPU backend (the convolutions, the graph product,
//! BatchNorm), each one autodiff operation whose forward and backward are the host kernels of
//! `asma-kernels` (GEMMs over samples in parallel, BatchNorm in three passes) instead of
//! burn-flex's generic convolution, its permute-then-matmul, and its BatchNorm composed of
//! permuted reductions (`asma bench ops` measured those at 2–5× PyTorch CPU; BENCHMARKS.md).
//!
//! Each function returns `None` when its tensors are not on the CPU backend (or use gradient
//! checkpointing), and the caller runs burn's own operation: GPUs keep their kernels. Same
//! parameters, same results within float tolerance, same gradients (tests below compare both
//! against burn's autodiff).

use std::borrow::Cow;

use asma_kernels::graph::GraphProduct;
use asma_kernels::norm::BatchNormShape;
use asma_kernels::temporal::TemporalConv;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::{Autodiff, Flex};
use burn::nn::conv::Conv2d;
use burn::nn::BatchNorm;
use burn::tensor::{DType, Tensor, TensorData};

type Ad = Autodiff<Flex, NoCheckpointing>;

/// A float tensor's primitive on the CPU backend: tracked by autodiff, or plain.
enum Host<T> {
    Tracked(T),
    Plain(FlexTensor),
}

/// The autodiff primitive (`Some(Tracked)`), the plain one (`Some(Plain)`), or `None` when `t`
/// is on another backend, uses gradient checkpointing or is not `f32`.
fn host<const D: usize>(t: &Tensor<D>) -> Option<Host<AdPrimitive>> {
    if t.dtype() != DType::F32 {
        return None;
    }
    if t.device().is_autodiff() {
        t.clone().try_into_primitive::<Ad>().ok().map(Host::Tracked)
    } else {
        t.clone().try_into_primitive::<Flex>().ok().map(Host::Plain)
    }
}

/// The values of a CPU tensor, row-major (a copy only when it is a strided view).
fn values(t: &FlexTensor) -> Cow<'_, [f32]> {
    match t.as_slice::<f32>() {
        Some(v) => Cow::Borrowed(v),
        None => Cow::Owned(t.to_contiguous().as_slice::<f32>().unwrap().to_vec()),
    }
}

fn flex(values: Vec<f32>, shape: Vec<usize>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

/// Inputs of one operation, all tracked or all plain.
enum Inputs<T, const N: usize> {
    Tracked([T; N]),
    Plain([FlexTensor; N]),
}

fn inputs<const N: usize, T>(hosts: [Option<Host<T>>; N]) -> Option<Inputs<T, N>> {
    let (mut tracked, mut plain) = (Vec::new(), Vec::new());
    for h in hosts {
        match h? {
            Host::Tracked(t) => tracked.push(t),
            Host::Plain(t) => plain.push(t),
        }
    }
    match (tracked.try_into(), plain.try_into()) {
        (Ok(t), _) => Some(Inputs::Tracked(t)),
        (_, Ok(p)) => Some(Inputs::Plain(p)),
        _ => None,
    }
}

type AdPrimitive = <Ad as burn::backend::BackendTypes>::FloatTensorPrimitive;

/// Runs `forward` on the inputs' host values. For tracked inputs it records `step` in the
/// autodiff graph with the state `state` builds from the input primitives and `forward`'s
/// extra result, so that the backward pass calls `step`. `None` when the inputs are not all
/// on the CPU backend, all tracked or all plain.
fn host_op<const N: usize, const D: usize, B, E>(
    step: B,
    tensors: [Option<Host<AdPrimitive>>; N],
    forward: impl Fn([&FlexTensor; N]) -> (FlexTensor, E),
    state: impl FnOnce([FlexTensor; N], &E) -> B::State,
) -> Option<(Tensor<D>, E)>
where
    B: Backward<Flex, N>,
{
    Some(match inputs(tensors)? {
        Inputs::Plain(t) => {
            let (y, extra) = forward(t.each_ref());
            (Tensor::from_primitive::<Flex>(y), extra)
        }
        Inputs::Tracked(t) => {
            let (y, extra) = forward(t.each_ref().map(|t| t.primitive()));
            let nodes = t.each_ref().map(|t| t.node());
            let out = match step
                .prepare::<NoCheckpointing>(nodes)
                .compute_bound()
                .stateful()
            {
                OpsKind::Tracked(prep) => {
                    let s = state(t.map(|t| t.into_primitive()), &extra);
                    prep.finish(s, y)
                }
                OpsKind::UnTracked(prep) => prep.finish(y),
            };
            (Tensor::from_primitive::<Ad>(out), extra)
        }
    })
}

#[derive(Debug)]
struct TemporalConvStep;

impl Backward<Flex, 3> for TemporalConvStep {
    type State = (FlexTensor, FlexTensor, TemporalConv);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_w, node_b] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node);
        let (x, w, shape) = ops.state;
        let mut dx = vec![0f32; shape.sizes()[0]];
        let (dw, db) = shape.backward(&values(&x), &values(&w), &values(&dy), &mut dx);
        if let Some(node) = node_x {
            grads.register::<Flex>(node.id, flex(dx, x.layout().shape().to_vec()));
        }
        if let Some(node) = node_w {
            grads.register::<Flex>(node.id, flex(dw, w.layout().shape().to_vec()));
        }
        if let Some(node) = node_b {
            grads.register::<Flex>(node.id, flex(db, vec![shape.c_out]));
        }
    }
}

/// `conv` (a `k×1` convolution with bias, stride `s` over T, zero padding `p`) on
/// `x (N, C, T, V)` → `(N, O, T', V)`, on the host; `None` off the CPU backend.
pub fn temporal_conv(
    x: &Tensor<4>,
    conv: &Conv2d,
    stride: usize,
    padding: usize,
) -> Option<Tensor<4>> {
    let bias = conv.bias.as_ref()?;
    let (w, b) = (conv.weight.val(), bias.val());
    let [o, c, k, kw] = w.dims();
    let [n, c_x, t, v] = x.dims();
    if kw != 1 || c_x != c || t + 2 * padding < k {
        return None;
    }
    let shape = TemporalConv {
        n,
        c_in: c,
        c_out: o,
        t,
        v,
        kernel: k,
        stride,
        padding,
    };
    let out_shape = vec![n, o, shape.t_out(), v];
    let forward = |[x, w, b]: [&FlexTensor; 3]| {
        let mut y = vec![0f32; shape.sizes()[2]];
        shape.forward(&values(x), &values(w), Some(&values(b)), &mut y);
        (flex(y, out_shape.clone()), ())
    };
    let state = |[x, w, _]: [FlexTensor; 3], _: &()| (x, w, shape);
    let hosts = [host(x), host(&w), host(&b)];
    host_op(TemporalConvStep, hosts, forward, state).map(|(y, ())| y)
}

#[derive(Debug)]
struct GraphProductStep;

impl Backward<Flex, 2> for GraphProductStep {
    type State = (FlexTensor, FlexTensor, GraphProduct);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_z, node_a] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node);
        let (z, a, shape) = ops.state;
        let mut dz = vec![0f32; shape.sizes()[0]];
        let da = shape.backward(&values(&z), &values(&a), &values(&dy), &mut dz);
        if let Some(node) = node_z {
            grads.register::<Flex>(node.id, flex(dz, z.layout().shape().to_vec()));
        }
        if let Some(node) = node_a {
            grads.register::<Flex>(node.id, flex(da, a.layout().shape().to_vec()));
        }
    }
}

/// `y[n,c,t,w] = Σ_k Σ_v z[n,k·C+c,t,v] · a[k,v,w]` for `z (N, K·C, T, V)` and `a (K, V, W)`
/// → `(N, C, T, W)`, on the host; `None` off the CPU backend.
pub fn graph_product(z: &Tensor<4>, a: &Tensor<3>, c: usize) -> Option<Tensor<4>> {
    let [n, kc, t, v] = z.dims();
    let [k, v_a, w] = a.dims();
    if v_a != v || k * c != kc {
        return None;
    }
    let shape = GraphProduct { n, k, c, t, v, w };
    let forward = |[z, a]: [&FlexTensor; 2]| {
        let mut y = vec![0f32; shape.sizes()[2]];
        shape.forward(&values(z), &values(a), &mut y);
        (flex(y, vec![n, c, t, w]), ())
    };
    let state = |[z, a]: [FlexTensor; 2], _: &()| (z, a, shape);
    host_op(GraphProductStep, [host(z), host(a)], forward, state).map(|(y, ())| y)
}

/// BatchNorm with its running statistics, on the host for a plain CPU tensor (burn's
/// composite takes five passes over the input; this one).
fn batch_norm_inference<const D: usize>(bn: &BatchNorm, x: Tensor<D>) -> Tensor<D> {
    let Some(Host::Plain(xp)) = host(&x) else {
        return bn.forward(x);
    };
    let read = |t: Tensor<1>| t.into_data().convert::<f32>().try_into_vec::<f32>().ok();
    let (Some(gamma), Some(beta), Some(mean), Some(var)) = (
        read(bn.gamma.val()),
        read(bn.beta.val()),
        read(bn.running_mean.value()),
        read(bn.running_var.value()),
    ) else {
        return bn.forward(x);
    };
    let dims = x.dims();
    let shape = BatchNormShape {
        n: dims[0],
        c: dims[1],
        l: dims[2..].iter().product(),
    };
    let scale: Vec<f32> = (0..shape.c)
        .map(|c| gamma[c] / (var[c] as f64 + bn.epsilon).sqrt() as f32)
        .collect();
    let shift: Vec<f32> = (0..shape.c).map(|c| beta[c] - mean[c] * scale[c]).collect();
    let mut y = vec![0f32; x.shape().num_elements()];
    shape.affine(&values(&xp), &scale, &shift, &mut y);
    Tensor::from_primitive::<Flex>(flex(y, dims.to_vec()))
}

#[derive(Debug)]
struct BatchNormStep;

impl Backward<Flex, 3> for BatchNormStep {
    /// Input, gamma, batch mean and variance, epsilon, shape.
    type State = (
        FlexTensor,
        FlexTensor,
        Vec<f32>,
        Vec<f32>,
        f64,
        BatchNormShape,
    );

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_gamma, node_beta] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node);
        let (x, gamma, mean, var, epsilon, shape) = ops.state;
        let mut dx = vec![0f32; x.layout().num_elements()];
        let (dgamma, dbeta) = shape.backward(
            &values(&x),
            &values(&gamma),
            &mean,
            &var,
            epsilon,
            &values(&dy),
            &mut dx,
        );
        if let Some(node) = node_x {
            grads.register::<Flex>(node.id, flex(dx, x.layout().shape().to_vec()));
        }
        if let Some(node) = node_gamma {
            grads.register::<Flex>(node.id, flex(dgamma, vec![shape.c]));
        }
        if let Some(node) = node_beta {
            grads.register::<Flex>(node.id, flex(dbeta, vec![shape.c]));
        }
    }
}

/// `bn` applied to `x (N, C, …)` as burn's `BatchNorm::forward` does: the training path
/// (batch statistics, running statistics updated) on the host when `x` is a tracked CPU
/// tensor, the inference path (running statistics) when it is a plain one; burn's own
/// forward on other backends.
pub fn batch_norm<const D: usize>(bn: &BatchNorm, x: Tensor<D>) -> Tensor<D> {
    if !(x.device().is_autodiff() && bn.training.is_enabled()) {
        return batch_norm_inference(bn, x);
    }
    let (gamma, beta) = (bn.gamma.val(), bn.beta.val());
    let dims = x.dims();
    let shape = BatchNormShape {
        n: dims[0],
        c: dims[1],
        l: dims[2..].iter().product(),
    };
    let forward = |[x, g, b]: [&FlexTensor; 3]| {
        let mut y = vec![0f32; shape.n * shape.c * shape.l];
        let stats = shape.forward(&values(x), &values(g), &values(b), bn.epsilon, &mut y);
        (flex(y, dims.to_vec()), stats)
    };
    let state = |[x, g, _]: [FlexTensor; 3], (mean, var): &(Vec<f32>, Vec<f32>)| {
        (x, g, mean.clone(), var.clone(), bn.epsilon, shape)
    };
    let hosts = [host(&x), host(&gamma), host(&beta)];
    let Some((y, (mean, var))) = host_op(BatchNormStep, hosts, forward, state) else {
        return bn.forward(x);
    };
    let device = x.device();
    let batch = |v: Vec<f32>| Tensor::<1>::from_data(TensorData::new(v, [shape.c]), &device);
    crate::norm::update_running_statistics(bn, batch(mean), batch(var));
    y
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{assert_batch_norm_equals_burns, assert_close};
    use burn::module::Module;
    use burn::nn::conv::Conv2dConfig;
    use burn::nn::PaddingConfig2d;
    use burn::tensor::{Device, Distribution};

    #[test]
    fn temporal_conv_and_its_gradients_equal_burns() {
        let device = Device::flex().autodiff();
        for (k, s, t) in [(9, 1, 50), (9, 2, 50), (9, 2, 13), (1, 2, 25), (1, 1, 30)] {
            let p = (k - 1) / 2;
            let conv = Conv2dConfig::new([4, 6], [k, 1])
                .with_stride([s, 1])
                .with_padding(PaddingConfig2d::Explicit(p, 0, p, 0))
                .init(&device);
            let x = Tensor::<4>::random([3, 4, t, 5], Distribution::Normal(0.0, 1.0), &device)
                .require_grad();
            let dy = Tensor::<4>::random(
                [3, 6, (t + 2 * p - k) / s + 1, 5],
                Distribution::Normal(0.0, 1.0),
                &device,
            );
            let ours = temporal_conv(&x, &conv, s, p).expect("on the CPU backend");
            let theirs = conv.forward(x.clone());
            assert_close(ours.clone(), theirs.clone(), 1e-5, "forward");
            let g_ours = (ours * dy.clone()).sum().backward();
            let g_theirs = (theirs * dy).sum().backward();
            let what = format!("k {k} s {s} T {t}");
            assert_close(
                x.grad(&g_ours).unwrap(),
                x.grad(&g_theirs).unwrap(),
                1e-4,
                &what,
            );
            let w = conv.weight.val();
            assert_close(
                w.grad(&g_ours).unwrap(),
                w.grad(&g_theirs).unwrap(),
                1e-4,
                &what,
            );
            let b = conv.bias.as_ref().unwrap().val();
            assert_close(
                b.grad(&g_ours).unwrap(),
                b.grad(&g_theirs).unwrap(),
                1e-4,
                &what,
            );
            // Without autodiff: the same forward on plain CPU tensors.
            let plain = conv.valid();
            let x = x.inner();
            let y = temporal_conv(&x, &plain, s, p).unwrap();
            assert_close(y, plain.forward(x), 1e-5, "plain forward");
        }
    }

    #[test]
    fn graph_product_and_its_gradients_equal_burns() {
        let device = Device::flex().autodiff();
        let (n, c, t, v) = (3, 4, 6, 7);
        let z = Tensor::<4>::random([n, 3 * c, t, v], Distribution::Normal(0.0, 1.0), &device)
            .require_grad();
        let a =
            Tensor::<3>::random([3, v, 5], Distribution::Normal(0.0, 1.0), &device).require_grad();
        let dy = Tensor::<4>::random([n, c, t, 5], Distribution::Normal(0.0, 1.0), &device);
        let theirs = z
            .clone()
            .reshape([n, 3, c, t, v])
            .permute([0, 2, 3, 1, 4])
            .reshape([n * c * t, 3 * v])
            .matmul(a.clone().reshape([3 * v, 5]))
            .reshape([n, c, t, 5]);
        let ours = graph_product(&z, &a, c).expect("on the CPU backend");
        assert_close(ours.clone(), theirs.clone(), 1e-5, "forward");
        let g_ours = (ours * dy.clone()).sum().backward();
        let g_theirs = (theirs * dy).sum().backward();
        assert_close(
            z.grad(&g_ours).unwrap(),
            z.grad(&g_theirs).unwrap(),
            1e-4,
            "dz",
        );
        assert_close(
            a.grad(&g_ours).unwrap(),
            a.grad(&g_theirs).unwrap(),
            1e-4,
            "da",
        );
        let (z, a) = (z.inner(), a.inner());
        let plain = crate::stgcn::graph_product_matmul(z.clone(), a.clone(), c);
        assert_close(graph_product(&z, &a, c).unwrap(), plain, 1e-5, "plain");
    }

    #[test]
    fn batch_norm_its_gradients_and_running_statistics_equal_burns() {
        assert_batch_norm_equals_burns(&Device::flex(), [4, 3, 7, 5], batch_norm);
        assert_batch_norm_equals_burns(&Device::flex(), [6, 75, 50, 1], batch_norm);
    }
}
