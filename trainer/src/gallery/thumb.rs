//! A picture file -> a gallery thumbnail, through the library's one preprocessing path: decode (limits
//! checked, alpha over white), crop to the plot area ([`glitchscope::preprocess::crop_plot_area`]), resize with
//! the network's filter. Full plots, plot-area crops and synthetic views therefore come out with the same
//! seconds and hertz per pixel, and look exactly as the network sees them (before its own resize).

use std::path::Path;

use glitchscope::preprocess::{DecodeLimits, PLOT_BOX, RESIZE_FILTER, crop_plot_area, decode_rgb};
use image::RgbImage;

/// Thumbnail width for a height, with the aspect ratio of the plot-area crop (559 x 470).
pub fn thumb_width(height: u32) -> u32 {
    let (w, h) = (PLOT_BOX.x1 - PLOT_BOX.x0, PLOT_BOX.y1 - PLOT_BOX.y0);
    ((u64::from(height) * u64::from(w) + u64::from(h) / 2) / u64::from(h)).max(1) as u32
}

/// Loads `path` as a `width` x `height` thumbnail. The error names the file and what is wrong with it.
pub fn load_thumbnail(path: &Path, width: u32, height: u32) -> Result<RgbImage, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let rgb = decode_rgb(&bytes, &DecodeLimits::default()).map_err(|e| format!("{}: {e}", path.display()))?;
    let crop = crop_plot_area(&rgb).image;
    // Stretched to the common cell size: a picture that is not a Gravity Spy layout is taken whole, as the
    // network takes it, and every cell of the grid has the same size.
    Ok(image::imageops::resize(&crop, width, height, RESIZE_FILTER))
}
