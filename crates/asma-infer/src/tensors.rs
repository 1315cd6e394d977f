//! A `.safetensors` file opened by mmap: the JSON header is parsed, and each tensor is read
//! from the mapping when asked for (only f32 is accepted: asma writes nothing else).
//!
//! Every way a file can be unusable is an error naming the file: truncated (the header or a
//! tensor reaches past the end), not safetensors, a dtype other than F32, a missing tensor or
//! one of another shape (a model of another layout or version).

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

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
        let len_bytes: [u8; 8] = map
            .get(..8)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| bad("truncated: shorter than a safetensors header".into()))?;
        let header_len = u64::from_le_bytes(len_bytes) as usize;
        let data = 8usize
            .checked_add(header_len)
            .filter(|&d| d <= map.len())
            .ok_or_else(|| {
                bad(format!(
                    "truncated or not safetensors: header of {header_len} bytes, file of {}",
                    map.len()
                ))
            })?;
        let header: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&map[8..data])
                .map_err(|e| bad(format!("not a safetensors header: {e}")))?;
        let mut entries = BTreeMap::new();
        for (name, v) in header {
            if name == "__metadata__" {
                continue;
            }
            let dtype = v["dtype"].as_str().unwrap_or("?");
            let usizes = |key: &str| -> Vec<usize> {
                let values = v[key].as_array().map(Vec::as_slice).unwrap_or_default();
                values
                    .iter()
                    .filter_map(|d| d.as_u64().map(|d| d as usize))
                    .collect()
            };
            let (shape, offsets) = (usizes("shape"), usizes("data_offsets"));
            let [begin, end] = offsets[..] else {
                return Err(bad(format!("tensor '{name}' has no data_offsets")));
            };
            if dtype != "F32" {
                return Err(bad(format!(
                    "tensor '{name}' is {dtype}; asma models are F32"
                )));
            }
            let count: usize = shape.iter().product();
            if end < begin || end - begin != 4 * count {
                return Err(bad(format!(
                    "tensor '{name}' of shape {shape:?} has {} bytes, expected {}",
                    end.saturating_sub(begin),
                    4 * count
                )));
            }
            if data + end > map.len() {
                return Err(bad(format!(
                    "truncated: tensor '{name}' ends at byte {}, the file has {}",
                    data + end,
                    map.len()
                )));
            }
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

    /// Whether the file holds `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.entries.contains_key(name)
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

    /// The shape of `name`, if present.
    pub fn shape(&self, name: &str) -> Option<&[usize]> {
        self.entries.get(name).map(|e| e.shape.as_slice())
    }
}
