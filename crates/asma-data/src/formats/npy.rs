//! NumPy `.npy` files (format versions 1.0, 2.0 and 3.0): header parser, memory-mapped
//! reader, small-array reader and writers. In-house because what asma needs of them is the
//! memory map: zero-copy rows of multi-gigabyte files (and of the stored members of a mapped
//! `.npz`), a truncated download refused before it is mapped, and a writer through a writable
//! map; the `.npy` crates read into owned arrays.
//!
//! These are the ST-GCN-lineage tensors of docs/DATA.md §3a: `train_data.npy` /
//! `train_position.npy`, little-endian float32, C order, `(N, 3, T, 25, M)`, 1–11 GB each
//! (7–20 GB per benchmark), plus AimCLR's int64 `(N, 1)` label files. The big files are
//! **memory-mapped, never read whole**: [`MmapNpy`] parses the header, checks that the file
//! really holds header + data (a truncated download is reported, not mapped), and hands out
//! zero-copy `&[f32]` rows when the data is little-endian f32, C order and 4-byte aligned.
//! [`NpyWriterF32`] writes such a file the same way, through a writable map of a `.tmp`
//! file that is renamed onto the target only when complete.
//!
//! Layout of a `.npy` file: the magic `\x93NUMPY`, a major and minor version byte, the
//! header length (u16 little-endian for 1.0, u32 for 2.0/3.0), then the header: a Python
//! dict literal `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }` padded with
//! spaces and a final `\n` (NumPy pads magic + header to a multiple of 64 bytes, so the data
//! of a mapped file is aligned), then the raw elements.
//!
//! Every parser here works on untrusted bytes: lengths use checked arithmetic, every
//! allocation is bounded by the size of the input, and malformed input gives a
//! [`DataError::Invalid`] naming the file, never a panic.

use std::borrow::Cow;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use asma_skeleton::Sequence;
use memmap2::{Mmap, MmapMut};

use crate::atomic::{write_atomic, PendingFile};
use crate::error::{DataError, Result};

/// The six magic bytes that start every `.npy` file.
pub const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// NumPy aligns magic + header to this many bytes.
const HEADER_ALIGN: usize = 64;

/// Nesting limit of the header's Python literal (NumPy's own headers nest 2 deep).
const MAX_LITERAL_DEPTH: usize = 32;

/// Element types this module reads (NumPy's fixed-size numeric kinds and bool).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dtype {
    F16,
    F32,
    F64,
    I8,
    I16,
    I32,
    I64,
    U8,
    U16,
    U32,
    U64,
    Bool,
}

impl Dtype {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Dtype::I8 | Dtype::U8 | Dtype::Bool => 1,
            Dtype::F16 | Dtype::I16 | Dtype::U16 => 2,
            Dtype::F32 | Dtype::I32 | Dtype::U32 => 4,
            Dtype::F64 | Dtype::I64 | Dtype::U64 => 8,
        }
    }

    /// NumPy's name of the type (`float32`, `int64`, `bool`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Dtype::F16 => "float16",
            Dtype::F32 => "float32",
            Dtype::F64 => "float64",
            Dtype::I8 => "int8",
            Dtype::I16 => "int16",
            Dtype::I32 => "int32",
            Dtype::I64 => "int64",
            Dtype::U8 => "uint8",
            Dtype::U16 => "uint16",
            Dtype::U32 => "uint32",
            Dtype::U64 => "uint64",
            Dtype::Bool => "bool",
        }
    }

    /// The kind character of the NumPy type string (`f`, `i`, `u`, `b`).
    pub fn kind(self) -> char {
        match self {
            Dtype::F16 | Dtype::F32 | Dtype::F64 => 'f',
            Dtype::I8 | Dtype::I16 | Dtype::I32 | Dtype::I64 => 'i',
            Dtype::U8 | Dtype::U16 | Dtype::U32 | Dtype::U64 => 'u',
            Dtype::Bool => 'b',
        }
    }

    /// True for the floating-point types.
    pub fn is_float(self) -> bool {
        self.kind() == 'f'
    }
}

impl std::fmt::Display for Dtype {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Byte order of the `descr` type string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ByteOrder {
    /// `<`
    Little,
    /// `>`
    Big,
    /// `=` (or no prefix): the byte order of the machine that reads the file.
    Native,
    /// `|`: one-byte types, where order does not apply.
    NotApplicable,
}

impl ByteOrder {
    /// True when elements are stored little-endian (`|` counts as little-endian, as it only
    /// occurs on one-byte types).
    pub fn is_little_endian(self) -> bool {
        match self {
            ByteOrder::Little | ByteOrder::NotApplicable => true,
            ByteOrder::Big => false,
            ByteOrder::Native => cfg!(target_endian = "little"),
        }
    }

    /// True when the stored order is the one of this machine (no byte swap needed).
    pub fn is_native(self) -> bool {
        self.is_little_endian() == cfg!(target_endian = "little")
    }

    fn prefix(self) -> char {
        match self {
            ByteOrder::Little => '<',
            ByteOrder::Big => '>',
            ByteOrder::Native => '=',
            ByteOrder::NotApplicable => '|',
        }
    }
}

/// A parsed `.npy` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpyHeader {
    /// Format version `(major, minor)`: (1, 0), (2, 0) or (3, 0).
    pub version: (u8, u8),
    /// Element type.
    pub dtype: Dtype,
    /// Byte order of the elements.
    pub byte_order: ByteOrder,
    /// True when the data is in Fortran (column-major) order.
    pub fortran_order: bool,
    /// Array shape; empty for a 0-d scalar.
    pub shape: Vec<usize>,
    /// Offset of the first data byte from the start of the `.npy` stream.
    pub data_offset: usize,
}

impl NpyHeader {
    /// Number of elements (1 for a scalar), or `None` when it overflows `usize`.
    pub fn num_elements(&self) -> Option<usize> {
        element_count(&self.shape)
    }

    /// Number of data bytes, or `None` on overflow.
    pub fn data_len(&self) -> Option<usize> {
        self.num_elements()?.checked_mul(self.dtype.size())
    }

    /// The NumPy type string, e.g. `<f4`.
    pub fn descr(&self) -> String {
        format!(
            "{}{}{}",
            self.byte_order.prefix(),
            self.dtype.kind(),
            self.dtype.size()
        )
    }

    /// True when the element order in memory is C order. Fortran order with at most one
    /// axis longer than 1 is the same thing.
    pub fn is_c_layout(&self) -> bool {
        !self.fortran_order || self.shape.iter().filter(|&&d| d > 1).count() <= 1
    }

    /// A short description for messages: `float64 (10, 3, 50, 25, 2)`, prefixed with
    /// `big-endian` / `Fortran-order` when they apply.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        if !self.byte_order.is_little_endian() {
            s.push_str("big-endian ");
        }
        if !self.is_c_layout() {
            s.push_str("Fortran-order ");
        }
        s.push_str(self.dtype.name());
        s.push(' ');
        s.push_str(&shape_string(&self.shape));
        s
    }

    /// Length of one slice along axis 0 (in elements), or `None` for a 0-d array or on
    /// overflow.
    pub fn row_len(&self) -> Option<usize> {
        if self.shape.is_empty() {
            return None;
        }
        element_count(&self.shape[1..])
    }
}

/// Formats a shape the way Python prints a tuple: `()`, `(5,)`, `(2, 3)`.
pub fn shape_string(shape: &[usize]) -> String {
    match shape {
        [] => "()".to_string(),
        [n] => format!("({n},)"),
        _ => {
            let parts: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
            format!("({})", parts.join(", "))
        }
    }
}

/// Product of the dimensions, `None` on overflow. Any zero dimension gives 0.
fn element_count(shape: &[usize]) -> Option<usize> {
    if shape.contains(&0) {
        return Some(0);
    }
    shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}

// ------------------------------------------------------------------------------------------
// Header parsing

/// Parses the header at the start of `bytes` (a whole `.npy` file or at least its header).
/// Checks magic, version, header length, the dict and the dtype; the data length is not
/// checked here (see [`MmapNpy::open`]). Errors name `path`.
pub fn parse_header(bytes: &[u8], path: &Path) -> Result<NpyHeader> {
    parse_header_raw(bytes).map_err(|msg| DataError::invalid(path, msg))
}

/// The header parser proper; the error is a message without the file name.
fn parse_header_raw(bytes: &[u8]) -> std::result::Result<NpyHeader, String> {
    if bytes.is_empty() {
        return Err("empty file (0 bytes), not a .npy array".to_string());
    }
    let magic_len = MAGIC.len();
    let head = &bytes[..bytes.len().min(magic_len)];
    if head != &MAGIC[..head.len()] {
        return Err(format!(
            "not a .npy file: bad magic {} (expected \\x93NUMPY)",
            escape_bytes(head)
        ));
    }
    if bytes.len() < magic_len + 2 {
        return Err(format!(
            "truncated .npy header: file is only {} bytes",
            bytes.len()
        ));
    }
    let (major, minor) = (bytes[magic_len], bytes[magic_len + 1]);
    let len_start = magic_len + 2;
    let (header_len, header_start) = match (major, minor) {
        (1, 0) => {
            let b = bytes
                .get(len_start..len_start + 2)
                .ok_or_else(|| truncated_header_msg(bytes.len(), len_start + 2))?;
            (u16::from_le_bytes([b[0], b[1]]) as usize, len_start + 2)
        }
        (2, 0) | (3, 0) => {
            let b = bytes
                .get(len_start..len_start + 4)
                .ok_or_else(|| truncated_header_msg(bytes.len(), len_start + 4))?;
            let len = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            let len = usize::try_from(len)
                .map_err(|_| format!("header length {len} does not fit this machine"))?;
            (len, len_start + 4)
        }
        _ => {
            return Err(format!(
                "unsupported .npy format version {major}.{minor} (supported: 1.0, 2.0, 3.0)"
            ))
        }
    };
    let header_end = header_start
        .checked_add(header_len)
        .ok_or_else(|| format!("header length {header_len} overflows"))?;
    let text = bytes
        .get(header_start..header_end)
        .ok_or_else(|| truncated_header_msg(bytes.len(), header_end))?;

    let literal = LiteralParser::parse_document(text)?;
    let Literal::Dict(entries) = literal else {
        return Err("header is not a Python dict".to_string());
    };
    let mut descr = None;
    let mut fortran = None;
    let mut shape = None;
    for (key, value) in entries {
        let Literal::Str(key) = key else {
            return Err("header dict has a non-string key".to_string());
        };
        let slot = match key.as_str() {
            "descr" => &mut descr,
            "fortran_order" => &mut fortran,
            "shape" => &mut shape,
            other => return Err(format!("header dict has unexpected key '{other}'")),
        };
        if slot.is_some() {
            return Err(format!("header dict repeats key '{key}'"));
        }
        *slot = Some(value);
    }
    let descr = descr.ok_or("header dict lacks key 'descr'")?;
    let fortran = fortran.ok_or("header dict lacks key 'fortran_order'")?;
    let shape = shape.ok_or("header dict lacks key 'shape'")?;

    let (dtype, byte_order) = match descr {
        Literal::Str(s) => parse_descr(&s)?,
        Literal::Seq(..) => {
            return Err("structured dtype (a list 'descr') is not supported".to_string())
        }
        _ => return Err("'descr' is not a string".to_string()),
    };
    let fortran_order = match fortran {
        Literal::Bool(b) => b,
        _ => return Err("'fortran_order' is not True or False".to_string()),
    };
    let shape = match shape {
        Literal::Seq(items) => items
            .into_iter()
            .map(|item| match item {
                Literal::Int(v) => {
                    usize::try_from(v).map_err(|_| format!("'shape' has an invalid dimension {v}"))
                }
                _ => Err("'shape' holds something other than integers".to_string()),
            })
            .collect::<std::result::Result<Vec<usize>, String>>()?,
        Literal::Int(v) => {
            vec![usize::try_from(v).map_err(|_| format!("'shape' has an invalid dimension {v}"))?]
        }
        _ => return Err("'shape' is not a tuple".to_string()),
    };
    if element_count(&shape)
        .and_then(|n| n.checked_mul(dtype.size()))
        .is_none()
    {
        return Err(format!(
            "shape {} is too large for this machine",
            shape_string(&shape)
        ));
    }
    Ok(NpyHeader {
        version: (major, minor),
        dtype,
        byte_order,
        fortran_order,
        shape,
        data_offset: header_end,
    })
}

fn truncated_header_msg(have: usize, need: usize) -> String {
    format!("truncated .npy header: needs {need} bytes, file has only {have}")
}

fn escape_bytes(b: &[u8]) -> String {
    b.iter()
        .flat_map(|&c| std::ascii::escape_default(c))
        .map(char::from)
        .collect()
}

/// Parses a NumPy type string such as `<f4`, `|u1`, `>i8`, `|b1`.
fn parse_descr(s: &str) -> std::result::Result<(Dtype, ByteOrder), String> {
    let unknown = || format!("unsupported dtype '{s}'");
    let mut chars = s.chars();
    let (order, rest) = match chars.next() {
        Some('<') => (ByteOrder::Little, chars.as_str()),
        Some('>') => (ByteOrder::Big, chars.as_str()),
        Some('=') => (ByteOrder::Native, chars.as_str()),
        Some('|') => (ByteOrder::NotApplicable, chars.as_str()),
        Some(_) => (ByteOrder::Native, s),
        None => return Err("empty dtype string".to_string()),
    };
    let mut rest_chars = rest.chars();
    let kind = rest_chars.next().ok_or_else(unknown)?;
    let size = rest_chars.as_str();
    if kind == 'O' {
        return Err(format!(
            "object dtype '{s}' (pickled Python objects) is not supported"
        ));
    }
    let dtype = match (kind, size) {
        ('f', "2") => Dtype::F16,
        ('f', "4") => Dtype::F32,
        ('f', "8") => Dtype::F64,
        ('i', "1") => Dtype::I8,
        ('i', "2") => Dtype::I16,
        ('i', "4") => Dtype::I32,
        ('i', "8") => Dtype::I64,
        ('u', "1") => Dtype::U8,
        ('u', "2") => Dtype::U16,
        ('u', "4") => Dtype::U32,
        ('u', "8") => Dtype::U64,
        ('b', "1") | ('?', "") | ('?', "1") => Dtype::Bool,
        _ => return Err(unknown()),
    };
    if order == ByteOrder::NotApplicable && dtype.size() > 1 {
        return Err(format!(
            "dtype '{s}': byte order '|' is invalid for the multi-byte type {dtype}"
        ));
    }
    Ok((dtype, order))
}

/// The Python literals that can appear in a `.npy` header.
#[derive(Debug, Clone, PartialEq)]
enum Literal {
    Str(String),
    Int(i128),
    Bool(bool),
    None,
    /// A tuple or a list.
    Seq(Vec<Literal>),
    Dict(Vec<(Literal, Literal)>),
}

/// A recursive-descent parser of the Python literal subset NumPy writes (and a bit more:
/// lists, `None`, double quotes, Python 2 `L` suffixes, any whitespace, trailing commas).
struct LiteralParser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> LiteralParser<'a> {
    fn parse_document(s: &'a [u8]) -> std::result::Result<Literal, String> {
        let mut p = LiteralParser { s, pos: 0 };
        let value = p.value(0)?;
        p.skip_ws();
        if p.pos != p.s.len() {
            return Err(p.unexpected("after the header dict"));
        }
        Ok(value)
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r' | b'\x0c')) {
            self.pos += 1;
        }
    }

    fn unexpected(&self, what: &str) -> String {
        match self.peek() {
            Some(c) => format!(
                "malformed header: unexpected '{}' at header byte {} {what}",
                escape_bytes(&[c]),
                self.pos
            ),
            None => format!("malformed header: header ends early {what}"),
        }
    }

    fn expect(&mut self, c: u8, what: &str) -> std::result::Result<(), String> {
        self.skip_ws();
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.unexpected(what))
        }
    }

    fn value(&mut self, depth: usize) -> std::result::Result<Literal, String> {
        if depth > MAX_LITERAL_DEPTH {
            return Err("malformed header: literal nested too deeply".to_string());
        }
        self.skip_ws();
        match self.peek() {
            Some(b'{') => {
                self.pos += 1;
                let mut entries = Vec::new();
                loop {
                    self.skip_ws();
                    if self.peek() == Some(b'}') {
                        self.pos += 1;
                        return Ok(Literal::Dict(entries));
                    }
                    let key = self.value(depth + 1)?;
                    self.expect(b':', "(expected ':')")?;
                    let value = self.value(depth + 1)?;
                    entries.push((key, value));
                    self.skip_ws();
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b'}') => {}
                        _ => return Err(self.unexpected("in dict (expected ',' or '}')")),
                    }
                }
            }
            Some(open @ (b'(' | b'[')) => {
                let close = if open == b'(' { b')' } else { b']' };
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    self.skip_ws();
                    if self.peek() == Some(close) {
                        self.pos += 1;
                        return Ok(Literal::Seq(items));
                    }
                    items.push(self.value(depth + 1)?);
                    self.skip_ws();
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(c) if c == close => {}
                        _ => return Err(self.unexpected("in tuple (expected ',' or ')')")),
                    }
                }
            }
            Some(q @ (b'\'' | b'"')) => {
                self.pos += 1;
                let mut out = Vec::new();
                loop {
                    match self.peek() {
                        None => return Err(self.unexpected("inside a string")),
                        Some(b'\\') => {
                            self.pos += 1;
                            let c = self.peek().ok_or_else(|| self.unexpected("after '\\'"))?;
                            out.push(c);
                            self.pos += 1;
                        }
                        Some(c) if c == q => {
                            self.pos += 1;
                            break;
                        }
                        Some(c) => {
                            out.push(c);
                            self.pos += 1;
                        }
                    }
                }
                Ok(Literal::Str(String::from_utf8_lossy(&out).into_owned()))
            }
            Some(b'-' | b'+' | b'0'..=b'9') => {
                let negative = self.peek() == Some(b'-');
                if matches!(self.peek(), Some(b'-' | b'+')) {
                    self.pos += 1;
                }
                let start = self.pos;
                let mut v: i128 = 0;
                while let Some(c @ b'0'..=b'9') = self.peek() {
                    v = v
                        .checked_mul(10)
                        .and_then(|v| v.checked_add(i128::from(c - b'0')))
                        .ok_or("malformed header: integer too large")?;
                    self.pos += 1;
                }
                if self.pos == start {
                    return Err(self.unexpected("(expected digits)"));
                }
                if matches!(self.peek(), Some(b'L' | b'l')) {
                    self.pos += 1;
                }
                Ok(Literal::Int(if negative { -v } else { v }))
            }
            Some(b'A'..=b'Z' | b'a'..=b'z') => {
                let start = self.pos;
                while matches!(self.peek(), Some(b'A'..=b'Z' | b'a'..=b'z' | b'_')) {
                    self.pos += 1;
                }
                match &self.s[start..self.pos] {
                    b"True" => Ok(Literal::Bool(true)),
                    b"False" => Ok(Literal::Bool(false)),
                    b"None" => Ok(Literal::None),
                    word => Err(format!(
                        "malformed header: unexpected name '{}' at header byte {start}",
                        String::from_utf8_lossy(word)
                    )),
                }
            }
            _ => Err(self.unexpected("(expected a value)")),
        }
    }
}

/// The `.npy` header for a C-order array of type `descr` (e.g. `<f4`) and `shape`, in format
/// 1.0 (2.0 if the dict would not fit 1.0's 65535 bytes), padded with spaces and a final
/// `\n` so that magic + header is a multiple of 64 bytes, as NumPy writes it.
pub fn header_bytes(descr: &str, shape: &[usize]) -> Vec<u8> {
    let dict = format!(
        "{{'descr': '{descr}', 'fortran_order': False, 'shape': {}, }}",
        shape_string(shape)
    );
    let build = |len_bytes: usize, version: u8| -> Option<Vec<u8>> {
        let prefix = MAGIC.len() + 2 + len_bytes;
        let unpadded = prefix + dict.len() + 1;
        let total = unpadded.div_ceil(HEADER_ALIGN) * HEADER_ALIGN;
        let header_len = total - prefix;
        let mut out = Vec::with_capacity(total);
        out.extend_from_slice(MAGIC);
        out.push(version);
        out.push(0);
        if len_bytes == 2 {
            out.extend_from_slice(&u16::try_from(header_len).ok()?.to_le_bytes());
        } else {
            out.extend_from_slice(&u32::try_from(header_len).ok()?.to_le_bytes());
        }
        out.extend_from_slice(dict.as_bytes());
        out.resize(total - 1, b' ');
        out.push(b'\n');
        Some(out)
    };
    // Format 1.0 unless the dict exceeds 65535 bytes; the last fallback (a dict beyond 4 GiB)
    // cannot occur for any shape that fits in memory.
    build(2, 1)
        .or_else(|| build(4, 2))
        .unwrap_or_else(|| dict.into_bytes())
}

// ------------------------------------------------------------------------------------------
// Backing storage

/// A heap buffer whose start is 8-byte aligned, so that typed views of it work like views
/// of a page-aligned map.
pub(crate) struct AlignedBuf {
    words: Vec<u64>,
    len: usize,
}

impl AlignedBuf {
    /// A zeroed buffer of `len` bytes.
    pub(crate) fn zeroed(len: usize) -> Self {
        AlignedBuf {
            words: vec![0u64; len.div_ceil(8)],
            len,
        }
    }

    /// A copy of `bytes`.
    pub(crate) fn copy_of(bytes: &[u8]) -> Self {
        let mut buf = AlignedBuf::zeroed(bytes.len());
        buf.bytes_mut().copy_from_slice(bytes);
        buf
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: `words` owns at least `len` initialised bytes (len <= 8 · words.len()),
        // and u8 has no alignment or validity requirement.
        unsafe { std::slice::from_raw_parts(self.words.as_ptr().cast::<u8>(), self.len) }
    }

    pub(crate) fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `bytes`; the mutable borrow of self makes the view unique.
        unsafe { std::slice::from_raw_parts_mut(self.words.as_mut_ptr().cast::<u8>(), self.len) }
    }
}

/// What the bytes of an array live in: a read-only file map or an owned aligned buffer
/// (inflated `.npz` members, [`MmapNpy::from_bytes`]).
pub(crate) enum Backing {
    Mapped(Mmap),
    Owned(AlignedBuf),
}

impl Backing {
    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            Backing::Mapped(m) => m,
            Backing::Owned(b) => b.bytes(),
        }
    }
}

/// Maps `path` read-only. Empty files are not mapped (mapping 0 bytes fails on some
/// systems); they give an empty owned buffer.
pub(crate) fn map_file(path: &Path) -> Result<Backing> {
    let file = File::open(path).map_err(|e| DataError::io(path, e))?;
    let len = file.metadata().map_err(|e| DataError::io(path, e))?.len();
    if len == 0 {
        return Ok(Backing::Owned(AlignedBuf::zeroed(0)));
    }
    // SAFETY: the map is read-only; as with every mmap-based reader, the file must not be
    // truncated or rewritten by another process while mapped (the writers of this crate
    // never modify a finished file in place: they rename a new one over it).
    let map = unsafe { Mmap::map(&file) }.map_err(|e| DataError::io(path, e))?;
    Ok(Backing::Mapped(map))
}

/// Reinterprets `bytes` as native f32 values when its start is aligned and its length a
/// multiple of 4.
fn bytes_as_f32(bytes: &[u8]) -> Option<&[f32]> {
    // SAFETY: every bit pattern is a valid f32; `align_to` only puts correctly aligned,
    // whole elements into the middle part.
    let (head, mid, tail) = unsafe { bytes.align_to::<f32>() };
    (head.is_empty() && tail.is_empty()).then_some(mid)
}

// ------------------------------------------------------------------------------------------
// Element conversion

/// Decodes elements of type `$ty` from `$bytes` with the given endianness and pushes
/// `$map(value)` onto `$out`.
macro_rules! decode_into {
    ($bytes:expr, $little:expr, $ty:ty, $out:expr, $map:expr) => {{
        const N: usize = std::mem::size_of::<$ty>();
        let map = $map;
        let chunks = $bytes.chunks_exact(N);
        $out.reserve(chunks.len());
        if $little {
            $out.extend(chunks.map(|c| {
                let mut a = [0u8; N];
                a.copy_from_slice(c);
                map(<$ty>::from_le_bytes(a))
            }));
        } else {
            $out.extend(chunks.map(|c| {
                let mut a = [0u8; N];
                a.copy_from_slice(c);
                map(<$ty>::from_be_bytes(a))
            }));
        }
    }};
}

/// Converts raw elements of any numeric dtype to f32 (f64 is rounded, integers converted).
fn decode_f32(bytes: &[u8], dtype: Dtype, little: bool, out: &mut Vec<f32>) {
    match dtype {
        Dtype::F16 => decode_into!(bytes, little, half::f16, out, |v: half::f16| v.to_f32()),
        Dtype::F32 => decode_into!(bytes, little, f32, out, |v: f32| v),
        Dtype::F64 => decode_into!(bytes, little, f64, out, |v: f64| v as f32),
        Dtype::I8 => decode_into!(bytes, little, i8, out, |v: i8| f32::from(v)),
        Dtype::I16 => decode_into!(bytes, little, i16, out, |v: i16| f32::from(v)),
        Dtype::I32 => decode_into!(bytes, little, i32, out, |v: i32| v as f32),
        Dtype::I64 => decode_into!(bytes, little, i64, out, |v: i64| v as f32),
        Dtype::U8 => decode_into!(bytes, little, u8, out, |v: u8| f32::from(v)),
        Dtype::U16 => decode_into!(bytes, little, u16, out, |v: u16| f32::from(v)),
        Dtype::U32 => decode_into!(bytes, little, u32, out, |v: u32| v as f32),
        Dtype::U64 => decode_into!(bytes, little, u64, out, |v: u64| v as f32),
        Dtype::Bool => decode_into!(bytes, little, u8, out, |v: u8| f32::from(u8::from(v != 0))),
    }
}

/// Converts raw elements of any numeric dtype to f64 (64-bit integers beyond 2^53 round).
fn decode_f64(bytes: &[u8], dtype: Dtype, little: bool, out: &mut Vec<f64>) {
    match dtype {
        Dtype::F16 => decode_into!(bytes, little, half::f16, out, |v: half::f16| v.to_f64()),
        Dtype::F32 => decode_into!(bytes, little, f32, out, f64::from),
        Dtype::F64 => decode_into!(bytes, little, f64, out, |v: f64| v),
        Dtype::I8 => decode_into!(bytes, little, i8, out, f64::from),
        Dtype::I16 => decode_into!(bytes, little, i16, out, f64::from),
        Dtype::I32 => decode_into!(bytes, little, i32, out, f64::from),
        Dtype::I64 => decode_into!(bytes, little, i64, out, |v: i64| v as f64),
        Dtype::U8 => decode_into!(bytes, little, u8, out, f64::from),
        Dtype::U16 => decode_into!(bytes, little, u16, out, f64::from),
        Dtype::U32 => decode_into!(bytes, little, u32, out, f64::from),
        Dtype::U64 => decode_into!(bytes, little, u64, out, |v: u64| v as f64),
        Dtype::Bool => decode_into!(bytes, little, u8, out, |v: u8| f64::from(u8::from(v != 0))),
    }
}

/// Converts raw elements of an integer or bool dtype to i64; `Err` for float dtypes or a
/// uint64 value above `i64::MAX` (the message says which).
fn decode_i64(
    bytes: &[u8],
    dtype: Dtype,
    little: bool,
    out: &mut Vec<i64>,
) -> std::result::Result<(), String> {
    match dtype {
        Dtype::F16 | Dtype::F32 | Dtype::F64 => {
            return Err(format!("{dtype} data cannot be read as integers"))
        }
        Dtype::I8 => decode_into!(bytes, little, i8, out, i64::from),
        Dtype::I16 => decode_into!(bytes, little, i16, out, i64::from),
        Dtype::I32 => decode_into!(bytes, little, i32, out, i64::from),
        Dtype::I64 => decode_into!(bytes, little, i64, out, |v: i64| v),
        Dtype::U8 => decode_into!(bytes, little, u8, out, i64::from),
        Dtype::U16 => decode_into!(bytes, little, u16, out, i64::from),
        Dtype::U32 => decode_into!(bytes, little, u32, out, i64::from),
        Dtype::U64 => {
            let mut wide = Vec::new();
            decode_into!(bytes, little, u64, wide, |v: u64| v);
            out.reserve(wide.len());
            for (i, v) in wide.into_iter().enumerate() {
                let v = i64::try_from(v)
                    .map_err(|_| format!("uint64 element {i} = {v} does not fit int64"))?;
                out.push(v);
            }
        }
        Dtype::Bool => decode_into!(bytes, little, u8, out, |v: u8| i64::from(v != 0)),
    }
    Ok(())
}

/// Reorders Fortran-order `data` of `shape` into C order.
fn fortran_to_c<T: Copy>(data: &[T], shape: &[usize]) -> Vec<T> {
    let n = data.len();
    let mut out = Vec::with_capacity(n);
    if n == 0 {
        return out;
    }
    // Fortran strides (in elements): axis 0 is contiguous.
    let mut strides = Vec::with_capacity(shape.len());
    let mut acc = 1usize;
    for &d in shape {
        strides.push(acc);
        acc = acc.saturating_mul(d);
    }
    let mut idx = vec![0usize; shape.len()];
    let mut off = 0usize;
    for _ in 0..n {
        out.push(data[off]);
        // Advance the C-order multi-index (last axis fastest) and the Fortran offset.
        for k in (0..shape.len()).rev() {
            idx[k] += 1;
            off += strides[k];
            if idx[k] < shape[k] {
                break;
            }
            off -= strides[k] * shape[k];
            idx[k] = 0;
        }
    }
    out
}

// ------------------------------------------------------------------------------------------
// Small arrays in memory

/// The elements of a [`NpyArray`]: floats widen to f64, integers and bools to i64.
#[derive(Debug, Clone, PartialEq)]
pub enum NpyData {
    F64(Vec<f64>),
    I64(Vec<i64>),
}

/// A small array read fully into memory, in C order.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray {
    /// Shape (empty for a scalar).
    pub shape: Vec<usize>,
    /// Elements in C order.
    pub data: NpyData,
}

impl NpyArray {
    /// Number of elements.
    pub fn len(&self) -> usize {
        match &self.data {
            NpyData::F64(v) => v.len(),
            NpyData::I64(v) => v.len(),
        }
    }

    /// True when the array has no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The elements as f64 (integers converted).
    pub fn to_f64(&self) -> Vec<f64> {
        match &self.data {
            NpyData::F64(v) => v.clone(),
            NpyData::I64(v) => v.iter().map(|&x| x as f64).collect(),
        }
    }

    /// The elements when the array holds integers.
    pub fn as_i64(&self) -> Option<&[i64]> {
        match &self.data {
            NpyData::I64(v) => Some(v),
            NpyData::F64(_) => None,
        }
    }

    /// The elements when the array holds floats.
    pub fn as_f64(&self) -> Option<&[f64]> {
        match &self.data {
            NpyData::F64(v) => Some(v),
            NpyData::I64(_) => None,
        }
    }
}

/// Reads a small `.npy` file (labels, statistics) fully into memory, converting any numeric
/// dtype and byte order: floats to f64, integers and bools to i64; Fortran order is turned
/// into C order. Memory use is bounded by 8 × the file's data size.
pub fn read_npy_small(path: impl AsRef<Path>) -> Result<NpyArray> {
    MmapNpy::open(path)?.to_array()
}

// ------------------------------------------------------------------------------------------
// Memory-mapped arrays

/// A `.npy` array whose bytes stay in a read-only memory map of the file (or, for a
/// deflated `.npz` member, in an inflated buffer). Cloning is cheap (the map is shared) and
/// the type is `Send + Sync`, so rayon workers can read rows concurrently.
#[derive(Clone)]
pub struct MmapNpy {
    backing: Arc<Backing>,
    /// Offset of the first data byte within `backing`.
    data_start: usize,
    /// Number of data bytes.
    data_len: usize,
    header: NpyHeader,
    path: PathBuf,
    /// Prefix of error messages for arrays that are not a whole file (`member x.npy`).
    context: Option<String>,
}

impl std::fmt::Debug for MmapNpy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MmapNpy")
            .field("path", &self.path)
            .field("context", &self.context)
            .field("header", &self.header)
            .finish()
    }
}

impl MmapNpy {
    /// Opens and memory-maps `path`, parses its header and checks that the file holds all
    /// the data the header announces.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let backing = Arc::new(map_file(path)?);
        let len = backing.bytes().len();
        Self::from_backing(backing, 0, len, path.to_path_buf(), None)
    }

    /// Opens a skeleton tensor (docs/DATA.md §3a): little-endian float32, C order, 5-D
    /// `(N, 3, T, 25, M)` with `T ≥ 1` and `M` 1 or 2. The error says what was found.
    pub fn open_skeleton(path: impl AsRef<Path>) -> Result<Self> {
        let npy = Self::open(path)?;
        npy.check_skeleton()?;
        Ok(npy)
    }

    /// An array over a copy of `bytes` (a whole `.npy` stream); `path` is used in errors.
    /// Meant for tests and fuzzing.
    pub fn from_bytes(bytes: &[u8], path: impl AsRef<Path>) -> Result<Self> {
        let backing = Arc::new(Backing::Owned(AlignedBuf::copy_of(bytes)));
        Self::from_backing(backing, 0, bytes.len(), path.as_ref().to_path_buf(), None)
    }

    /// An array whose `.npy` stream occupies `backing[start .. start + len]`.
    pub(crate) fn from_backing(
        backing: Arc<Backing>,
        start: usize,
        len: usize,
        path: PathBuf,
        context: Option<String>,
    ) -> Result<Self> {
        let err = |msg: String| match &context {
            Some(c) => DataError::invalid(&path, format!("{c}: {msg}")),
            None => DataError::invalid(&path, msg),
        };
        let end = start
            .checked_add(len)
            .ok_or_else(|| err("size overflow".into()))?;
        let stream = backing
            .bytes()
            .get(start..end)
            .ok_or_else(|| err("array lies outside the file".into()))?;
        let header = parse_header_raw(stream).map_err(err)?;
        let data_len = header
            .data_len()
            .ok_or_else(|| err("array size overflows".into()))?;
        let needed = header
            .data_offset
            .checked_add(data_len)
            .ok_or_else(|| err("array size overflows".into()))?;
        if needed > stream.len() {
            return Err(err(format!(
                "truncated file: header + data of a {} array need {needed} bytes, \
                 only {} present",
                header.describe(),
                stream.len()
            )));
        }
        let data_start = start + header.data_offset;
        Ok(MmapNpy {
            backing,
            data_start,
            data_len,
            header,
            path,
            context,
        })
    }

    fn invalid(&self, msg: impl Into<String>) -> DataError {
        let msg = msg.into();
        match &self.context {
            Some(c) => DataError::invalid(&self.path, format!("{c}: {msg}")),
            None => DataError::invalid(&self.path, msg),
        }
    }

    /// The parsed header.
    pub fn header(&self) -> &NpyHeader {
        &self.header
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.header.shape
    }

    /// The element type.
    pub fn dtype(&self) -> Dtype {
        self.header.dtype
    }

    /// The file this array was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of elements.
    pub fn num_elements(&self) -> usize {
        self.data_len / self.header.dtype.size()
    }

    /// Size of axis 0 (0 for a scalar).
    pub fn len(&self) -> usize {
        self.header.shape.first().copied().unwrap_or(0)
    }

    /// True when axis 0 is empty or the array is a scalar.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The raw data bytes (after the header).
    pub fn data_bytes(&self) -> &[u8] {
        &self.backing.bytes()[self.data_start..self.data_start + self.data_len]
    }

    /// Checks the skeleton layout required by [`MmapNpy::open_skeleton`].
    pub fn check_skeleton(&self) -> Result<()> {
        let h = &self.header;
        let shape_ok =
            matches!(h.shape.as_slice(), [_, 3, t, 25, m] if *t >= 1 && (*m == 1 || *m == 2));
        let type_ok = h.dtype == Dtype::F32 && h.byte_order.is_little_endian();
        if !shape_ok || !type_ok || !h.is_c_layout() {
            return Err(self.invalid(format!(
                "expected float32 array of shape (N, 3, T, 25, 2) (or M = 1 body), found {}",
                h.describe()
            )));
        }
        Ok(())
    }

    /// Why the data cannot be viewed as native f32, if it cannot.
    fn f32_view_problem(&self) -> Option<String> {
        let h = &self.header;
        if h.dtype != Dtype::F32 {
            return Some(format!(
                "expected float32 data, found {}",
                self.header.describe()
            ));
        }
        if !h.byte_order.is_native() {
            return Some(format!(
                "expected native-endian float32 data, found {}",
                h.describe()
            ));
        }
        if !h.is_c_layout() {
            return Some(format!("expected C-order data, found {}", h.describe()));
        }
        None
    }

    /// The whole data as `&[f32]`, zero-copy. Requires native-endian (little-endian) f32 in
    /// C order whose first byte is 4-byte aligned in memory (always true for `.npy` files
    /// written by NumPy; `.npz` members usually are not: use [`MmapNpy::to_f32`]).
    pub fn as_f32(&self) -> Result<&[f32]> {
        if let Some(p) = self.f32_view_problem() {
            return Err(self.invalid(p));
        }
        bytes_as_f32(self.data_bytes()).ok_or_else(|| {
            self.invalid(format!(
                "float32 data starts at a byte offset ({}) that is not 4-byte aligned; \
                 use a copying accessor",
                self.data_start
            ))
        })
    }

    /// Number of elements in one slice along axis 0.
    pub fn row_len(&self) -> usize {
        self.header.row_len().unwrap_or(0)
    }

    /// The raw bytes of the `i`-th slice along axis 0 (C order required).
    pub fn row_bytes(&self, i: usize) -> Result<&[u8]> {
        if self.header.shape.is_empty() {
            return Err(self.invalid("a 0-d array has no rows"));
        }
        if !self.header.is_c_layout() {
            return Err(self.invalid(format!(
                "expected C-order data, found {}",
                self.header.describe()
            )));
        }
        if i >= self.len() {
            return Err(self.invalid(format!(
                "row {i} out of range (axis 0 has {} rows)",
                self.len()
            )));
        }
        // In range: i < shape[0] and the whole array's byte size fits usize.
        let row_bytes = self.row_len() * self.header.dtype.size();
        let start = i * row_bytes;
        Ok(&self.data_bytes()[start..start + row_bytes])
    }

    /// The `i`-th slice along axis 0 as `&[f32]`, zero-copy (same requirements as
    /// [`MmapNpy::as_f32`]).
    pub fn row_f32(&self, i: usize) -> Result<&[f32]> {
        if let Some(p) = self.f32_view_problem() {
            return Err(self.invalid(p));
        }
        let bytes = self.row_bytes(i)?;
        bytes_as_f32(bytes).ok_or_else(|| {
            self.invalid(
                "float32 data is not 4-byte aligned in memory; use a copying accessor \
                 (row_to_f32)",
            )
        })
    }

    /// The `i`-th slice along axis 0 as f32: borrowed when [`MmapNpy::row_f32`] works,
    /// otherwise converted (unaligned data, big-endian, other numeric dtypes).
    pub fn row_to_f32(&self, i: usize) -> Result<Cow<'_, [f32]>> {
        let bytes = self.row_bytes(i)?;
        if self.f32_view_problem().is_none() {
            if let Some(v) = bytes_as_f32(bytes) {
                return Ok(Cow::Borrowed(v));
            }
        }
        let mut out = Vec::new();
        decode_f32(
            bytes,
            self.header.dtype,
            self.header.byte_order.is_little_endian(),
            &mut out,
        );
        Ok(Cow::Owned(out))
    }

    /// The `i`-th slice along axis 0 converted to f64.
    pub fn row_to_f64(&self, i: usize) -> Result<Vec<f64>> {
        let bytes = self.row_bytes(i)?;
        let mut out = Vec::new();
        decode_f64(
            bytes,
            self.header.dtype,
            self.header.byte_order.is_little_endian(),
            &mut out,
        );
        Ok(out)
    }

    /// The whole array as f32 in C order: borrowed when zero-copy is possible, otherwise
    /// converted (Fortran order is reordered).
    pub fn to_f32(&self) -> Result<Cow<'_, [f32]>> {
        if self.f32_view_problem().is_none() {
            if let Some(v) = bytes_as_f32(self.data_bytes()) {
                return Ok(Cow::Borrowed(v));
            }
        }
        let mut out = Vec::new();
        decode_f32(
            self.data_bytes(),
            self.header.dtype,
            self.header.byte_order.is_little_endian(),
            &mut out,
        );
        if !self.header.is_c_layout() {
            out = fortran_to_c(&out, &self.header.shape);
        }
        Ok(Cow::Owned(out))
    }

    /// Reads the whole array into memory as an [`NpyArray`] (floats → f64, integers and
    /// bools → i64, C order).
    pub fn to_array(&self) -> Result<NpyArray> {
        let h = &self.header;
        let little = h.byte_order.is_little_endian();
        let data = if h.dtype.is_float() {
            let mut v = Vec::new();
            decode_f64(self.data_bytes(), h.dtype, little, &mut v);
            if !h.is_c_layout() {
                v = fortran_to_c(&v, &h.shape);
            }
            NpyData::F64(v)
        } else {
            let mut v = Vec::new();
            decode_i64(self.data_bytes(), h.dtype, little, &mut v).map_err(|m| self.invalid(m))?;
            if !h.is_c_layout() {
                v = fortran_to_c(&v, &h.shape);
            }
            NpyData::I64(v)
        };
        Ok(NpyArray {
            shape: h.shape.clone(),
            data,
        })
    }

    /// Sample `i` of a skeleton tensor `(N, 3, T, V, M)` as a [`Sequence`] (copied).
    pub fn sequence(&self, i: usize) -> Result<Sequence> {
        let [_, 3, t, v, m] = *self.header.shape.as_slice() else {
            return Err(self.invalid(format!(
                "expected a 5-D array of shape (N, 3, T, V, M), found {}",
                self.header.describe()
            )));
        };
        let row = self.row_to_f32(i)?.into_owned();
        Sequence::from_vec(row, t, v, m).map_err(|e| self.invalid(e.to_string()))
    }
}

// ------------------------------------------------------------------------------------------
// Writers

mod sealed {
    pub trait Sealed {}
}

/// Element types the writers accept; each is written little-endian.
pub trait NpyElement: Copy + sealed::Sealed {
    /// The NumPy type string written in the header (`<f4`, ...).
    const DESCR: &'static str;
    /// Appends the little-endian bytes of `self`.
    fn put_le(self, out: &mut Vec<u8>);
}

macro_rules! npy_element {
    ($($ty:ty => $descr:literal),*) => {$(
        impl sealed::Sealed for $ty {}
        impl NpyElement for $ty {
            const DESCR: &'static str = $descr;
            fn put_le(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
        }
    )*};
}

npy_element!(f32 => "<f4", f64 => "<f8", i32 => "<i4", i64 => "<i8", u8 => "|u1");

/// A complete `.npy` byte stream (header + data) for `data` of `shape`. `Err` carries a
/// message when `shape` does not describe `data.len()` elements.
pub(crate) fn npy_bytes<T: NpyElement>(
    shape: &[usize],
    data: &[T],
) -> std::result::Result<Vec<u8>, String> {
    let count = element_count(shape).ok_or("shape overflows")?;
    if count != data.len() {
        return Err(format!(
            "shape {} holds {count} elements but {} were given",
            shape_string(shape),
            data.len()
        ));
    }
    let header = header_bytes(T::DESCR, shape);
    let mut out = Vec::with_capacity(header.len() + std::mem::size_of_val(data));
    out.extend_from_slice(&header);
    for &v in data {
        v.put_le(&mut out);
    }
    Ok(out)
}

/// Writes a small array as a `.npy` file (format 1.0, little-endian, C order), atomically
/// through `<path>.tmp`. For large tensors use [`NpyWriterF32`].
pub fn write_npy<T: NpyElement>(path: impl AsRef<Path>, shape: &[usize], data: &[T]) -> Result<()> {
    let path = path.as_ref();
    let bytes = npy_bytes(shape, data).map_err(|m| DataError::invalid(path, m))?;
    write_atomic(path, &bytes)
}

/// Writes a float32 `.npy` file (`<f4`); see [`write_npy`].
pub fn write_npy_f32(path: impl AsRef<Path>, shape: &[usize], data: &[f32]) -> Result<()> {
    write_npy(path, shape, data)
}

/// Writes an int64 `.npy` file (`<i8`), e.g. AimCLR-style `(N, 1)` labels; see
/// [`write_npy`].
pub fn write_npy_i64(path: impl AsRef<Path>, shape: &[usize], data: &[i64]) -> Result<()> {
    write_npy(path, shape, data)
}

/// Writes a float64 `.npy` file (`<f8`); see [`write_npy`].
pub fn write_npy_f64(path: impl AsRef<Path>, shape: &[usize], data: &[f64]) -> Result<()> {
    write_npy(path, shape, data)
}

/// Writes a large native float32 `.npy` file through a writable memory map: `create` makes
/// `<path>.tmp` of the exact final size with the header in place, callers fill
/// [`NpyWriterF32::data_mut`] (e.g. disjoint rows with rayon's `par_chunks_mut`), and
/// [`NpyWriterF32::finish`] flushes and renames the file onto `path`. Dropping the writer
/// without `finish` deletes the `.tmp` file.
pub struct NpyWriterF32 {
    map: Option<MmapMut>,
    data_offset: usize,
    len: usize,
    shape: Vec<usize>,
    /// After `map`: the map is gone before an unfinished file is removed.
    file: PendingFile,
}

impl NpyWriterF32 {
    /// Creates `<path>.tmp` for an array of `shape` (zero-filled data).
    pub fn create(path: impl AsRef<Path>, shape: &[usize]) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let pending = PendingFile::new(&path);
        let tmp = pending.tmp().to_path_buf();
        let descr = if cfg!(target_endian = "little") {
            "<f4"
        } else {
            ">f4"
        };
        let header = header_bytes(descr, shape);
        let len =
            element_count(shape).ok_or_else(|| DataError::invalid(&path, "shape overflows"))?;
        let total = len
            .checked_mul(4)
            .and_then(|b| b.checked_add(header.len()))
            .ok_or_else(|| DataError::invalid(&path, "array too large"))?;
        let io = |e| DataError::io(&tmp, e);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(io)?;
        let mut writer = NpyWriterF32 {
            map: None,
            data_offset: header.len(),
            len,
            shape: shape.to_vec(),
            file: pending,
        };
        file.set_len(total as u64).map_err(io)?;
        // SAFETY: the `.tmp` file was just created by us and is only accessed through this
        // map until `finish` renames it.
        let mut map = unsafe { MmapMut::map_mut(&file) }.map_err(io)?;
        map[..header.len()].copy_from_slice(&header);
        // SAFETY: f32 accepts any bit pattern; only checking the alignment here.
        let aligned = unsafe { map[header.len()..].align_to::<f32>() }
            .0
            .is_empty();
        if !aligned {
            return Err(DataError::invalid(
                &path,
                "mapped data is not 4-byte aligned",
            ));
        }
        writer.map = Some(map);
        Ok(writer)
    }

    /// The final path.
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// The array shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The data (all zeros initially), C order.
    pub fn data_mut(&mut self) -> &mut [f32] {
        let (offset, len) = (self.data_offset, self.len);
        match self.map.as_mut() {
            Some(map) => {
                // SAFETY: f32 accepts any bit pattern; `create` checked that the data start
                // is aligned, so `mid` covers all `len` elements.
                let (_, mid, _) = unsafe { map[offset..].align_to_mut::<f32>() };
                &mut mid[..len]
            }
            None => &mut [],
        }
    }

    /// Flushes the map and renames `<path>.tmp` onto the final path.
    pub fn finish(mut self) -> Result<()> {
        if let Some(map) = self.map.take() {
            map.flush().map_err(|e| DataError::io(self.file.tmp(), e))?;
        }
        self.file.commit()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::atomic::tmp_path;
    use rayon::prelude::*;

    fn fixture(name: &str) -> PathBuf {
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/npy")).join(name)
    }

    /// The error's display must name the file.
    fn assert_names(err: &DataError, file: &str) -> String {
        let s = err.to_string();
        assert!(s.contains(file), "error does not name {file}: {s}");
        s
    }

    #[test]
    fn header_bytes_are_aligned_and_parse_back() {
        for shape in [
            vec![],
            vec![7],
            vec![2, 3, 4, 25, 2],
            vec![123456789, 3, 300, 25, 2],
        ] {
            let h = header_bytes("<f4", &shape);
            assert_eq!(h.len() % 64, 0);
            assert_eq!(h.last(), Some(&b'\n'));
            let p = parse_header(&h, Path::new("x.npy")).unwrap();
            assert_eq!(p.shape, shape);
            assert_eq!(p.dtype, Dtype::F32);
            assert_eq!(p.byte_order, ByteOrder::Little);
            assert!(!p.fortran_order);
            assert_eq!(p.data_offset, h.len());
            assert_eq!(p.version, (1, 0));
        }
        assert!(String::from_utf8_lossy(&header_bytes("<i8", &[5])).contains("(5,)"));
    }

    #[test]
    fn header_v2_and_v3_parse() {
        let dict = b"{'descr': '>i2', 'fortran_order': True, 'shape': (3, 4), }\n";
        for major in [2u8, 3] {
            let mut b = MAGIC.to_vec();
            b.extend_from_slice(&[major, 0]);
            b.extend_from_slice(&(dict.len() as u32).to_le_bytes());
            b.extend_from_slice(dict);
            let h = parse_header(&b, Path::new("v.npy")).unwrap();
            assert_eq!(h.version, (major, 0));
            assert_eq!(h.dtype, Dtype::I16);
            assert_eq!(h.byte_order, ByteOrder::Big);
            assert!(h.fortran_order);
            assert_eq!(h.shape, vec![3, 4]);
            assert_eq!(h.data_offset, 12 + dict.len());
        }
    }

    fn v1(dict: &str) -> Vec<u8> {
        let mut b = MAGIC.to_vec();
        b.extend_from_slice(&[1, 0]);
        b.extend_from_slice(&(dict.len() as u16).to_le_bytes());
        b.extend_from_slice(dict.as_bytes());
        b
    }

    #[test]
    fn header_dict_variants() {
        let p = |d: &str| parse_header(&v1(d), Path::new("d.npy"));
        let h = p("{ \"shape\" : ( 10L , 3 ) ,\t'fortran_order':False,'descr':'<u2'}  \n").unwrap();
        assert_eq!((h.shape, h.dtype), (vec![10, 3], Dtype::U16));
        let h = p("{'descr': '|b1', 'fortran_order': False, 'shape': ()}").unwrap();
        assert_eq!((h.shape.len(), h.dtype), (0, Dtype::Bool));
        let h = p("{'descr': '<f2', 'fortran_order': False, 'shape': (5,), }").unwrap();
        assert_eq!((h.shape, h.dtype), (vec![5], Dtype::F16));
        let h = p("{'descr': 'f8', 'fortran_order': False, 'shape': [2, 2]}").unwrap();
        assert_eq!((h.dtype, h.byte_order), (Dtype::F64, ByteOrder::Native));

        for (bad, needle) in [
            ("{'descr': '|O', 'fortran_order': False, 'shape': (2,)}", "object dtype"),
            ("{'descr': '<c8', 'fortran_order': False, 'shape': (2,)}", "unsupported dtype"),
            ("{'descr': '<U5', 'fortran_order': False, 'shape': (2,)}", "unsupported dtype"),
            ("{'descr': '|f4', 'fortran_order': False, 'shape': (2,)}", "byte order '|'"),
            ("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,)}", "structured"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,)}", "invalid dimension"),
            ("{'descr': '<f4', 'fortran_order': False}", "lacks key 'shape'"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", "unexpected key"),
            ("{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}", "fortran_order"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} x", "unexpected"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (2,", "ends early"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999999999999999999999,)}", "too large"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296)}", "too large"),
            ("((((((((((((((((((((((((((((((((((((((((((((((((((", "nested"),
        ] {
            let e = p(bad).unwrap_err();
            let s = assert_names(&e, "d.npy");
            assert!(s.contains(needle), "{bad}: {s}");
        }
    }

    #[test]
    fn roundtrip_f32_5d() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("train_position.npy");
        let shape = [3, 3, 4, 25, 2];
        let data: Vec<f32> = (0..3 * 3 * 4 * 25 * 2)
            .map(|i| i as f32 * 0.5 - 7.0)
            .collect();
        write_npy_f32(&path, &shape, &data).unwrap();
        let npy = MmapNpy::open_skeleton(&path).unwrap();
        assert_eq!(npy.shape(), &shape);
        assert_eq!(npy.as_f32().unwrap(), &data[..]);
        assert_eq!(npy.row_f32(2).unwrap(), &data[2 * 600..3 * 600]);
        assert!(matches!(npy.row_to_f32(1).unwrap(), Cow::Borrowed(_)));
        let seq = npy.sequence(1).unwrap();
        assert_eq!((seq.frames, seq.joints, seq.bodies), (4, 25, 2));
        assert_eq!(seq.at(2, 3, 24, 1), data[600 + seq.index(2, 3, 24, 1)]);
        let e = npy.row_f32(3).unwrap_err();
        assert!(assert_names(&e, "train_position.npy").contains("out of range"));
        assert!(!tmp_path(&path).exists());
    }

    #[test]
    fn writer_fills_rows_in_parallel() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.npy");
        let shape = [5, 3, 2, 25, 1];
        let row = 3 * 2 * 25;
        let mut w = NpyWriterF32::create(&path, &shape).unwrap();
        assert!(tmp_path(&path).exists());
        assert!(w.data_mut().iter().all(|&x| x == 0.0));
        w.data_mut()
            .par_chunks_mut(row)
            .enumerate()
            .for_each(|(i, r)| {
                r.iter_mut()
                    .enumerate()
                    .for_each(|(j, x)| *x = (i * 1000 + j) as f32)
            });
        assert!(!path.exists());
        w.finish().unwrap();
        assert!(!tmp_path(&path).exists());
        let npy = MmapNpy::open_skeleton(&path).unwrap();
        assert_eq!(npy.row_f32(4).unwrap()[7], 4007.0);
        assert_eq!(
            std::fs::metadata(&path).unwrap().len() as usize,
            npy.header().data_offset + 5 * row * 4
        );

        // Dropped without finish: nothing left behind.
        let path2 = dir.path().join("abandoned.npy");
        let w = NpyWriterF32::create(&path2, &shape).unwrap();
        drop(w);
        assert!(!path2.exists() && !tmp_path(&path2).exists());
    }

    #[test]
    fn small_writers_and_reader() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("train_label.npy");
        write_npy_i64(&p, &[4, 1], &[3, 0, 59, 12]).unwrap();
        let a = read_npy_small(&p).unwrap();
        assert_eq!(a.shape, vec![4, 1]);
        assert_eq!(a.as_i64(), Some(&[3i64, 0, 59, 12][..]));
        let p = dir.path().join("y.npy");
        write_npy_f64(&p, &[2], &[0.25, -1.0]).unwrap();
        assert_eq!(
            read_npy_small(&p).unwrap().as_f64(),
            Some(&[0.25, -1.0][..])
        );
        let e = write_npy_f32(&p, &[3, 2], &[1.0]).unwrap_err();
        assert!(assert_names(&e, "y.npy").contains("holds 6 elements"));
    }

    #[test]
    fn numpy_fixtures() {
        let npy = MmapNpy::open_skeleton(fixture("skeleton_f32.npy")).unwrap();
        assert_eq!(npy.shape(), &[2, 3, 4, 25, 2]);
        let all = npy.as_f32().unwrap();
        assert!(all.iter().enumerate().all(|(i, &v)| v == i as f32));
        assert_eq!(npy.row_f32(1).unwrap()[0], 600.0);

        let f64s = MmapNpy::open(fixture("skeleton_f64.npy")).unwrap();
        assert_eq!(f64s.dtype(), Dtype::F64);
        assert!(f64s.as_f32().is_err());
        let row = f64s.row_to_f32(1).unwrap();
        assert!(matches!(row, Cow::Owned(_)));
        assert_eq!(row[5], 605.0);

        let v2 = MmapNpy::open(fixture("v2_i16.npy")).unwrap();
        assert_eq!(v2.header().version, (2, 0));
        assert_eq!(v2.shape(), &[3, 4]);
        let a = v2.to_array().unwrap();
        assert_eq!(
            a.as_i64().unwrap(),
            &[0, -1, -2, -3, 10, 9, 8, 7, 20, 19, 18, 17]
        );

        let labels = read_npy_small(fixture("label_i64.npy")).unwrap();
        assert_eq!(labels.shape, vec![4, 1]);
        assert_eq!(labels.as_i64().unwrap(), &[3, 0, 59, 12]);

        let f = MmapNpy::open(fixture("fortran_f32.npy")).unwrap();
        assert!(f.header().fortran_order);
        let expect: Vec<f32> = (0..12).map(|i| i as f32).collect();
        assert_eq!(f.to_f32().unwrap().as_ref(), &expect[..]);
        assert!(f.as_f32().is_err() && f.row_f32(0).is_err());
        let c = read_npy_small(fixture("fortran_f32.npy")).unwrap();
        assert_eq!(c.shape, vec![3, 4]);
        assert_eq!(c.to_f64(), (0..12).map(f64::from).collect::<Vec<_>>());

        let be = read_npy_small(fixture("big_endian_f8.npy")).unwrap();
        assert_eq!(be.as_f64().unwrap(), &[1.5, -2.0, 3.25]);
        let be = MmapNpy::open(fixture("big_endian_f8.npy")).unwrap();
        assert_eq!(be.header().byte_order, ByteOrder::Big);
        assert_eq!(be.row_to_f64(2).unwrap(), vec![3.25]);

        let s = read_npy_small(fixture("scalar_f64.npy")).unwrap();
        assert_eq!((s.shape.len(), s.as_f64().unwrap()), (0, &[2.5][..]));
    }

    fn write_bytes(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    #[test]
    fn truncated_data_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let full = std::fs::read(fixture("skeleton_f32.npy")).unwrap();
        let p = write_bytes(dir.path(), "cut.npy", &full[..full.len() - 4]);
        let e = MmapNpy::open(&p).unwrap_err();
        let s = assert_names(&e, "cut.npy");
        assert!(s.contains("truncated"), "{s}");
        // Cut inside the header, too.
        let p = write_bytes(dir.path(), "cut_header.npy", &full[..40]);
        let s = assert_names(&MmapNpy::open(&p).unwrap_err(), "cut_header.npy");
        assert!(s.contains("truncated"), "{s}");
    }

    #[test]
    fn wrong_dtype_for_skeleton() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("train_position.npy");
        std::fs::copy(fixture("skeleton_f64.npy"), &p).unwrap();
        let s = assert_names(
            &MmapNpy::open_skeleton(&p).unwrap_err(),
            "train_position.npy",
        );
        assert!(
            s.contains("expected float32 array of shape (N, 3, T, 25, 2)")
                && s.contains("found float64 (2, 3, 4, 25, 2)"),
            "{s}"
        );
    }

    #[test]
    fn wrong_shape_for_skeleton() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("val_position.npy");
        write_npy_f32(&p, &[2, 3, 4, 25], &[0.0; 600]).unwrap();
        let s = assert_names(&MmapNpy::open_skeleton(&p).unwrap_err(), "val_position.npy");
        assert!(s.contains("found float32 (2, 3, 4, 25)"), "{s}");
        let p = dir.path().join("three_bodies.npy");
        write_npy_f32(&p, &[1, 3, 1, 25, 3], &[0.0; 225]).unwrap();
        assert!(MmapNpy::open_skeleton(&p).is_err());
    }

    #[test]
    fn fortran_order_for_skeleton() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = v1(&String::from_utf8(
            header_bytes("<f4", &[2, 3, 4, 25, 2])[10..].to_vec(),
        )
        .unwrap()
        .replace("False", "True "));
        bytes.extend(std::iter::repeat_n(0u8, 2400 * 4));
        let p = write_bytes(dir.path(), "fortran.npy", &bytes);
        let npy = MmapNpy::open(&p).unwrap();
        assert!(npy.header().fortran_order);
        let s = assert_names(&MmapNpy::open_skeleton(&p).unwrap_err(), "fortran.npy");
        assert!(s.contains("found Fortran-order float32"), "{s}");
        let s = assert_names(&npy.row_f32(0).unwrap_err(), "fortran.npy");
        assert!(s.contains("C-order"), "{s}");
    }

    #[test]
    fn big_endian_where_native_needed() {
        let be = MmapNpy::open(fixture("big_endian_f8.npy")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = header_bytes(">f4", &[1, 3, 1, 25, 2]);
        bytes.extend(std::iter::repeat_n(0u8, 150 * 4));
        let p = write_bytes(dir.path(), "be.npy", &bytes);
        let s = assert_names(&MmapNpy::open_skeleton(&p).unwrap_err(), "be.npy");
        assert!(s.contains("found big-endian float32"), "{s}");
        let npy = MmapNpy::open(&p).unwrap();
        let s = assert_names(&npy.as_f32().unwrap_err(), "be.npy");
        assert!(s.contains("native-endian"), "{s}");
        assert!(be.as_f32().is_err());
    }

    #[test]
    fn bad_magic() {
        let dir = tempfile::tempdir().unwrap();
        let p = write_bytes(
            dir.path(),
            "data.npy",
            b"PK\x03\x04 this is a zip, not an npy",
        );
        let s = assert_names(&MmapNpy::open(&p).unwrap_err(), "data.npy");
        assert!(s.contains("bad magic"), "{s}");
        let mut b = std::fs::read(fixture("skeleton_f32.npy")).unwrap();
        b[6] = 9;
        let p = write_bytes(dir.path(), "v9.npy", &b);
        let s = assert_names(&MmapNpy::open(&p).unwrap_err(), "v9.npy");
        assert!(s.contains("version 9.0"), "{s}");
    }

    #[test]
    fn empty_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = write_bytes(dir.path(), "empty.npy", b"");
        let s = assert_names(&MmapNpy::open(&p).unwrap_err(), "empty.npy");
        assert!(s.contains("empty file"), "{s}");
        let e = MmapNpy::open(dir.path().join("missing.npy")).unwrap_err();
        assert!(matches!(e, DataError::Io { .. }));
        assert_names(&e, "missing.npy");
    }

    #[test]
    fn views_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<MmapNpy>();
        check::<NpyWriterF32>();
    }

    #[test]
    fn mutated_bytes_never_panic() {
        let good = std::fs::read(fixture("v2_i16.npy")).unwrap();
        for cut in 0..good.len() {
            let _ = MmapNpy::from_bytes(&good[..cut], "f.npy").map(|a| a.to_array());
        }
        for i in 0..good.len() {
            for bit in 0..8 {
                let mut b = good.clone();
                b[i] ^= 1 << bit;
                if let Ok(a) = MmapNpy::from_bytes(&b, "f.npy") {
                    let _ = a.to_array();
                    let _ = a.to_f32();
                    let _ = a.row_to_f32(0);
                    let _ = a.row_to_f64(1);
                }
            }
        }
    }
}
