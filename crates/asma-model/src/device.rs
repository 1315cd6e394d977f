//! The burn device from a name: `cpu` is burn's pure-Rust `flex` backend (always built);
//! `gpu` is burn's wgpu backend pinned to Vulkan with CubeCL's SPIR-V compiler (Cargo feature
//! `vulkan`); `wgpu` is burn's wgpu backend on whatever graphics API the machine offers, its
//! kernels written in WGSL and translated by naga (feature `wgpu`; this is the build CI runs
//! on Mesa's software Vulkan driver, lavapipe, which cannot run CubeCL's SPIR-V); `cuda` /
//! `cuda:N` CubeCL CUDA with kernels compiled by NVRTC (feature `cuda`). The same model code
//! runs on each: 0.22 dispatches on the `Device` value.

use burn::tensor::{Device, Tensor};

use crate::error::ModelError;

/// `cpu`, `gpu`/`vulkan`, `wgpu` or `cuda[:N]`.
pub fn select(name: &str) -> Result<Device, ModelError> {
    #[cfg(feature = "cuda")]
    if let Some(index) = cuda_index(name)? {
        return Ok(Device::cuda(index));
    }
    match name {
        "cpu" | "flex" => Ok(Device::flex()),
        #[cfg(feature = "vulkan")]
        "gpu" | "vulkan" => Ok(Device::vulkan(Default::default())),
        #[cfg(feature = "wgpu")]
        "wgpu" => Ok(Device::wgpu(Default::default())),
        other => Err(ModelError::Config(format!(
            "device '{other}' is not available in this build (built: {})",
            built().join(", ")
        ))),
    }
}

/// The GPU index of a CUDA device name: `cuda` is 0, `cuda:N` is N; `None` for other names.
/// Parsed in every build, so the syntax is tested without the `cuda` feature.
pub fn cuda_index(name: &str) -> Result<Option<usize>, ModelError> {
    match name.strip_prefix("cuda") {
        Some("") => Ok(Some(0)),
        Some(rest) => match rest.strip_prefix(':').map(str::parse::<usize>) {
            Some(Ok(index)) => Ok(Some(index)),
            _ => Err(ModelError::Config(format!(
                "bad CUDA device '{name}' (cuda or cuda:N)"
            ))),
        },
        None => Ok(None),
    }
}

/// The device names this build has: `cpu`, then `gpu`, `wgpu` and `cuda` where their
/// features are on.
pub fn built() -> Vec<&'static str> {
    let mut names = vec!["cpu"];
    if cfg!(feature = "vulkan") {
        names.push("gpu");
    }
    if cfg!(feature = "wgpu") {
        names.push("wgpu");
    }
    if cfg!(feature = "cuda") {
        names.push("cuda");
    }
    names
}

/// Whether `device` can run a kernel here: a GPU backend built without an adapter on the
/// machine panics on its first tensor, which this catches.
pub fn usable(device: &Device) -> bool {
    let probe = device.clone();
    std::panic::catch_unwind(move || {
        Tensor::<1>::zeros([1], &probe).into_data();
    })
    .is_ok()
}

/// The devices the tests of operation forms and PyTorch parity run on: every built device
/// that is [`usable`] here (one without an adapter is skipped with a note), narrowed to the
/// names in `ASMA_TEST_DEVICES` (comma-separated, e.g. `wgpu` for CI's software-GPU stage)
/// when that is set. `ASMA_REQUIRE_GPU=1` turns a skipped device into a panic, so a GPU
/// stage cannot pass by running nothing.
pub fn test_devices() -> Vec<(&'static str, Device)> {
    let require = std::env::var("ASMA_REQUIRE_GPU").is_ok_and(|v| v == "1");
    let wanted = std::env::var("ASMA_TEST_DEVICES").ok();
    let wanted: Option<Vec<&str>> = wanted
        .as_deref()
        .map(|w| w.split(',').map(str::trim).collect());
    if let Some(w) = &wanted {
        let built = built();
        let unknown: Vec<_> = w.iter().filter(|n| !built.contains(n)).collect();
        assert!(
            unknown.is_empty(),
            "ASMA_TEST_DEVICES names {unknown:?}, which this build lacks (built: {built:?})"
        );
    }
    let devices: Vec<_> = built()
        .into_iter()
        .filter(|name| wanted.as_ref().is_none_or(|w| w.contains(name)))
        .filter_map(|name| {
            let device = select(name).expect("a built device name");
            let ok = usable(&device);
            assert!(ok || !require, "device {name} is built but cannot run here");
            if !ok {
                eprintln!("skipping device {name}: built, but no adapter here");
            }
            ok.then_some((name, device))
        })
        .collect();
    assert!(!devices.is_empty(), "no device to test on");
    devices
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuda_names_parse() {
        assert_eq!(cuda_index("cuda").unwrap(), Some(0));
        assert_eq!(cuda_index("cuda:3").unwrap(), Some(3));
        assert_eq!(cuda_index("gpu").unwrap(), None);
        assert!(cuda_index("cuda:").is_err());
        assert!(cuda_index("cuda:x").is_err());
        assert!(cuda_index("cuda3").is_err());
    }

    #[test]
    fn unbuilt_devices_are_refused_by_name() {
        assert!(select("cpu").is_ok());
        let err = select("tpu").unwrap_err().to_string();
        assert!(err.contains("tpu") && err.contains("cpu"), "{err}");
        if !cfg!(feature = "cuda") {
            assert!(select("cuda:1").is_err());
        }
    }
}
