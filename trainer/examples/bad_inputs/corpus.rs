//! The bad-input corpus (issue 7, hardening): files a public page and the CLI will be fed sooner or later, each
//! with the error family the CLI must report. Shared by the `bad_inputs` example (`scripts/make-bad-inputs.sh`)
//! and `tests/bad_inputs.rs`, so the corpus that is tested is the corpus that is shipped.
//!
//! Cards and weights are made with the library's own types (`ModelCard`, `save_burnpack_f16`, `sha256_hex`),
//! never hand-written JSON, so they cannot drift from the real format.

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use burn::tensor::Device;
use glitchscope::card::{CARD_FORMAT, CardInput, ModelCard, WeightsSpec};
use glitchscope::labels::O1_CLASSES;
use glitchscope::model::GlitchNetConfig;
use glitchscope::model::weights::{save_burnpack_f16, sha256_hex};
use glitchscope::npy::write_npy_f32_file;
use image::{DynamicImage, ImageFormat, RgbImage};
use rand::{Rng, RngExt, SeedableRng};
use serde::Serialize;

/// Which command a file is fed to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    /// `glitchscope classify FILE...` (with a good model).
    Classify,
    /// `glitchscope qtransform --strain FILE`.
    Qtransform,
    /// `glitchscope classify --model FILE` (a good picture).
    Model,
    /// Not an input: the good model the image files are classified with.
    GoodModel,
}

/// The outcome the CLI must give. `Ok` files are odd but legal and must be classified.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    Ok,
    Empty,
    NotAnImage,
    Corrupt,
    TooLarge,
    TooSmall,
    NonFinite,
    WrongShape,
    Sha256Mismatch,
    UnknownField,
    NoLabels,
}

impl Expect {
    /// Text the CLI's message must contain for this family, compared in lower case.
    pub fn message_text(self) -> Option<&'static str> {
        match self {
            Expect::Ok => None,
            Expect::Empty => Some("empty"),
            Expect::NotAnImage => Some("not a supported image"),
            Expect::Corrupt => Some("corrupt or truncated"),
            Expect::TooLarge => Some("declares 30000x30000 pixels"),
            Expect::TooSmall => Some("at least 16x16"),
            Expect::NonFinite => Some("non-finite"),
            // Burn's own words ("ShapeMismatch { path: \"head.weight\", expected: .., found: .. }").
            Expect::WrongShape => Some("shapemismatch"),
            Expect::Sha256Mismatch => Some("but the model card expects"),
            Expect::UnknownField => Some("unknown field"),
            Expect::NoLabels => Some("no labels"),
        }
    }
}

/// One file of the corpus, as listed in `manifest.json`.
#[derive(Clone, Debug, Serialize)]
pub struct Entry {
    /// Path relative to the corpus folder.
    pub file: String,
    /// What the file is.
    pub what: String,
    pub command: Command,
    pub expect: Expect,
}

/// Sample rate and length of the strain files: 8 s at 4096 Hz, the glitch at 4 s.
pub const STRAIN_RATE: f64 = 4096.0;
pub const STRAIN_CENTER: f64 = 4.0;

/// Write the whole corpus into `dir` (created), with `manifest.json`. `real` is the folder of real Gravity Spy
/// pictures (`../shared/data/real`); without it the pictures are synthetic.
pub fn write_corpus(dir: &Path, real: Option<&Path>) -> Result<Vec<Entry>> {
    for sub in ["images", "strain", "models"] {
        std::fs::create_dir_all(dir.join(sub)).with_context(|| format!("creating {}", dir.join(sub).display()))?;
    }
    let mut entries = Vec::new();
    write_images(dir, real, &mut entries)?;
    write_strain(dir, &mut entries)?;
    write_models(dir, &mut entries)?;
    let manifest = dir.join("manifest.json");
    std::fs::write(&manifest, serde_json::to_string_pretty(&entries)? + "\n")
        .with_context(|| format!("writing {}", manifest.display()))?;
    Ok(entries)
}

fn put(
    dir: &Path,
    entries: &mut Vec<Entry>,
    file: &str,
    bytes: &[u8],
    what: String,
    command: Command,
    expect: Expect,
) -> Result<()> {
    let path = dir.join(file);
    std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
    entries.push(Entry { file: file.into(), what, command, expect });
    Ok(())
}

/// The first file with extension `ext` under `dir` (sorted walk), for the "real file cut in half" cases.
fn first_file(dir: &Path, ext: &str) -> Option<PathBuf> {
    let mut items: Vec<PathBuf> = std::fs::read_dir(dir).ok()?.filter_map(|e| e.ok().map(|e| e.path())).collect();
    items.sort();
    for p in &items {
        if p.is_file() && p.extension().is_some_and(|e| e.eq_ignore_ascii_case(ext)) {
            return Some(p.clone());
        }
    }
    items.iter().filter(|p| p.is_dir()).find_map(|d| first_file(d, ext))
}

/// A spectrogram-like synthetic picture: dark blue background with a bright blob (a "Blip").
fn synthetic_picture() -> RgbImage {
    RgbImage::from_fn(400, 300, |x, y| {
        let (dx, dy) = (x as f32 - 200.0, y as f32 - 150.0);
        let v = (-(dx * dx / 800.0 + dy * dy / 5000.0)).exp();
        image::Rgb([(68.0 + 180.0 * v) as u8, (1.0 + 230.0 * v) as u8, (84.0 - 50.0 * v) as u8])
    })
}

fn encode(image: &DynamicImage, format: ImageFormat) -> Result<Vec<u8>> {
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, format).context("encoding a picture")?;
    Ok(out.into_inner())
}

fn write_images(dir: &Path, real: Option<&Path>, entries: &mut Vec<Entry>) -> Result<()> {
    let real_png = real.and_then(|r| first_file(r, "png"));
    let real_jpg = real.and_then(|r| first_file(r, "jpg"));
    let picture = match &real_png {
        Some(p) => image::open(p).with_context(|| format!("reading {}", p.display()))?.to_rgb8(),
        None => synthetic_picture(),
    };
    let source =
        |p: &Option<PathBuf>| p.as_ref().map_or("a synthetic picture".to_string(), |p| p.display().to_string());
    let png = match &real_png {
        Some(p) => std::fs::read(p)?,
        None => encode(&DynamicImage::ImageRgb8(picture.clone()), ImageFormat::Png)?,
    };
    let jpg = match &real_jpg {
        Some(p) => std::fs::read(p)?,
        None => encode(&DynamicImage::ImageRgb8(picture.clone()), ImageFormat::Jpeg)?,
    };
    use Command::Classify as C;
    put(dir, entries, "images/zero_bytes.png", &[], "zero-byte file named .png".into(), C, Expect::Empty)?;
    put(
        dir,
        entries,
        "images/truncated_png.png",
        &png[..png.len() / 2],
        format!("first half of the PNG {}", source(&real_png)),
        C,
        Expect::Corrupt,
    )?;
    put(
        dir,
        entries,
        "images/truncated_jpeg.jpg",
        &jpg[..jpg.len() / 2],
        format!("first half of the JPEG {}", source(&real_jpg)),
        C,
        Expect::Corrupt,
    )?;
    put(
        dir,
        entries,
        "images/bomb_30000x30000.png",
        &png_header_only(30000, 30000)?,
        "PNG header declaring 30000x30000 pixels, one tiny IDAT chunk (decompression bomb)".into(),
        C,
        Expect::TooLarge,
    )?;
    put(
        dir,
        entries,
        "images/text.png",
        b"This is a text file, not a picture.\n",
        "text file named .png".into(),
        C,
        Expect::NotAnImage,
    )?;
    let one = encode(&DynamicImage::ImageRgb8(RgbImage::new(1, 1)), ImageFormat::Png)?;
    put(dir, entries, "images/one_pixel.png", &one, "1x1 PNG".into(), C, Expect::TooSmall)?;
    write_large(dir, entries)?;

    // Odd but legal encodings of a good picture: these must be classified.
    let dynamic = DynamicImage::ImageRgb8(picture.clone());
    let rgb16 = encode(&DynamicImage::ImageRgb16(dynamic.to_rgb16()), ImageFormat::Png)?;
    put(dir, entries, "images/rgb16.png", &rgb16, "16-bit RGB PNG".into(), C, Expect::Ok)?;
    let grey = encode(&DynamicImage::ImageLuma8(dynamic.to_luma8()), ImageFormat::Png)?;
    put(dir, entries, "images/grey.png", &grey, "8-bit greyscale PNG (classified, with a not-a-spectrogram warning)".into(), C, Expect::Ok)?;
    let black = encode(&DynamicImage::ImageRgb8(RgbImage::new(800, 600)), ImageFormat::Png)?;
    put(dir, entries, "images/black.png", &black, "all-black 800x600 PNG (classified, with a not-a-spectrogram warning)".into(), C, Expect::Ok)?;
    put(
        dir,
        entries,
        "images/palette.png",
        &palette_png(&picture)?,
        "palette (indexed colour) PNG".into(),
        C,
        Expect::Ok,
    )?;
    put(dir, entries, "images/cmyk.jpg", &cmyk_jpeg(&picture)?, "CMYK JPEG".into(), C, Expect::Ok)?;
    put(
        dir,
        entries,
        "images/animated.gif",
        &animated_gif(&picture)?,
        "animated GIF, 2 frames (the first is used)".into(),
        C,
        Expect::Ok,
    )?;
    Ok(())
}

/// A PNG with a valid header declaring `w`x`h` and the start of compressed data, nothing more.
fn png_header_only(w: u32, h: u32) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    {
        let mut writer = png::Encoder::new(&mut out, w, h).write_header()?;
        writer.write_chunk(png::chunk::IDAT, &[0x78, 0x9c, 0x63, 0x60, 0x18, 0x05])?;
    }
    Ok(out)
}

/// 50 MiB named .png: 64 KiB of seeded random bytes, then a sparse hole (written in no time, no disk used).
fn write_large(dir: &Path, entries: &mut Vec<Entry>) -> Result<()> {
    const SIZE: u64 = 50 * 1024 * 1024;
    let file = "images/large_50mb.png";
    let path = dir.join(file);
    let mut rng = chacha20::ChaCha8Rng::seed_from_u64(7);
    let mut head = vec![0u8; 64 * 1024];
    rng.fill_bytes(&mut head);
    let mut f = std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    f.write_all(&head)?;
    f.set_len(SIZE).with_context(|| format!("sizing {}", path.display()))?;
    entries.push(Entry {
        file: file.into(),
        what: "50 MiB of random bytes (then zeros) named .png".into(),
        command: Command::Classify,
        expect: Expect::NotAnImage,
    });
    Ok(())
}

/// An indexed PNG with a 6x6x6 colour cube palette.
fn palette_png(picture: &RgbImage) -> Result<Vec<u8>> {
    let level = |v: u8| (u16::from(v) * 5 / 255) as u8;
    let palette: Vec<u8> =
        (0..216u16).flat_map(|i| [(i / 36) as u8 * 51, (i / 6 % 6) as u8 * 51, (i % 6) as u8 * 51]).collect();
    let data: Vec<u8> = picture.pixels().map(|p| level(p[0]) * 36 + level(p[1]) * 6 + level(p[2])).collect();
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, picture.width(), picture.height());
        enc.set_color(png::ColorType::Indexed);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_palette(palette);
        enc.write_header()?.write_image_data(&data)?;
    }
    Ok(out)
}

/// The picture as CMYK ink (C = 255 - R, ..., K = 0), which `image` cannot write.
fn cmyk_jpeg(picture: &RgbImage) -> Result<Vec<u8>> {
    let data: Vec<u8> = picture.pixels().flat_map(|p| [255 - p[0], 255 - p[1], 255 - p[2], 0]).collect();
    let (w, h) = (u16::try_from(picture.width())?, u16::try_from(picture.height())?);
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 90).encode(&data, w, h, jpeg_encoder::ColorType::Cmyk)?;
    Ok(out)
}

/// Two frames: the picture, then its negative.
fn animated_gif(picture: &RgbImage) -> Result<Vec<u8>> {
    let rgba = DynamicImage::ImageRgb8(picture.clone()).to_rgba8();
    let mut negative = rgba.clone();
    for p in negative.pixels_mut() {
        p.0 = [255 - p[0], 255 - p[1], 255 - p[2], 255];
    }
    let mut out = Vec::new();
    {
        let mut enc = image::codecs::gif::GifEncoder::new_with_speed(&mut out, 30);
        enc.encode_frames([image::Frame::new(rgba), image::Frame::new(negative)])?;
    }
    Ok(out)
}

fn write_strain(dir: &Path, entries: &mut Vec<Entry>) -> Result<()> {
    let mut rng = chacha20::ChaCha8Rng::seed_from_u64(11);
    let n = (8.0 * STRAIN_RATE) as usize;
    let noise: Vec<f32> = (0..n).map(|_| (rng.random::<f32>() - 0.5) * 1e-21).collect();
    for (name, bad, what) in [("nan", f32::NAN, "NaN"), ("inf", f32::INFINITY, "+infinity")] {
        let mut data = noise.clone();
        data[n / 3] = bad;
        let file = format!("strain/{name}.npy");
        write_npy_f32_file(dir.join(&file), &[n as u64], &data)?;
        entries.push(Entry {
            file,
            what: format!("1-d float32 strain, 8 s at 4096 Hz, with {what} at sample {}", n / 3),
            command: Command::Qtransform,
            expect: Expect::NonFinite,
        });
    }
    Ok(())
}

/// A valid 22-class card (weights fields filled by the caller).
fn card(name: &str) -> ModelCard {
    ModelCard {
        format: CARD_FORMAT.into(),
        name: name.into(),
        description: "bad-input corpus: random weights, not for science".into(),
        labels: O1_CLASSES.iter().map(|s| s.to_string()).collect(),
        backbone: "lite0".into(),
        fusion: None,
        input: CardInput { height: 176, width: 208, preprocessing: String::new() },
        views: vec![0.5, 1.0, 2.0, 4.0],
        weights: WeightsSpec { file: String::new(), sha256: String::new(), bytes: 0, dtype: "f16".into() },
        training: serde_json::Value::Null,
        metrics: serde_json::Value::Null,
        reference: None,
        calibration: None,
        neighbour_vote: None,
    }
}

fn weights_spec(file: &str, bytes: &[u8]) -> WeightsSpec {
    WeightsSpec { file: file.into(), sha256: sha256_hex(bytes), bytes: bytes.len() as u64, dtype: "f16".into() }
}

fn write_models(dir: &Path, entries: &mut Vec<Entry>) -> Result<()> {
    let device = Device::flex();
    device.seed(5);
    let good = save_burnpack_f16(&GlitchNetConfig::new().init(&device), "good.bpk")?;
    let five = save_burnpack_f16(&GlitchNetConfig::new().with_num_classes(5).init(&device), "wrong_shape.bpk")?;
    std::fs::write(dir.join("models/good.bpk"), &good)?;
    std::fs::write(dir.join("models/wrong_shape.bpk"), &five)?;

    let mut good_card = card("bad-inputs-good");
    good_card.weights = weights_spec("good.bpk", &good);
    good_card.validate("good.json")?;
    let mut add = |name: &str, json: String, what: &str, command, expect| {
        put(dir, entries, &format!("models/{name}"), (json + "\n").as_bytes(), what.into(), command, expect)
    };
    add(
        "good.json",
        good_card.to_json(),
        "valid card, random 22-class lite0 weights (good.bpk)",
        Command::GoodModel,
        Expect::Ok,
    )?;

    let mut c = card("bad-inputs-wrong-shape");
    c.weights = weights_spec("wrong_shape.bpk", &five);
    add(
        "wrong_shape.json",
        c.to_json(),
        "22-label card, weights of a 5-class network (sha256 correct)",
        Command::Model,
        Expect::WrongShape,
    )?;

    let mut c = good_card.clone();
    c.weights.sha256 = sha256_hex(b"some other file");
    add(
        "sha256_mismatch.json",
        c.to_json(),
        "card whose sha256 is not that of good.bpk",
        Command::Model,
        Expect::Sha256Mismatch,
    )?;

    let mut v = serde_json::to_value(&good_card)?;
    v["temperature"] = serde_json::json!(0.5);
    add(
        "unknown_field.json",
        serde_json::to_string_pretty(&v)?,
        "valid card plus an unknown field \"temperature\"",
        Command::Model,
        Expect::UnknownField,
    )?;

    let mut c = good_card.clone();
    c.labels.clear();
    add("no_labels.json", c.to_json(), "card with an empty label list", Command::Model, Expect::NoLabels)?;
    Ok(())
}
