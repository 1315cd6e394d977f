//! `asma quickstart`: synthetic data → pre-training (joint) → linear evaluation → distillation
//! → CPU latency, from `configs/quickstart.toml` (built in), printing one summary table.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use asma_data::prepare::splits::{Benchmark, Dataset};
use asma_data::prepare::{self, PrepareOptions};
use asma_infer::input::to_stream;
use asma_infer::Classifier;
use asma_train::checkpoint::RunDir;
use asma_train::downstream::distill;
use asma_train::downstream::{self, Protocol};
use asma_train::experiment::read_result;
use asma_train::pretrain;
use asma_train::quickstart::QuickstartConfig;

use crate::progress::Progress as Bar;
use crate::QuickstartArgs;

/// The built-in configuration.
const DEFAULT: &str = include_str!("../../../configs/quickstart.toml");

fn minutes(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() / 60.0
}

fn has_checkpoint(dir: &Path) -> bool {
    RunDir::new(dir).latest().is_some()
}

/// Median batch-1 latency (ms) of a classifier on one sample, single-threaded.
fn latency_ms(model: &Classifier, x: &[f32]) -> Result<f64> {
    model.logits(x, 50, 2)?;
    let mut times: Vec<f64> = (0..10)
        .map(|_| {
            let start = Instant::now();
            model
                .logits(x, 50, 2)
                .map(|_| start.elapsed().as_secs_f64() * 1e3)
        })
        .collect::<Result<_, _>>()?;
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

pub fn run(a: QuickstartArgs) -> Result<()> {
    let cfg: QuickstartConfig = match &a.config {
        Some(_) => crate::config::load(a.config.as_deref(), &a.sets)?,
        None => crate::config::load_str(DEFAULT, "configs/quickstart.toml (built in)", &a.sets)?,
    };
    let stop = crate::interrupt::stop_flag()?;
    let start = Instant::now();
    let mut rows: Vec<[String; 3]> = Vec::new();

    // 1. Data.
    let t = Instant::now();
    let raw = cfg.dir.join("data/synth");
    let split = cfg.dir.join("data/xsub");
    let summary = asma_synth::generate(&cfg.synth, &raw, &|_, _| {})
        .with_context(|| format!("writing the synthetic dataset to {}", raw.display()))?;
    let opts = PrepareOptions::new(Dataset::Ntu60, Benchmark::Xsub, &raw, &split);
    let report = prepare::prepare(&opts, &|_| {})
        .with_context(|| format!("preparing {}", split.display()))?;
    let counts = &report.manifest.counts;
    rows.push([
        "data".into(),
        format!(
            "{} synthetic .skeleton files → train {}, val {}",
            summary.files,
            counts.get("train").unwrap_or(&0),
            counts.get("val").unwrap_or(&0)
        ),
        format!("{:.1}", minutes(t)),
    ]);
    eprintln!("quickstart: data in {}", split.display());

    // 2. Pre-training, joint stream.
    let t = Instant::now();
    let mut p = cfg.pretrain.clone();
    p.data.dir = split.clone();
    p.data.num_classes = 60;
    p.run.dir = cfg.dir.join("pretrain");
    let bar = Bar::new("pretrain");
    let out = pretrain::pretrain(&p, has_checkpoint(&p.run.dir), &stop, &|e| {
        if let pretrain::Progress::Batch { batch, batches, .. } = e {
            bar.update(batch + 1, batches);
        }
    });
    bar.finish();
    let out = out.with_context(|| format!("pre-training in {}", p.run.dir.display()))?;
    if out.interrupted {
        eprintln!("stopped: run `asma quickstart` again to continue");
        return Ok(());
    }
    let knn = out
        .last
        .as_ref()
        .and_then(|m| {
            m.knn
                .map(|k| format!(", k-NN top-1 θ‖φ {:.1}%", 100.0 * k.both))
        })
        .unwrap_or_default();
    let loss = out
        .last
        .as_ref()
        .map_or(String::new(), |m| format!("loss {:.3}", m.loss));
    rows.push([
        "pretrain (joint)".into(),
        format!("{loss}{knn}"),
        format!("{:.1}", minutes(t)),
    ]);

    // 3. Linear evaluation: the teacher. 4. Distillation: the student.
    let mut linear = cfg.linear.clone();
    linear.protocol = Protocol::Linear;
    linear.data.dir = split.clone();
    linear.data.num_classes = 60;
    linear.init.from = Some(p.run.dir.clone());
    linear.run.dir = cfg.dir.join("linear");
    let mut student = cfg.distill.clone();
    student.data = linear.data.clone();
    student.teacher = linear.run.dir.clone();
    student.run.dir = cfg.dir.join("distill");
    for (name, dir) in [
        ("linear (teacher)", &linear.run.dir),
        ("distill (S5 student)", &student.run.dir),
    ] {
        let t = Instant::now();
        let result = match read_result(dir) {
            Some(r) => r,
            None => {
                let bar = Bar::new(name);
                let progress = |e: downstream::Progress| {
                    if let downstream::Progress::Batch { batch, batches } = e {
                        bar.update(batch + 1, batches);
                    }
                };
                let resume = has_checkpoint(dir);
                let out = if dir == &linear.run.dir {
                    downstream::run(&linear, resume, &stop, &progress)
                } else {
                    distill::run(&student, resume, &stop, &progress)
                };
                bar.finish();
                let out = out.with_context(|| format!("{name} in {}", dir.display()))?;
                match out.result {
                    Some(r) if !out.interrupted => r,
                    _ => {
                        eprintln!("stopped: run `asma quickstart` again to continue");
                        return Ok(());
                    }
                }
            }
        };
        rows.push([
            name.into(),
            format!(
                "top-1 {:.1}% (best), top-5 {:.1}%, {} parameters",
                100.0 * result.best.top1,
                100.0 * result.best.top5,
                result.parameters
            ),
            format!("{:.1}", minutes(t)),
        ]);
    }

    // 5. Batch-1 CPU latency of both on a validation clip.
    let t = Instant::now();
    let npy = asma_data::formats::npy::MmapNpy::open_skeleton(split.join("val_position.npy"))?;
    let seq = npy.sequence(0)?;
    let mut cells = Vec::new();
    for (name, dir) in [("teacher", &linear.run.dir), ("student", &student.run.dir)] {
        let model = Classifier::load(dir)?;
        let ms = latency_ms(&model, &to_stream(&seq, model.stream))?;
        cells.push(format!(
            "{name} {ms:.1} ms ({:.2} GMACs)",
            model.macs(50, 2) as f64 / 1e9
        ));
    }
    rows.push([
        "bench (1 thread, batch 1)".into(),
        cells.join(", "),
        format!("{:.1}", minutes(t)),
    ]);

    println!("| step | result | minutes |\n|---|---|---|");
    for r in &rows {
        println!("| {} | {} | {} |", r[0], r[1], r[2]);
    }
    println!(
        "\nquickstart: {:.1} min in all; runs in {}. Next: `asma infer --model {} FILE.skeleton`, `asma bench edge`.",
        minutes(start),
        cfg.dir.display(),
        student.run.dir.display()
    );
    Ok(())
}
