//! Errors of the training loops.

use std::path::PathBuf;

/// Errors of asma-train.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Data(#[from] asma_data::DataError),
    #[error(transparent)]
    Model(#[from] asma_model::ModelError),
    #[error(transparent)]
    ClassNames(#[from] asma_skeleton::ClassNamesError),
    /// The deployed path (the quickstart's latency stage).
    #[error(transparent)]
    Infer(#[from] asma_infer::InferError),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The loss stopped being a number; the last checkpoint is the last good state.
    #[error("non-finite loss ({value}) at epoch {epoch}, step {step}; the last checkpoint in {} is intact", run.display())]
    NonFinite {
        epoch: usize,
        step: usize,
        value: f32,
        run: PathBuf,
    },
    #[error("{0}")]
    Config(String),
    #[error("{}: {msg}", path.display())]
    Checkpoint { path: PathBuf, msg: String },
    /// A score file that cannot be read or fused.
    #[error("{}: {msg}", path.display())]
    Scores { path: PathBuf, msg: String },
}

impl TrainError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        TrainError::Io {
            path: path.into(),
            source,
        }
    }
}
