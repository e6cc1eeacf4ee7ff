//! The one preprocessing path shared by the trainer, the CLI and the browser:
//! image bytes -> decode (limits checked) -> crop to the spectrogram -> resize -> normalise (CHW f32).
//!
//! - [`decode_rgb`]: PNG / JPEG / GIF bytes to 8-bit RGB (alpha over white, grey expanded).
//! - [`crop_plot_area`]: recognises a full Gravity Spy plot, a plot-area image or anything else
//!   ([`PictureKind`]) and cuts out the spectrogram; `crop.rs` documents the measured geometry.
//! - [`resize_to_input`] + [`normalise_chw`]: Triangle resize to [`InputSpec`], then
//!   `(pixel - 127) / 128` as EfficientNet-Lite expects.
//!
//! Pure Rust, no file system: it runs unchanged in wasm.

mod config;
mod crop;
mod decode;
mod error;
mod frame;
mod likeness;
mod tensor;

pub use config::{DecodeLimits, InputSpec, PreprocessConfig};
pub use crop::{
    AXES_FRAME, Crop, CropBox, FIGURE_SIZE, FigureBox, PLOT_AREA_ORIGIN, PLOT_AREA_SIZE, PLOT_BOX,
    PictureKind, crop_plot_area, find_crop_box,
};
pub use decode::decode_rgb;
pub use error::{NamedPreprocessError, PreprocessError};
pub use frame::{Interior, find_interior};
pub use likeness::{Likeness, MIN_VIRIDIS_SHARE, likeness};
pub use tensor::{PIXEL_MEAN, PIXEL_STD, RESIZE_FILTER, normalise_chw, resize_to_input};

use image::RgbImage;

/// One picture made ready for the network.
#[derive(Debug, Clone, PartialEq)]
pub struct Preprocessed {
    /// Network input, `3 * spec.height * spec.width` values in CHW order, normalised.
    pub input: Vec<f32>,
    pub spec: InputSpec,
    /// The spectrogram cut from the picture, before resizing (for thumbnails and inspection).
    pub crop: RgbImage,
    /// Which crop rule was applied.
    pub kind: PictureKind,
    /// Where `crop` lies in the source picture.
    pub crop_box: CropBox,
    /// Size of the decoded source picture (width, height).
    pub source_size: (u32, u32),
}

/// Bytes of a PNG, JPEG or GIF file -> network input. The format comes from the content.
pub fn preprocess(
    bytes: &[u8],
    config: &PreprocessConfig,
) -> Result<Preprocessed, PreprocessError> {
    check_spec(config.input)?;
    let rgb = decode_rgb(bytes, &config.limits)?;
    preprocess_rgb(&rgb, config.input)
}

/// As [`preprocess`], with the file name in the error (a path, or an uploaded file's name).
pub fn preprocess_named(
    name: &str,
    bytes: &[u8],
    config: &PreprocessConfig,
) -> Result<Preprocessed, NamedPreprocessError> {
    preprocess(bytes, config).map_err(|e| e.in_file(name))
}

/// An already decoded picture (e.g. a spectrogram rendered in memory) -> network input.
pub fn preprocess_rgb(image: &RgbImage, spec: InputSpec) -> Result<Preprocessed, PreprocessError> {
    check_spec(spec)?;
    let source_size = image.dimensions();
    if source_size.0 == 0 || source_size.1 == 0 {
        return Err(PreprocessError::TooSmall {
            width: source_size.0,
            height: source_size.1,
            min_side: 1,
        });
    }
    let Crop {
        image: crop,
        kind,
        crop_box,
    } = crop_plot_area(image);
    let input = normalise_chw(&resize_to_input(&crop, spec));
    Ok(Preprocessed {
        input,
        spec,
        crop,
        kind,
        crop_box,
        source_size,
    })
}

/// One line for model cards and reports: how inputs are made, with the constants in force.
pub fn description(spec: InputSpec) -> String {
    format!(
        "decode PNG/JPEG/GIF (first frame), alpha over white, grey to RGB; crop: full Gravity Spy \
         plot (4:3) -> figure box x {}..{}, y {}..{} of 800x600 (scaled for other 4:3 sizes), \
         569x479 plot-area image -> the same figure box; other pictures placed by their viridis \
         rectangle (plot area alone -> whole but for a frame line; axes at another scale -> the same \
         figure box inside the frame found); no viridis plot -> whole; resize to {}x{} \
         (HxW) with a Triangle filter; x = (pixel - {}) / {}; CHW RGB f32",
        PLOT_BOX.x0,
        PLOT_BOX.x1,
        PLOT_BOX.y0,
        PLOT_BOX.y1,
        spec.height,
        spec.width,
        PIXEL_MEAN,
        PIXEL_STD
    )
}

fn check_spec(spec: InputSpec) -> Result<(), PreprocessError> {
    if spec.height == 0 || spec.width == 0 {
        return Err(PreprocessError::BadInputSpec {
            height: spec.height,
            width: spec.width,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    // In the browser (wasm-pack test), each #[test] below runs as a wasm_bindgen_test.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;
    use super::*;

    #[test]
    fn zero_sized_input_spec_is_refused() {
        let img = RgbImage::new(32, 32);
        let spec = InputSpec {
            height: 0,
            width: 10,
        };
        assert_eq!(
            preprocess_rgb(&img, spec),
            Err(PreprocessError::BadInputSpec {
                height: 0,
                width: 10
            })
        );
    }

    #[test]
    fn in_memory_picture_goes_the_same_way() {
        let img = RgbImage::from_pixel(300, 200, image::Rgb([255, 127, 0]));
        let p = preprocess_rgb(&img, InputSpec::default()).expect("preprocesses");
        assert_eq!(p.kind, PictureKind::Other);
        assert_eq!(p.input.len(), 3 * 176 * 208);
        let plane = 176 * 208;
        assert_eq!(
            (p.input[0], p.input[plane], p.input[2 * plane]),
            (1.0, 0.0, -127.0 / 128.0)
        );
    }

    #[test]
    fn description_names_the_constants() {
        let d = description(InputSpec::default());
        assert!(
            d.contains("176x208") && d.contains("108..667") && d.contains("(pixel - 127) / 128"),
            "{d}"
        );
    }
}
