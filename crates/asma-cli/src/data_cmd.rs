//! `asma data …`: argument plumbing around `asma_data`.

use anyhow::{Context, Result};
use asma_data::prepare::{self, PrepareOptions};
use asma_synth::SynthConfig;

use crate::progress::Progress;
use crate::{InspectArgs, PrepareArgs, SynthArgs};

/// `asma data synth`.
pub fn synth(a: SynthArgs) -> Result<()> {
    let mut cfg: SynthConfig = crate::config::load(a.config.as_deref(), &a.sets)?;
    if let Some(seed) = a.seed {
        cfg.seed = seed;
    }
    let bar = Progress::new("synth");
    let summary = asma_synth::generate(&cfg, &a.out, &|done, total| bar.update(done, total))
        .with_context(|| format!("writing the synthetic dataset to {}", a.out.display()))?;
    bar.finish();
    if a.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!("{summary}");
    }
    Ok(())
}

/// `asma data prepare`.
pub fn prepare(a: PrepareArgs) -> Result<()> {
    let mut opts = PrepareOptions::new(a.dataset, a.benchmark, &a.raw, &a.out);
    opts.frames = a.frames;
    opts.body_policy = a.body_policy;
    opts.skip_bad = a.skip_bad;
    opts.use_missing_list = !a.no_missing_list;
    opts.pku_labels = a.pku_labels;
    opts.pku_split = a.pku_split;
    opts.force = a.force;
    let pool = prepare::worker_pool(a.threads)?;
    let bar = Progress::new("prepare");
    let report = pool.install(|| {
        prepare::prepare(&opts, &|p| match p {
            prepare::Progress::Samples { done, total } => bar.update(done, total),
            prepare::Progress::Checksums => bar.message("checksums"),
        })
    });
    bar.finish();
    let report = report.with_context(|| {
        format!(
            "preparing {} {} from {}",
            a.dataset,
            a.benchmark,
            a.raw.display()
        )
    })?;
    let m = &report.manifest;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    if report.up_to_date {
        println!(
            "{}: up to date (inputs and options unchanged), nothing to do",
            report.out.display()
        );
    }
    println!(
        "{} {} → {}: train {}, val {} ({} layout, {} frames)",
        m.dataset,
        m.benchmark,
        report.out.display(),
        m.counts.get("train").unwrap_or(&0),
        m.counts.get("val").unwrap_or(&0),
        m.layout,
        m.frames
    );
    for (why, n) in &m.excluded {
        println!("  excluded {n} file(s): {why}");
    }
    if !m.bad.is_empty() {
        println!(
            "  skipped {} unreadable file(s) (listed in manifest.json):",
            m.bad.len()
        );
        for b in m.bad.iter().take(5) {
            println!("    {}", b.error);
        }
    }
    Ok(())
}

/// `asma data inspect`.
pub fn inspect(a: InspectArgs) -> Result<()> {
    let report = asma_data::inspect::inspect(&a.path)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{report}");
    }
    if report.has_problems() {
        anyhow::bail!("{}: found problems (see above)", a.path.display());
    }
    Ok(())
}
