//! `glitchscope synth`: a synthetic Gravity-Spy-like data set, laid out exactly like the real one:
//! `<out>/<Class>/<IFO>_<id>_spectrogram_<dur>.png` for the four views, plus `<out>/synth.json` with the
//! parameters of every glitch. Each glitch is a block of strain from [`crate::synth`], Q-transformed once
//! (gwpy's transform, Gravity Spy's parameters) and rendered at 0.5, 1, 2 and 4 s, in one of the picture kinds of
//! [`super::synth_picture`] (`.jpg` for O2 subjects).

use super::synth_picture::{Format, PictureKind};
use crate::synth::{self, GlitchParams, SynthConfig};
use anyhow::{Context, Result, bail};
use clap::Args;
use glitchscope::labels::O1_CLASSES;
use glitchscope::spectrogram::render::{self, RenderOptions};
use glitchscope::spectrogram::{QParams, QTransformer};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Gravity Spy's four views: duration in seconds and its spelling in file names.
const VIEWS: [(f64, &str); 4] = [(0.5, "0.5"), (1.0, "1.0"), (2.0, "2.0"), (4.0, "4.0")];

#[derive(Args, Debug)]
pub struct SynthArgs {
    /// Output folder (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Glitches per class.
    #[arg(long)]
    pub per_class: u64,
    /// Seed; with the class and the glitch index it fixes everything about a glitch.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Comma-separated class names (default: all 22 Gravity Spy O1 classes). The later classes
    /// Blip_Low_Frequency, Fast_Scattering, 70HZLINE and HIGHFREQUENCYBURST are made only when named (for the
    /// unseen-class benchmark; never train on them).
    #[arg(long, value_delimiter = ',')]
    pub classes: Vec<String>,
    /// Picture format.
    #[arg(long, value_enum, default_value_t = Format::Crop)]
    pub format: Format,
    /// Worker threads (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Index of the first glitch of each class: lets a set grow, or be split over machines, without overlap.
    #[arg(long, default_value_t = 0)]
    pub first_index: u64,
    /// Put a share of the glitches in real detector noise: a DeepExtractor-style .npz of real O3 strain
    /// segments (../shared/data/strain/o3_glitches_deepextractor/glitch_dict_example.npz).
    #[arg(long)]
    pub real_noise: Option<PathBuf>,
    /// Share of glitches in real noise when --real-noise is given.
    #[arg(long, default_value_t = 0.5)]
    pub real_noise_share: f64,
}

/// One line of synth.json: the generator's parameters plus what the Q-transform measured.
#[derive(Serialize)]
struct GlitchRecord {
    #[serde(flatten)]
    params: GlitchParams,
    /// The four PNGs, relative to the output folder.
    files: Vec<String>,
    /// Time span holding 90 % of the glitch's energy (s), measured on the drawn waveform.
    energy_span_90_s: f64,
    /// Q of the plane gwpy's search kept.
    q_plane: f64,
    /// Loudest tile in the search window: normalised energy, its SNR √(2E), time from the trigger, frequency.
    peak_energy: f32,
    peak_snr: f64,
    peak_time_s: f64,
    peak_frequency_hz: f64,
}

/// synth.json: how the set was made, then every glitch.
#[derive(Serialize)]
struct SynthManifest<'a> {
    generator: &'static str,
    seed: u64,
    per_class: u64,
    first_index: u64,
    format: Format,
    #[serde(skip_serializing_if = "Option::is_none")]
    real_noise: Option<serde_json::Value>,
    classes: &'a [String],
    config: &'a SynthConfig,
    views_s: Vec<f64>,
    glitches: Vec<GlitchRecord>,
}

pub fn run(args: SynthArgs) -> Result<()> {
    let classes = resolve_classes(&args.classes)?;
    if args.per_class == 0 {
        bail!("--per-class must be at least 1");
    }
    if args.threads == Some(0) {
        bail!("--threads must be at least 1");
    }
    for class in &classes {
        let dir = args.out.join(class);
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create output folder {}", dir.display()))?;
    }
    let config = SynthConfig::default();
    let real = match &args.real_noise {
        Some(path) => {
            let real = synth::real_noise::RealNoise::load_npz(path, config.sample_rate, args.real_noise_share)?;
            eprintln!("real noise: {} windows of {} s from {}", real.windows.len(), synth::real_noise::WINDOW_S, path.display());
            Some(real)
        }
        None => None,
    };
    let jobs: Vec<(&str, u64)> = classes
        .iter()
        .flat_map(|c| (args.first_index..args.first_index + args.per_class).map(move |i| (c.as_str(), i)))
        .collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads.unwrap_or(0))
        .build()
        .context("cannot start the worker threads")?;
    let bar = ProgressBar::new(jobs.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} glitches ({per_sec}, eta {eta})")
            .context("progress bar template")?
            .progress_chars("=> "),
    );
    let started = Instant::now();
    // Results come back in job order whatever the scheduling, and each glitch has its own random stream,
    // so the files and synth.json are the same for any --threads.
    let records: Vec<Result<GlitchRecord>> = pool.install(|| {
        jobs.par_iter()
            .map_init(QTransformer::new, |transformer, &(class, index)| {
                let record = make_glitch(transformer, class, args.seed, index, &config, real.as_ref(), args.format, &args.out);
                bar.inc(1);
                record
            })
            .collect()
    });
    bar.finish_and_clear();
    let glitches = records.into_iter().collect::<Result<Vec<_>>>()?;
    let seconds = started.elapsed().as_secs_f64();

    let manifest = SynthManifest {
        generator: concat!("glitchscope synth ", env!("CARGO_PKG_VERSION")),
        seed: args.seed,
        per_class: args.per_class,
        first_index: args.first_index,
        format: args.format,
        real_noise: args.real_noise.as_ref().map(|p| serde_json::json!({ "file": p.display().to_string(), "share": args.real_noise_share })),
        classes: &classes,
        config: &config,
        views_s: VIEWS.iter().map(|(d, _)| *d).collect(),
        glitches,
    };
    let json_path = args.out.join("synth.json");
    let json = serde_json::to_string_pretty(&manifest).context("cannot serialise synth.json")?;
    std::fs::write(&json_path, json).with_context(|| format!("cannot write {}", json_path.display()))?;
    let n = manifest.glitches.len();
    eprintln!(
        "wrote {n} glitches ({} pictures) to {} in {seconds:.1} s: {:.2} glitches/s on {} threads",
        4 * n,
        args.out.display(),
        n as f64 / seconds,
        pool.current_num_threads()
    );
    Ok(())
}

/// The classes to make: the 22 O1 classes when none is named, else the named ones (checked, duplicates
/// dropped). Later classes (Blip_Low_Frequency, Fast_Scattering, ...) are made only when named: they are the
/// unseen-class benchmark's, and no default training set holds them.
fn resolve_classes(named: &[String]) -> Result<Vec<String>> {
    if named.is_empty() {
        return Ok(O1_CLASSES.iter().map(|c| c.to_string()).collect());
    }
    let mut classes: Vec<String> = Vec::new();
    for name in named.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
        let later = synth::later::LATER_CLASSES.iter().any(|(c, _)| *c == name);
        if !O1_CLASSES.contains(&name) && !later {
            bail!(
                "unknown class '{name}' in --classes (expected some of: {}; or a later class, never trained on: {})",
                O1_CLASSES.join(", "),
                synth::later::LATER_CLASSES.map(|(c, _)| c).join(", ")
            );
        }
        if !classes.iter().any(|c| c == name) {
            classes.push(name.to_string());
        }
    }
    if classes.is_empty() {
        bail!("--classes names no class");
    }
    Ok(classes)
}

/// Generates one glitch, Q-transforms it once and writes its four views.
#[allow(clippy::too_many_arguments)]
fn make_glitch(
    transformer: &mut QTransformer,
    class: &str,
    seed: u64,
    index: u64,
    config: &SynthConfig,
    real: Option<&synth::real_noise::RealNoise>,
    format: Format,
    out: &Path,
) -> Result<GlitchRecord> {
    let glitch = synth::generate_with(class, seed, index, config, real)?;
    let energy_span_90_s = glitch.energy_span_s(0.9);
    let p = glitch.params;
    let scan = transformer
        .transform(&glitch.strain, p.sample_rate, p.center_s, &QParams::default())
        .with_context(|| format!("Q-transform of {class} glitch {index} failed"))?;
    let options = RenderOptions::default();
    let kind = PictureKind::choose(format, seed, class, index);
    let mut files = Vec::with_capacity(VIEWS.len());
    for (duration, label) in VIEWS {
        let image = if kind.is_full_figure() {
            render::render_full_figure(&scan, p.center_s, duration, &options)
        } else {
            render::render_plot_area(&scan, p.center_s, duration, &options)
        }
        .with_context(|| format!("cannot render the {label} s view of {class} glitch {index}"))?;
        let name = format!("{class}/{}_{}_spectrogram_{label}.{}", p.ifo, p.id, kind.extension());
        kind.save(&image, &out.join(&name))?;
        files.push(name);
    }
    let peak = scan.peak();
    Ok(GlitchRecord {
        energy_span_90_s,
        q_plane: scan.q(),
        peak_energy: peak.energy,
        peak_snr: peak.snr,
        peak_time_s: peak.time - p.center_s,
        peak_frequency_hz: peak.frequency,
        params: p,
        files,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Width and height from a PNG's IHDR chunk.
    fn png_size(path: &Path) -> (u32, u32) {
        let bytes = std::fs::read(path).unwrap();
        assert_eq!(&bytes[1..4], b"PNG", "{} is not a PNG", path.display());
        let be = |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        (be(16), be(20))
    }

    fn args(out: &Path, classes: &[&str], format: Format, threads: usize) -> SynthArgs {
        SynthArgs {
            out: out.to_path_buf(),
            per_class: 2,
            seed: 5,
            classes: classes.iter().map(|c| c.to_string()).collect(),
            format,
            threads: Some(threads),
            first_index: 0,
            real_noise: None,
            real_noise_share: 0.5,
        }
    }

    #[test]
    fn classes_default_to_all_and_are_checked() {
        assert_eq!(resolve_classes(&[]).unwrap().len(), O1_CLASSES.len());
        let picked = resolve_classes(&["Blip".into(), " Whistle".into(), "Blip".into()]).unwrap();
        assert_eq!(picked, vec!["Blip".to_string(), "Whistle".to_string()]);
        let err = resolve_classes(&["Blip".into(), "Crown".into()]).unwrap_err().to_string();
        assert!(err.contains("Crown") && err.contains("Scattered_Light"), "{err}");
    }

    #[test]
    fn writes_the_gravity_spy_layout_and_manifest_the_same_for_any_thread_count() {
        let (dir_one, dir_two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (one, two) = (dir_one.path(), dir_two.path());
        run(args(one, &["Blip", "Whistle"], Format::Crop, 1)).unwrap();
        run(args(two, &["Blip", "Whistle"], Format::Crop, 2)).unwrap();

        let manifest: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(one.join("synth.json")).unwrap()).unwrap();
        let glitches = manifest["glitches"].as_array().unwrap();
        assert_eq!(glitches.len(), 4);
        for g in glitches {
            let class = g["class"].as_str().unwrap();
            let (ifo, id) = (g["ifo"].as_str().unwrap(), g["id"].as_str().unwrap());
            assert!(ifo == "H1" || ifo == "L1");
            assert!(g["snr"].as_f64().unwrap() > 0.0);
            let files: Vec<&str> = g["files"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
            let expected: Vec<String> =
                ["0.5", "1.0", "2.0", "4.0"].iter().map(|d| format!("{class}/{ifo}_{id}_spectrogram_{d}.png")).collect();
            assert_eq!(files, expected);
            for f in files {
                assert_eq!(png_size(&one.join(f)), (569, 479), "{f}");
                assert_eq!(std::fs::read(one.join(f)).unwrap(), std::fs::read(two.join(f)).unwrap(), "{f} depends on threads");
            }
        }
        assert_eq!(
            std::fs::read(one.join("synth.json")).unwrap(),
            std::fs::read(two.join("synth.json")).unwrap(),
            "synth.json depends on the thread count"
        );
    }

    #[test]
    fn full_format_writes_800_by_600_figures() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path();
        let mut a = args(out, &["Power_Line"], Format::Full, 1);
        a.per_class = 1;
        run(a).unwrap();
        let manifest: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("synth.json")).unwrap()).unwrap();
        for f in manifest["glitches"][0]["files"].as_array().unwrap() {
            assert_eq!(png_size(&out.join(f.as_str().unwrap())), (800, 600));
        }
    }

    #[test]
    fn mixed_format_writes_every_kind_readable_at_its_real_size() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path();
        let mut a = args(out, &["Blip"], Format::Mixed, 2);
        a.per_class = 16;
        run(a).unwrap();
        let manifest: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("synth.json")).unwrap()).unwrap();
        let mut sizes = std::collections::BTreeSet::new();
        for g in manifest["glitches"].as_array().unwrap() {
            let files: Vec<&str> = g["files"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
            let ext = files[0].rsplit('.').next().unwrap();
            assert!(files.iter().all(|f| f.ends_with(ext)), "one kind per glitch: {files:?}");
            for f in files {
                let picture = image::open(out.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
                let size = (picture.width(), picture.height());
                let expected: &[(u32, u32)] = if ext == "jpg" { &[(800, 600), (600, 450)] } else { &[(569, 479), (800, 600)] };
                assert!(expected.contains(&size), "{f}: {size:?}");
                sizes.insert((ext.to_string(), size));
            }
        }
        assert!(sizes.len() >= 3, "16 glitches should show at least three of the four kinds: {sizes:?}");
    }

    #[test]
    fn bad_arguments_are_refused_before_any_work() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("set");
        let mut a = args(&out, &["Blip"], Format::Crop, 1);
        a.per_class = 0;
        assert!(run(a).unwrap_err().to_string().contains("--per-class"));
        assert!(run(args(&out, &["Blip"], Format::Crop, 0)).unwrap_err().to_string().contains("--threads"));
        assert!(!out.exists(), "nothing may be written when the arguments are bad");
    }
}
