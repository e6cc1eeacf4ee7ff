//! Image bytes -> decode (default limits) -> crop -> resize -> normalise, as the CLI and the page do for every
//! uploaded picture. Any input must give `Ok` or an error, never a panic, and a bounded allocation.
#![no_main]

use glitchscope::preprocess::{PreprocessConfig, preprocess_named};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let config = PreprocessConfig::default();
    if let Ok(out) = preprocess_named("fuzz.png", bytes, &config) {
        // The contract the network relies on: exactly one CHW input of the configured size, all finite.
        assert_eq!(out.input.len(), config.input.len());
        assert!(out.input.iter().all(|v| v.is_finite()));
    }
});
