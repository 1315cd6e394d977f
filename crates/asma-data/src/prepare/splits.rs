//! The standard evaluation splits (docs/DATA.md §2, docs/METHOD.md §1).

use serde::{Deserialize, Serialize};

use crate::formats::ntu::NtuName;

/// NTU-60 cross-subject training performers.
pub const NTU60_XSUB_TRAIN: [u16; 20] = [
    1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38,
];

/// NTU-120 cross-subject training performers (the first 20 are NTU-60's).
pub const NTU120_XSUB_TRAIN: [u16; 53] = [
    1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38, 45, 46, 47, 49, 50,
    52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78, 80, 81, 82, 83, 84, 85, 86, 89, 91, 92, 93, 94, 95,
    97, 98, 100, 103,
];

/// NTU-60 cross-view training cameras.
pub const NTU60_XVIEW_TRAIN_CAMERAS: [u16; 2] = [2, 3];

/// A dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dataset {
    /// NTU RGB+D 60: setups 1–17, actions 1–60.
    Ntu60,
    /// NTU RGB+D 120: setups 1–32, actions 1–120.
    Ntu120,
    /// PKU-MMD Part I (51 classes).
    Pku1,
    /// PKU-MMD Part II (51 classes).
    Pku2,
}

impl Dataset {
    /// Number of classes.
    pub fn num_classes(self) -> usize {
        match self {
            Dataset::Ntu60 => 60,
            Dataset::Ntu120 => 120,
            Dataset::Pku1 | Dataset::Pku2 => 51,
        }
    }

    /// Benchmarks defined for this dataset.
    pub fn benchmarks(self) -> &'static [Benchmark] {
        match self {
            Dataset::Ntu60 => &[Benchmark::Xsub, Benchmark::Xview],
            Dataset::Ntu120 => &[Benchmark::Xsub, Benchmark::Xset],
            Dataset::Pku1 | Dataset::Pku2 => &[Benchmark::Xsub, Benchmark::Xview],
        }
    }

    /// True for the NTU datasets.
    pub fn is_ntu(self) -> bool {
        matches!(self, Dataset::Ntu60 | Dataset::Ntu120)
    }

    /// Whether an NTU sample belongs to this dataset (NTU-60 = setups ≤ 17 = actions ≤ 60).
    pub fn contains_ntu(self, name: &NtuName) -> bool {
        match self {
            Dataset::Ntu60 => name.setup <= 17 && name.action <= 60,
            Dataset::Ntu120 => name.setup <= 32 && name.action <= 120,
            Dataset::Pku1 | Dataset::Pku2 => false,
        }
    }
}

impl std::str::FromStr for Dataset {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "ntu60" => Ok(Dataset::Ntu60),
            "ntu120" => Ok(Dataset::Ntu120),
            "pku1" | "pku-i" | "pkummd1" => Ok(Dataset::Pku1),
            "pku2" | "pku-ii" | "pkummd2" => Ok(Dataset::Pku2),
            _ => Err(format!(
                "unknown dataset '{s}' (expected ntu60, ntu120, pku1 or pku2)"
            )),
        }
    }
}

impl std::fmt::Display for Dataset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Dataset::Ntu60 => "ntu60",
            Dataset::Ntu120 => "ntu120",
            Dataset::Pku1 => "pku1",
            Dataset::Pku2 => "pku2",
        })
    }
}

/// An evaluation protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Benchmark {
    /// Cross-subject.
    Xsub,
    /// Cross-view (NTU-60, PKU-MMD).
    Xview,
    /// Cross-setup (NTU-120).
    Xset,
}

impl std::str::FromStr for Benchmark {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "xsub" | "cs" | "csub" => Ok(Benchmark::Xsub),
            "xview" | "cv" => Ok(Benchmark::Xview),
            "xset" | "cset" => Ok(Benchmark::Xset),
            _ => Err(format!(
                "unknown benchmark '{s}' (expected xsub, xview or xset)"
            )),
        }
    }
}

impl std::fmt::Display for Benchmark {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Benchmark::Xsub => "xsub",
            Benchmark::Xview => "xview",
            Benchmark::Xset => "xset",
        })
    }
}

/// Training or test part of a split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Part {
    Train,
    /// Called `val` in every file name of the ST-GCN lineage.
    Val,
}

impl Part {
    /// The file-name prefix (`train` / `val`).
    pub fn prefix(self) -> &'static str {
        match self {
            Part::Train => "train",
            Part::Val => "val",
        }
    }
}

impl std::str::FromStr for Part {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "train" => Ok(Part::Train),
            "val" | "test" => Ok(Part::Val),
            _ => Err(format!("unknown split part '{s}' (expected train or val)")),
        }
    }
}

/// Whether an NTU sample is in the training part of `benchmark` of `dataset`; `None` when the
/// benchmark is not defined for the dataset.
pub fn ntu_is_train(dataset: Dataset, benchmark: Benchmark, name: &NtuName) -> Option<bool> {
    match (dataset, benchmark) {
        (Dataset::Ntu60, Benchmark::Xsub) => Some(NTU60_XSUB_TRAIN.contains(&name.performer)),
        (Dataset::Ntu60, Benchmark::Xview) => {
            Some(NTU60_XVIEW_TRAIN_CAMERAS.contains(&name.camera))
        }
        (Dataset::Ntu120, Benchmark::Xsub) => Some(NTU120_XSUB_TRAIN.contains(&name.performer)),
        (Dataset::Ntu120, Benchmark::Xset) => Some(name.setup.is_multiple_of(2)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> NtuName {
        s.parse().unwrap()
    }

    #[test]
    fn ntu60_xsub_and_xview() {
        assert_eq!(
            ntu_is_train(Dataset::Ntu60, Benchmark::Xsub, &n("S001C001P001R001A001")),
            Some(true)
        );
        assert_eq!(
            ntu_is_train(Dataset::Ntu60, Benchmark::Xsub, &n("S001C001P003R001A001")),
            Some(false)
        );
        assert_eq!(
            ntu_is_train(Dataset::Ntu60, Benchmark::Xview, &n("S001C001P001R001A001")),
            Some(false)
        );
        assert_eq!(
            ntu_is_train(Dataset::Ntu60, Benchmark::Xview, &n("S001C003P003R001A001")),
            Some(true)
        );
        assert_eq!(
            ntu_is_train(Dataset::Ntu60, Benchmark::Xset, &n("S001C003P003R001A001")),
            None
        );
    }

    #[test]
    fn ntu120_lists_have_the_published_sizes() {
        assert_eq!(NTU120_XSUB_TRAIN.len(), 53);
        assert_eq!(&NTU120_XSUB_TRAIN[..20], &NTU60_XSUB_TRAIN[..]);
        let test: Vec<u16> = (1..=106)
            .filter(|p| !NTU120_XSUB_TRAIN.contains(p))
            .collect();
        assert_eq!(test.len(), 53);
        assert_eq!(&test[..5], &[3, 6, 7, 10, 11]);
        assert_eq!(
            ntu_is_train(Dataset::Ntu120, Benchmark::Xset, &n("S032C001P003R001A100")),
            Some(true)
        );
        assert_eq!(
            ntu_is_train(Dataset::Ntu120, Benchmark::Xset, &n("S031C001P003R001A100")),
            Some(false)
        );
    }

    #[test]
    fn dataset_membership() {
        assert!(Dataset::Ntu60.contains_ntu(&n("S017C001P001R001A060")));
        assert!(!Dataset::Ntu60.contains_ntu(&n("S018C001P001R001A061")));
        assert!(Dataset::Ntu120.contains_ntu(&n("S018C001P001R001A061")));
    }
}
