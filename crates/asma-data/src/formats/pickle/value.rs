//! What a loaded pickle holds: Python builtins plus the NumPy objects the allow-list
//! rebuilds (arrays, dtypes; NumPy scalars become plain ints, floats and bools).

use half::f16;

/// A Python object rebuilt from a pickle.
///
/// Python `dict`s keep their pickled order and, if a hand-made pickle repeats a key, every
/// entry: [`Value::get`] returns the last one, which is what Python would keep.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `None`.
    None,
    /// `bool` (also a NumPy `bool_` scalar).
    Bool(bool),
    /// `int` within `i64` (also a NumPy integer scalar).
    Int(i64),
    /// `float` (also a NumPy `float16/32/64` scalar).
    Float(f64),
    /// `str`. Python 2 byte strings (`STRING` opcodes) are read as Latin-1 text.
    Str(String),
    /// `bytes`.
    Bytes(Vec<u8>),
    /// `bytearray`.
    ByteArray(Vec<u8>),
    /// `list`.
    List(Vec<Value>),
    /// `tuple`.
    Tuple(Vec<Value>),
    /// `dict`, in insertion order.
    Dict(Vec<(Value, Value)>),
    /// `set`, in pickled order.
    Set(Vec<Value>),
    /// `frozenset`, in pickled order.
    FrozenSet(Vec<Value>),
    /// `numpy.ndarray`.
    NdArray(NdArray),
    /// `numpy.dtype` standing on its own (arrays carry theirs inside [`NdArray`]).
    DType(DType),
}

impl Value {
    /// The Python type name, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::None => "None",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::Bytes(_) => "bytes",
            Value::ByteArray(_) => "bytearray",
            Value::List(_) => "list",
            Value::Tuple(_) => "tuple",
            Value::Dict(_) => "dict",
            Value::Set(_) => "set",
            Value::FrozenSet(_) => "frozenset",
            Value::NdArray(_) => "numpy.ndarray",
            Value::DType(_) => "numpy.dtype",
        }
    }

    /// The text of a `str`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value of an `int` (not of a `bool`: a label or a count is never `True`).
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The items of a `list` or `tuple` (readers accept either where Python code would).
    pub fn as_seq(&self) -> Option<&[Value]> {
        match self {
            Value::List(items) | Value::Tuple(items) => Some(items),
            _ => None,
        }
    }

    /// The entries of a `dict`.
    pub fn as_dict(&self) -> Option<&[(Value, Value)]> {
        match self {
            Value::Dict(entries) => Some(entries),
            _ => None,
        }
    }

    /// The array of a `numpy.ndarray`.
    pub fn as_ndarray(&self) -> Option<&NdArray> {
        match self {
            Value::NdArray(a) => Some(a),
            _ => None,
        }
    }

    /// `self[key]` for a `dict` with a `str` key; the last entry wins, as in Python.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_dict()?
            .iter()
            .rev()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }
}

/// A NumPy data type as pickled: the type code NumPy passes to `numpy.dtype` (`f2`, `f4`,
/// `i8`, `b1`, `U`, ...) and the byte order of its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DType {
    /// The type code, without byte-order prefix, e.g. `f2`.
    pub code: String,
    /// `<` little-endian, `>` big-endian, `|` not applicable (1-byte and byte-string types),
    /// `=` native (a dtype whose state never came).
    pub byte_order: char,
    /// Bytes per element.
    pub itemsize: usize,
}

impl DType {
    /// The NumPy kind letter (`f`, `i`, `u`, `b`, `c`, `S`, `U`, `V`, `O`, `M`, `m`, ...).
    pub fn kind(&self) -> char {
        self.code.chars().next().unwrap_or('?')
    }

    /// The `descr` string NumPy would print, e.g. `<f2`.
    pub fn descr(&self) -> String {
        format!("{}{}{}", self.byte_order, self.kind(), self.itemsize)
    }

    /// Whether multi-byte elements are stored little-endian.
    fn little_endian(&self) -> bool {
        match self.byte_order {
            '<' => true,
            '>' => false,
            // `=` and `|` mean native (for `|` the order does not matter).
            _ => cfg!(target_endian = "little"),
        }
    }

    /// How elements of this dtype decode into numbers, if they do.
    fn numeric(&self) -> Option<Numeric> {
        match (self.kind(), self.itemsize) {
            ('b', 1) => Some(Numeric::Bool),
            ('i', 1 | 2 | 4 | 8) => Some(Numeric::Int {
                signed: true,
                size: self.itemsize,
            }),
            ('u', 1 | 2 | 4 | 8) => Some(Numeric::Int {
                signed: false,
                size: self.itemsize,
            }),
            ('f', 2 | 4 | 8) => Some(Numeric::Float {
                size: self.itemsize,
            }),
            _ => None,
        }
    }
}

/// Decodable element kinds.
#[derive(Debug, Clone, Copy)]
enum Numeric {
    Bool,
    Int { signed: bool, size: usize },
    Float { size: usize },
}

/// One decoded element: integers stay exact, floats keep their precision.
#[derive(Debug, Clone, Copy)]
pub(super) enum Scalar {
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
}

impl Numeric {
    /// Decodes one element of `bytes.len() == size` bytes.
    fn decode(self, bytes: &[u8], little: bool) -> Scalar {
        let mut word = [0u8; 8];
        let n = bytes.len().min(8);
        if little {
            word[..n].copy_from_slice(&bytes[..n]);
        } else {
            // Reverse into little-endian order so one code path serves both.
            for (dst, src) in word[..n].iter_mut().zip(bytes[..n].iter().rev()) {
                *dst = *src;
            }
        }
        let raw = u64::from_le_bytes(word);
        match self {
            Numeric::Bool => Scalar::Bool(raw != 0),
            Numeric::Int { signed: true, size } => {
                // Sign-extend from `size` bytes.
                let shift = 64 - 8 * size as u32;
                Scalar::Int(((raw << shift) as i64) >> shift)
            }
            Numeric::Int { signed: false, .. } => Scalar::UInt(raw),
            Numeric::Float { size: 2 } => Scalar::Float(f16::from_bits(raw as u16).to_f64()),
            Numeric::Float { size: 4 } => Scalar::Float(f32::from_bits(raw as u32) as f64),
            Numeric::Float { .. } => Scalar::Float(f64::from_bits(raw)),
        }
    }
}

/// Decodes one NumPy scalar's raw bytes (the `numpy.core.multiarray.scalar` payload).
pub(super) fn decode_scalar(dtype: &DType, raw: &[u8]) -> Result<Scalar, ArrayError> {
    let numeric = dtype
        .numeric()
        .ok_or_else(|| ArrayError::Unsupported(dtype.descr(), "a number"))?;
    if raw.len() != dtype.itemsize {
        return Err(ArrayError::Size {
            got: raw.len(),
            expected: dtype.itemsize,
            shape: Vec::new(),
            dtype: dtype.descr(),
        });
    }
    Ok(numeric.decode(raw, dtype.little_endian()))
}

/// Why an array cannot be read as numbers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArrayError {
    /// The dtype is not numeric in the requested way.
    #[error("numpy dtype '{0}' cannot be read as {1}")]
    Unsupported(String, &'static str),
    /// The byte buffer does not match shape × itemsize.
    #[error(
        "array data holds {got} bytes, expected {expected} for shape {shape:?} of dtype {dtype}"
    )]
    Size {
        got: usize,
        expected: usize,
        shape: Vec<usize>,
        dtype: String,
    },
    /// An unsigned 64-bit element above `i64::MAX`.
    #[error("value {0} does not fit in a signed 64-bit integer")]
    Overflow(u64),
}

/// A NumPy array: dtype, shape, memory order and the raw element bytes exactly as pickled.
#[derive(Debug, Clone, PartialEq)]
pub struct NdArray {
    /// Element type.
    pub dtype: DType,
    /// Dimensions (empty for a 0-d array).
    pub shape: Vec<usize>,
    /// Whether `data` is stored in Fortran (column-major) order.
    pub fortran_order: bool,
    /// `product(shape) · itemsize` bytes.
    pub data: Vec<u8>,
}

impl NdArray {
    /// Number of elements, `product(shape)` (saturating; a real array never overflows).
    pub fn len(&self) -> usize {
        self.shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .unwrap_or(usize::MAX)
    }

    /// True when the array has no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every element as `f32`, in C (row-major) order whatever the storage order.
    /// Accepts float16/32/64 (float64 rounds), integers (large ones round) and bools.
    pub fn to_f32_vec(&self) -> Result<Vec<f32>, ArrayError> {
        let numeric = self.checked("f32")?;
        let little = self.dtype.little_endian();
        let size = self.dtype.itemsize;
        // float16 and float32 get their own loops: keypoint files hold tens of millions
        // of values, and the generic path costs several times more per element.
        let stored: Vec<f32> = match numeric {
            Numeric::Float { size: 2 } => self
                .data
                .chunks_exact(2)
                .map(|c| {
                    let bits = [c[0], c[1]];
                    let bits = if little {
                        u16::from_le_bytes(bits)
                    } else {
                        u16::from_be_bytes(bits)
                    };
                    f16::from_bits(bits).to_f32()
                })
                .collect(),
            Numeric::Float { size: 4 } => self
                .data
                .chunks_exact(4)
                .map(|c| {
                    let bits = [c[0], c[1], c[2], c[3]];
                    f32::from_bits(if little {
                        u32::from_le_bytes(bits)
                    } else {
                        u32::from_be_bytes(bits)
                    })
                })
                .collect(),
            _ => self
                .data
                .chunks_exact(size)
                .map(|c| match numeric.decode(c, little) {
                    Scalar::Bool(b) => b as u8 as f32,
                    Scalar::Int(i) => i as f32,
                    Scalar::UInt(u) => u as f32,
                    Scalar::Float(f) => f as f32,
                })
                .collect(),
        };
        Ok(self.c_order(stored))
    }

    /// Every element as `i64`, in C order. Accepts integer and bool dtypes only (floats
    /// would silently truncate); `uint64` values above `i64::MAX` are an error.
    pub fn to_i64_vec(&self) -> Result<Vec<i64>, ArrayError> {
        // Checked up front so that an empty float array is refused too.
        if self.dtype.kind() == 'f' {
            return Err(ArrayError::Unsupported(self.dtype.descr(), "integers"));
        }
        let numeric = self.checked("integers")?;
        let little = self.dtype.little_endian();
        let mut stored = Vec::with_capacity(self.data.len() / self.dtype.itemsize);
        for c in self.data.chunks_exact(self.dtype.itemsize) {
            stored.push(match numeric.decode(c, little) {
                Scalar::Bool(b) => b as i64,
                Scalar::Int(i) => i,
                Scalar::UInt(u) => i64::try_from(u).map_err(|_| ArrayError::Overflow(u))?,
                Scalar::Float(_) => {
                    return Err(ArrayError::Unsupported(self.dtype.descr(), "integers"))
                }
            });
        }
        Ok(self.c_order(stored))
    }

    /// The element decoding, after checking that `data` matches shape × itemsize (the
    /// fields are public, so the check cannot be left to the pickle reader).
    fn checked(&self, target: &'static str) -> Result<Numeric, ArrayError> {
        let numeric = self
            .dtype
            .numeric()
            .ok_or_else(|| ArrayError::Unsupported(self.dtype.descr(), target))?;
        let expected = self
            .shape
            .iter()
            .try_fold(self.dtype.itemsize, |acc, &d| acc.checked_mul(d));
        if expected != Some(self.data.len()) {
            return Err(ArrayError::Size {
                got: self.data.len(),
                expected: expected.unwrap_or(usize::MAX),
                shape: self.shape.clone(),
                dtype: self.dtype.descr(),
            });
        }
        Ok(numeric)
    }

    /// `stored` (elements in storage order) rearranged into C order.
    fn c_order<T: Copy + Default>(&self, stored: Vec<T>) -> Vec<T> {
        if !self.fortran_order || self.shape.len() < 2 {
            return stored;
        }
        // Fortran storage: walk the stored elements with the first index running fastest
        // and drop each one at its C-order position.
        let mut out = vec![T::default(); stored.len()];
        let mut index = vec![0usize; self.shape.len()];
        for value in stored {
            let c_pos = index
                .iter()
                .zip(&self.shape)
                .fold(0usize, |acc, (&i, &d)| acc * d + i);
            if let Some(slot) = out.get_mut(c_pos) {
                *slot = value;
            }
            for (i, &d) in index.iter_mut().zip(&self.shape) {
                *i += 1;
                if *i < d {
                    break;
                }
                *i = 0;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dtype(code: &str, order: char, itemsize: usize) -> DType {
        DType {
            code: code.into(),
            byte_order: order,
            itemsize,
        }
    }

    #[test]
    fn f16_little_and_big_endian() {
        let half = f16::from_f32(-1.5).to_bits();
        let a = NdArray {
            dtype: dtype("f2", '<', 2),
            shape: vec![2],
            fortran_order: false,
            data: [
                half.to_le_bytes(),
                f16::from_f32(0.25).to_bits().to_le_bytes(),
            ]
            .concat(),
        };
        assert_eq!(a.to_f32_vec().unwrap(), vec![-1.5, 0.25]);
        let b = NdArray {
            dtype: dtype("f2", '>', 2),
            data: half.to_be_bytes().to_vec(),
            shape: vec![1],
            fortran_order: false,
        };
        assert_eq!(b.to_f32_vec().unwrap(), vec![-1.5]);
    }

    #[test]
    fn fortran_order_is_returned_in_c_order() {
        // C-order values 0..6 of shape (2, 3) stored column-major: 0 3 1 4 2 5.
        let a = NdArray {
            dtype: dtype("i1", '|', 1),
            shape: vec![2, 3],
            fortran_order: true,
            data: vec![0, 3, 1, 4, 2, 5],
        };
        assert_eq!(a.to_i64_vec().unwrap(), vec![0, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn ints_sign_extend_and_overflow() {
        let a = NdArray {
            dtype: dtype("i2", '<', 2),
            shape: vec![1],
            fortran_order: false,
            data: (-300i16).to_le_bytes().to_vec(),
        };
        assert_eq!(a.to_i64_vec().unwrap(), vec![-300]);
        let b = NdArray {
            dtype: dtype("u8", '<', 8),
            shape: vec![1],
            fortran_order: false,
            data: u64::MAX.to_le_bytes().to_vec(),
        };
        assert_eq!(b.to_i64_vec(), Err(ArrayError::Overflow(u64::MAX)));
    }

    #[test]
    fn inconsistent_arrays_are_errors_not_panics() {
        let a = NdArray {
            dtype: dtype("f4", '<', 4),
            shape: vec![3],
            fortran_order: true,
            data: vec![0; 5],
        };
        assert!(matches!(a.to_f32_vec(), Err(ArrayError::Size { .. })));
        let b = NdArray {
            dtype: dtype("U", '<', 12),
            shape: vec![1],
            fortran_order: false,
            data: vec![0; 12],
        };
        assert!(matches!(b.to_f32_vec(), Err(ArrayError::Unsupported(..))));
        let f = NdArray {
            dtype: dtype("f8", '<', 8),
            shape: vec![1],
            fortran_order: false,
            data: vec![0; 8],
        };
        assert!(f.to_i64_vec().is_err());
    }

    #[test]
    fn dict_get_takes_the_last_entry() {
        let d = Value::Dict(vec![
            (Value::Str("a".into()), Value::Int(1)),
            (Value::Str("a".into()), Value::Int(2)),
        ]);
        assert_eq!(d.get("a"), Some(&Value::Int(2)));
        assert_eq!(d.get("b"), None);
    }
}
