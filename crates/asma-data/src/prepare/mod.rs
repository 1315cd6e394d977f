//! `asma data prepare`: raw NTU RGB+D / PKU-MMD files → one packed split folder in the
//! layout AimCLR and PSTL train on:
//!
//! ```text
//! OUT/train_position.npy  (N, 3, 50, 25, 2) float32     (--frames 300: train_data.npy)
//! OUT/train_label.pkl     (names, labels)
//! OUT/val_position.npy, OUT/val_label.pkl
//! OUT/manifest.json       source, options, counts, skipped files, checksums
//! ```
//!
//! Samples are processed on all cores and written into memory-mapped outputs; everything
//! is written under temporary names and renamed at the end, so a failed run leaves the
//! previous outputs untouched. A rerun with unchanged inputs and options does nothing.

pub mod frame50;
pub mod manifest;
mod packed;
mod sources;
pub mod splits;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use asma_skeleton::Sequence;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use packed::PackedWriter;
pub use sources::{list_ntu, list_pku, SampleRef, SourceList, Unit};

use crate::atomic::tmp_path;
use crate::error::{DataError, Result};
use crate::formats::labels::{write_labels, Labels};
use crate::formats::ntu::{read_skeleton, to_sequence, BodyPolicy};
use crate::formats::pku::read_pku_frames;
use crate::prepare::frame50::{centre_crop, frame50, pad_frames, Frame50Options};
use crate::prepare::manifest::{hex, sha256_file, BadInput, Manifest, OutputFile};
use crate::prepare::splits::{Benchmark, Dataset, Part};

/// The longest sequence of the unresized layout.
pub const MAX_FRAMES: usize = 300;

/// Options of one `prepare` run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PrepareOptions {
    pub dataset: Dataset,
    pub benchmark: Benchmark,
    /// NTU: the folder of `.skeleton` files. PKU-MMD: the folder of `<video>.txt` skeletons.
    pub raw: PathBuf,
    pub out: PathBuf,
    /// 50 (AimCLR's frame50 layout; any value but 300 resizes) or 300 (unresized, zero-padded).
    pub frames: usize,
    /// Which bodies fill the two slots.
    pub body_policy: BodyPolicy,
    /// Leave out the official missing-skeleton samples (NTU).
    pub use_missing_list: bool,
    /// Record unreadable inputs in the manifest and go on, instead of stopping.
    pub skip_bad: bool,
    /// PKU-MMD: the folder of label files.
    pub pku_labels: Option<PathBuf>,
    /// PKU-MMD: the split file (`cross-subject.txt`, `cross_subject_v2.txt`, ...).
    pub pku_split: Option<PathBuf>,
    /// Redo the work even when the manifest says the outputs are up to date.
    pub force: bool,
}

impl PrepareOptions {
    /// Defaults for `dataset`/`benchmark` from `raw` to `out`.
    pub fn new(
        dataset: Dataset,
        benchmark: Benchmark,
        raw: impl Into<PathBuf>,
        out: impl Into<PathBuf>,
    ) -> Self {
        PrepareOptions {
            dataset,
            benchmark,
            raw: raw.into(),
            out: out.into(),
            frames: 50,
            body_policy: BodyPolicy::First2,
            use_missing_list: true,
            skip_bad: false,
            pku_labels: None,
            pku_split: None,
            force: false,
        }
    }

    fn layout(&self) -> &'static str {
        if self.frames == MAX_FRAMES {
            "frame300"
        } else {
            "frame50"
        }
    }

    /// Output data file of `part`: AimCLR's names.
    pub fn data_file(&self, part: Part) -> String {
        let kind = if self.frames == MAX_FRAMES {
            "data"
        } else {
            "position"
        };
        format!("{}_{kind}.npy", part.prefix())
    }
}

/// Progress events, for a progress bar.
#[derive(Debug, Clone, Copy)]
pub enum Progress {
    /// `done` of `total` inputs processed.
    Samples { done: usize, total: usize },
    /// Computing checksums of the outputs.
    Checksums,
}

/// What a run did.
#[derive(Debug, Clone, Serialize)]
pub struct PrepareReport {
    /// True when nothing had to be done.
    pub up_to_date: bool,
    pub out: PathBuf,
    pub manifest: Manifest,
}

/// A pool of `threads` workers (all cores when `None`) to run [`prepare`] in: it works on
/// samples in parallel on the rayon pool it is called from.
pub fn worker_pool(threads: Option<usize>) -> Result<rayon::ThreadPool> {
    let mut b = rayon::ThreadPoolBuilder::new();
    if let Some(n) = threads {
        b = b.num_threads(n);
    }
    b.build()
        .map_err(|e| DataError::Config(format!("cannot start worker threads: {e}")))
}

/// Runs the preparation.
pub fn prepare(
    opts: &PrepareOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<PrepareReport> {
    if opts.frames == 0 || opts.frames > MAX_FRAMES {
        return Err(DataError::Config(format!(
            "--frames {} is outside 1..={MAX_FRAMES}",
            opts.frames
        )));
    }
    let list = if opts.dataset.is_ntu() {
        list_ntu(
            &opts.raw,
            opts.dataset,
            opts.benchmark,
            opts.use_missing_list,
        )?
    } else {
        let labels = opts
            .pku_labels
            .as_deref()
            .ok_or_else(|| DataError::Config("PKU-MMD needs --pku-labels DIR".into()))?;
        let split = opts
            .pku_split
            .as_deref()
            .ok_or_else(|| DataError::Config("PKU-MMD needs --pku-split FILE".into()))?;
        if opts.benchmark == Benchmark::Xset {
            return Err(DataError::Config(
                "PKU-MMD has xsub and xview splits (given by --pku-split), not xset".into(),
            ));
        }
        list_pku(&opts.raw, labels, split)?
    };
    let fingerprint = fingerprint(opts, &list)?;
    std::fs::create_dir_all(&opts.out).map_err(|e| DataError::io(&opts.out, e))?;
    if !opts.force {
        if let Some(m) = Manifest::read(&opts.out)? {
            if m.fingerprint == fingerprint && m.outputs_intact(&opts.out) {
                return Ok(PrepareReport {
                    up_to_date: true,
                    out: opts.out.clone(),
                    manifest: m,
                });
            }
        }
    }

    // Row of every sample inside its part's file.
    let mut rows = vec![0usize; list.samples.len()];
    let mut part_sizes: BTreeMap<Part, usize> = BTreeMap::new();
    for (i, s) in list.samples.iter().enumerate() {
        let n = part_sizes.entry(s.part).or_default();
        rows[i] = *n;
        *n += 1;
    }
    let row_shape = [3, opts.frames, 25, 2];
    let parts = [Part::Train, Part::Val];
    let mut writers: Vec<PackedWriter> = Vec::new();
    for part in parts {
        let n = part_sizes.get(&part).copied().unwrap_or(0);
        match PackedWriter::create(&opts.out.join(opts.data_file(part)), n, row_shape) {
            Ok(w) => writers.push(w),
            Err(e) => {
                writers.into_iter().for_each(PackedWriter::abandon);
                return Err(e);
            }
        }
    }
    let outcome = {
        let (train_w, val_w) = writers.split_at_mut(1);
        let sinks = [train_w[0].sink(), val_w[0].sink()];
        let done = AtomicUsize::new(0);
        let total = list.units.len();
        let results: Vec<Vec<SampleOutcome>> = list
            .units
            .par_iter()
            .map(|unit| {
                let out = process_unit(unit, opts).into_iter().map(|(sample, r)| {
                    let r = r.map(|seq| {
                        let s = &list.samples[sample];
                        sinks[(s.part == Part::Val) as usize].write_row(rows[sample], &seq.data);
                    });
                    (sample, r)
                });
                let out: Vec<_> = out.collect();
                let d = done.fetch_add(1, Ordering::Relaxed) + 1;
                if d.is_multiple_of(64) || d == total {
                    progress(Progress::Samples { done: d, total });
                }
                out
            })
            .collect();
        results.into_iter().flatten().collect::<Vec<_>>()
    };
    let mut ok = vec![true; list.samples.len()];
    let mut bad = Vec::new();
    let mut first_error = None;
    for (sample, r) in outcome {
        if let Err((path, e)) = r {
            ok[sample] = false;
            bad.push(BadInput {
                file: path.display().to_string(),
                error: e.to_string(),
            });
            if first_error.as_ref().is_none_or(|(s, _)| *s > sample) {
                first_error = Some((sample, e));
            }
        }
    }
    if let Some((_, e)) = first_error.filter(|_| !opts.skip_bad) {
        writers.into_iter().for_each(PackedWriter::abandon);
        return Err(e);
    }
    bad.sort_by(|a, b| a.file.cmp(&b.file));
    bad.dedup();

    progress(Progress::Checksums);
    let mut manifest = Manifest {
        asma_version: env!("CARGO_PKG_VERSION").to_string(),
        source: opts.raw.display().to_string(),
        dataset: opts.dataset.to_string(),
        benchmark: opts.benchmark.to_string(),
        layout: opts.layout().to_string(),
        frames: opts.frames,
        num_classes: opts.dataset.num_classes(),
        options: options_map(opts),
        fingerprint,
        counts: BTreeMap::new(),
        class_counts: BTreeMap::new(),
        excluded: list.excluded.clone(),
        bad,
        outputs: Vec::new(),
    };
    let mut finished = Vec::new();
    for (part, writer) in parts.into_iter().zip(writers) {
        let keep: Vec<bool> = list
            .samples
            .iter()
            .zip(&ok)
            .filter(|(s, _)| s.part == part)
            .map(|(_, &k)| k)
            .collect();
        let kept: Vec<&SampleRef> = list
            .samples
            .iter()
            .zip(&ok)
            .filter(|(s, &k)| s.part == part && k)
            .map(|(s, _)| s)
            .collect();
        writer.finish(&keep)?;
        let labels = Labels {
            names: kept.iter().map(|s| s.name.clone()).collect(),
            labels: kept.iter().map(|s| s.label).collect(),
        };
        let label_file = format!("{}_label.pkl", part.prefix());
        let label_tmp = tmp_path(&opts.out.join(&label_file));
        write_labels(&label_tmp, &labels)?;
        std::fs::rename(&label_tmp, opts.out.join(&label_file))
            .map_err(|e| DataError::io(opts.out.join(&label_file), e))?;
        manifest
            .counts
            .insert(part.prefix().to_string(), kept.len());
        let mut per_class: BTreeMap<usize, usize> = BTreeMap::new();
        for s in &kept {
            *per_class.entry(s.label).or_default() += 1;
        }
        manifest
            .class_counts
            .insert(part.prefix().to_string(), per_class);
        finished.push(opts.data_file(part));
        finished.push(label_file);
    }
    for file in finished {
        let path = opts.out.join(&file);
        let bytes = std::fs::metadata(&path)
            .map_err(|e| DataError::io(&path, e))?
            .len();
        manifest.outputs.push(OutputFile {
            sha256: sha256_file(&path)?,
            file,
            bytes,
        });
    }
    manifest.write(&opts.out)?;
    Ok(PrepareReport {
        up_to_date: false,
        out: opts.out.clone(),
        manifest,
    })
}

/// A sample index and whether it was written (else the failing file and its error).
type SampleOutcome = (usize, std::result::Result<(), (PathBuf, DataError)>);

type UnitResult = Vec<(usize, std::result::Result<Sequence, (PathBuf, DataError)>)>;

/// Reads one unit and turns each of its samples into the output layout.
fn process_unit(unit: &Unit, opts: &PrepareOptions) -> UnitResult {
    match unit {
        Unit::NtuFile { path, sample } => {
            let seq = read_skeleton(path)
                .and_then(|f| to_sequence(&f, opts.body_policy, MAX_FRAMES, path))
                .and_then(|s| to_layout(s, opts.frames, path));
            vec![(*sample, seq.map_err(|e| (path.clone(), e)))]
        }
        Unit::PkuVideo {
            video,
            skeleton,
            label_file,
            labels,
            samples,
        } => {
            let frames = match read_pku_frames(skeleton) {
                Ok(f) => f,
                Err(e) => {
                    return samples
                        .iter()
                        .map(|&s| (s, Err((skeleton.clone(), clone_err(&e)))))
                        .collect()
                }
            };
            match crate::formats::pku::cut_clips(video, &frames, labels, label_file) {
                Ok(clips) => samples
                    .iter()
                    .zip(clips)
                    .map(|(&s, clip)| {
                        let seq = to_layout(
                            centre_crop(&clip.sequence, MAX_FRAMES),
                            opts.frames,
                            skeleton,
                        );
                        (s, seq.map_err(|e| (skeleton.clone(), e)))
                    })
                    .collect(),
                Err(e) => samples
                    .iter()
                    .map(|&s| (s, Err((label_file.clone(), clone_err(&e)))))
                    .collect(),
            }
        }
    }
}

fn clone_err(e: &DataError) -> DataError {
    match e.path() {
        Some(p) => DataError::invalid(
            p,
            e.to_string()
                .trim_start_matches(&format!("{}: ", p.display()))
                .to_string(),
        ),
        None => DataError::Config(e.to_string()),
    }
}

/// One sequence (≤ 300 frames) → the output layout.
fn to_layout(seq: Sequence, frames: usize, path: &Path) -> Result<Sequence> {
    if frames == MAX_FRAMES {
        return Ok(pad_frames(&seq, MAX_FRAMES));
    }
    let opts = Frame50Options {
        frames,
        ..Default::default()
    };
    frame50(&seq, &opts).map_err(|e| DataError::invalid(path, e.to_string()))
}

fn options_map(opts: &PrepareOptions) -> BTreeMap<String, serde_json::Value> {
    let mut m = BTreeMap::new();
    m.insert(
        "body_policy".into(),
        serde_json::to_value(opts.body_policy).unwrap(),
    );
    m.insert("use_missing_list".into(), opts.use_missing_list.into());
    m.insert("skip_bad".into(), opts.skip_bad.into());
    m.insert("frames".into(), opts.frames.into());
    if let Some(p) = &opts.pku_split {
        m.insert("pku_split".into(), p.display().to_string().into());
    }
    if let Some(p) = &opts.pku_labels {
        m.insert("pku_labels".into(), p.display().to_string().into());
    }
    m
}

/// Hash of the options that shape the output and of every input's name, size and mtime.
fn fingerprint(opts: &PrepareOptions, list: &SourceList) -> Result<String> {
    let mut h = Sha256::new();
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    h.update(format!("{}|{}|", opts.dataset, opts.benchmark).as_bytes());
    h.update(
        serde_json::to_string(&options_map(opts))
            .unwrap()
            .as_bytes(),
    );
    for f in &list.files {
        let meta = std::fs::metadata(f).map_err(|e| DataError::io(f, e))?;
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_nanos());
        h.update(
            format!(
                "{}|{}|{:?}\n",
                f.file_name().unwrap_or_default().to_string_lossy(),
                meta.len(),
                mtime
            )
            .as_bytes(),
        );
    }
    Ok(hex(&h.finalize()))
}
