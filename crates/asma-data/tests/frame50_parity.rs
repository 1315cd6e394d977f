//! Parity of the frame50 preparation with the NumPy + OpenCV reference
//! (`tools/reference/frame50_reference.py`, which regenerates these fixtures): the same
//! `.skeleton` inputs must give the same (3, 50, 25, 2) tensors within 1e-5.

use std::path::Path;

use asma_data::formats::npy::MmapNpy;
use asma_data::formats::ntu::{read_skeleton, to_sequence, BodyPolicy};
use asma_data::prepare::frame50::{frame50, Frame50Options};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/frame50");

#[test]
fn frame50_matches_the_numpy_opencv_reference() {
    let expected =
        MmapNpy::open_skeleton(Path::new(DIR).join("expected_position.npy").as_path()).unwrap();
    let names: Vec<String> = std::fs::read_to_string(Path::new(DIR).join("names.txt"))
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(expected.shape(), &[names.len(), 3, 50, 25, 2]);
    let mut worst = 0f32;
    for (i, name) in names.iter().enumerate() {
        let path = Path::new(DIR).join(format!("{name}.skeleton"));
        let seq = to_sequence(
            &read_skeleton(&path).unwrap(),
            BodyPolicy::First2,
            300,
            &path,
        )
        .unwrap();
        let ours = frame50(&seq, &Frame50Options::default()).unwrap();
        let theirs = expected.row_to_f32(i).unwrap();
        assert_eq!(ours.data.len(), theirs.len());
        for (k, (a, b)) in ours.data.iter().zip(theirs.iter()).enumerate() {
            let d = (a - b).abs();
            assert!(
                d <= 1e-5,
                "{name}: value {k} differs: ours {a}, reference {b}"
            );
            worst = worst.max(d);
        }
    }
    eprintln!("largest difference to the reference: {worst:e}");
}
