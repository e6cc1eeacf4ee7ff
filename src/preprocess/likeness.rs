//! Does a picture look like a Gravity Spy spectrogram at all? The network gives every picture a class, so a
//! photo, an all-black image or a greyscale plot would get a confident answer; this check lets the CLI and the
//! page say instead that the answer means nothing.
//!
//! A Gravity Spy plot area is drawn entirely in viridis. Measured with `tests/preprocess_real.rs` on the 654
//! real pictures of `shared/data/real`: median share of plot-area pixels within JPEG noise of a viridis colour
//! 100 %, lowest per source o1_cropped 100 %, o3 100 %, o1 full plots 99.8 %, O2 JPEG subjects 91.3 % (chroma
//! ringing around loud glitches). The threshold sits well below that, and far above what a photo, a greyscale
//! plot or an all-black picture reaches. The check counts the plot-area pixels that are viridis colours. A flat plot area is
//! *not* flagged: some real Extremely_Loud views are saturated to one colour.

use image::RgbImage;

use crate::viridis;

/// Below this share of viridis pixels the picture is flagged.
pub const MIN_VIRIDIS_SHARE: f32 = 0.75;

/// The result of the check on one cropped picture.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Likeness {
    /// Share of the plot-area pixels that are viridis colours, 0..1.
    pub viridis_share: f32,
    /// Standard deviation of their colour-map index (0 for a flat, e.g. saturated, plot area).
    pub index_spread: f32,
    /// Why it does not look like a Gravity Spy spectrogram, or `None` when it does.
    pub problem: Option<String>,
}

/// Check a cropped plot area (every second pixel in each direction: plenty for a share).
pub fn likeness(crop: &RgbImage) -> Likeness {
    let (w, h) = crop.dimensions();
    let (mut total, mut hits) = (0usize, 0usize);
    let (mut sum, mut sum2) = (0f64, 0f64);
    for y in (0..h).step_by(2) {
        for x in (0..w).step_by(2) {
            total += 1;
            if let Some(i) = viridis::inverse_index(crop.get_pixel(x, y).0) {
                hits += 1;
                sum += i as f64;
                sum2 += (i * i) as f64;
            }
        }
    }
    let share = if total == 0 { 0.0 } else { hits as f32 / total as f32 };
    let spread = if hits == 0 { 0.0 } else { ((sum2 / hits as f64) - (sum / hits as f64).powi(2)).max(0.0).sqrt() as f32 };
    let problem = if share < MIN_VIRIDIS_SHARE {
        Some(format!(
            "does not look like a Gravity Spy spectrogram: only {:.0} % of the plot area is in the viridis colour \
             map (real Gravity Spy plots: 91-100 %); its class means nothing",
            100.0 * share
        ))
    } else {
        None
    };
    Likeness { viridis_share: share, index_spread: spread, problem }
}

#[cfg(test)]
mod tests {
    // In the browser (wasm-pack test), each #[test] below runs as a wasm_bindgen_test.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;
    use super::*;
    use crate::viridis::VIRIDIS_RGB8;

    #[test]
    fn a_noisy_viridis_picture_passes() {
        let img = RgbImage::from_fn(60, 40, |x, y| image::Rgb(VIRIDIS_RGB8[((x * 31 + y * 17) % 90) as usize]));
        let l = likeness(&img);
        assert!(l.viridis_share > 0.99 && l.problem.is_none(), "{l:?}");
    }

    #[test]
    fn black_and_grey_pictures_are_flagged_and_a_saturated_one_is_not() {
        let black = likeness(&RgbImage::new(50, 50));
        assert!(black.problem.as_deref().unwrap().contains("viridis"), "{black:?}");
        let grey = likeness(&RgbImage::from_fn(50, 50, |x, _| image::Rgb([x as u8 * 4; 3])));
        assert!(grey.viridis_share < 0.1 && grey.problem.is_some());
        let saturated = likeness(&RgbImage::from_pixel(50, 50, image::Rgb(VIRIDIS_RGB8[255])));
        assert!(saturated.problem.is_none() && saturated.index_spread == 0.0, "{saturated:?}");
    }
}
