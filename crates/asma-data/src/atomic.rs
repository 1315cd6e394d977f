//! The one way asma writes a whole file so that a crash or a full disk never leaves it
//! half-written under its name: the bytes go to `<path>.tmp` (the full name plus `.tmp`, so
//! `x.csv` and `x.png` never share a temporary file), which is synced and renamed over
//! `path`; on failure the temporary file is removed and the target keeps its old contents.
//! Writers that stream (the `.npy` and `.npz` writers, prepared splits) fill the same
//! `tmp_path` themselves; the synthetic generator's `.skeleton` files use a hidden name
//! instead, so that no reader lists a file being written.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{DataError, Result};

/// `<path>.tmp`: the file a writer fills before renaming it onto `path`.
pub fn tmp_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(".tmp");
    PathBuf::from(s)
}

/// A file being written at [`tmp_path`]`(path)` by a streaming writer: [`Self::commit`]
/// renames it onto `path`; dropped uncommitted (an error, a panic), it removes the temporary
/// file. A writer that also holds a handle or a map of the file declares this field after
/// it, so that the handle is closed before the file goes.
#[derive(Debug)]
pub struct PendingFile {
    path: PathBuf,
    tmp: PathBuf,
    committed: bool,
}

impl PendingFile {
    /// The temporary file of `path` (not created here).
    pub fn new(path: &Path) -> Self {
        PendingFile {
            path: path.to_path_buf(),
            tmp: tmp_path(path),
            committed: false,
        }
    }

    /// Where the bytes go until [`Self::commit`].
    pub fn tmp(&self) -> &Path {
        &self.tmp
    }

    /// The final name.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Renames the temporary file onto the final name.
    pub fn commit(mut self) -> Result<()> {
        std::fs::rename(&self.tmp, &self.path).map_err(|e| DataError::io(&self.path, e))?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for PendingFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Writes `bytes` to `<path>.tmp`, syncs it and renames it onto `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = tmp_path(path);
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        DataError::io(path, e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbours_get_their_own_temporary_file_and_a_failure_keeps_the_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let (csv, png) = (
            dir.path().join("confusion.csv"),
            dir.path().join("confusion.png"),
        );
        assert_ne!(tmp_path(&csv), tmp_path(&png));
        write_atomic(&csv, b"old").unwrap();
        write_atomic(&png, b"png").unwrap();
        assert_eq!(std::fs::read(&csv).unwrap(), b"old");
        // A target that cannot be replaced (a folder stands there): an error naming it, the
        // temporary file gone.
        let blocked = dir.path().join("blocked");
        std::fs::create_dir(&blocked).unwrap();
        let e = write_atomic(&blocked, b"new").unwrap_err().to_string();
        assert!(e.contains("blocked"), "{e}");
        assert!(!tmp_path(&blocked).exists());
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 3);
    }
}
