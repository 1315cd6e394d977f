//! Errors of the benchmarks.

use std::path::PathBuf;

/// Errors of asma-bench.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Data(#[from] asma_data::DataError),
    #[error(transparent)]
    Model(#[from] asma_model::ModelError),
    #[error(transparent)]
    Train(#[from] asma_train::TrainError),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An option out of its range.
    #[error("{0}")]
    Options(String),
    /// The device failed to run or synchronise.
    #[error("device: {0}")]
    Device(String),
    /// A `tools/reference/` script that could not run or gave no usable result.
    #[error("the reference {script}: {msg}")]
    Reference { script: String, msg: String },
    /// A figure of this machine that could not be read (e.g. `/proc/self/status`).
    #[error("{0}")]
    System(String),
}

impl BenchError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        BenchError::Io {
            path: path.into(),
            source,
        }
    }
}

pub type Result<T, E = BenchError> = std::result::Result<T, E>;
