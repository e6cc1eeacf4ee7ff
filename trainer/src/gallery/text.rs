//! Text on an RGB canvas, with DejaVu Sans embedded in the binary (the `dejavu` crate), so the gallery needs
//! no system fonts and looks the same on every machine.
//!
//! Glyphs are laid out with `ab_glyph` directly (advance, kerning, each outline placed at its own bounds)
//! rather than through plotters, whose bitmap text drops the side bearings and spaces small letters unevenly.

use ab_glyph::{Font as _, FontRef, PxScale, ScaleFont, point};
use anyhow::{Result, anyhow};
use image::{Rgb, RgbImage};

/// Where the given point lies on the text's box, along one axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    Start,
    Center,
    End,
}

/// The embedded font.
pub struct Font {
    font: FontRef<'static>,
}

impl Font {
    pub fn dejavu_sans() -> Result<Self> {
        let font = FontRef::try_from_slice(dejavu::sans::regular())
            .map_err(|e| anyhow!("the embedded DejaVu Sans font could not be read: {e}"))?;
        Ok(Self { font })
    }

    /// Width of `text` at `size` pixels (the font's line height: ascent + descent), in pixels.
    pub fn width(&self, text: &str, size: f32) -> f32 {
        let scaled = self.font.as_scaled(PxScale::from(size));
        let mut width = 0.0;
        let mut previous = None;
        for c in text.chars() {
            let id = scaled.glyph_id(c);
            if let Some(p) = previous {
                width += scaled.kern(p, id);
            }
            width += scaled.h_advance(id);
            previous = Some(id);
        }
        width
    }

    /// The largest size up to `max` (not below `min`) at which `text` is at most `width` pixels wide.
    pub fn fitting_size(&self, text: &str, width: f32, max: f32, min: f32) -> f32 {
        let mut size = max;
        while size > min && self.width(text, size) > width {
            size -= 0.5;
        }
        size.max(min)
    }

    /// Draws `text` at `size` pixels so that `(x, y)` is at the given place on its box, blending the glyphs'
    /// coverage into the canvas; what falls outside the canvas is cut off.
    pub fn draw(
        &self,
        canvas: &mut RgbImage,
        text: &str,
        size: f32,
        (x, y): (f32, f32),
        align: (Align, Align),
        colour: Rgb<u8>,
    ) {
        let scaled = self.font.as_scaled(PxScale::from(size));
        let height = scaled.ascent() - scaled.descent();
        let left = x - offset(align.0, self.width(text, size));
        let baseline = y - offset(align.1, height) + scaled.ascent();
        let mut caret = left;
        let mut previous = None;
        for c in text.chars() {
            let id = scaled.glyph_id(c);
            if let Some(p) = previous {
                caret += scaled.kern(p, id);
            }
            previous = Some(id);
            let glyph = id.with_scale_and_position(PxScale::from(size), point(caret, baseline));
            caret += scaled.h_advance(id);
            let Some(outlined) = self.font.outline_glyph(glyph) else { continue };
            let bounds = outlined.px_bounds();
            outlined.draw(|gx, gy, coverage| {
                let px = bounds.min.x as i64 + i64::from(gx);
                let py = bounds.min.y as i64 + i64::from(gy);
                if px < 0 || py < 0 || px >= i64::from(canvas.width()) || py >= i64::from(canvas.height()) {
                    return;
                }
                let pixel = canvas.get_pixel_mut(px as u32, py as u32);
                let a = coverage.clamp(0.0, 1.0);
                for (channel, target) in pixel.0.iter_mut().zip(colour.0) {
                    *channel = (f32::from(*channel) * (1.0 - a) + f32::from(target) * a).round() as u8;
                }
            });
        }
    }
}

fn offset(align: Align, extent: f32) -> f32 {
    match align {
        Align::Start => 0.0,
        Align::Center => extent / 2.0,
        Align::End => extent,
    }
}
