//! The folded CPU path on this platform against burn's logits, committed with the models
//! they belong to (`tests/fixtures`, written and kept honest by asma-infer's
//! `edge_fixtures_hold_burns_logits`). CI runs this test for 64-bit ARM under emulation too:
//! the same files, the same tolerance as on x86.

use std::path::{Path, PathBuf};

use asma_data::formats::npy::MmapNpy;
use asma_infer::Classifier;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn check(model: &str, threads: usize) {
    let dir = fixtures().join(model);
    let npy = MmapNpy::open(fixtures().join("input.npy")).unwrap();
    let [_, _, t, _, m] = <[usize; 5]>::try_from(npy.shape()).unwrap();
    let expected: Vec<Vec<f32>> =
        serde_json::from_slice(&std::fs::read(dir.join("logits.json")).unwrap()).unwrap();
    let folded = Classifier::load(&dir)
        .unwrap()
        .with_threads(threads)
        .unwrap();
    assert_eq!(folded.num_classes, 60);
    // Twice: the second pass of the one-body sample reads the cached absent body.
    for _ in 0..2 {
        for (i, e) in expected.iter().enumerate() {
            let got = folded.logits(&npy.row_to_f32(i).unwrap(), t, m).unwrap();
            let worst = got
                .iter()
                .zip(e)
                .map(|(g, e)| (g - e).abs())
                .fold(0.0f32, f32::max);
            assert!(
                worst < 1e-4,
                "{model}, sample {i}, {threads} threads: max |Δ| {worst}"
            );
        }
    }
}

#[test]
fn student_logits_equal_burns_on_this_platform() {
    check("student", 1);
    check("student", 2);
}

#[test]
fn teacher_logits_equal_burns_on_this_platform() {
    check("teacher", 1);
    check("teacher", 2);
}
