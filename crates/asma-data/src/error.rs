//! The error type of every reader, writer and pipeline in this crate. Each variant names
//! the file it is about, and text formats also the 1-based line.

use std::path::{Path, PathBuf};

/// Errors of asma-data.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The operating system refused a read or write.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A text file is malformed at a given line.
    #[error("{}: line {line}: {msg}", path.display())]
    Parse {
        path: PathBuf,
        line: usize,
        msg: String,
    },
    /// A file is well-formed but holds something this reader cannot accept (wrong shape,
    /// dtype, a pickle global outside the allow-list, NaN, ...).
    #[error("{}: {msg}", path.display())]
    Invalid { path: PathBuf, msg: String },
    /// An option or argument is wrong, independent of any file.
    #[error("{0}")]
    Config(String),
}

/// Result alias of this crate.
pub type Result<T, E = DataError> = std::result::Result<T, E>;

impl DataError {
    /// An I/O error on `path`.
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    /// A parse error at 1-based `line` of `path`.
    pub fn parse(path: impl AsRef<Path>, line: usize, msg: impl Into<String>) -> Self {
        DataError::Parse {
            path: path.as_ref().to_path_buf(),
            line,
            msg: msg.into(),
        }
    }

    /// A content error in `path`.
    pub fn invalid(path: impl AsRef<Path>, msg: impl Into<String>) -> Self {
        DataError::Invalid {
            path: path.as_ref().to_path_buf(),
            msg: msg.into(),
        }
    }

    /// The file this error is about, if any.
    pub fn path(&self) -> Option<&Path> {
        match self {
            DataError::Io { path, .. }
            | DataError::Parse { path, .. }
            | DataError::Invalid { path, .. } => Some(path),
            DataError::Config(_) => None,
        }
    }
}

/// Reads a whole file, mapping the error to [`DataError::Io`].
pub fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| DataError::io(path, e))
}
