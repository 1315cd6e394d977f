//! `manifest.json`, written beside every prepared split folder: what was read, with which
//! options, what was skipped and why, and the checksums of what was written. It also makes
//! `asma data prepare` idempotent: a rerun with the same inputs and options finds the
//! manifest's fingerprint unchanged and the outputs intact, and does nothing.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::atomic::write_atomic;
use crate::error::{DataError, Result};

/// File name of the manifest inside a prepared folder.
pub const MANIFEST_FILE: &str = "manifest.json";

/// The record of one `prepare` run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Version of asma that wrote the folder.
    pub asma_version: String,
    /// Source folder (or file) of the raw data.
    pub source: String,
    /// `ntu60`, `ntu120`, `pku1`, `pku2`.
    pub dataset: String,
    /// `xsub`, `xview`, `xset`.
    pub benchmark: String,
    /// `frame50` (AimCLR's resized layout, any `frames` ≠ 300) or `frame300` (unresized).
    pub layout: String,
    /// Frames per sample in the output.
    pub frames: usize,
    /// Class count of the dataset (the label space, not only the classes present).
    pub num_classes: usize,
    /// Options that shape the output (body policy, missing list, ...).
    pub options: BTreeMap<String, serde_json::Value>,
    /// Hash of the options and of every input's name, size and modification time.
    pub fingerprint: String,
    /// Samples per part (`train`, `val`).
    pub counts: BTreeMap<String, usize>,
    /// Samples per class per part.
    pub class_counts: BTreeMap<String, BTreeMap<usize, usize>>,
    /// Inputs left out on purpose, by reason (`missing_list`, `other_dataset`, `not_a_sample`).
    pub excluded: BTreeMap<String, usize>,
    /// Inputs that failed and were skipped under `--skip-bad`, with the error.
    pub bad: Vec<BadInput>,
    /// Every file written, with its size and sha256.
    pub outputs: Vec<OutputFile>,
}

/// An input that could not be read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BadInput {
    pub file: String,
    pub error: String,
}

/// A written file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputFile {
    /// Name inside the folder.
    pub file: String,
    pub bytes: u64,
    pub sha256: String,
}

impl Manifest {
    /// Reads `dir/manifest.json`, `None` when there is none.
    pub fn read(dir: &Path) -> Result<Option<Manifest>> {
        let path = dir.join(MANIFEST_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| DataError::invalid(&path, format!("not a valid asma manifest: {e}"))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(DataError::io(&path, e)),
        }
    }

    /// Writes `dir/manifest.json` atomically.
    pub fn write(&self, dir: &Path) -> Result<()> {
        let path = dir.join(MANIFEST_FILE);
        let json = serde_json::to_vec_pretty(self).expect("a manifest always serialises");
        write_atomic(&path, &json)
    }

    /// True when every output still exists with its recorded size.
    pub fn outputs_intact(&self, dir: &Path) -> bool {
        self.outputs.iter().all(|o| {
            std::fs::metadata(dir.join(&o.file))
                .map(|m| m.len() == o.bytes)
                .unwrap_or(false)
        })
    }
}

/// Lower-case hex of a digest.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// sha256 of a file, streamed.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| DataError::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_intact_check() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.npy"), b"12345").unwrap();
        let m = Manifest {
            asma_version: "0".into(),
            source: "raw".into(),
            dataset: "ntu60".into(),
            benchmark: "xsub".into(),
            layout: "frame50".into(),
            frames: 50,
            num_classes: 60,
            options: BTreeMap::new(),
            fingerprint: "f".into(),
            counts: BTreeMap::new(),
            class_counts: BTreeMap::new(),
            excluded: BTreeMap::new(),
            bad: vec![],
            outputs: vec![OutputFile {
                file: "a.npy".into(),
                bytes: 5,
                sha256: sha256_file(&dir.path().join("a.npy")).unwrap(),
            }],
        };
        m.write(dir.path()).unwrap();
        assert_eq!(Manifest::read(dir.path()).unwrap(), Some(m.clone()));
        assert!(m.outputs_intact(dir.path()));
        std::fs::write(dir.path().join("a.npy"), b"123").unwrap();
        assert!(!m.outputs_intact(dir.path()));
        assert_eq!(
            m.outputs[0].sha256,
            "5994471abb01112afcc18159f6cc74b4f511b99806da59b3caf5a9c173cacfc5"
        );
    }

    #[test]
    fn corrupt_manifest_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(MANIFEST_FILE), b"{").unwrap();
        let e = Manifest::read(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("manifest.json: not a valid asma manifest"),
            "{e}"
        );
    }
}
