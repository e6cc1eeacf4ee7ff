//! The preprocessing path on the real Gravity Spy pictures in `../shared/data/real` (skipped with a
//! message when that folder is absent), plus bad inputs that need no data.
//!
//! Run: `cargo test --release --test preprocess_real -- --nocapture` to see the measurements.
#![cfg(not(target_arch = "wasm32"))] // native only; tests/web.rs is the browser suite

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use glitchscope::preprocess::{
    CropBox, PictureKind, PreprocessConfig, PreprocessError, Preprocessed, decode_rgb, preprocess,
    preprocess_named,
};
use glitchscope::views::{Duration, UNKNOWN_DURATION_SLOT, group_views};
use image::RgbImage;

#[path = "support/skip.rs"]
mod skip;

const REAL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data/real");

/// One row of `manifest.csv`.
#[derive(Debug, Clone)]
struct Entry {
    source: String,
    ifo: String,
    id: String,
    duration: String,
    format: String,
    width: u32,
    height: u32,
    path: String,
    note: String,
}

/// The manifest, or `None` (with a message) when the shared data is not there.
fn manifest() -> Option<Vec<Entry>> {
    let file = Path::new(REAL).join("manifest.csv");
    let Ok(text) = std::fs::read_to_string(&file) else {
        skip::skip(&format!("{} not found (shared data absent)", file.display()));
        return None;
    };
    let entries = text
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            assert!(
                f.len() >= 13,
                "manifest row with {} fields: {line}",
                f.len()
            );
            Entry {
                source: f[0].into(),
                ifo: f[3].into(),
                id: f[4].into(),
                duration: f[5].into(),
                format: f[6].into(),
                width: f[7].parse().expect("width"),
                height: f[8].parse().expect("height"),
                path: f[12].into(),
                // The note may hold commas: everything after the origin column.
                note: f.get(14..).map(|rest| rest.join(",")).unwrap_or_default(),
            }
        })
        .collect();
    Some(entries)
}

fn read(entry: &Entry) -> Vec<u8> {
    let path = PathBuf::from(REAL).join(&entry.path);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn run(entry: &Entry) -> Preprocessed {
    preprocess_named(&entry.path, &read(entry), &PreprocessConfig::default())
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The kind of picture the manifest describes: the plot area alone (the Zenodo/Kaggle 569x479 images, and
/// any file whose note says "plot area only"), else a plot drawn with axes.
fn expected_kind(e: &Entry) -> PictureKind {
    if (e.width, e.height) == (569, 479) || e.note.contains("plot area only") {
        PictureKind::PlotArea
    } else {
        PictureKind::FullPlot
    }
}

/// The plot area of a full plot in the figure's own pixels: the 800x600 figure box [108, 667) x [63, 533)
/// scaled to the picture and rounded inwards (for Gravity Spy's own 4:3 figures the crop is exactly that).
fn expected_full_plot_crop(e: &Entry) -> (u32, u32) {
    let (sx, sy) = (f64::from(e.width) / 800.0, f64::from(e.height) / 600.0);
    let inward = |a: f64, b: f64| (b.floor() - a.ceil()) as u32;
    (
        inward(108.0 * sx, 667.0 * sx),
        inward(63.0 * sy, 533.0 * sy),
    )
}

/// Pixels that viridis (darkest (68, 1, 84), no colour with min(r, g, b) > 200) cannot produce:
/// the black frame and ticks, and the white or light-grey figure background and labels. Frame, ticks and
/// labels are grey (r = g = b, up to JPEG noise); a dark pixel of another hue is a palette or compression
/// artefact inside the plot (a GIF frame has a few olive (50, 46, 7) dots), not part of the axes.
fn foreign(p: [u8; 3], darkest: u8, whitest: u8) -> bool {
    let (max, min) = (
        p.iter().max().copied().unwrap_or(0),
        p.iter().min().copied().unwrap_or(0),
    );
    (max < darkest && max - min < 32) || min > whitest
}

/// Pixels of `image` inside `b` that fail the viridis test; `border_only` looks at the box edges only.
fn foreign_pixels(
    image: &RgbImage,
    b: CropBox,
    darkest: u8,
    whitest: u8,
    border_only: bool,
) -> usize {
    let mut n = 0;
    for y in b.y..b.y + b.height {
        for x in b.x..b.x + b.width {
            let on_border =
                x == b.x || y == b.y || x + 1 == b.x + b.width || y + 1 == b.y + b.height;
            if (on_border || !border_only) && foreign(image.get_pixel(x, y).0, darkest, whitest) {
                n += 1;
            }
        }
    }
    n
}

/// Strict test for lossless files, lenient one for JPEG and for frames of GIF animations (JPEG noise and a
/// 256-colour palette darken or lighten a little: (61, 3, 77) for viridis' darkest (68, 1, 84)); both
/// thresholds are still far from the frame's black and the background's white.
fn thresholds(entry: &Entry) -> (u8, u8, bool) {
    if entry.format == "JPEG" || entry.note.contains("GIF") {
        (60, 220, true)
    } else {
        (80, 200, false)
    }
}

#[test]
fn every_real_image_decodes_and_preprocesses() {
    let Some(entries) = manifest() else { return };
    let config = PreprocessConfig::default();
    let mut kinds: BTreeMap<(String, &str), usize> = BTreeMap::new();
    let mut layouts: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &entries {
        let p = run(e);
        assert_eq!(p.source_size, (e.width, e.height), "{}", e.path);
        assert_eq!(p.input.len(), config.input.len(), "{}", e.path);
        let (lo, hi) = (-127.0 / 128.0, 1.0);
        assert!(
            p.input
                .iter()
                .all(|v| v.is_finite() && (lo..=hi).contains(v)),
            "{}",
            e.path
        );
        let expected = expected_kind(e);
        assert_eq!(p.kind, expected, "{}", e.path);
        let (cw, ch) = p.crop.dimensions();
        match expected {
            // Plots with axes: the figure box [108, 667) of the 800x600 figure across, at the picture's scale:
            // exactly 559 / 419 px wide in Gravity Spy's 800x600 / 600x450 figures, within 2 % for panels cut
            // from papers (their frame sets the scale). Gravity Spy's own figures keep their exact box,
            // 559x470 / 419x351, unless their layout differs (the field-guide GIFs end the plot higher: that
            // crop is held clean by the frame/tick test below).
            PictureKind::FullPlot => {
                let (ew, eh) = expected_full_plot_crop(e);
                if matches!((e.width, e.height), (800, 600) | (600, 450)) {
                    let standard = (cw, ch) == (ew, eh);
                    let taller_margin = cw.abs_diff(ew) <= 1 && ch < eh;
                    assert!(
                        standard || taller_margin,
                        "{}: crop {cw}x{ch}, expected {ew}x{eh}",
                        e.path
                    );
                    *layouts
                        .entry(if standard {
                            "standard"
                        } else {
                            "taller bottom margin"
                        })
                        .or_default() += 1;
                } else {
                    assert!(
                        f64::from(cw.abs_diff(ew)) <= 0.02 * f64::from(ew),
                        "{}: crop {cw}x{ch}, expected about {ew} px across",
                        e.path
                    );
                    assert!(ch * 2 >= e.height, "{}: crop {cw}x{ch}", e.path);
                }
            }
            // The plot area alone: the Zenodo images cut to the figure box, the rest whole but for a frame line.
            _ => {
                let (ew, eh) = if (e.width, e.height) == (569, 479) {
                    (559, 470)
                } else {
                    (e.width, e.height)
                };
                assert!(
                    cw + 2 >= ew && cw <= ew && ch + 2 >= eh && ch <= eh,
                    "{}: crop {cw}x{ch} of {ew}x{eh}",
                    e.path
                );
            }
        }
        *kinds
            .entry((e.source.clone(), p.kind.as_str()))
            .or_default() += 1;
    }
    eprintln!(
        "preprocessed {} real images: {kinds:?}; Gravity Spy-sized plots by layout: {layouts:?}",
        entries.len()
    );
    assert_eq!(kinds.values().sum::<usize>(), entries.len());
}

#[test]
fn crops_of_real_plots_hold_no_axis_label_or_colour_bar_pixels() {
    let Some(entries) = manifest() else { return };
    let mut checked = 0;
    // For each side, how many plots fail once the box grows by 3 px on that side: shows that the
    // test sees the frame and ticks, and that the box is close to them.
    let mut grown_fail = [0usize; 4];
    let mut classic_fail = 0;
    let mut saved = false;
    for e in &entries {
        let p = run(e);
        let source = decode_rgb(&read(e), &PreprocessConfig::default().limits).expect("decodes");
        let (darkest, whitest, border_only) = thresholds(e);
        let bad = foreign_pixels(&source, p.crop_box, darkest, whitest, border_only);
        assert_eq!(
            bad, 0,
            "{}: {bad} frame/tick/label pixels in crop {:?}",
            e.path, p.crop_box
        );
        checked += 1;
        let b = p.crop_box;
        let grown = [
            CropBox {
                x: b.x.saturating_sub(3),
                width: b.width + b.x.min(3),
                ..b
            },
            CropBox {
                width: b.width + 3,
                ..b
            },
            CropBox {
                y: b.y.saturating_sub(3),
                height: b.height + b.y.min(3),
                ..b
            },
            CropBox {
                height: b.height + 3,
                ..b
            },
        ];
        for (side, g) in grown.iter().enumerate() {
            if g.x + g.width <= e.width
                && g.y + g.height <= e.height
                && foreign_pixels(&source, *g, darkest, whitest, false) > 0
            {
                grown_fail[side] += 1;
            }
        }
        if e.format == "PNG" && (e.width, e.height) == (800, 600) {
            // The classic Gravity Spy crop: rows 66:532, columns 105:671.
            let classic = CropBox {
                x: 105,
                y: 66,
                width: 566,
                height: 466,
            };
            if foreign_pixels(&source, classic, darkest, whitest, false) > 0 {
                classic_fail += 1;
            }
            if !saved && e.source == "o1_full_plots" {
                let out = std::env::temp_dir().join("crop_full_plot.png");
                p.crop.save(&out).expect("save crop");
                eprintln!("saved the crop of {} to {}", e.path, out.display());
                saved = true;
            }
        }
    }
    eprintln!(
        "{checked} crops clean; growing the box by 3 px (left, right, top, bottom) hits the axes in {grown_fail:?} pictures; the classic crop 66:532 x 105:671 holds tick pixels in {classic_fail} 800x600 PNG plots"
    );
    assert!(checked > 0);
    assert!(
        grown_fail.iter().all(|&n| n > 0),
        "the check must see the frame on every side: {grown_fail:?}"
    );
}

/// Mean |luma(y + 1) - luma(y)| per row over a set of crops: the Q-transform texture changes with
/// frequency, so this profile is a fingerprint of the frequency axis.
fn row_profile(crops: &[RgbImage]) -> Vec<f64> {
    let (w, h) = crops[0].dimensions();
    let luma = |p: &image::Rgb<u8>| {
        0.299 * f64::from(p[0]) + 0.587 * f64::from(p[1]) + 0.114 * f64::from(p[2])
    };
    let mut profile = vec![0.0; h as usize - 1];
    for c in crops {
        assert_eq!(c.dimensions(), (w, h));
        for y in 0..h - 1 {
            for x in 0..w {
                profile[y as usize] +=
                    (luma(c.get_pixel(x, y + 1)) - luma(c.get_pixel(x, y))).abs();
            }
        }
    }
    profile
}

/// Column of the largest mean luma: the glitch, which Gravity Spy centres at t = 0.
fn peak_column(crops: &[RgbImage]) -> usize {
    let (w, _) = crops[0].dimensions();
    let mut sums = vec![0u64; w as usize];
    for c in crops {
        for (x, _, p) in c.enumerate_pixels() {
            sums[x as usize] += p.0.iter().map(|&v| u64::from(v)).sum::<u64>();
        }
    }
    (0..sums.len()).max_by_key(|&i| sums[i]).unwrap_or(0)
}

/// Pearson correlation of `a[i]` with `b` sampled at `i * scale + offset` (linear interpolation),
/// over the indices where that lies inside `b`.
fn correlation(a: &[f64], b: &[f64], scale: f64, offset: f64) -> f64 {
    let pairs: Vec<(f64, f64)> = (0..a.len())
        .filter_map(|i| {
            let t = i as f64 * scale + offset;
            let j = t.floor();
            if j < 0.0 || j as usize + 1 >= b.len() {
                return None;
            }
            let f = t - j;
            Some((a[i], b[j as usize] * (1.0 - f) + b[j as usize + 1] * f))
        })
        .collect();
    let n = pairs.len() as f64;
    let (ma, mb) = (
        pairs.iter().map(|p| p.0).sum::<f64>() / n,
        pairs.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let cov: f64 = pairs.iter().map(|p| (p.0 - ma) * (p.1 - mb)).sum();
    let va: f64 = pairs.iter().map(|p| (p.0 - ma).powi(2)).sum();
    let vb: f64 = pairs.iter().map(|p| (p.1 - mb).powi(2)).sum();
    cov / (va * vb).sqrt()
}

#[test]
fn full_plot_and_plot_area_crops_agree_in_scale() {
    let Some(entries) = manifest() else { return };
    let crops = |source: &str| -> Vec<RgbImage> {
        entries
            .iter()
            .filter(|e| e.source == source)
            .map(|e| run(e).crop)
            .collect()
    };
    let (full, area) = (crops("o1_full_plots"), crops("o1_cropped"));
    assert!(!full.is_empty() && !area.is_empty());
    assert_eq!(
        full[0].dimensions(),
        area[0].dimensions(),
        "same figure box, same size"
    );

    // Frequency axis: the best (scale, offset) mapping of one profile onto the other.
    let (pf, pa) = (row_profile(&full), row_profile(&area));
    let mut fits = Vec::new();
    for s in -8..=8 {
        for o in -12..=12 {
            let scale = 1.0 + f64::from(s) * 0.005;
            fits.push((correlation(&pf, &pa, scale, f64::from(o)), scale, o));
        }
    }
    fits.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (best, scale, offset) = fits[0];
    let runner_up = fits.iter().find(|f| f.2 != offset).map_or(0.0, |f| f.0);
    eprintln!(
        "row-texture fit: corr {best:.3} at scale {scale:.3}, offset {offset} px (best fit at any other offset: {runner_up:.3})"
    );
    assert_eq!(
        (scale, offset),
        (1.0, 0),
        "the two kinds are not on the same frequency grid"
    );
    assert!(best > 0.6, "weak match: {best}");

    // Time axis: the glitch (t = 0) lands in the same column.
    let (cf, ca) = (peak_column(&full), peak_column(&area));
    eprintln!(
        "peak-energy column: full plots {cf}, plot-area images {ca} (of {})",
        full[0].width()
    );
    assert!(cf.abs_diff(ca) <= 2, "t = 0 at column {cf} vs {ca}");
}

#[test]
fn file_names_group_into_the_expected_glitches() {
    let Some(entries) = manifest() else { return };
    let sources: BTreeSet<&str> = entries.iter().map(|e| e.source.as_str()).collect();
    for source in sources {
        let rows: Vec<&Entry> = entries.iter().filter(|e| e.source == source).collect();
        let glitches = group_views(rows.iter().map(|e| (e.path.clone(), e.duration.clone())))
            .unwrap_or_else(|e| panic!("{source}: {e}"));
        // Expected from the manifest: views per `<IFO>_<id>`, or one glitch per file without an id.
        let mut expected: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for e in &rows {
            let key = if e.id.is_empty() {
                e.path.clone()
            } else {
                format!("{}_{}", e.ifo, e.id)
            };
            expected.entry(key).or_default().insert(e.duration.clone());
        }
        assert_eq!(
            glitches.len(),
            expected.len(),
            "{source}: number of glitches"
        );
        for g in &glitches {
            for d in Duration::ALL {
                if let Some(view) = &g.views[d.index()] {
                    match view.duration {
                        Some(known) => assert_eq!(known.label(), view.item, "{}", view.name),
                        None => assert_eq!(
                            (d, view.item.as_str()),
                            (UNKNOWN_DURATION_SLOT, ""),
                            "{}",
                            view.name
                        ),
                    }
                }
            }
            if let Some(durations) = expected.get(&g.key) {
                let present: BTreeSet<String> =
                    g.present().iter().map(|d| d.label().to_string()).collect();
                assert_eq!(&present, durations, "{source}: {}", g.key);
            } else {
                assert_eq!(
                    g.view_count(),
                    1,
                    "{source}: {} is not a Gravity Spy name",
                    g.key
                );
            }
        }
        let full = glitches.iter().filter(|g| g.view_count() == 4).count();
        eprintln!(
            "{source}: {} files -> {} glitches, {full} with all four views",
            rows.len(),
            glitches.len()
        );
        if source == "o1_full_plots" {
            assert_eq!(
                full,
                glitches.len(),
                "every O1 full-plot glitch has its four views"
            );
            assert_eq!(glitches.len() * 4, rows.len());
        }
    }
}

#[test]
fn bad_inputs_give_typed_errors() {
    let config = PreprocessConfig::default();
    assert_eq!(
        preprocess(&[], &config).unwrap_err(),
        PreprocessError::Empty
    );

    let text = preprocess_named("notes.png", b"just some text, named .png", &config).unwrap_err();
    assert!(
        matches!(text.error, PreprocessError::UnsupportedFormat(_)),
        "{text:?}"
    );
    assert!(text.to_string().starts_with("notes.png: "), "{text}");

    // A PNG header declaring 30000 x 30000 px (then the start of compressed data and nothing more).
    let mut header = Vec::new();
    {
        let mut writer = png::Encoder::new(&mut header, 30000, 30000)
            .write_header()
            .expect("header");
        writer
            .write_chunk(png::chunk::IDAT, &[0x78, 0x9c, 0x63, 0x60])
            .expect("idat");
    }
    assert!(
        matches!(
            preprocess(&header, &config),
            Err(PreprocessError::TooLarge {
                width: 30000,
                height: 30000,
                ..
            })
        ),
        "{:?}",
        preprocess(&header, &config).map(|p| p.source_size)
    );

    // Truncated: a real Gravity Spy PNG cut in half when the data is here, else a made-up one.
    let png = match manifest().and_then(|m| m.into_iter().find(|e| e.format == "PNG")) {
        Some(e) => read(&e),
        None => {
            let mut out = Vec::new();
            let img = RgbImage::from_fn(64, 64, |x, y| image::Rgb([x as u8, y as u8, 9]));
            img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
                .expect("png");
            out
        }
    };
    let cut = preprocess(&png[..png.len() / 2], &config).unwrap_err();
    assert!(matches!(cut, PreprocessError::Corrupt(_)), "{cut:?}");

    let mut one = Vec::new();
    RgbImage::new(1, 1)
        .write_to(&mut std::io::Cursor::new(&mut one), image::ImageFormat::Png)
        .expect("png");
    assert!(matches!(
        preprocess(&one, &config),
        Err(PreprocessError::TooSmall {
            width: 1,
            height: 1,
            ..
        })
    ));
}

/// Every real plot area passes the "looks like a Gravity Spy spectrogram" check, with margin: the threshold
/// of `preprocess::likeness` is set from this measurement.
#[test]
fn every_real_plot_area_looks_like_a_spectrogram() {
    let Some(entries) = manifest() else { return };
    let mut shares: Vec<(f32, String)> = Vec::new();
    let mut by_source: BTreeMap<String, f32> = BTreeMap::new();
    for e in &entries {
        let p = run(e);
        let l = glitchscope::preprocess::likeness(&p.crop);
        assert!(l.problem.is_none(), "{}: {:?}", e.path, l);
        let min = by_source.entry(e.source.clone()).or_insert(1.0);
        *min = min.min(l.viridis_share);
        shares.push((l.viridis_share, e.path.clone()));
    }
    shares.sort_by(|a, b| a.0.total_cmp(&b.0));
    println!("viridis share of the plot area, lowest per source: {by_source:?}");
    println!(
        "lowest overall: {:?}, median {:.4}",
        &shares[..5],
        shares[shares.len() / 2].0
    );
    assert!(
        shares[0].0 >= glitchscope::preprocess::MIN_VIRIDIS_SHARE + 0.1,
        "keep a margin below the real minimum"
    );
}
