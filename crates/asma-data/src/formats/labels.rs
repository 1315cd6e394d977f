//! The ST-GCN-lineage label pickle (docs/DATA.md §3a): a pickled `(sample_names, labels)` pair,
//! `train_label.pkl` / `val_label.pkl` beside the `.npy` tensors.
//!
//! Names are kept as written (`S001C001P001R001A001.skeleton`, or a full path for
//! MS-G3D's NTU-120 script); [`stem`] gives the bare sample name. Labels are 0-based.

use std::path::Path;

use crate::atomic::write_atomic;
use crate::error::{DataError, Result};
use crate::formats::pickle::{self, Value};

/// Sample names and their 0-based labels, same order as the data tensor's N axis.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Labels {
    /// Names as stored in the file.
    pub names: Vec<String>,
    /// 0-based action labels.
    pub labels: Vec<usize>,
}

impl Labels {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// True when there is no sample.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The bare sample names ([`stem`] of each name).
    pub fn stems(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(|n| stem(n))
    }
}

/// The base name of `name` without a `.skeleton` extension:
/// `/data/nturgb+d_skeletons/S018C001P008R001A061.skeleton` → `S018C001P008R001A061`.
pub fn stem(name: &str) -> &str {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    base.strip_suffix(".skeleton").unwrap_or(base)
}

/// Reads a label pickle.
pub fn read_labels(path: &Path) -> Result<Labels> {
    labels_from_value(&pickle::load_file(path)?, path)
}

/// Interprets a loaded pickle as `(names, labels)`: a tuple or list of two sequences;
/// names are `str`; labels are Python ints, NumPy integer scalars or a 1-D NumPy integer
/// array, all non-negative. `path` names the file in errors.
pub fn labels_from_value(value: &Value, path: &Path) -> Result<Labels> {
    let bad = |msg: String| DataError::invalid(path, msg);
    let pair = value
        .as_seq()
        .filter(|items| items.len() == 2)
        .ok_or_else(|| {
            bad(format!(
                "a label pickle holds a (names, labels) pair; this one holds a {}{}",
                value.type_name(),
                value
                    .as_seq()
                    .map_or(String::new(), |s| format!(" of {} items", s.len()))
            ))
        })?;
    let names = pair[0]
        .as_seq()
        .ok_or_else(|| {
            bad(format!(
                "label pickle names are a {}, expected a list",
                pair[0].type_name()
            ))
        })?
        .iter()
        .enumerate()
        .map(|(i, n)| {
            n.as_str().map(str::to_owned).ok_or_else(|| {
                bad(format!(
                    "label pickle name {i} is a {}, expected str",
                    n.type_name()
                ))
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let raw = match &pair[1] {
        Value::NdArray(a) if a.shape.len() == 1 || (a.shape.len() == 2 && a.shape[1] == 1) => a
            .to_i64_vec()
            .map_err(|e| bad(format!("label pickle labels: {e}")))?,
        seq => seq
            .as_seq()
            .ok_or_else(|| {
                bad(format!(
                    "label pickle labels are a {}, expected a list of ints",
                    seq.type_name()
                ))
            })?
            .iter()
            .enumerate()
            .map(|(i, l)| {
                l.as_int().ok_or_else(|| {
                    bad(format!("label {i} is a {}, expected an int", l.type_name()))
                })
            })
            .collect::<Result<Vec<_>>>()?,
    };
    if names.len() != raw.len() {
        return Err(bad(format!(
            "label pickle has {} names but {} labels",
            names.len(),
            raw.len()
        )));
    }
    let labels = raw
        .iter()
        .enumerate()
        .map(|(i, &l)| {
            usize::try_from(l).map_err(|_| {
                bad(format!(
                    "label {i} ({}) is {l}; labels cannot be negative",
                    names[i]
                ))
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Labels { names, labels })
}

/// Writes `labels` as a protocol-3 pickle Python reads with `pickle.load`. The file is
/// written beside `path` under a temporary name and renamed, so a reader never sees half
/// a file.
pub fn write_labels(path: &Path, labels: &Labels) -> Result<()> {
    if labels.names.len() != labels.labels.len() {
        return Err(DataError::invalid(
            path,
            format!(
                "cannot write {} names with {} labels",
                labels.names.len(),
                labels.labels.len()
            ),
        ));
    }
    let ints = labels
        .labels
        .iter()
        .map(|&l| i64::try_from(l))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|_| DataError::invalid(path, "label does not fit in a Python int of 64 bits"))?;
    let bytes = pickle::write_labels_pickle(&labels.names, &ints);
    write_atomic(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems() {
        assert_eq!(
            stem("S001C001P001R001A001.skeleton"),
            "S001C001P001R001A001"
        );
        assert_eq!(
            stem("/data/nturgb+d_skeletons/S018C001P008R001A061.skeleton"),
            "S018C001P008R001A061"
        );
        assert_eq!(
            stem(r"C:\ntu\S001C001P001R001A002.skeleton"),
            "S001C001P001R001A002"
        );
        assert_eq!(stem("S001C001P001R001A001"), "S001C001P001R001A001");
    }

    #[test]
    fn write_refuses_mismatched_lengths() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.pkl");
        let labels = Labels {
            names: vec!["a".into()],
            labels: vec![],
        };
        let err = write_labels(&path, &labels).unwrap_err();
        assert_eq!(err.path(), Some(path.as_path()));
        assert!(!path.exists());
    }
}
