//! A safe reader for Python pickles (protocols 0–5) and a writer for asma's label pickles.
//!
//! Why in-house (docs/DATA.md §5): the pyskl / mmaction2 annotation files hold NumPy arrays,
//! dtypes and scalars, which generic pickle crates cannot rebuild. This VM understands every
//! opcode CPython 3 writes, but instead of importing and calling globals it accepts a short
//! allow-list (NumPy array / dtype / scalar reconstruction, `_codecs.encode` and a few
//! builtins; see `globals.rs`) and re-implements each as a data transformation. Any other
//! global (`os.system`, ...) is an error, so loading a hostile file never runs code.
//!
//! The input is treated as hostile: lengths are checked against the bytes left before any
//! allocation, and the stack, marks, object count, nesting and the data the result may
//! duplicate are bounded (`Limits`). Errors never panic; each names the file, and VM errors
//! also the byte offset and name of the failing opcode.

mod globals;
mod heap;
mod materialize;
mod ops;
mod text;
mod value;
mod vm;
mod write;

use std::path::Path;

use crate::error::{read_file, DataError, Result};

pub use value::{ArrayError, DType, NdArray, Value};
pub use write::write_labels_pickle;

/// Bounds on the work and memory a pickle may demand. Every real file stays far below.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    /// Stack entries (the biggest real use is one `APPENDS` batch of 1000).
    pub max_stack: usize,
    /// Open `MARK`s (one per nesting level being built).
    pub max_marks: usize,
    /// Objects created (an NTU-120 pyskl file creates a few million).
    pub max_objects: usize,
    /// Nesting depth of the result (real files: under 10).
    pub max_depth: usize,
    /// Bytes that may be allocated beyond the input itself, on top of twice its size.
    pub extra_bytes: usize,
}

impl Limits {
    const DEFAULT: Limits = Limits {
        max_stack: 1 << 24,
        max_marks: 1 << 16,
        max_objects: 1 << 26,
        max_depth: 512,
        extra_bytes: 64 << 20,
    };

    /// Allocation budget for an input of `len` bytes.
    pub fn budget(&self, len: usize) -> usize {
        len.saturating_mul(2).saturating_add(self.extra_bytes)
    }
}

/// Loads a pickle held in memory; `path` only names the source in errors.
pub fn load(bytes: &[u8], path: &Path) -> Result<Value> {
    load_with(bytes, path, &Limits::DEFAULT)
}

/// Reads and loads a pickle file.
///
/// The file is read whole: a pyskl NTU-120 file of a few GB needs about twice its size in
/// memory while loading (the bytes plus the objects built from them).
pub fn load_file(path: &Path) -> Result<Value> {
    let bytes = read_file(path)?;
    load(&bytes, path)
}

fn load_with(bytes: &[u8], path: &Path, limits: &Limits) -> Result<Value> {
    let (heap, root) =
        vm::run(bytes, limits).map_err(|msg| DataError::invalid(path, format!("pickle {msg}")))?;
    let (objs, budget) = heap.into_parts();
    materialize::materialize(objs, budget, root, limits.max_depth)
        .map_err(|msg| DataError::invalid(path, format!("pickle content: {msg}")))
}

#[cfg(test)]
mod tests;
