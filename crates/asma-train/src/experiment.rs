//! `asma run`: the whole per-stream pipeline of one benchmark (pretrain → linear → finetune
//! for each stream, then the 3-stream fusion of each protocol), from one experiment file.
//!
//! Layout: `DIR/{stream}/{pretrain,linear,finetune}/` (ordinary run directories) and
//! `DIR/summary.{md,json}`. A stage whose run finished is skipped, one with a checkpoint is
//! resumed, so a stopped `asma run` picks up where it was.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use asma_data::pipeline::stream::Stream;
use serde::{Deserialize, Serialize};

use crate::checkpoint::RunDir;
use crate::config::PretrainConfig;
use crate::downstream::{self, result_path, DownstreamConfig, Protocol, RunResult};
use crate::error::TrainError;
use crate::scores::{fuse, Scores};

/// The pipeline stages, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Pretrain,
    Linear,
    Finetune,
}

/// One experiment file (`configs/experiments/*.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExperimentConfig {
    /// Root of the experiment's run directories.
    pub dir: PathBuf,
    pub streams: Vec<Stream>,
    /// Without `pretrain`, linear and finetune start from random encoders (the baseline),
    /// or from `encoders_from`.
    pub stages: Vec<Stage>,
    /// Another experiment's directory whose `{stream}/pretrain` encoders linear and finetune
    /// start from (ablations of the downstream part reuse one pre-training).
    pub encoders_from: Option<PathBuf>,
    /// Score-fusion weights per stream (docs/METHOD.md §7.5: joint 0.6, bone 0.6, motion 0.4).
    pub fusion_weights: FusionWeights,
    /// Templates: the stream, run directories and `init.from` are filled in per stream.
    pub pretrain: PretrainConfig,
    pub linear: DownstreamConfig,
    pub finetune: DownstreamConfig,
}

/// Fusion weights.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FusionWeights {
    pub joint: f64,
    pub motion: f64,
    pub bone: f64,
}

impl Default for FusionWeights {
    fn default() -> Self {
        FusionWeights {
            joint: 0.6,
            motion: 0.4,
            bone: 0.6,
        }
    }
}

impl FusionWeights {
    pub fn of(&self, s: Stream) -> f64 {
        match s {
            Stream::Joint => self.joint,
            Stream::Motion => self.motion,
            Stream::Bone => self.bone,
        }
    }
}

impl Default for ExperimentConfig {
    fn default() -> Self {
        let finetune = DownstreamConfig {
            protocol: Protocol::Finetune,
            ..Default::default()
        };
        ExperimentConfig {
            dir: PathBuf::from("runs/experiment"),
            streams: vec![Stream::Joint, Stream::Motion, Stream::Bone],
            stages: vec![Stage::Pretrain, Stage::Linear, Stage::Finetune],
            encoders_from: None,
            fusion_weights: FusionWeights::default(),
            pretrain: PretrainConfig::default(),
            linear: DownstreamConfig::default(),
            finetune,
        }
    }
}

/// A stage about to run, for progress display.
#[derive(Debug, Clone)]
pub struct StageStart {
    pub stream: Stream,
    pub stage: Stage,
    pub dir: PathBuf,
    /// Skipped: already finished.
    pub done: bool,
    pub resume: bool,
}

/// One row of the summary: best and last top-1 of each protocol.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SummaryRow {
    pub name: String,
    pub linear: Option<(f64, f64)>,
    pub finetune: Option<(f64, f64)>,
}

fn stream_name(s: Stream) -> &'static str {
    match s {
        Stream::Joint => "joint",
        Stream::Motion => "motion",
        Stream::Bone => "bone",
    }
}

/// The run directory of a stage.
pub fn stage_dir(cfg: &ExperimentConfig, s: Stream, stage: Stage) -> PathBuf {
    cfg.dir.join(stream_name(s)).join(stage_label(stage))
}

/// Whether a pre-training run finished (`epochs` epochs checkpointed).
fn pretrain_finished(dir: &Path, epochs: usize) -> bool {
    RunDir::new(dir)
        .latest()
        .and_then(|d| RunDir::read_state(&d).ok())
        .is_some_and(|s| s.epoch >= epochs)
}

/// Runs every stage not yet finished, then writes the summary; `on_stage` is told what runs.
/// `stop` interrupts the current stage (its checkpoint is written) and returns.
pub fn run(
    cfg: &ExperimentConfig,
    stop: &AtomicBool,
    on_stage: &dyn Fn(&StageStart),
    pretrain_progress: &dyn Fn(crate::pretrain::Progress),
    downstream_progress: &dyn Fn(downstream::Progress),
) -> Result<Option<Vec<SummaryRow>>, TrainError> {
    if cfg.streams.is_empty() {
        return Err(TrainError::Config("streams is empty".into()));
    }
    if cfg.encoders_from.is_some() && cfg.stages.contains(&Stage::Pretrain) {
        return Err(TrainError::Config(
            "encoders_from replaces this experiment's pre-training: drop \"pretrain\" from stages"
                .into(),
        ));
    }
    for &s in &cfg.streams {
        let pre_dir = stage_dir(cfg, s, Stage::Pretrain);
        for &stage in &cfg.stages {
            let dir = stage_dir(cfg, s, stage);
            let has_checkpoint = RunDir::new(&dir).latest().is_some();
            let done = match stage {
                Stage::Pretrain => pretrain_finished(&dir, cfg.pretrain.optim.epochs),
                Stage::Linear | Stage::Finetune => result_path(&dir).exists(),
            };
            on_stage(&StageStart {
                stream: s,
                stage,
                dir: dir.clone(),
                done,
                resume: has_checkpoint,
            });
            if done {
                continue;
            }
            let interrupted = match stage {
                Stage::Pretrain => {
                    let mut p = cfg.pretrain.clone();
                    p.data.stream = s;
                    p.run.dir = dir;
                    crate::pretrain::pretrain(&p, has_checkpoint, stop, pretrain_progress)?
                        .interrupted
                }
                Stage::Linear | Stage::Finetune => {
                    let (template, protocol) = match stage {
                        Stage::Linear => (&cfg.linear, Protocol::Linear),
                        _ => (&cfg.finetune, Protocol::Finetune),
                    };
                    let mut d = template.clone();
                    d.protocol = protocol;
                    d.data.stream = s;
                    d.run.dir = dir;
                    if cfg.stages.contains(&Stage::Pretrain) {
                        d.init.from = Some(pre_dir.clone());
                    } else if let Some(other) = &cfg.encoders_from {
                        d.init.from = Some(other.join(stream_name(s)).join("pretrain"));
                    }
                    downstream::run(&d, has_checkpoint, stop, downstream_progress)?.interrupted
                }
            };
            if interrupted {
                return Ok(None);
            }
        }
    }
    let rows = summarise(cfg)?;
    write_summary(cfg, &rows)?;
    Ok(Some(rows))
}

/// A finished stage's `result.json`, if it is there and readable.
pub fn read_result(dir: &Path) -> Option<RunResult> {
    let bytes = std::fs::read(result_path(dir)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Per-stream rows and the fused `3s` row (fusion of `scores_best.csv` and `scores_last.csv`).
pub fn summarise(cfg: &ExperimentConfig) -> Result<Vec<SummaryRow>, TrainError> {
    let mut rows: Vec<SummaryRow> = cfg
        .streams
        .iter()
        .map(|&s| SummaryRow {
            name: stream_name(s).to_string(),
            ..Default::default()
        })
        .collect();
    let mut fused = SummaryRow {
        name: format!("{}s (fused)", cfg.streams.len()),
        ..Default::default()
    };
    for stage in [Stage::Linear, Stage::Finetune] {
        if !cfg.stages.contains(&stage) {
            continue;
        }
        for (row, &s) in rows.iter_mut().zip(&cfg.streams) {
            let r = read_result(&stage_dir(cfg, s, stage)).map(|r| (r.best.top1, r.last.top1));
            match stage {
                Stage::Linear => row.linear = r,
                _ => row.finetune = r,
            }
        }
        let mut pair = [0.0; 2];
        for (k, tag) in ["best", "last"].iter().enumerate() {
            let files: Vec<(PathBuf, f64)> = cfg
                .streams
                .iter()
                .map(|&s| {
                    (
                        stage_dir(cfg, s, stage).join(format!("scores_{tag}.csv")),
                        cfg.fusion_weights.of(s),
                    )
                })
                .collect();
            let scores = files
                .iter()
                .map(|(p, _)| Scores::read_csv(p))
                .collect::<Result<Vec<_>, _>>()?;
            let parts: Vec<(&Path, &Scores, f64)> = files
                .iter()
                .zip(&scores)
                .map(|((p, w), s)| (p.as_path(), s, *w))
                .collect();
            let f = fuse(&parts)?;
            f.write_csv(
                &cfg.dir
                    .join(format!("{}_scores_{tag}_fused.csv", stage_label(stage))),
            )?;
            pair[k] = f.evaluate().top1;
        }
        match stage {
            Stage::Linear => fused.linear = Some((pair[0], pair[1])),
            _ => fused.finetune = Some((pair[0], pair[1])),
        }
    }
    if cfg.streams.len() > 1 {
        rows.push(fused);
    }
    Ok(rows)
}

fn stage_label(stage: Stage) -> &'static str {
    match stage {
        Stage::Pretrain => "pretrain",
        Stage::Linear => "linear",
        Stage::Finetune => "finetune",
    }
}

/// `summary.md` (a table) and `summary.json`.
fn write_summary(cfg: &ExperimentConfig, rows: &[SummaryRow]) -> Result<(), TrainError> {
    let pct = |v: Option<(f64, f64)>| match v {
        Some((b, l)) => format!("{:.1} | {:.1}", 100.0 * b, 100.0 * l),
        None => "– | –".into(),
    };
    let mut md = String::from(
        "| stream | linear top-1 best | linear top-1 last | finetune top-1 best | finetune top-1 last |\n|---|---|---|---|---|\n",
    );
    for r in rows {
        md.push_str(&format!(
            "| {} | {} | {} |\n",
            r.name,
            pct(r.linear),
            pct(r.finetune)
        ));
    }
    // Where the time went: the epochs' own durations, from each stage's metrics.jsonl.
    md.push_str("\n| stream | pretrain min | linear min | finetune min |\n|---|---|---|---|\n");
    let mut total = 0.0;
    for &s in &cfg.streams {
        let cell = |stage| match stage_minutes(&stage_dir(cfg, s, stage)) {
            Some(m) => {
                total += m;
                format!("{m:.1}")
            }
            None => "–".into(),
        };
        let row = [Stage::Pretrain, Stage::Linear, Stage::Finetune].map(cell);
        md.push_str(&format!("| {} | {} |\n", stream_name(s), row.join(" | ")));
    }
    md.push_str(&format!(
        "\nThe epochs took {total:.1} min in all (k-NN monitor, encoder caching and start-up not counted).\n"
    ));
    asma_data::write_atomic(&cfg.dir.join("summary.md"), md.as_bytes())?;
    Ok(asma_data::write_atomic(
        &cfg.dir.join("summary.json"),
        &serde_json::to_vec_pretty(rows).unwrap(),
    )?)
}

/// Minutes a stage's epochs took (the `seconds` of its `metrics.jsonl` lines).
fn stage_minutes(dir: &Path) -> Option<f64> {
    let text = std::fs::read_to_string(dir.join("metrics.jsonl")).ok()?;
    let seconds: f64 = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["seconds"].as_f64())
        .sum();
    Some(seconds / 60.0)
}

/// The summary table as Markdown (what `summary.md` holds).
pub fn summary_markdown(cfg: &ExperimentConfig) -> Option<String> {
    std::fs::read_to_string(cfg.dir.join("summary.md")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoders_from_and_a_pretrain_stage_exclude_each_other() {
        let cfg = ExperimentConfig {
            encoders_from: Some(PathBuf::from("runs/other")),
            ..Default::default()
        };
        let e = run(&cfg, &AtomicBool::new(false), &|_| {}, &|_| {}, &|_| {})
            .unwrap_err()
            .to_string();
        assert!(e.contains("encoders_from") && e.contains("pretrain"), "{e}");
    }
}
