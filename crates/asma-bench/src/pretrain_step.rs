//! `asma bench pretrain`: the step of `tools/reference/bench_pretrain.py` — one encoder and
//! projector, anchor (50 frames), temporal (30 frames), spatial (8 joints removed),
//! BT(a,t) + BT(a,s), backward, Adam — timed in burn for each convolution and BatchNorm form
//! asked for and, with a Python, in PyTorch in the same run.

use std::time::Instant;

use asma_model::asma::{BranchViews, PretrainBranch};
use asma_model::barlow::BarlowTwinsConfig;
use asma_model::burn::optim::decay::WeightDecayConfig;
use asma_model::burn::optim::{AdamConfig, GradientsParams};
use asma_model::burn::tensor::{Distribution, Int, Tensor, TensorData};
use asma_model::conv::ConvImpl;
use asma_model::norm::NormImpl;
use asma_model::{StgcnEncoderConfig, StgcnEncoderInit};
use serde::Serialize;

use crate::error::{BenchError, Result};
use crate::reference::run_reference;

/// The step to time.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct PretrainStepOptions {
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 32))]
    pub batch: usize,
    /// Projector width (the paper: 6144).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 6144))]
    pub proj_dim: usize,
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 16))]
    pub hidden: usize,
    /// Persons per clip (M): 2 as in NTU, 1 for the single-body mode (`data.bodies = 1`).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 2))]
    pub bodies: usize,
    /// Timed steps (after one warm-up step).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 3))]
    pub steps: usize,
    /// Also time `tools/reference/bench_pretrain.py` with this Python (needs torch).
    #[cfg_attr(feature = "clap", arg(long))]
    pub python: Option<String>,
    /// Threads for both (default: all cores).
    #[cfg_attr(feature = "clap", arg(long))]
    pub threads: Option<usize>,
    #[cfg_attr(feature = "clap", arg(long, default_value = "cpu"))]
    pub device: String,
    /// PyTorch's device for the comparison (`cpu`, `cuda`).
    #[cfg_attr(feature = "clap", arg(long, default_value = "cpu"))]
    pub torch_device: String,
    /// Convolution forms to time, the first one compared with PyTorch: host, direct, matmul,
    /// shifted.
    #[cfg_attr(
        feature = "clap",
        arg(long, value_delimiter = ',', default_value = "host")
    )]
    pub conv: Vec<ConvImpl>,
    /// BatchNorm forms to time with each convolution form: auto (the one that goes with it),
    /// host, burn, sums.
    #[cfg_attr(
        feature = "clap",
        arg(long, value_delimiter = ',', default_value = "auto")
    )]
    pub norm: Vec<NormImpl>,
}

/// One convolution and BatchNorm form's timing.
#[derive(Debug, Clone, Serialize)]
pub struct FormTiming {
    pub conv: ConvImpl,
    pub batch_norm: NormImpl,
    /// The untimed first step: kernel compilation and, on GPU builds, autotuning of every
    /// shape the step meets (every training run pays it once).
    pub first_step_seconds: f64,
    pub seconds_per_step: f64,
    pub forward_seconds: f64,
    pub backward_seconds: f64,
    pub samples_per_s: f64,
    /// The timed steps one by one.
    pub step_seconds: Vec<f64>,
    /// PyTorch's time over this form's (above 1: asma is faster).
    pub vs_pytorch: Option<f64>,
}

/// The step's figures: one row per form, the first compared with PyTorch.
#[derive(Debug, Clone, Serialize)]
pub struct PretrainStepBench {
    pub batch: usize,
    pub bodies: usize,
    pub proj_dim: usize,
    pub hidden: usize,
    pub threads: usize,
    pub device: String,
    /// (Named as `tools/gpu/summarize.py` reads it.)
    #[serde(rename = "asma_conv_forms")]
    pub forms: Vec<FormTiming>,
    pub pytorch_device: String,
    pub pytorch_seconds_per_step: Option<f64>,
}

/// Times the step in every form of `o`.
pub fn pretrain_step(o: &PretrainStepOptions) -> Result<PretrainStepBench> {
    if o.bodies == 0 || o.batch == 0 || o.steps == 0 {
        return Err(BenchError::Options(
            "--batch, --bodies and --steps must be at least 1".into(),
        ));
    }
    if o.conv.is_empty() || o.norm.is_empty() {
        return Err(BenchError::Options(
            "give at least one --conv and one --norm form".into(),
        ));
    }
    if let Some(t) = o.threads {
        // burn-flex and the loader use rayon's global pool; a second call keeps the first.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build_global();
    }
    let device = asma_model::device::select(&o.device)?.autodiff();
    let x = Tensor::<5>::random(
        [o.batch, 3, 50, 25, o.bodies],
        Distribution::Normal(0.0, 0.3),
        &device,
    );
    let frames: Vec<i64> = (0..50)
        .filter(|t| t % 5 != 0 && t % 5 != 2)
        .take(30)
        .collect();
    let index = Tensor::<1, Int>::from_data(TensorData::new(frames, [30]), &device);
    let keep: Vec<usize> = (0..25)
        .filter(|j| ![1, 4, 6, 9, 13, 17, 20, 23].contains(j))
        .collect();
    let mut forms = Vec::new();
    for &conv in &o.conv {
        for &asked in &o.norm {
            let norm = asked.resolve(conv);
            device.seed(0);
            asma_model::dropout::reseed(0);
            let enc = StgcnEncoderConfig {
                hidden_channels: o.hidden,
                conv,
                batch_norm: norm,
                ..Default::default()
            };
            let mut branch = PretrainBranch {
                encoder: enc.init(&device),
                projector: BarlowTwinsConfig {
                    dims: [o.proj_dim; 3],
                    ..Default::default()
                }
                .init(&device),
            };
            let mut optim = AdamConfig::new()
                .with_epsilon(1e-8)
                .with_weight_decay(Some(WeightDecayConfig::new(1e-5)))
                .init();
            let (mut times, mut forward, mut backward) = (Vec::new(), Vec::new(), Vec::new());
            let mut first = 0.0;
            for s in 0..=o.steps {
                let t = Instant::now();
                let loss = branch.loss(BranchViews {
                    anchor: x.clone(),
                    temporal: x.clone().select(2, index.clone()),
                    spatial: x.clone(),
                    keep_joints: keep.clone(),
                });
                // Wait for the device after each phase: forward, backward, optimiser.
                let _ = loss.anchor_temporal.clone().into_scalar::<f32>();
                let f = t.elapsed().as_secs_f64();
                let grads = loss.total.backward();
                device
                    .sync()
                    .map_err(|e| BenchError::Device(format!("{e:?}")))?;
                let b = t.elapsed().as_secs_f64();
                let grads = GradientsParams::from_grads(grads, &branch);
                branch = optim.step(5e-3, branch, grads);
                let _ = branch
                    .encoder
                    .data_bn
                    .gamma
                    .val()
                    .sum()
                    .into_scalar::<f32>();
                if s > 0 {
                    times.push(t.elapsed().as_secs_f64());
                    forward.push(f);
                    backward.push(b - f);
                } else {
                    first = t.elapsed().as_secs_f64();
                }
            }
            let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
            let sec = mean(&times);
            forms.push(FormTiming {
                conv,
                batch_norm: norm,
                first_step_seconds: first,
                seconds_per_step: sec,
                forward_seconds: mean(&forward),
                backward_seconds: mean(&backward),
                samples_per_s: o.batch as f64 / sec,
                step_seconds: times,
                vs_pytorch: None,
            });
        }
    }
    let threads = rayon::current_num_threads();
    let mut reference = None;
    if let Some(py) = &o.python {
        let args = [
            "--batch",
            &o.batch.to_string(),
            "--proj-dim",
            &o.proj_dim.to_string(),
            "--hidden",
            &o.hidden.to_string(),
            "--bodies",
            &o.bodies.to_string(),
            "--steps",
            &o.steps.to_string(),
            "--threads",
            &threads.to_string(),
            "--device",
            &o.torch_device,
        ]
        .map(String::from);
        let v = run_reference(py, "bench_pretrain.py", &args, Some(&o.torch_device))?;
        reference = v["seconds_per_step"].as_f64();
    }
    for f in &mut forms {
        f.vs_pytorch = reference.map(|r| r / f.seconds_per_step);
    }
    Ok(PretrainStepBench {
        batch: o.batch,
        bodies: o.bodies,
        proj_dim: o.proj_dim,
        hidden: o.hidden,
        threads,
        device: o.device.clone(),
        forms,
        pytorch_device: o.torch_device.clone(),
        pytorch_seconds_per_step: reference,
    })
}

impl PretrainStepBench {
    /// The figures as a Markdown table, PyTorch last.
    pub fn markdown(&self) -> String {
        let mut out = format!(
            "pre-training step, batch {} × {} persons, projector {}, {} threads ({}):\n",
            self.batch, self.bodies, self.proj_dim, self.threads, self.device
        );
        out += "| framework | s/step | samples/s |\n|---|---|---|\n";
        for f in &self.forms {
            out += &format!(
                "| asma (burn {}, {:?} convolutions, BatchNorm {:?}; forward {:.3} s, backward {:.3} s, first step {:.3} s) | {:.3} | {:.2} |\n",
                self.device, f.conv, f.batch_norm, f.forward_seconds, f.backward_seconds,
                f.first_step_seconds, f.seconds_per_step, f.samples_per_s
            );
        }
        if let Some(r) = self.pytorch_seconds_per_step {
            out += &format!(
                "| PyTorch ({}) | {r:.3} | {:.2} |\n",
                self.pytorch_device,
                self.batch as f64 / r
            );
            out += &format!(
                "asma / PyTorch speed: {:.2}×\n",
                r / self.forms[0].seconds_per_step
            );
        }
        out
    }
}
