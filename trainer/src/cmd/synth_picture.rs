//! The picture kinds `glitchscope synth` writes: each form in which real Gravity Spy views reach users.
//!
//! Measured on the 345 labelled real glitches of `../shared/data/real` (manifest.csv; DQT segments of the JPEGs):
//! - **O1 plot-area crop** (the Zenodo/Kaggle copy): PNG ~569x479, no axes. 47 glitches.
//! - **Full figure** with axes and colour bar, PNG 800x600 (the O1 full plots and the O3 plots): 114 glitches.
//! - **O2 Zooniverse subject**: the full figure as a JPEG, 800x600 (149 of 193 files) or 600x450 (44), IJG
//!   quantisation tables at quality 92 (191 files) or 94 (2). 184 glitches.
//!
//! `--format mixed` gives each glitch one kind (all four views alike, as a real subject set is), drawn from a
//! stream of its own so the strain, and every other glitch, stay as they are; the shares are those above.

use anyhow::{Context, Result};
use clap::ValueEnum;
use serde::Serialize;
use glitchscope::preprocess::RESIZE_FILTER;
use image::RgbaImage;
use sha2::{Digest, Sha256};
use std::path::Path;

/// Picture format of the views.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// The plot area alone, 569x479, like the O1 Zenodo/Kaggle copy.
    Crop,
    /// The whole 800x600 figure with axes frame and colour bar (O1 full plots, O3 plots).
    Full,
    /// The O2 Zooniverse subject: the whole figure as a JPEG, 800x600 or (23 %) 600x450, quality 92.
    O2,
    /// Each glitch in one of the kinds above, in the shares of the real labelled images (see below).
    Mixed,
}

/// The kind one glitch's views are written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PictureKind {
    Crop,
    Full,
    /// An O2 subject: the full figure (rescaled to 600x450 when `small`) as a JPEG of that quality.
    O2 { small: bool, quality: u8 },
}

/// Real labelled glitches per kind (module documentation): crop, full figure, O2 subject.
const REAL_GLITCHES: [f64; 3] = [47.0, 114.0, 184.0];
/// O2 subjects at 600x450 (44 of 193 files) and at quality 94 (2 of 193); the rest are 800x600 at quality 92.
const O2_SMALL_SHARE: f64 = 44.0 / 193.0;
const O2_Q94_SHARE: f64 = 2.0 / 193.0;

impl PictureKind {
    /// The kind of glitch `index` of `class` for `seed` under `format`.
    pub fn choose(format: Format, seed: u64, class: &str, index: u64) -> PictureKind {
        let u = uniforms(seed, class, index);
        let o2 = PictureKind::O2 { small: u[1] < O2_SMALL_SHARE, quality: if u[2] < O2_Q94_SHARE { 94 } else { 92 } };
        match format {
            Format::Crop => PictureKind::Crop,
            Format::Full => PictureKind::Full,
            Format::O2 => o2,
            Format::Mixed => {
                let total: f64 = REAL_GLITCHES.iter().sum();
                let x = u[0] * total;
                if x < REAL_GLITCHES[0] {
                    PictureKind::Crop
                } else if x < REAL_GLITCHES[0] + REAL_GLITCHES[1] {
                    PictureKind::Full
                } else {
                    o2
                }
            }
        }
    }

    /// The full figure, or the plot area alone, that this kind starts from.
    pub fn is_full_figure(self) -> bool {
        !matches!(self, PictureKind::Crop)
    }

    pub fn extension(self) -> &'static str {
        match self {
            PictureKind::O2 { .. } => "jpg",
            _ => "png",
        }
    }

    /// Writes the rendered picture (plot area or full figure, as [`Self::is_full_figure`] says) in this kind.
    pub fn save(self, image: &RgbaImage, path: &Path) -> Result<()> {
        match self {
            PictureKind::Crop | PictureKind::Full => {
                image.save(path).with_context(|| format!("cannot write {}", path.display()))
            }
            PictureKind::O2 { small, quality } => {
                let rgb = image::DynamicImage::ImageRgba8(image.clone()).to_rgb8();
                let rgb = if small {
                    let (w, h) = rgb.dimensions();
                    image::imageops::resize(&rgb, w * 3 / 4, h * 3 / 4, RESIZE_FILTER)
                } else {
                    rgb
                };
                let file = std::fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
                let mut writer = std::io::BufWriter::new(file);
                let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut writer, quality);
                rgb.write_with_encoder(encoder).with_context(|| format!("cannot write {}", path.display()))
            }
        }
    }
}

/// Three uniforms in [0, 1) from SHA-256 over (seed, class, index): the kind's own stream.
fn uniforms(seed: u64, class: &str, index: u64) -> [f64; 3] {
    let mut h = Sha256::new();
    h.update(b"glitchscope-synth-picture-kind");
    h.update(seed.to_le_bytes());
    h.update(class.as_bytes());
    h.update(index.to_le_bytes());
    let d: [u8; 32] = h.finalize().into();
    let word = |k: usize| u64::from_le_bytes(d[8 * k..8 * k + 8].try_into().unwrap()) >> 11;
    [0, 1, 2].map(|k| word(k) as f64 / (1u64 << 53) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixed_follows_the_real_shares_and_is_deterministic() {
        let n = 4000;
        let kinds: Vec<PictureKind> = (0..n).map(|i| PictureKind::choose(Format::Mixed, 7, "Blip", i)).collect();
        let again: Vec<PictureKind> = (0..n).map(|i| PictureKind::choose(Format::Mixed, 7, "Blip", i)).collect();
        assert_eq!(kinds, again);
        let share = |f: &dyn Fn(&PictureKind) -> bool| kinds.iter().filter(|k| f(k)).count() as f64 / n as f64;
        let crop = share(&|k| *k == PictureKind::Crop);
        let full = share(&|k| *k == PictureKind::Full);
        let small = share(&|k| matches!(k, PictureKind::O2 { small: true, .. }));
        assert!((crop - 47.0 / 345.0).abs() < 0.03, "crop share {crop}");
        assert!((full - 114.0 / 345.0).abs() < 0.03, "full share {full}");
        assert!((small - 184.0 / 345.0 * O2_SMALL_SHARE).abs() < 0.03, "600x450 share {small}");
        assert_ne!(
            (0..50).map(|i| PictureKind::choose(Format::Mixed, 7, "Blip", i)).collect::<Vec<_>>(),
            (0..50).map(|i| PictureKind::choose(Format::Mixed, 8, "Blip", i)).collect::<Vec<_>>(),
            "the seed must change the kinds"
        );
    }

    #[test]
    fn o2_subjects_are_jpegs_of_the_real_sizes() {
        let dir = tempfile::tempdir().unwrap();
        let figure = RgbaImage::from_pixel(800, 600, image::Rgba([40, 10, 80, 255]));
        for (small, size) in [(false, (800, 600)), (true, (600, 450))] {
            let path = dir.path().join(format!("v_{small}.jpg"));
            PictureKind::O2 { small, quality: 92 }.save(&figure, &path).unwrap();
            let bytes = std::fs::read(&path).unwrap();
            assert_eq!(&bytes[..2], &[0xFF, 0xD8], "not a JPEG");
            let back = image::load_from_memory(&bytes).unwrap();
            assert_eq!((back.width(), back.height()), size);
        }
    }
}
