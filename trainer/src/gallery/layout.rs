//! Where everything goes in the gallery picture, and the drawing.
//!
//! ```text
//!  title
//!              synthetic 0.5 s | 1 s | 2 s | 4 s      real 0.5 s | 1 s | 2 s | 4 s
//!  Blip        [thumb] [thumb] [thumb] [thumb]        [thumb] [thumb] [thumb] [thumb]
//!  real: src
//! ```
//! Thumbnails are pasted into a white canvas, grey boxes with a note stand for what is missing, and the text
//! is drawn last (see `text`).

use glitchscope::views::{Duration, VIEW_COUNT};
use image::{Rgb, RgbImage};

use super::text::{Align, Font};
use super::{Row, Side};

/// Fill of a cell with nothing to show.
pub const PLACEHOLDER: Rgb<u8> = Rgb([200, 200, 200]);
const BACKGROUND: Rgb<u8> = Rgb([255, 255, 255]);
const TEXT: Rgb<u8> = Rgb([0, 0, 0]);
const NOTE_TEXT: Rgb<u8> = Rgb([80, 80, 80]);
const CAPTION_TEXT: Rgb<u8> = Rgb([100, 100, 100]);

/// The header of one column, e.g. "synthetic 0.5 s".
pub fn column_header(side: Side, duration: Duration) -> String {
    format!("{} {} s", side.name(), duration.seconds())
}

/// Text sizes in pixels, all derived from the thumbnail height.
#[derive(Clone, Copy, Debug, PartialEq)]
struct FontSizes {
    label: f32,
    caption: f32,
    header: f32,
    title: f32,
}

/// Every position in the picture, in pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Geometry {
    pub thumb_width: u32,
    pub thumb_height: u32,
    /// Width of the column with the class names.
    pub label_width: u32,
    /// Where the column headers' band begins (the title is above it).
    pub header_top: u32,
    /// Height above the first row: the title and the column headers.
    pub top: u32,
    /// Space between two cells.
    pub gap: u32,
    /// Extra space between the synthetic and the real columns.
    pub side_gap: u32,
    pub margin: u32,
    pub rows: u32,
    fonts: FontSizes,
}

impl Geometry {
    /// The layout for `rows` rows of `thumb_width` x `thumb_height` thumbnails, the label column wide
    /// enough for the longest of `labels`.
    pub fn new(font: &Font, thumb_width: u32, thumb_height: u32, rows: u32, labels: &[&str]) -> Self {
        let label = (thumb_height as f32 * 0.15).clamp(9.0, 30.0);
        // Every header fits its column: the widest decides the common size.
        let widest = Side::ALL
            .iter()
            .flat_map(|&side| Duration::ALL.map(|d| column_header(side, d)))
            .map(|t| font.fitting_size(&t, thumb_width.saturating_sub(4) as f32, label, 6.0))
            .fold(label, f32::min);
        let fonts = FontSizes { label, caption: (label * 0.8).max(8.0), header: widest, title: label * 1.3 };
        let margin = (thumb_height / 12).max(4);
        let label_width = labels.iter().map(|t| font.width(t, fonts.label).ceil() as u32).max().unwrap_or(0);
        let header_top = margin + (fonts.title * 1.5).ceil() as u32;
        Self {
            thumb_width,
            thumb_height,
            label_width: label_width + 2 * margin,
            header_top,
            top: header_top + (fonts.header * 1.6).ceil() as u32,
            gap: (thumb_height / 24).max(2),
            side_gap: (thumb_height / 4).max(8),
            margin,
            rows,
            fonts,
        }
    }

    /// Width of the four cells of one side, with the gaps between them.
    fn side_width(&self) -> u32 {
        VIEW_COUNT as u32 * self.thumb_width + (VIEW_COUNT as u32 - 1) * self.gap
    }

    /// Width and height of the whole picture.
    pub fn size(&self) -> (u32, u32) {
        let width = 2 * self.margin + self.label_width + 2 * self.side_width() + self.side_gap;
        let height = self.top + self.rows * self.thumb_height + self.rows.saturating_sub(1) * self.gap + self.margin;
        (width, height)
    }

    /// Top-left corner of the cell of `slot` (0..4 for 0.5, 1, 2, 4 s) of `side` in `row`.
    pub fn cell(&self, row: usize, side: Side, slot: usize) -> (u32, u32) {
        let side_x = self.margin + self.label_width + side.index() as u32 * (self.side_width() + self.side_gap);
        (side_x + slot as u32 * (self.thumb_width + self.gap), self.top + row as u32 * (self.thumb_height + self.gap))
    }
}

/// A grey box (one cell, or a whole side of a row) with a note in it.
struct Note {
    x: u32,
    y: u32,
    width: u32,
    text: String,
}

/// Draws the gallery: `rows` in order, each with its class name and where its real glitch comes from.
pub fn draw(font: &Font, geometry: &Geometry, rows: &[Row], title: &str) -> RgbImage {
    let g = geometry;
    let (width, height) = g.size();
    let mut canvas = RgbImage::from_pixel(width, height, BACKGROUND);
    let mut notes = Vec::new();
    for (r, row) in rows.iter().enumerate() {
        for side in Side::ALL {
            let (x, y) = g.cell(r, side, 0);
            let Some(shown) = &row.sides[side.index()] else {
                notes.push(Note { x, y, width: g.side_width(), text: format!("no {} example", side.name()) });
                continue;
            };
            for (slot, view) in shown.views.iter().enumerate() {
                let (x, y) = g.cell(r, side, slot);
                match view {
                    Some(thumb) => image::imageops::replace(&mut canvas, thumb, i64::from(x), i64::from(y)),
                    None => notes.push(Note {
                        x,
                        y,
                        width: g.thumb_width,
                        text: format!("no {} s view", Duration::ALL[slot].seconds()),
                    }),
                }
            }
        }
    }

    let fonts = g.fonts;
    let at = |x: u32, y: u32| (x as f32, y as f32);
    for note in &notes {
        fill(&mut canvas, note.x, note.y, note.width, g.thumb_height, PLACEHOLDER);
        let size = font.fitting_size(&note.text, note.width.saturating_sub(6) as f32, fonts.caption, 6.0);
        let middle = at(note.x + note.width / 2, note.y + g.thumb_height / 2);
        font.draw(&mut canvas, &note.text, size, middle, (Align::Center, Align::Center), NOTE_TEXT);
    }
    font.draw(&mut canvas, title, fonts.title, at(g.margin, g.margin), (Align::Start, Align::Start), TEXT);
    let header_middle = (g.header_top + g.top) / 2;
    for side in Side::ALL {
        for (slot, duration) in Duration::ALL.into_iter().enumerate() {
            let (x, _) = g.cell(0, side, slot);
            let text = column_header(side, duration);
            let place = at(x + g.thumb_width / 2, header_middle);
            font.draw(&mut canvas, &text, fonts.header, place, (Align::Center, Align::Center), TEXT);
        }
    }
    for (r, row) in rows.iter().enumerate() {
        let (_, y) = g.cell(r, Side::Synthetic, 0);
        let middle = y + g.thumb_height / 2;
        font.draw(&mut canvas, row.class, fonts.label, at(g.margin, middle), (Align::Start, Align::End), TEXT);
        if let Some(real) = &row.sides[Side::Real.index()] {
            let caption = format!("real: {}", real.source);
            let place = at(g.margin, middle + 2);
            font.draw(&mut canvas, &caption, fonts.caption, place, (Align::Start, Align::Start), CAPTION_TEXT);
        }
    }
    canvas
}

fn fill(canvas: &mut RgbImage, x: u32, y: u32, width: u32, height: u32, colour: Rgb<u8>) {
    for yy in y..(y + height).min(canvas.height()) {
        for xx in x..(x + width).min(canvas.width()) {
            canvas.put_pixel(xx, yy, colour);
        }
    }
}
