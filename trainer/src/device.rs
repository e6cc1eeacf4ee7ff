//! Which Burn device the CLI runs on. The CPU backend (`flex`, the fastest of Burn's CPU backends here) is
//! always there; GPU backends exist when the binary is built with their feature.

use anyhow::{Result, bail};
use burn::tensor::Device;

/// `cpu` (default), or `cuda` / `vulkan` when compiled in.
pub fn select(name: &str) -> Result<Device> {
    match name {
        "cpu" | "flex" => Ok(Device::flex()),
        #[cfg(feature = "cuda")]
        "cuda" => Ok(Device::cuda(0)),
        #[cfg(feature = "vulkan")]
        "vulkan" => Ok(Device::vulkan(burn::tensor::DeviceKind::DefaultDevice)),
        other => bail!(
            "unknown or not compiled-in device {other:?}: this binary supports {}",
            supported().join(", ")
        ),
    }
}

fn supported() -> Vec<&'static str> {
    let mut v = vec!["cpu"];
    if cfg!(feature = "cuda") {
        v.push("cuda");
    }
    if cfg!(feature = "vulkan") {
        v.push("vulkan");
    }
    v
}
