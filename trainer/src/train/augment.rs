//! Augmentation that keeps the physics of a spectrogram: x is time, y is (log) frequency.
//!
//! - time shift: a small horizontal translation (the trigger is not always exactly centred);
//! - frequency shift: a small vertical translation (the same glitch family at a slightly different pitch);
//! - brightness and contrast: small changes of the colour scale (loudness, rendering differences).
//!
//! No flips: a mirrored chirp runs backwards in time or frequency and is another class (or none). Shifted-in
//! borders repeat the edge row or column, which in a Gravity Spy plot is background noise.

use rand::{Rng, RngExt};

/// How strong the augmentation may be.
#[derive(Clone, Copy, Debug)]
pub struct AugmentConfig {
    /// Largest horizontal shift as a fraction of the width.
    pub time_shift: f32,
    /// Largest vertical shift as a fraction of the height.
    pub freq_shift: f32,
    /// Largest brightness offset in normalised units.
    pub brightness: f32,
    /// Largest relative contrast change.
    pub contrast: f32,
}

/// One draw of the augmentation for one view.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Augmentation {
    pub dx: i32,
    pub dy: i32,
    pub brightness: f32,
    pub contrast: f32,
}

impl Augmentation {
    pub const NONE: Augmentation = Augmentation { dx: 0, dy: 0, brightness: 0.0, contrast: 1.0 };

    /// Draw shifts uniformly in `[-max, max]` pixels, brightness and contrast uniformly in their ranges.
    pub fn draw(config: &AugmentConfig, height: usize, width: usize, rng: &mut impl Rng) -> Self {
        let max_dx = (config.time_shift * width as f32).round() as i32;
        let max_dy = (config.freq_shift * height as f32).round() as i32;
        Augmentation {
            dx: if max_dx > 0 { rng.random_range(-max_dx..=max_dx) } else { 0 },
            dy: if max_dy > 0 { rng.random_range(-max_dy..=max_dy) } else { 0 },
            brightness: symmetric(rng, config.brightness),
            contrast: 1.0 + symmetric(rng, config.contrast),
        }
    }
}

/// Uniform in `[-max, max]` (0 when `max` is 0).
fn symmetric<R: Rng + ?Sized>(rng: &mut R, max: f32) -> f32 {
    if max > 0.0 { rng.random_range(-max..=max) } else { 0.0 }
}

/// Append the augmented, normalised CHW input made from 8-bit CHW `pixels` to `out`.
///
/// Contrast scales around the image's mean so that it does not also shift the brightness.
pub fn apply(pixels: &[u8], height: usize, width: usize, aug: Augmentation, out: &mut Vec<f32>) {
    let plane = height * width;
    debug_assert_eq!(pixels.len(), 3 * plane);
    let mean = if aug.contrast != 1.0 {
        pixels.iter().map(|&p| f64::from(p)).sum::<f64>() as f32 / pixels.len().max(1) as f32
    } else {
        0.0
    };
    let norm = |p: u8| (f32::from(p) - 127.0) / 128.0;
    let mean_n = (mean - 127.0) / 128.0;
    let (h, w) = (height as i32, width as i32);
    out.reserve(3 * plane);
    for c in 0..3 {
        let channel = &pixels[c * plane..(c + 1) * plane];
        for y in 0..h {
            let sy = (y - aug.dy).clamp(0, h - 1) as usize;
            let row = &channel[sy * width..(sy + 1) * width];
            for x in 0..w {
                let sx = (x - aug.dx).clamp(0, w - 1) as usize;
                let v = norm(row[sx]);
                out.push((v - mean_n) * aug.contrast + mean_n + aug.brightness);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn ramp(height: usize, width: usize) -> Vec<u8> {
        (0..3 * height * width).map(|i| ((i % width) * 10 + (i / width % height)) as u8).collect()
    }

    #[test]
    fn no_augmentation_is_plain_normalisation() {
        let px = ramp(4, 5);
        let mut out = Vec::new();
        apply(&px, 4, 5, Augmentation::NONE, &mut out);
        let expected: Vec<f32> = px.iter().map(|&p| (f32::from(p) - 127.0) / 128.0).collect();
        assert_eq!(out, expected);
    }

    #[test]
    fn time_shift_moves_columns_and_repeats_the_edge() {
        let (h, w) = (3, 6);
        let px = ramp(h, w);
        let mut out = Vec::new();
        apply(&px, h, w, Augmentation { dx: 2, ..Augmentation::NONE }, &mut out);
        let at = |v: &[f32], y: usize, x: usize| v[y * w + x];
        let mut plain = Vec::new();
        apply(&px, h, w, Augmentation::NONE, &mut plain);
        for y in 0..h {
            assert_eq!(at(&out, y, 4), at(&plain, y, 2), "content moved right by 2");
            assert_eq!(at(&out, y, 0), at(&plain, y, 0), "left border repeats column 0");
            assert_eq!(at(&out, y, 1), at(&plain, y, 0));
        }
    }

    #[test]
    fn frequency_shift_moves_rows_not_columns() {
        let (h, w) = (5, 4);
        let px = ramp(h, w);
        let mut up = Vec::new();
        apply(&px, h, w, Augmentation { dy: -1, ..Augmentation::NONE }, &mut up);
        let mut plain = Vec::new();
        apply(&px, h, w, Augmentation::NONE, &mut plain);
        assert_eq!(&up[0..w], &plain[w..2 * w], "row 1 moved to row 0");
        assert_eq!(&up[(h - 1) * w..h * w], &plain[(h - 1) * w..h * w], "bottom row repeated");
    }

    #[test]
    fn contrast_keeps_the_mean_and_brightness_adds() {
        let px = ramp(4, 4);
        let mut plain = Vec::new();
        apply(&px, 4, 4, Augmentation::NONE, &mut plain);
        let mut out = Vec::new();
        apply(&px, 4, 4, Augmentation { contrast: 1.5, brightness: 0.1, ..Augmentation::NONE }, &mut out);
        let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
        assert!((mean(&out) - mean(&plain) - 0.1).abs() < 1e-4);
        let spread = |v: &[f32]| v.iter().cloned().fold(f32::MIN, f32::max) - v.iter().cloned().fold(f32::MAX, f32::min);
        assert!((spread(&out) / spread(&plain) - 1.5).abs() < 1e-4);
    }

    #[test]
    fn draws_stay_in_range() {
        let config = AugmentConfig { time_shift: 0.1, freq_shift: 0.05, brightness: 0.2, contrast: 0.1 };
        let mut rng = chacha20::ChaCha8Rng::seed_from_u64(3);
        let mut saw_negative = false;
        for _ in 0..500 {
            let a = Augmentation::draw(&config, 100, 100, &mut rng);
            assert!(a.dx.abs() <= 10 && a.dy.abs() <= 5);
            assert!(a.brightness.abs() <= 0.2 && (0.9..=1.1).contains(&a.contrast));
            saw_negative |= a.dx < 0;
        }
        assert!(saw_negative);
    }
}
