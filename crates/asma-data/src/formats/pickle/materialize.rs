//! Turns the VM's object graph into a [`Value`] tree.
//!
//! Objects reachable once (nearly all of them, e.g. every keypoint array) are moved out of
//! the arena, never copied; an object reachable several times (a memoised dict key, the
//! same list twice) is copied for every holder but the last, and those copies are charged
//! to the allocation budget, so a small hostile pickle cannot expand into gigabytes.
//! Cycles (a list containing itself) are refused. The walk keeps its own stack instead of
//! recursing, so hostile nesting cannot overflow the thread's stack; the depth is still
//! bounded because dropping a `Value` recurses.

use super::heap::{ArrayObj, Handle, Obj};
use super::value::{NdArray, Value};

type R<T> = Result<T, String>;

/// Builds the value rooted at `root`.
pub(super) fn materialize(
    objs: Vec<Obj>,
    budget: usize,
    root: Handle,
    max_depth: usize,
) -> R<Value> {
    let mut objs = objs;
    let refs = count_references(&objs, root);
    // Free what the result does not hold before building it: in a protocol-2 file the
    // Latin-1 text of every array's data (an argument of `_codecs.encode`) is as large as
    // the data itself.
    for (obj, &r) in objs.iter_mut().zip(&refs) {
        if r == 0 {
            *obj = Obj::Taken;
        }
    }
    let active = vec![false; objs.len()];
    let mut builder = Builder {
        objs,
        refs,
        active,
        budget,
        max_depth,
    };
    builder.build(root)
}

/// For every object reachable from `root`, how many reachable holders point at it (the
/// root counts one, for the caller).
fn count_references(objs: &[Obj], root: Handle) -> Vec<usize> {
    let mut refs = vec![0usize; objs.len()];
    let mut seen = vec![false; objs.len()];
    refs[root] = 1;
    seen[root] = true;
    let mut todo = vec![root];
    while let Some(h) = todo.pop() {
        objs[h].for_each_child(|child| {
            refs[child] += 1;
            if !seen[child] {
                seen[child] = true;
                todo.push(child);
            }
        });
    }
    refs
}

/// The container kinds, i.e. the objects whose value needs their children first.
enum Kind {
    List,
    Tuple,
    Set,
    FrozenSet,
    Dict,
    /// An array; its one child (if any) is the data buffer.
    Array(Box<ArrayObj>),
}

/// A container being built: its children are visited one by one into `done`.
struct Frame {
    handle: Handle,
    kind: Kind,
    children: std::vec::IntoIter<Handle>,
    /// Whether the children's visits use up a holder (see [`Builder::enter`]).
    consume: bool,
    done: Vec<Value>,
}

/// What entering an object gives: a finished value, or a container to fill.
enum Entered {
    Value(Value),
    Frame(Frame),
}

struct Builder {
    objs: Vec<Obj>,
    /// Holders not yet used up.
    refs: Vec<usize>,
    /// Containers on the current path from the root (entering one again means a cycle).
    active: Vec<bool>,
    budget: usize,
    max_depth: usize,
}

impl Builder {
    /// Depth-first, children in order, with an explicit stack of open containers.
    fn build(&mut self, root: Handle) -> R<Value> {
        let mut stack: Vec<Frame> = Vec::new();
        let mut visit = Some((root, true));
        loop {
            if let Some((h, consume)) = visit.take() {
                match self.enter(h, consume, stack.len())? {
                    Entered::Value(v) => match stack.last_mut() {
                        Some(parent) => parent.done.push(v),
                        None => return Ok(v),
                    },
                    Entered::Frame(frame) => {
                        self.active[frame.handle] = true;
                        stack.push(frame);
                    }
                }
            }
            let top = stack
                .last_mut()
                .ok_or("internal error: no open container")?;
            if let Some(child) = top.children.next() {
                visit = Some((child, top.consume));
                continue;
            }
            let Some(frame) = stack.pop() else {
                return Err("internal error: no open container".into());
            };
            self.active[frame.handle] = false;
            let value = finish(frame)?;
            match stack.last_mut() {
                Some(parent) => parent.done.push(value),
                None => return Ok(value),
            }
        }
    }

    /// Starts object `h` at nesting `depth`. `consume`: this visit comes from a holder that
    /// is itself being moved, so it uses up one of `h`'s holders; the visit that uses up
    /// the last one moves `h` out of the arena, every other visit copies it.
    fn enter(&mut self, h: Handle, consume: bool, depth: usize) -> R<Entered> {
        if depth >= self.max_depth {
            return Err(format!(
                "objects nested deeper than {} levels",
                self.max_depth
            ));
        }
        if self.active[h] {
            return Err(
                "the pickle holds a recursive structure (a container inside itself), which \
                 asma does not support"
                    .into(),
            );
        }
        let last = if consume {
            // Every consuming visit follows a counted edge, so this cannot underflow; an
            // error rather than a panic if it ever did.
            self.refs[h] = self.refs[h]
                .checked_sub(1)
                .ok_or("internal error: object used more often than it is held")?;
            self.refs[h] == 0
        } else {
            false
        };
        let obj = if last {
            std::mem::replace(&mut self.objs[h], Obj::Taken)
        } else {
            let cost = self.objs[h].copy_cost();
            self.budget = self.budget.checked_sub(cost).ok_or(
                "the result would copy shared objects far beyond the file's size; refusing to \
                 go on",
            )?;
            self.objs[h].clone()
        };
        let (kind, children) = match obj {
            Obj::None => return Ok(Entered::Value(Value::None)),
            Obj::Bool(b) => return Ok(Entered::Value(Value::Bool(b))),
            Obj::Int(i) => return Ok(Entered::Value(Value::Int(i))),
            Obj::Float(f) => return Ok(Entered::Value(Value::Float(f))),
            Obj::Str(s) => return Ok(Entered::Value(Value::Str(s))),
            Obj::Bytes(b) => return Ok(Entered::Value(Value::Bytes(b))),
            Obj::ByteArray(b) => return Ok(Entered::Value(Value::ByteArray(b))),
            Obj::DType(d) => return Ok(Entered::Value(Value::DType(*d))),
            Obj::Global(g) => {
                return Err(format!(
                    "the pickle's data holds the callable {} itself rather than data built \
                     by it",
                    g.qualname()
                ))
            }
            Obj::Taken => return Err("internal error: object used after it was moved".into()),
            Obj::List(hs) => (Kind::List, hs),
            Obj::Tuple(hs) => (Kind::Tuple, hs),
            Obj::Set(hs) => (Kind::Set, hs),
            Obj::FrozenSet(hs) => (Kind::FrozenSet, hs),
            Obj::Dict(entries) => (
                Kind::Dict,
                entries.into_iter().flat_map(|(k, v)| [k, v]).collect(),
            ),
            Obj::Array(a) => {
                let children = a.data.into_iter().collect();
                (Kind::Array(a), children)
            }
        };
        Ok(Entered::Frame(Frame {
            handle: h,
            kind,
            done: Vec::with_capacity(children.len()),
            children: children.into_iter(),
            consume: last,
        }))
    }
}

/// The value of a container whose children are all built.
fn finish(frame: Frame) -> R<Value> {
    let items = frame.done;
    Ok(match frame.kind {
        Kind::List => Value::List(items),
        Kind::Tuple => Value::Tuple(items),
        Kind::Set => Value::Set(items),
        Kind::FrozenSet => Value::FrozenSet(items),
        Kind::Dict => {
            let mut entries = Vec::with_capacity(items.len() / 2);
            let mut it = items.into_iter();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                entries.push((k, v));
            }
            Value::Dict(entries)
        }
        Kind::Array(a) => {
            let data = match items.into_iter().next() {
                None => Vec::new(),
                Some(Value::Bytes(b) | Value::ByteArray(b)) => b,
                Some(other) => return Err(format!("array data is a {}", other.type_name())),
            };
            // The VM checked this at BUILD; checked again so that an NdArray never leaves
            // this module inconsistent.
            let expected = a
                .shape
                .iter()
                .try_fold(a.dtype.itemsize, |acc, &d| acc.checked_mul(d));
            if expected != Some(data.len()) {
                return Err("array data does not match its shape and dtype".into());
            }
            Value::NdArray(NdArray {
                dtype: a.dtype,
                shape: a.shape,
                fortran_order: a.fortran,
                data,
            })
        }
    })
}
