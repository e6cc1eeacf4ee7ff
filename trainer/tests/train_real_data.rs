//! Frozen-backbone training on the real Gravity Spy images of ../shared/data/real with the ImageNet
//! backbone, then `eval` on the held-out part (it must agree with what training reported) and on the O3
//! folder (whose Fast_Scattering class the model does not know). Skips when the shared data is absent.

mod train_support;

use std::path::PathBuf;

use train_support::*;

fn shared() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared"))
}

#[test]
fn frozen_training_on_real_images_and_eval_agree() {
    let real = shared().join("data/real");
    let weights = shared().join("weights/efficientnet-lite0/efficientnet-lite0-57934424.pth");
    if !real.is_dir() || !weights.is_file() {
        eprintln!("SKIPPED: {} or {} is absent", real.display(), weights.display());
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let output = run_ok(&[
        "train", "--data", &real.display().to_string(), "--out", &run.display().to_string(),
        "--imagenet", &weights.display().to_string(), "--mode", "frozen",
        "--height", "96", "--width", "112", "--epochs", "12", "--seed", "3",
    ]
    .map(String::from));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("ignored glitches of classes the model does not have: Fast_Scattering (30)"), "{stdout}");

    let card = card(&run);
    let valid = &card["metrics"]["valid"];
    let top1 = valid["top1"].as_f64().unwrap();
    // 22 classes: chance is under 5 %; the ImageNet embeddings separate the well-populated classes easily.
    assert!(top1 > 50.0, "valid top-1 {top1}\n{stdout}");

    // eval on exactly the held-out glitches gives what training reported.
    let eval = |extra: &[&str]| -> serde_json::Value {
        let mut args = vec!["eval".to_string(), "--model".into(), run.join("model.json").display().to_string(), "--json".into()];
        args.extend(extra.iter().map(|s| s.to_string()));
        let out = run_ok(&args);
        serde_json::from_slice(&out.stdout).expect("eval --json prints JSON")
    };
    let split = run.join("split.csv").display().to_string();
    let held_out = eval(&["--data", &real.display().to_string(), "--split", &split, "--part", "valid"]);
    assert_eq!(held_out["n"], valid["n"]);
    assert!((held_out["top1"].as_f64().unwrap() - top1).abs() < 1e-9, "{held_out}");
    let sources: Vec<&String> = held_out["per_source"].as_object().unwrap().keys().collect();
    assert_eq!(sources, ["o1_cropped", "o1_full_plots", "o2_volunteer", "o3_l1_4s"]);

    // An O3 folder: its unknown class is described, not scored.
    let o3 = eval(&["--data", &real.join("o3_l1_4s").display().to_string()]);
    assert_eq!(o3["n"], 60, "Koi_Fish and Scattered_Light, 30 each");
    assert_eq!(o3["unknown_classes"]["Fast_Scattering"]["n"], 30);
    assert!(o3["per_class"]["Fast_Scattering"].is_null());
}
