//! Errors of asma-model.

use std::path::PathBuf;

/// Errors of model construction and weight loading.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A weight file could not be read or does not fit the model.
    #[error("{}: {msg}", path.display())]
    Weights { path: PathBuf, msg: String },
    /// A configuration value is out of range.
    #[error("{0}")]
    Config(String),
}
