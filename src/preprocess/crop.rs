//! Which kind of picture this is, and the pixel box that holds the spectrogram alone.
//!
//! Geometry measured on the real Gravity Spy pictures in `shared/data/real` (see the tests and the
//! report in `tests/preprocess_real.rs`). In the 800x600 figure (matplotlib 8x6 in at 100 dpi):
//! - the axes frame is a 1-px line at x = 100 and x = 674, y = 60 and y = 540 (the colour bar
//!   shrinks the axes from the nominal [0.125, 0.1, 0.775, 0.8] to 100..674 x 60..540);
//! - the pixels next to the frame (x = 101, 673; y = 61, 539) are blended with it;
//! - in some plots (O1 Blip/Scratchy, O2) the ticks point inwards, 6 px long: x = 101..106,
//!   x = 668..673, y = 534..539; none at the top;
//! - in JPEGs the ringing of a tick reaches one more pixel (x = 107, x = 667, y = 533).
//!
//! The kept box is therefore figure [108, 667) x [63, 533): 559 x 470 px, no frame, tick, label or
//! colour-bar pixel in any of the real plots. The classic Gravity Spy crop (rows 66:532, columns
//! 105:671) contains tick pixels at columns 105-106 and 668-670 in the plots with inward ticks.
//!
//! The Zenodo/Kaggle O1 plot-area images (569x479) are figure [100, 669) x [60, 539): their row 0
//! and column 0 are the frame line. The same figure box is cut from them, so both kinds come out
//! with the same seconds and hertz per pixel.

use image::RgbImage;
use serde::{Deserialize, Serialize};

/// Size of the Gravity Spy figure in which the geometry below is given.
pub const FIGURE_SIZE: (u32, u32) = (800, 600);

/// The spectrogram box kept, in figure pixels, [x0, x1) x [y0, y1).
pub const PLOT_BOX: FigureBox = FigureBox {
    x0: 108,
    y0: 63,
    x1: 667,
    y1: 533,
};

/// Size of the Zenodo/Kaggle O1 plot-area images, and where their pixel (0, 0) lies in the figure.
pub const PLOT_AREA_SIZE: (u32, u32) = (569, 479);
pub const PLOT_AREA_ORIGIN: (u32, u32) = (100, 60);

/// The white band between the title and the axes (figure rows 44..56, columns 150..640) that
/// every real full plot has (measured: mean of min(r, g, b) >= 254 on all 506 real plots).
const MARGIN_BAND: FigureBox = FigureBox {
    x0: 150,
    y0: 44,
    x1: 640,
    y1: 56,
};
const MARGIN_MIN_BRIGHTNESS: f64 = 240.0;
/// Viridis colours have min(r, g, b) of at most about 100; a blank (white) box is not a plot.
const PLOT_MAX_BRIGHTNESS: f64 = 160.0;

/// A box in the 800x600 figure's pixel coordinates, end-exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FigureBox {
    pub x0: u32,
    pub y0: u32,
    pub x1: u32,
    pub y1: u32,
}

/// A box in the source image's pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CropBox {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

/// Which rule chose the crop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PictureKind {
    /// A whole Gravity Spy figure (4:3, e.g. 800x600 or the 600x450 O2 JPEGs): cut to the plot box.
    FullPlot,
    /// A Zenodo/Kaggle plot-area image (569x479): the frame line at its top and left is cut off.
    PlotArea,
    /// Anything else (another spectrogram, an already-cropped image): taken whole.
    Other,
}

impl PictureKind {
    /// Short name for reports and the browser.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FullPlot => "full_plot",
            Self::PlotArea => "plot_area",
            Self::Other => "other",
        }
    }

    /// What was done to the picture, in words.
    pub fn rule(self) -> &'static str {
        match self {
            Self::FullPlot => "full Gravity Spy plot: cropped to the plot area inside the axes",
            Self::PlotArea => "Gravity Spy plot-area image: frame line trimmed",
            Self::Other => "not a recognised Gravity Spy layout: taken whole",
        }
    }
}

/// The spectrogram part of a picture, and how it was found.
#[derive(Debug, Clone, PartialEq)]
pub struct Crop {
    pub image: RgbImage,
    pub kind: PictureKind,
    /// Where `image` lies in the source picture.
    pub crop_box: CropBox,
}

/// Recognises the kind of picture and returns the box to keep, in source pixels.
pub fn find_crop_box(image: &RgbImage) -> (PictureKind, CropBox) {
    let (width, height) = image.dimensions();
    if (width, height) == PLOT_AREA_SIZE {
        let (ox, oy) = PLOT_AREA_ORIGIN;
        let crop_box = CropBox {
            x: PLOT_BOX.x0 - ox,
            y: PLOT_BOX.y0 - oy,
            width: PLOT_BOX.x1 - PLOT_BOX.x0,
            height: PLOT_BOX.y1 - PLOT_BOX.y0,
        };
        return (PictureKind::PlotArea, crop_box);
    }
    if is_full_plot(image) {
        return (PictureKind::FullPlot, scale_inward(PLOT_BOX, width, height));
    }
    (
        PictureKind::Other,
        CropBox {
            x: 0,
            y: 0,
            width,
            height,
        },
    )
}

/// Cuts the spectrogram out of a picture (see [`find_crop_box`]).
pub fn crop_plot_area(image: &RgbImage) -> Crop {
    let (kind, b) = find_crop_box(image);
    let cropped = image::imageops::crop_imm(image, b.x, b.y, b.width, b.height).to_image();
    Crop {
        image: cropped,
        kind,
        crop_box: b,
    }
}

/// A 4:3 figure with the white margin above the axes and a coloured (not blank) plot box.
fn is_full_plot(image: &RgbImage) -> bool {
    let (width, height) = image.dimensions();
    if width * 3 != height * 4 || !(400..=3200).contains(&width) {
        return false;
    }
    let margin = mean_min_channel(image, scale_inward(MARGIN_BAND, width, height));
    let plot = mean_min_channel(image, scale_inward(PLOT_BOX, width, height));
    margin >= MARGIN_MIN_BRIGHTNESS && plot <= PLOT_MAX_BRIGHTNESS
}

/// Mean over a box of min(r, g, b): 255 for white, low for saturated or dark colours.
fn mean_min_channel(image: &RgbImage, b: CropBox) -> f64 {
    let mut sum = 0u64;
    for y in b.y..b.y + b.height {
        for x in b.x..b.x + b.width {
            let [r, g, bl] = image.get_pixel(x, y).0;
            sum += u64::from(r.min(g).min(bl));
        }
    }
    sum as f64 / (u64::from(b.width) * u64::from(b.height)).max(1) as f64
}

/// Maps a figure box to an image of `width` x `height` showing the same figure, rounding inwards
/// so the scaled box never reaches past the figure box (integer arithmetic: exact at 800x600).
fn scale_inward(f: FigureBox, width: u32, height: u32) -> CropBox {
    let (fw, fh) = (u64::from(FIGURE_SIZE.0), u64::from(FIGURE_SIZE.1));
    let (w, h) = (u64::from(width), u64::from(height));
    let x0 = (u64::from(f.x0) * w).div_ceil(fw);
    let y0 = (u64::from(f.y0) * h).div_ceil(fh);
    let x1 = (u64::from(f.x1) * w / fw).max(x0 + 1);
    let y1 = (u64::from(f.y1) * h / fh).max(y0 + 1);
    CropBox {
        x: x0 as u32,
        y: y0 as u32,
        width: (x1 - x0) as u32,
        height: (y1 - y0) as u32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A toy figure: white everywhere, a black frame where the axes are, purple inside.
    fn toy_figure(width: u32, height: u32) -> RgbImage {
        let s = |v: u32, full: u32, size: u32| v * size / full;
        RgbImage::from_fn(width, height, |x, y| {
            let (fx0, fx1) = (s(100, 800, width), s(674, 800, width));
            let (fy0, fy1) = (s(60, 600, height), s(540, 600, height));
            if x == fx0 || x == fx1 || y == fy0 || y == fy1 {
                image::Rgb([0, 0, 0])
            } else if x > fx0 && x < fx1 && y > fy0 && y < fy1 {
                image::Rgb([68, 1, 84])
            } else {
                image::Rgb([255, 255, 255])
            }
        })
    }

    #[test]
    fn box_is_exact_at_figure_size() {
        assert_eq!(
            scale_inward(PLOT_BOX, 800, 600),
            CropBox {
                x: 108,
                y: 63,
                width: 559,
                height: 470
            }
        );
    }

    #[test]
    fn scaled_box_stays_inside_figure_box() {
        let b = scale_inward(PLOT_BOX, 600, 450);
        assert_eq!(
            b,
            CropBox {
                x: 81,
                y: 48,
                width: 419,
                height: 351
            }
        );
        // Back in figure coordinates the box lies within [108, 667) x [63, 533).
        assert!(b.x as f64 / 0.75 >= 108.0 && (b.x + b.width) as f64 / 0.75 <= 667.0);
        assert!(b.y as f64 / 0.75 >= 63.0 && (b.y + b.height) as f64 / 0.75 <= 533.0);
    }

    #[test]
    fn full_plot_crop_has_no_frame() {
        for (w, h) in [(800, 600), (600, 450), (1600, 1200)] {
            let crop = crop_plot_area(&toy_figure(w, h));
            assert_eq!(crop.kind, PictureKind::FullPlot, "{w}x{h}");
            assert!(
                crop.image.pixels().all(|p| p.0 == [68, 1, 84]),
                "{w}x{h}: frame or margin kept"
            );
        }
    }

    #[test]
    fn plot_area_image_loses_its_frame_line() {
        let figure = toy_figure(800, 600);
        let (ox, oy) = PLOT_AREA_ORIGIN;
        let area = image::imageops::crop_imm(&figure, ox, oy, PLOT_AREA_SIZE.0, PLOT_AREA_SIZE.1)
            .to_image();
        let from_area = crop_plot_area(&area);
        let from_figure = crop_plot_area(&figure);
        assert_eq!(from_area.kind, PictureKind::PlotArea);
        // Same figure region, so the very same pixels.
        assert_eq!(from_area.image, from_figure.image);
    }

    #[test]
    fn a_4_3_picture_without_white_margin_is_taken_whole() {
        let plain = RgbImage::from_pixel(800, 600, image::Rgb([40, 120, 140]));
        let crop = crop_plot_area(&plain);
        assert_eq!(crop.kind, PictureKind::Other);
        assert_eq!(crop.image.dimensions(), (800, 600));
    }

    #[test]
    fn a_blank_white_4_3_picture_is_not_a_plot() {
        let white = RgbImage::from_pixel(800, 600, image::Rgb([255, 255, 255]));
        assert_eq!(find_crop_box(&white).0, PictureKind::Other);
    }

    #[test]
    fn other_sizes_are_taken_whole() {
        let img = RgbImage::from_pixel(300, 200, image::Rgb([1, 2, 3]));
        let (kind, b) = find_crop_box(&img);
        assert_eq!(kind, PictureKind::Other);
        assert_eq!(
            b,
            CropBox {
                x: 0,
                y: 0,
                width: 300,
                height: 200
            }
        );
    }
}
