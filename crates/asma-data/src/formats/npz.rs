//! NumPy `.npz` archives (a ZIP file of `.npy` members): an in-house minimal ZIP reader over
//! a memory map and a writer. The CTR-GCN / SGN layout on top is [`crate::formats::ctrgcn`]
//! (its tests here use that layout as the archives' payload).
//!
//! `NTU60_CS.npz` holds `x_train`/`x_test` float32 `(N, T = 300, 150)` and `y_train`/`y_test`
//! one-hot float64 `(N, C)`, written by `np.savez`, i.e. *stored* (uncompressed) members;
//! MAMP's PKU-MMD files use the same keys. The NTU-120 files reach 20 GB, so the archive is
//! **memory-mapped, never read whole**, ZIP64 (offsets and sizes beyond 4 GiB) is
//! supported, and stored members are exposed as zero-copy [`MmapNpy`] views of the map.
//! Members of `np.savez_compressed` files (deflate) are inflated into memory with a size
//! and CRC check.
//!
//! ZIP structures read: the end-of-central-directory record (searched from the end, past
//! an optional archive comment), the ZIP64 locator and end record, the central directory
//! (name, method, sizes, local header offset, ZIP64 extra field) and each member's local
//! header (only to skip its name and extra field). As with the `.npy` parser, malformed
//! input gives a [`DataError::Invalid`] naming the file, never a panic, and allocations are
//! bounded by the file size.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::atomic::tmp_path;
use crate::error::{DataError, Result};
use crate::formats::npy::{
    map_file, npy_bytes, AlignedBuf, Backing, MmapNpy, NpyArray, NpyElement,
};

const LOCAL_SIG: u32 = 0x0403_4b50;
const CENTRAL_SIG: u32 = 0x0201_4b50;
const EOCD_SIG: u32 = 0x0605_4b50;
const EOCD64_SIG: u32 = 0x0606_4b50;
const LOCATOR64_SIG: u32 = 0x0706_4b50;
const EOCD_LEN: usize = 22;
const LOCATOR64_LEN: usize = 20;
const EOCD64_LEN: usize = 56;
const CENTRAL_LEN: usize = 46;
const LOCAL_LEN: usize = 30;
const ZIP64_EXTRA_ID: u16 = 0x0001;
const U32_LIMIT: u64 = 0xFFFF_FFFF;
const U16_LIMIT: u64 = 0xFFFF;
/// Deflate cannot expand data by more than about 1032:1.
const MAX_DEFLATE_RATIO: u64 = 1032;

fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    let s = b.get(off..off.checked_add(2)?)?;
    Some(u16::from_le_bytes([s[0], s[1]]))
}

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    let s = b.get(off..off.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn u64_at(b: &[u8], off: usize) -> Option<u64> {
    let s = b.get(off..off.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    Some(u64::from_le_bytes(a))
}

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
    flags: u16,
}

impl NpzEntry {
    /// The key: the name without its `.npy` suffix, as NumPy's `NpzFile` names it.
    pub fn key(&self) -> &str {
        self.name.strip_suffix(".npy").unwrap_or(&self.name)
    }
}

/// Finds the end-of-central-directory record: the last signature whose comment length ends
/// exactly at the end of the file, or failing that, whose comment fits in the file.
fn find_eocd(b: &[u8]) -> Option<usize> {
    let last = b.len().checked_sub(EOCD_LEN)?;
    let first = last.saturating_sub(0xFFFF);
    let candidates = || {
        (first..=last)
            .rev()
            .filter(|&p| u32_at(b, p) == Some(EOCD_SIG))
    };
    let comment_end = |p: usize| {
        let len = usize::from(u16_at(b, p + 20).unwrap_or(0));
        p + EOCD_LEN + len
    };
    candidates()
        .find(|&p| comment_end(p) == b.len())
        .or_else(|| candidates().find(|&p| comment_end(p) <= b.len()))
}

/// Parses the central directory of the archive `b`.
fn parse_archive(b: &[u8]) -> std::result::Result<Vec<NpzEntry>, String> {
    if b.is_empty() {
        return Err("empty file (0 bytes), not a .npz archive".to_string());
    }
    let eocd = find_eocd(b).ok_or(
        "not a .npz (zip) archive: no end-of-central-directory record (truncated or another \
         format)",
    )?;
    let short = || "end-of-central-directory record is truncated".to_string();
    let mut disk = u32::from(u16_at(b, eocd + 4).ok_or_else(short)?);
    let mut cd_disk = u32::from(u16_at(b, eocd + 6).ok_or_else(short)?);
    let mut count = u64::from(u16_at(b, eocd + 10).ok_or_else(short)?);
    let mut cd_size = u64::from(u32_at(b, eocd + 12).ok_or_else(short)?);
    let mut cd_offset = u64::from(u32_at(b, eocd + 16).ok_or_else(short)?);

    let locator = eocd
        .checked_sub(LOCATOR64_LEN)
        .filter(|&p| u32_at(b, p) == Some(LOCATOR64_SIG));
    if let Some(loc) = locator {
        let bad = || "ZIP64 end-of-central-directory locator is damaged".to_string();
        let rec = u64_at(b, loc + 8).ok_or_else(bad)?;
        let rec = usize::try_from(rec)
            .ok()
            .filter(|&r| r.checked_add(EOCD64_LEN).is_some_and(|end| end <= loc))
            .ok_or_else(|| format!("ZIP64 end record offset {rec} lies outside the archive"))?;
        if u32_at(b, rec) != Some(EOCD64_SIG) {
            return Err(format!("no ZIP64 end record at offset {rec}"));
        }
        let field32 = |o: usize| u32_at(b, rec + o).ok_or_else(bad);
        let field64 = |o: usize| u64_at(b, rec + o).ok_or_else(bad);
        disk = field32(16)?;
        cd_disk = field32(20)?;
        count = field64(32)?;
        cd_size = field64(40)?;
        cd_offset = field64(48)?;
    }
    if disk != 0 || cd_disk != 0 {
        return Err("multi-disk (split) zip archives are not supported".to_string());
    }
    let cd_start = usize::try_from(cd_offset).ok();
    let cd_len = usize::try_from(cd_size).ok();
    let cd = cd_start
        .zip(cd_len)
        .and_then(|(s, l)| b.get(s..s.checked_add(l)?))
        .ok_or_else(|| {
            format!(
                "central directory (offset {cd_offset}, {cd_size} bytes) lies outside the \
                 {}-byte file (truncated archive?)",
                b.len()
            )
        })?;
    let max_entries = (cd.len() / CENTRAL_LEN) as u64;
    if count > max_entries {
        return Err(format!(
            "central directory claims {count} members but its {} bytes hold at most \
             {max_entries}",
            cd.len()
        ));
    }
    // count <= cd.len() / 46, so this allocation is bounded by the file size.
    let mut entries = Vec::with_capacity(count as usize);
    let mut pos = 0usize;
    for index in 0..count {
        let bad = || format!("central directory entry {index} is truncated or damaged");
        if u32_at(cd, pos) != Some(CENTRAL_SIG) {
            return Err(format!(
                "central directory entry {index} has a bad signature (damaged archive)"
            ));
        }
        let field16 = |o: usize| u16_at(cd, pos + o).ok_or_else(bad);
        let field32 = |o: usize| u32_at(cd, pos + o).ok_or_else(bad);
        let flags = field16(8)?;
        let method = field16(10)?;
        let crc32 = field32(16)?;
        let mut compressed_size = u64::from(field32(20)?);
        let mut uncompressed_size = u64::from(field32(24)?);
        let name_len = usize::from(field16(28)?);
        let extra_len = usize::from(field16(30)?);
        let comment_len = usize::from(field16(32)?);
        let mut local_header_offset = u64::from(field32(42)?);
        let name_start = pos + CENTRAL_LEN;
        let extra_start = name_start + name_len;
        let end = extra_start + extra_len + comment_len;
        let name = cd.get(name_start..extra_start).ok_or_else(bad)?;
        let extra = cd
            .get(extra_start..extra_start + extra_len)
            .ok_or_else(bad)?;
        if end > cd.len() {
            return Err(bad());
        }
        let name = String::from_utf8_lossy(name).into_owned();

        // ZIP64 extra field: the 64-bit values of the fields saturated above, in order.
        let needs = [
            uncompressed_size == U32_LIMIT,
            compressed_size == U32_LIMIT,
            local_header_offset == U32_LIMIT,
        ];
        if needs.iter().any(|&n| n) {
            let data = zip64_extra(extra).ok_or_else(|| {
                format!("member {name}: sizes need a ZIP64 extra field, which is missing")
            })?;
            let mut off = 0usize;
            for (need, field) in needs.into_iter().zip([
                &mut uncompressed_size,
                &mut compressed_size,
                &mut local_header_offset,
            ]) {
                if need {
                    *field = u64_at(data, off)
                        .ok_or_else(|| format!("member {name}: ZIP64 extra field is too short"))?;
                    off += 8;
                }
            }
        }
        let compression = match method {
            0 => Compression::Stored,
            8 => Compression::Deflated,
            m => Compression::Other(m),
        };
        entries.push(NpzEntry {
            name,
            compression,
            compressed_size,
            uncompressed_size,
            crc32,
            local_header_offset,
            flags,
        });
        pos = end;
    }
    Ok(entries)
}

/// The data of the ZIP64 extended-information record in an extra field, if any.
fn zip64_extra(mut extra: &[u8]) -> Option<&[u8]> {
    while extra.len() >= 4 {
        let id = u16_at(extra, 0)?;
        let size = usize::from(u16_at(extra, 2)?);
        let data = extra.get(4..4 + size)?;
        if id == ZIP64_EXTRA_ID {
            return Some(data);
        }
        extra = &extra[4 + size..];
    }
    None
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

    /// Start and length of the member's stored bytes in the archive.
    fn member_span(&self, e: &NpzEntry) -> Result<(usize, usize)> {
        let b = self.backing.bytes();
        let err = |m: &str| self.invalid(format!("member {}: {m}", e.name));
        if e.flags & 1 != 0 {
            return Err(err("encrypted members are not supported"));
        }
        let lh = usize::try_from(e.local_header_offset)
            .map_err(|_| err("local header offset does not fit this machine"))?;
        if u32_at(b, lh) != Some(LOCAL_SIG) {
            return Err(err(&format!(
                "no local header at offset {lh} (damaged or truncated archive)"
            )));
        }
        let name_len = u16_at(b, lh + 26).ok_or_else(|| err("truncated local header"))?;
        let extra_len = u16_at(b, lh + 28).ok_or_else(|| err("truncated local header"))?;
        let start = lh + LOCAL_LEN + usize::from(name_len) + usize::from(extra_len);
        let len = usize::try_from(e.compressed_size)
            .map_err(|_| err("member size does not fit this machine"))?;
        match start.checked_add(len) {
            Some(end) if end <= b.len() => Ok((start, len)),
            _ => Err(err(&format!(
                "data ({len} bytes at offset {start}) runs past the end of the {}-byte file \
                 (truncated archive)",
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

struct Written {
    name: String,
    method: u16,
    crc32: u32,
    compressed_size: u64,
    uncompressed_size: u64,
    offset: u64,
}

/// Writes an `.npz` archive readable by `np.load` (and by [`Npz`]) through `<path>.tmp`,
/// renamed onto `path` by [`NpzWriter::finish`]. Each member is built in memory, so this is
/// meant for small and medium archives (fixtures, synthetic data).
pub struct NpzWriter {
    path: PathBuf,
    tmp: PathBuf,
    out: Option<BufWriter<File>>,
    pos: u64,
    written: Vec<Written>,
    options: NpzOptions,
}

/// 1980-01-01 00:00 in MS-DOS date/time format.
const DOS_DATE: u16 = (1 << 5) | 1;
const DOS_TIME: u16 = 0;

impl NpzWriter {
    /// Creates `<path>.tmp`.
    pub fn create(path: impl AsRef<Path>, options: NpzOptions) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let tmp = tmp_path(&path);
        let file = File::create(&tmp).map_err(|e| DataError::io(&tmp, e))?;
        Ok(NpzWriter {
            path,
            tmp,
            out: Some(BufWriter::new(file)),
            pos: 0,
            written: Vec::new(),
            options,
        })
    }

    fn put(&mut self, bytes: &[u8]) -> Result<()> {
        let out = self
            .out
            .as_mut()
            .ok_or_else(|| DataError::invalid(&self.path, "writer already finished"))?;
        out.write_all(bytes)
            .map_err(|e| DataError::io(&self.tmp, e))?;
        self.pos += bytes.len() as u64;
        Ok(())
    }

    /// Adds array `key` (stored as `key.npy`).
    pub fn add<T: NpyElement>(&mut self, key: &str, shape: &[usize], data: &[T]) -> Result<()> {
        let bytes = npy_bytes(shape, data)
            .map_err(|m| DataError::invalid(&self.path, format!("array {key}: {m}")))?;
        self.add_npy(key, &bytes)
    }

    /// Adds a complete `.npy` byte stream as member `key.npy`.
    pub fn add_npy(&mut self, key: &str, npy: &[u8]) -> Result<()> {
        let name = format!("{key}.npy");
        if key.is_empty() || name.len() > usize::from(u16::MAX) {
            return Err(DataError::invalid(
                &self.path,
                format!("invalid key '{key}'"),
            ));
        }
        if self.written.iter().any(|w| w.name == name) {
            return Err(DataError::invalid(
                &self.path,
                format!("array '{key}' added twice"),
            ));
        }
        let mut crc = flate2::Crc::new();
        crc.update(npy);
        let deflated = if self.options.compress {
            let mut enc =
                flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
            enc.write_all(npy)
                .map_err(|e| DataError::io(&self.tmp, e))?;
            Some(enc.finish().map_err(|e| DataError::io(&self.tmp, e))?)
        } else {
            None
        };
        let (method, payload): (u16, &[u8]) = match &deflated {
            Some(d) => (8, d),
            None => (0, npy),
        };
        let uncompressed = npy.len() as u64;
        let compressed = payload.len() as u64;
        let zip64 =
            self.options.force_zip64 || uncompressed >= U32_LIMIT || compressed >= U32_LIMIT;
        let offset = self.pos;

        let mut h = Vec::with_capacity(LOCAL_LEN + name.len() + 20);
        h.extend_from_slice(&LOCAL_SIG.to_le_bytes());
        h.extend_from_slice(&(if zip64 { 45u16 } else { 20 }).to_le_bytes());
        h.extend_from_slice(&name_flags(&name).to_le_bytes());
        h.extend_from_slice(&method.to_le_bytes());
        h.extend_from_slice(&DOS_TIME.to_le_bytes());
        h.extend_from_slice(&DOS_DATE.to_le_bytes());
        h.extend_from_slice(&crc.sum().to_le_bytes());
        let (c32, u32_) = if zip64 {
            (u32::MAX, u32::MAX)
        } else {
            (compressed as u32, uncompressed as u32)
        };
        h.extend_from_slice(&c32.to_le_bytes());
        h.extend_from_slice(&u32_.to_le_bytes());
        h.extend_from_slice(&(name.len() as u16).to_le_bytes());
        h.extend_from_slice(&(if zip64 { 20u16 } else { 0 }).to_le_bytes());
        h.extend_from_slice(name.as_bytes());
        if zip64 {
            h.extend_from_slice(&ZIP64_EXTRA_ID.to_le_bytes());
            h.extend_from_slice(&16u16.to_le_bytes());
            h.extend_from_slice(&uncompressed.to_le_bytes());
            h.extend_from_slice(&compressed.to_le_bytes());
        }
        self.put(&h)?;
        self.put(payload)?;
        self.written.push(Written {
            name,
            method,
            crc32: crc.sum(),
            compressed_size: compressed,
            uncompressed_size: uncompressed,
            offset,
        });
        Ok(())
    }

    /// Leaves a hole of `n` bytes (sparse on most file systems): lets tests place members
    /// beyond 4 GiB without writing gigabytes.
    #[cfg(test)]
    fn skip(&mut self, n: u64) -> Result<()> {
        use std::io::{Seek, SeekFrom};
        let out = self
            .out
            .as_mut()
            .ok_or_else(|| DataError::invalid(&self.path, "finished"))?;
        out.seek(SeekFrom::Current(n as i64))
            .map_err(|e| DataError::io(&self.tmp, e))?;
        self.pos += n;
        Ok(())
    }

    /// Writes the central directory and end records, then renames the file onto its path.
    pub fn finish(mut self) -> Result<()> {
        let force = self.options.force_zip64;
        let cd_offset = self.pos;
        let mut cd = Vec::new();
        for w in &self.written {
            let big_u = force || w.uncompressed_size >= U32_LIMIT;
            let big_c = force || w.compressed_size >= U32_LIMIT;
            let big_o = force || w.offset >= U32_LIMIT;
            let mut extra = Vec::new();
            for (big, v) in [
                (big_u, w.uncompressed_size),
                (big_c, w.compressed_size),
                (big_o, w.offset),
            ] {
                if big {
                    extra.extend_from_slice(&v.to_le_bytes());
                }
            }
            let sat = |big: bool, v: u64| if big { u32::MAX } else { v as u32 };
            let version: u16 = if extra.is_empty() { 20 } else { 45 };
            cd.extend_from_slice(&CENTRAL_SIG.to_le_bytes());
            cd.extend_from_slice(&version.to_le_bytes()); // made by (MS-DOS attributes)
            cd.extend_from_slice(&version.to_le_bytes()); // needed
            cd.extend_from_slice(&name_flags(&w.name).to_le_bytes());
            cd.extend_from_slice(&w.method.to_le_bytes());
            cd.extend_from_slice(&DOS_TIME.to_le_bytes());
            cd.extend_from_slice(&DOS_DATE.to_le_bytes());
            cd.extend_from_slice(&w.crc32.to_le_bytes());
            cd.extend_from_slice(&sat(big_c, w.compressed_size).to_le_bytes());
            cd.extend_from_slice(&sat(big_u, w.uncompressed_size).to_le_bytes());
            cd.extend_from_slice(&(w.name.len() as u16).to_le_bytes());
            let extra_len = if extra.is_empty() { 0 } else { extra.len() + 4 };
            cd.extend_from_slice(&(extra_len as u16).to_le_bytes());
            cd.extend_from_slice(&0u16.to_le_bytes()); // comment
            cd.extend_from_slice(&0u16.to_le_bytes()); // disk
            cd.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
            cd.extend_from_slice(&0u32.to_le_bytes()); // external attributes
            cd.extend_from_slice(&sat(big_o, w.offset).to_le_bytes());
            cd.extend_from_slice(w.name.as_bytes());
            if !extra.is_empty() {
                cd.extend_from_slice(&ZIP64_EXTRA_ID.to_le_bytes());
                cd.extend_from_slice(&(extra.len() as u16).to_le_bytes());
                cd.extend_from_slice(&extra);
            }
        }
        let count = self.written.len() as u64;
        let cd_size = cd.len() as u64;
        self.put(&cd)?;

        let zip64 = force || count >= U16_LIMIT || cd_offset >= U32_LIMIT || cd_size >= U32_LIMIT;
        let mut end = Vec::new();
        if zip64 {
            let record_offset = self.pos;
            end.extend_from_slice(&EOCD64_SIG.to_le_bytes());
            end.extend_from_slice(&((EOCD64_LEN - 12) as u64).to_le_bytes());
            end.extend_from_slice(&45u16.to_le_bytes());
            end.extend_from_slice(&45u16.to_le_bytes());
            end.extend_from_slice(&0u32.to_le_bytes());
            end.extend_from_slice(&0u32.to_le_bytes());
            end.extend_from_slice(&count.to_le_bytes());
            end.extend_from_slice(&count.to_le_bytes());
            end.extend_from_slice(&cd_size.to_le_bytes());
            end.extend_from_slice(&cd_offset.to_le_bytes());
            end.extend_from_slice(&LOCATOR64_SIG.to_le_bytes());
            end.extend_from_slice(&0u32.to_le_bytes());
            end.extend_from_slice(&record_offset.to_le_bytes());
            end.extend_from_slice(&1u32.to_le_bytes());
        }
        let count16 = if zip64 { u16::MAX } else { count as u16 };
        let sat32 = |v: u64| if zip64 { u32::MAX } else { v as u32 };
        end.extend_from_slice(&EOCD_SIG.to_le_bytes());
        end.extend_from_slice(&0u16.to_le_bytes());
        end.extend_from_slice(&0u16.to_le_bytes());
        end.extend_from_slice(&count16.to_le_bytes());
        end.extend_from_slice(&count16.to_le_bytes());
        end.extend_from_slice(&sat32(cd_size).to_le_bytes());
        end.extend_from_slice(&sat32(cd_offset).to_le_bytes());
        end.extend_from_slice(&0u16.to_le_bytes());
        self.put(&end)?;

        let out = self
            .out
            .take()
            .ok_or_else(|| DataError::invalid(&self.path, "writer already finished"))?;
        let file = out
            .into_inner()
            .map_err(|e| DataError::io(&self.tmp, e.into_error()))?;
        file.sync_all().map_err(|e| DataError::io(&self.tmp, e))?;
        drop(file);
        std::fs::rename(&self.tmp, &self.path).map_err(|e| DataError::io(&self.path, e))?;
        self.tmp = PathBuf::new();
        Ok(())
    }
}

/// General-purpose flags: bit 11 marks UTF-8 names.
fn name_flags(name: &str) -> u16 {
    if name.is_ascii() {
        0
    } else {
        1 << 11
    }
}

impl Drop for NpzWriter {
    fn drop(&mut self) {
        self.out = None;
        if !self.tmp.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
        // The forced-ZIP64 archive really uses the ZIP64 records.
        let b = std::fs::read(dir.path().join("zip64.npz")).unwrap();
        let eocd = find_eocd(&b).unwrap();
        assert_eq!(u32_at(&b, eocd + 16), Some(u32::MAX));
        assert_eq!(u32_at(&b, eocd - LOCATOR64_LEN), Some(LOCATOR64_SIG));
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

    /// A member whose local header lies beyond 4 GiB (after a sparse hole), so the writer
    /// must emit ZIP64 offsets without being forced, and the reader must follow them.
    #[cfg(unix)]
    #[test]
    fn offsets_beyond_4_gib() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("huge.npz");
        let mut w = NpzWriter::create(&p, NpzOptions::default()).unwrap();
        w.add("y_train", &[3, 60], &one_hot(3, 0)).unwrap();
        w.skip(U32_LIMIT + 4096).unwrap();
        w.add("x_train", &[3, 6, 150], &x_data(3, 6)).unwrap();
        w.finish().unwrap();
        let npz = Npz::open(&p).unwrap();
        let e = npz.entry("x_train").unwrap();
        assert!(e.local_header_offset > U32_LIMIT);
        let train = ctrgcn_split(&npz, Part::Train).unwrap();
        assert_eq!(train.sample(2).unwrap().at(2, 5, 24, 1), x_value(2, 5, 149));
        let b = npz.backing.bytes();
        let eocd = find_eocd(b).unwrap();
        assert_eq!(u32_at(b, eocd - LOCATOR64_LEN), Some(LOCATOR64_SIG));
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
            s.contains("member x_train.npy") && s.contains("local header"),
            "{s}"
        );
        assert!(npz.array("y_train").is_ok());

        // The inner .npy of a stored member truncated: claim a smaller size in the CD.
        let mut b = good.clone();
        let npz = Npz::open(fixture("ctrgcn_stored.npz")).unwrap();
        let eocd = find_eocd(&b).unwrap();
        let cd = u32_at(&b, eocd + 16).unwrap() as usize;
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
        let eocd = find_eocd(&b).unwrap();
        let cd = u32_at(&b, eocd + 16).unwrap() as usize;
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
