//! `metrics.jsonl`: one JSON object per epoch, appended and flushed, so a run that dies keeps
//! every finished epoch's line.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::TrainError;

/// Appends JSON lines to a file.
pub struct MetricsLog {
    path: PathBuf,
}

impl MetricsLog {
    /// Opens (creating) `path`.
    pub fn new(path: &Path) -> Self {
        MetricsLog {
            path: path.to_path_buf(),
        }
    }

    /// Appends one record.
    pub fn append(&self, record: &impl Serialize) -> Result<(), TrainError> {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| TrainError::io(&self.path, e))?;
        let line = serde_json::to_string(record).expect("metrics serialise");
        writeln!(f, "{line}")
            .and_then(|_| f.flush())
            .map_err(|e| TrainError::io(&self.path, e))
    }

    /// Drops lines of epochs ≥ `epoch` (after a resume from an earlier checkpoint).
    pub fn truncate_from(&self, epoch: usize) -> Result<(), TrainError> {
        let Ok(text) = std::fs::read_to_string(&self.path) else {
            return Ok(());
        };
        let kept: String = text
            .lines()
            .filter(|l| {
                // Lines without an epoch (the baselines measured before step 1) stay.
                serde_json::from_str::<serde_json::Value>(l)
                    .ok()
                    .is_some_and(|v| v["epoch"].as_u64().is_none_or(|e| (e as usize) < epoch))
            })
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(&self.path, kept).map_err(|e| TrainError::io(&self.path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_the_baselines_and_the_earlier_epochs() {
        let dir = tempfile::tempdir().unwrap();
        let log = MetricsLog::new(&dir.path().join("metrics.jsonl"));
        log.append(&serde_json::json!({"epoch": null, "init": "random"}))
            .unwrap();
        for e in 0..4 {
            log.append(&serde_json::json!({"epoch": e})).unwrap();
        }
        log.truncate_from(2).unwrap();
        let text = std::fs::read_to_string(dir.path().join("metrics.jsonl")).unwrap();
        let epochs: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["epoch"].clone())
            .collect();
        assert_eq!(epochs, [serde_json::Value::Null, 0.into(), 1.into()]);
    }
}
