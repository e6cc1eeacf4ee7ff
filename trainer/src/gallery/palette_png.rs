//! The gallery as an 8-bit palette PNG: 256 colours chosen by NeuQuant (`color_quant`, from image-rs).
//!
//! The gallery goes into the repository and the README, so its size matters: the noisy spectrogram
//! backgrounds make an RGB PNG of the 22-row gallery at 96 px about 2.4 MB, the palette PNG about 1.4 MB.
//! Viridis is a single curve through colour space, so 256 colours follow it closely: the measured error is
//! returned so the caller can report it.

use std::io::BufWriter;
use std::path::Path;

use anyhow::{Context, Result};
use color_quant::NeuQuant;
use image::RgbImage;

/// NeuQuant's sampling factor: 1 looks at every pixel, 30 at one in 30; 10 is its authors' default balance.
const SAMPLE_FACTOR: i32 = 10;

/// How far the palette picture is from the RGB one, in 8-bit steps per channel.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PaletteError {
    pub mean_abs: f64,
    pub max_abs: u8,
}

/// Writes `image` to `path` (folders created) as a 256-colour PNG and says how much the palette changed it.
pub fn save_indexed_png(image: &RgbImage, path: &Path) -> Result<PaletteError> {
    let (width, height) = image.dimensions();
    let rgba: Vec<u8> = image.pixels().flat_map(|p| [p[0], p[1], p[2], 255]).collect();
    let quantizer = NeuQuant::new(SAMPLE_FACTOR, 256, &rgba);
    let palette = quantizer.color_map_rgb();
    let mut indices = Vec::with_capacity(rgba.len() / 4);
    let (mut sum, mut max_abs) = (0u64, 0u8);
    for pixel in rgba.chunks_exact(4) {
        let index = quantizer.index_of(pixel);
        for (c, &value) in pixel[..3].iter().enumerate() {
            let error = value.abs_diff(palette[3 * index + c]);
            sum += u64::from(error);
            max_abs = max_abs.max(error);
        }
        // A 256-colour map has indices 0..=255.
        indices.push(index as u8);
    }

    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    let file = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut encoder = png::Encoder::new(BufWriter::new(file), width, height);
    encoder.set_color(png::ColorType::Indexed);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_palette(palette);
    encoder.set_compression(png::Compression::High);
    let write = || -> Result<(), png::EncodingError> {
        let mut writer = encoder.write_header()?;
        writer.write_image_data(&indices)?;
        writer.finish()
    };
    write().with_context(|| format!("writing {}", path.display()))?;
    let mean_abs = sum as f64 / (u64::from(width) * u64::from(height) * 3).max(1) as f64;
    Ok(PaletteError { mean_abs, max_abs })
}
