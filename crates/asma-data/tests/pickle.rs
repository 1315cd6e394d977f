//! The pickle VM, label pickles and pyskl files against the fixtures Python wrote
//! (`tools/reference/make_pickle_fixtures.py`; the constants below mirror that script).

use std::path::{Path, PathBuf};

use asma_data::formats::labels::{labels_from_value, read_labels, stem, write_labels, Labels};
use asma_data::formats::ntu::NtuName;
use asma_data::formats::pickle::{self, load, load_file, write_labels_pickle, Value};
use asma_data::formats::pyskl::{pyskl_from_value, read_pyskl};

const NAMES: [&str; 4] = [
    "S001C001P001R001A001.skeleton",
    "S001C002P003R002A013.skeleton",
    "S017C003P020R002A060.skeleton",
    "S032C003P106R002A120.skeleton",
];
const LABELS: [usize; 4] = [0, 12, 59, 119];

/// What `rust_labels_p3.pkl` holds; the script checks Python reads exactly this.
const RUST_NAMES: [&str; 4] = [
    "S001C001P001R001A001.skeleton",
    "S001C002P003R002A013",
    "h\u{e9}llo \u{2713}",
    "",
];
const RUST_LABELS: [i64; 11] = [
    0,
    255,
    256,
    65535,
    65536,
    -1,
    -(1 << 31),
    1 << 31,
    1 << 40,
    i64::MIN,
    i64::MAX,
];

/// The entries of a Python dict.
type Entries = Vec<(Value, Value)>;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/pickle")
        .join(name)
}

fn all_fixtures() -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(fixture(""))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pkl"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 29, "fixtures missing: {paths:?}");
    paths
}

fn s(text: &str) -> Value {
    Value::Str(text.into())
}

fn ints(values: impl IntoIterator<Item = i64>) -> Value {
    Value::List(values.into_iter().map(Value::Int).collect())
}

/// Error text of `result`, after checking that the error names `path`.
fn error_naming<T: std::fmt::Debug>(result: asma_data::Result<T>, path: &Path) -> String {
    let e = result.expect_err("expected an error");
    assert_eq!(e.path(), Some(path), "{e}");
    e.to_string()
}

// ----- label pickles -----------------------------------------------------------------

#[test]
fn label_pickles_of_every_protocol_and_label_type() {
    for name in [
        "labels_p2.pkl",
        "labels_p3.pkl",
        "labels_p4.pkl",
        "labels_p5.pkl",
        "labels_list_p3.pkl",
        "labels_np_int64_p2.pkl",
        "labels_np_int64_p4.pkl",
        "labels_nparray_p4.pkl",
    ] {
        let labels = read_labels(&fixture(name)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(labels.names, NAMES, "{name}");
        assert_eq!(labels.labels, LABELS, "{name}");
    }
}

#[test]
fn msg3d_full_paths_reduce_to_sample_names() {
    let labels = read_labels(&fixture("labels_msg3d_p4.pkl")).unwrap();
    assert!(labels.names[0].starts_with("/data/nturgbd_raw/nturgb+d_skeletons/"));
    let stems: Vec<&str> = labels.stems().collect();
    let expected: Vec<&str> = NAMES.iter().map(|n| stem(n)).collect();
    assert_eq!(stems, expected);
    assert_eq!(stems[3], "S032C003P106R002A120");
    let name = NtuName::parse_loose(&labels.names[3]).unwrap();
    assert_eq!(name.label(), 119);
}

#[test]
fn bad_label_pickles_name_the_file() {
    let cases = [
        (
            "labels_bad_lengths_p4.pkl",
            "label pickle has 4 names but 3 labels",
        ),
        (
            "labels_bad_negative_p4.pkl",
            "label 1 (S001C002P003R002A013.skeleton) is -1",
        ),
        (
            "labels_bad_float_p4.pkl",
            "label 1 is a float, expected an int",
        ),
        ("labels_bad_triple_p4.pkl", "holds a tuple of 3 items"),
        ("misc_p4.pkl", "holds a dict"),
    ];
    for (name, expected) in cases {
        let path = fixture(name);
        let e = error_naming(read_labels(&path), &path);
        assert!(e.contains(expected), "{e:?} lacks {expected:?}");
    }
}

#[test]
fn label_values_of_other_shapes_are_refused() {
    let path = Path::new("x.pkl");
    let pair = |names: Value, labels: Value| Value::Tuple(vec![names, labels]);
    let cases = [
        (
            pair(Value::List(vec![Value::Int(1)]), ints([0])),
            "name 0 is a int",
        ),
        (pair(Value::List(vec![]), s("x")), "labels are a str"),
        (pair(s("x"), ints([])), "names are a str"),
        (
            pair(
                Value::List(vec![s("a")]),
                Value::List(vec![Value::Bool(true)]),
            ),
            "label 0 is a bool",
        ),
    ];
    for (value, expected) in cases {
        let e = error_naming(labels_from_value(&value, path), path);
        assert!(e.contains(expected), "{e:?} lacks {expected:?}");
    }
}

#[test]
fn write_then_read_labels() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("train_label.pkl");
    // 2500 samples: three APPENDS batches per list.
    let labels = Labels {
        names: (0..2500)
            .map(|i| format!("S{i:03}C001P001R001A001"))
            .collect(),
        labels: (0..2500).map(|i| i % 120).collect(),
    };
    write_labels(&path, &labels).unwrap();
    assert_eq!(read_labels(&path).unwrap(), labels);
    // Only the file itself is left, no temporary.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    // Overwriting replaces the content.
    let small = Labels {
        names: vec!["a".into()],
        labels: vec![3],
    };
    write_labels(&path, &small).unwrap();
    assert_eq!(read_labels(&path).unwrap(), small);
}

#[test]
fn write_labels_reports_the_path_on_io_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing_dir/labels.pkl");
    let e = error_naming(write_labels(&path, &Labels::default()), &path);
    assert!(e.contains("labels.pkl"), "{e}");
}

// ----- the writer --------------------------------------------------------------------

fn rust_labels_bytes() -> Vec<u8> {
    let names: Vec<String> = RUST_NAMES.iter().map(|s| s.to_string()).collect();
    write_labels_pickle(&names, &RUST_LABELS)
}

#[test]
fn writer_roundtrips_through_the_vm() {
    let value = load(&rust_labels_bytes(), Path::new("mem")).unwrap();
    assert_eq!(
        value,
        Value::Tuple(vec![
            Value::List(RUST_NAMES.iter().map(|n| s(n)).collect()),
            ints(RUST_LABELS),
        ])
    );
}

#[test]
fn writer_output_is_the_file_python_checked() {
    // `make_pickle_fixtures.py` verified that Python loads this file as
    // (RUST_NAMES, RUST_LABELS). If the writer changes, rerun the ignored test below and
    // the script.
    let committed = std::fs::read(fixture("rust_labels_p3.pkl")).unwrap();
    assert_eq!(rust_labels_bytes(), committed);
}

/// Refreshes `rust_labels_p3.pkl` (then run `tools/reference/make_pickle_fixtures.py`).
#[test]
#[ignore]
fn dump_rust_labels_fixture() {
    std::fs::write(fixture("rust_labels_p3.pkl"), rust_labels_bytes()).unwrap();
}

// ----- every builtin, protocols 0-5 ------------------------------------------------------

fn misc_expected() -> Value {
    let shared = ints([1, 2]);
    let entries = vec![
        ("none", Value::None),
        ("true", Value::Bool(true)),
        ("false", Value::Bool(false)),
        (
            "ints",
            ints([
                0,
                1,
                -1,
                255,
                256,
                65535,
                65536,
                -(1 << 31),
                (1 << 31) - 1,
                1 << 31,
                i64::MAX,
                i64::MIN,
            ]),
        ),
        (
            "floats",
            Value::List(
                [0.0, -1.5, 1e300, f64::INFINITY]
                    .into_iter()
                    .map(Value::Float)
                    .collect(),
            ),
        ),
        ("str", s("h\u{e9}llo \u{2713} \\ \n")),
        ("long_str", s(&"x".repeat(300))),
        ("bytes", Value::Bytes(b"\x00\xffab".to_vec())),
        ("empty_bytes", Value::Bytes(vec![])),
        (
            "long_bytes",
            Value::Bytes((0..=255u8).chain(0..=255u8).collect()),
        ),
        ("bytearray", Value::ByteArray(b"ab".to_vec())),
        (
            "tuples",
            Value::List(
                (0..5)
                    .map(|n| Value::Tuple((1..=n).map(Value::Int).collect()))
                    .collect(),
            ),
        ),
        (
            "set",
            Value::Set(vec![Value::Int(1), Value::Int(2), Value::Int(3)]),
        ),
        ("frozenset", Value::FrozenSet(vec![Value::Int(4)])),
        ("shared", Value::List(vec![shared.clone(), shared])),
        (
            "int_keys",
            Value::Dict(vec![(Value::Int(1), s("a")), (Value::Int(2), s("b"))]),
        ),
        ("range", ints(0..1100)),
    ];
    Value::Dict(entries.into_iter().map(|(k, v)| (s(k), v)).collect())
}

#[test]
fn builtins_of_every_protocol() {
    let expected = misc_expected();
    for p in 0..=5 {
        let path = fixture(&format!("misc_p{p}.pkl"));
        let value = load_file(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(value, expected, "protocol {p}");
    }
}

// ----- pyskl / mmaction2 -----------------------------------------------------------------

/// The script's keypoint values: ((i + seed) % 97 - 48) / 8 at C-order index i of
/// (M, T, 25, 3).
fn keypoint_value(seed: usize, frames: usize, m: usize, t: usize, v: usize, c: usize) -> f32 {
    let i = ((m * frames + t) * 25 + v) * 3 + c;
    (((i + seed) % 97) as f32 - 48.0) * 0.125
}

#[test]
fn pyskl_files_of_protocols_2_4_5_and_both_numpy_module_names() {
    // (name, label, frames, bodies stored, seed), as in the script.
    let samples = [
        ("S001C001P001R001A001", 0, 3, 1, 0),
        ("S001C002P003R002A013", 12, 2, 2, 5),
        ("S017C003P020R002A060", 59, 2, 3, 11),
    ];
    for file in [
        "pyskl_p2.pkl",
        "pyskl_p4.pkl",
        "pyskl_p5.pkl",
        "pyskl_numpy1_p2.pkl",
        "pyskl_numpy1_p4.pkl",
        "pyskl_numpy1_p5.pkl",
    ] {
        let path = fixture(file);
        let pyskl = read_pyskl(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(pyskl.splits.len(), 2, "{file}");
        assert_eq!(
            pyskl.splits["xsub_train"],
            ["S001C001P001R001A001", "S001C002P003R002A013"]
        );
        assert_eq!(pyskl.splits["xsub_val"], ["S017C003P020R002A060"]);
        assert_eq!(pyskl.samples.len(), 3, "{file}");
        for (sample, &(name, label, frames, bodies, seed)) in pyskl.samples.iter().zip(&samples) {
            assert_eq!(sample.name, name, "{file}");
            assert_eq!(sample.label, label, "{file}");
            assert_eq!(sample.total_frames, frames, "{file}");
            let seq = &sample.sequence;
            assert_eq!(
                (seq.frames, seq.joints, seq.bodies),
                (frames, 25, 2),
                "{file}"
            );
            for m in 0..2 {
                for t in 0..frames {
                    for v in 0..25 {
                        for c in 0..3 {
                            let expected = if m < bodies {
                                keypoint_value(seed, frames, m, t, v, c)
                            } else {
                                0.0
                            };
                            assert_eq!(
                                seq.at(c, t, v, m),
                                expected,
                                "{file} {name} {m} {t} {v} {c}"
                            );
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn pyskl_arrays_share_one_dtype_object() {
    // NumPy memoises the float16 dtype before its BUILD sets the byte order; the later
    // arrays refer to the memo entry and must see the built dtype too.
    for file in ["pyskl_p2.pkl", "pyskl_p4.pkl", "pyskl_p5.pkl"] {
        let value = load_file(&fixture(file)).unwrap();
        let annotations = value.get("annotations").unwrap().as_seq().unwrap();
        for a in annotations {
            let kp = a.get("keypoint").unwrap().as_ndarray().unwrap();
            assert_eq!(kp.dtype.code, "f2", "{file}");
            assert_eq!(kp.dtype.byte_order, '<', "{file}");
            assert_eq!(kp.shape.len(), 4, "{file}");
        }
        let img_shape = annotations[1].get("img_shape").unwrap();
        assert_eq!(
            img_shape,
            &Value::Tuple(vec![Value::Int(1080), Value::Int(1920)])
        );
        // The third label was pickled as a NumPy int64 scalar.
        assert_eq!(annotations[2].get("label"), Some(&Value::Int(59)));
    }
}

#[test]
fn pyskl_2d_coco_files_are_refused() {
    let path = fixture("pyskl_coco2d_p4.pkl");
    let e = error_naming(read_pyskl(&path), &path);
    assert!(e.contains("S001C001P001R001A001"), "{e}");
    assert!(e.contains("[1, 2, 17, 2]") && e.contains("COCO"), "{e}");
}

#[test]
fn pyskl_structure_errors_name_file_and_sample() {
    let path = fixture("pyskl_p4.pkl");
    let good = load_file(&path).unwrap();
    // Rewrites annotation 1 (S001C002P003R002A013) with `edit`.
    let with_sample = |edit: &dyn Fn(&mut Entries)| {
        let mut v = good.clone();
        let Value::Dict(top) = &mut v else { panic!() };
        let Value::List(annos) = &mut top[1].1 else {
            panic!()
        };
        let Value::Dict(sample) = &mut annos[1] else {
            panic!()
        };
        edit(sample);
        v
    };
    let set = |key: &'static str, value: Value| {
        move |d: &mut Entries| {
            for (k, v) in d.iter_mut() {
                if k.as_str() == Some(key) {
                    *v = value.clone();
                }
            }
        }
    };
    let remove =
        |key: &'static str| move |d: &mut Entries| d.retain(|(k, _)| k.as_str() != Some(key));
    let mut nan_kp = load_file(&path)
        .unwrap()
        .get("annotations")
        .unwrap()
        .as_seq()
        .unwrap()[1]
        .get("keypoint")
        .unwrap()
        .as_ndarray()
        .unwrap()
        .clone();
    // float16 NaN at element 4 (body 0, frame 0, joint 1, y).
    nan_kp.data[8..10].copy_from_slice(&0x7e00u16.to_le_bytes());
    let mut rank3 = nan_kp.clone();
    rank3.shape = vec![4, 25, 3];
    let cases: Vec<(Value, &str)> = vec![
        (with_sample(&remove("keypoint")), "sample S001C002P003R002A013 has no 'keypoint' key"),
        (with_sample(&remove("label")), "sample S001C002P003R002A013 has no 'label' key"),
        (with_sample(&remove("frame_dir")), "annotation 1 has no 'frame_dir' key"),
        (with_sample(&set("label", s("x"))), "label is a str"),
        (with_sample(&set("label", Value::Int(-3))), "label is negative (-3)"),
        (with_sample(&set("total_frames", Value::Int(7))), "total_frames is 7 but keypoint has 2 frames"),
        (with_sample(&set("keypoint", ints([1]))), "keypoint is a list"),
        (
            with_sample(&set("keypoint", Value::NdArray(nan_kp))),
            "S001C002P003R002A013: keypoint holds a non-finite value (NaN) at body 0, frame 0, joint 1",
        ),
        (with_sample(&set("keypoint", Value::NdArray(rank3))), "shape [4, 25, 3], expected (M, T, 25, 3)"),
        (Value::List(vec![]), "holds a list"),
        (Value::Dict(vec![(s("annotations"), Value::List(vec![]))]), "no 'split' key"),
        (Value::Dict(vec![(s("split"), Value::Dict(vec![]))]), "no 'annotations' key"),
        (
            Value::Dict(vec![(s("split"), Value::Dict(vec![])), (s("annotations"), Value::Dict(vec![]))]),
            "'annotations' is a dict",
        ),
        (
            Value::Dict(vec![
                (s("split"), Value::Dict(vec![(s("xsub_train"), ints([1]))])),
                (s("annotations"), Value::List(vec![])),
            ]),
            "split 'xsub_train' holds a int",
        ),
    ];
    for (value, expected) in cases {
        let e = error_naming(pyskl_from_value(value, &path), &path);
        assert!(e.contains(expected), "{e:?} lacks {expected:?}");
    }
}

// ----- hostile and corrupt input ---------------------------------------------------------

#[test]
fn malicious_pickles_are_refused() {
    let path = fixture("malicious_os_system_p2.pkl");
    let e = error_naming(load_file(&path), &path);
    assert!(
        e.contains("pickle global 'os.system' is not allowed"),
        "{e}"
    );
    assert!(e.contains("byte 2 (GLOBAL)"), "{e}");
    let path = fixture("malicious_system_p4.pkl");
    let e = error_naming(load_file(&path), &path);
    assert!(e.contains("'posix.system' is not allowed"), "{e}");
    assert!(e.contains("(STACK_GLOBAL)"), "{e}");
    // The same refusal through the typed readers.
    let e = error_naming(read_labels(&path), &path);
    assert!(e.contains("is not allowed"), "{e}");
    let e = error_naming(read_pyskl(&path), &path);
    assert!(e.contains("is not allowed"), "{e}");
}

#[test]
fn truncated_fixtures_are_errors_naming_the_file() {
    for path in all_fixtures() {
        let bytes = std::fs::read(&path).unwrap();
        let step = (bytes.len() / 200).max(1);
        for cut in (0..bytes.len()).step_by(step) {
            let e = error_naming(load(&bytes[..cut], &path), &path);
            assert!(e.contains("pickle"), "{e}");
        }
    }
}

#[test]
fn corrupted_fixtures_never_panic() {
    // A cheap deterministic fuzz: flip bytes of real files and only ask for no panic.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for path in all_fixtures() {
        let bytes = std::fs::read(&path).unwrap();
        for _ in 0..200 {
            let mut p = bytes.clone();
            for _ in 0..3 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let i = (state % p.len() as u64) as usize;
                p[i] = (state >> 32) as u8;
            }
            let _ = pickle::load(&p, &path);
        }
    }
}

#[test]
fn missing_file_is_an_io_error_naming_it() {
    let path = fixture("no_such_file.pkl");
    let e = error_naming(load_file(&path), &path);
    assert!(e.contains("no_such_file.pkl"), "{e}");
}
