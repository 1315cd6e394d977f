//! The objects the VM builds, kept in one arena and referred to by index.
//!
//! Python objects are shared by reference: NumPy memoises a dtype right after creating it
//! and fills in its byte order with a later `BUILD`, and every other array of that dtype
//! then refers to the same memo entry. Handles into an arena give the VM that sharing
//! without reference-counted cells; [`super::materialize`] turns the graph into a
//! [`super::Value`] tree at the end.

use super::globals::Global;
use super::value::DType;

/// Index of an object in the [`Heap`].
pub(super) type Handle = usize;

/// One Python object under construction. Containers hold handles, never objects, so a
/// shared or later-mutated object is seen the same way by all its holders.
#[derive(Debug, Clone)]
pub(super) enum Obj {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    ByteArray(Vec<u8>),
    List(Vec<Handle>),
    Tuple(Vec<Handle>),
    Dict(Vec<(Handle, Handle)>),
    Set(Vec<Handle>),
    FrozenSet(Vec<Handle>),
    /// An allow-listed callable or type.
    Global(Global),
    DType(Box<DType>),
    Array(Box<ArrayObj>),
    /// What [`super::materialize`] leaves behind after moving an object out.
    Taken,
}

/// A `numpy.ndarray` under construction: `_reconstruct` makes an empty one, `BUILD` gives
/// it dtype, shape and data; `_frombuffer` makes a complete one at once.
#[derive(Debug, Clone)]
pub(super) struct ArrayObj {
    /// Copied (not shared) at `BUILD`, so a later `BUILD` of the dtype object cannot change
    /// the item size after the data length was checked against it.
    pub dtype: DType,
    pub shape: Vec<usize>,
    pub fortran: bool,
    /// A `bytes` or `bytearray` object; `None` before `BUILD` (NumPy: an empty uint8 array).
    pub data: Option<Handle>,
}

impl ArrayObj {
    /// What `numpy.core.multiarray._reconstruct(ndarray, (0,), b'b')` returns.
    pub fn empty() -> Self {
        ArrayObj {
            dtype: DType {
                code: "u1".into(),
                byte_order: '|',
                itemsize: 1,
            },
            shape: vec![0],
            fortran: false,
            data: None,
        }
    }
}

impl Obj {
    /// Python type name for error messages.
    pub fn type_name(&self) -> String {
        match self {
            Obj::None => "None".into(),
            Obj::Bool(_) => "bool".into(),
            Obj::Int(_) => "int".into(),
            Obj::Float(_) => "float".into(),
            Obj::Str(_) => "str".into(),
            Obj::Bytes(_) => "bytes".into(),
            Obj::ByteArray(_) => "bytearray".into(),
            Obj::List(_) => "list".into(),
            Obj::Tuple(_) => "tuple".into(),
            Obj::Dict(_) => "dict".into(),
            Obj::Set(_) => "set".into(),
            Obj::FrozenSet(_) => "frozenset".into(),
            Obj::Global(g) => format!("global {}", g.qualname()),
            Obj::DType(_) => "numpy.dtype".into(),
            Obj::Array(_) => "numpy.ndarray".into(),
            Obj::Taken => "(moved object)".into(),
        }
    }

    /// Calls `f` on every handle this object holds.
    pub fn for_each_child(&self, mut f: impl FnMut(Handle)) {
        match self {
            Obj::List(items) | Obj::Tuple(items) | Obj::Set(items) | Obj::FrozenSet(items) => {
                items.iter().copied().for_each(f)
            }
            Obj::Dict(entries) => entries.iter().for_each(|&(k, v)| {
                f(k);
                f(v);
            }),
            Obj::Array(a) => a.data.into_iter().for_each(f),
            _ => {}
        }
    }

    /// Bytes of payload a copy of this object (not of its children) allocates, for the
    /// allocation budget.
    pub fn copy_cost(&self) -> usize {
        const NODE: usize = 32;
        NODE + match self {
            Obj::Str(s) => s.len(),
            Obj::Bytes(b) | Obj::ByteArray(b) => b.len(),
            Obj::List(items) | Obj::Tuple(items) | Obj::Set(items) | Obj::FrozenSet(items) => {
                items.len() * std::mem::size_of::<Handle>()
            }
            Obj::Dict(entries) => entries.len() * 2 * std::mem::size_of::<Handle>(),
            Obj::DType(d) => d.code.len(),
            Obj::Array(a) => a.shape.len() * std::mem::size_of::<usize>() + a.dtype.code.len(),
            _ => 0,
        }
    }
}

/// The arena, with the limits that keep hostile input from exhausting memory.
pub(super) struct Heap {
    objs: Vec<Obj>,
    max_objects: usize,
    /// Bytes that may still be allocated beyond what the input itself spells out (copies
    /// made by `_codecs.encode`, `bytes(...)`, shared objects duplicated in the result).
    budget: usize,
}

impl Heap {
    /// An empty arena holding at most `max_objects`, with `budget` bytes of derived data.
    pub fn new(max_objects: usize, budget: usize) -> Self {
        Heap {
            objs: Vec::new(),
            max_objects,
            budget,
        }
    }

    /// Adds an object.
    pub fn alloc(&mut self, obj: Obj) -> Result<Handle, String> {
        if self.objs.len() >= self.max_objects {
            return Err(format!(
                "more than {} objects; refusing to go on",
                self.max_objects
            ));
        }
        self.objs.push(obj);
        Ok(self.objs.len() - 1)
    }

    /// The object at `h`. Handles only come from [`Heap::alloc`], so they are in range.
    pub fn get(&self, h: Handle) -> &Obj {
        &self.objs[h]
    }

    /// The object at `h`, mutably.
    pub fn get_mut(&mut self, h: Handle) -> &mut Obj {
        &mut self.objs[h]
    }

    /// Takes `bytes` out of the allocation budget.
    pub fn charge(&mut self, bytes: usize) -> Result<(), String> {
        self.budget = self.budget.checked_sub(bytes).ok_or_else(|| {
            "builds far more data than the file holds (shared objects copied over and over?); \
             refusing to go on"
                .to_string()
        })?;
        Ok(())
    }

    /// A copy of the handles of the tuple (or, with `or_list`, list) at `h`. The copy is
    /// charged: the same memoised tuple may be used over and over.
    pub fn seq_items(
        &mut self,
        h: Handle,
        or_list: bool,
        what: &str,
    ) -> Result<Vec<Handle>, String> {
        let items = match &self.objs[h] {
            Obj::Tuple(items) => items,
            Obj::List(items) if or_list => items,
            other => {
                return Err(format!(
                    "{what} is a {}, expected a tuple",
                    other.type_name()
                ))
            }
        };
        let cost = items.len() * std::mem::size_of::<Handle>();
        let items = items.clone();
        self.charge(cost)?;
        Ok(items)
    }

    /// Hands the arena and what is left of the budget to the result builder.
    pub fn into_parts(self) -> (Vec<Obj>, usize) {
        (self.objs, self.budget)
    }
}
