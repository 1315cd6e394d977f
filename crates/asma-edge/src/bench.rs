//! The paper's edge table (docs/METHOD.md §8 "Edge metrics") for model sets (e.g. the 3-stream
//! teacher and the 3-stream student): parameters, MACs, batch-1 latency, peak memory, FPS,
//! single-threaded and on all threads.
//!
//! Every latency/memory figure comes from a fresh process (the binary's hidden worker
//! command, [`worker`]), so each peak memory is that model set's alone: the growth of the
//! resident set from before loading to the high-water mark after the timed runs. The full
//! `asma` binary adds PyTorch eager and ONNX Runtime columns through a [`Reference`]; the
//! burn-free `asma-edge` has none.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use asma_data::formats::npy::{write_npy_f32, MmapNpy};
use asma_infer::input::to_stream;
use asma_infer::{Classifier, Ensemble};
use asma_skeleton::Sequence;
use clap::Args;
use serde::Serialize;

use crate::proc_status::ProcStatus;

/// Frames and bodies of the timed input (the paper's frame50 clips, two body slots).
pub const FRAMES: usize = 50;
pub const PERSONS: usize = 2;

/// The hidden worker command: one timing in a fresh process.
#[derive(Args)]
pub struct EdgeWorkerArgs {
    #[arg(long = "model", required = true)]
    pub models: Vec<PathBuf>,
    #[arg(long)]
    pub input: PathBuf,
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    #[arg(long, default_value_t = 30)]
    pub reps: usize,
}

/// A one-person sample of the synthetic generator's scale (the second body absent, as in
/// most NTU clips), deterministic.
pub fn sample() -> Sequence {
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

/// Median latency and peak-memory growth of one runtime on one model set.
#[derive(Serialize, Clone, Debug)]
pub struct Timing {
    pub latency_ms: f64,
    pub peak_mb: f64,
}

impl Timing {
    /// From the JSON a worker prints.
    pub fn from_json(v: &serde_json::Value) -> Result<Timing> {
        Ok(Timing {
            latency_ms: v["latency_ms"].as_f64().context("no latency_ms")?,
            peak_mb: v["peak_mb"].as_f64().context("no peak_mb")?,
        })
    }
}

/// One line of the table.
#[derive(Serialize)]
pub struct Row {
    pub model: String,
    pub threads: usize,
    pub params: usize,
    pub gmacs: f64,
    pub asma: Timing,
    pub asma_fps: f64,
    pub torch: Option<Timing>,
    pub ort: Option<Timing>,
    pub asma_vs_torch: Option<f64>,
    pub asma_vs_ort: Option<f64>,
}

/// What a reference runtime is given for one measurement.
pub struct ReferenceJob<'a> {
    pub dirs: &'a [PathBuf],
    /// The models exported to ONNX, in the order of `dirs`.
    pub onnx: &'a [PathBuf],
    /// `(S, 1, 3, T, 25, M)`: one input per model, in that model's stream.
    pub input: &'a Path,
    pub threads: usize,
    pub reps: usize,
}

/// PyTorch eager and ONNX Runtime timings of a job (the full binary's Python columns).
pub type Reference<'a> = &'a dyn Fn(&ReferenceJob) -> Result<(Timing, Timing)>;

/// The worker: times one model set in this fresh process and prints its [`Timing`] as JSON.
pub fn worker(a: EdgeWorkerArgs) -> Result<()> {
    let before = proc_kb("VmRSS");
    let models: Vec<(Classifier, f32)> = a
        .models
        .iter()
        .map(|d| Classifier::load(d).map(|m| (m, 1.0)))
        .collect::<Result<_, _>>()?;
    let n = models.len();
    // The same path as `infer`: several models run side by side on all threads.
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

/// How to measure.
pub struct TableOptions<'a> {
    /// Timed batch-1 passes per measurement (after 3 warm-up passes); the median is reported.
    pub reps: usize,
    /// The "all threads" count (default: all cores).
    pub threads: Option<usize>,
    /// The arguments that start this binary's worker, e.g. `["bench", "edge-worker"]`.
    pub worker: &'a [&'a str],
    /// Where the inputs (and ONNX files) are written.
    pub scratch: &'a Path,
}

/// Measures each named model set (run directories) with fresh worker processes, once on one
/// thread and once on all, and with `reference` where given.
pub fn table(
    sets: &[(String, Vec<PathBuf>)],
    opts: &TableOptions,
    reference: Option<Reference>,
) -> Result<Vec<Row>> {
    let all = opts
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let mut thread_counts = vec![1];
    if all > 1 {
        thread_counts.push(all);
    }
    let exe = std::env::current_exe().context("finding this binary (it runs its own worker)")?;
    let seq = sample();
    let mut rows = Vec::new();
    for (name, dirs) in sets {
        let models: Vec<Classifier> = dirs
            .iter()
            .map(|d| Classifier::load(d).with_context(|| format!("loading {}", d.display())))
            .collect::<Result<_>>()?;
        let mut input = Vec::new();
        for m in &models {
            input.extend(to_stream(&seq, m.stream));
        }
        let input_file = opts.scratch.join(format!("{name}_input.npy"));
        write_npy_f32(
            &input_file,
            &[models.len(), 1, 3, FRAMES, 25, PERSONS],
            &input,
        )?;
        let mut onnx = Vec::new();
        if reference.is_some() {
            for (i, m) in models.iter().enumerate() {
                let file = opts.scratch.join(format!("{name}_{i}.onnx"));
                m.export_onnx(&file, FRAMES, PERSONS)?;
                onnx.push(file);
            }
        }
        let params: usize = models.iter().map(Classifier::num_params).sum();
        let gmacs = models.iter().map(|m| m.macs(FRAMES, PERSONS)).sum::<u64>() as f64 / 1e9;
        for &threads in &thread_counts {
            let out = std::process::Command::new(&exe)
                .args(opts.worker)
                .args(["--threads", &threads.to_string()])
                .args(["--reps", &opts.reps.to_string(), "--input"])
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
            let asma = Timing::from_json(&serde_json::from_slice(&out.stdout)?)?;
            let (torch, ort) = match reference {
                Some(run) => {
                    let job = ReferenceJob {
                        dirs,
                        onnx: &onnx,
                        input: &input_file,
                        threads,
                        reps: opts.reps,
                    };
                    let (t, o) = run(&job)?;
                    (Some(t), Some(o))
                }
                None => (None, None),
            };
            eprintln!(
                "bench edge: {name}, {threads} thread(s): asma {:.2} ms",
                asma.latency_ms
            );
            rows.push(Row {
                model: name.clone(),
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
    Ok(rows)
}

/// The table as Markdown (the reference columns read `n/a` where none ran).
pub fn markdown(rows: &[Row]) -> String {
    let mut out = String::from("| model | threads | params (M) | GMACs | asma ms | asma MB | asma FPS | PyTorch ms | PyTorch MB | ORT ms | ORT MB | asma / PyTorch | asma / ORT |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    let opt = |v: Option<f64>, p: usize| v.map_or("n/a".to_string(), |v| format!("{v:.p$}"));
    for r in rows {
        out += &format!(
            "| {} | {} | {:.3} | {:.2} | {:.2} | {:.1} | {:.0} | {} | {} | {} | {} | {} | {} |\n",
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
    out
}
