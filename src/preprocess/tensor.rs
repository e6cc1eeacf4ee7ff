//! Crop -> network input: a fixed resize, then the EfficientNet-Lite normalisation, in CHW order.

use image::RgbImage;
use image::imageops::FilterType;

use super::config::InputSpec;

/// The one resample filter: Triangle (bilinear). `image` widens the kernel by the scale factor when
/// shrinking, so a downscale averages every source pixel (antialiased) instead of skipping rows.
pub const RESIZE_FILTER: FilterType = FilterType::Triangle;

/// EfficientNet-Lite input normalisation on 0..255 RGB: x = (pixel - MEAN) / STD.
pub const PIXEL_MEAN: f32 = 127.0;
pub const PIXEL_STD: f32 = 128.0;

/// Resizes (stretching, not padding: every source keeps the same box-to-input mapping).
pub fn resize_to_input(image: &RgbImage, spec: InputSpec) -> RgbImage {
    if image.dimensions() == (spec.width, spec.height) {
        return image.clone();
    }
    image::imageops::resize(image, spec.width, spec.height, RESIZE_FILTER)
}

/// Normalises an RGB image to `Vec<f32>` in CHW order: index = c * H * W + y * W + x.
pub fn normalise_chw(image: &RgbImage) -> Vec<f32> {
    let (width, height) = image.dimensions();
    let plane = width as usize * height as usize;
    let mut out = vec![0f32; 3 * plane];
    for (x, y, pixel) in image.enumerate_pixels() {
        let i = y as usize * width as usize + x as usize;
        for (c, &v) in pixel.0.iter().enumerate() {
            out[c * plane + i] = (f32::from(v) - PIXEL_MEAN) / PIXEL_STD;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    // In the browser (wasm-pack test), each #[test] below runs as a wasm_bindgen_test.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;
    use super::*;

    #[test]
    fn chw_order_and_normalisation() {
        let mut img = RgbImage::new(2, 1);
        img.put_pixel(0, 0, image::Rgb([127, 255, 0]));
        img.put_pixel(1, 0, image::Rgb([0, 1, 2]));
        let t = normalise_chw(&img);
        let n = |v: f32| (v - 127.0) / 128.0;
        assert_eq!(t, vec![0.0, n(0.0), 1.0, n(1.0), n(0.0), n(2.0)]);
    }

    #[test]
    fn resize_gives_requested_size_and_keeps_flat_colour() {
        let img = RgbImage::from_pixel(559, 470, image::Rgb([68, 1, 84]));
        let spec = InputSpec {
            height: 176,
            width: 208,
        };
        let r = resize_to_input(&img, spec);
        assert_eq!(r.dimensions(), (208, 176));
        assert!(r.pixels().all(|p| p.0 == [68, 1, 84]));
    }

    #[test]
    fn downscale_is_antialiased() {
        // One-pixel stripes shrunk 4x: an antialiased filter averages them to mid-grey;
        // plain bilinear sampling would keep hitting (almost) pure black or white.
        let img = RgbImage::from_fn(400, 40, |x, _| {
            if x % 2 == 0 {
                image::Rgb([0; 3])
            } else {
                image::Rgb([255; 3])
            }
        });
        let r = resize_to_input(
            &img,
            InputSpec {
                height: 10,
                width: 100,
            },
        );
        for p in r.pixels() {
            assert!((100..=155).contains(&p.0[0]), "not averaged: {:?}", p.0);
        }
    }
}
