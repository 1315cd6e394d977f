//! The allow-list: the only globals a pickle may name, and what calling or `BUILD`ing them
//! does. Nothing here runs code from the pickle; each entry is re-implemented as a plain
//! data transformation (NumPy array/dtype/scalar reconstruction, a few builtins).

use super::heap::{ArrayObj, Handle, Heap, Obj};
use super::text::string_to_latin1;
use super::value::{decode_scalar, DType, Scalar};

/// An allow-listed global.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Global {
    /// `numpy.core.multiarray._reconstruct` (NumPy 1) / `numpy._core.multiarray._reconstruct`.
    Reconstruct,
    /// `numpy.ndarray`, only as the first argument of `_reconstruct`.
    NdArrayType,
    /// `numpy.dtype`.
    DType,
    /// `numpy.core.numeric._frombuffer` / `numpy._core.numeric._frombuffer` (protocol 5).
    FromBuffer,
    /// `numpy.core.multiarray.scalar` / `numpy._core.multiarray.scalar`.
    Scalar,
    /// `_codecs.encode`: how protocols 0–2 carry `bytes` as Latin-1 text.
    CodecsEncode,
    Set,
    FrozenSet,
    List,
    Dict,
    Bytes,
    ByteArray,
}

impl Global {
    /// Looks `module.name` up in the allow-list.
    pub fn resolve(module: &str, name: &str) -> Result<Global, String> {
        let numpy_core = |sub: &str| {
            module
                .strip_prefix("numpy.core.")
                .or_else(|| module.strip_prefix("numpy._core."))
                == Some(sub)
        };
        let builtins = module == "builtins" || module == "__builtin__";
        Ok(match name {
            "_reconstruct" if numpy_core("multiarray") => Global::Reconstruct,
            "scalar" if numpy_core("multiarray") => Global::Scalar,
            "_frombuffer" if numpy_core("numeric") => Global::FromBuffer,
            "ndarray" if module == "numpy" => Global::NdArrayType,
            "dtype" if module == "numpy" => Global::DType,
            "encode" if module == "_codecs" => Global::CodecsEncode,
            "set" if builtins => Global::Set,
            "frozenset" if builtins => Global::FrozenSet,
            "list" if builtins => Global::List,
            "dict" if builtins => Global::Dict,
            "bytes" if builtins => Global::Bytes,
            "bytearray" if builtins => Global::ByteArray,
            _ => {
                return Err(format!(
                    "pickle global '{module}.{name}' is not allowed (asma rebuilds only NumPy \
                     arrays, dtypes and scalars and Python builtins; it never runs code from \
                     a pickle)"
                ))
            }
        })
    }

    /// The canonical dotted name, for messages.
    pub fn qualname(self) -> &'static str {
        match self {
            Global::Reconstruct => "numpy.core.multiarray._reconstruct",
            Global::NdArrayType => "numpy.ndarray",
            Global::DType => "numpy.dtype",
            Global::FromBuffer => "numpy.core.numeric._frombuffer",
            Global::Scalar => "numpy.core.multiarray.scalar",
            Global::CodecsEncode => "_codecs.encode",
            Global::Set => "builtins.set",
            Global::FrozenSet => "builtins.frozenset",
            Global::List => "builtins.list",
            Global::Dict => "builtins.dict",
            Global::Bytes => "builtins.bytes",
            Global::ByteArray => "builtins.bytearray",
        }
    }
}

type R<T> = Result<T, String>;

/// The allow-listed global at `h`, or an error saying what is there instead.
fn callee(heap: &Heap, h: Handle, what: &str) -> R<Global> {
    match heap.get(h) {
        Obj::Global(g) => Ok(*g),
        other => Err(format!(
            "{what}: object of type {} is not callable",
            other.type_name()
        )),
    }
}

/// `REDUCE` / `INST` / `OBJ`: the result of `callable(*args)`.
pub(super) fn call(heap: &mut Heap, callable: Handle, args: &[Handle]) -> R<Obj> {
    let g = callee(heap, callable, "call")?;
    let arity = |lo: usize, hi: usize| {
        if (lo..=hi).contains(&args.len()) {
            Ok(())
        } else {
            Err(format!(
                "{} called with {} arguments, expected {lo}..={hi}",
                g.qualname(),
                args.len()
            ))
        }
    };
    match g {
        Global::Reconstruct => {
            arity(3, 3)?;
            match heap.get(args[0]) {
                Obj::Global(Global::NdArrayType) => Ok(Obj::Array(Box::new(ArrayObj::empty()))),
                other => Err(format!(
                    "_reconstruct of a {} (only plain numpy.ndarray is supported)",
                    other.type_name()
                )),
            }
        }
        Global::NdArrayType => Err("numpy.ndarray cannot be called directly; only through \
             numpy.core.multiarray._reconstruct"
            .into()),
        Global::DType => {
            arity(1, 3)?;
            let code = str_arg(heap, args[0], "numpy.dtype type code")?;
            Ok(Obj::DType(Box::new(parse_dtype(code)?)))
        }
        Global::FromBuffer => {
            arity(4, 4)?;
            frombuffer(heap, args)
        }
        Global::Scalar => {
            arity(2, 2)?;
            numpy_scalar(heap, args[0], args[1])
        }
        Global::CodecsEncode => {
            arity(1, 2)?;
            let bytes = encode(heap, args[0], args.get(1).copied())?;
            heap.charge(bytes.len())?;
            Ok(Obj::Bytes(bytes))
        }
        Global::Set | Global::FrozenSet | Global::List => {
            arity(0, 1)?;
            let items = match args.first() {
                None => Vec::new(),
                Some(&h) => match heap.get(h) {
                    Obj::List(v) | Obj::Tuple(v) | Obj::Set(v) | Obj::FrozenSet(v) => v.clone(),
                    other => {
                        return Err(format!(
                            "{} of a {} is not supported",
                            g.qualname(),
                            other.type_name()
                        ))
                    }
                },
            };
            heap.charge(items.len() * std::mem::size_of::<Handle>())?;
            Ok(match g {
                Global::Set => Obj::Set(items),
                Global::FrozenSet => Obj::FrozenSet(items),
                _ => Obj::List(items),
            })
        }
        Global::Dict => {
            arity(0, 1)?;
            let entries = match args.first() {
                None => Vec::new(),
                Some(&h) => match heap.get(h) {
                    Obj::Dict(entries) => entries.clone(),
                    other => {
                        return Err(format!("dict of a {} is not supported", other.type_name()))
                    }
                },
            };
            heap.charge(entries.len() * 2 * std::mem::size_of::<Handle>())?;
            Ok(Obj::Dict(entries))
        }
        Global::Bytes | Global::ByteArray => {
            arity(0, 2)?;
            let bytes = match *args {
                [] => Vec::new(),
                [h] => {
                    let bytes = bytes_of(heap, h).ok_or_else(|| {
                        format!(
                            "{} of a {} is not supported",
                            g.qualname(),
                            heap.get(h).type_name()
                        )
                    })?;
                    bytes.to_vec()
                }
                [text, encoding] => encode(heap, text, Some(encoding))?,
                _ => return Err(format!("{} with {} arguments", g.qualname(), args.len())),
            };
            heap.charge(bytes.len())?;
            Ok(if g == Global::Bytes {
                Obj::Bytes(bytes)
            } else {
                Obj::ByteArray(bytes)
            })
        }
    }
}

/// `NEWOBJ` / `NEWOBJ_EX`: `cls.__new__(cls, *args)`. For `list`, `dict` and `set` that is
/// an empty container whatever the arguments (the items follow through `APPENDS` etc.).
pub(super) fn new_object(heap: &mut Heap, cls: Handle, args: &[Handle]) -> R<Obj> {
    match callee(heap, cls, "NEWOBJ")? {
        Global::List => Ok(Obj::List(Vec::new())),
        Global::Dict => Ok(Obj::Dict(Vec::new())),
        Global::Set => Ok(Obj::Set(Vec::new())),
        Global::Bytes | Global::ByteArray | Global::FrozenSet => call(heap, cls, args),
        g => Err(format!("NEWOBJ of {} is not supported", g.qualname())),
    }
}

/// `BUILD`: applies `state` to the object at `target` (NumPy arrays and dtypes only).
pub(super) fn build(heap: &mut Heap, target: Handle, state: Handle) -> R<()> {
    match heap.get(target) {
        Obj::Array(_) => build_array(heap, target, state),
        Obj::DType(_) => build_dtype(heap, target, state),
        other => Err(format!(
            "BUILD on a {} is not supported (only NumPy arrays and dtypes take a state)",
            other.type_name()
        )),
    }
}

/// The array state `(version, shape, dtype, is_fortran, raw_bytes)`, or the older
/// `(shape, dtype, is_fortran, raw_bytes)`.
fn build_array(heap: &mut Heap, target: Handle, state: Handle) -> R<()> {
    let items = heap.seq_items(state, false, "numpy array state")?;
    let [shape, dtype, fortran, raw] = match items[..] {
        [version, shape, dtype, fortran, raw] => {
            int_arg(heap, version, "numpy array state version")?;
            [shape, dtype, fortran, raw]
        }
        [shape, dtype, fortran, raw] => [shape, dtype, fortran, raw],
        _ => {
            return Err(format!(
                "numpy array state has {} items, expected 4 or 5",
                items.len()
            ))
        }
    };
    let shape = shape_arg(heap, shape)?;
    let dtype = dtype_arg(heap, dtype)?;
    let fortran = match heap.get(fortran) {
        Obj::Bool(b) => *b,
        Obj::Int(i @ (0 | 1)) => *i == 1,
        other => {
            return Err(format!(
                "numpy array state: Fortran flag is a {}",
                other.type_name()
            ))
        }
    };
    let data = match heap.get(raw) {
        Obj::Bytes(_) | Obj::ByteArray(_) => raw,
        // Python 2 pickles carry the raw data as a byte string, loaded as Latin-1 text.
        Obj::Str(s) => {
            let bytes = string_to_latin1(s)?;
            heap.charge(bytes.len())?;
            heap.alloc(Obj::Bytes(bytes))?
        }
        Obj::List(_) => return Err("NumPy object arrays are not supported".into()),
        other => {
            return Err(format!(
                "numpy array state: raw data is a {}",
                other.type_name()
            ))
        }
    };
    check_size(heap, data, &dtype, &shape)?;
    *heap.get_mut(target) = Obj::Array(Box::new(ArrayObj {
        dtype,
        shape,
        fortran,
        data: Some(data),
    }));
    Ok(())
}

/// The dtype state `(version, byte_order, subarray, names, fields, elsize, alignment, flags
/// [, metadata])` of NumPy's dtype pickles (versions 3 and 4).
fn build_dtype(heap: &mut Heap, target: Handle, state: Handle) -> R<()> {
    let items = heap.seq_items(state, false, "numpy dtype state")?;
    if !(8..=9).contains(&items.len()) {
        return Err(format!(
            "numpy dtype state has {} items, expected 8 or 9",
            items.len()
        ));
    }
    let order = str_arg(heap, items[1], "numpy dtype byte order")?;
    let order = match order {
        "<" | ">" | "|" | "=" => order.chars().next().unwrap_or('|'),
        _ => {
            return Err(format!(
                "numpy dtype byte order '{order}' is not one of < > | ="
            ))
        }
    };
    if !matches!(heap.get(items[2]), Obj::None) || !matches!(heap.get(items[3]), Obj::None) {
        return Err("structured and sub-array NumPy dtypes are not supported".into());
    }
    let elsize = int_arg(heap, items[5], "numpy dtype element size")?;
    let Obj::DType(dtype) = heap.get_mut(target) else {
        return Err("BUILD target is no longer a dtype".into());
    };
    dtype.byte_order = order;
    // Only the flexible kinds (byte strings, unicode, void) take their size from the
    // state; the others write -1 there.
    if matches!(dtype.kind(), 'S' | 'U' | 'V') && elsize > 0 {
        dtype.itemsize = usize::try_from(elsize).map_err(|_| "dtype too large".to_string())?;
    }
    Ok(())
}

/// `_frombuffer(buffer, dtype, shape, order)`: NumPy's protocol-5 array.
fn frombuffer(heap: &mut Heap, args: &[Handle]) -> R<Obj> {
    let buf = args[0];
    if bytes_of(heap, buf).is_none() {
        return Err(format!(
            "_frombuffer of a {}, expected bytes or bytearray",
            heap.get(buf).type_name()
        ));
    }
    let dtype = dtype_arg(heap, args[1])?;
    let shape = shape_arg(heap, args[2])?;
    let fortran = match str_arg(heap, args[3], "_frombuffer order")? {
        "C" => false,
        "F" => true,
        other => return Err(format!("_frombuffer order '{other}' is not C or F")),
    };
    check_size(heap, buf, &dtype, &shape)?;
    Ok(Obj::Array(Box::new(ArrayObj {
        dtype,
        shape,
        fortran,
        data: Some(buf),
    })))
}

/// `scalar(dtype, raw_bytes)`: a NumPy scalar, returned as a plain bool / int / float.
fn numpy_scalar(heap: &mut Heap, dtype: Handle, raw: Handle) -> R<Obj> {
    let dtype = dtype_arg(heap, dtype)?;
    let latin1;
    let raw = match heap.get(raw) {
        Obj::Str(s) => {
            latin1 = string_to_latin1(s)?;
            &latin1[..]
        }
        _ => bytes_of(heap, raw).ok_or_else(|| {
            format!(
                "numpy scalar of a {}, expected raw bytes",
                heap.get(raw).type_name()
            )
        })?,
    };
    Ok(
        match decode_scalar(&dtype, raw).map_err(|e| format!("numpy scalar: {e}"))? {
            Scalar::Bool(b) => Obj::Bool(b),
            Scalar::Int(i) => Obj::Int(i),
            Scalar::UInt(u) => Obj::Int(
                i64::try_from(u).map_err(|_| format!("numpy scalar {u} does not fit in i64"))?,
            ),
            Scalar::Float(f) => Obj::Float(f),
        },
    )
}

/// Parses the code passed to `numpy.dtype(...)`: an optional byte-order character, a kind
/// letter and an optional size (`f2`, `<i8`, `b1`, `U`, `S5`).
fn parse_dtype(code: &str) -> R<DType> {
    let (order, rest) = match code.chars().next() {
        Some(c @ ('<' | '>' | '|' | '=')) => (Some(c), &code[1..]),
        _ => (None, code),
    };
    let mut chars = rest.chars();
    let kind = chars
        .next()
        .filter(|c| c.is_ascii_alphabetic() || *c == '?')
        .ok_or_else(|| format!("'{code}' is not a NumPy type code"))?;
    let digits = chars.as_str();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("'{code}' is not a NumPy type code"));
    }
    let itemsize = if digits.is_empty() {
        match kind {
            '?' | 'b' => 1,
            'O' => 8,
            _ => 0,
        }
    } else {
        digits
            .parse::<usize>()
            .map_err(|_| format!("'{code}' is not a NumPy type code"))?
    };
    let kind = if kind == '?' { 'b' } else { kind };
    let byte_order = order.unwrap_or(if itemsize <= 1 || matches!(kind, 'S' | 'V' | 'O' | 'b') {
        '|'
    } else {
        '='
    });
    Ok(DType {
        code: format!("{kind}{digits}"),
        byte_order,
        itemsize,
    })
}

/// `str.encode(encoding)` for the encodings pickles use to carry bytes.
fn encode(heap: &mut Heap, text: Handle, encoding: Option<Handle>) -> R<Vec<u8>> {
    // Charged before the work: the same memoised text may be encoded again and again.
    let work = str_arg(heap, text, "text to encode")?.len()
        + encoding.map_or(Ok(0), |h| str_arg(heap, h, "encoding").map(str::len))?;
    heap.charge(work)?;
    let text = str_arg(heap, text, "text to encode")?;
    let encoding = match encoding {
        Some(h) => str_arg(heap, h, "encoding")?
            .to_ascii_lowercase()
            .replace('_', "-"),
        None => "utf-8".into(),
    };
    match encoding.as_str() {
        "latin1" | "latin-1" | "iso-8859-1" | "iso8859-1" | "l1" => string_to_latin1(text),
        "utf-8" | "utf8" => Ok(text.as_bytes().to_vec()),
        "ascii" if text.is_ascii() => Ok(text.as_bytes().to_vec()),
        other => Err(format!("encoding '{other}' is not supported for this text")),
    }
}

/// Checks that `data` holds exactly `product(shape) · itemsize` bytes.
fn check_size(heap: &Heap, data: Handle, dtype: &DType, shape: &[usize]) -> R<()> {
    if dtype.kind() == 'O' {
        return Err("NumPy object arrays are not supported".into());
    }
    let got = bytes_of(heap, data).map_or(0, <[u8]>::len);
    let expected = shape
        .iter()
        .try_fold(dtype.itemsize, |acc, &d| acc.checked_mul(d));
    if expected != Some(got) {
        return Err(format!(
            "numpy array of shape {shape:?} and dtype {} needs {} bytes, the pickle holds {got}",
            dtype.descr(),
            expected.map_or("too many".to_string(), |e| e.to_string())
        ));
    }
    Ok(())
}

fn bytes_of(heap: &Heap, h: Handle) -> Option<&[u8]> {
    match heap.get(h) {
        Obj::Bytes(b) | Obj::ByteArray(b) => Some(b),
        _ => None,
    }
}

fn str_arg<'h>(heap: &'h Heap, h: Handle, what: &str) -> R<&'h str> {
    match heap.get(h) {
        Obj::Str(s) => Ok(s),
        other => Err(format!("{what} is a {}, expected str", other.type_name())),
    }
}

fn int_arg(heap: &Heap, h: Handle, what: &str) -> R<i64> {
    match heap.get(h) {
        Obj::Int(i) => Ok(*i),
        other => Err(format!("{what} is a {}, expected int", other.type_name())),
    }
}

fn dtype_arg(heap: &Heap, h: Handle) -> R<DType> {
    match heap.get(h) {
        Obj::DType(d) => Ok((**d).clone()),
        other => Err(format!(
            "expected a numpy.dtype, found a {}",
            other.type_name()
        )),
    }
}

/// A shape: a tuple (or list) of non-negative ints.
fn shape_arg(heap: &mut Heap, h: Handle) -> R<Vec<usize>> {
    let items = heap.seq_items(h, true, "array shape")?;
    items
        .iter()
        .map(|&d| match heap.get(d) {
            Obj::Int(n) => usize::try_from(*n).map_err(|_| format!("negative array dimension {n}")),
            other => Err(format!("array dimension is a {}", other.type_name())),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_list() {
        assert_eq!(
            Global::resolve("numpy._core.multiarray", "_reconstruct"),
            Ok(Global::Reconstruct)
        );
        assert_eq!(
            Global::resolve("numpy.core.multiarray", "_reconstruct"),
            Ok(Global::Reconstruct)
        );
        assert_eq!(
            Global::resolve("numpy.core.numeric", "_frombuffer"),
            Ok(Global::FromBuffer)
        );
        assert_eq!(Global::resolve("__builtin__", "set"), Ok(Global::Set));
        for (m, n) in [
            ("os", "system"),
            ("builtins", "eval"),
            ("numpy.core.multiarray", "frombuffer"),
            ("numpy.core.evil.multiarray", "_reconstruct"),
            ("posix", "system"),
            ("numpy", "load"),
        ] {
            let err = Global::resolve(m, n).unwrap_err();
            assert!(err.contains(&format!("'{m}.{n}' is not allowed")), "{err}");
        }
    }

    #[test]
    fn dtype_codes() {
        let d = parse_dtype("f2").unwrap();
        assert_eq!((d.code.as_str(), d.byte_order, d.itemsize), ("f2", '=', 2));
        let d = parse_dtype(">i8").unwrap();
        assert_eq!((d.code.as_str(), d.byte_order, d.itemsize), ("i8", '>', 8));
        let d = parse_dtype("b1").unwrap();
        assert_eq!((d.byte_order, d.itemsize), ('|', 1));
        let d = parse_dtype("U").unwrap();
        assert_eq!(d.itemsize, 0);
        assert!(parse_dtype("").is_err());
        assert!(parse_dtype("f2[x]").is_err());
        assert!(parse_dtype("f99999999999999999999999").is_err());
    }
}
