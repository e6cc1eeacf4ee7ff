//! The Gravity Spy picture of a [`QScan`] view: normalised energy through
//! viridis with colour limits 0 to 25.5, log2 frequency axis, time from
//! `-duration/2` to `+duration/2` around the centre.
//!
//! Two outputs, both sampled straight from the scan at pixel centres:
//!
//! * [`render_plot_area`]: the plot area alone, 569x479 RGBA, laid out like the
//!   Zenodo/Kaggle copy of the O1 training set: the axes frame on row 0 and
//!   column 0 (black), the image in columns 1..=568 and rows 1..=478, the
//!   right/bottom frame lines cut off.
//! * [`render_full_figure`]: the 800x600 figure (`figsize=[8, 6]`, `dpi=100`).
//!
//! # Geometry of the full figure (measured on `real/o1_full_plots`, derived)
//!
//! Gravity Spy puts the axes at `[0.125, 0.1, 0.775, 0.8]` of the figure, i.e.
//! x 100..720 px and y 60..540 px from the top, then carves a colour bar out of
//! that box with `make_axes_locatable(...).append_axes("right", size="5%",
//! pad="3%")`: the spectrogram axes keep 620 / 1.08 = 574.07 px, the pad is 17.2
//! px and the bar 28.7 px. matplotlib snaps the 1-pt frame lines to pixel
//! centres, so in the real PNGs the axes frame is the black pixel columns 100
//! and 674 and rows 60 and 540 ([`AXES_FRAME`]), the colour bar frame columns
//! 691 and 720 ([`COLORBAR_FRAME`]). The image shows in columns 101..=673 and
//! rows 61..=539; the classifiers' crop, rows 66:532 and columns 105:671, lies
//! inside it with a margin of 4-5 px. Pixel centres are mapped linearly between
//! the frame-line centres (e.g. time fraction `(col - 100) / 574`).
//!
//! # The frequency axis
//!
//! The current Gravity Spy code sets `ylim(10, 2048)`, and the O3 pictures show
//! exactly that. The O1 pictures (the 22-class training set) do not: their tick
//! marks (16..1024 Hz at rows 504, 440, ..., 117 for a Q = 5.7 glitch; 501, 437,
//! ..., 119 for Q = 11.3) put the axis limits at the lowest and highest row
//! frequencies of the kept Q plane (10.89-1879.5 Hz and 10.45-1957.7 Hz for
//! 64 s at 16384 Hz), so [`FreqAxis::PlaneRows`] is the default here and
//! [`FreqAxis::Fixed`] gives the modern look. Pixels outside the scan's
//! frequency range (e.g. above the 1291 Hz cap of 4096 Hz data on a fixed
//! 10-2048 Hz axis) are left white, as matplotlib leaves them.

use image::{Rgba, RgbaImage};

use crate::viridis::{colormap_index, viridis_u8};
use super::{QScan, SpectrogramError};

/// Size of the full figure, pixels.
pub const FIGURE_SIZE: (u32, u32) = (800, 600);
/// Size of the plot-area-only picture (the O1 Zenodo/Kaggle crop), pixels.
pub const PLOT_AREA_SIZE: (u32, u32) = (569, 479);

/// Pixel rows/columns of a one-pixel frame (inclusive; the content lies strictly inside).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameBox {
    pub left: u32,
    pub right: u32,
    pub top: u32,
    pub bottom: u32,
}

/// The spectrogram axes frame in the full figure.
pub const AXES_FRAME: FrameBox = FrameBox {
    left: 100,
    right: 674,
    top: 60,
    bottom: 540,
};
/// The colour bar frame in the full figure.
pub const COLORBAR_FRAME: FrameBox = FrameBox {
    left: 691,
    right: 720,
    top: 60,
    bottom: 540,
};

/// Frequency limits of the picture's log2 axis.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FreqAxis {
    /// From the lowest to the highest row frequency of the kept Q plane, as in
    /// the O1 Gravity Spy pictures.
    PlaneRows,
    /// Fixed limits in Hz, e.g. `Fixed(10.0, 2048.0)` as in current Gravity Spy code.
    Fixed(f64, f64),
}

/// How to draw a view.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RenderOptions {
    pub freq_axis: FreqAxis,
    /// Colour limits of normalised energy (Gravity Spy: 0 to 25.5).
    pub vmin: f32,
    pub vmax: f32,
}

impl Default for RenderOptions {
    fn default() -> Self {
        Self {
            freq_axis: FreqAxis::PlaneRows,
            vmin: 0.0,
            vmax: 25.5,
        }
    }
}

const WHITE: Rgba<u8> = Rgba([255, 255, 255, 255]);
const BLACK: Rgba<u8> = Rgba([0, 0, 0, 255]);
/// Anti-aliased outer edge of the frame lines in the real figures.
const FRAME_EDGE: Rgba<u8> = Rgba([205, 205, 205, 255]);
const TICK_LENGTH: u32 = 6;

fn frequency_limits(scan: &QScan, opts: &RenderOptions) -> Result<(f64, f64), SpectrogramError> {
    let (lo, hi) = match opts.freq_axis {
        FreqAxis::PlaneRows => scan.row_frequency_range(),
        FreqAxis::Fixed(lo, hi) => (lo, hi),
    };
    if !(lo > 0.0 && hi > lo && hi.is_finite()) {
        return Err(SpectrogramError::InvalidParameter {
            name: "frequency axis",
            reason: format!("need 0 < low < high, got [{lo}, {hi}]"),
        });
    }
    Ok((lo, hi))
}

fn check_view(duration_s: f64, opts: &RenderOptions) -> Result<(), SpectrogramError> {
    if !(duration_s > 0.0 && duration_s.is_finite()) {
        return Err(SpectrogramError::InvalidParameter {
            name: "view duration",
            reason: format!("must be positive, got {duration_s}"),
        });
    }
    if opts.vmax.partial_cmp(&opts.vmin) != Some(std::cmp::Ordering::Greater) {
        return Err(SpectrogramError::InvalidParameter {
            name: "colour limits",
            reason: format!("need vmin < vmax, got {} and {}", opts.vmin, opts.vmax),
        });
    }
    Ok(())
}

/// Paints the view into `img`: pixel column `x0 + i` (i = 0..n_cols) shows time
/// `center - d/2 + (i + offset) / span * d`, row `y0 + j` shows log2 frequency
/// `hi - (j + offset) / span_y * (hi - lo)`, where `offset`/`span` place the
/// axis edges on the frame-line centres.
#[allow(clippy::too_many_arguments)]
fn paint_view(
    img: &mut RgbaImage,
    scan: &QScan,
    center_s: f64,
    duration_s: f64,
    opts: &RenderOptions,
    (x0, n_cols, x_offset, x_span): (u32, u32, f64, f64),
    (y0, n_rows, y_offset, y_span): (u32, u32, f64, f64),
) -> Result<(), SpectrogramError> {
    check_view(duration_s, opts)?;
    let (lo, hi) = frequency_limits(scan, opts)?;
    let t_start = center_s - duration_s / 2.0;
    let times: Vec<f64> = (0..n_cols)
        .map(|i| t_start + (i as f64 + x_offset) / x_span * duration_s)
        .collect();
    let (l0, l1) = (lo.log2(), hi.log2());
    // Rows from the top of the picture (highest frequency) down.
    let freqs: Vec<f64> = (0..n_rows)
        .map(|j| (l1 - (j as f64 + y_offset) / y_span * (l1 - l0)).exp2())
        .collect();
    let spec = scan.sample(&times, &freqs);
    let (fmin, fmax) = scan.frange();
    let width = img.width() as usize;
    let buf: &mut [u8] = img;
    for (j, &f) in freqs.iter().enumerate() {
        let outside = f < fmin || f > fmax;
        let start = ((y0 as usize + j) * width + x0 as usize) * 4;
        let line = &mut buf[start..start + n_cols as usize * 4];
        for (i, px) in line.chunks_exact_mut(4).enumerate() {
            let [r, g, b] = if outside {
                [255, 255, 255]
            } else {
                viridis_u8(colormap_index(spec.at(i, j), opts.vmin, opts.vmax))
            };
            px.copy_from_slice(&[r, g, b, 255]);
        }
    }
    Ok(())
}

/// The plot area alone, 569x479 RGBA, as in the O1 Zenodo/Kaggle set: frame on
/// row 0 and column 0, image in columns 1..=568 and rows 1..=478 (axis edges
/// at the frame-line centres 0.5 and 569.5 / 479.5).
pub fn render_plot_area(
    scan: &QScan,
    center_s: f64,
    duration_s: f64,
    opts: &RenderOptions,
) -> Result<RgbaImage, SpectrogramError> {
    let (w, h) = PLOT_AREA_SIZE;
    let mut img = RgbaImage::from_pixel(w, h, BLACK);
    paint_view(
        &mut img,
        scan,
        center_s,
        duration_s,
        opts,
        (1, w - 1, 1.0, w as f64),
        (1, h - 1, 1.0, h as f64),
    )?;
    Ok(img)
}

fn draw_frame(img: &mut RgbaImage, b: FrameBox) {
    for x in b.left..=b.right {
        for (y, edge) in [(b.top, b.top - 1), (b.bottom, b.bottom + 1)] {
            img.put_pixel(x, y, BLACK);
            img.put_pixel(x, edge, FRAME_EDGE);
        }
    }
    for y in b.top - 1..=b.bottom + 1 {
        for (x, edge) in [(b.left, b.left - 1), (b.right, b.right + 1)] {
            if y >= b.top && y <= b.bottom {
                img.put_pixel(x, y, BLACK);
            }
            img.put_pixel(edge, y, FRAME_EDGE);
        }
    }
}

/// Darkens the content pixels next to a frame by 20 %, as the anti-aliased
/// 1.39 px frame line does in the real figures.
fn shade_inner_edge(img: &mut RgbaImage, b: FrameBox) {
    let mut shade = |x: u32, y: u32| {
        let p = img.get_pixel_mut(x, y);
        for c in 0..3 {
            p.0[c] = (p.0[c] as f32 * 0.8).round() as u8;
        }
    };
    for x in b.left + 1..b.right {
        shade(x, b.top + 1);
        shade(x, b.bottom - 1);
    }
    for y in b.top + 2..b.bottom - 1 {
        shade(b.left + 1, y);
        shade(b.right - 1, y);
    }
}

/// The full 800x600 Gravity Spy figure: white background, the view inside
/// [`AXES_FRAME`], inward tick marks (powers of two in frequency, quarters of
/// the view in time), and a viridis colour bar from `vmin` to `vmax` inside
/// [`COLORBAR_FRAME`] with ticks every 5. No text is drawn.
pub fn render_full_figure(
    scan: &QScan,
    center_s: f64,
    duration_s: f64,
    opts: &RenderOptions,
) -> Result<RgbaImage, SpectrogramError> {
    let (w, h) = FIGURE_SIZE;
    let mut img = RgbaImage::from_pixel(w, h, WHITE);
    let a = AXES_FRAME;
    let x_span = (a.right - a.left) as f64;
    let y_span = (a.bottom - a.top) as f64;
    paint_view(
        &mut img,
        scan,
        center_s,
        duration_s,
        opts,
        (a.left + 1, a.right - a.left - 1, 1.0, x_span),
        (a.top + 1, a.bottom - a.top - 1, 1.0, y_span),
    )?;
    shade_inner_edge(&mut img, a);
    draw_frame(&mut img, a);

    // Frequency ticks at powers of two inside the axis, on both sides.
    let (lo, hi) = frequency_limits(scan, opts)?;
    let (l0, l1) = (lo.log2(), hi.log2());
    for p in (l0.ceil() as i32)..=(l1.floor() as i32) {
        let y = a.top as f64 + (l1 - p as f64) / (l1 - l0) * y_span;
        let y = y.round() as u32;
        if y <= a.top || y >= a.bottom {
            continue;
        }
        for k in 1..=TICK_LENGTH {
            img.put_pixel(a.left + k, y, BLACK);
            img.put_pixel(a.right - k, y, BLACK);
        }
    }
    // Time ticks at the quarters (the ends coincide with the frame), bottom only.
    for q in 1..4 {
        let x = (a.left as f64 + q as f64 / 4.0 * x_span).round() as u32;
        for k in 1..=TICK_LENGTH {
            img.put_pixel(x, a.bottom - k, BLACK);
        }
    }

    // Colour bar: vmin at the bottom frame, vmax at the top.
    let c = COLORBAR_FRAME;
    let c_span = (c.bottom - c.top) as f64;
    for y in c.top + 1..c.bottom {
        let frac = (c.bottom as f64 - y as f64) / c_span;
        let v = opts.vmin + (frac as f32) * (opts.vmax - opts.vmin);
        let [r, g, b] = viridis_u8(colormap_index(v, opts.vmin, opts.vmax));
        for x in c.left + 1..c.right {
            img.put_pixel(x, y, Rgba([r, g, b, 255]));
        }
    }
    shade_inner_edge(&mut img, c);
    draw_frame(&mut img, c);
    let step = 5.0f32;
    let mut v = (opts.vmin / step).ceil() * step;
    while v <= opts.vmax {
        let y = (c.bottom as f64 - ((v - opts.vmin) / (opts.vmax - opts.vmin)) as f64 * c_span)
            .round() as u32;
        if y > c.top && y < c.bottom {
            for k in 1..=TICK_LENGTH {
                img.put_pixel(c.right - k, y, BLACK);
            }
        }
        v += step;
    }
    Ok(img)
}

#[cfg(test)]
mod tests {
    // In the browser (wasm-pack test), each #[test] below runs as a wasm_bindgen_test.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;
    use super::*;
    use crate::spectrogram::{QParams, q_transform};

    fn noise_scan() -> QScan {
        // Deterministic pseudo-noise with a loud sine-Gaussian at 4 s.
        let fs = 4096.0;
        let n = 8 * 4096;
        let mut state = 12345u64;
        let strain: Vec<f64> = (0..n)
            .map(|i| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let u = (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
                let t = i as f64 / fs - 4.0;
                u + 20.0
                    * (-(t / 0.01).powi(2)).exp()
                    * (2.0 * std::f64::consts::PI * 200.0 * t).sin()
            })
            .collect();
        q_transform(&strain, fs, 4.0, &QParams::default()).unwrap()
    }

    #[test]
    fn figure_geometry_matches_gravity_spy() {
        let scan = noise_scan();
        let img = render_full_figure(&scan, 4.0, 1.0, &RenderOptions::default()).unwrap();
        assert_eq!(img.dimensions(), FIGURE_SIZE);
        for (x, y) in [
            (100, 300),
            (674, 300),
            (400, 60),
            (400, 540),
            (691, 300),
            (720, 300),
        ] {
            assert_eq!(img.get_pixel(x, y).0, [0, 0, 0, 255], "frame at ({x}, {y})");
        }
        assert_eq!(img.get_pixel(50, 300).0, [255, 255, 255, 255]);
        // The glitch (200 Hz, centre) is saturated yellow in the middle column.
        let crop = render_plot_area(&scan, 4.0, 1.0, &RenderOptions::default()).unwrap();
        assert_eq!(crop.dimensions(), PLOT_AREA_SIZE);
        assert_eq!(crop.get_pixel(0, 200).0, [0, 0, 0, 255]);
        let (lo, hi) = scan.row_frequency_range();
        let row = ((hi.log2() - 200f64.log2()) / (hi.log2() - lo.log2()) * 479.0) as u32;
        assert_eq!(crop.get_pixel(284, row).0, [253, 231, 37, 255]);
    }

    #[test]
    fn rejects_bad_views() {
        let scan = noise_scan();
        assert!(render_plot_area(&scan, 4.0, 0.0, &RenderOptions::default()).is_err());
        let bad = RenderOptions {
            freq_axis: FreqAxis::Fixed(100.0, 10.0),
            ..RenderOptions::default()
        };
        assert!(render_full_figure(&scan, 4.0, 1.0, &bad).is_err());
    }
}
