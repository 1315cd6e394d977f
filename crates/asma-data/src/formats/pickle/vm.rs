//! The pickle machine: reads opcodes one by one, keeps Python's stack, mark stack and memo,
//! and builds objects in the [`Heap`]. Every length is checked against the bytes left
//! before anything is allocated, and every failure names the opcode and its byte offset.

use std::collections::HashMap;

use super::globals::{self, Global};
use super::heap::{Handle, Heap, Obj};
use super::ops::*;
use super::text;
use super::Limits;

type R<T> = Result<T, String>;

/// Runs `input` to its `STOP` opcode; returns the arena and the handle of the result.
/// Errors read "byte N (OPCODE): what went wrong".
pub(super) fn run(input: &[u8], limits: &Limits) -> R<(Heap, Handle)> {
    let mut vm = Vm {
        input,
        pos: 0,
        heap: Heap::new(limits.max_objects, limits.budget(input.len())),
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
        limits,
    };
    loop {
        let at = vm.pos;
        let Some(&op) = input.get(at) else {
            return Err(format!(
                "byte {at}: the pickle ends without a STOP opcode (truncated file?)"
            ));
        };
        vm.pos += 1;
        match vm.step(op) {
            Ok(Some(root)) => return Ok((vm.heap, root)),
            Ok(None) => {}
            Err(msg) => {
                let label = name(op).map_or_else(|| format!("0x{op:02x}"), str::to_string);
                return Err(format!("byte {at} ({label}): {msg}"));
            }
        }
    }
}

struct Vm<'a, 'l> {
    input: &'a [u8],
    pos: usize,
    heap: Heap,
    /// Handles; the items above the last mark form Python's current stack.
    stack: Vec<Handle>,
    /// Stack lengths at each `MARK` (Python's metastack).
    marks: Vec<usize>,
    memo: HashMap<u64, Handle>,
    limits: &'l Limits,
}

impl<'a> Vm<'a, '_> {
    /// Executes one opcode; `Some(result)` at `STOP`.
    fn step(&mut self, op: u8) -> R<Option<Handle>> {
        match op {
            PROTO => {
                let version = self.u8()?;
                if version > 5 {
                    return Err(format!("unsupported pickle protocol {version}"));
                }
            }
            FRAME => {
                // Frames only group opcodes for buffered reading; the whole input is in
                // memory, so a frame needs no more than a plausible length.
                let len = self.u64()?;
                let left = self.input.len() - self.pos;
                if len > left as u64 {
                    return Err(format!(
                        "frame of {len} bytes but only {left} remain (truncated file?)"
                    ));
                }
            }
            STOP => return Ok(Some(self.pop()?)),
            MARK => {
                if self.marks.len() >= self.limits.max_marks {
                    return Err(format!("more than {} open MARKs", self.limits.max_marks));
                }
                self.marks.push(self.stack.len());
            }
            POP => {
                // As in CPython, POP on an empty stack discards the mark instead.
                if self.stack.len() > self.floor() {
                    self.stack.pop();
                } else {
                    self.pop_mark()?;
                }
            }
            POP_MARK => {
                self.pop_mark()?;
            }
            DUP => {
                let top = self.top()?;
                self.push_handle(top)?;
            }
            NONE => self.push(Obj::None)?,
            NEWTRUE => self.push(Obj::Bool(true))?,
            NEWFALSE => self.push(Obj::Bool(false))?,
            INT => {
                // Protocol 0 writes booleans as INT 00 / 01.
                let obj = match self.line()? {
                    b"00" => Obj::Bool(false),
                    b"01" => Obj::Bool(true),
                    digits => Obj::Int(text::parse_int(digits)?),
                };
                self.push(obj)?;
            }
            BININT => {
                let v = i32::from_le_bytes(self.array()?);
                self.push(Obj::Int(v.into()))?;
            }
            BININT1 => {
                let v = self.u8()?;
                self.push(Obj::Int(v.into()))?;
            }
            BININT2 => {
                let v = u16::from_le_bytes(self.array()?);
                self.push(Obj::Int(v.into()))?;
            }
            LONG => {
                let line = self.line()?;
                let digits = line.strip_suffix(b"L").unwrap_or(line);
                self.push(Obj::Int(text::parse_int(digits)?))?;
            }
            LONG1 => {
                let n = usize::from(self.u8()?);
                let bytes = self.take(n)?;
                self.push(Obj::Int(long_from_le(bytes)?))?;
            }
            LONG4 => {
                let n = self.len_i32()?;
                let bytes = self.take(n)?;
                self.push(Obj::Int(long_from_le(bytes)?))?;
            }
            FLOAT => {
                let v = text::parse_float(self.line()?)?;
                self.push(Obj::Float(v))?;
            }
            BINFLOAT => {
                let v = f64::from_be_bytes(self.array()?);
                self.push(Obj::Float(v))?;
            }
            STRING => {
                let line = self.line()?;
                let body = match line {
                    [q @ (b'\'' | b'"'), body @ .., last] if q == last => body,
                    _ => return Err("STRING argument is not quoted".into()),
                };
                let bytes = text::escape_decode(body)?;
                self.push(Obj::Str(text::latin1_to_string(&bytes)))?;
            }
            BINSTRING => {
                let n = self.len_i32()?;
                let bytes = self.take(n)?;
                self.push(Obj::Str(text::latin1_to_string(bytes)))?;
            }
            SHORT_BINSTRING => {
                let n = usize::from(self.u8()?);
                let bytes = self.take(n)?;
                self.push(Obj::Str(text::latin1_to_string(bytes)))?;
            }
            UNICODE => {
                let s = text::raw_unicode_escape(self.line()?)?;
                self.push(Obj::Str(s))?;
            }
            SHORT_BINUNICODE => {
                let n = usize::from(self.u8()?);
                self.push_utf8(n)?;
            }
            BINUNICODE => {
                let n = self.len_u32()?;
                self.push_utf8(n)?;
            }
            BINUNICODE8 => {
                let n = self.len_u64()?;
                self.push_utf8(n)?;
            }
            SHORT_BINBYTES => {
                let n = usize::from(self.u8()?);
                let bytes = self.take(n)?.to_vec();
                self.push(Obj::Bytes(bytes))?;
            }
            BINBYTES => {
                let n = self.len_u32()?;
                let bytes = self.take(n)?.to_vec();
                self.push(Obj::Bytes(bytes))?;
            }
            BINBYTES8 => {
                let n = self.len_u64()?;
                let bytes = self.take(n)?.to_vec();
                self.push(Obj::Bytes(bytes))?;
            }
            BYTEARRAY8 => {
                let n = self.len_u64()?;
                let bytes = self.take(n)?.to_vec();
                self.push(Obj::ByteArray(bytes))?;
            }
            NEXT_BUFFER => {
                return Err("the pickle uses out-of-band buffers (pickled with a \
                            buffer_callback), which are not stored in the file"
                    .into())
            }
            READONLY_BUFFER => {
                // In-band, the buffer is already on the stack as bytes / bytearray; being
                // read-only changes nothing for a reader.
                self.top()?;
            }
            EMPTY_LIST => self.push(Obj::List(Vec::new()))?,
            EMPTY_TUPLE => self.push(Obj::Tuple(Vec::new()))?,
            EMPTY_DICT => self.push(Obj::Dict(Vec::new()))?,
            EMPTY_SET => self.push(Obj::Set(Vec::new()))?,
            LIST => {
                let items = self.pop_mark()?;
                self.push(Obj::List(items))?;
            }
            TUPLE => {
                let items = self.pop_mark()?;
                self.push(Obj::Tuple(items))?;
            }
            TUPLE1 | TUPLE2 | TUPLE3 => {
                let n = usize::from(op - TUPLE1) + 1;
                let items = self.pop_n(n)?;
                self.push(Obj::Tuple(items))?;
            }
            DICT => {
                let items = self.pop_mark()?;
                let entries = pairs(&items)?;
                self.push(Obj::Dict(entries))?;
            }
            FROZENSET => {
                let items = self.pop_mark()?;
                self.push(Obj::FrozenSet(items))?;
            }
            APPEND => {
                let item = self.pop()?;
                self.extend_list(vec![item])?;
            }
            APPENDS => {
                let items = self.pop_mark()?;
                self.extend_list(items)?;
            }
            SETITEM => {
                let value = self.pop()?;
                let key = self.pop()?;
                self.extend_dict(vec![(key, value)])?;
            }
            SETITEMS => {
                let items = self.pop_mark()?;
                let entries = pairs(&items)?;
                self.extend_dict(entries)?;
            }
            ADDITEMS => {
                let items = self.pop_mark()?;
                let target = self.top()?;
                match self.heap.get_mut(target) {
                    Obj::Set(set) => set.extend(items),
                    other => return Err(format!("ADDITEMS to a {}", other.type_name())),
                }
            }
            GET => {
                let key = memo_key(text::parse_int(self.line()?)?)?;
                self.memo_get(key)?;
            }
            BINGET => {
                let key = self.u8()?;
                self.memo_get(key.into())?;
            }
            LONG_BINGET => {
                let key = u32::from_le_bytes(self.array()?);
                self.memo_get(key.into())?;
            }
            PUT => {
                let key = memo_key(text::parse_int(self.line()?)?)?;
                self.memo_put(key)?;
            }
            BINPUT => {
                let key = self.u8()?;
                self.memo_put(key.into())?;
            }
            LONG_BINPUT => {
                let key = u32::from_le_bytes(self.array()?);
                self.memo_put(key.into())?;
            }
            MEMOIZE => {
                let key = self.memo.len() as u64;
                self.memo_put(key)?;
            }
            GLOBAL => {
                let module = utf8(self.line()?, "GLOBAL module")?;
                let name = utf8(self.line()?, "GLOBAL name")?;
                self.push(Obj::Global(Global::resolve(module, name)?))?;
            }
            STACK_GLOBAL => {
                let name = self.pop()?;
                let module = self.pop()?;
                let (Obj::Str(module), Obj::Str(name)) =
                    (self.heap.get(module), self.heap.get(name))
                else {
                    return Err("STACK_GLOBAL needs two str on the stack".into());
                };
                let global = Global::resolve(module, name)?;
                self.push(Obj::Global(global))?;
            }
            INST => {
                let module = utf8(self.line()?, "INST module")?;
                let name = utf8(self.line()?, "INST name")?;
                let global = Global::resolve(module, name)?;
                let args = self.pop_mark()?;
                let callable = self.heap.alloc(Obj::Global(global))?;
                let obj = globals::call(&mut self.heap, callable, &args)?;
                self.push(obj)?;
            }
            OBJ => {
                let items = self.pop_mark()?;
                let (&cls, args) = items.split_first().ok_or("OBJ without a class")?;
                let obj = globals::call(&mut self.heap, cls, args)?;
                self.push(obj)?;
            }
            REDUCE => {
                let args = self.pop()?;
                let callable = self.pop()?;
                let args = self.heap.seq_items(args, false, "REDUCE arguments")?;
                let obj = globals::call(&mut self.heap, callable, &args)?;
                self.push(obj)?;
            }
            NEWOBJ => {
                let args = self.pop()?;
                let cls = self.pop()?;
                let args = self.heap.seq_items(args, false, "NEWOBJ arguments")?;
                let obj = globals::new_object(&mut self.heap, cls, &args)?;
                self.push(obj)?;
            }
            NEWOBJ_EX => {
                let kwargs = self.pop()?;
                let args = self.pop()?;
                let cls = self.pop()?;
                match self.heap.get(kwargs) {
                    Obj::Dict(entries) if entries.is_empty() => {}
                    _ => return Err("NEWOBJ_EX with keyword arguments is not supported".into()),
                }
                let args = self.heap.seq_items(args, false, "NEWOBJ_EX arguments")?;
                let obj = globals::new_object(&mut self.heap, cls, &args)?;
                self.push(obj)?;
            }
            BUILD => {
                let state = self.pop()?;
                let target = self.top()?;
                globals::build(&mut self.heap, target, state)?;
            }
            PERSID | BINPERSID => {
                return Err(
                    "persistent IDs (objects stored outside the pickle) are not \
                            supported"
                        .into(),
                )
            }
            EXT1 | EXT2 | EXT4 => {
                return Err("copyreg extension codes are not supported".into());
            }
            _ => {
                return Err(format!(
                    "unknown opcode 0x{op:02x} (not a pickle, or corrupt)"
                ))
            }
        }
        Ok(None)
    }

    // ----- reading the input ---------------------------------------------------------

    /// The next `n` bytes, if that many remain.
    fn take(&mut self, n: usize) -> R<&'a [u8]> {
        let left = self.input.len() - self.pos;
        if n > left {
            return Err(format!(
                "needs {n} bytes but only {left} remain (truncated file?)"
            ));
        }
        let bytes = &self.input[self.pos..self.pos + n];
        self.pos += n;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self) -> R<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> R<u8> {
        Ok(self.array::<1>()?[0])
    }

    fn u64(&mut self) -> R<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// A 4-byte signed length (`BINSTRING`, `LONG4`).
    fn len_i32(&mut self) -> R<usize> {
        let n = i32::from_le_bytes(self.array()?);
        usize::try_from(n).map_err(|_| format!("negative length {n}"))
    }

    fn len_u32(&mut self) -> R<usize> {
        let n = u32::from_le_bytes(self.array()?);
        usize::try_from(n).map_err(|_| format!("length {n} too large"))
    }

    fn len_u64(&mut self) -> R<usize> {
        let n = self.u64()?;
        usize::try_from(n).map_err(|_| format!("length {n} too large"))
    }

    /// Bytes up to the next newline (excluded), for the protocol-0 text arguments.
    fn line(&mut self) -> R<&'a [u8]> {
        let rest = &self.input[self.pos..];
        let n = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or("argument line without a newline (truncated file?)")?;
        self.pos += n + 1;
        Ok(&rest[..n])
    }

    fn push_utf8(&mut self, n: usize) -> R<()> {
        let bytes = self.take(n)?;
        let s = std::str::from_utf8(bytes).map_err(|e| format!("string is not UTF-8: {e}"))?;
        self.push(Obj::Str(s.to_owned()))
    }

    // ----- stack and memo ----------------------------------------------------------

    /// Index below which the stack belongs to an enclosing mark.
    fn floor(&self) -> usize {
        self.marks.last().copied().unwrap_or(0)
    }

    fn push(&mut self, obj: Obj) -> R<()> {
        let h = self.heap.alloc(obj)?;
        self.push_handle(h)
    }

    fn push_handle(&mut self, h: Handle) -> R<()> {
        if self.stack.len() >= self.limits.max_stack {
            return Err(format!("stack deeper than {}", self.limits.max_stack));
        }
        self.stack.push(h);
        Ok(())
    }

    fn pop(&mut self) -> R<Handle> {
        if self.stack.len() <= self.floor() {
            return Err("stack underflow".into());
        }
        self.stack.pop().ok_or_else(|| "stack underflow".into())
    }

    fn pop_n(&mut self, n: usize) -> R<Vec<Handle>> {
        if self.stack.len() < self.floor() + n {
            return Err("stack underflow".into());
        }
        Ok(self.stack.split_off(self.stack.len() - n))
    }

    fn top(&self) -> R<Handle> {
        if self.stack.len() <= self.floor() {
            return Err("stack underflow".into());
        }
        self.stack
            .last()
            .copied()
            .ok_or_else(|| "stack underflow".into())
    }

    /// Pops everything above the last mark, and the mark.
    fn pop_mark(&mut self) -> R<Vec<Handle>> {
        let mark = self.marks.pop().ok_or("no MARK on the stack")?;
        Ok(self.stack.split_off(mark))
    }

    fn memo_get(&mut self, key: u64) -> R<()> {
        let h = *self
            .memo
            .get(&key)
            .ok_or_else(|| format!("memo key {key} was never stored"))?;
        self.push_handle(h)
    }

    fn memo_put(&mut self, key: u64) -> R<()> {
        let top = self.top()?;
        self.memo.insert(key, top);
        Ok(())
    }

    // ----- container updates -------------------------------------------------------

    fn extend_list(&mut self, items: Vec<Handle>) -> R<()> {
        let target = self.top()?;
        match self.heap.get_mut(target) {
            Obj::List(list) => {
                list.extend(items);
                Ok(())
            }
            other => Err(format!("append to a {}", other.type_name())),
        }
    }

    fn extend_dict(&mut self, entries: Vec<(Handle, Handle)>) -> R<()> {
        let target = self.top()?;
        match self.heap.get_mut(target) {
            Obj::Dict(dict) => {
                dict.extend(entries);
                Ok(())
            }
            other => Err(format!("setting items of a {}", other.type_name())),
        }
    }
}

/// Groups `k1 v1 k2 v2 ...` into pairs.
fn pairs(items: &[Handle]) -> R<Vec<(Handle, Handle)>> {
    let chunks = items.chunks_exact(2);
    if !chunks.remainder().is_empty() {
        return Err(format!("odd number of items ({}) for a dict", items.len()));
    }
    Ok(chunks.map(|kv| (kv[0], kv[1])).collect())
}

/// A memo index from a protocol-0 `GET` / `PUT` argument.
fn memo_key(i: i64) -> R<u64> {
    u64::try_from(i).map_err(|_| format!("negative memo key {i}"))
}

fn utf8<'b>(bytes: &'b [u8], what: &str) -> R<&'b str> {
    std::str::from_utf8(bytes).map_err(|_| format!("{what} is not UTF-8"))
}

/// A little-endian two's-complement integer (`LONG1`, `LONG4`); beyond `i64` is an error.
fn long_from_le(bytes: &[u8]) -> R<i64> {
    let Some(&last) = bytes.last() else {
        return Ok(0);
    };
    let fill = if last & 0x80 != 0 { 0xff } else { 0x00 };
    let mut word = [fill; 8];
    let n = bytes.len().min(8);
    word[..n].copy_from_slice(&bytes[..n]);
    let value = i64::from_le_bytes(word);
    // Longer encodings fit only if the extra bytes merely repeat the sign.
    let sign = if value < 0 { 0xff } else { 0x00 };
    if bytes.len() > 8 && bytes[8..].iter().any(|&b| b != sign) {
        return Err(format!(
            "integer of {} bytes does not fit in 64 bits",
            bytes.len()
        ));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_encodings() {
        assert_eq!(long_from_le(&[]), Ok(0));
        assert_eq!(long_from_le(&[0xff]), Ok(-1));
        assert_eq!(long_from_le(&[0x80, 0x00]), Ok(128));
        assert_eq!(
            long_from_le(&[0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80]),
            Ok(i64::MIN)
        );
        // 2**63 needs a ninth byte; -1 written with ten bytes still fits.
        assert!(long_from_le(&[0, 0, 0, 0, 0, 0, 0, 0x80, 0]).is_err());
        assert_eq!(long_from_le(&[0xff; 10]), Ok(-1));
        assert_eq!(long_from_le(&[1, 0, 0, 0, 0, 0, 0, 0, 0, 0]), Ok(1));
    }
}
