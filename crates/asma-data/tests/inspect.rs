//! `inspect` detects each format and reports NaN/inf and count mismatches as problems.

use std::path::Path;

use asma_data::formats::labels::{write_labels, Labels};
use asma_data::formats::npy::write_npy_f32;
use asma_data::inspect::inspect;

const FIX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

#[test]
fn nan_and_label_mismatch_are_problems() {
    let dir = tempfile::tempdir().unwrap();
    let mut data = vec![0.5f32; 3 * 3 * 50 * 25 * 2];
    data[7] = f32::NAN;
    data[2 * 3 * 50 * 25 * 2 + 1] = f32::INFINITY;
    write_npy_f32(
        dir.path().join("train_position.npy"),
        &[3, 3, 50, 25, 2],
        &data,
    )
    .unwrap();
    write_labels(
        &dir.path().join("train_label.pkl"),
        &Labels {
            names: vec!["a".into(), "b".into()],
            labels: vec![0, 1],
        },
    )
    .unwrap();
    let r = inspect(dir.path()).unwrap();
    assert!(
        r.format.starts_with("prepared split folder"),
        "{}",
        r.format
    );
    assert_eq!(r.sections[0].shape.as_deref(), Some(&[3, 3, 50, 25, 2][..]));
    assert_eq!(r.sections[0].non_finite, 2);
    assert!(
        r.problems
            .iter()
            .any(|p| p.contains("sample 0 holds 1 non-finite")),
        "{:?}",
        r.problems
    );
    assert!(
        r.problems
            .iter()
            .any(|p| p.contains("2 labels for 3 samples")),
        "{:?}",
        r.problems
    );
    assert!(r.has_problems());
}

#[test]
fn detects_each_format() {
    let cases = [
        ("npy/skeleton_f32.npy", "NumPy .npy array"),
        ("npy/ctrgcn_stored.npz", "CTR-GCN .npz"),
        ("npy/ctrgcn_deflated.npz", "CTR-GCN .npz"),
        ("pickle/labels_p2.pkl", "label pickle"),
        ("pickle/pyskl_p5.pkl", "pyskl"),
        (
            "frame50/S001C001P001R001A001.skeleton",
            "NTU RGB+D .skeleton file",
        ),
        ("frame50", "folder of NTU RGB+D .skeleton files"),
    ];
    for (file, format) in cases {
        let r = inspect(&Path::new(FIX).join(file)).unwrap();
        assert!(r.format.starts_with(format), "{file}: {}", r.format);
        assert!(!r.has_problems(), "{file}: {:?}", r.problems);
    }
}

#[test]
fn unknown_files_and_hostile_pickles_are_errors() {
    let e = inspect(Path::new(FIX).join("frame50/names.txt").as_path())
        .unwrap_err()
        .to_string();
    assert!(e.contains("names.txt"), "{e}");
    let e = inspect(&Path::new(FIX).join("pickle/malicious_os_system_p2.pkl"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("'os.system' is not allowed"), "{e}");
}
