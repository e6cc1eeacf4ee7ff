//! Which Burn device the CLI runs on. The CPU backend (`flex`, the fastest of Burn's CPU backends here) is
//! always there; GPU backends exist when the binary is built with their feature.

use anyhow::{Result, bail};
use burn::tensor::Device;

/// `cpu` (default), or `cuda` / `cuda:N` / `vulkan` when compiled in.
pub fn select(name: &str) -> Result<Device> {
    let (kind, index) = match name.split_once(':') {
        Some((kind, index)) => {
            let Ok(index) = index.parse::<usize>() else { bail!("device {name:?}: the part after ':' is not a GPU number") };
            (kind, Some(index))
        }
        None => (name, None),
    };
    match (kind, index) {
        ("cpu" | "flex", None) => Ok(Device::flex()),
        #[cfg(feature = "cuda")]
        ("cuda", index) => probe(
            Device::cuda(index.unwrap_or(0)),
            name,
            "an NVIDIA driver (libcuda.so.1) and NVRTC (libnvrtc.so)",
        ),
        #[cfg(feature = "vulkan")]
        ("vulkan", None) => probe(
            Device::vulkan(burn::tensor::DeviceKind::DefaultDevice),
            "vulkan",
            "a Vulkan loader (libvulkan.so.1) and a GPU driver with a Vulkan ICD",
        ),
        _ => bail!("unknown or not compiled-in device {name:?}: this binary supports {}", supported().join(", ")),
    }
}

/// Every device of a data-parallel run, in order (the first one holds the optimiser and validates).
/// The CPU backend is one device shared by all cores: `cpu,cpu` gives two workers on it, each stepping its half
/// of the batch on its own thread, which is how multi-device training is exercised without GPUs.
pub fn select_all(names: &[String]) -> Result<Vec<Device>> {
    if names.is_empty() {
        bail!("no device given");
    }
    let mut kinds: Vec<&str> = names.iter().map(|n| n.split(':').next().unwrap_or("")).collect();
    kinds.dedup();
    if kinds.len() > 1 {
        bail!("devices {} mix backends: a data-parallel run uses one kind of device", names.join(","));
    }
    names.iter().map(|n| select(n)).collect()
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
        // The CUDA loader's message goes on to list thirty library names: its first clause says it all.
        let why = match why.find(" - searched for") {
            Some(end) => why[..end].to_string(),
            None => why,
        };
        bail!("device {name} is not usable on this machine ({why}); it needs {needs}. Use --device cpu.");
    }
    Ok(device)
}

fn supported() -> Vec<&'static str> {
    let mut v = vec!["cpu"];
    if cfg!(feature = "cuda") {
        v.push("cuda[:N]");
    }
    if cfg!(feature = "vulkan") {
        v.push("vulkan");
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names_are_checked() {
        assert_eq!(select_all(&["cpu".into(), "cpu".into()]).unwrap().len(), 2);
        let err = select("cpu:1").unwrap_err().to_string();
        assert!(err.contains("\"cpu:1\""), "{err}");
        let err = select("cuda:x").unwrap_err().to_string();
        assert!(err.contains("not a GPU number"), "{err}");
        let err = select_all(&["cpu".into(), "vulkan".into()]).unwrap_err().to_string();
        assert!(err.contains("mix backends"), "{err}");
        assert!(select_all(&[]).is_err());
    }
}
