//! `asma quickstart` (`configs/quickstart.toml`): synthetic data → ASMa pre-training of the
//! joint stream → linear evaluation (the teacher) → distillation (the S5 student) → the CPU
//! latency of both, one summary row per stage. The stage templates are the ordinary run
//! configurations; [`run`] fills in data folders, streams, run directories and `init.from`.
//! Every stage resumes: a run stopped by Ctrl-C continues where it stopped when started again,
//! and finished stages are read back from their `result.json`.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use asma_data::formats::npy::MmapNpy;
use asma_data::prepare::splits::{Benchmark, Dataset};
use asma_data::prepare::{self, PrepareOptions};
use asma_infer::input::to_stream;
use asma_infer::Classifier;
use asma_synth::SynthConfig;
use serde::{Deserialize, Serialize};

use crate::checkpoint::RunDir;
use crate::config::PretrainConfig;
use crate::downstream::distill::{self, DistillConfig};
use crate::downstream::{self, DownstreamConfig, Protocol, RunResult};
use crate::error::TrainError;
use crate::experiment::read_result;
use crate::pretrain;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QuickstartConfig {
    /// Root of the data and the run directories.
    pub dir: PathBuf,
    pub synth: SynthConfig,
    pub pretrain: PretrainConfig,
    pub linear: DownstreamConfig,
    pub distill: DistillConfig,
}

impl Default for QuickstartConfig {
    fn default() -> Self {
        QuickstartConfig {
            dir: PathBuf::from("runs/quickstart"),
            synth: SynthConfig::default(),
            pretrain: PretrainConfig::default(),
            linear: DownstreamConfig::default(),
            distill: DistillConfig::default(),
        }
    }
}

/// What the quickstart is doing.
#[derive(Debug, Clone)]
pub enum Progress {
    /// A training stage starts (`pretrain`, `linear (teacher)`, `distill (S5 student)`).
    Stage(&'static str),
    /// A batch of the current stage is done.
    Batch {
        batch: usize,
        batches: usize,
    },
    /// The current stage has ended.
    StageEnd,
    Note(String),
}

/// One row of the summary.
#[derive(Debug, Clone, Serialize)]
pub struct StageRow {
    pub stage: String,
    pub result: String,
    pub minutes: f64,
}

/// How the quickstart ended.
#[derive(Debug, Clone)]
pub struct QuickstartOutcome {
    pub rows: Vec<StageRow>,
    /// Stopped by the stop flag: running it again continues.
    pub interrupted: bool,
    /// The student's run directory (what `asma infer --model` takes).
    pub student: PathBuf,
}

fn minutes(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() / 60.0
}

fn has_checkpoint(dir: &Path) -> bool {
    RunDir::new(dir).latest().is_some()
}

/// Median batch-1 latency (ms) of a classifier on one sample, single-threaded.
fn latency_ms(model: &Classifier, x: &[f32]) -> Result<f64, TrainError> {
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

/// Runs every stage of `cfg` under `cfg.dir`, stopping (resumably) when `stop` is set.
pub fn run(
    cfg: &QuickstartConfig,
    stop: &AtomicBool,
    progress: &dyn Fn(Progress),
) -> Result<QuickstartOutcome, TrainError> {
    let mut rows = Vec::new();
    let mut row = |stage: &str, result: String, since: Instant| {
        rows.push(StageRow {
            stage: stage.into(),
            result,
            minutes: minutes(since),
        })
    };

    // 1. Data.
    let t = Instant::now();
    let raw = cfg.dir.join("data/synth");
    let split = cfg.dir.join("data/xsub");
    let summary = asma_synth::generate(&cfg.synth, &raw, &|_, _| {})?;
    let opts = PrepareOptions::new(Dataset::Ntu60, Benchmark::Xsub, &raw, &split);
    let report = prepare::prepare(&opts, &|_| {})?;
    let counts = &report.manifest.counts;
    row(
        "data",
        format!(
            "{} synthetic .skeleton files → train {}, val {}",
            summary.files,
            counts.get("train").unwrap_or(&0),
            counts.get("val").unwrap_or(&0)
        ),
        t,
    );
    progress(Progress::Note(format!("data in {}", split.display())));

    // 2. Pre-training, joint stream.
    let t = Instant::now();
    let mut p = cfg.pretrain.clone();
    p.data.dir = split.clone();
    p.data.num_classes = 60;
    p.run.dir = cfg.dir.join("pretrain");
    progress(Progress::Stage("pretrain"));
    let out = pretrain::pretrain(&p, has_checkpoint(&p.run.dir), stop, &|e| {
        if let pretrain::Progress::Batch { batch, batches, .. } = e {
            progress(Progress::Batch {
                batch: batch + 1,
                batches,
            });
        }
    });
    progress(Progress::StageEnd);
    let out = out?;
    let student_dir = cfg.dir.join("distill");
    let stopped = |rows| QuickstartOutcome {
        rows,
        interrupted: true,
        student: student_dir.clone(),
    };
    if out.interrupted {
        return Ok(stopped(rows));
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
    row("pretrain (joint)", format!("{loss}{knn}"), t);

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
    student.run.dir = student_dir.clone();
    for (name, is_student) in [("linear (teacher)", false), ("distill (S5 student)", true)] {
        let t = Instant::now();
        let dir = if is_student {
            &student.run.dir
        } else {
            &linear.run.dir
        };
        let result: RunResult = match read_result(dir) {
            Some(r) => r,
            None => {
                progress(Progress::Stage(name));
                let batches = |e: downstream::Progress| {
                    if let downstream::Progress::Batch { batch, batches } = e {
                        progress(Progress::Batch {
                            batch: batch + 1,
                            batches,
                        });
                    }
                };
                let resume = has_checkpoint(dir);
                let out = match is_student {
                    false => downstream::run(&linear, resume, stop, &batches),
                    true => distill::run(&student, resume, stop, &batches),
                };
                progress(Progress::StageEnd);
                let out = out?;
                match out.result {
                    Some(r) if !out.interrupted => r,
                    _ => return Ok(stopped(rows)),
                }
            }
        };
        row(
            name,
            format!(
                "top-1 {:.1}% (best), top-5 {:.1}%, {} parameters",
                100.0 * result.best.top1,
                100.0 * result.best.top5,
                result.parameters
            ),
            t,
        );
    }

    // 5. Batch-1 CPU latency of both on a validation clip.
    let t = Instant::now();
    let seq = MmapNpy::open_skeleton(split.join("val_position.npy"))?.sequence(0)?;
    let mut cells = Vec::new();
    for (name, dir) in [("teacher", &linear.run.dir), ("student", &student.run.dir)] {
        let model = Classifier::load(dir)?;
        let ms = latency_ms(&model, &to_stream(&seq, model.stream))?;
        cells.push(format!(
            "{name} {ms:.1} ms ({:.2} GMACs)",
            model.macs(50, 2) as f64 / 1e9
        ));
    }
    row("bench (1 thread, batch 1)", cells.join(", "), t);
    Ok(QuickstartOutcome {
        rows,
        interrupted: false,
        student: student_dir,
    })
}
