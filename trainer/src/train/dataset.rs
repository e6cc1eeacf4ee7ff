//! Labelled glitches on disk, in the Gravity Spy layout, and their preprocessed views in memory.
//!
//! A data folder is either a *class-level* folder (`DIR/<Class>/<IFO>_<id>_spectrogram_<dur>.png`: what
//! `glitchscope synth` writes) or a folder of such folders, one level deep (`shared/data/real/<source>/<Class>/`).
//! The sub-folder that holds class folders names the *source* (`o1_cropped`, `synth`, ...), so results can be
//! broken down per source. Views of one glitch are grouped by `<IFO>_<id>` with the library's
//! [`glitchscope::pipeline`] (the same grouping and preprocessing the CLI and the browser use).
//!
//! Everything is preprocessed once and kept as 8-bit CHW pixels (a quarter of the f32 size); the normalised
//! input is `(p - 127) / 128`, exactly what the preprocessing produced, so nothing is lost.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use glitchscope::pipeline::{self, NamedFile};
use glitchscope::preprocess::InputSpec;
use glitchscope::views::{self, Duration};

/// The file `glitchscope synth` writes into every data set it makes.
pub const SYNTH_MARKER: &str = "synth.json";

/// One glitch found on disk, before anything is decoded.
#[derive(Clone, Debug)]
pub struct GlitchFiles {
    /// `<IFO>_<id>`, or the file stem for names outside the Gravity Spy pattern.
    pub key: String,
    /// The class folder's name (the label as given; may be a class the model does not know).
    pub class: String,
    /// The folder the class folders sit in (e.g. `o1_cropped`, or the data folder's own name).
    pub source: String,
    /// The view files with their slot (0..4 for 0.5, 1, 2, 4 s; unknown durations take the 1 s slot).
    pub files: Vec<(usize, PathBuf)>,
    /// Made by `glitchscope synth` (its folder holds a synth.json), not a real Gravity Spy picture.
    pub synthetic: bool,
}

impl GlitchFiles {
    /// The key the train/validation split groups by: the same glitch in two folders stays on one side.
    pub fn split_key(&self) -> &str {
        split_key_of(&self.key)
    }

    /// One picture in the unknown-duration slot (`views::is_single_picture`): the card's single-picture
    /// temperature calibrates it.
    pub fn is_single_picture(&self) -> bool {
        let slots: Vec<usize> = self.files.iter().map(|f| f.0).collect();
        glitchscope::views::is_single_picture_slots(&slots)
    }
}

/// A glitch key up to its first " (": `pipeline::group_names` names a second glitch with the same key
/// "<key> (2)", and copies of one volunteer subject arrive as "<id> (копие)-0", "<id> (копие)-1", ...; all of
/// them are one glitch to the split (split.csv and the cv's predictions carry this key).
pub fn split_key_of(key: &str) -> &str {
    key.split(" (").next().unwrap_or(key)
}

/// A file that could not be used, with the reason.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Unreadable {
    pub path: String,
    pub reason: String,
}

fn has_images(dir: &Path) -> bool {
    std::fs::read_dir(dir).map(|entries| {
        entries.flatten().any(|e| e.path().is_file() && views::is_image_name(&e.file_name().to_string_lossy()))
    })
    .unwrap_or(false)
}

fn sorted_subdirs(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read data folder {}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    Ok(dirs)
}

fn name_of(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_else(|| path.display().to_string())
}

/// The class folders of one data folder, each with its source name.
fn class_folders(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    if !dir.is_dir() {
        bail!("data folder {} does not exist or is not a folder", dir.display());
    }
    let subdirs = sorted_subdirs(dir)?;
    if subdirs.iter().any(|s| has_images(s)) {
        let source = name_of(dir);
        return Ok(subdirs.into_iter().filter(|s| has_images(s)).map(|s| (source.clone(), s)).collect());
    }
    let mut out = Vec::new();
    for source_dir in subdirs {
        let source = name_of(&source_dir);
        for class_dir in sorted_subdirs(&source_dir)? {
            if has_images(&class_dir) {
                out.push((source.clone(), class_dir));
            }
        }
    }
    if out.is_empty() {
        bail!(
            "no class folders with images in {} (expected DIR/<Class>/<IFO>_<id>_spectrogram_<dur>.png, \
             or DIR/<source>/<Class>/...)",
            dir.display()
        );
    }
    Ok(out)
}

/// Find every glitch in the data folders, in a stable order (folder, class, key).
pub fn scan(dirs: &[PathBuf]) -> Result<Vec<GlitchFiles>> {
    let mut glitches = Vec::new();
    for dir in dirs {
        let synthetic = dir.join(SYNTH_MARKER).is_file();
        for (source, class_dir) in class_folders(dir)? {
            let class = name_of(&class_dir);
            let mut names: Vec<String> = std::fs::read_dir(&class_dir)
                .with_context(|| format!("cannot read {}", class_dir.display()))?
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file() && views::is_image_name(&p.to_string_lossy()))
                .map(|p| p.to_string_lossy().to_string())
                .collect();
            names.sort();
            for group in pipeline::group_names(&names) {
                let files = group
                    .files
                    .iter()
                    .map(|f| {
                        let slot = f
                            .duration
                            .and_then(|d| Duration::ALL.into_iter().find(|x| x.seconds() == d))
                            .unwrap_or(views::UNKNOWN_DURATION_SLOT)
                            .index();
                        (slot, PathBuf::from(&f.name))
                    })
                    .collect();
                glitches.push(GlitchFiles { key: group.key, class: class.clone(), source: source.clone(), files, synthetic });
            }
        }
    }
    Ok(glitches)
}

/// Preprocessed views of one glitch: 8-bit CHW pixels by slot.
pub type GlitchPixels = [Option<Vec<u8>>; 4];

/// `(p - 127) / 128` back to the pixel; exact because the division is by a power of two.
fn to_pixels(input: &[f32]) -> Vec<u8> {
    input.iter().map(|&x| (x * 128.0 + 127.0).round().clamp(0.0, 255.0) as u8).collect()
}

/// Pixels to the network input.
pub fn normalise(pixels: &[u8], out: &mut Vec<f32>) {
    out.extend(pixels.iter().map(|&p| (f32::from(p) - 127.0) / 128.0));
}

fn load_one(glitch: &GlitchFiles, slots: &[usize], spec: InputSpec) -> (Option<GlitchPixels>, Vec<Unreadable>) {
    let mut files = Vec::new();
    let mut bad = Vec::new();
    for (slot, path) in &glitch.files {
        if !slots.contains(slot) {
            continue;
        }
        match std::fs::read(path) {
            Ok(bytes) => files.push(NamedFile { name: path.to_string_lossy().to_string(), bytes }),
            Err(e) => bad.push(Unreadable { path: path.display().to_string(), reason: e.to_string() }),
        }
    }
    if files.is_empty() {
        return (None, bad);
    }
    let prepared = pipeline::prepare_glitch(&files, spec, false);
    for report in &prepared.reports {
        if let Some(error) = &report.error {
            bad.push(Unreadable { path: report.name.clone(), reason: error.clone() });
        }
    }
    let views = prepared.views.map(|v| v.map(|view| view.map(|input| to_pixels(&input))));
    (views, bad)
}

/// Decode and preprocess every glitch's views (only `slots`), on all cores. `None` for a glitch none of whose
/// views could be read; every unreadable file is listed with its reason.
pub fn load_pixels(
    glitches: &[GlitchFiles],
    slots: &[usize],
    spec: InputSpec,
    progress: &indicatif::ProgressBar,
) -> (Vec<Option<GlitchPixels>>, Vec<Unreadable>) {
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).max(1);
    let chunk = glitches.len().div_ceil(threads).max(1);
    let results: Vec<Vec<(Option<GlitchPixels>, Vec<Unreadable>)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = glitches
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|g| {
                            let r = load_one(g, slots, spec);
                            progress.inc(1);
                            r
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Vec::new()))
            .collect()
    });
    let mut pixels = Vec::with_capacity(glitches.len());
    let mut unreadable = Vec::new();
    for (views, bad) in results.into_iter().flatten() {
        pixels.push(views);
        unreadable.extend(bad);
    }
    // A worker that panicked would leave the list short: say so rather than misalign glitches and labels.
    if pixels.len() != glitches.len() {
        unreadable.push(Unreadable { path: "(several files)".into(), reason: "a preprocessing worker failed".into() });
        pixels.resize(glitches.len(), None);
    }
    (pixels, unreadable)
}

/// Augmented copies of a glitch's views: per slot, `copies` inputs (8-bit CHW pixels) made from the decoded
/// picture by [`domain::augmented_input`]. Each view has its own generator, seeded from (seed, glitch key,
/// slot), so the copies do not depend on threads or on the other glitches. Unreadable views get none (the
/// plain loading reports them).
pub fn load_copies(
    glitches: &[GlitchFiles],
    slots: &[usize],
    spec: InputSpec,
    copies: usize,
    domain: &super::domain::DomainConfig,
    seed: u64,
) -> Vec<[Vec<Vec<u8>>; 4]> {
    use rand::SeedableRng;
    use sha2::{Digest, Sha256};
    let one = |g: &GlitchFiles| -> [Vec<Vec<u8>>; 4] {
        let mut out: [Vec<Vec<u8>>; 4] = Default::default();
        if copies == 0 {
            return out;
        }
        for (slot, path) in &g.files {
            if !slots.contains(slot) || !out[*slot].is_empty() {
                continue;
            }
            let Ok(bytes) = std::fs::read(path) else { continue };
            let Ok(picture) = glitchscope::preprocess::decode_rgb(&bytes, &Default::default()) else { continue };
            let digest = Sha256::new().chain_update(seed.to_le_bytes()).chain_update(g.key.as_bytes()).chain_update([*slot as u8]).finalize();
            let mut rng = chacha20::ChaCha8Rng::from_seed(digest.into());
            out[*slot] = (0..copies).map(|_| to_pixels(&super::domain::augmented_input(&picture, spec, domain, &mut rng))).collect();
        }
        out
    };
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).max(1);
    let chunk = glitches.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> =
            glitches.chunks(chunk).map(|part| scope.spawn(move || part.iter().map(one).collect::<Vec<_>>())).collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_png(path: &Path, shade: u8) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        image::RgbImage::from_pixel(64, 48, image::Rgb([shade, 10, 200])).save(path).unwrap();
    }

    #[test]
    fn scans_both_layouts_and_groups_views() {
        let root = tempfile::tempdir().unwrap();
        let flat = root.path().join("synth");
        write_png(&flat.join("Blip/H1_a_spectrogram_0.5.png"), 1);
        write_png(&flat.join("Blip/H1_a_spectrogram_4.0.png"), 2);
        write_png(&flat.join("Whistle/L1_b_spectrogram_1.0.png"), 3);
        let nested = root.path().join("real");
        write_png(&nested.join("o2/Koi_Fish/0c96b127.png"), 4);
        std::fs::write(nested.join("o2/Koi_Fish/broken_spectrogram_1.0.png"), b"nope").unwrap();
        let found = scan(&[flat, nested]).unwrap();
        let summary: Vec<(String, String, String, usize)> =
            found.iter().map(|g| (g.source.clone(), g.class.clone(), g.key.clone(), g.files.len())).collect();
        assert_eq!(
            summary,
            vec![
                ("synth".into(), "Blip".into(), "H1_a".into(), 2),
                ("synth".into(), "Whistle".into(), "L1_b".into(), 1),
                ("o2".into(), "Koi_Fish".into(), "0c96b127".into(), 1),
                ("o2".into(), "Koi_Fish".into(), "broken_spectrogram_1.0".into(), 1),
            ]
        );
        assert_eq!(found[0].files.iter().map(|f| f.0).collect::<Vec<_>>(), vec![0, 3]);
        assert_eq!(found[2].files[0].0, 1, "a name without duration takes the 1 s slot");

        let spec = InputSpec { height: 32, width: 40 };
        let bar = indicatif::ProgressBar::hidden();
        let (pixels, bad) = load_pixels(&found, &[0, 1, 2, 3], spec, &bar);
        assert!(pixels[0].as_ref().is_some_and(|v| v[0].is_some() && v[3].is_some() && v[1].is_none()));
        assert_eq!(pixels[0].as_ref().unwrap()[0].as_ref().unwrap().len(), 3 * 32 * 40);
        assert!(pixels[3].is_none(), "the broken file gives no glitch");
        assert_eq!(bad.len(), 1);
        assert!(bad[0].path.ends_with("broken_spectrogram_1.0.png"), "{:?}", bad[0]);

        // Only the requested slots are decoded.
        let (pixels, _) = load_pixels(&found, &[3], spec, &bar);
        assert!(pixels[0].as_ref().is_some_and(|v| v[0].is_none() && v[3].is_some()));
        assert!(pixels[1].is_none(), "a glitch without the requested view is dropped");
    }

    #[test]
    fn missing_folder_is_an_error_naming_it() {
        let e = scan(&[PathBuf::from("/nonexistent/data")]).unwrap_err().to_string();
        assert!(e.contains("/nonexistent/data"), "{e}");
    }

    #[test]
    fn pixels_round_trip_exactly() {
        let input: Vec<f32> = (0..=255u8).map(|p| (f32::from(p) - 127.0) / 128.0).collect();
        let pixels = to_pixels(&input);
        let mut back = Vec::new();
        normalise(&pixels, &mut back);
        assert_eq!(back, input);
    }
}
