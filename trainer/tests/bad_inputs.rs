//! Issue 7, hardening: the real CLI over the bad-input corpus (`examples/bad_inputs`, the same code as
//! `scripts/make-bad-inputs.sh`). Every bad file gets a clear message naming it, the good files of the same
//! batch are still classified, broken models and strain are refused without a panic, and the peak memory of the
//! classify run is measured and bounded.

#[path = "../examples/bad_inputs/corpus.rs"]
#[allow(dead_code)]
mod corpus;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use corpus::{Command as Cmd, Entry};

const BIN: &str = env!("CARGO_BIN_EXE_glitchscope");

/// Peak RSS over a classify run must stay under this. Measured 114-130 MiB (2026-12-04) and 90 MiB (2026-12-07,
/// with the reference set the vote loads); a 50 MiB file is in the batch. About twice the highest measurement:
/// reading that file twice over, or decoding the 30000x30000 bomb's header into pixels, would cross it.
const MAX_PEAK_KIB: u64 = 256 * 1024;

fn cli(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("the glitchscope binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_no_panic(what: &str, out: &Output) {
    let stderr = text(&out.stderr);
    assert!(!stderr.contains("panicked"), "{what} panicked:\n{stderr}");
}

/// Runs the CLI and returns its output with its peak resident memory in KiB: from `/usr/bin/time -v` when
/// present, else by polling the child's `VmHWM` (a high-water mark, so polling cannot miss the peak by much).
fn cli_with_peak_rss(args: &[&str], tmp: &Path) -> (Output, u64) {
    let time = Path::new("/usr/bin/time");
    if time.is_file() {
        let report = tmp.join("time.txt");
        let mut full = vec!["-v", "-o", report.to_str().expect("utf-8 temp path"), BIN];
        full.extend_from_slice(args);
        let out = Command::new(time).args(&full).output().expect("/usr/bin/time runs");
        let report = std::fs::read_to_string(&report).expect("time report");
        let kib = report
            .lines()
            .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
            .and_then(|v| v.trim().parse().ok())
            .expect("peak RSS in the time report");
        return (out, kib);
    }
    let stdout = tmp.join("stdout.txt");
    let stderr = tmp.join("stderr.txt");
    let mut child = Command::new(BIN)
        .args(args)
        .stdout(std::fs::File::create(&stdout).expect("stdout file"))
        .stderr(std::fs::File::create(&stderr).expect("stderr file"))
        .spawn()
        .expect("the glitchscope binary runs");
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    let status = loop {
        if let Ok(s) = std::fs::read_to_string(&status_file) {
            let hwm = s
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok());
            peak = peak.max(hwm.unwrap_or(0));
        }
        if let Some(status) = child.try_wait().expect("waiting for the child") {
            break status;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    let out = Output {
        status,
        stdout: std::fs::read(stdout).unwrap_or_default(),
        stderr: std::fs::read(stderr).unwrap_or_default(),
    };
    (out, peak)
}

fn pngs_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable folder") {
        let path = entry.expect("folder entry").path();
        if path.is_dir() {
            pngs_under(&path, out);
        } else if path.extension().is_some_and(|e| e == "png") {
            out.push(path);
        }
    }
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

#[test]
fn cli_reports_every_bad_input_and_keeps_going() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path().join("corpus");
    let real = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/real"));
    let real = real.is_dir().then_some(real);
    if real.is_none() {
        println!("../shared/data/real is absent: the truncated files are cut from synthetic pictures");
    }
    let entries: Vec<Entry> = corpus::write_corpus(&dir, real).expect("corpus written");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).expect("manifest"))
            .expect("manifest is JSON");
    assert_eq!(manifest.as_array().map(Vec::len), Some(entries.len()));

    // Two good glitches' worth of pictures: one synthetic Blip (4 views).
    let good_dir = tmp.path().join("good");
    let synth = cli(&["synth", "--out", path_str(&good_dir), "--per-class", "1", "--seed", "1", "--classes", "Blip"]);
    assert!(synth.status.success(), "synth failed: {}", text(&synth.stderr));
    let mut good = Vec::new();
    pngs_under(&good_dir, &mut good);
    assert!(good.len() >= 2, "synth wrote {good:?}");
    let good_model = dir.join("models/good.json");

    classify_images(&dir, &entries, &good, &good_model, tmp.path());
    refuse_bad_strain(&dir, &entries, tmp.path());
    refuse_bad_models(&dir, &entries, &good[0]);
}

fn classify_images(dir: &Path, entries: &[Entry], good: &[PathBuf], model: &Path, tmp: &Path) {
    let images: Vec<&Entry> = entries.iter().filter(|e| e.command == Cmd::Classify).collect();
    let paths: Vec<String> = images
        .iter()
        .map(|e| path_str(&dir.join(&e.file)).to_string())
        .chain(good.iter().map(|p| path_str(p).to_string()))
        .collect();
    let mut args = vec!["classify", "--json", "--model", path_str(model)];
    args.extend(paths.iter().map(String::as_str));
    let (out, peak_kib) = cli_with_peak_rss(&args, tmp);
    println!(
        "classify over {} files ({} from the corpus): peak RSS {:.1} MiB",
        paths.len(),
        images.len(),
        peak_kib as f64 / 1024.0
    );
    assert_no_panic("classify", &out);
    assert!(out.status.success(), "classify must go on past bad files: {}", text(&out.stderr));
    assert!(peak_kib > 0 && peak_kib < MAX_PEAK_KIB, "peak RSS {peak_kib} KiB");

    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("classify --json prints JSON");
    let glitches = doc["glitches"].as_array().expect("glitches");
    // The glitch and view report of one file, found by its name.
    let find = |name: &str| {
        glitches
            .iter()
            .find_map(|g| g["views"].as_array()?.iter().find(|v| v["name"] == name).map(|v| (g, v)))
            .unwrap_or_else(|| panic!("{name} is missing from the output"))
    };
    for e in &images {
        let name = path_str(&dir.join(&e.file)).to_string();
        let (glitch, view) = find(&name);
        match e.expect.message_text() {
            None => {
                assert_eq!(view["ok"], true, "{} ({}) should be accepted: {view}", e.file, e.what);
                assert_eq!(glitch["prediction"]["top5"].as_array().map(Vec::len), Some(5), "{} not classified", e.file);
                // Pictures that are no viridis spectrogram get a class only with the warning that names them.
                if e.file.contains("grey") || e.file.contains("black") {
                    let w = glitch["warning"].as_str().unwrap_or_else(|| panic!("{}: no warning: {glitch}", e.file));
                    assert!(w.contains(&name) && w.contains("does not look like a Gravity Spy spectrogram"), "{w}");
                }
                println!(
                    "{:<28} ok: classified, top class {}{}",
                    e.file,
                    glitch["prediction"]["top5"][0]["label"],
                    glitch["warning"].as_str().map(|w| format!("; warning: {w}")).unwrap_or_default()
                );
            }
            Some(family) => {
                let error =
                    view["error"].as_str().unwrap_or_else(|| panic!("{} ({}) gave no error: {view}", e.file, e.what));
                assert_eq!(view["ok"], false);
                assert!(error.contains(&name), "the message must name the file: {error}");
                assert!(
                    error.to_lowercase().contains(family),
                    "{} ({}): expected {family:?} in {error:?}",
                    e.file,
                    e.what
                );
                println!("{:<28} {error}", e.file);
            }
        }
    }
    for p in good {
        let (glitch, view) = find(path_str(p));
        assert_eq!(view["ok"], true, "good picture refused: {view}");
        assert_eq!(glitch["prediction"]["top5"].as_array().map(Vec::len), Some(5), "good glitch not classified");
        assert!(glitch["warning"].is_null(), "a real Gravity Spy picture got a warning: {glitch}");
    }
}

fn refuse_bad_strain(dir: &Path, entries: &[Entry], tmp: &Path) {
    let out_npy = tmp.join("q.npy");
    let rate = corpus::STRAIN_RATE.to_string();
    let center = corpus::STRAIN_CENTER.to_string();
    for e in entries.iter().filter(|e| e.command == Cmd::Qtransform) {
        let strain = dir.join(&e.file);
        let out = cli(&[
            "qtransform",
            "--strain",
            path_str(&strain),
            "--sample-rate",
            &rate,
            "--center",
            &center,
            "--out",
            path_str(&out_npy),
        ]);
        let stderr = text(&out.stderr);
        assert_no_panic("qtransform", &out);
        assert!(!out.status.success(), "qtransform accepted {} ({})", e.file, e.what);
        assert!(stderr.contains(path_str(&strain)), "the message must name the file: {stderr}");
        let family = e.expect.message_text().expect("a bad strain has an error family");
        assert!(stderr.to_lowercase().contains(family), "{}: expected {family:?} in {stderr:?}", e.file);
        assert!(!out_npy.exists(), "qtransform wrote output for {}", e.file);
        println!("{:<28} {}", e.file, stderr.trim());
    }
}

fn refuse_bad_models(dir: &Path, entries: &[Entry], picture: &Path) {
    for e in entries.iter().filter(|e| e.command == Cmd::Model) {
        let card = dir.join(&e.file);
        let out = cli(&["classify", "--model", path_str(&card), path_str(picture)]);
        let stderr = text(&out.stderr);
        assert_no_panic("classify --model", &out);
        assert!(!out.status.success(), "classify accepted the model {} ({})", e.file, e.what);
        // The card, or for weights problems its weights file, is named.
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&card).expect("card")).expect("card is JSON");
        let weights = json["weights"]["file"].as_str().unwrap_or("?");
        assert!(
            stderr.contains(path_str(&card)) || stderr.contains(weights),
            "{}: the message must name the card or weights: {stderr}",
            e.file
        );
        let family = e.expect.message_text().expect("a bad model has an error family");
        assert!(stderr.to_lowercase().contains(family), "{}: expected {family:?} in {stderr:?}", e.file);
        println!("{:<28} {}", e.file, stderr.trim());
    }
}
