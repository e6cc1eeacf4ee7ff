//! Which Burn device the CLI runs on. The CPU backend (`flex`, the fastest of Burn's CPU backends here) is
//! always there; GPU backends exist when the binary is built with their feature.

use anyhow::{Result, bail};
use burn::tensor::Device;

/// `cpu` (default), or `cuda` / `vulkan` when compiled in.
pub fn select(name: &str) -> Result<Device> {
    match name {
        "cpu" | "flex" => Ok(Device::flex()),
        #[cfg(feature = "cuda")]
        "cuda" => probe(Device::cuda(0), "cuda", "an NVIDIA driver (libcuda.so.1) and NVRTC (libnvrtc.so)"),
        #[cfg(feature = "vulkan")]
        "vulkan" => probe(
            Device::vulkan(burn::tensor::DeviceKind::DefaultDevice),
            "vulkan",
            "a Vulkan loader (libvulkan.so.1) and a GPU driver with a Vulkan ICD",
        ),
        other => bail!(
            "unknown or not compiled-in device {other:?}: this binary supports {}",
            supported().join(", ")
        ),
    }
}

/// GPU backends start lazily and panic (in a runtime thread) when the driver is missing. Touch the device once
/// here, with the panic message silenced, so that a missing GPU is one clear error instead of a backtrace.
#[cfg(any(feature = "cuda", feature = "vulkan"))]
fn probe(device: Device, name: &str, needs: &str) -> Result<Device> {
    use std::sync::{Arc, Mutex};
    let message = Arc::new(Mutex::new(String::new()));
    let hook = std::panic::take_hook();
    let seen = message.clone();
    std::panic::set_hook(Box::new(move |info| {
        // The first panic is the cause (the runtime thread's); later ones are its echoes.
        if let Ok(mut m) = seen.lock()
            && m.is_empty()
        {
            *m = info.payload_as_str().unwrap_or("panic").to_string();
        }
    }));
    let probe_device = device.clone();
    let ok = std::thread::spawn(move || {
        std::panic::catch_unwind(move || burn::tensor::Tensor::<1>::ones([4], &probe_device).sum().into_scalar::<f32>())
    })
    .join()
    .map(|r| r.is_ok())
    .unwrap_or(false);
    std::panic::set_hook(hook);
    if !ok {
        let why = message.lock().map(|m| m.clone()).unwrap_or_default();
        bail!("device {name} is not usable on this machine ({why}); it needs {needs}. Use --device cpu.");
    }
    Ok(device)
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
