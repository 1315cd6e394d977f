//! `asma bench edge`: the paper's edge table (docs/METHOD.md §8 "Edge metrics") for the 3-stream
//! teacher and the 3-stream student, measured by `asma_edge::bench` (each figure in a fresh
//! `asma bench edge-worker` process), with the same models run in PyTorch eager and in ONNX
//! Runtime in the same run (`tools/reference/bench_edge.py`). Without run directories it
//! builds the paper's models with fresh weights (latency does not depend on the values),
//! which needs burn: the burn-free `asma-edge` measures given run directories only.

use std::path::Path;

use anyhow::{Context, Result};
use asma_data::pipeline::stream::Stream;
use asma_edge::bench::{markdown, table, ReferenceJob, TableOptions};
use asma_edge::Timing;
use asma_model::burn::tensor::Device;
use asma_model::classifier::ClassifierConfig;
use asma_model::student::{StudentConfig, StudentInit};
use asma_model::weights::save_module;

use crate::BenchEdgeArgs;
use asma_bench::reference::run_reference;

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

/// PyTorch eager and ONNX Runtime on one job, through `tools/reference/bench_edge.py`.
fn python_reference(py: &str, job: &ReferenceJob) -> Result<(Timing, Timing)> {
    let common = vec![
        "--input".to_string(),
        job.input.display().to_string(),
        "--threads".into(),
        job.threads.to_string(),
        "--reps".into(),
        job.reps.to_string(),
    ];
    let mut args = vec!["--runtime".to_string(), "torch".into(), "--models".into()];
    args.extend(job.dirs.iter().map(|d| d.display().to_string()));
    args.extend(common.clone());
    let torch = Timing::from_json(&run_reference(py, "bench_edge.py", &args, None)?)?;
    let mut args = vec!["--runtime".to_string(), "ort".into(), "--onnx".into()];
    args.extend(job.onnx.iter().map(|d| d.display().to_string()));
    args.extend(common);
    let ort = Timing::from_json(&run_reference(py, "bench_edge.py", &args, None)?)?;
    Ok((torch, ort))
}

/// `asma bench edge`.
pub fn edge(a: BenchEdgeArgs) -> Result<()> {
    let tmp = tempfile::tempdir().context("creating a temporary folder")?;
    let mut sets = Vec::new();
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
        sets.push((format!("3s {name}"), dirs));
    }
    let opts = TableOptions {
        reps: a.reps,
        threads: a.threads,
        worker: &["bench", "edge-worker"],
        scratch: tmp.path(),
    };
    let reference = a
        .python
        .as_deref()
        .map(|py| move |job: &ReferenceJob| python_reference(py, job));
    let rows = table(
        &sets,
        &opts,
        reference.as_ref().map(|r| r as asma_edge::Reference),
    )?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        print!("{}", markdown(&rows));
    }
    Ok(())
}
