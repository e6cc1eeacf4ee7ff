//! A contact sheet of glitches a classifier got wrong: one row per glitch, its views as the network sees them
//! (cropped by the one preprocessing path), and a caption saying what it is and what it was called.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use image::{Rgb, RgbImage};

use super::text::{Align, Font};
use super::thumb::{load_thumbnail, thumb_width};

const THUMB_HEIGHT: u32 = 110;
const CAPTION_HEIGHT: u32 = 22;
const GAP: u32 = 6;
const VIEWS: u32 = 4;

/// One wrong answer: the glitch's view files (at most four) and the caption under them.
pub struct Wrong {
    pub files: Vec<PathBuf>,
    pub caption: String,
}

/// Draw the sheet to `path` (PNG). A view that cannot be read is left blank; the rest still shows.
pub fn write_error_sheet(rows: &[Wrong], path: &Path) -> Result<()> {
    let font = Font::dejavu_sans()?;
    let tw = thumb_width(THUMB_HEIGHT);
    let width = GAP + VIEWS * (tw + GAP);
    let row_height = THUMB_HEIGHT + CAPTION_HEIGHT + GAP;
    let height = GAP + rows.len().max(1) as u32 * row_height;
    let mut sheet = RgbImage::from_pixel(width, height, Rgb([255, 255, 255]));
    for (r, wrong) in rows.iter().enumerate() {
        let top = GAP + r as u32 * row_height;
        for (v, file) in wrong.files.iter().take(VIEWS as usize).enumerate() {
            if let Ok(thumb) = load_thumbnail(file, tw, THUMB_HEIGHT) {
                image::imageops::replace(&mut sheet, &thumb, i64::from(GAP + v as u32 * (tw + GAP)), i64::from(top));
            }
        }
        let size = font.fitting_size(&wrong.caption, (width - 2 * GAP) as f32, 15.0, 8.0);
        let y = (top + THUMB_HEIGHT + 3) as f32;
        font.draw(&mut sheet, &wrong.caption, size, (GAP as f32, y), (Align::Start, Align::Start), Rgb([0, 0, 0]));
    }
    sheet.save(path).with_context(|| format!("writing {}", path.display()))
}
