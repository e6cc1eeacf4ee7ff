//! Where the spectrogram lies in a picture of any size: the rectangle of viridis pixels.
//!
//! The fixed 800x600 geometry of `crop.rs` holds for Gravity Spy's own figures at any 4:3 size, but not for
//! panels cut out of published figures: those come at about 0.7x scale with their own margins (572x429,
//! 567x425, a border line, the title cut or not), or as the plot area alone at any size (330x284 panels
//! resized from the 140x170 views of Gravity Spy's HDF5 files, 400x400 upscaled network inputs). What all of
//! them share is that the plot area is drawn in viridis and nothing around it is: the frame and ticks are
//! black, labels and margins white or grey, and the colour bar is viridis too but sits apart, past a white gap.
//!
//! So the plot area is found as the longest run of columns that are mostly viridis, then within those columns
//! the first to the last row that is mostly viridis (a row of a loud glitch that leaves the colour map does
//! not cut it short). Measured on every picture of `shared/data/real` (see `tests/preprocess_real.rs`): on the
//! 800x600 figures the rectangle is exactly the inside of the axes frame, 101..674 x 61..540.

use image::RgbImage;

use crate::viridis;

/// A row or column counts as plot area when at least this share of its pixels are viridis colours.
const MIN_ROW_SHARE: f64 = 0.5;
/// Gaps narrower than this share of the picture's side do not split a run of plot columns (a thin
/// non-viridis stripe inside a plot); the white gap before the colour bar is wider (2 % of the width).
const MAX_GAP_SHARE: f64 = 0.01;
/// The rectangle must cover at least this share of each side to be taken as the plot.
const MIN_SIDE_SHARE: f64 = 0.25;

/// The inside of the plot frame, in source pixels, end-exclusive: [x0, x1) x [y0, y1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interior {
    pub x0: u32,
    pub y0: u32,
    pub x1: u32,
    pub y1: u32,
}

impl Interior {
    pub fn width(self) -> u32 {
        self.x1 - self.x0
    }

    pub fn height(self) -> u32 {
        self.y1 - self.y0
    }

    /// Whether the rectangle fills the picture but for a frame line or two on each side.
    pub fn fills(self, width: u32, height: u32) -> bool {
        let slack = |side: u32| (side / 50).max(2);
        self.x0 <= slack(width)
            && width - self.x1 <= slack(width)
            && self.y0 <= slack(height)
            && height - self.y1 <= slack(height)
    }
}

/// The viridis rectangle of `image`, or `None` when no large one is there.
pub fn find_interior(image: &RgbImage) -> Option<Interior> {
    let (width, height) = image.dimensions();
    if width < 8 || height < 8 {
        return None;
    }
    let is_viridis = |x: u32, y: u32| viridis::inverse_index(image.get_pixel(x, y).0).is_some();

    // Columns: share over every second row of the whole picture.
    let column_share: Vec<f64> = (0..width)
        .map(|x| share((0..height).step_by(2).map(|y| is_viridis(x, y))))
        .collect();
    let (x0, x1) = longest_run(&column_share, gap(width))?;
    let (x0, x1) = (x0 as u32, x1 as u32);
    // Rows: share over the plot's columns only (the colour bar and the labels beside it do not count).
    let row_share: Vec<f64> = (0..height)
        .map(|y| share((x0..x1).step_by(2).map(|x| is_viridis(x, y))))
        .collect();
    let y0 = row_share.iter().position(|&s| s >= MIN_ROW_SHARE)? as u32;
    let y1 = row_share.iter().rposition(|&s| s >= MIN_ROW_SHARE)? as u32 + 1;
    // Columns again, over the plot's rows only: a title or tick labels above or below no longer dilute them.
    let column_share: Vec<f64> = (x0..x1)
        .map(|x| share((y0..y1).step_by(2).map(|y| is_viridis(x, y))))
        .collect();
    let (a, b) = longest_run(&column_share, gap(width))?;
    let interior = Interior {
        x0: x0 + a as u32,
        y0,
        x1: x0 + b as u32,
        y1,
    };
    let big = |part: u32, side: u32| f64::from(part) >= MIN_SIDE_SHARE * f64::from(side);
    (big(interior.width(), width) && big(interior.height(), height)).then_some(interior)
}

fn gap(side: u32) -> usize {
    (MAX_GAP_SHARE * f64::from(side)).floor() as usize
}

fn share(hits: impl Iterator<Item = bool>) -> f64 {
    let (mut n, mut k) = (0usize, 0usize);
    for hit in hits {
        n += 1;
        k += usize::from(hit);
    }
    if n == 0 { 0.0 } else { k as f64 / n as f64 }
}

/// The longest run [start, end) of entries >= MIN_ROW_SHARE, bridging gaps of at most `max_gap` entries.
fn longest_run(shares: &[f64], max_gap: usize) -> Option<(usize, usize)> {
    let mut best: Option<(usize, usize)> = None;
    let mut current: Option<(usize, usize)> = None;
    for (i, &s) in shares.iter().enumerate() {
        if s < MIN_ROW_SHARE {
            continue;
        }
        current = match current {
            Some((start, end)) if i - end <= max_gap => Some((start, i + 1)),
            _ => Some((i, i + 1)),
        };
        let (start, end) = current.expect("just set");
        if best.is_none_or(|(bs, be)| end - start > be - bs) {
            best = Some((start, end));
        }
    }
    best
}

#[cfg(test)]
mod tests {
    // In the browser (wasm-pack test), each #[test] below runs as a wasm_bindgen_test.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;
    use super::*;
    use crate::viridis::VIRIDIS_RGB8;

    /// White picture, black frame around [fx0, fx1] x [fy0, fy1], viridis noise inside, and a viridis
    /// colour bar to the right past a white gap.
    fn figure(w: u32, h: u32, frame: (u32, u32, u32, u32)) -> RgbImage {
        let (fx0, fx1, fy0, fy1) = frame;
        RgbImage::from_fn(w, h, |x, y| {
            let inside_y = y > fy0 && y < fy1;
            if (x == fx0 || x == fx1) && (fy0..=fy1).contains(&y)
                || (y == fy0 || y == fy1) && (fx0..=fx1).contains(&x)
            {
                image::Rgb([0, 0, 0])
            } else if x > fx0 && x < fx1 && inside_y {
                image::Rgb(VIRIDIS_RGB8[((x * 7 + y * 13) % 60) as usize])
            } else if x > fx1 + w / 30 && x < fx1 + w / 30 + w / 40 && inside_y {
                image::Rgb(VIRIDIS_RGB8[(255 * (fy1 - y) / (fy1 - fy0)) as usize])
            } else {
                image::Rgb([255, 255, 255])
            }
        })
    }

    #[test]
    fn finds_the_inside_of_the_frame_and_not_the_colour_bar() {
        for (w, h, frame) in [
            (800, 600, (100, 674, 60, 540)),
            (572, 429, (72, 481, 42, 386)),
            (300, 250, (20, 240, 5, 200)),
        ] {
            let found = find_interior(&figure(w, h, frame)).expect("found");
            assert_eq!(
                found,
                Interior {
                    x0: frame.0 + 1,
                    x1: frame.1,
                    y0: frame.2 + 1,
                    y1: frame.3
                },
                "{w}x{h}"
            );
            assert!(!found.fills(w, h));
        }
    }

    #[test]
    fn a_bare_plot_area_fills_the_picture() {
        let img = RgbImage::from_fn(330, 284, |x, y| {
            image::Rgb(VIRIDIS_RGB8[((x + y) % 200) as usize])
        });
        let found = find_interior(&img).expect("found");
        assert_eq!(
            found,
            Interior {
                x0: 0,
                y0: 0,
                x1: 330,
                y1: 284
            }
        );
        assert!(found.fills(330, 284));
    }

    #[test]
    fn a_thin_stripe_does_not_split_the_plot() {
        let mut img = figure(800, 600, (100, 674, 60, 540));
        for y in 0..600 {
            for x in 300..304 {
                img.put_pixel(x, y, image::Rgb([255, 255, 255]));
            }
        }
        assert_eq!(find_interior(&img).map(|i| (i.x0, i.x1)), Some((101, 674)));
    }

    #[test]
    fn pictures_without_viridis_have_no_plot() {
        assert_eq!(
            find_interior(&RgbImage::from_pixel(300, 200, image::Rgb([255, 127, 0]))),
            None
        );
        assert_eq!(
            find_interior(&RgbImage::from_pixel(300, 200, image::Rgb([255, 255, 255]))),
            None
        );
        assert_eq!(find_interior(&RgbImage::new(4, 4)), None);
    }
}
