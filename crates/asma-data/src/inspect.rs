//! `asma data inspect PATH`: what a dataset file or folder is and whether it is sound —
//! detected format, sample counts, classes, frame-length statistics, bodies, NaN/inf.
//!
//! Detection is by content where it can be (the `.npy` magic, the pickle's structure) and
//! by name otherwise. Big arrays are scanned through their memory map in parallel.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use crate::error::{DataError, Result};
use crate::formats::ctrgcn::ctrgcn_split;
use crate::formats::labels::read_labels;
use crate::formats::npy::MmapNpy;
use crate::formats::npz::Npz;
use crate::formats::ntu::{is_missing, read_skeleton, to_sequence, BodyPolicy, NtuName};
use crate::prepare::frame50::valid_length;
use crate::prepare::splits::Part;

/// Statistics of a list of counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    pub min: usize,
    pub max: usize,
    pub mean: f64,
    pub median: usize,
}

impl Stats {
    fn of(values: &[usize]) -> Option<Stats> {
        if values.is_empty() {
            return None;
        }
        let mut v = values.to_vec();
        v.sort_unstable();
        Some(Stats {
            min: v[0],
            max: v[v.len() - 1],
            mean: v.iter().sum::<usize>() as f64 / v.len() as f64,
            median: v[v.len() / 2],
        })
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "min {}, median {}, mean {:.1}, max {}",
            self.min, self.median, self.mean, self.max
        )
    }
}

/// One array (or set of files) inside what was inspected.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Section {
    /// E.g. `train`, `val`, a file name.
    pub name: String,
    /// Array shape, when there is one.
    pub shape: Option<Vec<usize>>,
    pub dtype: Option<String>,
    pub samples: usize,
    /// Samples per 0-based class.
    pub classes: BTreeMap<usize, usize>,
    /// Frames per sample in which body 0 is present (J1 non-zero), or the file's frame count.
    pub frames: Option<Stats>,
    /// Samples whose second body is present in some frame.
    pub two_body_samples: usize,
    /// Non-finite values found.
    pub non_finite: usize,
    /// Free-form facts.
    pub notes: Vec<String>,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub path: PathBuf,
    /// The detected format.
    pub format: String,
    pub sections: Vec<Section>,
    /// Problems found (unreadable files, NaN, mismatched counts, ...).
    pub problems: Vec<String>,
}

impl Report {
    /// True when something is wrong with the data.
    pub fn has_problems(&self) -> bool {
        !self.problems.is_empty()
    }
}

fn shape_text(s: &[usize]) -> String {
    format!(
        "({})",
        s.iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join(",")
    )
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}: {}", self.path.display(), self.format)?;
        for s in &self.sections {
            write!(f, "  {}: {} samples", s.name, s.samples)?;
            if let Some(shape) = &s.shape {
                write!(f, ", shape {}", shape_text(shape))?;
                if shape.len() == 5 {
                    write!(
                        f,
                        " = (N,{},{},{},{})",
                        shape[1], shape[2], shape[3], shape[4]
                    )?;
                }
            }
            if let Some(d) = &s.dtype {
                write!(f, " {d}")?;
            }
            writeln!(f)?;
            if !s.classes.is_empty() {
                let (lo, hi) = (
                    s.classes.keys().next().unwrap(),
                    s.classes.keys().last().unwrap(),
                );
                let counts: Vec<usize> = s.classes.values().copied().collect();
                let st = Stats::of(&counts).unwrap();
                writeln!(
                    f,
                    "    classes: {} present (labels {lo}..={hi}), {} to {} samples each",
                    s.classes.len(),
                    st.min,
                    st.max
                )?;
            }
            if let Some(fr) = &s.frames {
                writeln!(f, "    frames: {fr}")?;
            }
            // Body and value facts exist only where coordinates were read.
            if s.frames.is_some() {
                writeln!(
                    f,
                    "    two bodies: {} of {} samples",
                    s.two_body_samples, s.samples
                )?;
                writeln!(f, "    non-finite values: {}", s.non_finite)?;
            }
            for n in &s.notes {
                writeln!(f, "    {n}")?;
            }
        }
        if self.problems.is_empty() {
            writeln!(f, "  no problems found")?;
        } else {
            writeln!(f, "  problems:")?;
            for p in &self.problems {
                writeln!(f, "    {p}")?;
            }
        }
        Ok(())
    }
}

/// Inspects a file or folder.
pub fn inspect(path: &Path) -> Result<Report> {
    let meta = std::fs::metadata(path).map_err(|e| DataError::io(path, e))?;
    if meta.is_dir() {
        return inspect_dir(path);
    }
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "npy" => inspect_npy(path),
        "npz" => inspect_npz(path),
        "pkl" | "pickle" => inspect_pickle(path),
        "skeleton" => {
            inspect_skeleton_files(path, &[path.to_path_buf()], "NTU RGB+D .skeleton file")
        }
        "txt" => inspect_pku_txt(path),
        _ => Err(DataError::invalid(
            path,
            "unknown kind of file (expected .skeleton, .npy, .npz, .pkl, PKU-MMD .txt or a folder)",
        )),
    }
}

fn inspect_dir(dir: &Path) -> Result<Report> {
    let mut prepared = Vec::new();
    for part in [Part::Train, Part::Val] {
        let p = part.prefix();
        for kind in ["position", "data"] {
            let data = dir.join(format!("{p}_{kind}.npy"));
            if data.exists() {
                prepared.push((part, data, dir.join(format!("{p}_label.pkl"))));
                break;
            }
        }
    }
    if !prepared.is_empty() {
        let mut report = Report {
            path: dir.to_path_buf(),
            format: "prepared split folder (AimCLR/PSTL .npy + label .pkl)".into(),
            sections: vec![],
            problems: vec![],
        };
        if let Ok(Some(m)) = crate::prepare::manifest::Manifest::read(dir) {
            report.format = format!(
                "prepared split folder: {} {} {} (asma manifest)",
                m.dataset, m.benchmark, m.layout
            );
        }
        for (part, data, labels) in prepared {
            let mut section = array_section(part.prefix(), &data, &mut report.problems)?;
            if labels.exists() {
                match read_labels(&labels) {
                    Ok(l) => {
                        if l.labels.len() != section.samples {
                            report.problems.push(format!(
                                "{}: {} labels for {} samples in {}",
                                labels.display(),
                                l.labels.len(),
                                section.samples,
                                data.display()
                            ));
                        }
                        for &c in &l.labels {
                            *section.classes.entry(c).or_default() += 1;
                        }
                    }
                    Err(e) => report.problems.push(e.to_string()),
                }
            } else {
                report.problems.push(format!(
                    "{}: missing (labels of {})",
                    labels.display(),
                    data.display()
                ));
            }
            report.sections.push(section);
        }
        return Ok(report);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| DataError::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "skeleton"))
        .collect();
    files.sort();
    if !files.is_empty() {
        return inspect_skeleton_files(dir, &files, "folder of NTU RGB+D .skeleton files");
    }
    Err(DataError::invalid(
        dir,
        "no prepared split (train_position.npy, ...) and no .skeleton files in this folder",
    ))
}

/// Shape, dtype, NaN/inf, lengths and two-body count of a `(N, 3, T, 25, M)` array.
fn array_section(name: &str, data: &Path, problems: &mut Vec<String>) -> Result<Section> {
    let arr = MmapNpy::open(data)?;
    let mut section = Section {
        name: name.to_string(),
        shape: Some(arr.shape().to_vec()),
        dtype: Some(arr.dtype().to_string()),
        samples: arr.shape().first().copied().unwrap_or(0),
        ..Default::default()
    };
    if let Err(e) = arr.check_skeleton() {
        problems.push(e.to_string());
        return Ok(section);
    }
    let per_sample: Vec<Result<(usize, usize, bool)>> = (0..arr.len())
        .into_par_iter()
        .map(|i| {
            let seq = arr.sequence(i)?;
            let non_finite = seq.data.iter().filter(|v| !v.is_finite()).count();
            let two = seq.bodies > 1 && (0..seq.frames).any(|t| !seq.body_is_empty(t, 1));
            Ok((valid_length(&seq), non_finite, two))
        })
        .collect();
    let mut lengths = Vec::with_capacity(per_sample.len());
    for (i, r) in per_sample.into_iter().enumerate() {
        let (len, nf, two) = r?;
        lengths.push(len);
        section.non_finite += nf;
        section.two_body_samples += two as usize;
        if nf > 0 && problems.len() < 20 {
            problems.push(format!(
                "{}: sample {i} holds {nf} non-finite values",
                data.display()
            ));
        }
    }
    section.frames = Stats::of(&lengths);
    if lengths.contains(&0) {
        let empty = lengths.iter().filter(|&&l| l == 0).count();
        problems.push(format!(
            "{}: {empty} sample(s) have no frame with body 0 present",
            data.display()
        ));
    }
    Ok(section)
}

fn inspect_npy(path: &Path) -> Result<Report> {
    let mut problems = Vec::new();
    let arr = MmapNpy::open(path)?;
    let section = if arr.shape().len() == 5 {
        array_section(&file_name(path), path, &mut problems)?
    } else {
        Section {
            name: file_name(path),
            shape: Some(arr.shape().to_vec()),
            dtype: Some(arr.dtype().to_string()),
            samples: arr.shape().first().copied().unwrap_or(0),
            notes: vec!["not a (N, 3, T, 25, M) skeleton array".into()],
            ..Default::default()
        }
    };
    Ok(Report {
        path: path.to_path_buf(),
        format: "NumPy .npy array".into(),
        sections: vec![section],
        problems,
    })
}

fn inspect_npz(path: &Path) -> Result<Report> {
    let npz = Npz::open(path)?;
    let keys: Vec<String> = npz.keys().iter().map(|k| k.to_string()).collect();
    let mut report = Report {
        path: path.to_path_buf(),
        format: format!("NumPy .npz archive (keys: {})", keys.join(", ")),
        sections: vec![],
        problems: vec![],
    };
    for part in [Part::Train, Part::Val] {
        let Ok(split) = ctrgcn_split(&npz, part) else {
            continue;
        };
        report.format = "CTR-GCN .npz (x_* (N, T, 150), y_* one-hot)".into();
        let mut s = Section {
            name: part.prefix().into(),
            samples: split.len(),
            ..Default::default()
        };
        s.shape = Some(vec![split.len(), split.frames(), 150]);
        let mut lengths = Vec::new();
        for i in 0..split.len() {
            match split.label(i) {
                Ok(l) => *s.classes.entry(l).or_default() += 1,
                Err(e) => report.problems.push(e.to_string()),
            }
            match split.sample(i) {
                Ok(seq) => {
                    lengths.push(
                        (0..seq.frames)
                            .filter(|&t| !seq.body_is_empty(t, 0))
                            .count(),
                    );
                    s.two_body_samples +=
                        (0..seq.frames).any(|t| !seq.body_is_empty(t, 1)) as usize;
                }
                Err(e) => {
                    s.non_finite += 1;
                    report.problems.push(e.to_string());
                }
            }
        }
        s.frames = Stats::of(&lengths);
        report.sections.push(s);
    }
    if report.sections.is_empty() {
        for k in &keys {
            let a = npz.array(k)?;
            report.sections.push(Section {
                name: k.clone(),
                shape: Some(a.shape().to_vec()),
                dtype: Some(a.dtype().to_string()),
                samples: a.shape().first().copied().unwrap_or(0),
                ..Default::default()
            });
        }
    }
    Ok(report)
}

fn inspect_pickle(path: &Path) -> Result<Report> {
    if let Ok(l) = read_labels(path) {
        let mut s = Section {
            name: file_name(path),
            samples: l.labels.len(),
            ..Default::default()
        };
        for &c in &l.labels {
            *s.classes.entry(c).or_default() += 1;
        }
        if let Some(first) = l.names.first() {
            s.notes.push(format!("first sample: {first}"));
        }
        return Ok(Report {
            path: path.to_path_buf(),
            format: "label pickle (names, labels)".into(),
            sections: vec![s],
            problems: vec![],
        });
    }
    let file = crate::formats::pyskl::read_pyskl(path)?;
    let mut report = Report {
        path: path.to_path_buf(),
        format: "pyskl / mmaction2 3-D annotation pickle".into(),
        sections: vec![],
        problems: vec![],
    };
    let mut all = Section {
        name: "annotations".into(),
        samples: file.samples.len(),
        ..Default::default()
    };
    let mut lengths = Vec::new();
    for s in &file.samples {
        *all.classes.entry(s.label).or_default() += 1;
        lengths.push(s.sequence.frames);
        all.two_body_samples +=
            (0..s.sequence.frames).any(|t| !s.sequence.body_is_empty(t, 1)) as usize;
        let nf = s.sequence.data.iter().filter(|v| !v.is_finite()).count();
        all.non_finite += nf;
        if nf > 0 {
            report.problems.push(format!(
                "{}: sample {} holds {nf} non-finite values",
                path.display(),
                s.name
            ));
        }
    }
    all.frames = Stats::of(&lengths);
    for (k, ids) in &file.splits {
        all.notes.push(format!("split {k}: {} samples", ids.len()));
    }
    report.sections.push(all);
    Ok(report)
}

fn inspect_pku_txt(path: &Path) -> Result<Report> {
    let frames = crate::formats::pku::read_pku_frames(path)?;
    let two = frames
        .iter()
        .filter(|f| f[75..].iter().any(|&v| v != 0.0))
        .count();
    let s = Section {
        name: file_name(path),
        samples: 1,
        frames: Stats::of(&[frames.len()]),
        notes: vec![format!(
            "{two} of {} frames have a second body",
            frames.len()
        )],
        ..Default::default()
    };
    Ok(Report {
        path: path.to_path_buf(),
        format: "PKU-MMD skeleton file (150 values per frame)".into(),
        sections: vec![s],
        problems: vec![],
    })
}

/// Frames, most bodies in a frame, second body present, frames without a body.
type FileFacts = (usize, usize, bool, usize);

fn inspect_skeleton_files(path: &Path, files: &[PathBuf], format: &str) -> Result<Report> {
    let results: Vec<(PathBuf, Result<FileFacts>)> = files
        .par_iter()
        .map(|f| {
            let r = read_skeleton(f).and_then(|s| {
                let seq = to_sequence(&s, BodyPolicy::First2, usize::MAX, f)?;
                let two = (0..seq.frames).any(|t| !seq.body_is_empty(t, 1));
                let empty = s.frames.iter().filter(|fr| fr.bodies.is_empty()).count();
                Ok((seq.frames, s.max_bodies(), two, empty))
            });
            (f.clone(), r)
        })
        .collect();
    let mut s = Section {
        name: "files".into(),
        samples: files.len(),
        ..Default::default()
    };
    let mut problems = Vec::new();
    let (mut lengths, mut max_bodies, mut empty_frames, mut missing, mut unnamed, mut over300) =
        (vec![], 0, 0, 0, 0, 0);
    for (f, r) in results {
        let stem = f.file_stem().and_then(|x| x.to_str()).unwrap_or("");
        match stem.parse::<NtuName>() {
            Ok(n) => *s.classes.entry(n.label()).or_default() += 1,
            Err(_) => unnamed += 1,
        }
        missing += is_missing(stem) as usize;
        match r {
            Ok((len, mb, two, empty)) => {
                lengths.push(len);
                max_bodies = max_bodies.max(mb);
                s.two_body_samples += two as usize;
                empty_frames += empty;
                over300 += (len > 300) as usize;
            }
            Err(e) => problems.push(e.to_string()),
        }
    }
    s.frames = Stats::of(&lengths);
    s.notes.push(format!(
        "most bodies in one frame: {max_bodies}; frames with no body: {empty_frames}"
    ));
    if missing > 0 {
        s.notes.push(format!(
            "{missing} file(s) on the official missing-skeleton list (prepare skips them)"
        ));
    }
    if unnamed > 0 {
        s.notes
            .push(format!("{unnamed} file(s) not named SsssCcccPpppRrrrAaaa"));
    }
    if over300 > 0 {
        problems.push(format!("{over300} file(s) have more than 300 frames"));
    }
    Ok(Report {
        path: path.to_path_buf(),
        format: format.into(),
        sections: vec![s],
        problems,
    })
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default()
}
