//! Strain-file bytes -> `read_strain` (GWOSC ASCII text or .npy, chosen by content) and the .npy reader on
//! its own, as strain uploads in the page and `--strain` in the CLI do.
#![no_main]

use glitchscope::npy::read_npy_bytes;
use glitchscope::strain::{read_strain, resolve_center};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(file) = read_strain("fuzz.txt", bytes) {
        // Accepted strain must be finite: the Q-transform relies on it. (An empty .npy is accepted here and
        // refused later as shorter than 8 s, by `gravity_spy_views`.)
        assert!(file.samples.iter().all(|v| v.is_finite()));
        let _ = resolve_center("fuzz.txt", &file, file.sample_rate.unwrap_or(4096.0), None);
    }
    if let Ok(array) = read_npy_bytes(bytes, "fuzz.npy") {
        assert_eq!(array.data.len() as u128, array.shape.iter().map(|&d| d as u128).product::<u128>());
    }
});
