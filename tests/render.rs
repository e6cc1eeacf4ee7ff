//! The rendered Gravity Spy picture against real Gravity Spy pictures.
//!
//! A real O3 Blip (`qtransform-reference/O3a_H1_Blip_0.strain.npy`) is rendered
//! and compared with the real O1 Blip pictures in `../shared/data/real`:
//! * colormap: the real plot areas must be made of our 256 viridis colours
//!   (fails for another colormap or for truncated instead of rounded bytes);
//! * level: mean colour-table position and the share of dark (< 2.5) pixels
//!   must fall within the real Blips' range (fails for a wrong normalisation or
//!   wrong colour limits);
//! * axes: the glitch must sit in the middle column band like the real ones, and
//!   the background must be much rougher at the top than at the bottom, as the
//!   short high-frequency tiles make it in every real picture (fails for a
//!   flipped or linear frequency axis);
//! * geometry: the frame lines of the full figure must be at exactly the pixel
//!   rows/columns where the real 800x600 figures have them.
#![cfg(not(target_arch = "wasm32"))] // native only; tests/web.rs is the browser suite

use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[path = "support/skip.rs"]
mod skip;

use glitchscope::npy::read_npy_file;
use glitchscope::spectrogram::render::{
    AXES_FRAME, COLORBAR_FRAME, FIGURE_SIZE, PLOT_AREA_SIZE, RenderOptions, render_full_figure,
    render_plot_area,
};
use glitchscope::viridis::viridis_u8;
use glitchscope::spectrogram::{QParams, QScan, q_transform};
use image::RgbaImage;

fn shared() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared")).to_path_buf()
}

/// Colour -> viridis table index.
fn lut() -> HashMap<[u8; 3], usize> {
    (0..256).map(|i| (viridis_u8(i), i)).collect()
}

/// The plot area content (inside the frame lines) of a full figure or an O1 crop.
fn content(img: &RgbaImage) -> Vec<Vec<[u8; 3]>> {
    let (x0, x1, y0, y1) = if img.dimensions() == FIGURE_SIZE {
        (
            AXES_FRAME.left + 1,
            AXES_FRAME.right,
            AXES_FRAME.top + 1,
            AXES_FRAME.bottom,
        )
    } else {
        (1, img.width(), 1, img.height())
    };
    (y0..y1)
        .map(|y| {
            (x0..x1)
                .map(|x| {
                    let p = img.get_pixel(x, y).0;
                    [p[0], p[1], p[2]]
                })
                .collect()
        })
        .collect()
}

#[derive(Debug, Clone, Copy)]
struct Metrics {
    /// Share of pixels that are one of the 256 viridis colours.
    on_lut: f64,
    /// Mean colour-table index (0..255).
    mean_index: f64,
    /// Share of pixels below 2.5 normalised energy (index <= 25).
    dark: f64,
    /// Mean column of saturated pixels (index >= 230), as a fraction of the width.
    bright_col: f64,
    /// Mean |horizontal index step| in the top quarter over that in the bottom quarter.
    roughness_ratio: f64,
}

fn metrics(rows: &[Vec<[u8; 3]>], lut: &HashMap<[u8; 3], usize>) -> Metrics {
    let (h, w) = (rows.len(), rows[0].len());
    let idx: Vec<Vec<Option<f64>>> = rows
        .iter()
        .map(|r| r.iter().map(|c| lut.get(c).map(|&i| i as f64)).collect())
        .collect();
    let all: Vec<f64> = idx.iter().flatten().flatten().copied().collect();
    let (mut bright_sum, mut bright_n) = (0.0, 0usize);
    for r in &idx {
        for (x, v) in r.iter().enumerate() {
            if v.is_some_and(|v| v >= 230.0) {
                bright_sum += x as f64;
                bright_n += 1;
            }
        }
    }
    let roughness = |band: &[Vec<Option<f64>>]| {
        let (mut s, mut n) = (0.0, 0usize);
        for r in band {
            for pair in r.windows(2) {
                if let (Some(a), Some(b)) = (pair[0], pair[1]) {
                    s += (a - b).abs();
                    n += 1;
                }
            }
        }
        s / n.max(1) as f64
    };
    let q = h / 4;
    Metrics {
        on_lut: all.len() as f64 / (h * w) as f64,
        mean_index: all.iter().sum::<f64>() / all.len().max(1) as f64,
        dark: all.iter().filter(|&&v| v <= 25.0).count() as f64 / all.len().max(1) as f64,
        bright_col: if bright_n > 0 {
            bright_sum / bright_n as f64 / w as f64
        } else {
            f64::NAN
        },
        roughness_ratio: roughness(&idx[..q]) / roughness(&idx[h - q..]),
    }
}

fn real_pictures(class: &str, duration: &str) -> Vec<RgbaImage> {
    let mut out = Vec::new();
    for source in ["o1_full_plots", "o1_cropped"] {
        let dir = shared().join("data/real").join(source).join(class);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.to_string_lossy()
                    .ends_with(&format!("_spectrogram_{duration}.png"))
            })
            .collect();
        paths.sort();
        for p in paths {
            let img = image::open(&p)
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
                .to_rgba8();
            out.push(img);
        }
    }
    out
}

fn blip_scan() -> Option<(QScan, f64)> {
    let path = shared().join("data/qtransform-reference/O3a_H1_Blip_0.strain.npy");
    if !path.exists() {
        skip::skip(&format!("{} is absent (shared data not mounted)", path.display()));
        return None;
    }
    let strain = read_npy_file(&path).expect("strain");
    Some((
        q_transform(&strain.data, 4096.0, 7.0, &QParams::default()).expect("q_transform"),
        7.0,
    ))
}

fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[test]
fn rendered_blip_looks_like_real_gravity_spy_blips() {
    let Some((scan, center)) = blip_scan() else {
        return;
    };
    let real = real_pictures("Blip", "1.0");
    if real.is_empty() {
        skip::skip(&format!("no real Blip pictures under {}", shared().join("data/real").display()));
        return;
    }
    let lut = lut();
    let opts = RenderOptions::default();
    let ours_crop = render_plot_area(&scan, center, 1.0, &opts).expect("render crop");
    let ours_full = render_full_figure(&scan, center, 1.0, &opts).expect("render figure");
    assert_eq!(ours_crop.dimensions(), PLOT_AREA_SIZE);

    let real_m: Vec<Metrics> = real
        .iter()
        .map(|img| metrics(&content(img), &lut))
        .collect();
    for (what, img) in [("crop", &ours_crop), ("full figure", &ours_full)] {
        let m = metrics(&content(img), &lut);
        println!("ours ({what}): {m:?}");
        // Our plot area is drawn only with the table (the full figure's
        // content edge is shaded like matplotlib's anti-aliasing).
        assert!(
            m.on_lut > 0.98,
            "{what}: only {:.3} of pixels are viridis",
            m.on_lut
        );

        let (lo, hi) = range(real_m.iter().map(|r| r.mean_index));
        println!("real Blips: mean index {lo:.1}..{hi:.1}");
        assert!(
            m.mean_index >= lo * 0.8 && m.mean_index <= hi * 1.2,
            "{what}: mean index {:.1}",
            m.mean_index
        );

        let (lo, hi) = range(real_m.iter().map(|r| r.dark).filter(|&d| d > 0.5));
        println!("real Blips: dark share {lo:.3}..{hi:.3}");
        assert!(
            m.dark >= lo - 0.05 && m.dark <= hi + 0.05,
            "{what}: dark share {:.3}",
            m.dark
        );

        let (lo, hi) = range(real_m.iter().map(|r| r.bright_col));
        println!("real Blips: saturated-pixel column {lo:.3}..{hi:.3}");
        assert!(
            m.bright_col >= lo - 0.02 && m.bright_col <= hi + 0.02,
            "{what}: glitch at column {:.3}",
            m.bright_col
        );

        let (lo, hi) = range(real_m.iter().map(|r| r.roughness_ratio));
        println!("real Blips: top/bottom roughness {lo:.1}..{hi:.1}");
        assert!(
            m.roughness_ratio >= lo / 2.0 && m.roughness_ratio <= hi * 2.0,
            "{what}: roughness ratio {:.2}",
            m.roughness_ratio
        );
    }
    // The real pictures are made of our colours (most real images: 99.2-99.6 %).
    let on = median(real_m.iter().map(|r| r.on_lut).collect());
    println!("real Blips: median share of viridis-table pixels {on:.4}");
    assert!(
        on > 0.95,
        "real Gravity Spy plot areas are not our viridis table: {on:.3}"
    );
}

/// Rows and columns that are black over most of their length: the frame lines.
fn frame_lines(img: &RgbaImage) -> (Vec<u32>, Vec<u32>) {
    let dark = |x: u32, y: u32| {
        let p = img.get_pixel(x, y).0;
        (p[0] as u32 + p[1] as u32 + p[2] as u32) < 100
    };
    let rows = (0..img.height())
        .filter(|&y| (0..img.width()).filter(|&x| dark(x, y)).count() > 300)
        .collect();
    let cols = (0..img.width())
        .filter(|&x| (0..img.height()).filter(|&y| dark(x, y)).count() > 300)
        .collect();
    (rows, cols)
}

#[test]
fn full_figure_plot_box_is_where_gravity_spy_puts_it() {
    let Some((scan, center)) = blip_scan() else {
        return;
    };
    let ours = render_full_figure(&scan, center, 1.0, &RenderOptions::default()).expect("render");
    assert_eq!(ours.dimensions(), FIGURE_SIZE);
    let (rows, cols) = frame_lines(&ours);
    assert_eq!(rows, vec![AXES_FRAME.top, AXES_FRAME.bottom]);
    assert_eq!(
        cols,
        vec![
            AXES_FRAME.left,
            AXES_FRAME.right,
            COLORBAR_FRAME.left,
            COLORBAR_FRAME.right
        ]
    );
    // The classifiers' crop (rows 66:532, columns 105:671) is spectrogram,
    // apart from the inward tick marks that the real figures have there too.
    let lut = lut();
    let mut viridis = 0;
    for y in 66..532 {
        for x in 105..671 {
            let p = ours.get_pixel(x, y).0;
            if lut.contains_key(&[p[0], p[1], p[2]]) {
                viridis += 1;
            } else {
                assert_eq!(
                    p,
                    [0, 0, 0, 255],
                    "crop pixel ({x}, {y}) is neither spectrogram nor a tick mark"
                );
            }
        }
    }
    assert!(
        viridis as f64 / (466.0 * 566.0) > 0.99,
        "crop holds {viridis} spectrogram pixels"
    );
    let mut compared = 0;
    for class in ["Blip", "Whistle", "Scratchy"] {
        for img in real_pictures(class, "1.0")
            .into_iter()
            .filter(|i| i.dimensions() == FIGURE_SIZE)
        {
            assert_eq!(
                frame_lines(&img),
                (rows.clone(), cols.clone()),
                "a real {class} figure has other frame lines"
            );
            compared += 1;
        }
    }
    if compared == 0 {
        skip::skip("no real 800x600 figures to compare the frame with (its rendered lines were checked)");
    } else {
        println!(
            "frame lines identical to {compared} real 800x600 Gravity Spy figures: rows {rows:?}, columns {cols:?}"
        );
    }
}
