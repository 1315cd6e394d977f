//! NumPy `.npz` archives (a ZIP file of `.npy` members), read and written through the `zip`
//! crate; the CTR-GCN / SGN layout on top is [`crate::formats::ctrgcn`] (its tests here use
//! that layout as the archives' payload).
//!
//! `NTU60_CS.npz` holds `x_train`/`x_test` float32 `(N, T = 300, 150)` and `y_train`/`y_test`
//! one-hot float64 `(N, C)`, written by `np.savez`, i.e. *stored* (uncompressed) members;
//! MAMP's PKU-MMD files use the same keys. The NTU-120 files reach 20 GB, so the archive is
//! **memory-mapped, never read whole**: `zip` reads the central directory (ZIP64 included)
//! and each member's local header from the map, and stored members are exposed as zero-copy
//! [`MmapNpy`] views of it. Members of `np.savez_compressed` files (deflate) are inflated into
//! memory with a bound on their size and a CRC check. Malformed input gives a
//! [`DataError::Invalid`] naming the file, never a panic, and allocations are bounded by the
//! file size.

use std::fs::File;
use std::io::{BufWriter, Cursor, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use zip::result::ZipError;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use crate::atomic::PendingFile;
use crate::error::{DataError, Result};
use crate::formats::npy::{
    map_file, npy_bytes, AlignedBuf, Backing, MmapNpy, NpyArray, NpyElement,
};

/// Deflate cannot expand data by more than about 1032:1.
const MAX_DEFLATE_RATIO: u64 = 1032;

/// Compression method of a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Method 0 (`np.savez`): readable in place.
    Stored,
    /// Method 8 (`np.savez_compressed`): inflated into memory.
    Deflated,
    /// Any other method (not supported).
    Other(u16),
}

/// One member of the archive, from the central directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpzEntry {
    /// Member name, e.g. `x_train.npy`.
    pub name: String,
    /// Compression method.
    pub compression: Compression,
    /// Bytes stored in the archive.
    pub compressed_size: u64,
    /// Bytes of the `.npy` stream.
    pub uncompressed_size: u64,
    /// CRC-32 of the `.npy` stream.
    pub crc32: u32,
    /// Offset of the member's local header.
    pub local_header_offset: u64,
    encrypted: bool,
    /// Position in the central directory.
    index: usize,
}

impl NpzEntry {
    /// The key: the name without its `.npy` suffix, as NumPy's `NpzFile` names it.
    pub fn key(&self) -> &str {
        self.name.strip_suffix(".npy").unwrap_or(&self.name)
    }
}

/// The archive over `bytes`, as `zip` reads it (the central directory only).
fn archive(bytes: &[u8]) -> std::result::Result<ZipArchive<Cursor<&[u8]>>, ZipError> {
    ZipArchive::new(Cursor::new(bytes))
}

/// The central directory of the archive `b`.
fn parse_archive(b: &[u8]) -> std::result::Result<Vec<NpzEntry>, String> {
    if b.is_empty() {
        return Err("empty file (0 bytes), not a .npz archive".to_string());
    }
    let zip = archive(b).map_err(|e| format!("not a .npz (zip) archive: {e}"))?;
    (0..zip.len())
        .map(|index| {
            let f = zip
                .by_index_data(index)
                .map_err(|e| format!("central directory entry {index}: {e}"))?;
            let name = f
                .name()
                .map_err(|e| format!("central directory entry {index}: {e}"))?
                .into_owned();
            let compression = match f.compression() {
                CompressionMethod::Stored => Compression::Stored,
                CompressionMethod::Deflated => Compression::Deflated,
                #[allow(deprecated)]
                other => Compression::Other(other.to_u16()),
            };
            Ok(NpzEntry {
                name,
                compression,
                compressed_size: f.compressed_size(),
                uncompressed_size: f.size(),
                crc32: f.crc32(),
                local_header_offset: f.header_start(),
                encrypted: f.encrypted(),
                index,
            })
        })
        .collect()
}

/// A memory-mapped `.npz` archive.
#[derive(Clone)]
pub struct Npz {
    path: PathBuf,
    backing: Arc<Backing>,
    entries: Vec<NpzEntry>,
}

impl std::fmt::Debug for Npz {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Npz")
            .field("path", &self.path)
            .field("entries", &self.entries)
            .finish()
    }
}

impl Npz {
    /// Memory-maps `path` and reads its central directory.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        Self::from_backing(Arc::new(map_file(path)?), path)
    }

    /// An archive over a copy of `bytes`; `path` is used in errors. Meant for tests and
    /// fuzzing.
    pub fn from_bytes(bytes: &[u8], path: impl AsRef<Path>) -> Result<Self> {
        let backing = Arc::new(Backing::Owned(AlignedBuf::copy_of(bytes)));
        Self::from_backing(backing, path.as_ref())
    }

    fn from_backing(backing: Arc<Backing>, path: &Path) -> Result<Self> {
        let entries = parse_archive(backing.bytes()).map_err(|m| DataError::invalid(path, m))?;
        let mut seen = std::collections::HashSet::new();
        for e in &entries {
            if !seen.insert(e.key()) {
                return Err(DataError::invalid(
                    path,
                    format!("archive holds member '{}' twice", e.name),
                ));
            }
        }
        Ok(Npz {
            path: path.to_path_buf(),
            backing,
            entries,
        })
    }

    /// The archive's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Keys of the members in archive order (`x_train`, `y_train`, ...).
    pub fn keys(&self) -> Vec<&str> {
        self.entries.iter().map(NpzEntry::key).collect()
    }

    /// True when the archive has a member `key` (or `key.npy`).
    pub fn contains(&self, key: &str) -> bool {
        self.entry(key).is_some()
    }

    /// The central-directory entries.
    pub fn entries(&self) -> &[NpzEntry] {
        &self.entries
    }

    /// The entry of `key`.
    pub fn entry(&self, key: &str) -> Option<&NpzEntry> {
        self.entries.iter().find(|e| e.key() == key)
    }

    fn invalid(&self, msg: impl Into<String>) -> DataError {
        DataError::invalid(&self.path, msg)
    }

    fn require(&self, key: &str) -> Result<&NpzEntry> {
        self.entry(key).ok_or_else(|| {
            self.invalid(format!(
                "no array '{key}' in the archive (it holds: {})",
                self.keys().join(", ")
            ))
        })
    }

    /// Start and length of the member's stored bytes in the archive (`zip` reads its local
    /// header).
    fn member_span(&self, e: &NpzEntry) -> Result<(usize, usize)> {
        let b = self.backing.bytes();
        let err = |m: &str| self.invalid(format!("member {}: {m}", e.name));
        if e.encrypted {
            return Err(err("encrypted members are not supported"));
        }
        let mut zip = archive(b).map_err(|x| err(&x.to_string()))?;
        let start = zip
            .by_index_raw(e.index)
            .map_err(|x| {
                err(&format!(
                    "{x} at offset {} (damaged or truncated archive)",
                    e.local_header_offset
                ))
            })?
            .data_start()
            .ok_or_else(|| err("no data offset after its local header"))?;
        let start =
            usize::try_from(start).map_err(|_| err("data offset does not fit this machine"))?;
        let len = usize::try_from(e.compressed_size)
            .map_err(|_| err("member size does not fit this machine"))?;
        match start.checked_add(len) {
            Some(end) if end <= b.len() => Ok((start, len)),
            _ => Err(err(&format!(
                "data ({len} bytes at offset {start}) runs past the end of the {}-byte file                  (truncated archive)",
                b.len()
            ))),
        }
    }

    /// Inflates a deflated member, checking its declared size and CRC.
    fn inflate(&self, e: &NpzEntry, start: usize, len: usize) -> Result<AlignedBuf> {
        let err = |m: String| self.invalid(format!("member {}: {m}", e.name));
        let bound = (len as u64)
            .saturating_mul(MAX_DEFLATE_RATIO)
            .saturating_add(1024);
        if e.uncompressed_size > bound {
            return Err(err(format!(
                "declares {} inflated bytes, impossible for {len} deflated bytes",
                e.uncompressed_size
            )));
        }
        let size = usize::try_from(e.uncompressed_size)
            .map_err(|_| err("member size does not fit this machine".into()))?;
        let compressed = &self.backing.bytes()[start..start + len];
        let mut buf = AlignedBuf::zeroed(size);
        let mut decoder = flate2::read::DeflateDecoder::new(compressed);
        decoder.read_exact(buf.bytes_mut()).map_err(|x| {
            if x.kind() == std::io::ErrorKind::UnexpectedEof {
                err(format!("inflates to fewer than the declared {size} bytes"))
            } else {
                err(format!("corrupt deflate data: {x}"))
            }
        })?;
        let mut probe = [0u8; 1];
        match decoder.read(&mut probe) {
            Ok(0) => {}
            Ok(_) => {
                return Err(err(format!(
                    "inflates to more than the declared {size} bytes"
                )))
            }
            Err(x) => return Err(err(format!("corrupt deflate data: {x}"))),
        }
        let mut crc = flate2::Crc::new();
        crc.update(buf.bytes());
        if crc.sum() != e.crc32 {
            return Err(err(format!(
                "CRC-32 mismatch (stored {:08x}, computed {:08x})",
                e.crc32,
                crc.sum()
            )));
        }
        Ok(buf)
    }

    /// The array `key`: a zero-copy view of the map for stored members, an inflated buffer
    /// for deflated ones (inflated anew on every call: keep the result). Element access of
    /// stored members is usually unaligned (the data follows a variable-length local
    /// header), so use the copying accessors ([`MmapNpy::row_to_f32`]) rather than
    /// [`MmapNpy::as_f32`].
    pub fn array(&self, key: &str) -> Result<MmapNpy> {
        let e = self.require(key)?;
        let (start, len) = self.member_span(e)?;
        let context = Some(format!("member {}", e.name));
        match e.compression {
            Compression::Stored => {
                if e.uncompressed_size != e.compressed_size {
                    return Err(self.invalid(format!(
                        "member {}: stored member with different compressed ({}) and \
                         uncompressed ({}) sizes",
                        e.name, e.compressed_size, e.uncompressed_size
                    )));
                }
                MmapNpy::from_backing(
                    Arc::clone(&self.backing),
                    start,
                    len,
                    self.path.clone(),
                    context,
                )
            }
            Compression::Deflated => {
                let buf = self.inflate(e, start, len)?;
                let n = buf.bytes().len();
                MmapNpy::from_backing(
                    Arc::new(Backing::Owned(buf)),
                    0,
                    n,
                    self.path.clone(),
                    context,
                )
            }
            Compression::Other(m) => Err(self.invalid(format!(
                "member {}: compression method {m} is not supported (only stored and deflate)",
                e.name
            ))),
        }
    }

    /// The array `key`, which must be float32 (native-endian, C order).
    pub fn array_f32(&self, key: &str) -> Result<MmapNpy> {
        let a = self.array(key)?;
        let h = a.header();
        if h.dtype != crate::formats::npy::Dtype::F32
            || !h.byte_order.is_native()
            || !h.is_c_layout()
        {
            return Err(self.invalid(format!(
                "member {}: expected a float32 array, found {}",
                self.require(key)?.name,
                h.describe()
            )));
        }
        Ok(a)
    }

    /// The array `key` read fully into memory (floats → f64, integers → i64).
    pub fn small(&self, key: &str) -> Result<NpyArray> {
        self.array(key)?.to_array()
    }

    /// Checks the CRC-32 of member `key` (reads the whole member; deflated members are
    /// always checked when read).
    pub fn verify(&self, key: &str) -> Result<()> {
        let e = self.require(key)?;
        let (start, len) = self.member_span(e)?;
        match e.compression {
            Compression::Stored => {
                let mut crc = flate2::Crc::new();
                crc.update(&self.backing.bytes()[start..start + len]);
                if crc.sum() != e.crc32 {
                    return Err(self.invalid(format!(
                        "member {}: CRC-32 mismatch (stored {:08x}, computed {:08x})",
                        e.name,
                        e.crc32,
                        crc.sum()
                    )));
                }
                Ok(())
            }
            _ => self.array(key).map(|_| ()),
        }
    }
}

// ------------------------------------------------------------------------------------------
// Writer

/// Options of [`NpzWriter`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NpzOptions {
    /// Deflate the members (`np.savez_compressed`); otherwise store them (`np.savez`).
    pub compress: bool,
    /// Write ZIP64 records even where the sizes do not need them.
    pub force_zip64: bool,
}

/// Writes an `.npz` archive readable by `np.load` (and by [`Npz`]) through a temporary file
/// renamed onto `path` by [`NpzWriter::finish`]; dropped unfinished, it leaves nothing. Each
/// member is built in memory, so this is meant for small and medium archives (fixtures,
/// synthetic data).
pub struct NpzWriter {
    zip: Option<ZipWriter<BufWriter<File>>>,
    names: Vec<String>,
    options: NpzOptions,
    /// After `zip`: the writer is closed before an unfinished file is removed.
    file: PendingFile,
}

impl NpzWriter {
    /// Creates the temporary file next to `path`.
    pub fn create(path: impl AsRef<Path>, options: NpzOptions) -> Result<Self> {
        let pending = PendingFile::new(path.as_ref());
        let file = File::create(pending.tmp()).map_err(|e| DataError::io(pending.tmp(), e))?;
        Ok(NpzWriter {
            zip: Some(ZipWriter::new(BufWriter::new(file))),
            names: Vec::new(),
            options,
            file: pending,
        })
    }

    fn zip_err(&self, e: ZipError) -> DataError {
        match e {
            ZipError::Io(e) => DataError::io(self.file.tmp(), e),
            e => DataError::invalid(self.file.path(), e.to_string()),
        }
    }

    /// Adds array `key` (stored as `key.npy`).
    pub fn add<T: NpyElement>(&mut self, key: &str, shape: &[usize], data: &[T]) -> Result<()> {
        let bytes = npy_bytes(shape, data)
            .map_err(|m| DataError::invalid(self.file.path(), format!("array {key}: {m}")))?;
        self.add_npy(key, &bytes)
    }

    /// Adds a complete `.npy` byte stream as member `key.npy`.
    pub fn add_npy(&mut self, key: &str, npy: &[u8]) -> Result<()> {
        let name = format!("{key}.npy");
        if key.is_empty() || name.len() > usize::from(u16::MAX) {
            return Err(DataError::invalid(
                self.file.path(),
                format!("invalid key '{key}'"),
            ));
        }
        if self.names.contains(&name) {
            return Err(DataError::invalid(
                self.file.path(),
                format!("array '{key}' added twice"),
            ));
        }
        let method = match self.options.compress {
            true => CompressionMethod::Deflated,
            false => CompressionMethod::Stored,
        };
        let options = SimpleFileOptions::default()
            .compression_method(method)
            // 4 GiB and more needs the ZIP64 records; the margin below 4 GiB covers deflate's
            // framing of incompressible data (5 bytes per 64 KiB block).
            .large_file(self.options.force_zip64 || npy.len() as u64 >= 0xF000_0000);
        let zip = self
            .zip
            .as_mut()
            .ok_or_else(|| DataError::invalid(self.file.path(), "writer already finished"))?;
        let written = zip
            .start_file(name.as_str(), options)
            .and_then(|()| zip.write_all(npy).map_err(ZipError::Io));
        written.map_err(|e| self.zip_err(e))?;
        self.names.push(name);
        Ok(())
    }

    /// Writes the central directory and end records, then renames the file onto its path.
    pub fn finish(mut self) -> Result<()> {
        let zip = self
            .zip
            .take()
            .ok_or_else(|| DataError::invalid(self.file.path(), "writer already finished"))?;
        let out = zip.finish().map_err(|e| self.zip_err(e))?;
        let tmp = self.file.tmp();
        let file = out
            .into_inner()
            .map_err(|e| DataError::io(tmp, e.into_error()))?;
        file.sync_all().map_err(|e| DataError::io(tmp, e))?;
        drop(file);
        self.file.commit()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::atomic::tmp_path;
    use crate::formats::ctrgcn::{ctrgcn_split, CtrGcnSplit};
    use crate::prepare::splits::Part;

    fn fixture(name: &str) -> PathBuf {
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/npy")).join(name)
    }

    fn assert_names(err: &DataError, file: &str) -> String {
        let s = err.to_string();
        assert!(s.contains(file), "error does not name {file}: {s}");
        s
    }

    /// The fixture's x values: x[n, t, f] = 1000 n + 150 t + f.
    fn x_value(n: usize, t: usize, f: usize) -> f32 {
        (1000 * n + 150 * t + f) as f32
    }

    fn one_hot(n: usize, offset: usize) -> Vec<f64> {
        let mut y = vec![0.0; n * 60];
        for i in 0..n {
            y[i * 60 + (7 * (i + offset) + 3) % 60] = 1.0;
        }
        y
    }

    fn x_data(n: usize, t: usize) -> Vec<f32> {
        (0..n * t * 150)
            .map(|k| x_value(k / (t * 150), (k / 150) % t, k % 150))
            .collect()
    }

    fn write_ctrgcn(path: &Path, options: NpzOptions) {
        let mut w = NpzWriter::create(path, options).unwrap();
        w.add("x_train", &[3, 6, 150], &x_data(3, 6)).unwrap();
        w.add("y_train", &[3, 60], &one_hot(3, 0)).unwrap();
        w.add("x_test", &[2, 6, 150], &x_data(2, 6)).unwrap();
        w.add("y_test", &[2, 60], &one_hot(2, 3)).unwrap();
        w.finish().unwrap();
    }

    fn check_ctrgcn(npz: &Npz) {
        assert_eq!(npz.keys(), vec!["x_train", "y_train", "x_test", "y_test"]);
        let train = ctrgcn_split(npz, Part::Train).unwrap();
        assert_eq!(
            (train.len(), train.frames(), train.num_classes()),
            (3, 6, Some(60))
        );
        assert_eq!(train.labels().unwrap(), vec![3, 10, 17]);
        let s = train.sample(1).unwrap();
        assert_eq!((s.frames, s.joints, s.bodies), (6, 25, 2));
        for (t, v, m, c) in [(0, 0, 0, 0), (2, 7, 1, 2), (5, 24, 1, 1), (3, 0, 0, 2)] {
            assert_eq!(s.at(c, t, v, m), x_value(1, t, 75 * m + 3 * v + c));
        }
        let val = ctrgcn_split(npz, Part::Val).unwrap();
        assert_eq!(val.labels().unwrap(), vec![24, 31]);
        assert_eq!(val.sample(1).unwrap().at(1, 4, 3, 0), x_value(1, 4, 10));
        let s = assert_names(&val.sample(2).unwrap_err(), "npz");
        assert!(s.contains("out of range"), "{s}");
        let y = npz.small("y_test").unwrap();
        assert_eq!(y.shape, vec![2, 60]);
        assert_eq!(y.as_f64().unwrap(), &one_hot(2, 3)[..]);
    }

    #[test]
    fn numpy_savez_fixture() {
        let npz = Npz::open(fixture("ctrgcn_stored.npz")).unwrap();
        assert!(npz
            .entries()
            .iter()
            .all(|e| e.compression == Compression::Stored));
        check_ctrgcn(&npz);
        npz.verify("x_train").unwrap();
        // The member data follows a variable-length local header: not 4-byte aligned.
        let x = npz.array_f32("x_train").unwrap();
        assert_eq!(x.shape(), &[3, 6, 150]);
        assert_eq!(x.row_to_f32(2).unwrap()[151], x_value(2, 1, 1));
        let e = npz.array_f32("y_train").unwrap_err();
        assert!(assert_names(&e, "ctrgcn_stored.npz").contains("float64 (3, 60)"));
    }

    #[test]
    fn numpy_savez_compressed_fixture() {
        let npz = Npz::open(fixture("ctrgcn_deflated.npz")).unwrap();
        assert!(npz
            .entries()
            .iter()
            .all(|e| e.compression == Compression::Deflated));
        check_ctrgcn(&npz);
        npz.verify("y_test").unwrap();
        // Inflated members live in an aligned buffer: zero-copy f32 works.
        let x = npz.array_f32("x_test").unwrap();
        assert_eq!(x.as_f32().unwrap()[150 * 6 + 2], x_value(1, 0, 2));
    }

    #[test]
    fn writer_roundtrips() {
        let dir = tempfile::tempdir().unwrap();
        for (name, options) in [
            ("stored.npz", NpzOptions::default()),
            (
                "deflated.npz",
                NpzOptions {
                    compress: true,
                    force_zip64: false,
                },
            ),
            (
                "zip64.npz",
                NpzOptions {
                    compress: false,
                    force_zip64: true,
                },
            ),
            (
                "zip64_deflated.npz",
                NpzOptions {
                    compress: true,
                    force_zip64: true,
                },
            ),
        ] {
            let p = dir.path().join(name);
            write_ctrgcn(&p, options);
            assert!(!tmp_path(&p).exists());
            let npz = Npz::open(&p).unwrap();
            check_ctrgcn(&npz);
            for key in ["x_train", "y_train", "x_test", "y_test"] {
                npz.verify(key).unwrap();
            }
        }
        // The forced-ZIP64 archive really uses the ZIP64 records (and only that one).
        let zip64 = |name: &str| {
            let b = std::fs::read(dir.path().join(name)).unwrap();
            position(&b, ZIP64_EXTRA).is_some()
        };
        assert!(zip64("zip64.npz") && zip64("zip64_deflated.npz"));
        assert!(!zip64("stored.npz"));
    }

    /// The ZIP64 extended-information extra field: id 0x0001 with the 8-byte sizes.
    const ZIP64_EXTRA: &[u8] = &[0x01, 0x00, 0x10, 0x00];
    /// The central directory's file-header signature.
    const CENTRAL: &[u8] = b"PK\x01\x02";

    fn position(b: &[u8], what: &[u8]) -> Option<usize> {
        b.windows(what.len()).position(|w| w == what)
    }

    #[test]
    fn archive_comment_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("commented.npz");
        write_ctrgcn(&p, NpzOptions::default());
        let mut b = std::fs::read(&p).unwrap();
        let comment = b"a comment that mentions PK\x05\x06 inside";
        let n = b.len();
        b[n - 2..].copy_from_slice(&(comment.len() as u16).to_le_bytes());
        b.extend_from_slice(comment);
        std::fs::write(&p, &b).unwrap();
        check_ctrgcn(&Npz::open(&p).unwrap());
    }

    fn write_custom(dir: &Path, name: &str, f: impl FnOnce(&mut NpzWriter)) -> PathBuf {
        let p = dir.join(name);
        let mut w = NpzWriter::create(&p, NpzOptions::default()).unwrap();
        f(&mut w);
        w.finish().unwrap();
        p
    }

    #[test]
    fn ctrgcn_errors() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let check = |p: &Path, part: Part, needle: &str| {
            let npz = Npz::open(p).unwrap();
            let name = p.file_name().unwrap().to_str().unwrap();
            let err = match ctrgcn_split(&npz, part) {
                Err(e) => e,
                Ok(s) => match s.sample(s.len() - 1) {
                    Err(e) => e,
                    Ok(_) => s.labels().unwrap_err(),
                },
            };
            let s = assert_names(&err, name);
            assert!(s.contains(needle), "{s}");
        };

        let p = write_custom(d, "no_test.npz", |w| {
            w.add("x_train", &[1, 1, 150], &[0f32; 150]).unwrap();
            w.add("y_train", &[1, 60], &one_hot(1, 0)).unwrap();
        });
        check(
            &p,
            Part::Val,
            "no array 'x_test' in the archive (it holds: x_train, y_train)",
        );

        let p = write_custom(d, "mismatch.npz", |w| {
            w.add("x_train", &[2, 1, 150], &[0f32; 300]).unwrap();
            w.add("y_train", &[3, 60], &one_hot(3, 0)).unwrap();
        });
        check(
            &p,
            Part::Train,
            "x_train has 2 samples but y_train has 3 labels",
        );

        let p = write_custom(d, "features.npz", |w| {
            w.add("x_train", &[2, 1, 75], &[0f32; 150]).unwrap();
            w.add("y_train", &[2, 60], &one_hot(2, 0)).unwrap();
        });
        check(&p, Part::Train, "found float32 (2, 1, 75)");

        let p = write_custom(d, "nan.npz", |w| {
            let mut x = vec![0f32; 2 * 2 * 150];
            x[300 + 150 + 75 + 3 * 4 + 1] = f32::NAN;
            w.add("x_train", &[2, 2, 150], &x).unwrap();
            w.add("y_train", &[2, 60], &one_hot(2, 0)).unwrap();
        });
        check(
            &p,
            Part::Train,
            "x_train sample 1: non-finite value NaN at frame 1, body 1, joint 4, coordinate y",
        );

        let p = write_custom(d, "not_one_hot.npz", |w| {
            w.add("x_train", &[2, 1, 150], &[0f32; 300]).unwrap();
            let mut y = one_hot(2, 0);
            y[60 + 5] = 0.5;
            w.add("y_train", &[2, 60], &y).unwrap();
        });
        check(&p, Part::Train, "y_train row 1 is not one-hot");

        let p = write_custom(d, "int_labels.npz", |w| {
            w.add("x_test", &[2, 1, 150], &[0f32; 300]).unwrap();
            w.add("y_test", &[2], &[4i64, 50]).unwrap();
        });
        let npz = Npz::open(&p).unwrap();
        let val = ctrgcn_split(&npz, Part::Val).unwrap();
        assert_eq!(
            (val.num_classes(), val.labels().unwrap()),
            (None, vec![4, 50])
        );
    }

    #[test]
    fn damaged_archives() {
        let dir = tempfile::tempdir().unwrap();
        let good = std::fs::read(fixture("ctrgcn_stored.npz")).unwrap();
        let write = |name: &str, b: &[u8]| {
            let p = dir.path().join(name);
            std::fs::write(&p, b).unwrap();
            p
        };

        let p = write("empty.npz", b"");
        assert!(assert_names(&Npz::open(&p).unwrap_err(), "empty.npz").contains("empty file"));

        let p = write(
            "npy.npz",
            &std::fs::read(fixture("skeleton_f32.npy")).unwrap(),
        );
        let s = assert_names(&Npz::open(&p).unwrap_err(), "npy.npz");
        assert!(s.contains("not a .npz"), "{s}");

        // Cut in the middle: the end record is gone.
        let p = write("cut.npz", &good[..good.len() / 2]);
        assert!(Npz::open(&p).is_err());

        // Central directory intact but the first member's data zeroed out → its local header
        // is damaged; and a member cut short.
        let mut b = good.clone();
        b[..4].fill(0);
        let p = write("damaged_local.npz", &b);
        let npz = Npz::open(&p).unwrap();
        let s = assert_names(&npz.array("x_train").unwrap_err(), "damaged_local.npz");
        assert!(
            s.contains("member x_train.npy") && s.contains("local file header"),
            "{s}"
        );
        assert!(npz.array("y_train").is_ok());

        // The inner .npy of a stored member truncated: claim a smaller size in the CD.
        let mut b = good.clone();
        let npz = Npz::open(fixture("ctrgcn_stored.npz")).unwrap();
        let cd = position(&b, CENTRAL).unwrap();
        let size = npz.entries()[0].compressed_size as u32 - 8;
        b[cd + 20..cd + 24].copy_from_slice(&size.to_le_bytes());
        b[cd + 24..cd + 28].copy_from_slice(&size.to_le_bytes());
        let p = write("short_member.npz", &b);
        let s = assert_names(
            &Npz::open(&p).unwrap().array("x_train").unwrap_err(),
            "short_member.npz",
        );
        assert!(
            s.contains("member x_train.npy") && s.contains("truncated"),
            "{s}"
        );

        // Deflated member with a corrupted CRC.
        let mut b = std::fs::read(fixture("ctrgcn_deflated.npz")).unwrap();
        let cd = position(&b, CENTRAL).unwrap();
        b[cd + 16] ^= 0xFF;
        let p = write("crc.npz", &b);
        let s = assert_names(
            &Npz::open(&p).unwrap().array("x_train").unwrap_err(),
            "crc.npz",
        );
        assert!(s.contains("CRC-32 mismatch"), "{s}");

        // Stored member CRC checked on demand.
        let mut b = good.clone();
        b[200] ^= 1;
        let p = write("stored_crc.npz", &b);
        assert!(Npz::open(&p).unwrap().verify("x_train").is_err());
    }

    #[test]
    fn archives_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Npz>();
        check::<CtrGcnSplit>();
    }

    #[test]
    fn mutated_archives_never_panic() {
        let exercise = |b: &[u8]| {
            if let Ok(npz) = Npz::from_bytes(b, "fuzz.npz") {
                for key in ["x_train", "y_train", "x_test", "y_test"] {
                    if let Ok(a) = npz.array(key) {
                        let _ = a.row_to_f32(0);
                        let _ = a.to_array();
                    }
                }
                for part in [Part::Train, Part::Val] {
                    if let Ok(s) = ctrgcn_split(&npz, part) {
                        let _ = s.sample(0);
                        let _ = s.labels();
                    }
                }
            }
        };
        let deflated = std::fs::read(fixture("ctrgcn_deflated.npz")).unwrap();
        for i in 0..deflated.len() {
            let mut b = deflated.clone();
            b[i] ^= 0x5A;
            exercise(&b);
        }
        let stored = std::fs::read(fixture("ctrgcn_stored.npz")).unwrap();
        let n = stored.len();
        for i in (0..300).chain(n - 400..n) {
            for bit in [0u8, 3, 7] {
                let mut b = stored.clone();
                b[i] ^= 1 << bit;
                exercise(&b);
            }
        }
        for cut in (0..n).step_by(97) {
            exercise(&stored[..cut]);
        }
    }
}
