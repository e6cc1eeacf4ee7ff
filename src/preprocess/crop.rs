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

use super::frame::{Interior, find_interior};
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

/// The axes frame lines in the 800x600 figure: x = 100 and 674, y = 60 and 540.
pub const AXES_FRAME: FigureBox = FigureBox {
    x0: 100,
    y0: 60,
    x1: 674,
    y1: 540,
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
    /// A plot with axes: a whole Gravity Spy figure (4:3, e.g. 800x600 or the 600x450 O2 JPEGs), or a
    /// panel at another scale; cut to the plot box inside the axes.
    FullPlot,
    /// The plot area alone: a Zenodo/Kaggle plot-area image (569x479, cut to the same figure box), or
    /// any picture that is viridis edge to edge (taken whole but for a frame line).
    PlotArea,
    /// Anything else (no viridis plot found): taken whole.
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
            Self::FullPlot => {
                "Gravity Spy plot with axes: cropped to the plot area inside the axes"
            }
            Self::PlotArea => "plot area alone: frame line trimmed",
            Self::Other => "no viridis plot area found: taken whole",
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
///
/// Gravity Spy's own figures (800x600 and other 4:3 sizes, the 569x479 plot-area images) keep the measured
/// geometry above exactly. Any other picture is placed by its viridis rectangle ([`find_interior`]): a
/// picture that is all plot area is taken whole but for a frame line; a plot with axes at another scale or
/// with other margins (a panel cut from a paper's figure) is cut to the same figure box, placed and scaled
/// by where its frame is.
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
    let interior = find_interior(image);
    if is_full_plot(image) {
        let template = scale_inward(PLOT_BOX, width, height);
        return match interior {
            Some(found) if !frame_where_expected(found, width, height) => {
                (PictureKind::FullPlot, box_in_frame(found))
            }
            _ => (PictureKind::FullPlot, template),
        };
    }
    match interior {
        Some(found) if found.fills(width, height) => {
            (PictureKind::PlotArea, inside_edges(found, width, height))
        }
        Some(found) => (PictureKind::FullPlot, box_in_frame(found)),
        None => (
            PictureKind::Other,
            CropBox {
                x: 0,
                y: 0,
                width,
                height,
            },
        ),
    }
}

/// A plot area that fills the picture, less the outermost row or column wherever it reaches the picture's
/// edge: a panel cut from a figure often keeps half a frame line or a resampled blend of it there.
fn inside_edges(found: Interior, width: u32, height: u32) -> CropBox {
    let trim = |lo: u32, hi: u32, side: u32| {
        if hi - lo > 8 {
            (lo.max(1), hi.min(side - 1))
        } else {
            (lo, hi)
        }
    };
    let (x0, x1) = trim(found.x0, found.x1, width);
    let (y0, y1) = trim(found.y0, found.y1, height);
    CropBox {
        x: x0,
        y: y0,
        width: x1 - x0,
        height: y1 - y0,
    }
}

/// Whether the frame found lies where the 800x600 geometry, scaled to this 4:3 picture, puts it (each edge
/// within 1 % of the side, at least 2 px). Gravity Spy's animated field-guide GIFs are 4:3 figures with a
/// taller bottom margin (their plots end at row 360 of 450, not 405): they fail this and are cut by their frame.
fn frame_where_expected(found: Interior, width: u32, height: u32) -> bool {
    let (fw, fh) = (f64::from(FIGURE_SIZE.0), f64::from(FIGURE_SIZE.1));
    let (w, h) = (f64::from(width), f64::from(height));
    let near = |got: u32, figure: u32, scale: f64, side: f64| {
        (f64::from(got) - f64::from(figure) * scale).abs() <= (side / 100.0).max(2.0)
    };
    near(found.x0 - 1, AXES_FRAME.x0, w / fw, w)
        && near(found.x1, AXES_FRAME.x1, w / fw, w)
        && near(found.y0 - 1, AXES_FRAME.y0, h / fh, h)
        && near(found.y1, AXES_FRAME.y1, h / fh, h)
}

/// The figure box [`PLOT_BOX`] placed in a frame whose inside is `found`: the box's distance to each frame
/// line, scaled by the figure's scale (the frame's width over 574 px), rounded inwards. At 800x600 this is exactly [`PLOT_BOX`].
fn box_in_frame(found: Interior) -> CropBox {
    let frame_w = f64::from(AXES_FRAME.x1 - AXES_FRAME.x0);
    let (left, right, top) = (
        f64::from(found.x0) - 1.0,
        f64::from(found.x1),
        f64::from(found.y0) - 1.0,
    );
    let bottom = f64::from(found.y1);
    // The figure's scale, from the frame's width: the insets are line widths and tick lengths, which scale with
    // the figure, not with the axes' height (a layout with a taller bottom margin has shorter axes).
    let scale = (right - left) / frame_w;
    let x0 = (left + f64::from(PLOT_BOX.x0 - AXES_FRAME.x0) * scale).ceil();
    let x1 = (right - f64::from(AXES_FRAME.x1 - PLOT_BOX.x1) * scale)
        .floor()
        .max(x0 + 1.0);
    let y0 = (top + f64::from(PLOT_BOX.y0 - AXES_FRAME.y0) * scale).ceil();
    let y1 = (bottom - f64::from(AXES_FRAME.y1 - PLOT_BOX.y1) * scale)
        .floor()
        .max(y0 + 1.0);
    CropBox {
        x: x0 as u32,
        y: y0 as u32,
        width: (x1 - x0) as u32,
        height: (y1 - y0) as u32,
    }
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
    // In the browser (wasm-pack test), each #[test] below runs as a wasm_bindgen_test.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;
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
        // Viridis-like edge to edge: the plot area alone, less its outermost pixels. Any other colour: not a
        // plot, taken whole.
        for (colour, kind, size) in [
            ([40, 120, 140], PictureKind::PlotArea, (798, 598)),
            ([200, 40, 40], PictureKind::Other, (800, 600)),
        ] {
            let plain = RgbImage::from_pixel(800, 600, image::Rgb(colour));
            let crop = crop_plot_area(&plain);
            assert_eq!(crop.kind, kind, "{colour:?}");
            assert_eq!(crop.image.dimensions(), size);
        }
    }

    #[test]
    fn a_panel_at_another_scale_is_cut_by_its_frame() {
        // A 0.7x panel cut with its own margins (the frame 6 px right of and 4 px below where a scaled
        // figure has it): the figure box scaled to the frame found, not the 4:3 template.
        let figure = toy_figure(800, 600);
        let small =
            image::imageops::resize(&figure, 560, 420, image::imageops::FilterType::Nearest);
        let mut panel = RgbImage::from_pixel(566, 424, image::Rgb([255, 255, 255]));
        image::imageops::replace(&mut panel, &small, 6, 4);
        let crop = crop_plot_area(&panel);
        assert_eq!(crop.kind, PictureKind::FullPlot);
        assert!(
            crop.image.pixels().all(|p| p.0 == [68, 1, 84]),
            "frame or margin kept: {:?}",
            crop.crop_box
        );
        let (w, h) = crop.image.dimensions();
        assert!(w.abs_diff(391) <= 2 && h.abs_diff(329) <= 2, "{w}x{h}");
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
