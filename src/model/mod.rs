//! The networks. Nothing here knows about files, URLs or the browser.

pub mod batch;
pub mod efficientnet;
pub mod fusion;
pub mod glitchnet;
pub mod weights;

pub use efficientnet::{EfficientNet, EfficientNetConfig, HEAD_CHANNELS, LiteVariant};
pub use fusion::Fusion;
pub use batch::{BatchError, GlitchBatch};
pub use glitchnet::{GlitchNet, GlitchNetConfig, GlitchOutput};
