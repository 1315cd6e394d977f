//! The burn device from a name: `cpu` is burn's pure-Rust `flex` backend (always built);
//! `gpu` is burn's wgpu backend on Vulkan (Cargo feature `vulkan`), `cuda` CubeCL CUDA
//! (feature `cuda`). The same model code runs on each: 0.22 dispatches on the `Device` value.

use burn::tensor::Device;

use crate::error::ModelError;

/// `cpu`, `gpu`/`vulkan` or `cuda[:N]`.
pub fn select(name: &str) -> Result<Device, ModelError> {
    match name {
        "cpu" | "flex" => Ok(Device::flex()),
        #[cfg(feature = "vulkan")]
        "gpu" | "vulkan" => Ok(Device::vulkan(Default::default())),
        #[cfg(feature = "cuda")]
        n if n == "cuda" || n.starts_with("cuda:") => {
            let index = n
                .strip_prefix("cuda:")
                .map(|i| {
                    i.parse()
                        .map_err(|_| ModelError::Config(format!("bad CUDA device '{n}'")))
                })
                .transpose()?
                .unwrap_or(0);
            Ok(Device::cuda(index))
        }
        other => Err(ModelError::Config(format!(
            "device '{other}' is not available in this build (built: {})",
            built().join(", ")
        ))),
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
