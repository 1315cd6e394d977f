//! A `.safetensors` file opened by mmap: the header is parsed and checked by the
//! `safetensors` crate, and each tensor is read from the mapping when asked for (only f32 is
//! accepted: asma writes nothing else).
//!
//! Every way a file can be unusable is an error naming the file: truncated (the header or a
//! tensor reaches past the end), not safetensors, a dtype other than F32, a missing tensor or
//! one of another shape (a model of another layout or version).

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use safetensors::{Dtype, SafeTensors};

use crate::error::{model_err, InferError, Result};

struct Entry {
    shape: Vec<usize>,
    begin: usize,
    end: usize,
}

/// An open weight file.
pub struct Tensors {
    path: PathBuf,
    map: Mmap,
    /// Offset of the data section.
    data: usize,
    entries: BTreeMap<String, Entry>,
}

impl Tensors {
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|source| InferError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        // SAFETY: the mapping is read-only; a file changed underneath while mapped would give
        // wrong weights, not memory unsafety in our code (we only read bytes out of it).
        let map = unsafe { Mmap::map(&file) }.map_err(|source| InferError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let bad = |msg: String| model_err(path, msg);
        // The `safetensors` crate checks the header, the offsets and that the tensors cover
        // the file exactly; the data stay in the mapping until asked for.
        let (header_len, metadata) = SafeTensors::read_metadata(&map)
            .map_err(|e| bad(format!("truncated or not a safetensors file: {e}")))?;
        let data = 8 + header_len;
        let mut entries = BTreeMap::new();
        for (name, info) in metadata.tensors() {
            if info.dtype != Dtype::F32 {
                return Err(bad(format!(
                    "tensor '{name}' is {}; asma models are F32",
                    info.dtype
                )));
            }
            let (begin, end) = info.data_offsets;
            let shape = info.shape.clone();
            entries.insert(name, Entry { shape, begin, end });
        }
        Ok(Tensors {
            path: path.to_path_buf(),
            map,
            data,
            entries,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Tensor names.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// The tensor `name`, which must have `shape`.
    pub fn get(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        let e = self.entries.get(name).ok_or_else(|| {
            model_err(
                &self.path,
                format!("no tensor '{name}': a model of another layout or version"),
            )
        })?;
        if e.shape != shape {
            return Err(model_err(
                &self.path,
                format!(
                    "tensor '{name}' has shape {:?}, this model needs {shape:?} (another layout or version)",
                    e.shape
                ),
            ));
        }
        let bytes = &self.map[self.data + e.begin..self.data + e.end];
        let values: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(model_err(
                &self.path,
                format!("tensor '{name}' holds a non-finite value at index {i}"),
            ));
        }
        Ok(values)
    }
}
