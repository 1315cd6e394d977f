//! The deployed path from the command line: `infer` classifies files, or a stream of frames
//! on standard input, with asma-infer's folded CPU path; `export` writes ONNX.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use asma_infer::input::read_samples;
use asma_infer::window::{parse_frame, Windows};
use asma_infer::{top_k, Classifier, Ensemble, Ranked};
use clap::Args;

/// `infer`.
#[derive(Args)]
pub struct InferArgs {
    /// A trained classifier's run directory (`asma distill`, `asma linear`, `asma finetune`);
    /// repeat it to fuse several, e.g. the joint, motion and bone students.
    #[arg(long = "model", value_name = "RUN_DIR", required = true)]
    pub models: Vec<PathBuf>,
    /// Raw NTU `.skeleton` files, or `(N, 3, T, 25, M)` `.npy` arrays of joint positions.
    pub inputs: Vec<PathBuf>,
    /// Read frames from standard input, one JSON line each (`[[x,y,z] × 25]` for one body,
    /// `[[[x,y,z] × 25], [...]]` for two), and classify a sliding window.
    #[arg(long)]
    pub stdin: bool,
    /// Frames per window (`--stdin`).
    #[arg(long, default_value_t = 50)]
    pub window: usize,
    /// Frames between predictions (`--stdin`).
    #[arg(long, default_value_t = 10)]
    pub hop: usize,
    /// One weight per model for the fused logits (default: equal).
    #[arg(long, value_delimiter = ',')]
    pub weights: Option<Vec<f32>>,
    /// Classes to print per prediction.
    #[arg(long, default_value_t = 5)]
    pub top: usize,
    /// Threads per forward pass.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// One JSON object per prediction.
    #[arg(long)]
    pub json: bool,
}

/// `export`.
#[derive(Args)]
pub struct ExportArgs {
    /// A trained classifier's run directory.
    #[arg(long, value_name = "RUN_DIR")]
    pub model: PathBuf,
    /// Write an ONNX model (opset 17; input `skeleton` (N, 3, T, 25, M), output `logits`).
    #[arg(long, value_name = "FILE")]
    pub onnx: PathBuf,
    /// Frames T of the exported input.
    #[arg(long, default_value_t = 50)]
    pub frames: usize,
    /// Bodies M of the exported input [default: the model's `data.bodies`, else 2].
    #[arg(long)]
    pub persons: Option<usize>,
}

fn ensemble(a: &InferArgs) -> Result<Ensemble> {
    let weights = match &a.weights {
        Some(w) if w.len() != a.models.len() => {
            bail!("{} weights for {} models", w.len(), a.models.len())
        }
        Some(w) => w.clone(),
        None => vec![1.0; a.models.len()],
    };
    let mut models = Vec::new();
    for (dir, w) in a.models.iter().zip(weights) {
        let model = Classifier::load(dir)
            .with_context(|| format!("loading the model of {}", dir.display()))?;
        eprintln!(
            "model {}: {} of the {} stream, {} classes, {} parameters",
            dir.display(),
            model.describe(),
            model.stream,
            model.num_classes,
            model.num_params()
        );
        models.push((model, w));
    }
    Ok(Ensemble::new(models, a.threads)?)
}

fn text(top: &[Ranked]) -> String {
    top.iter()
        .map(|r| match &r.name {
            Some(name) => format!("{} {name} {:.3}", r.action, r.prob),
            None => format!("{} {:.3}", r.action, r.prob),
        })
        .collect::<Vec<_>>()
        .join("  ")
}

pub fn infer(a: InferArgs) -> Result<()> {
    let models = ensemble(&a)?;
    if a.stdin {
        if !a.inputs.is_empty() {
            bail!("--stdin reads frames from standard input; give no input files with it");
        }
        return stream(&a, &models);
    }
    if a.inputs.is_empty() {
        bail!("nothing to classify: give .skeleton or .npy files, or --stdin");
    }
    let mut failed = 0;
    let out = std::io::stdout();
    for path in &a.inputs {
        let samples = match read_samples(path) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e} (skipped)");
                failed += 1;
                continue;
            }
        };
        for s in samples {
            let start = Instant::now();
            let logits = models.logits(&s.sequence)?;
            let ms = start.elapsed().as_secs_f64() * 1e3;
            let top = top_k(&logits, a.top, models.classes());
            let mut out = out.lock();
            if a.json {
                let line = serde_json::json!({"input": s.name, "top": top, "ms": ms});
                writeln!(out, "{line}")?;
            } else {
                writeln!(out, "{}: {}  ({ms:.1} ms)", s.name, text(&top))?;
            }
        }
    }
    if failed > 0 {
        bail!("{failed} of {} inputs could not be read", a.inputs.len());
    }
    Ok(())
}

/// One frame per line; a bad line is reported with its number and skipped.
fn stream(a: &InferArgs, models: &Ensemble) -> Result<()> {
    let mut windows = Windows::new(a.window, a.hop, 50).map_err(anyhow::Error::msg)?;
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let mut skipped = 0;
    for (i, line) in stdin.lock().lines().enumerate() {
        let line = line.context("reading standard input")?;
        if line.trim().is_empty() {
            continue;
        }
        let frame = match parse_frame(&line) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("line {}: {e} (skipped)", i + 1);
                skipped += 1;
                continue;
            }
        };
        let Some(ready) = windows.push(frame) else {
            continue;
        };
        let mut out = stdout.lock();
        match ready {
            Ok(w) => {
                let start = Instant::now();
                let top = top_k(&models.logits(&w.sequence)?, a.top, models.classes());
                let ms = start.elapsed().as_secs_f64() * 1e3;
                if a.json {
                    let line =
                        serde_json::json!({"start": w.start, "end": w.end, "top": top, "ms": ms});
                    writeln!(out, "{line}")?;
                } else {
                    writeln!(
                        out,
                        "frames {}..{}: {}  ({ms:.1} ms)",
                        w.start,
                        w.end,
                        text(&top)
                    )?;
                }
            }
            Err(e) => eprintln!("window ending at line {}: {e} (no prediction)", i + 1),
        }
        out.flush()?;
    }
    if skipped > 0 {
        eprintln!("{skipped} lines skipped");
    }
    Ok(())
}

pub fn export(a: ExportArgs) -> Result<()> {
    let model = Classifier::load(&a.model)
        .with_context(|| format!("loading the model of {}", a.model.display()))?;
    let persons = a.persons.unwrap_or(model.bodies.unwrap_or(2));
    let summary = model.export_onnx(&a.onnx, a.frames, persons)?;
    println!(
        "{}: {} of the {} stream, input (N, 3, {}, 25, {}), {} nodes, {} initializers, {:.2} MB",
        a.onnx.display(),
        model.describe(),
        model.stream,
        a.frames,
        persons,
        summary.nodes,
        summary.initializers,
        summary.bytes as f64 / 1e6
    );
    Ok(())
}
