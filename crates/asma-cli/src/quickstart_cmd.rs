//! `asma quickstart`: the stages are `asma_train::quickstart::run`'s; this loads the
//! configuration (`configs/quickstart.toml`, built in), shows a progress bar per training
//! stage and prints the summary table.

use std::cell::RefCell;

use anyhow::{Context, Result};
use asma_train::quickstart::{self, Progress, QuickstartConfig};

use crate::progress::Progress as Bar;
use crate::QuickstartArgs;

/// The built-in configuration.
const DEFAULT: &str = include_str!("../../../configs/quickstart.toml");

pub fn run(a: QuickstartArgs) -> Result<()> {
    let cfg: QuickstartConfig = match &a.config {
        Some(_) => crate::config::load(a.config.as_deref(), &a.sets)?,
        None => crate::config::load_str(DEFAULT, "configs/quickstart.toml (built in)", &a.sets)?,
    };
    let stop = crate::interrupt::stop_flag()?;
    let start = std::time::Instant::now();
    let bar: RefCell<Option<Bar>> = RefCell::new(None);
    let out = quickstart::run(&cfg, &stop, &|p| match p {
        Progress::Stage(name) => *bar.borrow_mut() = Some(Bar::new(name)),
        Progress::Batch { batch, batches } => {
            if let Some(b) = bar.borrow().as_ref() {
                b.update(batch, batches);
            }
        }
        Progress::StageEnd => {
            if let Some(b) = bar.borrow_mut().take() {
                b.finish();
            }
        }
        Progress::Note(n) => eprintln!("quickstart: {n}"),
    })
    .with_context(|| format!("quickstart in {}", cfg.dir.display()))?;
    println!("| step | result | minutes |\n|---|---|---|");
    for r in &out.rows {
        println!("| {} | {} | {:.1} |", r.stage, r.result, r.minutes);
    }
    if out.interrupted {
        eprintln!("stopped: run `asma quickstart` again to continue");
        return Ok(());
    }
    println!(
        "\nquickstart: {:.1} min in all; runs in {}. Next: `asma infer --model {} FILE.skeleton`, `asma bench edge`.",
        start.elapsed().as_secs_f64() / 60.0,
        cfg.dir.display(),
        out.student.display()
    );
    Ok(())
}
