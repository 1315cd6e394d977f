//! The NTU `.skeleton` parser and the body selection must never panic, whatever the bytes.
#![no_main]
use asma_data::formats::ntu::{parse_skeleton, to_sequence, BodyPolicy};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.skeleton");
    if let Ok(file) = parse_skeleton(data, path) {
        let _ = to_sequence(&file, BodyPolicy::First2, 300, path);
        let _ = to_sequence(&file, BodyPolicy::Energy2, 300, path);
    }
});
