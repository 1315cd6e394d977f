//! The PyTorch/NumPy baselines of `tools/reference/`, run with a user-given Python in the same
//! process tree as asma's own measurement, so that a speed figure and its baseline come from
//! one run on one machine.

use std::path::{Path, PathBuf};

use crate::error::{BenchError, Result};

/// Runs `tools/reference/{script}` with `python` and `args` and returns the JSON object it
/// prints; with `device`, refuses a result that reports another device.
pub fn run_reference(
    python: &str,
    script: &str,
    args: &[String],
    device: Option<&str>,
) -> Result<serde_json::Value> {
    let err = |msg: String| BenchError::Reference {
        script: script.into(),
        msg,
    };
    let path = reference_file(script)?;
    let out = std::process::Command::new(python)
        .arg(&path)
        .args(args)
        .output()
        .map_err(|e| err(format!("cannot run {python}: {e}")))?;
    if !out.status.success() {
        return Err(err(format!(
            "failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| err(format!("printed no JSON object: {e}")))?;
    if let Some(d) = device {
        if v["device"].as_str() != Some(d) {
            return Err(err(format!("ran on {} instead of {d}", v["device"])));
        }
    }
    Ok(v)
}

/// A file of `tools/reference/`, from `ASMA_REFERENCE_DIR`, the working directory, or the
/// source tree this library was built from.
fn reference_file(name: &str) -> Result<PathBuf> {
    let candidates = [
        std::env::var_os("ASMA_REFERENCE_DIR").map(|d| PathBuf::from(d).join(name)),
        Some(PathBuf::from("tools/reference").join(name)),
        Some(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../tools/reference")
                .join(name),
        ),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|p| p.exists())
        .ok_or_else(|| BenchError::Reference {
            script: name.into(),
            msg: format!("tools/reference/{name} not found (set ASMA_REFERENCE_DIR)"),
        })
}
