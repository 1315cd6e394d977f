//! `asma-edge`: asma on a device. Classifies skeleton files or a live stream with trained
//! models, exports them to ONNX and measures them: the commands of the full `asma` binary a
//! device needs, built without burn (no training code), so that it is small and builds for
//! 64-bit ARM (the Raspberry Pi of the paper's edge table). Errors print with their cause
//! chain and exit with code 2.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use asma_edge::bench::{markdown, table, TableOptions};
use asma_edge::{EdgeWorkerArgs, ExportArgs, InferArgs};
use clap::{Args, Parser, Subcommand};

/// asma's deployed path: ASMa classifiers and distilled students on the CPU.
#[derive(Parser)]
#[command(name = "asma-edge", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Classify `.skeleton` / `.npy` files, or a stream of JSON frames on standard input,
    /// with trained classifiers (fused when several).
    Infer(InferArgs),
    /// Export a trained classifier (student or teacher) as ONNX.
    Export(ExportArgs),
    /// The edge table of trained models: parameters, MACs, batch-1 latency, peak memory and
    /// FPS, single-threaded and on all threads.
    Bench(BenchArgs),
    /// One timing of `bench` in a fresh process (used by `bench`).
    #[command(hide = true)]
    BenchWorker(EdgeWorkerArgs),
}

/// `asma-edge bench`.
#[derive(Args)]
struct BenchArgs {
    /// Teacher run directories (`asma linear` / `asma finetune`), one per stream, measured
    /// together as one fused model.
    #[arg(long)]
    teacher: Vec<PathBuf>,
    /// Student run directories (`asma distill`), one per stream, measured together.
    #[arg(long)]
    student: Vec<PathBuf>,
    /// Timed batch-1 passes per measurement (after 3 warm-up passes); the median is reported.
    #[arg(long, default_value_t = 30)]
    reps: usize,
    /// The "all threads" count (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    #[arg(long)]
    json: bool,
}

fn bench(a: BenchArgs) -> Result<()> {
    let mut sets = Vec::new();
    for (name, dirs) in [("teacher", a.teacher), ("student", a.student)] {
        if !dirs.is_empty() {
            sets.push((format!("{name} ({} models)", dirs.len()), dirs));
        }
    }
    if sets.is_empty() {
        bail!("nothing to measure: give --teacher or --student run directories");
    }
    let tmp = tempfile::tempdir().context("creating a temporary folder")?;
    let opts = TableOptions {
        reps: a.reps,
        threads: a.threads,
        worker: &["bench-worker"],
        scratch: tmp.path(),
    };
    let rows = table(&sets, &opts, None)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        print!("{}", markdown(&rows));
    }
    Ok(())
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Infer(a) => asma_edge::infer::infer(a),
        Command::Export(a) => asma_edge::infer::export(a),
        Command::Bench(a) => bench(a),
        Command::BenchWorker(a) => asma_edge::bench::worker(a),
    };
    asma_edge::exit_code(result)
}
