//! `asma bench ops`: forward and backward time of each kind of operation in one ST-GCN block
//! at pre-training sizes (`N·M = 2·batch` rows, 16 channels, 50 frames, 25 joints), each
//! followed by a device sync, so a slow kernel on a backend shows by name. `host` rows are
//! the CPU kernels of `asma_model::host` (burn's own operation on other backends); `sums` and
//! `shifted` rows the device-generic forms of `asma_model::norm` and `asma_model::conv` (what
//! `conv = "shifted"` runs). With a Python, the same operations in PyTorch
//! (`tools/reference/bench_ops.py`) in the same run, matched by row name.

use std::time::Instant;

use asma_model::burn::nn::conv::{Conv2d, Conv2dConfig};
use asma_model::burn::nn::{BatchNormConfig, DropoutConfig, PaddingConfig2d};
use asma_model::burn::tensor::activation::relu;
use asma_model::burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use asma_model::conv::{conv_kx1_matmul, conv_kx1_shifted};
use asma_model::graph::adjacency;
use asma_model::host::{batch_norm, temporal_conv};
use asma_model::norm::batch_norm_sums;
use asma_skeleton::NTU25;
use serde::Serialize;

use crate::error::{BenchError, Result};
use crate::reference::run_reference;

/// What to time.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct OpsOptions {
    /// Samples per batch (the tensors have 2·batch rows: persons folded in).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 128))]
    pub batch: usize,
    /// Timed repetitions after one warm-up.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 3))]
    pub reps: usize,
    #[cfg_attr(feature = "clap", arg(long, default_value = "cpu"))]
    pub device: String,
    /// Also time the operations in PyTorch with this interpreter.
    #[cfg_attr(feature = "clap", arg(long))]
    pub python: Option<String>,
    #[cfg_attr(feature = "clap", arg(long, default_value = "cpu"))]
    pub torch_device: String,
}

/// One operation's times, milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct OpTiming {
    pub op: String,
    pub forward_ms: f64,
    pub backward_ms: f64,
    /// The warm-up's forward + backward: kernel compilation and, on GPU builds, autotuning.
    pub first_call_ms: f64,
}

/// asma's rows and PyTorch's answer (its rows under `ops`, named as asma's).
#[derive(Debug, Clone, Serialize)]
pub struct OpsBench {
    pub device: String,
    pub batch: usize,
    pub threads: usize,
    pub torch_device: String,
    pub asma: Vec<OpTiming>,
    pub pytorch: serde_json::Value,
}

/// Seconds for `f` on `x`: forward (then sync) and backward of `sum(f(x))` (then sync),
/// averaged over `reps` after one warm-up, and the warm-up's forward + backward.
fn time_op(
    device: &Device,
    x: &Tensor<4>,
    reps: usize,
    f: &dyn Fn(Tensor<4>) -> Tensor<4>,
) -> Result<(f64, f64, f64)> {
    let sync = || {
        device
            .sync()
            .map_err(|e| BenchError::Device(format!("{e:?}")))
    };
    let (mut fwd, mut bwd, mut first) = (0.0, 0.0, 0.0);
    for r in 0..=reps {
        let input = x.clone().require_grad();
        sync()?;
        let t = Instant::now();
        let y = f(input);
        sync()?;
        let t1 = t.elapsed().as_secs_f64();
        let _grads = y.sum().backward();
        sync()?;
        if r > 0 {
            fwd += t1;
            bwd += t.elapsed().as_secs_f64() - t1;
        } else {
            first = t.elapsed().as_secs_f64();
        }
    }
    Ok((fwd / reps as f64, bwd / reps as f64, first))
}

/// The host kernel where the backend has it (the CPU), burn's `Conv2d` elsewhere.
fn host_or_direct(x: Tensor<4>, conv: &Conv2d, stride: usize, padding: usize) -> Tensor<4> {
    temporal_conv(&x, conv, stride, padding).unwrap_or_else(|| conv.forward(x))
}

/// Times every operation of the block.
pub fn ops(o: &OpsOptions) -> Result<OpsBench> {
    if o.batch == 0 || o.reps == 0 {
        return Err(BenchError::Options(
            "--batch and --reps must be at least 1".into(),
        ));
    }
    let device = asma_model::device::select(&o.device)?.autodiff();
    device.seed(0);
    let (n, c, t, v) = (2 * o.batch, 16, 50, 25);
    let x = Tensor::<4>::random([n, c, t, v], Distribution::Normal(0.0, 1.0), &device);
    let x_wide = Tensor::<4>::random([n, 3 * c, t, v], Distribution::Normal(0.0, 1.0), &device);
    let x_bn1d = Tensor::<4>::random([n, 75, t, 1], Distribution::Normal(0.0, 1.0), &device);
    let bn = BatchNormConfig::new(c).init(&device);
    let data_bn = BatchNormConfig::new(75).init(&device);
    let gcn = Conv2dConfig::new([c, 3 * c], [1, 1]).init(&device);
    let tcn = Conv2dConfig::new([c, c], [9, 1])
        .with_padding(PaddingConfig2d::Explicit(4, 0, 4, 0))
        .init(&device);
    let tcn2 = Conv2dConfig::new([c, 2 * c], [9, 1])
        .with_stride([2, 1])
        .with_padding(PaddingConfig2d::Explicit(4, 0, 4, 0))
        .init(&device);
    let drop = DropoutConfig::new(0.5).init();
    let a_graph = adjacency(&NTU25, &device);
    let keep: Vec<i64> = (0..25).filter(|j| j % 3 != 1).collect();
    let keep = Tensor::<1, Int>::from_data(TensorData::new(keep.clone(), [keep.len()]), &device);
    type Op<'a> = (
        &'static str,
        &'a Tensor<4>,
        Box<dyn Fn(Tensor<4>) -> Tensor<4> + 'a>,
    );
    let ops: Vec<Op> = vec![
        (
            "data_bn (BatchNorm1d, 75 ch)",
            &x_bn1d,
            Box::new(|x: Tensor<4>| {
                let [n, ch, t, _] = x.dims();
                data_bn.forward(x.reshape([n, ch, t])).unsqueeze_dim(3)
            }),
        ),
        (
            "data_bn (BatchNorm1d, 75 ch), host",
            &x_bn1d,
            Box::new(|x: Tensor<4>| {
                let [n, ch, t, _] = x.dims();
                batch_norm(&data_bn, x.reshape([n, ch, t])).unsqueeze_dim(3)
            }),
        ),
        (
            "data_bn (BatchNorm1d, 75 ch), sums",
            &x_bn1d,
            Box::new(|x: Tensor<4>| {
                let [n, ch, t, _] = x.dims();
                batch_norm_sums(&data_bn, x.reshape([n, ch, t])).unsqueeze_dim(3)
            }),
        ),
        ("batchnorm2d (16 ch)", &x, Box::new(|x| bn.forward(x))),
        (
            "batchnorm2d (16 ch), host",
            &x,
            Box::new(|x| batch_norm(&bn, x)),
        ),
        (
            "batchnorm2d (16 ch), sums",
            &x,
            Box::new(|x| batch_norm_sums(&bn, x)),
        ),
        (
            "gcn 1x1 conv 16→48, direct",
            &x,
            Box::new(|x| gcn.forward(x)),
        ),
        (
            "gcn 1x1 conv 16→48, matmul",
            &x,
            Box::new(|x| conv_kx1_matmul(x, &gcn, 1, 0)),
        ),
        (
            "gcn 1x1 conv 16→48, host",
            &x,
            Box::new(|x| host_or_direct(x, &gcn, 1, 0)),
        ),
        (
            "graph product (48 ch)",
            &x_wide,
            Box::new(|x| asma_model::stgcn::graph_product_matmul(x, a_graph.clone(), c)),
        ),
        (
            "graph product (48 ch), host",
            &x_wide,
            Box::new(|x| asma_model::stgcn::graph_product(x, a_graph.clone(), c)),
        ),
        (
            "tcn 9x1 conv 16→16, direct",
            &x,
            Box::new(|x| tcn.forward(x)),
        ),
        (
            "tcn 9x1 conv 16→16, matmul",
            &x,
            Box::new(|x| conv_kx1_matmul(x, &tcn, 1, 4)),
        ),
        (
            "tcn 9x1 conv 16→16, host",
            &x,
            Box::new(|x| host_or_direct(x, &tcn, 1, 4)),
        ),
        (
            "tcn 9x1 conv 16→16, shifted",
            &x,
            Box::new(|x| conv_kx1_shifted(x, &tcn, 1, 4)),
        ),
        (
            "tcn 9x1 conv 16→32 stride 2, direct",
            &x,
            Box::new(|x| tcn2.forward(x)),
        ),
        (
            "tcn 9x1 conv 16→32 stride 2, matmul",
            &x,
            Box::new(|x| conv_kx1_matmul(x, &tcn2, 2, 4)),
        ),
        (
            "tcn 9x1 conv 16→32 stride 2, host",
            &x,
            Box::new(|x| host_or_direct(x, &tcn2, 2, 4)),
        ),
        (
            "tcn 9x1 conv 16→32 stride 2, shifted",
            &x,
            Box::new(|x| conv_kx1_shifted(x, &tcn2, 2, 4)),
        ),
        ("relu", &x, Box::new(relu)),
        (
            "dropout 0.5",
            &x,
            Box::new(|x| asma_model::dropout::dropout(&drop, x)),
        ),
        (
            "select 17 of 25 joints",
            &x,
            Box::new(|x| x.select(3, keep.clone())),
        ),
        (
            "permute (N,C,T,V)→(N,T,V,C) + copy",
            &x,
            Box::new(|x| x.permute([0, 2, 3, 1]).reshape([n, t, v, c]) * 1.0),
        ),
        (
            "mean over (T,V)",
            &x,
            Box::new(|x| x.mean_dim(3).mean_dim(2)),
        ),
    ];
    let mut asma = Vec::new();
    for (name, input, f) in &ops {
        let (fwd, bwd, first) = time_op(&device, input, o.reps, f.as_ref())?;
        asma.push(OpTiming {
            op: name.to_string(),
            forward_ms: 1e3 * fwd,
            backward_ms: 1e3 * bwd,
            first_call_ms: 1e3 * first,
        });
    }
    let threads = rayon::current_num_threads();
    let mut pytorch = serde_json::Value::Null;
    if let Some(py) = &o.python {
        let args = [
            "--batch",
            &o.batch.to_string(),
            "--reps",
            &o.reps.to_string(),
            "--device",
            &o.torch_device,
            "--threads",
            &threads.to_string(),
        ]
        .map(String::from);
        pytorch = run_reference(py, "bench_ops.py", &args, Some(&o.torch_device))?;
    }
    Ok(OpsBench {
        device: o.device.clone(),
        batch: o.batch,
        threads,
        torch_device: o.torch_device.clone(),
        asma,
        pytorch,
    })
}

impl OpsBench {
    /// PyTorch's row of the same name (it repeats its one form under each of asma's names).
    fn torch_ms(&self, op: &str, key: &str) -> Option<f64> {
        self.pytorch["ops"]
            .as_array()?
            .iter()
            .find(|r| r["op"].as_str() == Some(op))?[key]
            .as_f64()
    }

    /// The rows as a Markdown table, asma's and PyTorch's side by side.
    pub fn markdown(&self) -> String {
        let mut out = format!(
            "ST-GCN block operations, {}×16×50×25, asma on {} vs PyTorch on {} (ms, forward / backward):\n",
            2 * self.batch, self.device, self.torch_device
        );
        out += "| op | asma fwd | asma bwd | PyTorch fwd | PyTorch bwd |\n|---|---|---|---|---|\n";
        for r in &self.asma {
            let p = |k| {
                self.torch_ms(&r.op, k)
                    .map_or("–".to_string(), |v| format!("{v:.2}"))
            };
            out += &format!(
                "| {} | {:.2} | {:.2} | {} | {} |\n",
                r.op,
                r.forward_ms,
                r.backward_ms,
                p("forward_ms"),
                p("backward_ms")
            );
        }
        out
    }
}
