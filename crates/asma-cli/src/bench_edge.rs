//! `asma bench edge`: the paper's edge table (METHOD.md §8 "Edge metrics") for the 3-stream
//! teacher and the 3-stream student — parameters, MACs, batch-1 latency, peak memory, FPS —
//! single-threaded and on all threads, with the same models run in PyTorch eager and in ONNX
//! Runtime in the same run.
//!
//! Every latency/memory figure comes from a fresh process (`asma bench edge-worker` here,
//! `tools/reference/bench_edge.py` for the others), so each peak memory is that runtime's
//! and that model set's alone: the growth of the resident set from before loading to the
//! high-water mark after the timed runs.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use asma_data::npy::{write_npy_f32, MmapNpy};
use asma_data::stream::Stream;
use asma_infer::input::to_stream;
use asma_infer::{Classifier, Ensemble};
use asma_model::burn::tensor::Device;
use asma_model::classifier::ClassifierConfig;
use asma_model::student::StudentConfig;
use asma_model::weights::save_module;
use asma_skeleton::Sequence;
use serde::Serialize;

use crate::bench_cmd::run_reference;
use crate::proc_status::ProcStatus;
use crate::{BenchEdgeArgs, EdgeWorkerArgs};

const FRAMES: usize = 50;
const PERSONS: usize = 2;

/// Writes a model with the paper's configuration and fresh weights (latency does not depend
/// on the values) as a run directory.
fn paper_model(dir: &Path, student: bool, stream: Stream) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let device = Device::flex();
    let config = if student {
        save_module(
            &StudentConfig::default().init(&device),
            &dir.join("student.safetensors"),
        )?;
        serde_json::json!({"data": {"stream": stream, "num_classes": 60}, "student": {"depth": 5}})
    } else {
        let cfg = ClassifierConfig::default();
        save_module(&cfg.init(&device), &dir.join("classifier.safetensors"))?;
        serde_json::json!({"data": {"stream": stream, "num_classes": 60},
                           "model": {"encoder": cfg.encoder, "fusion": cfg.fusion}})
    };
    std::fs::write(dir.join("config.json"), config.to_string())?;
    Ok(())
}

/// A one-person sample of the synthetic generator's scale (the second body absent, as in
/// most NTU clips), deterministic.
fn sample() -> Sequence {
    let mut seq = Sequence::zeros(FRAMES, 25, PERSONS);
    let mut state = 0x2545f4914f6cdd1du64;
    for t in 0..FRAMES {
        for v in 0..25 {
            let mut xyz = [0.0f32; 3];
            for c in &mut xyz {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                *c = ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.6 + 0.01 * t as f32;
            }
            seq.set_joint(t, v, 0, xyz);
        }
    }
    seq
}

#[derive(Serialize, Clone)]
struct Timing {
    latency_ms: f64,
    peak_mb: f64,
}

#[derive(Serialize)]
struct Row {
    model: String,
    threads: usize,
    params: usize,
    gmacs: f64,
    asma: Timing,
    asma_fps: f64,
    torch: Option<Timing>,
    ort: Option<Timing>,
    asma_vs_torch: Option<f64>,
    asma_vs_ort: Option<f64>,
}

/// `asma bench edge-worker`: times one model set in this fresh process; prints JSON.
pub fn worker(a: EdgeWorkerArgs) -> Result<()> {
    let before = proc_kb("VmRSS");
    let models: Vec<(Classifier, f32)> = a
        .models
        .iter()
        .map(|d| Classifier::load(d).map(|m| (m, 1.0)))
        .collect::<Result<_, _>>()?;
    let n = models.len();
    // The same path as `asma infer`: several models run side by side on all threads.
    let ensemble = Ensemble::new(models, a.threads)?;
    let npy = MmapNpy::open(&a.input)?;
    let xs: Vec<Vec<f32>> = (0..n)
        .map(|i| npy.row_to_f32(i).map(|r| r.into_owned()))
        .collect::<Result<_, _>>()?;
    let run = || -> Result<()> {
        std::hint::black_box(ensemble.logits_of(&xs, FRAMES, PERSONS)?);
        Ok(())
    };
    for _ in 0..3 {
        run()?;
    }
    let mut times = Vec::with_capacity(a.reps);
    for _ in 0..a.reps {
        let start = Instant::now();
        run()?;
        times.push(start.elapsed().as_secs_f64() * 1e3);
    }
    let peak = proc_kb("VmHWM");
    println!(
        "{}",
        serde_json::json!({"latency_ms": median(&mut times), "peak_mb": peak.saturating_sub(before) as f64 / 1024.0})
    );
    Ok(())
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// A `/proc/self/status` field in kB (0 where there is none: not Linux).
fn proc_kb(key: &str) -> u64 {
    ProcStatus::read().and_then(|s| s.kb(key)).unwrap_or(0)
}

fn timing(v: &serde_json::Value) -> Result<Timing> {
    Ok(Timing {
        latency_ms: v["latency_ms"].as_f64().context("no latency_ms")?,
        peak_mb: v["peak_mb"].as_f64().context("no peak_mb")?,
    })
}

/// `asma bench edge`.
pub fn edge(a: BenchEdgeArgs) -> Result<()> {
    let tmp = tempfile::tempdir().context("creating a temporary folder")?;
    let mut sets: Vec<(&str, Vec<PathBuf>)> = Vec::new();
    for (name, given, student) in [
        ("teacher", &a.teacher, false),
        ("student", &a.student, true),
    ] {
        let dirs = if given.is_empty() {
            Stream::ALL
                .iter()
                .map(|&s| {
                    let dir = tmp.path().join(format!("{name}_{s}"));
                    paper_model(&dir, student, s).map(|_| dir)
                })
                .collect::<Result<Vec<_>>>()?
        } else {
            given.clone()
        };
        sets.push((name, dirs));
    }
    let all = a
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let mut thread_counts = vec![1];
    if all > 1 {
        thread_counts.push(all);
    }
    let exe = std::env::current_exe().context("finding the asma binary")?;
    let seq = sample();
    let mut rows = Vec::new();
    for (name, dirs) in &sets {
        let models: Vec<Classifier> = dirs
            .iter()
            .map(|d| Classifier::load(d).with_context(|| format!("loading {}", d.display())))
            .collect::<Result<_>>()?;
        // One input per model, in that model's stream: (S, 1, 3, T, 25, M).
        let mut input = Vec::new();
        for m in &models {
            input.extend(to_stream(&seq, m.stream));
        }
        let input_file = tmp.path().join(format!("{name}_input.npy"));
        write_npy_f32(
            &input_file,
            &[models.len(), 1, 3, FRAMES, 25, PERSONS],
            &input,
        )?;
        let mut onnx = Vec::new();
        if a.python.is_some() {
            for (i, m) in models.iter().enumerate() {
                let file = tmp.path().join(format!("{name}_{i}.onnx"));
                m.export_onnx(&file, FRAMES, PERSONS)?;
                onnx.push(file);
            }
        }
        let params: usize = models.iter().map(Classifier::num_params).sum();
        let gmacs = models.iter().map(|m| m.macs(FRAMES, PERSONS)).sum::<u64>() as f64 / 1e9;
        for &threads in &thread_counts {
            let out = std::process::Command::new(&exe)
                .args(["bench", "edge-worker", "--threads", &threads.to_string()])
                .args(["--reps", &a.reps.to_string(), "--input"])
                .arg(&input_file)
                .args(
                    dirs.iter()
                        .flat_map(|d| ["--model".as_ref(), d.as_os_str()]),
                )
                .output()
                .context("running the edge worker")?;
            if !out.status.success() {
                bail!(
                    "edge worker failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            let asma = timing(&serde_json::from_slice(&out.stdout)?)?;
            let (mut torch, mut ort) = (None, None);
            if let Some(py) = &a.python {
                let common = vec![
                    "--input".to_string(),
                    input_file.display().to_string(),
                    "--threads".into(),
                    threads.to_string(),
                    "--reps".into(),
                    a.reps.to_string(),
                ];
                let mut args = vec!["--runtime".to_string(), "torch".into(), "--models".into()];
                args.extend(dirs.iter().map(|d| d.display().to_string()));
                args.extend(common.clone());
                torch = Some(timing(&run_reference(py, "bench_edge.py", &args, None)?)?);
                let mut args = vec!["--runtime".to_string(), "ort".into(), "--onnx".into()];
                args.extend(onnx.iter().map(|d| d.display().to_string()));
                args.extend(common);
                ort = Some(timing(&run_reference(py, "bench_edge.py", &args, None)?)?);
            }
            eprintln!(
                "bench edge: {name}, {threads} thread(s): asma {:.2} ms",
                asma.latency_ms
            );
            rows.push(Row {
                model: format!("3s {name}"),
                threads,
                params,
                gmacs,
                asma_fps: 1e3 / asma.latency_ms,
                asma_vs_torch: torch.as_ref().map(|t| asma.latency_ms / t.latency_ms),
                asma_vs_ort: ort.as_ref().map(|t| asma.latency_ms / t.latency_ms),
                asma,
                torch,
                ort,
            });
        }
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    println!("| model | threads | params (M) | GMACs | asma ms | asma MB | asma FPS | PyTorch ms | PyTorch MB | ORT ms | ORT MB | asma / PyTorch | asma / ORT |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let opt = |v: Option<f64>, p: usize| v.map_or("n/a".to_string(), |v| format!("{v:.p$}"));
    for r in &rows {
        println!(
            "| {} | {} | {:.3} | {:.2} | {:.2} | {:.1} | {:.0} | {} | {} | {} | {} | {} | {} |",
            r.model,
            r.threads,
            r.params as f64 / 1e6,
            r.gmacs,
            r.asma.latency_ms,
            r.asma.peak_mb,
            r.asma_fps,
            opt(r.torch.as_ref().map(|t| t.latency_ms), 2),
            opt(r.torch.as_ref().map(|t| t.peak_mb), 1),
            opt(r.ort.as_ref().map(|t| t.latency_ms), 2),
            opt(r.ort.as_ref().map(|t| t.peak_mb), 1),
            opt(r.asma_vs_torch, 2),
            opt(r.asma_vs_ort, 2),
        );
    }
    Ok(())
}
