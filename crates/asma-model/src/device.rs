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
    let names = narrowed(wanted.as_deref(), &built()).unwrap_or_else(|e| panic!("{e}"));
    let devices: Vec<_> = names
        .into_iter()
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

/// The `built` device names that `wanted` (`ASMA_TEST_DEVICES`: comma-separated names, or
/// unset for all) selects; a wanted name the build lacks is an error, so a typo cannot
/// silently test nothing.
fn narrowed(wanted: Option<&str>, built: &[&'static str]) -> Result<Vec<&'static str>, String> {
    let Some(wanted) = wanted else {
        return Ok(built.to_vec());
    };
    let wanted: Vec<&str> = wanted.split(',').map(str::trim).collect();
    let unknown: Vec<_> = wanted.iter().filter(|n| !built.contains(n)).collect();
    if !unknown.is_empty() {
        return Err(format!(
            "ASMA_TEST_DEVICES names {unknown:?}, which this build lacks (built: {built:?})"
        ));
    }
    Ok(built
        .iter()
        .copied()
        .filter(|b| wanted.contains(b))
        .collect())
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

    #[test]
    fn test_device_names_narrow_the_built_ones_and_refuse_unknown_ones() {
        let built = ["cpu", "wgpu"];
        assert_eq!(narrowed(None, &built).unwrap(), ["cpu", "wgpu"]);
        assert_eq!(narrowed(Some("wgpu"), &built).unwrap(), ["wgpu"]);
        assert_eq!(
            narrowed(Some(" wgpu , cpu"), &built).unwrap(),
            ["cpu", "wgpu"]
        );
        let err = narrowed(Some("cpu,vulkan"), &built).unwrap_err();
        assert!(err.contains("\"vulkan\"") && err.contains("wgpu"), "{err}");
    }
}
