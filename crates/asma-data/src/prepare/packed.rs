//! The packed `(N, 3, T, 25, 2)` float32 `.npy` output of `prepare`, written through a
//! writable memory map so that NTU-120's 10 GB files never sit in RAM, filled row by row
//! from many threads, then compacted (rows of skipped samples removed) and renamed into
//! place atomically.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use memmap2::MmapMut;

use crate::atomic::tmp_path;
use crate::error::{DataError, Result};
use crate::formats::npy::header_bytes;

/// A `.npy` file under construction at `<path>.tmp`.
pub struct PackedWriter {
    path: PathBuf,
    tmp: PathBuf,
    file: File,
    map: MmapMut,
    header_len: usize,
    rows: usize,
    row_shape: [usize; 4],
}

/// Shared handle to fill disjoint rows from several threads.
pub struct RowSink<'a> {
    base: *mut f32,
    rows: usize,
    row_len: usize,
    _map: std::marker::PhantomData<&'a mut MmapMut>,
}

// SAFETY: a RowSink only hands out writes to whole rows, and `prepare` assigns every row to
// exactly one sample, so no two threads ever write the same bytes; the map outlives the sink.
unsafe impl Sync for RowSink<'_> {}
unsafe impl Send for RowSink<'_> {}

impl RowSink<'_> {
    /// Copies `values` into row `row`. Each row must be written by one thread only.
    pub fn write_row(&self, row: usize, values: &[f32]) {
        assert!(
            row < self.rows && values.len() == self.row_len,
            "row {row} out of range or wrong length"
        );
        // SAFETY: in bounds (checked above), aligned (checked in `sink`), rows disjoint.
        unsafe {
            std::ptr::copy_nonoverlapping(
                values.as_ptr(),
                self.base.add(row * self.row_len),
                self.row_len,
            )
        }
    }
}

fn shape_of(rows: usize, row_shape: [usize; 4]) -> [usize; 5] {
    [rows, row_shape[0], row_shape[1], row_shape[2], row_shape[3]]
}

impl PackedWriter {
    /// Creates `<path>.tmp` sized for `rows` rows of `row_shape` f32 values.
    pub fn create(path: &Path, rows: usize, row_shape: [usize; 4]) -> Result<Self> {
        if cfg!(target_endian = "big") {
            return Err(DataError::Config(
                "writing .npy files needs a little-endian machine".into(),
            ));
        }
        let tmp = tmp_path(path);
        let header = header_bytes("<f4", &shape_of(rows, row_shape));
        let row_len: usize = row_shape.iter().product();
        let total = header.len() + rows * row_len * 4;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(|e| DataError::io(&tmp, e))?;
        file.set_len(total as u64)
            .map_err(|e| DataError::io(&tmp, e))?;
        // SAFETY: the file was just created by us and is not resized while mapped.
        let mut map = unsafe { MmapMut::map_mut(&file) }.map_err(|e| DataError::io(&tmp, e))?;
        map[..header.len()].copy_from_slice(&header);
        Ok(PackedWriter {
            path: path.to_path_buf(),
            tmp,
            file,
            map,
            header_len: header.len(),
            rows,
            row_shape,
        })
    }

    /// A handle for parallel row writes.
    pub fn sink(&mut self) -> RowSink<'_> {
        let row_len: usize = self.row_shape.iter().product();
        let base = self.map[self.header_len..].as_mut_ptr();
        assert_eq!(
            base as usize % std::mem::align_of::<f32>(),
            0,
            ".npy header keeps f32 data aligned"
        );
        RowSink {
            base: base as *mut f32,
            rows: self.rows,
            row_len,
            _map: std::marker::PhantomData,
        }
    }

    /// Removes the rows whose `keep` flag is false, rewrites the header, flushes, and
    /// renames the file onto its final path.
    pub fn finish(mut self, keep: &[bool]) -> Result<usize> {
        assert_eq!(keep.len(), self.rows);
        let row_bytes = self.row_shape.iter().product::<usize>() * 4;
        let mut kept = 0;
        for (i, &k) in keep.iter().enumerate() {
            if k {
                if kept != i {
                    let src = self.header_len + i * row_bytes;
                    self.map
                        .copy_within(src..src + row_bytes, self.header_len + kept * row_bytes);
                }
                kept += 1;
            }
        }
        let header = header_bytes("<f4", &shape_of(kept, self.row_shape));
        if header.len() == self.header_len {
            self.map[..header.len()].copy_from_slice(&header);
            self.map.flush().map_err(|e| DataError::io(&self.tmp, e))?;
            drop(self.map);
            self.file
                .set_len((self.header_len + kept * row_bytes) as u64)
                .map_err(|e| DataError::io(&self.tmp, e))?;
        } else {
            // A header of another padded length: rewrite the file behind a new header.
            self.map.flush().map_err(|e| DataError::io(&self.tmp, e))?;
            let moved = tmp_path(&self.tmp);
            let mut out = File::create(&moved).map_err(|e| DataError::io(&moved, e))?;
            use std::io::Write;
            out.write_all(&header)
                .map_err(|e| DataError::io(&moved, e))?;
            out.write_all(&self.map[self.header_len..self.header_len + kept * row_bytes])
                .map_err(|e| DataError::io(&moved, e))?;
            drop(self.map);
            std::fs::rename(&moved, &self.tmp).map_err(|e| DataError::io(&self.tmp, e))?;
        }
        std::fs::rename(&self.tmp, &self.path).map_err(|e| DataError::io(&self.path, e))?;
        Ok(kept)
    }

    /// Deletes the temporary file (on error paths).
    pub fn abandon(self) {
        let tmp = self.tmp.clone();
        drop(self);
        let _ = std::fs::remove_file(tmp);
    }
}
