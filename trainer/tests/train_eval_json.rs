//! `glitchscope eval --json`: one JSON object with top1..top5, n, per_class, per_source; classes the model
//! does not know and unreadable files are reported apart; --out writes the confusion matrix and curves.

mod train_support;

use train_support::*;

#[test]
fn eval_json_has_the_documented_schema() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    make_dataset(&data, 6, 3);
    let run = tmp.path().join("run");
    let mut args = small_run_args(&data, &run);
    args.extend(["--mode", "frozen", "--epochs", "3"].map(String::from));
    run_ok(&args);

    // Evaluation data: the same classes, plus a class the model does not have and a broken file.
    let eval_data = tmp.path().join("eval");
    make_dataset(&eval_data, 3, 4);
    let unknown = eval_data.join("Fast_Scattering");
    std::fs::create_dir_all(&unknown).unwrap();
    std::fs::copy(eval_data.join("Blip/H1_Blip000_spectrogram_0.5.png"), unknown.join("L1_fs1_spectrogram_4.0.png")).unwrap();
    std::fs::write(eval_data.join("Whistle/H1_broken_spectrogram_1.0.png"), b"not a png").unwrap();

    let out = tmp.path().join("report");
    let output = run_ok(&[
        "eval".into(),
        "--model".into(),
        run.join("model.json").display().to_string(),
        "--data".into(),
        eval_data.display().to_string(),
        "--json".into(),
        "--out".into(),
        out.display().to_string(),
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"));

    assert_eq!(report["n"], 12, "4 classes x 3 glitches; the unknown class and the broken file are not counted");
    let tops: Vec<f64> = (1..=5).map(|k| report[format!("top{k}")].as_f64().unwrap()).collect();
    assert!(tops.windows(2).all(|w| w[0] <= w[1]), "top-k grows with k: {tops:?}");
    assert!(tops.iter().all(|t| (0.0..=100.0).contains(t)));
    let per_class = report["per_class"].as_object().unwrap();
    for class in CLASSES {
        let c = &per_class[class];
        assert_eq!(c["support"], 3, "{class}");
        for key in ["precision", "recall", "f1"] {
            assert!(c[key].as_f64().is_some_and(|v| (0.0..=100.0).contains(&v)), "{class}.{key}");
        }
    }
    assert_eq!(report["per_source"]["eval"]["n"], 12);
    assert_eq!(report["unknown_classes"]["Fast_Scattering"]["n"], 1);
    let unreadable = report["unreadable"].as_array().unwrap();
    assert_eq!(unreadable.len(), 1);
    assert!(unreadable[0]["path"].as_str().unwrap().ends_with("H1_broken_spectrogram_1.0.png"));

    for file in ["confusion.png", "confusion.csv", "curves.png", "report.json"] {
        assert!(out.join(file).is_file(), "missing {file}");
    }
    let csv = std::fs::read_to_string(out.join("confusion.csv")).unwrap();
    let total: usize = csv.lines().skip(1).flat_map(|l| l.split(',').skip(1)).map(|v| v.parse::<usize>().unwrap()).sum();
    assert_eq!(total, 12, "the confusion matrix counts every scored glitch once");
}
