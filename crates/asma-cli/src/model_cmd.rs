//! `asma pretrain` and `asma embed`: argument plumbing around asma-train and asma-model.

use anyhow::{bail, Context, Result};
use asma_data::formats::npy::{write_npy_f32, MmapNpy};
use asma_model::burn::module::Module;
use asma_model::burn::tensor::{Tensor, TensorData};
use asma_model::weights::load_module;
use asma_model::{StgcnEncoderConfig, StgcnEncoderInit};
use asma_train::config::Method;
use asma_train::pretrain::{self, Progress};
use asma_train::PretrainConfig;

use crate::progress::Progress as Bar;
use crate::{EmbedArgs, PretrainArgs};

/// `asma pretrain`.
pub fn pretrain(a: PretrainArgs) -> Result<()> {
    let cfg: PretrainConfig = crate::config::load_run(&a.run, &[])?;
    let stop = crate::interrupt::stop_flag()?;

    let bar = Bar::new("pretrain");
    let json = a.run.json;
    let outcome = pretrain::pretrain(&cfg, a.run.resume.is_some(), &stop, &|p| match p {
        Progress::Batch { batch, batches, .. } => bar.update(batch + 1, batches),
        Progress::Epoch(m) => {
            if json {
                println!("{}", serde_json::to_string(&m).unwrap());
            } else {
                let knn = m
                    .knn
                    .zip(m.features)
                    .map(|(k, f)| {
                        format!(
                            ", k-NN top-1 θ {:.1}% φ {:.1}% θ‖φ {:.1}%, effective rank θ {:.1} φ {:.1}",
                            100.0 * k.theta,
                            100.0 * k.phi,
                            100.0 * k.both,
                            f.theta.effective_rank,
                            f.phi.effective_rank
                        )
                    })
                    .unwrap_or_default();
                let recalibrated = m
                    .recalibrated
                    .map(|e| {
                        format!(
                            "; statistics re-estimated: θ {:.1}% φ {:.1}% θ‖φ {:.1}%",
                            100.0 * e.knn.theta,
                            100.0 * e.knn.phi,
                            100.0 * e.knn.both
                        )
                    })
                    .unwrap_or_default();
                println!("epoch {:>3}: loss {:.3} (θ {:.3}+{:.3}, φ {:.3}+{:.3}), mean C_ii θ {:.2} φ {:.2}, lr {:.2e}, {:.1} samples/s{knn}{recalibrated}", m.epoch, m.loss, m.theta_anchor_temporal, m.theta_anchor_spatial, m.phi_anchor_temporal, m.phi_anchor_spatial, m.bt.theta.mean_diagonal, m.bt.phi.mean_diagonal, m.lr, m.samples_per_s);
            }
        }
        Progress::KnnAtStart(baseline, e) => {
            if json {
                println!("{}", baseline_json(baseline, &e));
            } else {
                let name = baseline_name(baseline);
                let k = e.knn;
                println!(
                    "{name}: k-NN top-1 θ {:.1}% φ {:.1}% θ‖φ {:.1}%, effective rank θ {:.1} φ {:.1}",
                    100.0 * k.theta,
                    100.0 * k.phi,
                    100.0 * k.both,
                    e.features.theta.effective_rank,
                    e.features.phi.effective_rank
                );
            }
        }
        Progress::EncoderKnnAtStart(baseline, e) => {
            if json {
                println!("{}", baseline_json(baseline, &e));
            } else {
                println!(
                    "{}: k-NN top-1 {:.1}%, effective rank {:.1}",
                    baseline_name(baseline),
                    100.0 * e.knn,
                    e.features.effective_rank
                );
            }
        }
        Progress::ContrastiveEpoch(m) => {
            if json {
                println!("{}", serde_json::to_string(&m).unwrap());
            } else {
                let queries: Vec<String> = m.queries.iter().map(|l| format!("{l:.3}")).collect();
                let knn = m
                    .knn
                    .zip(m.features)
                    .map(|(k, f)| {
                        format!(
                            ", k-NN top-1 {:.1}%, effective rank {:.1}",
                            100.0 * k,
                            f.effective_rank
                        )
                    })
                    .unwrap_or_default();
                let recalibrated = m
                    .recalibrated
                    .map(|e| format!("; statistics re-estimated: {:.1}%", 100.0 * e.knn))
                    .unwrap_or_default();
                let ddm = m
                    .ddm
                    .map(|d| format!(", D³M {d:.3}{}", if m.mining { ", mining" } else { "" }))
                    .unwrap_or_default();
                let plugin = match cfg.masking.plugin {
                    asma_train::config::Plugin::Asma => ", then the plug-in's views",
                    asma_train::config::Plugin::None => "",
                };
                let terms = match cfg.method {
                    Method::Crossclr if m.mining => {
                        format!("per stream with cross-view mining{plugin}")
                    }
                    Method::Crossclr => format!("InfoNCE per stream{plugin}"),
                    Method::Ms2l => format!("motion + jigsaw + contrastive{plugin}"),
                    _ => "InfoNCE per query view".to_string(),
                };
                println!(
                    "epoch {:>3}: loss {:.3} ({terms} {}{ddm}), positive on top {:.1}%, lr {:.2e}, {:.1} samples/s{knn}{recalibrated}",
                    m.epoch,
                    m.loss,
                    queries.join(" + "),
                    100.0 * m.accuracy,
                    m.lr,
                    m.samples_per_s
                );
            }
        }
        Progress::Resumed(s) => eprintln!(
            "resuming at epoch {}, batch {} (step {})",
            s.epoch, s.batch, s.step
        ),
    });
    bar.finish();
    let outcome = outcome.with_context(|| format!("pre-training in {}", cfg.run.dir.display()))?;
    if outcome.interrupted {
        eprintln!(
            "stopped at epoch {}, batch {}: continue with `asma pretrain --resume {}`",
            outcome.state.epoch,
            outcome.state.batch,
            cfg.run.dir.display()
        );
    } else if !json {
        let files = match cfg.method {
            Method::Asma => "encoder_theta.safetensors and encoder_phi.safetensors",
            Method::Skeletonclr | Method::Aimclr => "encoder_q.safetensors",
            Method::Crossclr => {
                "{joint,motion,bone}/encoder_q.safetensors (one directory per stream for init.from)"
            }
            Method::Ms2l => "encoder.safetensors",
        };
        println!("done: encoders in {}/{files}", cfg.run.dir.display());
    }
    Ok(())
}

/// A baseline's evaluation (`knn`, `features`) with its `init`, as `--json` prints it.
fn baseline_json(b: pretrain::Baseline, e: &impl serde::Serialize) -> serde_json::Value {
    let mut v = serde_json::to_value(e).expect("evaluations serialise");
    v["init"] = serde_json::json!(b);
    v
}

fn baseline_name(b: pretrain::Baseline) -> &'static str {
    match b {
        pretrain::Baseline::Random => "random init, BatchNorm statistics untouched",
        pretrain::Baseline::RandomBnEstimated => {
            "random init, BatchNorm statistics of the training split (fair baseline)"
        }
    }
}

/// `asma embed`.
pub fn embed(a: EmbedArgs) -> Result<()> {
    let device = asma_model::device::select(&a.device)?;
    let device = if a.train_mode {
        device.autodiff()
    } else {
        device
    };
    let mut encoder = StgcnEncoderConfig::pstl().init(&device);
    let report = load_module(
        &mut encoder,
        &a.checkpoint,
        "data_bn.weight",
        a.prefix.as_deref(),
    )?;
    let encoder = if a.train_mode {
        encoder.without_dropout()
    } else {
        encoder.valid()
    };
    let input = MmapNpy::open_skeleton(&a.input)?;
    let [n, c, t, v, m]: [usize; 5] = input.shape().try_into().unwrap();
    let keep: Vec<usize> = (0..v).filter(|j| !a.mask_joints.contains(j)).collect();
    if let Some(bad) = a.mask_joints.iter().find(|&&j| j >= v) {
        bail!("--mask-joints: joint {bad} does not exist (0..{v})");
    }
    let keep = (!a.mask_joints.is_empty()).then_some(keep);
    let mut out = Vec::with_capacity(n * encoder.hidden_dim);
    for start in (0..n).step_by(a.batch_size.max(1)) {
        let end = (start + a.batch_size.max(1)).min(n);
        let mut data = Vec::with_capacity((end - start) * c * t * v * m);
        for i in start..end {
            data.extend_from_slice(&input.row_to_f32(i)?);
        }
        if let Some(i) = data.iter().position(|x| !x.is_finite()) {
            bail!(
                "{}: sample {} holds a non-finite value",
                a.input.display(),
                start + i / (c * t * v * m)
            );
        }
        let x = Tensor::<5>::from_data(TensorData::new(data, [end - start, c, t, v, m]), &device);
        let h = encoder.forward(x, keep.as_deref()).detach();
        out.extend(
            h.into_data()
                .try_into_vec::<f32>()
                .map_err(|e| anyhow::anyhow!("{e:?}"))?,
        );
    }
    write_npy_f32(&a.out, &[n, encoder.hidden_dim], &out)?;
    eprintln!(
        "{} → {}: ({n}, {}) features (weights: {} tensors, prefix '{}')",
        a.input.display(),
        a.out.display(),
        encoder.hidden_dim,
        report.loaded,
        report.prefix
    );
    Ok(())
}
