//! The pickle VM and the label / pyskl readers on top of it must never panic or run away,
//! whatever the bytes.
#![no_main]
use asma_data::formats::labels::labels_from_value;
use asma_data::formats::pickle::load;
use asma_data::formats::pyskl::pyskl_from_value;
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.pkl");
    if let Ok(value) = load(data, path) {
        let _ = labels_from_value(&value, path);
        let _ = pyskl_from_value(value, path);
    }
});
