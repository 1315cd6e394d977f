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
