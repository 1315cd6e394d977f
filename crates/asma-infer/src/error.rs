//! Errors of the deployed path: each names the file (or input) and what is wrong with it.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum InferError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A model file or run directory that cannot be used (truncated, another version, a
    /// tensor missing or of the wrong shape).
    #[error("{path}: {msg}")]
    Model { path: PathBuf, msg: String },
    /// Input of the wrong shape or with non-finite values.
    #[error("{what}: {msg}")]
    Input { what: String, msg: String },
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Data(#[from] asma_data::DataError),
}

pub type Result<T> = std::result::Result<T, InferError>;

pub(crate) fn model_err(path: impl Into<PathBuf>, msg: impl Into<String>) -> InferError {
    InferError::Model {
        path: path.into(),
        msg: msg.into(),
    }
}
