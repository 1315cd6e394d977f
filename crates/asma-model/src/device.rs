//! The burn device from a name: `cpu` is burn's pure-Rust `flex` backend (always built);
//! `gpu` is burn's wgpu backend on Vulkan (Cargo feature `vulkan`), `cuda` / `cuda:N` CubeCL
//! CUDA with kernels compiled by NVRTC (feature `cuda`). The same model code runs on each:
//! 0.22 dispatches on the `Device` value.

use burn::tensor::Device;

use crate::error::ModelError;

/// `cpu`, `gpu`/`vulkan` or `cuda[:N]`.
pub fn select(name: &str) -> Result<Device, ModelError> {
    #[cfg(feature = "cuda")]
    if let Some(index) = cuda_index(name)? {
        return Ok(Device::cuda(index));
    }
    match name {
        "cpu" | "flex" => Ok(Device::flex()),
        #[cfg(feature = "vulkan")]
        "gpu" | "vulkan" => Ok(Device::vulkan(Default::default())),
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

/// The device names this build has: `cpu`, then `gpu` and `cuda` where their features are on.
pub fn built() -> Vec<&'static str> {
    let mut names = vec!["cpu"];
    if cfg!(feature = "vulkan") {
        names.push("gpu");
    }
    if cfg!(feature = "cuda") {
        names.push("cuda");
    }
    names
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
