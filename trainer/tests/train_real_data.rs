//! Frozen-backbone training on the real Gravity Spy images of ../shared/data/real with the ImageNet
//! backbone, then `eval` on the held-out part (it must agree with what training reported) and on the O3
//! folder (whose Fast_Scattering class the model does not know). Skips when the shared data is absent.

mod train_support;
#[path = "../../tests/support/skip.rs"]
mod skip;

use std::path::PathBuf;

use train_support::*;

fn shared() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared"))
}

/// (source, label, path) of every row of `manifest.csv`: the test follows the data, it does not pin it.
fn manifest(real: &std::path::Path) -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(real.join("manifest.csv")).expect("manifest.csv");
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].to_string(), f[1].to_string(), f[12].to_string())
        })
        .collect()
}

/// Glitches (files grouped by `<IFO>_<id>`, or one per file without a Gravity Spy name) of `label` under `folder`.
fn glitches_of(rows: &[(String, String, String)], folder: &str, label: &str) -> usize {
    let keys: std::collections::BTreeSet<String> = rows
        .iter()
        .filter(|(_, l, p)| l == label && p.starts_with(folder))
        .map(|(_, _, p)| {
            let name = p.rsplit('/').next().unwrap_or(p);
            name.split_once("_spectrogram_")
                .map_or(p.clone(), |(key, _)| format!("{folder}/{key}"))
        })
        .collect();
    keys.len()
}

#[test]
fn frozen_training_on_real_images_and_eval_agree() {
    let real = shared().join("data/real");
    let weights = shared().join("weights/efficientnet-lite0/efficientnet-lite0-57934424.pth");
    if !real.is_dir() || !weights.is_file() {
        skip::skip(&format!("{} or {} is absent", real.display(), weights.display()));
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let output = run_ok(
        &[
            "train",
            "--data",
            &real.display().to_string(),
            "--out",
            &run.display().to_string(),
            "--imagenet",
            &weights.display().to_string(),
            "--mode",
            "frozen",
            "--height",
            "96",
            "--width",
            "112",
            "--epochs",
            "12",
            "--seed",
            "3",
        ]
        .map(String::from),
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let rows = manifest(&real);
    let fast = glitches_of(&rows, "", "Fast_Scattering");
    assert!(
        fast > 0,
        "the manifest has Fast_Scattering glitches (an O3 class the 22 do not have)"
    );
    assert!(
        stdout.contains(&format!(
            "ignored glitches of classes the model does not have: Fast_Scattering ({fast})"
        )),
        "{stdout}"
    );

    let card = card(&run);
    let valid = &card["metrics"]["valid"];
    let top1 = valid["top1"].as_f64().unwrap();
    // 22 classes: chance is under 5 %; the ImageNet embeddings separate the well-populated classes easily.
    assert!(top1 > 50.0, "valid top-1 {top1}\n{stdout}");

    // eval on exactly the held-out glitches gives what training reported.
    let eval = |extra: &[&str]| -> serde_json::Value {
        let mut args = vec![
            "eval".to_string(),
            "--model".into(),
            run.join("model.json").display().to_string(),
            "--json".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let out = run_ok(&args);
        serde_json::from_slice(&out.stdout).expect("eval --json prints JSON")
    };
    let split = run.join("split.csv").display().to_string();
    let held_out = eval(&[
        "--data",
        &real.display().to_string(),
        "--split",
        &split,
        "--part",
        "valid",
    ]);
    assert_eq!(held_out["n"], valid["n"]);
    assert!(
        (held_out["top1"].as_f64().unwrap() - top1).abs() < 1e-9,
        "{held_out}"
    );
    // Every held-out glitch is counted under the manifest source it came from.
    let per_source = held_out["per_source"].as_object().unwrap();
    let known: std::collections::BTreeSet<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert!(
        per_source.len() >= 2,
        "held-out glitches from several sources: {per_source:?}"
    );
    for source in per_source.keys() {
        assert!(
            known.contains(source.as_str()),
            "{source} is not a source of the manifest {known:?}"
        );
    }
    let counted: u64 = per_source.values().map(|v| v["n"].as_u64().unwrap()).sum();
    assert_eq!(Some(counted), held_out["n"].as_u64());

    // The folder that holds Fast_Scattering: its unknown class is described, not scored.
    let folder = rows
        .iter()
        .find(|r| r.1 == "Fast_Scattering")
        .map(|r| r.2.split('/').next().unwrap().to_string())
        .unwrap();
    let fast_here = glitches_of(&rows, &folder, "Fast_Scattering");
    let all_here: usize = rows
        .iter()
        .filter(|r| r.2.starts_with(&folder))
        .map(|r| r.1.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .iter()
        .map(|label| glitches_of(&rows, &folder, label))
        .sum();
    let o3 = eval(&["--data", &real.join(&folder).display().to_string()]);
    assert_eq!(
        o3["n"].as_u64(),
        Some((all_here - fast_here) as u64),
        "the known classes' glitches of {folder}"
    );
    assert_eq!(
        o3["unknown_classes"]["Fast_Scattering"]["n"].as_u64(),
        Some(fast_here as u64)
    );
    assert!(o3["per_class"]["Fast_Scattering"].is_null());
}
