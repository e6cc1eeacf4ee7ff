//! GlitchScope: Gravity Spy glitch classification with an ImageNet-pretrained EfficientNet-Lite.
//!
//! One library for the trainer, the CLI and the browser: labels, preprocessing, the network, model cards and
//! inference. Nothing here is web-specific except `web`, the only module that uses `wasm_bindgen`, compiled
//! for wasm32 alone.

pub mod card;
pub mod discovery;
pub mod labels;
pub mod model;
pub mod inference;
pub mod npy;
pub mod spectrogram;
pub mod strain;
pub mod strain_hdf5;
pub mod strain_series;
pub mod triggers;
pub mod pipeline;
pub mod preprocess;
pub mod views;
pub mod viridis;

#[cfg(target_arch = "wasm32")]
pub mod web;

// `wasm-pack test --headless --chrome` (or --firefox) runs the library's unit tests in the browser as well.
#[cfg(all(test, target_arch = "wasm32"))]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);
