//! The epoch loop shared by linear evaluation, fine-tuning and distillation: Adam steps on a
//! cosine schedule, evaluation of the test split, the best and last outputs, a checkpoint
//! after every epoch (and on a stop request mid-epoch), `metrics.jsonl`.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use asma_data::pipeline::loader::SkeletonDataset;
use asma_skeleton::ClassNames;
use serde::{Deserialize, Serialize};

use super::learners::Learner;
use super::{result_path, Best, EpochRecord, Progress, TestSummary};
use crate::checkpoint::{RunDir, TrainState};
use crate::error::TrainError;
use crate::eval::Evaluation;
use crate::metrics::MetricsLog;
use crate::plot::write_confusion_png;
use crate::schedule::WarmupCosine;
use crate::scores::Scores;
use crate::svg::write_confusion_svg;

/// What the checkpoint keeps besides the model: the best evaluation and the running sums of
/// an interrupted epoch (so its logged loss covers all its batches after a resume).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Carry {
    pub best: Best,
    pub loss: f64,
    pub correct: usize,
    pub seen: usize,
}

/// Length and learning rate of a run.
pub(crate) struct EpochPlan {
    pub epochs: usize,
    pub eval_every: usize,
    /// Base learning rate of the cosine schedule (no warm-up).
    pub lr: f64,
}

/// How the loop ended.
pub(crate) struct LoopEnd {
    pub state: TrainState,
    pub carry: Carry,
    pub interrupted: bool,
    /// The last evaluation this process ran (`None` when resuming a finished run).
    pub last_eval: Option<Evaluation>,
}

pub(crate) fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, TrainError> {
    let bytes = std::fs::read(path).map_err(|e| TrainError::io(path, e))?;
    serde_json::from_slice(&bytes).map_err(|e| TrainError::Checkpoint {
        path: path.to_path_buf(),
        msg: e.to_string(),
    })
}

/// A new run: its configuration written, old metrics and result removed.
pub(crate) fn start_fresh(run: &RunDir, config: &impl Serialize) -> Result<(), TrainError> {
    std::fs::write(run.config(), serde_json::to_vec_pretty(config).unwrap())
        .map_err(|e| TrainError::io(run.config(), e))?;
    let _ = std::fs::remove_file(run.metrics());
    let _ = std::fs::remove_file(result_path(&run.root));
    Ok(())
}

/// Loads the latest checkpoint into `learner`; returns where to continue.
pub(crate) fn resume_state(
    run: &RunDir,
    learner: &mut dyn Learner,
    progress: &dyn Fn(Progress),
) -> Result<(TrainState, Carry), TrainError> {
    let dir = run.latest().ok_or_else(|| TrainError::Checkpoint {
        path: run.checkpoint(),
        msg: "no checkpoint to resume from".into(),
    })?;
    let state = RunDir::read_state(&dir)?;
    let carry = read_json(&dir.join("carry.json"))?;
    learner.load(&dir)?;
    learner.set_step(state.step);
    MetricsLog::new(&run.metrics()).truncate_from(state.epoch)?;
    progress(Progress::Resumed(state));
    Ok((state, carry))
}

fn save(
    run: &RunDir,
    learner: &dyn Learner,
    state: TrainState,
    carry: Carry,
) -> Result<(), TrainError> {
    run.write_checkpoint(state, |dir| {
        learner.save(dir)?;
        let p = dir.join("carry.json");
        std::fs::write(&p, serde_json::to_vec_pretty(&carry).unwrap())
            .map_err(|e| TrainError::io(&p, e))
    })
}

fn write_outputs(
    root: &Path,
    tag: &str,
    scores: &Scores,
    e: &Evaluation,
    names: Option<&ClassNames>,
) -> Result<(), TrainError> {
    scores.write_csv(&root.join(format!("scores_{tag}.csv")))?;
    e.write_confusion_csv(&root.join(format!("confusion_{tag}.csv")), names)?;
    write_confusion_svg(
        &e.confusion,
        names,
        &root.join(format!("confusion_{tag}.svg")),
    )?;
    write_confusion_png(&e.confusion, &root.join(format!("confusion_{tag}.png")))
}

/// Trains `learner` from `(state, carry)` to `plan.epochs`, evaluating on `test`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn train_epochs(
    run: &RunDir,
    learner: &mut dyn Learner,
    (mut state, mut carry): (TrainState, Carry),
    plan: EpochPlan,
    test: &SkeletonDataset,
    (num_classes, names): (usize, Option<&ClassNames>),
    stop: &AtomicBool,
    progress: &dyn Fn(Progress),
) -> Result<LoopEnd, TrainError> {
    let metrics = MetricsLog::new(&run.metrics());
    let schedule = WarmupCosine {
        base_lr: plan.lr,
        warmup_epochs: 0,
        epochs: plan.epochs,
    };
    let batches = learner.loader().batches_per_epoch();
    let mut last_eval = None;
    while state.epoch < plan.epochs {
        let epoch = state.epoch;
        let lr = schedule.lr(epoch);
        let order = learner.loader().order(epoch as u64);
        let started = Instant::now();
        for b in state.batch..batches {
            let r = learner.step(epoch, &order, b, lr).map_err(|e| match e {
                // The learner knows the value; the loop knows where it happened.
                TrainError::NonFinite { value, .. } => TrainError::NonFinite {
                    epoch,
                    step: state.step,
                    value,
                    run: run.root.clone(),
                },
                e => e,
            })?;
            carry.loss += r.loss as f64 * r.samples as f64;
            carry.correct += r.correct;
            carry.seen += r.samples;
            state.step += 1;
            state.batch = b + 1;
            progress(Progress::Batch { batch: b, batches });
            if stop.load(Ordering::SeqCst) && state.batch < batches {
                save(run, learner, state, carry)?;
                return Ok(LoopEnd {
                    state,
                    carry,
                    interrupted: true,
                    last_eval,
                });
            }
        }
        state.epoch += 1;
        state.batch = 0;
        let train_seconds = started.elapsed().as_secs_f64();
        let due = state.epoch % plan.eval_every == 0 || state.epoch == plan.epochs;
        let test_summary = if due {
            let scores = Scores {
                names: test.names().to_vec(),
                labels: test.labels().to_vec(),
                num_classes,
                logits: learner.test_logits()?,
            };
            let e = scores.evaluate();
            let summary = TestSummary::from(&e);
            if carry.best.test.is_none_or(|b| summary.top1 > b.top1) {
                carry.best = Best {
                    epoch: Some(epoch),
                    test: Some(summary),
                };
                write_outputs(&run.root, "best", &scores, &e, names)?;
            }
            if state.epoch == plan.epochs {
                write_outputs(&run.root, "last", &scores, &e, names)?;
            }
            last_eval = Some(e);
            Some(summary)
        } else {
            None
        };
        let n = carry.seen.max(1) as f64;
        let record = EpochRecord {
            epoch,
            lr,
            loss: carry.loss / n,
            train_top1: carry.correct as f64 / n,
            samples_per_s: carry.seen as f64 / train_seconds.max(1e-9),
            seconds: started.elapsed().as_secs_f64(),
            test: test_summary,
        };
        carry = Carry {
            best: carry.best,
            ..Default::default()
        };
        save(run, learner, state, carry)?;
        metrics.append(&record)?;
        progress(Progress::Epoch(record));
        if stop.load(Ordering::SeqCst) && state.epoch < plan.epochs {
            return Ok(LoopEnd {
                state,
                carry,
                interrupted: true,
                last_eval,
            });
        }
    }
    Ok(LoopEnd {
        state,
        carry,
        interrupted: false,
        last_eval,
    })
}
