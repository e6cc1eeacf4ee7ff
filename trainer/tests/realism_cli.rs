//! `glitchscope realism` on embeddings with a known answer: synthetic and real "Blip" drawn from the same
//! Gaussian blob, synthetic and real "Whistle" from two different blobs. Blip must come out realistic and
//! Whistle not, the sim-to-real recall and a baseline must appear beside the measures, and bad inputs must
//! give errors naming the file.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use glitchscope::discovery::synthetic::gaussian_blobs;

const PER_BLOB: usize = 80;
const DIM: usize = 32;

fn run(args: &[&str]) -> Output {
    Command::new(PathBuf::from(env!("CARGO_BIN_EXE_glitchscope"))).args(args).output().expect("the glitchscope binary runs")
}

/// Rows `(blob, first or second half of its points)` as an embeddings CSV with the given class label.
fn write(path: &Path, rows: &[(usize, bool, &str)]) {
    let (data, truth) = gaussian_blobs(3, PER_BLOB, DIM, 0.7, 5).unwrap();
    let mut text = String::from("key,label,predicted,probability");
    for d in 0..DIM {
        text += &format!(",e{d}");
    }
    text += "\n";
    for &(blob, first_half, label) in rows {
        let members: Vec<usize> = (0..truth.len()).filter(|&i| truth[i] == blob).collect();
        let half = if first_half { &members[..PER_BLOB / 2] } else { &members[PER_BLOB / 2..] };
        for &i in half {
            text += &format!("H1_{label}{i:03},{label},{label},0.9");
            for v in data.row(i) {
                text += &format!(",{v}");
            }
            text += "\n";
        }
    }
    std::fs::write(path, text).unwrap();
}

fn class<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["classes"].as_array().unwrap().iter().find(|c| c["class"] == name).unwrap_or_else(|| panic!("no {name} in {report}"))
}

#[test]
fn realistic_and_unrealistic_classes_are_told_apart() {
    let tmp = tempfile::tempdir().unwrap();
    let (syn, real, out) = (tmp.path().join("syn.csv"), tmp.path().join("real.csv"), tmp.path().join("out"));
    write(&syn, &[(0, true, "Blip"), (1, true, "Whistle")]);
    write(&real, &[(0, false, "Blip"), (2, false, "Whistle")]);
    let eval = tmp.path().join("eval.json");
    std::fs::write(&eval, r#"{"per_class": {"Blip": {"recall": 90.0}, "Whistle": {"recall": 10.0}}}"#).unwrap();
    let s = |p: &Path| p.display().to_string();
    let args = ["realism", "--synthetic", &s(&syn), "--real", &s(&real), "--sim-to-real", &s(&eval), "--out", &s(&out), "--components", "8"];
    let first = run(&args);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("realism.json")).unwrap()).unwrap();
    let (blip, whistle) = (class(&report, "Blip"), class(&report, "Whistle"));
    let f = |c: &serde_json::Value, k: &str| c[k].as_f64().unwrap_or_else(|| panic!("{k} missing in {c}"));
    assert!(f(whistle, "frechet") > 10.0 * f(blip, "frechet"), "Fréchet: Blip {blip}, Whistle {whistle}");
    assert!(f(whistle, "nn_ratio") > 2.0 && f(blip, "nn_ratio") < 1.6, "NN ratio: Blip {blip}, Whistle {whistle}");
    assert!(f(whistle, "auroc") > 0.95 && f(blip, "auroc") < 0.75, "AUROC: Blip {blip}, Whistle {whistle}");
    assert_eq!(f(blip, "sim_to_real_recall"), 90.0);
    let table = std::fs::read_to_string(out.join("realism.md")).unwrap();
    assert!(table.find("| Whistle").unwrap() < table.find("| Blip").unwrap(), "worst class first:\n{table}");

    // Against itself as the baseline: every cell says "x → x".
    let again = tmp.path().join("again");
    let base = s(&out.join("realism.json"));
    let second = run(&["realism", "--synthetic", &s(&syn), "--real", &s(&real), "--baseline", &base, "--out", &s(&again), "--components", "8"]);
    assert!(second.status.success(), "{}", String::from_utf8_lossy(&second.stderr));
    let text = String::from_utf8_lossy(&second.stdout);
    let nn = format!("{:.2} → {:.2}", f(blip, "nn_ratio"), f(blip, "nn_ratio"));
    assert!(text.contains(&nn), "no baseline column ({nn}):\n{text}");

    // Bad inputs name the file.
    let missing = s(&tmp.path().join("nope.csv"));
    let e = run(&["realism", "--synthetic", &missing, "--real", &s(&real), "--out", &s(&again)]);
    assert!(!e.status.success() && String::from_utf8_lossy(&e.stderr).contains("nope.csv"), "{}", String::from_utf8_lossy(&e.stderr));
    std::fs::write(tmp.path().join("bad.json"), "{}").unwrap();
    let bad = s(&tmp.path().join("bad.json"));
    let e = run(&["realism", "--synthetic", &s(&syn), "--real", &s(&real), "--sim-to-real", &bad, "--out", &s(&again)]);
    let stderr = String::from_utf8_lossy(&e.stderr);
    assert!(!e.status.success() && stderr.contains("bad.json") && stderr.contains("per_class"), "{stderr}");
}
