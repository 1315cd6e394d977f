//! The `.npy` header parser, the skeleton-shape check and the `.npz` reader must never
//! panic, whatever the bytes.
#![no_main]
use asma_data::formats::npy::MmapNpy;
use asma_data::formats::npz::Npz;
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    if let Ok(a) = MmapNpy::from_bytes(data, Path::new("fuzz.npy")) {
        let _ = a.check_skeleton();
        let _ = a.to_array();
        if !a.is_empty() {
            let _ = a.row_to_f32(0);
        }
    }
    if let Ok(z) = Npz::from_bytes(data, Path::new("fuzz.npz")) {
        let keys: Vec<String> = z.keys().iter().map(|k| k.to_string()).collect();
        for k in keys {
            let _ = z.small(&k);
        }
    }
});
