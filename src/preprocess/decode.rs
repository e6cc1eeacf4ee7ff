//! Bytes -> RGB pixels, with the size checked from the header before any pixel buffer is allocated.

use std::io::Cursor;

use image::error::{ImageError, LimitErrorKind};
use image::{DynamicImage, ImageReader, RgbImage};

use super::config::DecodeLimits;
use super::error::PreprocessError;

/// Decodes PNG (8/16-bit, grey, palette, RGB, RGBA), JPEG (grey, RGB, CMYK) or GIF (first frame)
/// into 8-bit RGB. Alpha is composited on white, as the figure background of a Gravity Spy plot is white.
pub fn decode_rgb(bytes: &[u8], limits: &DecodeLimits) -> Result<RgbImage, PreprocessError> {
    if bytes.is_empty() {
        return Err(PreprocessError::Empty);
    }
    // Reading only the header first gives the declared size for a clear refusal of huge images.
    let (width, height) = match new_reader(bytes, limits, false)?.into_dimensions() {
        Ok(size) => size,
        // A PNG decoder wants the first data chunk before it reports the size; a file cut after
        // its header still declares one, and a huge declared size is the better explanation.
        Err(e) => match png_declared_size(bytes) {
            Some((w, h)) if w > limits.max_width || h > limits.max_height => (w, h),
            _ => return Err(map_error(e, limits)),
        },
    };
    if width > limits.max_width || height > limits.max_height {
        return Err(PreprocessError::TooLarge {
            width,
            height,
            max_width: limits.max_width,
            max_height: limits.max_height,
        });
    }
    if width < limits.min_side || height < limits.min_side {
        return Err(PreprocessError::TooSmall {
            width,
            height,
            min_side: limits.min_side,
        });
    }
    if jpeg_is_truncated(bytes) {
        return Err(PreprocessError::Corrupt(
            "the JPEG ends before its end-of-image marker".into(),
        ));
    }
    if png_palette_is_malformed(bytes) {
        return Err(PreprocessError::Corrupt(
            "the PNG's palette (PLTE chunk) is not a whole number of RGB entries".into(),
        ));
    }
    let image = new_reader(bytes, limits, true)?
        .decode()
        .map_err(|e| map_error(e, limits))?;
    Ok(flatten_on_white(image))
}

/// A reader whose format is guessed from the magic bytes (never from a file name, which may lie).
/// `with_dimensions` adds the width/height limits; the memory cap is always set.
fn new_reader<'a>(
    bytes: &'a [u8],
    limits: &DecodeLimits,
    with_dimensions: bool,
) -> Result<ImageReader<Cursor<&'a [u8]>>, PreprocessError> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| PreprocessError::Corrupt(e.to_string()))?;
    if reader.format().is_none() {
        return Err(PreprocessError::UnsupportedFormat(
            "the content is not recognised as an image".into(),
        ));
    }
    let mut image_limits = image::Limits::default();
    image_limits.max_alloc = Some(limits.max_alloc_bytes);
    if with_dimensions {
        image_limits.max_image_width = Some(limits.max_width);
        image_limits.max_image_height = Some(limits.max_height);
    }
    reader.limits(image_limits);
    Ok(reader)
}

/// A JPEG whose last scan has no end-of-image marker after it was cut short. The JPEG decoder accepts such a
/// file and fills the missing rows with grey, which would be classified as if it were a real picture.
/// (Inside entropy-coded data 0xFF is always followed by 0x00 or a restart marker, so 0xFFDA and 0xFFD9 found
/// there are real markers; trailing bytes after the end marker are still accepted.)
fn jpeg_is_truncated(bytes: &[u8]) -> bool {
    if !bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return false;
    }
    match bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]) {
        Some(last_scan) => !bytes[last_scan..].windows(2).any(|w| w == [0xFF, 0xD9]),
        None => true,
    }
}

/// Width and height from a PNG's IHDR chunk, which the format fixes at bytes 16..24.
/// png 0.18 panics (slice index out of range) when expanding a palette whose PLTE chunk length is not a multiple
/// of 3 (found by fuzzing: fuzz/regressions). The PNG spec allows only 1..=256 whole RGB entries, so such a
/// file is refused before the decoder sees it. Walks the chunk headers only; bounds-checked on truncated files.
fn png_palette_is_malformed(bytes: &[u8]) -> bool {
    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    if !bytes.starts_with(SIGNATURE) {
        return false;
    }
    let mut at = SIGNATURE.len();
    while let Some(header) = bytes.get(at..at + 8) {
        let length = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        if &header[4..8] == b"PLTE" && (length == 0 || length % 3 != 0 || length > 3 * 256) {
            return true;
        }
        // Length, type, data, CRC.
        at = at.saturating_add(12).saturating_add(length);
    }
    false
}

fn png_declared_size(bytes: &[u8]) -> Option<(u32, u32)> {
    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    if !bytes.starts_with(SIGNATURE) || bytes.get(12..16)? != b"IHDR" {
        return None;
    }
    let be = |at: usize| Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?));
    Some((be(16)?, be(20)?))
}

fn map_error(error: ImageError, limits: &DecodeLimits) -> PreprocessError {
    match error {
        ImageError::Limits(e) => match e.kind() {
            LimitErrorKind::InsufficientMemory => PreprocessError::MemoryLimit {
                limit_bytes: limits.max_alloc_bytes,
            },
            // Dimensions were already checked against the header; reaching here means the
            // decoder found them otherwise (e.g. a GIF frame larger than its screen).
            _ => PreprocessError::Corrupt(e.to_string()),
        },
        ImageError::Unsupported(e) => PreprocessError::UnsupportedFormat(e.to_string()),
        ImageError::Decoding(e) => PreprocessError::Corrupt(e.to_string()),
        ImageError::IoError(e) => PreprocessError::Corrupt(e.to_string()),
        other => PreprocessError::Corrupt(other.to_string()),
    }
}

/// 8-bit RGB; grey is expanded to three equal channels, alpha is blended over white.
fn flatten_on_white(image: DynamicImage) -> RgbImage {
    if !image.color().has_alpha() {
        return image.into_rgb8();
    }
    let rgba = image.into_rgba8();
    let (width, height) = rgba.dimensions();
    RgbImage::from_fn(width, height, |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        let over_white = |c: u8| -> u8 {
            let (c, a) = (u32::from(c), u32::from(a));
            // Rounded c*a/255 + 255*(255-a)/255; never exceeds 255.
            ((c * a + 255 * (255 - a) + 127) / 255) as u8
        };
        image::Rgb([over_white(r), over_white(g), over_white(b)])
    })
}

#[cfg(test)]
mod tests {
    // In the browser (wasm-pack test), each #[test] below runs as a wasm_bindgen_test.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;
    use super::*;

    #[test]
    fn alpha_is_composited_on_white() {
        let mut rgba = image::RgbaImage::new(2, 1);
        rgba.put_pixel(0, 0, image::Rgba([0, 0, 0, 0])); // fully transparent black
        rgba.put_pixel(1, 0, image::Rgba([0, 100, 200, 255])); // opaque
        let rgb = flatten_on_white(DynamicImage::ImageRgba8(rgba));
        assert_eq!(rgb.get_pixel(0, 0).0, [255, 255, 255]);
        assert_eq!(rgb.get_pixel(1, 0).0, [0, 100, 200]);
    }

    #[test]
    fn half_transparent_black_becomes_mid_grey() {
        let rgba = image::RgbaImage::from_pixel(1, 1, image::Rgba([0, 0, 0, 128]));
        let rgb = flatten_on_white(DynamicImage::ImageRgba8(rgba));
        assert_eq!(rgb.get_pixel(0, 0).0, [127, 127, 127]);
    }

    #[test]
    fn palette_of_a_partial_entry_is_refused_not_a_panic() {
        // The fuzzer's input: a palette PNG whose PLTE chunk holds 49 bytes (16 entries and one byte).
        let crash: &[u8] = include_bytes!("../../fuzz/regressions/preprocess-plte-49-bytes.png");
        match decode(crash) {
            Err(PreprocessError::Corrupt(m)) => assert!(m.contains("palette"), "{m}"),
            other => panic!("expected a corrupt-palette error, got {other:?}"),
        }
        assert!(!png_palette_is_malformed(b"\x89PNG\r\n\x1a\n\0\0\0\x03PLTE"), "a 1-entry palette is fine");
        assert!(png_palette_is_malformed(b"\x89PNG\r\n\x1a\n\0\0\0\x04PLTE"));
    }

    #[test]
    fn empty_bytes_are_refused() {
        assert_eq!(
            decode_rgb(&[], &DecodeLimits::default()),
            Err(PreprocessError::Empty)
        );
    }

    /// Encodes with `image`'s own PNG encoder (8/16-bit, grey, RGB, RGBA).
    fn png_of(image: &DynamicImage) -> Vec<u8> {
        let mut out = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
            .expect("encode png");
        out
    }

    fn decode(bytes: &[u8]) -> Result<RgbImage, PreprocessError> {
        decode_rgb(bytes, &DecodeLimits::default())
    }

    #[test]
    fn png_colour_types_decode_to_rgb() {
        let (w, h) = (20, 16);
        let rgba16 = image::ImageBuffer::from_pixel(w, h, image::Rgba([65535u16, 32896, 0, 65535]));
        let grey8 = image::GrayImage::from_pixel(w, h, image::Luma([77]));
        let grey16 = image::ImageBuffer::from_pixel(w, h, image::Luma([257u16 * 200]));
        let rgb8 = RgbImage::from_pixel(w, h, image::Rgb([68, 1, 84]));
        let cases = [
            (DynamicImage::ImageRgba16(rgba16), [255, 128, 0]),
            (DynamicImage::ImageLuma8(grey8), [77, 77, 77]),
            (DynamicImage::ImageLuma16(grey16), [200, 200, 200]),
            (DynamicImage::ImageRgb8(rgb8), [68, 1, 84]),
        ];
        for (img, expected) in cases {
            let rgb = decode(&png_of(&img)).expect("decodes");
            assert_eq!(rgb.dimensions(), (w, h));
            assert!(
                rgb.pixels().all(|p| p.0 == expected),
                "{:?}: got {:?}",
                img.color(),
                rgb.get_pixel(0, 0)
            );
        }
    }

    #[test]
    fn palette_png_with_transparency() {
        // Index 0 opaque red, index 1 fully transparent (over white).
        let mut out = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut out, 16, 16);
            enc.set_color(png::ColorType::Indexed);
            enc.set_depth(png::BitDepth::Eight);
            enc.set_palette(vec![255, 0, 0, 0, 0, 255]);
            enc.set_trns(vec![255, 0]);
            let mut writer = enc.write_header().expect("header");
            let data: Vec<u8> = (0..256).map(|i| u8::from(i % 16 >= 8)).collect();
            writer.write_image_data(&data).expect("data");
        }
        let rgb = decode(&out).expect("decodes");
        assert_eq!(rgb.get_pixel(0, 0).0, [255, 0, 0]);
        assert_eq!(rgb.get_pixel(15, 0).0, [255, 255, 255]);
    }

    #[test]
    fn jpeg_rgb_grey_and_cmyk() {
        let (w, h) = (32u16, 24u16);
        let encode = |data: &[u8], color| {
            let mut out = Vec::new();
            jpeg_encoder::Encoder::new(&mut out, 95)
                .encode(data, w, h, color)
                .expect("encode jpeg");
            out
        };
        let n = usize::from(w) * usize::from(h);
        let rgb = encode(&[30u8, 140, 200].repeat(n), jpeg_encoder::ColorType::Rgb);
        let grey = encode(&vec![90u8; n], jpeg_encoder::ColorType::Luma);
        // Pure cyan ink: C = 255, M = Y = K = 0 -> RGB (0, 255, 255).
        let cmyk = encode(&[255u8, 0, 0, 0].repeat(n), jpeg_encoder::ColorType::Cmyk);
        for (bytes, expected) in [
            (rgb, [30, 140, 200]),
            (grey, [90, 90, 90]),
            (cmyk, [0, 255, 255]),
        ] {
            let img = decode(&bytes).expect("decodes");
            assert_eq!(img.dimensions(), (u32::from(w), u32::from(h)));
            let p = img.get_pixel(16, 12).0;
            let close = p
                .iter()
                .zip(expected)
                .all(|(&a, b)| (i32::from(a) - b).abs() <= 4);
            assert!(close, "expected about {expected:?}, got {p:?}");
        }
    }

    #[test]
    fn gif_gives_its_first_frame() {
        use image::codecs::gif::GifEncoder;
        let mut out = Vec::new();
        {
            let mut enc = GifEncoder::new(&mut out);
            for colour in [[0u8, 0, 255, 255], [255, 0, 0, 255]] {
                let frame =
                    image::Frame::new(image::RgbaImage::from_pixel(16, 16, image::Rgba(colour)));
                enc.encode_frame(frame).expect("frame");
            }
        }
        let img = decode(&out).expect("decodes");
        assert_eq!(img.get_pixel(8, 8).0, [0, 0, 255]);
    }

    #[test]
    fn tiny_images_are_refused() {
        let one = png_of(&DynamicImage::ImageRgb8(RgbImage::new(1, 1)));
        assert_eq!(
            decode(&one),
            Err(PreprocessError::TooSmall {
                width: 1,
                height: 1,
                min_side: 16
            })
        );
        let strip = png_of(&DynamicImage::ImageRgb8(RgbImage::new(400, 3)));
        assert!(matches!(
            decode(&strip),
            Err(PreprocessError::TooSmall { .. })
        ));
    }

    #[test]
    fn declared_size_over_the_limit_is_refused_from_the_header() {
        // A PNG header declaring 30000 x 30000 and no pixel data at all: only the header is read.
        let mut out = Vec::new();
        {
            let enc = png::Encoder::new(&mut out, 30000, 30000);
            let _writer = enc.write_header().expect("header");
        }
        let too_large = PreprocessError::TooLarge {
            width: 30000,
            height: 30000,
            max_width: 8192,
            max_height: 8192,
        };
        assert_eq!(decode(&out), Err(too_large.clone()));
        // The same with a start of compressed data, as a decompression bomb would have.
        let mut bomb = Vec::new();
        {
            let mut writer = png::Encoder::new(&mut bomb, 30000, 30000)
                .write_header()
                .expect("header");
            writer
                .write_chunk(png::chunk::IDAT, &[0x78, 0x9c, 0x63, 0x60, 0x18, 0x05])
                .expect("idat");
        }
        assert_eq!(decode(&bomb), Err(too_large));
    }

    #[test]
    fn memory_cap_is_enforced() {
        let png = png_of(&DynamicImage::ImageRgb8(RgbImage::new(100, 100)));
        let limits = DecodeLimits {
            max_alloc_bytes: 10_000,
            ..DecodeLimits::default()
        };
        assert_eq!(
            decode_rgb(&png, &limits),
            Err(PreprocessError::MemoryLimit {
                limit_bytes: 10_000
            })
        );
    }

    #[test]
    fn truncated_png_is_corrupt() {
        let img = RgbImage::from_fn(64, 64, |x, y| image::Rgb([x as u8 * 4, y as u8 * 4, 7]));
        let png = png_of(&DynamicImage::ImageRgb8(img));
        for cut in [png.len() / 2, 40, 20] {
            let err = decode(&png[..cut]).unwrap_err();
            assert!(
                matches!(err, PreprocessError::Corrupt(_)),
                "cut at {cut}: {err:?}"
            );
        }
    }

    #[test]
    fn truncated_jpeg_is_corrupt() {
        let img = RgbImage::from_fn(64, 64, |x, y| image::Rgb([x as u8 * 4, y as u8 * 4, 7]));
        let mut jpeg = Vec::new();
        DynamicImage::ImageRgb8(img)
            .write_to(&mut Cursor::new(&mut jpeg), image::ImageFormat::Jpeg)
            .expect("encode jpeg");
        assert!(decode(&jpeg).is_ok());
        let err = decode(&jpeg[..jpeg.len() * 3 / 4]).unwrap_err();
        assert!(matches!(err, PreprocessError::Corrupt(_)), "{err:?}");
    }

    #[test]
    fn text_is_not_an_image() {
        let err =
            decode_rgb(b"hello, this is not a picture", &DecodeLimits::default()).unwrap_err();
        assert!(
            matches!(err, PreprocessError::UnsupportedFormat(_)),
            "{err:?}"
        );
    }
}
