//! Why an image could not be preprocessed.

/// A typed reason for refusing an input; nothing in preprocessing panics on bad bytes.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum PreprocessError {
    #[error("the file is empty (0 bytes)")]
    Empty,
    #[error("not a supported image (expected PNG, JPEG or GIF): {0}")]
    UnsupportedFormat(String),
    #[error(
        "image declares {width}x{height} pixels, more than the limit of {max_width}x{max_height}"
    )]
    TooLarge {
        width: u32,
        height: u32,
        max_width: u32,
        max_height: u32,
    },
    #[error("decoding the image would need more than {limit_bytes} bytes of memory")]
    MemoryLimit { limit_bytes: u64 },
    #[error("image is {width}x{height} pixels; at least {min_side}x{min_side} are needed")]
    TooSmall {
        width: u32,
        height: u32,
        min_side: u32,
    },
    #[error("the image data is corrupt or truncated: {0}")]
    Corrupt(String),
    #[error("network input size {height}x{width} is invalid (both sides must be at least 1)")]
    BadInputSpec { height: u32, width: u32 },
}

/// A [`PreprocessError`] with the name of the file it came from, for messages shown to people.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error("{name}: {error}")]
pub struct NamedPreprocessError {
    pub name: String,
    #[source]
    pub error: PreprocessError,
}

impl PreprocessError {
    /// Attaches the file name (a path, or the name of an uploaded file).
    pub fn in_file(self, name: impl Into<String>) -> NamedPreprocessError {
        NamedPreprocessError {
            name: name.into(),
            error: self,
        }
    }
}
