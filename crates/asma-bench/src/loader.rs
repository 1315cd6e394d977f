//! `asma bench loader`: is the data path fast and lean enough to feed a GPU? It runs the
//! pre-training loader itself (`asma_train::pretrain::loader_config`: six augmented and
//! masked views per batch) over one epoch of a memory-mapped split, with no model, and
//! reports samples/s against 5× what a PyTorch CUDA step consumes, and the process's
//! anonymous memory over the epoch (the mapped file's pages are file-backed and not in
//! `RssAnon`, so a loader that copies the file into its heap or leaks shows there).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use asma_data::formats::labels::{write_labels, Labels};
use asma_data::formats::npy::NpyWriterF32;
use asma_data::pipeline::loader::Loader;
use asma_data::prepare::splits::Part;
use asma_data::rng::Rng;
use asma_edge::proc_status::ProcStatus;
use asma_train::config::DataConfig;
use asma_train::PretrainConfig;
use rayon::prelude::*;
use serde::Serialize;

use crate::error::{BenchError, Result};

/// What to load, besides the pre-training configuration whose loader runs.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct LoaderOptions {
    /// A prepared split folder (`train_position.npy`, `train_label.pkl`); default: an
    /// NTU-sized file generated in a temporary folder and removed afterwards.
    #[cfg_attr(feature = "clap", arg(long, conflicts_with_all = ["samples", "scratch"]))]
    pub data: Option<PathBuf>,
    /// Samples of the generated file (default: NTU-60 xsub train; 1.2 GB).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 40_091))]
    pub samples: usize,
    /// Write the generated file under this folder instead of the system's temporary one.
    #[cfg_attr(feature = "clap", arg(long))]
    pub scratch: Option<PathBuf>,
    /// Samples per batch (default: the configuration's `optim.batch_size`, 128).
    #[cfg_attr(feature = "clap", arg(long))]
    pub batch: Option<usize>,
    /// Stop after this many batches (default: one epoch).
    #[cfg_attr(feature = "clap", arg(long))]
    pub batches: Option<usize>,
    /// Worker threads (default: all cores).
    #[cfg_attr(feature = "clap", arg(long))]
    pub threads: Option<usize>,
    /// Seconds of the GPU step the loader must feed, at batch 128 (default: PyTorch CUDA on
    /// an H200, BENCHMARKS.md); the target is 5× its samples/s.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 0.079))]
    pub gpu_step_s: f64,
}

/// `(C, T, V, M)` of a frame50 sample.
const SAMPLE_SHAPE: [usize; 4] = [3, 50, 25, 2];
/// The batch of the GPU step in BENCHMARKS.md (`--gpu-step-s`'s default, 0.079 s, is
/// PyTorch's CUDA step on an H200 there: one encoder with its three views, so half of
/// ASMa's two-encoder step, and the target twice as strict as one full step would set).
const GPU_STEP_BATCH: usize = 128;
/// The loader must produce this many times what the GPU step consumes.
const TARGET_FACTOR: f64 = 5.0;

/// Resident memory of this process at one point of the epoch, MiB.
#[derive(Debug, Serialize, Clone)]
pub struct MemorySample {
    /// `start` (loader not started), `batch` or `end`.
    pub at: &'static str,
    /// Batches received so far.
    pub batches: usize,
    /// Anonymous pages (heap, stacks): what the loader allocates.
    pub rss_anon_mib: f64,
    /// File-backed pages mapped in (the memory-mapped split, the binary).
    pub rss_file_mib: f64,
    /// Everything resident.
    pub vm_rss_mib: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct LoaderBench {
    /// The split folder, or `generated` for the NTU-sized scratch file.
    pub data: String,
    pub file_mib: f64,
    /// Seconds to write the generated file (absent with `--data`).
    pub write_seconds: Option<f64>,
    pub samples_in_epoch: usize,
    pub batch: usize,
    pub batches: usize,
    pub samples: usize,
    pub views: usize,
    pub stream: String,
    /// Persons per clip as read (`data.bodies`, else the file's).
    pub persons: usize,
    pub threads: usize,
    pub seconds: f64,
    pub first_batch_seconds: f64,
    pub samples_per_s: f64,
    pub memory: Vec<MemorySample>,
    /// max − min of `RssAnon` from the first batch to the end (the start sample is before
    /// the loader's buffers exist, so it is reported but not part of this).
    pub rss_anon_growth_mib: f64,
    pub gpu_step_seconds: f64,
    pub gpu_step_batch: usize,
    pub gpu_samples_per_s: f64,
    pub target_samples_per_s: f64,
    pub target_met: bool,
}

/// Runs one epoch (or `o.batches`) of `cfg`'s pre-training loader with no model; `note`
/// hears what is being done.
pub fn loader(cfg: &PretrainConfig, o: &LoaderOptions, note: &dyn Fn(&str)) -> Result<LoaderBench> {
    if let Some(t) = o.threads {
        // The loader's copies run on rayon's global pool; a second call keeps the first.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build_global();
    }
    let threads = rayon::current_num_threads();
    let mut cfg = cfg.clone();
    if let Some(b) = o.batch {
        cfg.optim.batch_size = b;
    }
    if o.gpu_step_s.is_nan() || o.gpu_step_s <= 0.0 {
        return Err(BenchError::Options(format!(
            "--gpu-step-s must be positive, got {}",
            o.gpu_step_s
        )));
    }

    // Removed when dropped, at the end or on an error.
    let tempdir =
        |parent: &Path| tempfile::tempdir_in(parent).map_err(|e| BenchError::io(parent, e));
    let scratch = match (&o.data, &o.scratch) {
        (Some(_), _) => None,
        (None, Some(dir)) => {
            std::fs::create_dir_all(dir).map_err(|e| BenchError::io(dir, e))?;
            Some(tempdir(dir)?)
        }
        (None, None) => Some(tempdir(&std::env::temp_dir())?),
    };
    let (dir, write_seconds): (PathBuf, Option<f64>) = match (&o.data, &scratch) {
        (Some(d), _) => (d.clone(), None),
        (None, Some(tmp)) => {
            let t = Instant::now();
            write_split(tmp.path(), o.samples, note)?;
            (tmp.path().to_path_buf(), Some(t.elapsed().as_secs_f64()))
        }
        (None, None) => unreachable!("a scratch folder exists without --data"),
    };
    // As pre-training opens it: `data.bodies` persons per clip where the config sets it.
    let data = DataConfig {
        dir,
        ..cfg.data.clone()
    };
    let dataset = Arc::new(data.open(Part::Train)?);
    let persons = dataset.sample_shape()[3];
    let file_mib = std::fs::metadata(dataset.path())
        .map(|m| m.len() as f64 / MIB)
        .unwrap_or(0.0);
    let loader = Loader::new(dataset, asma_train::pretrain::loader_config(&cfg))?;
    let total = match o.batches {
        Some(k) => k.min(loader.batches_per_epoch()),
        None => loader.batches_per_epoch(),
    };
    if total == 0 {
        return Err(BenchError::Options(
            "nothing to load: the epoch has no batch".into(),
        ));
    }

    let mut memory = vec![memory_sample("start", 0)?];
    // A sample after the first batch and at every further tenth of the run.
    let checkpoints: Vec<usize> = (0..10).map(|k| 1 + k * (total - 1) / 10).collect();
    note(&format!(
        "loading {total} batches of {} ({} views, {threads} threads)",
        cfg.optim.batch_size,
        loader.config().views.len()
    ));
    let started = Instant::now();
    let mut first_batch_seconds = 0.0;
    let (mut batches, mut samples) = (0usize, 0usize);
    for batch in loader.epoch(0).take(total) {
        let batch = batch?;
        // Consumed: the views exist and are read by nobody.
        std::hint::black_box(&batch.views);
        samples += batch.samples.len();
        batches += 1;
        drop(batch);
        if batches == 1 {
            first_batch_seconds = started.elapsed().as_secs_f64();
        }
        if checkpoints.contains(&batches) && batches < total {
            memory.push(memory_sample("batch", batches)?);
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    memory.push(memory_sample("end", batches)?);
    drop(scratch);

    let anon: Vec<f64> = memory[1..].iter().map(|m| m.rss_anon_mib).collect();
    let growth = anon.iter().cloned().fold(f64::MIN, f64::max)
        - anon.iter().cloned().fold(f64::MAX, f64::min);
    let samples_per_s = samples as f64 / seconds.max(1e-9);
    let gpu_samples_per_s = GPU_STEP_BATCH as f64 / o.gpu_step_s;
    let target = TARGET_FACTOR * gpu_samples_per_s;
    Ok(LoaderBench {
        data: o
            .data
            .as_ref()
            .map_or("generated".into(), |d| d.display().to_string()),
        file_mib,
        write_seconds,
        samples_in_epoch: loader.num_samples(),
        batch: cfg.optim.batch_size,
        batches,
        samples,
        views: loader.config().views.len(),
        stream: cfg.data.stream.name().into(),
        persons,
        threads,
        seconds,
        first_batch_seconds,
        samples_per_s,
        memory,
        rss_anon_growth_mib: growth,
        gpu_step_seconds: o.gpu_step_s,
        gpu_step_batch: GPU_STEP_BATCH,
        gpu_samples_per_s,
        target_samples_per_s: target,
        target_met: samples_per_s >= target,
    })
}

impl LoaderBench {
    /// The figures as text and a Markdown table of the memory samples.
    pub fn markdown(&self) -> String {
        let r = self;
        let mut out = format!(
            "loader: {} ({:.0} MiB), {} of {} samples in {} batches of {}, {} views, {} stream, {} persons, {} threads\n",
            r.data, r.file_mib, r.samples, r.samples_in_epoch, r.batches, r.batch, r.views, r.stream, r.persons, r.threads
        );
        if let Some(w) = r.write_seconds {
            out += &format!("(generated file written in {w:.1} s)\n");
        }
        out += &format!(
            "{:.1} samples/s ({:.2} s; first batch {:.3} s)\n",
            r.samples_per_s, r.seconds, r.first_batch_seconds
        );
        out += &format!(
            "target: {:.0}× the GPU step's {:.0} samples/s ({} per {} s, --gpu-step-s) = {:.0} samples/s: {}\n",
            TARGET_FACTOR,
            r.gpu_samples_per_s,
            r.gpu_step_batch,
            r.gpu_step_seconds,
            r.target_samples_per_s,
            if r.target_met { "met" } else { "not met" }
        );
        out += "| at | batches | RssAnon MiB | RssFile MiB | VmRSS MiB |\n|---|---|---|---|---|\n";
        for m in &r.memory {
            out += &format!(
                "| {} | {} | {:.1} | {:.1} | {:.1} |\n",
                m.at, m.batches, m.rss_anon_mib, m.rss_file_mib, m.vm_rss_mib
            );
        }
        out += &format!(
            "RssAnon max − min from the first batch to the end: {:.1} MiB\n",
            r.rss_anon_growth_mib
        );
        out
    }
}

const MIB: f64 = 1024.0 * 1024.0;

/// This process's `RssAnon`, `RssFile` and `VmRSS` from `/proc/self/status` (Linux).
fn memory_sample(at: &'static str, batches: usize) -> Result<MemorySample> {
    let status = ProcStatus::read().ok_or_else(|| {
        BenchError::System("cannot read /proc/self/status (the memory figures need Linux)".into())
    })?;
    let field = |name: &str| -> Result<f64> {
        let kb = status
            .kb(name)
            .ok_or_else(|| BenchError::System(format!("no {name} in /proc/self/status")))?;
        Ok(kb as f64 / 1024.0)
    };
    Ok(MemorySample {
        at,
        batches,
        rss_anon_mib: field("RssAnon")?,
        rss_file_mib: field("RssFile")?,
        vm_rss_mib: field("VmRSS")?,
    })
}

/// Writes `train_position.npy` `(n, 3, 50, 25, 2)` and `train_label.pkl` into `dir`: per
/// joint a rest position plus a few sinusoids and noise, the second body absent (zero) in
/// two samples of three, 60 classes. Written through the memory-mapped `.npy` writer, so
/// the file's size costs no heap.
fn write_split(dir: &Path, n: usize, note: &dyn Fn(&str)) -> Result<()> {
    if n == 0 {
        return Err(BenchError::Options("--samples must be at least 1".into()));
    }
    let [c, t, v, m] = SAMPLE_SHAPE;
    let bytes = (n * c * t * v * m * 4) as f64;
    note(&format!(
        "writing {n} samples of {SAMPLE_SHAPE:?} ({:.0} MiB) to {}",
        bytes / MIB,
        dir.display()
    ));
    let mut w = NpyWriterF32::create(dir.join("train_position.npy"), &[n, c, t, v, m])?;
    w.data_mut()
        .par_chunks_mut(c * t * v * m)
        .enumerate()
        .for_each(|(i, s)| fill_sample(i, s));
    w.finish()?;
    let labels = Labels {
        names: (0..n)
            .map(|i| {
                format!(
                    "S{:03}C001P{:03}R001A{:03}.skeleton",
                    i % 17 + 1,
                    i % 40 + 1,
                    i % 60 + 1
                )
            })
            .collect(),
        labels: (0..n).map(|i| i % 60).collect(),
    };
    write_labels(&dir.join("train_label.pkl"), &labels)?;
    Ok(())
}

/// One `(3, 50, 25, 2)` sample, C order, a function of `i` only.
fn fill_sample(i: usize, s: &mut [f32]) {
    let [c, t, v, m] = SAMPLE_SHAPE;
    let mut rng = Rng::derive(0x10AD, i as u64);
    let bodies = if i.is_multiple_of(3) { 2 } else { 1 };
    let freq: [f32; 3] = std::array::from_fn(|_| rng.uniform(0.5, 3.0) as f32);
    for ch in 0..c {
        for f in 0..t {
            let phase = std::f32::consts::TAU * f as f32 / t as f32;
            for j in 0..v {
                for b in 0..bodies {
                    let rest = 0.05 * (j as f32 - 12.0) * if ch == 1 { 1.0 } else { 0.3 }
                        + 0.6 * b as f32 * (ch == 0) as u8 as f32;
                    let wave = 0.1 * (freq[ch] * phase + 0.3 * j as f32).sin()
                        + 0.03 * (2.0 * freq[(ch + 1) % 3] * phase).sin();
                    let noise = 0.005 * rng.normal() as f32;
                    s[((ch * t + f) * v + j) * m + b] = rest + wave + noise;
                }
            }
        }
    }
}
