//! What `prepare` reads: the list of samples of one dataset and benchmark, each with its
//! name, label and part, grouped into units of work (one `.skeleton` file, or one PKU-MMD
//! video with all its labelled clips).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{DataError, Result};
use crate::formats::ntu::{is_missing, NtuName};
use crate::formats::pku::{read_pku_labels, read_pku_split, PkuLabel};
use crate::prepare::splits::{ntu_is_train, Benchmark, Dataset, Part};

/// One output sample.
#[derive(Debug, Clone)]
pub struct SampleRef {
    /// Name as stored in the label pickle (with `.skeleton`, as AimCLR writes it).
    pub name: String,
    /// 0-based label.
    pub label: usize,
    pub part: Part,
}

/// A unit of work: the files it reads and the samples it yields.
#[derive(Debug, Clone)]
pub enum Unit {
    /// One NTU `.skeleton` file → sample `sample`.
    NtuFile { path: PathBuf, sample: usize },
    /// One PKU-MMD video → one sample per label row (`samples[i]` for `labels[i]`).
    PkuVideo {
        video: String,
        skeleton: PathBuf,
        label_file: PathBuf,
        labels: Vec<PkuLabel>,
        samples: Vec<usize>,
    },
}

/// Everything `prepare` will read.
#[derive(Debug, Default)]
pub struct SourceList {
    pub samples: Vec<SampleRef>,
    pub units: Vec<Unit>,
    /// Files left out on purpose, by reason.
    pub excluded: BTreeMap<String, usize>,
    /// Every input file (for the fingerprint).
    pub files: Vec<PathBuf>,
}

fn sorted_dir(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| DataError::io(dir, e))?
        .map(|e| e.map(|e| e.path()).map_err(|err| DataError::io(dir, err)))
        .collect::<Result<_>>()?;
    entries.sort();
    Ok(entries)
}

/// Lists an NTU folder of `.skeleton` files, sorted by name (AimCLR's order), without the
/// official missing-skeleton samples when `use_missing_list`.
pub fn list_ntu(
    raw: &Path,
    dataset: Dataset,
    benchmark: Benchmark,
    use_missing_list: bool,
) -> Result<SourceList> {
    if !dataset.benchmarks().contains(&benchmark) {
        return Err(DataError::Config(format!(
            "benchmark {benchmark} is not defined for {dataset}"
        )));
    }
    let mut list = SourceList::default();
    for path in sorted_dir(raw)? {
        let file_name = path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Some(stem) = file_name.strip_suffix(".skeleton") else {
            *list.excluded.entry("not_a_sample".into()).or_default() += 1;
            continue;
        };
        let Ok(name) = stem.parse::<NtuName>() else {
            *list.excluded.entry("not_a_sample".into()).or_default() += 1;
            continue;
        };
        if !dataset.contains_ntu(&name) {
            *list.excluded.entry("other_dataset".into()).or_default() += 1;
            continue;
        }
        if use_missing_list && is_missing(stem) {
            *list.excluded.entry("missing_list".into()).or_default() += 1;
            continue;
        }
        let train = ntu_is_train(dataset, benchmark, &name).expect("benchmark checked above");
        let sample = list.samples.len();
        list.samples.push(SampleRef {
            name: file_name,
            label: name.label(),
            part: if train { Part::Train } else { Part::Val },
        });
        list.files.push(path.clone());
        list.units.push(Unit::NtuFile { path, sample });
    }
    if list.samples.is_empty() {
        return Err(DataError::invalid(
            raw,
            format!("no {dataset} .skeleton files (SsssCcccPpppRrrrAaaa.skeleton) in this folder"),
        ));
    }
    Ok(list)
}

/// Lists PKU-MMD videos: `<raw>/<video>.txt` skeletons, `<labels>/<video>.txt` label rows
/// and the 4-line split file. Videos without a label file are left out (as AimCLR does).
pub fn list_pku(raw: &Path, labels_dir: &Path, split_file: &Path) -> Result<SourceList> {
    let split = read_pku_split(split_file)?;
    let mut list = SourceList {
        files: vec![split_file.to_path_buf()],
        ..Default::default()
    };
    let mut clips: Vec<(String, usize, Part, usize, usize)> = Vec::new(); // name, label, part, unit, row
    for path in sorted_dir(raw)? {
        let Some(video) = path
            .file_name()
            .and_then(|f| f.to_str())
            .and_then(|f| f.strip_suffix(".txt"))
            .map(String::from)
        else {
            *list.excluded.entry("not_a_sample".into()).or_default() += 1;
            continue;
        };
        let label_file = labels_dir.join(format!("{video}.txt"));
        if !label_file.exists() {
            *list.excluded.entry("no_label_file".into()).or_default() += 1;
            continue;
        }
        let labels = read_pku_labels(&label_file)?;
        let part = if split.is_train(&video) {
            Part::Train
        } else {
            Part::Val
        };
        let unit = list.units.len();
        for (row, l) in labels.iter().enumerate() {
            let name =
                crate::formats::pku::clip_name(&video, l.action, row + 1).ok_or_else(|| {
                    DataError::invalid(
                        &path,
                        format!("'{video}' is not a PKU-MMD video id (e.g. 0002-L or A01N01-L)"),
                    )
                })?;
            clips.push((
                format!("{name}.skeleton"),
                l.action as usize - 1,
                part,
                unit,
                row,
            ));
        }
        list.files.push(path.clone());
        list.files.push(label_file.clone());
        list.units.push(Unit::PkuVideo {
            video,
            skeleton: path,
            label_file,
            labels,
            samples: Vec::new(),
        });
    }
    // Samples sorted by clip name, so the output order does not depend on the file system.
    clips.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, label, part, unit, row) in clips {
        let sample = list.samples.len();
        list.samples.push(SampleRef { name, label, part });
        if let Unit::PkuVideo {
            samples, labels, ..
        } = &mut list.units[unit]
        {
            if samples.len() < labels.len() {
                samples.resize(labels.len(), usize::MAX);
            }
            samples[row] = sample;
        }
    }
    if list.samples.is_empty() {
        return Err(DataError::invalid(
            raw,
            "no PKU-MMD skeleton files with label rows in this folder",
        ));
    }
    Ok(list)
}
