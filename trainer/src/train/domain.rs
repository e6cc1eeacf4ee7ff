//! Augmentation against the domain gap between our training pictures and the real Gravity Spy pictures users
//! upload. It works on the decoded picture, before the shared preprocessing crops and resizes it, because
//! that is where the real pictures differ:
//!
//! - **Colour scale.** Gravity Spy normalises every view's energy to its own colour range, and the real plots
//!   saturate differently (O1 crops vs O2 subjects vs O3 plots). Viridis pixels are mapped back to their
//!   colour-map value `v`, changed to `clamp(a * v + b)`, and coloured again; white margins and text are not
//!   viridis and stay as they are.
//! - **O2 Zooniverse subjects.** 149 of the 193 real O2 JPEGs are 800x600, 44 are 600x450, and their
//!   quantisation tables are the IJG ones at quality 92 (191) or 94 (2) (measured on
//!   `shared/data/real/o2_volunteer` from the DQT segments). So a picture is, with some probability,
//!   rescaled to 3/4 (as 800x600 -> 600x450) and JPEG-encoded at quality 90..=95, then decoded again.
//! - **Plot-area crop.** The O1 crops, full plots and O2 subjects put the plot area a few pixels differently;
//!   the crop box is shifted by up to `crop_jitter` pixels and scaled by up to 2 %.
//!
//! Spectrogram-safe like `augment.rs`: no flips, no rotations. Deterministic from the caller's generator.

use glitchscope::preprocess::{self, CropBox, InputSpec};
use glitchscope::viridis::{self, VIRIDIS_RGB8};
use image::RgbImage;
use rand::{Rng, RngExt};

/// How strong the picture-level augmentation is. `DomainConfig::OFF` leaves pictures as they are.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DomainConfig {
    /// Largest relative change of the colour-map gain `a` (a in [1 - x, 1 + x]).
    pub colour_gain: f32,
    /// Largest colour-map offset `b`, in colour-map units (0..1).
    pub colour_offset: f32,
    /// Probability that a picture becomes an O2-like JPEG subject (a quarter of them at 3/4 scale, as 600x450).
    pub jpeg: f64,
    /// Largest shift of the crop box, pixels of the picture.
    pub crop_jitter: u32,
}

impl DomainConfig {
    #[cfg(test)]
    pub const OFF: DomainConfig = DomainConfig { colour_gain: 0.0, colour_offset: 0.0, jpeg: 0.0, crop_jitter: 0 };
    /// The measured defaults (see the module documentation), as in the training config.
    #[cfg(test)]
    pub const DEFAULT: DomainConfig = DomainConfig { colour_gain: 0.2, colour_offset: 0.08, jpeg: 0.5, crop_jitter: 4 };
}

/// JPEG qualities of real O2 subjects are 92 and 94; a little either side.
const JPEG_QUALITY: std::ops::RangeInclusive<u8> = 90..=95;
/// Share of the real O2 JPEG subjects that are 600x450 (44 of 193).
const SMALL_SUBJECT_SHARE: f64 = 44.0 / 193.0;
/// Change the colour scale of every viridis pixel: `v -> clamp(gain * v + offset)`.
pub fn rescale_colours(image: &mut RgbImage, gain: f32, offset: f32) {
    let mut map = [[0u8; 3]; 256];
    for (i, m) in map.iter_mut().enumerate() {
        let v = (gain * (i as f32 / 255.0) + offset).clamp(0.0, 1.0);
        *m = VIRIDIS_RGB8[(v * 255.0).round() as usize];
    }
    for px in image.pixels_mut() {
        if let Some(i) = viridis::inverse_index(px.0) {
            px.0 = map[i];
        }
    }
}

/// Encode as JPEG at `quality` and decode again (the artefacts of an O2 Zooniverse subject).
pub fn jpeg_round_trip(image: &RgbImage, quality: u8) -> RgbImage {
    let mut bytes = Vec::new();
    let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, quality);
    if image.write_with_encoder(encoder).is_err() {
        return image.clone();
    }
    image::load_from_memory_with_format(&bytes, image::ImageFormat::Jpeg)
        .map(|d| d.to_rgb8())
        .unwrap_or_else(|_| image.clone())
}

/// One augmented network input (CHW f32, normalised) from a decoded picture.
///
/// The crop box is found on the picture as given (the shared preprocessing's rule), then follows it through
/// the rescaling, so plot-area pictures (the synthetic ones, the O1 crops) can become O2-like subjects too:
/// their plot area is what a 600x450 subject shows at 3/4 scale.
pub fn augmented_input(picture: &RgbImage, spec: InputSpec, config: &DomainConfig, rng: &mut impl Rng) -> Vec<f32> {
    let mut image = picture.clone();
    if config.colour_gain > 0.0 || config.colour_offset > 0.0 {
        let gain = 1.0 + symmetric(rng, config.colour_gain);
        let offset = symmetric(rng, config.colour_offset);
        rescale_colours(&mut image, gain, offset);
    }
    let (_, mut b) = preprocess::find_crop_box(&image);
    if config.jpeg > 0.0 && rng.random_bool(config.jpeg) {
        if rng.random_bool(SMALL_SUBJECT_SHARE) {
            let (w, h) = image.dimensions();
            let (nw, nh) = ((w * 3).div_ceil(4).max(1), (h * 3).div_ceil(4).max(1));
            image = image::imageops::resize(&image, nw, nh, preprocess::RESIZE_FILTER);
            let sx = |v: u32| (u64::from(v) * u64::from(nw) / u64::from(w)) as u32;
            let sy = |v: u32| (u64::from(v) * u64::from(nh) / u64::from(h)) as u32;
            let (x, y) = (sx(b.x), sy(b.y));
            b = CropBox { x, y, width: sx(b.width).clamp(1, nw - x), height: sy(b.height).clamp(1, nh - y) };
        }
        let quality = rng.random_range(JPEG_QUALITY);
        image = jpeg_round_trip(&image, quality);
    }
    if config.crop_jitter > 0 {
        b = jitter_box(b, image.dimensions(), config.crop_jitter, rng);
    }
    let crop = image::imageops::crop_imm(&image, b.x, b.y, b.width, b.height).to_image();
    preprocess::normalise_chw(&preprocess::resize_to_input(&crop, spec))
}

/// Shift the box by up to `max` pixels and scale its sides by up to 2 %, keeping it inside the picture.
fn jitter_box(b: CropBox, (w, h): (u32, u32), max: u32, rng: &mut impl Rng) -> CropBox {
    let m = max as i64;
    let scale = |side: u32, r: &mut dyn FnMut() -> f32| ((side as f32) * (1.0 + r())).round().max(8.0) as i64;
    let mut r = || symmetric(rng, 0.02);
    let bw = scale(b.width, &mut r).min(i64::from(w));
    let bh = scale(b.height, &mut r).min(i64::from(h));
    let cx = i64::from(b.x) + i64::from(b.width) / 2 + rng.random_range(-m..=m);
    let cy = i64::from(b.y) + i64::from(b.height) / 2 + rng.random_range(-m..=m);
    let x = (cx - bw / 2).clamp(0, i64::from(w) - bw);
    let y = (cy - bh / 2).clamp(0, i64::from(h) - bh);
    CropBox { x: x as u32, y: y as u32, width: bw as u32, height: bh as u32 }
}

fn symmetric<R: Rng + ?Sized>(rng: &mut R, max: f32) -> f32 {
    if max > 0.0 { rng.random_range(-max..=max) } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn viridis_picture(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| image::Rgb(VIRIDIS_RGB8[((x + y) as usize * 7) % 256]))
    }

    #[test]
    fn identity_colour_scale_keeps_the_picture() {
        let mut p = viridis_picture(40, 30);
        let before = p.clone();
        rescale_colours(&mut p, 1.0, 0.0);
        let max_diff = p.pixels().zip(before.pixels()).flat_map(|(a, b)| (0..3).map(move |c| a.0[c].abs_diff(b.0[c]))).max();
        // The inverse lookup works on 5-bit colour cells, so a colour can come back as a neighbouring entry.
        assert!(max_diff.unwrap() <= 8, "{max_diff:?}");
    }

    #[test]
    fn offset_brightens_viridis_but_not_white() {
        let mut p = viridis_picture(40, 30);
        p.put_pixel(0, 0, image::Rgb([255, 255, 255]));
        let mean_index = |p: &RgbImage| p.pixels().filter_map(|x| viridis::inverse_index(x.0)).sum::<usize>() as f64;
        let before = mean_index(&p);
        rescale_colours(&mut p, 1.0, 0.1);
        assert!(mean_index(&p) > before);
        assert_eq!(p.get_pixel(0, 0).0, [255, 255, 255]);
    }

    #[test]
    fn jpeg_round_trip_keeps_size_and_roughly_the_content() {
        let p = viridis_picture(64, 48);
        let q = jpeg_round_trip(&p, 92);
        assert_eq!(q.dimensions(), p.dimensions());
        let mean_abs: f64 = p.pixels().zip(q.pixels()).map(|(a, b)| (0..3).map(|c| f64::from(a.0[c].abs_diff(b.0[c]))).sum::<f64>()).sum::<f64>() / (64.0 * 48.0 * 3.0);
        assert!(mean_abs > 0.0 && mean_abs < 20.0, "{mean_abs}");
    }

    #[test]
    fn augmented_inputs_are_deterministic_sized_and_vary() {
        let p = viridis_picture(120, 90);
        let spec = InputSpec { height: 24, width: 32 };
        let draw = |seed| augmented_input(&p, spec, &DomainConfig::DEFAULT, &mut chacha20::ChaCha8Rng::seed_from_u64(seed));
        let a = draw(1);
        assert_eq!(a.len(), 3 * 24 * 32);
        assert_eq!(a, draw(1));
        assert_ne!(a, draw(2));
        let plain = augmented_input(&p, spec, &DomainConfig::OFF, &mut chacha20::ChaCha8Rng::seed_from_u64(1));
        assert_eq!(plain, preprocess::preprocess_rgb(&p, spec).unwrap().input, "OFF is the shared preprocessing");
    }

    #[test]
    fn jittered_boxes_stay_inside() {
        let mut rng = chacha20::ChaCha8Rng::seed_from_u64(4);
        for _ in 0..200 {
            let b = jitter_box(CropBox { x: 2, y: 1, width: 96, height: 70 }, (100, 72), 4, &mut rng);
            assert!(b.x + b.width <= 100 && b.y + b.height <= 72 && b.width >= 8, "{b:?}");
        }
    }
}
