//! Hand-assembled pickles for the opcodes and failure modes CPython 3 never writes (Python 2
//! text opcodes, 8-byte lengths, hostile structures). The fixtures written by Python are
//! covered in `tests/pickle.rs`.

use std::path::Path;

use super::{load, load_with, Limits, Value};

const PATH: &str = "t.pkl";

fn ok(bytes: &[u8]) -> Value {
    load(bytes, Path::new(PATH)).unwrap_or_else(|e| panic!("{e}"))
}

/// The error text, after checking that it names the file.
fn err_with(bytes: &[u8], limits: &Limits) -> String {
    let e = load_with(bytes, Path::new(PATH), limits).expect_err("expected an error");
    assert_eq!(e.path(), Some(Path::new(PATH)));
    let text = e.to_string();
    assert!(text.starts_with("t.pkl: pickle"), "{text}");
    text
}

fn err(bytes: &[u8]) -> String {
    err_with(bytes, &Limits::DEFAULT)
}

fn int(i: i64) -> Value {
    Value::Int(i)
}

fn s(text: &str) -> Value {
    Value::Str(text.into())
}

#[test]
fn python2_protocol0_text_opcodes() {
    let v = ok(b"(lp0\nS'a\\nb'\np1\naI5\naL7L\naF1.5\naV\\u2713\np2\nag1\naI01\naI00\na.");
    assert_eq!(
        v,
        Value::List(vec![
            s("a\nb"),
            int(5),
            int(7),
            Value::Float(1.5),
            s("✓"),
            s("a\nb"),
            Value::Bool(true),
            Value::Bool(false),
        ])
    );
}

#[test]
fn python2_binary_strings_are_latin1() {
    let v = ok(b"\x80\x02]q\x00(T\x03\x00\x00\x00abcU\x02\xe9xe.");
    assert_eq!(v, Value::List(vec![s("abc"), s("éx")]));
}

#[test]
fn eight_byte_lengths() {
    let mut p = b"\x80\x04(\x8d\x02\x00\x00\x00\x00\x00\x00\x00hi".to_vec();
    p.extend(b"\x8e\x01\x00\x00\x00\x00\x00\x00\x00\x07");
    p.extend(b"\x96\x01\x00\x00\x00\x00\x00\x00\x00\x08t.");
    assert_eq!(
        ok(&p),
        Value::Tuple(vec![
            s("hi"),
            Value::Bytes(vec![7]),
            Value::ByteArray(vec![8])
        ])
    );
}

#[test]
fn container_opcodes() {
    let v = ok(b"\x80\x04((K\x01K\x02d(K\x03t\x8f(K\x04\x90(K\x05\x91)t.");
    assert_eq!(
        v,
        Value::Tuple(vec![
            Value::Dict(vec![(int(1), int(2))]),
            Value::Tuple(vec![int(3)]),
            Value::Set(vec![int(4)]),
            Value::FrozenSet(vec![int(5)]),
            Value::Tuple(vec![]),
        ])
    );
}

#[test]
fn stack_opcodes() {
    // DUP; POP; POP_MARK; POP with nothing above the mark discards the mark (as CPython).
    let v = ok(b"\x80\x02K\x012\x86K\x090(K\x071(0\x85.");
    assert_eq!(v, Value::Tuple(vec![Value::Tuple(vec![int(1), int(1)])]));
}

#[test]
fn memo_entries_share_one_object() {
    // The list is memoised twice, mutated after, and fetched through both entries.
    let v = ok(b"\x80\x04]\x94r\x05\x00\x00\x000j\x00\x00\x00\x00K\x01ag5\n\x86.");
    let one = Value::List(vec![int(1)]);
    assert_eq!(v, Value::Tuple(vec![one.clone(), one]));
}

#[test]
fn builtin_constructors() {
    assert_eq!(
        ok(b"\x80\x02c__builtin__\nlist\n)\x81K\x01a."),
        Value::List(vec![int(1)])
    );
    assert_eq!(
        ok(b"\x80\x04\x8c\x08builtins\x8c\x03set\x93)}\x92."),
        Value::Set(vec![])
    );
    assert_eq!(
        ok(b"(](K\x01K\x02ei__builtin__\nfrozenset\n."),
        Value::FrozenSet(vec![int(1), int(2)])
    );
    assert_eq!(
        ok(b"(c__builtin__\nset\n]K\x03ao."),
        Value::Set(vec![int(3)])
    );
    assert_eq!(
        ok(b"\x80\x02c__builtin__\nbytes\n)R."),
        Value::Bytes(vec![])
    );
    // `_codecs.encode` without an encoding is UTF-8.
    assert_eq!(
        ok(b"\x80\x02c_codecs\nencode\nX\x02\x00\x00\x00\xc3\xa9\x85R."),
        Value::Bytes(vec![0xc3, 0xa9])
    );
    assert_eq!(
        ok(b"\x80\x03cbuiltins\nbytearray\nC\x02ab\x85R."),
        Value::ByteArray(b"ab".to_vec())
    );
    assert_eq!(ok(b"\x80\x05C\x01a\x98."), Value::Bytes(b"a".to_vec()));
}

#[test]
fn disallowed_globals_are_refused_before_anything_runs() {
    for p in [
        &b"cos\nsystem\n(S'echo hi'\ntR."[..],
        b"\x80\x04\x8c\x08builtins\x8c\x04eval\x93.",
        b"(S'echo hi'\niposix\nsystem\n.",
        b"\x80\x02csubprocess\ncheck_output\n.",
    ] {
        let e = err(p);
        assert!(e.contains("is not allowed"), "{e}");
    }
    let e = err(b"cos\nsystem\n(S'echo hi'\ntR.");
    assert!(
        e.contains("byte 0 (GLOBAL): pickle global 'os.system' is not allowed"),
        "{e}"
    );
}

#[test]
fn malformed_input_errors_name_offset_and_opcode() {
    let cases: &[(&[u8], &str)] = &[
        (
            b"\x80\x04\x8c\x05ab",
            "byte 2 (SHORT_BINUNICODE): needs 5 bytes but only 2 remain",
        ),
        (b"\x80\x02N", "byte 3: the pickle ends without a STOP"),
        (b"", "byte 0: the pickle ends without a STOP"),
        (
            b"\x80\x06N.",
            "byte 0 (PROTO): unsupported pickle protocol 6",
        ),
        (b"\x80\x02\xff.", "byte 2 (0xff): unknown opcode"),
        (b"\x80\x02a.", "byte 2 (APPEND): stack underflow"),
        (b"K\x01(a.", "byte 3 (APPEND): stack underflow"),
        (b"h\x07.", "memo key 7 was never stored"),
        (b"T\xff\xff\xff\xff", "negative length -1"),
        (b"\x8c\x01\xff.", "not UTF-8"),
        (
            b"\x80\x04\x95\xff\x00\x00\x00\x00\x00\x00\x00N.",
            "byte 2 (FRAME): frame of 255 bytes",
        ),
        (b"(K\x01d.", "odd number of items"),
        (b"]}b.", "BUILD on a list is not supported"),
        (b"K\x01)R.", "call: object of type int is not callable"),
        (b"P1\n.", "persistent IDs"),
        (b"\x82\x01.", "extension codes"),
        (b"\x80\x05\x97.", "out-of-band buffers"),
        (b"\x8e\xff\xff\xff\xff\xff\xff\xff\x7f", "but only 0 remain"),
        (
            b"\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x80\x00.",
            "does not fit in 64 bits",
        ),
        (b"I99999999999999999999\n.", "does not fit in 64 bits"),
        (b"S'abc\n.", "not quoted"),
        (b"I12", "without a newline"),
        (b"(\x93.", "stack underflow"),
        (b"K\x01K\x02\x93.", "STACK_GLOBAL needs two str"),
        (b"1.", "no MARK"),
        (
            b"\x80\x04\x8c\x08builtins\x8c\x04dict\x93)(K\x01K\x02d\x92.",
            "keyword arguments",
        ),
    ];
    for (bytes, expected) in cases {
        let e = err(bytes);
        assert!(e.contains(expected), "{e:?} does not contain {expected:?}");
    }
}

#[test]
fn result_must_be_data() {
    let e = err(b"c__builtin__\nset\n.");
    assert!(e.contains("callable builtins.set itself"), "{e}");
}

#[test]
fn recursive_structures_are_refused() {
    let e = err(b"]q\x00h\x00a.");
    assert!(e.contains("recursive structure"), "{e}");
}

#[test]
fn deep_nesting_is_refused() {
    let mut p = vec![b']'; 600];
    p.extend(vec![b'a'; 599]);
    p.push(b'.');
    let e = err(&p);
    assert!(e.contains("nested deeper than 512"), "{e}");
    // 100 levels are fine.
    let mut p = vec![b']'; 100];
    p.extend(vec![b'a'; 99]);
    p.push(b'.');
    assert!(matches!(ok(&p), Value::List(_)));
}

#[test]
fn exponential_sharing_hits_the_budget() {
    // l[i] = [l[i-1], l[i-1]]: 45 bytes per level, 2^40 leaves once expanded.
    let mut p = b"\x80\x02]q\x00".to_vec();
    for i in 1u8..=40 {
        p.extend([b']', b'(', b'h', i - 1, b'h', i - 1, b'e', b'q', i]);
    }
    p.push(b'.');
    let e = err(&p);
    assert!(e.contains("refusing to go on"), "{e}");
}

#[test]
fn shared_objects_are_copied_when_small() {
    // A string memoised once and fetched three times is fine.
    let v = ok(b"\x80\x04\x8c\x03abc\x94h\x00h\x00\x87.");
    assert_eq!(v, Value::Tuple(vec![s("abc"), s("abc"), s("abc")]));
}

#[test]
fn limits_on_stack_marks_and_objects() {
    let small = Limits {
        max_stack: 10,
        max_marks: 3,
        max_objects: 20,
        ..Limits::DEFAULT
    };
    let e = err_with(&[b'N'; 12], &small);
    assert!(e.contains("stack deeper than 10"), "{e}");
    let e = err_with(b"((((", &small);
    assert!(e.contains("more than 3 open MARKs"), "{e}");
    let e = err_with(&b"N0".repeat(21), &small);
    assert!(e.contains("more than 20 objects"), "{e}");
}

/// A protocol-3 pickle of one NumPy array, written the way NumPy's `__reduce__` does, with
/// the dtype code, byte order, shape opcodes, Fortran flag and raw bytes chosen by the test.
fn array_pickle(code: &str, order: &str, shape: &[u8], fortran: bool, data: &[u8]) -> Vec<u8> {
    let mut p = b"\x80\x03cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n".to_vec();
    p.extend(b"K\x00\x85C\x01b\x87R(K\x01");
    p.extend(shape);
    p.extend(b"cnumpy\ndtype\nX");
    p.extend((code.len() as u32).to_le_bytes());
    p.extend(code.as_bytes());
    p.extend(b"\x89\x88\x87R(K\x03X\x01\x00\x00\x00");
    p.extend(order.as_bytes());
    p.extend(b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb");
    p.push(if fortran { 0x88 } else { 0x89 });
    p.push(b'B');
    p.extend((data.len() as u32).to_le_bytes());
    p.extend(data);
    p.extend(b"tb.");
    p
}

#[test]
fn numpy_arrays_by_hand() {
    let data: Vec<u8> = [1.5f32, -2.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let v = ok(&array_pickle("f4", "<", b"K\x02\x85", false, &data));
    let a = v.as_ndarray().unwrap();
    assert_eq!(
        (a.dtype.descr(), a.shape.clone()),
        ("<f4".to_string(), vec![2])
    );
    assert_eq!(a.to_f32_vec().unwrap(), vec![1.5, -2.0]);

    // Big-endian int16 in Fortran order, shape (2, 3): stored column by column.
    let c_order = [0i16, 1, 2, -3, 4, 5];
    let stored: Vec<u8> = [0usize, 3, 1, 4, 2, 5]
        .iter()
        .flat_map(|&i| c_order[i].to_be_bytes())
        .collect();
    let v = ok(&array_pickle("i2", ">", b"K\x02K\x03\x86", true, &stored));
    let a = v.as_ndarray().unwrap();
    assert!(a.fortran_order);
    assert_eq!(a.to_i64_vec().unwrap(), vec![0, 1, 2, -3, 4, 5]);

    // 0-d array.
    let v = ok(&array_pickle("i8", "<", b")", false, &7i64.to_le_bytes()));
    assert_eq!(v.as_ndarray().unwrap().to_i64_vec().unwrap(), vec![7]);
}

#[test]
fn bad_numpy_arrays() {
    let e = err(&array_pickle("f4", "<", b"K\x02\x85", false, &[0; 4]));
    assert!(e.contains("needs 8 bytes, the pickle holds 4"), "{e}");
    let e = err(&array_pickle("O8", "|", b"K\x01\x85", false, &[0; 8]));
    assert!(e.contains("object arrays"), "{e}");
    let e = err(&array_pickle("f4", "?", b"K\x01\x85", false, &[0; 4]));
    assert!(e.contains("byte order '?'"), "{e}");
    let e = err(&array_pickle(
        "f4",
        "<",
        b"J\xff\xff\xff\xff\x85",
        false,
        &[],
    ));
    assert!(e.contains("negative array dimension -1"), "{e}");
    // Shape whose byte count overflows usize.
    let e = err(&array_pickle(
        "f8",
        "<",
        b"\x8a\x08\xff\xff\xff\xff\xff\xff\xff\x3f\x8a\x08\xff\xff\xff\xff\xff\xff\xff\x3f\x86",
        false,
        &[],
    ));
    assert!(e.contains("needs too many bytes"), "{e}");
    // A structured dtype (names in the state) is refused.
    let p = b"\x80\x03cnumpy\ndtype\nX\x02\x00\x00\x00V8\x89\x88\x87R(K\x03X\x01\x00\x00\x00|N)NJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb.";
    let e = err(p);
    assert!(e.contains("structured"), "{e}");
    let e = err(b"\x80\x03cnumpy\nndarray\n)R.");
    assert!(e.contains("only through"), "{e}");
}

#[test]
fn numpy_scalars_by_hand() {
    let scalar = |code: &str, raw: &[u8]| {
        let mut p = b"\x80\x03cnumpy.core.multiarray\nscalar\ncnumpy\ndtype\nX".to_vec();
        p.extend((code.len() as u32).to_le_bytes());
        p.extend(code.as_bytes());
        p.extend(b"\x89\x88\x87RC");
        p.push(raw.len() as u8);
        p.extend(raw);
        p.extend(b"\x86R.");
        p
    };
    assert_eq!(ok(&scalar("i8", &(-5i64).to_le_bytes())), int(-5));
    assert_eq!(ok(&scalar("u2", &[1, 1])), int(257));
    assert_eq!(ok(&scalar("f8", &0.5f64.to_le_bytes())), Value::Float(0.5));
    assert_eq!(ok(&scalar("b1", &[1])), Value::Bool(true));
    assert!(err(&scalar("u8", &u64::MAX.to_le_bytes())).contains("does not fit"));
    assert!(err(&scalar("c16", &[0; 16])).contains("cannot be read as a number"));
    assert!(err(&scalar("i8", &[0; 4])).contains("4 bytes"));
}

#[test]
fn frombuffer_by_hand() {
    let p = |order: &str| {
        let mut p = b"\x80\x05cnumpy.core.numeric\n_frombuffer\n(C\x03\x01\x02\x03cnumpy\ndtype\nX\x02\x00\x00\x00i1\x89\x88\x87RK\x03\x85X\x01\x00\x00\x00".to_vec();
        p.extend(order.as_bytes());
        p.extend(b"tR.");
        p
    };
    let v = ok(&p("C"));
    assert_eq!(v.as_ndarray().unwrap().to_i64_vec().unwrap(), vec![1, 2, 3]);
    assert!(err(&p("K")).contains("order 'K' is not C or F"));
}

#[test]
fn no_panic_on_any_truncation_or_byte_flip() {
    // A pickle touching most code paths, cut at every length and with every byte changed.
    let base = array_pickle("f2", "<", b"K\x02\x85", false, &[0, 60, 0, 64]);
    for cut in 0..base.len() {
        let _ = load(&base[..cut], Path::new(PATH)).unwrap_err();
    }
    for i in 0..base.len() {
        for delta in [1u8, 0x40, 0x80, 0xff] {
            let mut p = base.clone();
            p[i] = p[i].wrapping_add(delta);
            let _ = load(&p, Path::new(PATH));
        }
    }
}

#[test]
fn repeated_copies_of_a_memoised_tuple_hit_the_budget() {
    // set(t) for the same 100 000-item tuple t, 200 times: 160 MB of copies from a
    // 100 kB file.
    let mut p = b"\x80\x02(".to_vec();
    p.extend(vec![b'N'; 100_000]);
    p.extend(b"tq\x00c__builtin__\nset\nq\x010");
    for _ in 0..200 {
        p.extend(b"h\x01h\x00\x85R0");
    }
    p.extend(b"N.");
    let e = err(&p);
    assert!(e.contains("refusing to go on"), "{e}");
}
