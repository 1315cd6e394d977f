//! `asma bench data`: `.skeleton` parse throughput and `prepare` samples/s, with the NumPy
//! reference reader timed on the same files in the same run.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use asma_data::formats::ntu::{parse_skeleton, to_sequence, BodyPolicy};
use asma_data::prepare::splits::{Benchmark, Dataset};
use asma_data::prepare::{self, PrepareOptions};
use serde::Serialize;

use crate::{BenchDataArgs, BenchPretrainArgs};

#[derive(Serialize)]
struct DataBench {
    files: usize,
    megabytes: f64,
    asma_parse_mb_s_1_thread: f64,
    asma_parse_mb_s_all_threads: f64,
    asma_prepare_samples_s: f64,
    asma_prepare_samples_s_1_thread: f64,
    threads: usize,
    reference_parse_mb_s: Option<f64>,
    reference_prepare_samples_s: Option<f64>,
    parse_speedup_1_thread: Option<f64>,
    prepare_speedup: Option<f64>,
}

/// `asma bench data`.
pub fn data(a: BenchDataArgs) -> Result<()> {
    let tmp = tempfile::tempdir().context("creating a temporary folder")?;
    let raw = match &a.raw {
        Some(r) => r.clone(),
        None => {
            let dir = tmp.path().join("synth");
            let cfg = asma_synth::SynthConfig::default();
            eprintln!("bench: writing the default synthetic dataset to a temporary folder");
            asma_synth::generate(&cfg, &dir, &|_, _| {})?;
            dir
        }
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&raw)
        .with_context(|| format!("listing {}", raw.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "skeleton"))
        // The official missing-skeleton samples hold no bodies: neither side can prepare them.
        .filter(|p| {
            !p.file_stem()
                .and_then(|s| s.to_str())
                .is_some_and(asma_data::formats::ntu::is_missing)
        })
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("{}: no .skeleton files to measure", raw.display());
    }
    let bytes: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
        .sum();
    let mb = bytes as f64 / 1e6;
    let pool = crate::data_cmd::rayon_pool(a.threads)?;
    let threads = pool.current_num_threads();

    let parse_all = |f: &Path| -> Result<()> {
        let data = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
        let s = parse_skeleton(&data, f)?;
        std::hint::black_box(to_sequence(&s, BodyPolicy::First2, usize::MAX, f)?);
        Ok(())
    };
    // Best of three single-thread passes: the figure is the parser's, not the noise's.
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let t = Instant::now();
        for f in &files {
            parse_all(f)?;
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    let one = mb / best;
    let t = Instant::now();
    pool.install(|| {
        use rayon::prelude::*;
        files.par_iter().try_for_each(|f| parse_all(f))
    })?;
    let all = mb / t.elapsed().as_secs_f64();

    let mut opts = PrepareOptions::new(
        Dataset::Ntu120,
        Benchmark::Xsub,
        &raw,
        tmp.path().join("prepared"),
    );
    opts.force = true;
    let t = Instant::now();
    let report = pool.install(|| prepare::prepare(&opts, &|_| {}))?;
    let samples: usize = report.manifest.counts.values().sum();
    let prep = samples as f64 / t.elapsed().as_secs_f64();
    let single = crate::data_cmd::rayon_pool(Some(1))?;
    let t = Instant::now();
    single.install(|| prepare::prepare(&opts, &|_| {}))?;
    let prep_one = samples as f64 / t.elapsed().as_secs_f64();

    let (mut ref_parse, mut ref_prep) = (None, None);
    if let Some(py) = &a.python {
        let list = tmp.path().join("files.txt");
        std::fs::write(
            &list,
            files
                .iter()
                .map(|f| format!("{}\n", f.display()))
                .collect::<String>(),
        )?;
        eprintln!("bench: timing the NumPy reference ({py} ntu_reader_reference.py)");
        let v = run_reference(
            py,
            "ntu_reader_reference.py",
            &["--bench".into(), list.display().to_string()],
            None,
        )?;
        ref_parse = v["parse_seconds"].as_f64().map(|s| mb / s);
        ref_prep = v["prepare_seconds"]
            .as_f64()
            .map(|s| files.len() as f64 / s);
    }
    let r = DataBench {
        files: files.len(),
        megabytes: mb,
        asma_parse_mb_s_1_thread: one,
        asma_parse_mb_s_all_threads: all,
        asma_prepare_samples_s: prep,
        asma_prepare_samples_s_1_thread: prep_one,
        threads,
        reference_parse_mb_s: ref_parse,
        reference_prepare_samples_s: ref_prep,
        parse_speedup_1_thread: ref_parse.map(|r| one / r),
        prepare_speedup: ref_prep.map(|r| prep_one / r),
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(());
    }
    let opt = |v: Option<f64>| v.map(|x| format!("{x:.1}")).unwrap_or_else(|| "-".into());
    println!("{} files, {:.1} MB", r.files, r.megabytes);
    println!("| metric | asma | NumPy reference | ratio |");
    println!("|---|---|---|---|");
    println!(
        "| parse MB/s, 1 thread | {:.1} | {} | {} |",
        one,
        opt(ref_parse),
        opt(r.parse_speedup_1_thread)
    );
    println!("| parse MB/s, {threads} threads | {:.1} | - | - |", all);
    println!(
        "| prepare samples/s, 1 thread | {:.1} | {} | {} |",
        prep_one,
        opt(ref_prep),
        opt(r.prepare_speedup)
    );
    println!(
        "| prepare samples/s, {threads} threads | {:.1} | - | - |",
        prep
    );
    Ok(())
}

/// `asma bench pretrain`: the step of `tools/reference/bench_pretrain.py` — one encoder and
/// projector, anchor (50 frames), temporal (30 frames), spatial (8 joints removed),
/// BT(a,t) + BT(a,s), backward, Adam — timed in burn and, with `--python`, in PyTorch.
pub fn pretrain(a: BenchPretrainArgs) -> Result<()> {
    use asma_model::asma::{BranchViews, PretrainBranch};
    use asma_model::barlow::BarlowTwinsConfig;
    use asma_model::burn::optim::decay::WeightDecayConfig;
    use asma_model::burn::optim::{AdamConfig, GradientsParams};
    use asma_model::burn::tensor::{Distribution, Tensor};
    use asma_model::{StgcnEncoderConfig, StgcnEncoderInit};

    if a.bodies == 0 || a.batch == 0 {
        bail!("--batch and --bodies must be at least 1");
    }
    if let Some(t) = a.threads {
        // burn-flex and the loader use rayon's global pool.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build_global();
    }
    let device = asma_model::device::select(&a.device)?.autodiff();
    let x = Tensor::<5>::random(
        [a.batch, 3, 50, 25, a.bodies],
        Distribution::Normal(0.0, 0.3),
        &device,
    );
    let frames: Vec<i64> = (0..50)
        .filter(|t| t % 5 != 0 && t % 5 != 2)
        .take(30)
        .collect();
    let index = Tensor::<1, asma_model::burn::tensor::Int>::from_data(
        asma_model::burn::tensor::TensorData::new(frames, [30]),
        &device,
    );
    let keep: Vec<usize> = (0..25)
        .filter(|j| ![1, 4, 6, 9, 13, 17, 20, 23].contains(j))
        .collect();
    // One timing per convolution and BatchNorm form, same model and data:
    // (form, s/step, forward s/step, backward s/step, step times).
    let forms: Vec<_> = a
        .conv
        .iter()
        .flat_map(|&c| a.norm.iter().map(move |&n| (c, n.resolve(c))))
        .collect();
    let mut rows = Vec::new();
    for &(conv, norm) in &forms {
        device.seed(0);
        asma_model::dropout::reseed(0);
        let enc = StgcnEncoderConfig {
            hidden_channels: a.hidden,
            conv,
            batch_norm: norm,
            ..Default::default()
        };
        let mut branch = PretrainBranch {
            encoder: enc.init(&device),
            projector: BarlowTwinsConfig {
                dims: [a.proj_dim; 3],
                ..Default::default()
            }
            .init(&device),
        };
        let mut optim = AdamConfig::new()
            .with_epsilon(1e-8)
            .with_weight_decay(Some(WeightDecayConfig::new(1e-5)))
            .init();
        let (mut times, mut forward, mut backward) = (Vec::new(), Vec::new(), Vec::new());
        // The untimed first step: kernel compilation and, on GPU builds, autotuning of every
        // shape the step meets (reported, since every training run pays it once).
        let mut warmup = 0.0;
        for s in 0..=a.steps {
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
                .map_err(|e| anyhow::anyhow!("device: {e:?}"))?;
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
                warmup = t.elapsed().as_secs_f64();
            }
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
        eprintln!(
            "{conv:?}, BatchNorm {norm:?}: forward {:.3} s, backward {:.3} s, optimiser {:.3} s per step",
            mean(&forward),
            mean(&backward),
            mean(&times) - mean(&forward) - mean(&backward)
        );
        eprintln!("{conv:?}, BatchNorm {norm:?}: first (untimed) step {warmup:.3} s");
        rows.push((
            (conv, norm, warmup),
            mean(&times),
            mean(&forward),
            mean(&backward),
            times,
        ));
    }
    let (_, sec, _, _, times) = rows[0].clone();
    let threads = rayon::current_num_threads();
    let mut reference = None;
    if let Some(py) = &a.python {
        let args = [
            "--batch",
            &a.batch.to_string(),
            "--proj-dim",
            &a.proj_dim.to_string(),
            "--hidden",
            &a.hidden.to_string(),
            "--bodies",
            &a.bodies.to_string(),
            "--steps",
            &a.steps.to_string(),
            "--threads",
            &threads.to_string(),
            "--device",
            &a.torch_device,
        ]
        .map(String::from);
        let v = run_reference(py, "bench_pretrain.py", &args, Some(&a.torch_device))?;
        reference = v["seconds_per_step"].as_f64();
    }
    let forms: Vec<serde_json::Value> = rows
        .iter()
        .map(|((conv, norm, warmup), s, f, b, _)| serde_json::json!({"conv": conv, "batch_norm": norm, "first_step_seconds": warmup, "seconds_per_step": s, "forward_seconds": f, "backward_seconds": b, "samples_per_s": a.batch as f64 / s, "vs_pytorch": reference.map(|r| r / s)}))
        .collect();
    let result = serde_json::json!({
        "batch": a.batch, "bodies": a.bodies, "proj_dim": a.proj_dim, "hidden": a.hidden, "threads": threads, "device": a.device,
        "asma_seconds_per_step": sec, "asma_samples_per_s": a.batch as f64 / sec, "asma_step_seconds": times,
        "pytorch_device": a.torch_device, "pytorch_seconds_per_step": reference, "pytorch_samples_per_s": reference.map(|r| a.batch as f64 / r),
        "asma_vs_pytorch": reference.map(|r| r / sec), "asma_conv_forms": forms,
    });
    if a.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        println!(
            "pre-training step, batch {} × {} persons, projector {}, {} threads ({}):",
            a.batch, a.bodies, a.proj_dim, threads, a.device
        );
        println!("| framework | s/step | samples/s |\n|---|---|---|");
        for ((conv, norm, _), s, f, b, _) in &rows {
            println!(
                "| asma (burn {}, {conv:?} convolutions, BatchNorm {norm:?}; forward {f:.3} s, backward {b:.3} s) | {s:.3} | {:.2} |",
                a.device,
                a.batch as f64 / s
            );
        }
        if let Some(r) = reference {
            println!(
                "| PyTorch ({}) | {:.3} | {:.2} |",
                a.torch_device,
                r,
                a.batch as f64 / r
            );
            println!("asma / PyTorch speed: {:.2}×", r / sec);
        }
    }
    Ok(())
}

/// Runs `tools/reference/{script}` with `python` and `args` and returns the JSON object it
/// prints; with `device`, refuses a result that reports another device.
pub(crate) fn run_reference(
    python: &str,
    script: &str,
    args: &[String],
    device: Option<&str>,
) -> Result<serde_json::Value> {
    let path = reference_file(script)?;
    let out = std::process::Command::new(python)
        .arg(&path)
        .args(args)
        .output()
        .with_context(|| format!("running {python}"))?;
    if !out.status.success() {
        bail!(
            "the reference {script} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("reading the reference's JSON")?;
    if let Some(d) = device {
        if v["device"].as_str() != Some(d) {
            bail!(
                "the reference {script} ran on {} instead of {d}",
                v["device"]
            );
        }
    }
    Ok(v)
}

/// A file of `tools/reference/`, from `ASMA_REFERENCE_DIR`, the working directory, or the
/// source tree this binary was built from.
fn reference_file(name: &str) -> Result<PathBuf> {
    let candidates = [
        std::env::var_os("ASMA_REFERENCE_DIR").map(|d| PathBuf::from(d).join(name)),
        Some(PathBuf::from("tools/reference").join(name)),
        Some(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../tools/reference")
                .join(name),
        ),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|p| p.exists())
        .with_context(|| format!("tools/reference/{name} not found (set ASMA_REFERENCE_DIR)"))
}
