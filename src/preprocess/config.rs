//! What the preprocessing needs to know: the network input size and the decoding limits.

use serde::{Deserialize, Serialize};

/// Height and width of the network input, in pixels.
///
/// The default, 176 x 208 (H x W), keeps the aspect ratio of the Gravity Spy plot area
/// (559 x 470 px crop, ratio 1.189; 208 / 176 = 1.182) so the resize barely distorts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputSpec {
    pub height: u32,
    pub width: u32,
}

impl Default for InputSpec {
    fn default() -> Self {
        Self {
            height: 176,
            width: 208,
        }
    }
}

impl InputSpec {
    /// Number of f32 values in one CHW input: 3 x height x width.
    pub fn len(&self) -> usize {
        3 * self.height as usize * self.width as usize
    }

    /// True when either side is zero (an unusable spec).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Limits checked while decoding, so a hostile or broken file gives an error instead of an allocation.
///
/// The declared width and height are checked from the file header before any pixel buffer exists;
/// `max_alloc_bytes` caps the decoder's buffers (the decoded image counts towards it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DecodeLimits {
    pub max_width: u32,
    pub max_height: u32,
    pub max_alloc_bytes: u64,
    /// Smallest accepted width and height: below this there is no picture left to classify.
    pub min_side: u32,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self {
            max_width: 8192,
            max_height: 8192,
            // 8192 x 8192 RGBA8 is 256 MiB; 16-bit RGBA of that size (512 MiB) is refused.
            max_alloc_bytes: 256 * 1024 * 1024,
            min_side: 16,
        }
    }
}

/// Everything the one preprocessing path depends on; saved with models so every caller agrees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PreprocessConfig {
    pub input: InputSpec,
    pub limits: DecodeLimits,
}
