//! Shared by the `train_*` tests: a small labelled data set made on the spot, and running the CLI.
//!
//! Four classes with distinct shapes (a blob, a rising line, a flat line, an arch) on a noisy dark
//! background, two views per glitch, in the Gravity Spy layout. Pictures of this size are "other" pictures
//! to the preprocessing (taken whole, resized to the network input).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rand::{RngExt, SeedableRng};

pub const CLASSES: [&str; 4] = ["Blip", "Whistle", "Power_Line", "Scattered_Light"];

/// The CLI built by cargo for these tests.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_glitchscope"))
}

/// Draw one view of a glitch of `class`, with its own noise and jitter.
fn picture(class: usize, rng: &mut chacha20::ChaCha8Rng) -> image::RgbImage {
    let (w, h) = (100u32, 80u32);
    let jx = rng.random_range(-6i32..=6);
    let jy = rng.random_range(-5i32..=5);
    image::RgbImage::from_fn(w, h, |x, y| {
        let (x, y) = (x as i32, y as i32);
        let on = match class {
            0 => (x - 50 - jx).pow(2) + (y - 40 - jy).pow(2) < 90,
            1 => ((y - (70 - (x * 6) / 10) - jy).abs()) < 3,
            2 => (y - 55 - jy).abs() < 3,
            _ => {
                let dx = (x - 50 - jx) as f32 / 35.0;
                ((y as f32) - (40.0 + jy as f32 + 30.0 * dx * dx)).abs() < 3.0
            }
        };
        let noise = rng.random_range(0u8..40);
        if on { image::Rgb([250, 230, 30u8.saturating_add(noise)]) } else { image::Rgb([40 + noise, noise / 2, 80 + noise]) }
    })
}

/// `per_class` glitches of each class under `dir/<Class>/`, views 0.5 s and 1.0 s.
pub fn make_dataset(dir: &Path, per_class: usize, seed: u64) {
    let mut rng = chacha20::ChaCha8Rng::seed_from_u64(seed);
    for (c, class) in CLASSES.iter().enumerate() {
        let folder = dir.join(class);
        std::fs::create_dir_all(&folder).unwrap();
        for g in 0..per_class {
            for duration in ["0.5", "1.0"] {
                let name = format!("H1_{class}{g:03}_spectrogram_{duration}.png");
                picture(c, &mut rng).save(folder.join(name)).unwrap();
            }
        }
    }
}

/// Options every test run shares: a small scratch network at a small input, fast to train on 2 cores.
pub fn small_run_args(data: &Path, out: &Path) -> Vec<String> {
    [
        "train", "--data", &data.display().to_string(), "--out", &out.display().to_string(),
        "--init", "scratch", "--backbone", "lite0", "--height", "64", "--width", "80",
        "--batch-size", "8", "--valid-fraction", "0.25", "--seed", "7",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Run the CLI and return its output; panics with stdout and stderr when it fails.
pub fn run_ok(args: &[String]) -> Output {
    let output = Command::new(bin()).args(args).output().expect("the glitchscope binary runs");
    assert!(
        output.status.success(),
        "glitchscope {} failed\nstdout:\n{}\nstderr:\n{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// One row of history.csv.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct Row {
    pub epoch: usize,
    pub train_loss: Option<f64>,
    pub train_top1: Option<f64>,
    pub valid_loss: Option<f64>,
    pub valid_top1: Option<f64>,
}

pub fn history(run: &Path) -> Vec<Row> {
    let mut reader = csv::Reader::from_path(run.join("history.csv")).expect("history.csv exists");
    reader.deserialize().map(|r| r.expect("a history row")).collect()
}

pub fn card(run: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(run.join("model.json")).expect("model.json exists");
    serde_json::from_str(&text).expect("model.json is JSON")
}
