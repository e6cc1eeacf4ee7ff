//! Weights-file bytes -> the Burnpack loading path of `Classifier::from_card` (after the sha256 check, which a
//! fuzzer cannot pass): `load_burnpack` into a lite0 GlitchNet with the 22 Gravity Spy classes.
#![no_main]

use std::sync::OnceLock;

use burn::tensor::Device;
use glitchscope::labels::O1_CLASSES;
use glitchscope::model::weights::load_burnpack;
use glitchscope::model::{GlitchNet, GlitchNetConfig, LiteVariant};
use libfuzzer_sys::fuzz_target;

/// Building the network once: its random initialisation costs far more than parsing an input.
fn network() -> &'static GlitchNet {
    static NET: OnceLock<GlitchNet> = OnceLock::new();
    NET.get_or_init(|| {
        GlitchNetConfig::new()
            .with_backbone(LiteVariant::Lite0)
            .with_num_classes(O1_CLASSES.len())
            .init(&Device::default())
    })
}

fuzz_target!(|bytes: &[u8]| {
    let mut model = network().clone();
    let _ = load_burnpack(&mut model, "fuzz.bpk", bytes.to_vec());
});
