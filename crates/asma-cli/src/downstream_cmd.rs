//! `asma linear`, `asma finetune`, `asma fuse` and `asma run`: argument plumbing around
//! asma-train's downstream loops, score fusion and experiment pipeline.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use anyhow::{bail, Context, Result};
use asma_train::downstream::distill::{self, DistillConfig};
use asma_train::downstream::{self, DownstreamConfig, Progress, Protocol};
use asma_train::experiment::{self, ExperimentConfig};
use asma_train::scores::{fuse, Scores};
use asma_train::TrainError;

use crate::progress::Progress as Bar;
use crate::{DistillArgs, DownstreamArgs, FuseArgs, RunArgs, RunFileArgs};

fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

/// The downstream progress printer shared by `linear`, `finetune` and `run`.
fn downstream_printer<'a>(bar: &'a Bar, json: bool) -> impl Fn(Progress) + 'a {
    move |p| match p {
        Progress::Note(n) => bar.message(&n),
        Progress::Batch { batch, batches } => bar.update(batch + 1, batches),
        Progress::Epoch(r) => {
            if json {
                println!("{}", serde_json::to_string(&r).unwrap());
            } else {
                let test = r
                    .test
                    .map(|t| {
                        format!(
                            ", test top-1 {} top-5 {} mean-class {}",
                            pct(t.top1),
                            pct(t.top5),
                            pct(t.mean_class)
                        )
                    })
                    .unwrap_or_default();
                println!(
                    "epoch {:>3}: loss {:.4}, train top-1 {}, lr {:.2e}, {:.1} samples/s{test}",
                    r.epoch,
                    r.loss,
                    pct(r.train_top1),
                    r.lr,
                    r.samples_per_s
                );
            }
        }
        Progress::Resumed(s) => eprintln!("resuming at epoch {}, batch {}", s.epoch, s.batch),
    }
}

/// `asma linear` / `asma finetune`.
pub fn downstream(a: DownstreamArgs, protocol: Protocol) -> Result<()> {
    let mut extra = Vec::new();
    if let Some(from) = &a.init_from {
        extra.push(format!("init.from={:?}", from.display().to_string()));
    }
    if let Some(f) = a.label_fraction {
        extra.push(format!("label_fraction={f}"));
    }
    let mut cfg: DownstreamConfig = crate::config::load_run(&a.run, &extra)?;
    // The command decides the protocol (a resumed run checks it against its config.json).
    cfg.protocol = protocol;
    train(protocol.name(), &a.run, &cfg.run.dir, |stop, progress| {
        downstream::run(&cfg, a.run.resume.is_some(), stop, progress)
    })
}

/// `asma distill`.
pub fn distill(a: DistillArgs) -> Result<()> {
    let mut extra = Vec::new();
    if let Some(t) = &a.teacher {
        extra.push(format!("teacher={:?}", t.display().to_string()));
    }
    let cfg: DistillConfig = crate::config::load_run(&a.run, &extra)?;
    train("distill", &a.run, &cfg.run.dir, |stop, progress| {
        distill::run(&cfg, a.run.resume.is_some(), stop, progress)
    })
}

/// Runs one downstream loop under a Ctrl-C handler and a progress display, then reports.
fn train(
    command: &str,
    args: &RunFileArgs,
    dir: &Path,
    run: impl FnOnce(&AtomicBool, &dyn Fn(Progress)) -> Result<downstream::Outcome, TrainError>,
) -> Result<()> {
    let stop = crate::interrupt::stop_flag()?;
    let bar = Bar::new(command);
    let out = run(&stop, &downstream_printer(&bar, args.json));
    bar.finish();
    let out = out.with_context(|| format!("{command} in {}", dir.display()))?;
    report(out, command, dir, args.json);
    Ok(())
}

/// Prints how a downstream run ended.
fn report(out: downstream::Outcome, command: &str, dir: &Path, json: bool) {
    if out.interrupted {
        eprintln!(
            "stopped at epoch {}, batch {}: continue with `asma {command} --resume {}`",
            out.state.epoch,
            out.state.batch,
            dir.display()
        );
    } else if let Some(r) = out.result {
        if json {
            println!("{}", serde_json::to_string(&r).unwrap());
        } else {
            println!(
                "{command} ({:?} stream): best top-1 {} (epoch {}), top-5 {}, mean-class {}; last top-1 {}; {} parameters; scores in {}/scores_best.csv",
                r.stream,
                pct(r.best.top1),
                r.best_epoch,
                pct(r.best.top5),
                pct(r.best.mean_class),
                pct(r.last.top1),
                r.parameters,
                dir.display()
            );
        }
    }
}

/// `asma fuse`.
pub fn fuse_cmd(a: FuseArgs) -> Result<()> {
    if a.scores.len() < 2 {
        bail!("give at least two score files");
    }
    let weights = match &a.weights {
        Some(w) if w.len() != a.scores.len() => {
            bail!("{} weights for {} score files", w.len(), a.scores.len())
        }
        Some(w) => w.clone(),
        None => vec![1.0; a.scores.len()],
    };
    let scores = a
        .scores
        .iter()
        .map(|p| Scores::read_csv(p))
        .collect::<Result<Vec<_>, _>>()?;
    let parts: Vec<(&Path, &Scores, f64)> = a
        .scores
        .iter()
        .zip(&scores)
        .zip(&weights)
        .map(|((p, s), &w)| (p.as_path(), s, w))
        .collect();
    let fused = fuse(&parts)?;
    let e = fused.evaluate();
    if let Some(out) = &a.out {
        fused.write_csv(out)?;
    }
    if a.json {
        println!("{}", serde_json::to_string(&e).unwrap());
    } else {
        for (p, s) in a.scores.iter().zip(&scores) {
            println!("{:>7} top-1  {}", pct(s.evaluate().top1), p.display());
        }
        println!(
            "{:>7} top-1  fused (weights {weights:?}); top-5 {}, mean-class {}, {} samples",
            pct(e.top1),
            pct(e.top5),
            pct(e.mean_class),
            e.samples
        );
    }
    Ok(())
}

/// `asma run`.
pub fn run(a: RunArgs) -> Result<()> {
    let cfg: ExperimentConfig = crate::config::load(Some(&a.config), &a.sets)?;
    std::fs::create_dir_all(&cfg.dir).with_context(|| format!("creating {}", cfg.dir.display()))?;
    let stop = crate::interrupt::stop_flag()?;
    let bar = Bar::new("run");
    let json = a.json;
    let down = downstream_printer(&bar, json);
    let rows = experiment::run(
        &cfg,
        &stop,
        &|s| {
            let what = if s.done {
                "finished, skipped"
            } else if s.resume {
                "resuming"
            } else {
                "starting"
            };
            eprintln!(
                "== {:?} {:?}: {what} ({})",
                s.stream,
                s.stage,
                s.dir.display()
            );
        },
        &|p| {
            if let asma_train::pretrain::Progress::Epoch(m) = p {
                if json {
                    println!("{}", serde_json::to_string(&m).unwrap());
                } else {
                    println!(
                        "pretrain epoch {:>3}: loss {:.3}, {:.1} samples/s",
                        m.epoch, m.loss, m.samples_per_s
                    );
                }
            }
        },
        &down,
    );
    bar.finish();
    let rows = rows.with_context(|| format!("experiment {}", a.config.display()))?;
    match rows {
        None => eprintln!(
            "stopped: run `asma run {}` again to continue where it stopped",
            a.config.display()
        ),
        Some(rows) if json => println!("{}", serde_json::to_string(&rows).unwrap()),
        Some(_) => print!("{}", experiment::summary_markdown(&cfg).unwrap_or_default()),
    }
    Ok(())
}
