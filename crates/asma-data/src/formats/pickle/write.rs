//! The one pickle asma writes: the ST-GCN-lineage label file, a tuple
//! `(list_of_str, list_of_int)`, in protocol 3 (readable by every Python 3).

use super::ops::*;

/// Python pickles lists in `APPENDS` batches of this many items; so does asma, which keeps
/// the unpickler's stack small.
const BATCH: usize = 1000;

/// Serialises `(names, labels)` as a protocol-3 pickle of a 2-tuple of a `list` of `str`
/// and a `list` of `int`; `pickle.load` returns `(names, labels)`. The two slices are
/// written as given (the caller checks that their lengths agree).
pub fn write_labels_pickle(names: &[String], labels: &[i64]) -> Vec<u8> {
    let text: usize = names.iter().map(|n| n.len() + 5).sum();
    let mut out = Vec::with_capacity(16 + text + labels.len() * 9);
    out.extend([PROTO, 3]);
    write_list(&mut out, names, |out, name| write_str(out, name));
    write_list(&mut out, labels, |out, &label| write_int(out, label));
    out.push(TUPLE2);
    out.push(STOP);
    out
}

/// `EMPTY_LIST`, then `MARK item... APPENDS` per batch.
fn write_list<T>(out: &mut Vec<u8>, items: &[T], mut write: impl FnMut(&mut Vec<u8>, &T)) {
    out.push(EMPTY_LIST);
    for batch in items.chunks(BATCH) {
        out.push(MARK);
        for item in batch {
            write(out, item);
        }
        out.push(APPENDS);
    }
}

fn write_str(out: &mut Vec<u8>, s: &str) {
    match u32::try_from(s.len()) {
        Ok(n) => {
            out.push(BINUNICODE);
            out.extend(n.to_le_bytes());
        }
        // Only a string over 4 GiB gets here; any Python 3 unpickler reads BINUNICODE8.
        Err(_) => {
            out.push(BINUNICODE8);
            out.extend((s.len() as u64).to_le_bytes());
        }
    }
    out.extend(s.as_bytes());
}

/// The shortest of Python's own integer encodings.
fn write_int(out: &mut Vec<u8>, v: i64) {
    if let Ok(b) = u8::try_from(v) {
        out.extend([BININT1, b]);
    } else if let Ok(w) = u16::try_from(v) {
        out.push(BININT2);
        out.extend(w.to_le_bytes());
    } else if let Ok(d) = i32::try_from(v) {
        out.push(BININT);
        out.extend(d.to_le_bytes());
    } else {
        out.extend([LONG1, 8]);
        out.extend(v.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_bytes_of_a_tiny_file() {
        let bytes = write_labels_pickle(&["a".to_string()], &[300]);
        let expected = b"\x80\x03](X\x01\x00\x00\x00ae](M\x2c\x01e\x86.";
        assert_eq!(bytes, expected.to_vec());
    }

    #[test]
    fn empty_lists_have_no_batch() {
        assert_eq!(write_labels_pickle(&[], &[]), b"\x80\x03]]\x86.".to_vec());
    }
}
