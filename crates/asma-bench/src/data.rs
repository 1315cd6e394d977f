//! `asma bench data`: `.skeleton` parse throughput and `prepare` samples/s, with the NumPy
//! reference reader (`tools/reference/ntu_reader_reference.py`) timed on the same files in
//! the same run.

use std::path::{Path, PathBuf};
use std::time::Instant;

use asma_data::formats::ntu::{is_missing, parse_skeleton, to_sequence, BodyPolicy};
use asma_data::prepare::splits::{Benchmark, Dataset};
use asma_data::prepare::{self, PrepareOptions};
use rayon::prelude::*;
use serde::Serialize;

use crate::error::{BenchError, Result};
use crate::reference::run_reference;

/// What to measure.
#[derive(Debug, Clone, Default)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct DataOptions {
    /// Folder of `.skeleton` files to measure (default: a synthetic set written to a temp dir).
    #[cfg_attr(feature = "clap", arg(long))]
    pub raw: Option<PathBuf>,
    /// Also time the NumPy reference reader (`tools/reference/ntu_reader_reference.py`) with
    /// this Python interpreter.
    #[cfg_attr(feature = "clap", arg(long))]
    pub python: Option<String>,
    /// Worker threads for the prepare measurement (default: all cores).
    #[cfg_attr(feature = "clap", arg(long))]
    pub threads: Option<usize>,
}

/// The figures, asma's and the reference's.
#[derive(Debug, Clone, Serialize)]
pub struct DataBench {
    pub files: usize,
    pub megabytes: f64,
    pub asma_parse_mb_s_1_thread: f64,
    pub asma_parse_mb_s_all_threads: f64,
    pub asma_prepare_samples_s: f64,
    pub asma_prepare_samples_s_1_thread: f64,
    pub threads: usize,
    pub reference_parse_mb_s: Option<f64>,
    pub reference_prepare_samples_s: Option<f64>,
    pub parse_speedup_1_thread: Option<f64>,
    pub prepare_speedup: Option<f64>,
}

/// The `.skeleton` files of `raw` that hold bodies (the official missing-skeleton samples hold
/// none: neither side can prepare them), sorted.
fn skeleton_files(raw: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(raw)
        .map_err(|e| BenchError::io(raw, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "skeleton"))
        .filter(|p| {
            !p.file_stem()
                .and_then(|s| s.to_str())
                .is_some_and(is_missing)
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(BenchError::Options(format!(
            "{}: no .skeleton files to measure",
            raw.display()
        )));
    }
    Ok(files)
}

fn parse_one(f: &Path) -> Result<()> {
    let data = std::fs::read(f).map_err(|e| BenchError::io(f, e))?;
    let s = parse_skeleton(&data, f)?;
    std::hint::black_box(to_sequence(&s, BodyPolicy::First2, usize::MAX, f)?);
    Ok(())
}

/// Measures; `note` hears what is being done (a synthetic set written, the reference run).
pub fn data(o: &DataOptions, note: &dyn Fn(&str)) -> Result<DataBench> {
    let tmp = tempfile::tempdir().map_err(|e| BenchError::io(std::env::temp_dir(), e))?;
    let raw = match &o.raw {
        Some(r) => r.clone(),
        None => {
            let dir = tmp.path().join("synth");
            note("writing the default synthetic dataset to a temporary folder");
            asma_synth::generate(&asma_synth::SynthConfig::default(), &dir, &|_, _| {})?;
            dir
        }
    };
    let files = skeleton_files(&raw)?;
    let bytes: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
        .sum();
    let mb = bytes as f64 / 1e6;
    let pool = prepare::worker_pool(o.threads)?;
    let threads = pool.current_num_threads();

    // Best of three single-thread passes: the figure is the parser's, not the noise's.
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let t = Instant::now();
        for f in &files {
            parse_one(f)?;
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    let one = mb / best;
    let t = Instant::now();
    pool.install(|| files.par_iter().try_for_each(|f| parse_one(f)))?;
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
    let t = Instant::now();
    prepare::worker_pool(Some(1))?.install(|| prepare::prepare(&opts, &|_| {}))?;
    let prep_one = samples as f64 / t.elapsed().as_secs_f64();

    let (mut ref_parse, mut ref_prep) = (None, None);
    if let Some(py) = &o.python {
        let list = tmp.path().join("files.txt");
        let text: String = files.iter().map(|f| format!("{}\n", f.display())).collect();
        std::fs::write(&list, text).map_err(|e| BenchError::io(&list, e))?;
        note(&format!(
            "timing the NumPy reference ({py} ntu_reader_reference.py)"
        ));
        let v = run_reference(
            py,
            "ntu_reader_reference.py",
            &["--bench".into(), list.display().to_string()],
            None,
        )?;
        ref_parse = v["parse_seconds"].as_f64().map(|s| mb / s);
        ref_prep = v["prepare_seconds"]
            .as_f64()
            .map(|s| files.len() as f64 / s);
    }
    Ok(DataBench {
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
    })
}

impl DataBench {
    /// The figures as a Markdown table.
    pub fn markdown(&self) -> String {
        let opt = |v: Option<f64>| v.map(|x| format!("{x:.1}")).unwrap_or_else(|| "-".into());
        let t = self.threads;
        [
            format!("{} files, {:.1} MB", self.files, self.megabytes),
            "| metric | asma | NumPy reference | ratio |".into(),
            "|---|---|---|---|".into(),
            format!(
                "| parse MB/s, 1 thread | {:.1} | {} | {} |",
                self.asma_parse_mb_s_1_thread,
                opt(self.reference_parse_mb_s),
                opt(self.parse_speedup_1_thread)
            ),
            format!(
                "| parse MB/s, {t} threads | {:.1} | - | - |",
                self.asma_parse_mb_s_all_threads
            ),
            format!(
                "| prepare samples/s, 1 thread | {:.1} | {} | {} |",
                self.asma_prepare_samples_s_1_thread,
                opt(self.reference_prepare_samples_s),
                opt(self.prepare_speedup)
            ),
            format!(
                "| prepare samples/s, {t} threads | {:.1} | - | - |",
                self.asma_prepare_samples_s
            ),
        ]
        .join("\n")
            + "\n"
    }
}
