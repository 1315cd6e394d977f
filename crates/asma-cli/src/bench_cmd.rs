//! `asma bench data`: `.skeleton` parse throughput and `prepare` samples/s, with the NumPy
//! reference reader timed on the same files in the same run.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use asma_data::ntu::{parse_skeleton, to_sequence, BodyPolicy};
use asma_data::prepare::{self, PrepareOptions};
use asma_data::splits::{Benchmark, Dataset};
use serde::Serialize;

use crate::BenchDataArgs;

#[derive(Serialize)]
struct DataBench {
    files: usize,
    megabytes: f64,
    asma_parse_mb_s_1_thread: f64,
    asma_parse_mb_s_all_threads: f64,
    asma_prepare_samples_s: f64,
    asma_prepare_samples_s_1_thread: f64,
    threads: usize,
    reference_parse_mb_s: Option<f64>,
    reference_prepare_samples_s: Option<f64>,
    parse_speedup_1_thread: Option<f64>,
    prepare_speedup: Option<f64>,
}

/// `asma bench data`.
pub fn data(a: BenchDataArgs) -> Result<()> {
    let tmp = tempfile::tempdir().context("creating a temporary folder")?;
    let raw = match &a.raw {
        Some(r) => r.clone(),
        None => {
            let dir = tmp.path().join("synth");
            let cfg = asma_data::synth::SynthConfig::default();
            eprintln!("bench: writing the default synthetic dataset to a temporary folder");
            asma_data::synth::generate(&cfg, &dir, &|_, _| {})?;
            dir
        }
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&raw)
        .with_context(|| format!("listing {}", raw.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "skeleton"))
        // The official missing-skeleton samples hold no bodies: neither side can prepare them.
        .filter(|p| {
            !p.file_stem()
                .and_then(|s| s.to_str())
                .is_some_and(asma_data::ntu::is_missing)
        })
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("{}: no .skeleton files to measure", raw.display());
    }
    let bytes: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
        .sum();
    let mb = bytes as f64 / 1e6;
    let pool = crate::data_cmd::rayon_pool(a.threads)?;
    let threads = pool.current_num_threads();

    let parse_all = |f: &Path| -> Result<()> {
        let data = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
        let s = parse_skeleton(&data, f)?;
        std::hint::black_box(to_sequence(&s, BodyPolicy::First2, usize::MAX, f)?);
        Ok(())
    };
    // Best of three single-thread passes: the figure is the parser's, not the noise's.
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let t = Instant::now();
        for f in &files {
            parse_all(f)?;
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    let one = mb / best;
    let t = Instant::now();
    pool.install(|| {
        use rayon::prelude::*;
        files.par_iter().try_for_each(|f| parse_all(f))
    })?;
    let all = mb / t.elapsed().as_secs_f64();

    let mut opts = PrepareOptions::new(
        Dataset::Ntu120,
        Benchmark::Xsub,
        &raw,
        tmp.path().join("prepared"),
    );
    opts.force = true;
    let t = Instant::now();
    let report = pool.install(|| prepare::prepare(&opts, &|_| {}))?;
    let samples: usize = report.manifest.counts.values().sum();
    let prep = samples as f64 / t.elapsed().as_secs_f64();
    let single = crate::data_cmd::rayon_pool(Some(1))?;
    let t = Instant::now();
    single.install(|| prepare::prepare(&opts, &|_| {}))?;
    let prep_one = samples as f64 / t.elapsed().as_secs_f64();

    let (mut ref_parse, mut ref_prep) = (None, None);
    if let Some(py) = &a.python {
        let list = tmp.path().join("files.txt");
        std::fs::write(
            &list,
            files
                .iter()
                .map(|f| format!("{}\n", f.display()))
                .collect::<String>(),
        )?;
        let script = reference_script()?;
        eprintln!(
            "bench: timing the NumPy reference ({} {})",
            py,
            script.display()
        );
        let out = std::process::Command::new(py)
            .arg(&script)
            .arg("--bench")
            .arg(&list)
            .output()
            .with_context(|| format!("running {py}"))?;
        if !out.status.success() {
            bail!(
                "the reference reader failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let v: serde_json::Value =
            serde_json::from_slice(&out.stdout).context("reading the reference's JSON")?;
        ref_parse = v["parse_seconds"].as_f64().map(|s| mb / s);
        ref_prep = v["prepare_seconds"]
            .as_f64()
            .map(|s| files.len() as f64 / s);
    }
    let r = DataBench {
        files: files.len(),
        megabytes: mb,
        asma_parse_mb_s_1_thread: one,
        asma_parse_mb_s_all_threads: all,
        asma_prepare_samples_s: prep,
        asma_prepare_samples_s_1_thread: prep_one,
        threads,
        reference_parse_mb_s: ref_parse,
        reference_prepare_samples_s: ref_prep,
        parse_speedup_1_thread: ref_parse.map(|r| one / r),
        prepare_speedup: ref_prep.map(|r| prep_one / r),
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(());
    }
    let opt = |v: Option<f64>| v.map(|x| format!("{x:.1}")).unwrap_or_else(|| "-".into());
    println!("{} files, {:.1} MB", r.files, r.megabytes);
    println!("| metric | asma | NumPy reference | ratio |");
    println!("|---|---|---|---|");
    println!(
        "| parse MB/s, 1 thread | {:.1} | {} | {} |",
        one,
        opt(ref_parse),
        opt(r.parse_speedup_1_thread)
    );
    println!("| parse MB/s, {threads} threads | {:.1} | - | - |", all);
    println!(
        "| prepare samples/s, 1 thread | {:.1} | {} | {} |",
        prep_one,
        opt(ref_prep),
        opt(r.prepare_speedup)
    );
    println!(
        "| prepare samples/s, {threads} threads | {:.1} | - | - |",
        prep
    );
    Ok(())
}

/// `tools/reference/ntu_reader_reference.py`, from `ASMA_REFERENCE_DIR`, the working
/// directory, or the source tree this binary was built from.
fn reference_script() -> Result<PathBuf> {
    const NAME: &str = "ntu_reader_reference.py";
    let candidates = [
        std::env::var_os("ASMA_REFERENCE_DIR").map(|d| PathBuf::from(d).join(NAME)),
        Some(PathBuf::from("tools/reference").join(NAME)),
        Some(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../tools/reference")
                .join(NAME),
        ),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|p| p.exists())
        .context("tools/reference/ntu_reader_reference.py not found (set ASMA_REFERENCE_DIR)")
}
