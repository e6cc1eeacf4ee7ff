//! The gallery built from generated pictures: every cell shows the picture it should, cropped as the
//! library crops it; missing classes and views are grey; broken files are skipped with their path.

use std::path::Path;

use glitchscope::labels::O1_CLASSES;
use glitchscope::preprocess::{PLOT_AREA_SIZE, PLOT_BOX};
use image::{Rgb, RgbImage};

use super::layout::PLACEHOLDER;
use super::{Gallery, GalleryOptions, Side, build, save_indexed_png, thumb_width};

const DURATIONS: [&str; 4] = ["0.5", "1.0", "2.0", "4.0"];

/// A distinct colour for every (side, class, glitch, view). Saturated enough (min channel <= 160) that a
/// full plot of it is recognised as a plot.
fn colour(side: Side, class: usize, glitch: usize, slot: usize) -> Rgb<u8> {
    Rgb([5 + 10 * class as u8, 20 + 60 * glitch as u8 + 12 * slot as u8, 40 + 100 * side.index() as u8])
}

/// A plot-area picture like the O1 Zenodo set and `glitchscope synth`: 569x479, its first row and column
/// the black axes frame, which the crop must remove.
fn plot_area(fill: Rgb<u8>) -> RgbImage {
    RgbImage::from_fn(PLOT_AREA_SIZE.0, PLOT_AREA_SIZE.1, |x, y| if x == 0 || y == 0 { Rgb([0, 0, 0]) } else { fill })
}

/// A whole 800x600 Gravity Spy figure: white, a black axes frame, `fill` inside it.
fn full_plot(fill: Rgb<u8>) -> RgbImage {
    RgbImage::from_fn(800, 600, |x, y| {
        let frame =
            (x == 100 || x == 674) && (60..=540).contains(&y) || (y == 60 || y == 540) && (100..=674).contains(&x);
        let inside = (101..674).contains(&x) && (61..540).contains(&y);
        if frame {
            Rgb([0, 0, 0])
        } else if inside {
            fill
        } else {
            Rgb([255, 255, 255])
        }
    })
}

fn save(image: &RgbImage, path: &Path) {
    std::fs::create_dir_all(path.parent().expect("has a folder")).expect("folder created");
    image.save(path).expect("test picture written");
}

fn view_path(dir: &Path, class: &str, key: &str, slot: usize) -> std::path::PathBuf {
    dir.join(class).join(format!("{key}_spectrogram_{}.png", DURATIONS[slot]))
}

/// Synthetic: two complete glitches (H1_g0, H1_g1) of 1080Lines, Blip and Whistle, as plot areas.
/// Real, in two source folders: Blip as full plots; Whistle as one glitch with a corrupt 4 s view (L1_w0) and
/// one with two views (L1_w1); an `Unlabeled` folder. No other class has any example.
fn make_data(root: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let synthetic = root.join("synthetic");
    for class in ["1080Lines", "Blip", "Whistle"] {
        let c = O1_CLASSES.iter().position(|n| *n == class).expect("an O1 class");
        for glitch in 0..2 {
            for slot in 0..4 {
                let path = view_path(&synthetic, class, &format!("H1_g{glitch}"), slot);
                save(&plot_area(colour(Side::Synthetic, c, glitch, slot)), &path);
            }
        }
    }
    let real = root.join("real");
    for slot in 0..4 {
        save(&full_plot(colour(Side::Real, 3, 0, slot)), &view_path(&real.join("plots"), "Blip", "H1_b0", slot));
    }
    let crops = real.join("crops");
    for slot in 0..3 {
        save(&plot_area(colour(Side::Real, 21, 0, slot)), &view_path(&crops, "Whistle", "L1_w0", slot));
    }
    std::fs::write(view_path(&crops, "Whistle", "L1_w0", 3), b"not a picture").expect("written");
    for slot in [0, 3] {
        save(&plot_area(colour(Side::Real, 21, 1, slot)), &view_path(&crops, "Whistle", "L1_w1", slot));
    }
    save(&plot_area(Rgb([9, 9, 9])), &crops.join("Unlabeled/H1_u_spectrogram_1.0.png"));
    (synthetic, real)
}

/// Every pixel of the `width` x `height` box at `(x, y)` has `expected`.
fn box_is(image: &RgbImage, (x, y): (u32, u32), (width, height): (u32, u32), expected: Rgb<u8>) -> bool {
    (y..y + height).all(|yy| (x..x + width).all(|xx| *image.get_pixel(xx, yy) == expected))
}

fn build_small(root: &Path, seed: u64) -> Gallery {
    let (synthetic, real) = make_data(root);
    build(&synthetic, &real, &GalleryOptions { thumb_height: 48, seed }).expect("gallery builds")
}

#[test]
fn every_cell_shows_its_own_input_cropped_like_the_network_sees_it() {
    let root = tempfile::tempdir().expect("temp dir");
    let gallery = build_small(root.path(), 7);
    let g = gallery.geometry;
    let thumb = (thumb_width(48), 48);
    assert_eq!((g.thumb_width, g.thumb_height), thumb);
    assert_eq!(gallery.image.dimensions(), g.size());
    assert_eq!(gallery.rows.len(), 22);
    assert!(g.size().1 >= 22 * 48 + 21 * g.gap, "22 rows of 48 px fit: {:?}", g.size());

    for (r, row) in gallery.rows.iter().enumerate() {
        assert_eq!(row.class, O1_CLASSES[r], "rows in O1_CLASSES order");
        for side in Side::ALL {
            let Some(shown) = &row.sides[side.index()] else { continue };
            let glitch: usize = shown.key[shown.key.len() - 1..].parse().expect("key ends in the glitch number");
            for slot in 0..4 {
                let cell = g.cell(r, side, slot);
                if shown.views[slot].is_none() {
                    continue;
                }
                // The whole cell is the input's colour: no frame line, no white margin, no axis survived.
                let expected = colour(side, r, glitch, slot);
                assert!(box_is(&gallery.image, cell, thumb, expected), "{} {} slot {slot}", row.class, side.name());
                // The cell is exactly thumb-sized: the gap to its right and below is background.
                assert_eq!(*gallery.image.get_pixel(cell.0 + thumb.0, cell.1), Rgb([255, 255, 255]));
                assert_eq!(*gallery.image.get_pixel(cell.0, cell.1 + thumb.1), Rgb([255, 255, 255]));
            }
        }
    }

    let shown = |class: &str, side: Side| {
        let r = O1_CLASSES.iter().position(|n| *n == class).expect("an O1 class");
        gallery.rows[r].sides[side.index()]
            .as_ref()
            .map(|s| (s.source.clone(), s.key.clone(), s.views.iter().flatten().count()))
    };
    assert_eq!(shown("Blip", Side::Real), Some(("plots".into(), "H1_b0".into(), 4)));
    // L1_w0 ranks first (four named views); its 4 s file is broken, and L1_w1 has only two: L1_w0's three win.
    assert_eq!(shown("Whistle", Side::Real), Some(("crops".into(), "L1_w0".into(), 3)));
    assert_eq!(shown("Blip", Side::Synthetic).map(|s| s.2), Some(4));
    assert_eq!(shown("Tomte", Side::Synthetic), None);
    assert_eq!(shown("Tomte", Side::Real), None);
    assert_eq!(gallery.ignored_classes, vec!["Unlabeled".to_string()]);
    assert_eq!(gallery.skipped.len(), 1, "{:?}", gallery.skipped);
    assert!(gallery.skipped[0].contains("L1_w0_spectrogram_4.0.png"), "{:?}", gallery.skipped);
}

#[test]
fn missing_classes_and_views_are_grey_and_text_is_drawn() {
    let root = tempfile::tempdir().expect("temp dir");
    let gallery = build_small(root.path(), 0);
    let g = gallery.geometry;
    let image = &gallery.image;
    let tomte = O1_CLASSES.iter().position(|n| *n == "Tomte").expect("an O1 class");
    let whistle = O1_CLASSES.iter().position(|n| *n == "Whistle").expect("an O1 class");
    // Corners of placeholder cells (the note is written in the middle).
    let corner = |(x, y): (u32, u32)| [(x, y), (x + g.thumb_width - 1, y + g.thumb_height - 1)];
    for side in Side::ALL {
        for slot in 0..4 {
            for (x, y) in corner(g.cell(tomte, side, slot)) {
                assert_eq!(*image.get_pixel(x, y), PLACEHOLDER, "Tomte {} slot {slot}", side.name());
            }
        }
    }
    for (x, y) in corner(g.cell(whistle, Side::Real, 3)) {
        assert_eq!(*image.get_pixel(x, y), PLACEHOLDER, "Whistle's broken 4 s view");
    }
    // Notes, class names and column headers leave dark pixels where they are written.
    let dark_in = |x0: u32, y0: u32, x1: u32, y1: u32| {
        (y0..y1).any(|y| (x0..x1).any(|x| image.get_pixel(x, y).0.iter().all(|&c| c < 128)))
    };
    let (nx, ny) = g.cell(tomte, Side::Real, 0);
    assert!(dark_in(nx, ny, nx + g.thumb_width * 4, ny + g.thumb_height), "no 'no real example' note");
    for r in 0..22 {
        let (_, y) = g.cell(r, Side::Synthetic, 0);
        assert!(dark_in(0, y, g.margin + g.label_width, y + g.thumb_height), "no class name in row {r}");
    }
    for side in Side::ALL {
        for slot in 0..4 {
            let (x, _) = g.cell(0, side, slot);
            assert!(dark_in(x, g.header_top, x + g.thumb_width, g.top), "no header over {} slot {slot}", side.name());
        }
    }
}

#[test]
fn the_seed_picks_among_equally_complete_glitches() {
    let root = tempfile::tempdir().expect("temp dir");
    let (synthetic, real) = make_data(root.path());
    let blip = O1_CLASSES.iter().position(|n| *n == "Blip").expect("an O1 class");
    let mut keys = std::collections::BTreeSet::new();
    for seed in 0..12 {
        let gallery = build(&synthetic, &real, &GalleryOptions { thumb_height: 32, seed }).expect("gallery builds");
        let again = build(&synthetic, &real, &GalleryOptions { thumb_height: 32, seed }).expect("gallery builds");
        assert_eq!(gallery.image, again.image, "seed {seed} gives one picture");
        keys.insert(gallery.rows[blip].sides[0].as_ref().map(|s| s.key.clone()).expect("a synthetic Blip"));
    }
    assert_eq!(keys.len(), 2, "both synthetic Blips are shown for some seed: {keys:?}");
}

#[test]
fn palette_png_round_trips_closely() {
    let root = tempfile::tempdir().expect("temp dir");
    let gallery = build_small(root.path(), 1);
    let path = root.path().join("out/gallery.png");
    let error = save_indexed_png(&gallery.image, &path).expect("written");
    let back = image::open(&path).expect("readable PNG").to_rgb8();
    assert_eq!(back.dimensions(), gallery.image.dimensions());
    let total: u64 = back.as_raw().iter().zip(gallery.image.as_raw()).map(|(a, b)| u64::from(a.abs_diff(*b))).sum();
    let mean = total as f64 / back.as_raw().len() as f64;
    assert!((mean - error.mean_abs).abs() < 1e-9, "reported error {} is the real one {mean}", error.mean_abs);
    assert!(mean < 2.0, "mean error {mean}");
}

#[test]
fn missing_data_folder_is_a_clear_error() {
    let root = tempfile::tempdir().expect("temp dir");
    let (synthetic, _) = make_data(root.path());
    let missing = root.path().join("nowhere");
    let error = build(&synthetic, &missing, &GalleryOptions { thumb_height: 48, seed: 0 }).err().expect("refused");
    let text = format!("{error:#}");
    assert!(text.contains("real") && text.contains("nowhere"), "{text}");
}

#[test]
fn thumbnails_keep_the_plot_area_aspect() {
    let (w, h) = (PLOT_BOX.x1 - PLOT_BOX.x0, PLOT_BOX.y1 - PLOT_BOX.y0);
    for height in [32, 48, 96, 480] {
        let width = thumb_width(height);
        assert!((f64::from(width) / f64::from(height) - f64::from(w) / f64::from(h)).abs() < 1.0 / f64::from(height));
    }
}
