//! The PKU-MMD frame and label parsers and clip cutting must never panic.
#![no_main]
use asma_data::formats::pku::{cut_clips, parse_pku_frames, parse_pku_labels};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    // The first half is read as a skeleton file, the rest as a label file.
    let (a, b) = data.split_at(data.len() / 2);
    let frames = parse_pku_frames(a, Path::new("0002-L.txt"));
    let labels = parse_pku_labels(b, Path::new("labels/0002-L.txt"));
    if let (Ok(f), Ok(l)) = (frames, labels) {
        let _ = cut_clips("0002-L", &f, &l, Path::new("labels/0002-L.txt"));
    }
});
