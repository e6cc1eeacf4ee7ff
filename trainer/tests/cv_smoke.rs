//! A small end-to-end run of `glitchscope cv` on generated pictures (no shared data needed): folds, the
//! out-of-fold report and its files, resuming finished folds (and --overwrite redoing them), refusing too many
//! folds, --resume and options cv does not use, the exported calibrated model, and that the card's temperature
//! is what `classify` applies (with per-view contributions).

mod train_support;

use std::path::Path;

use train_support::*;

fn cv_args(data: &Path, real: &Path, out: &Path) -> Vec<String> {
    let mut args = small_run_args(data, out);
    args[0] = "cv".into();
    args.extend(
        ["--real", &real.display().to_string(), "--folds", "2", "--mode", "frozen", "--epochs", "3", "--copies", "1", "--real-weight", "3"]
            .map(String::from),
    );
    args
}

fn json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

#[test]
fn cross_validation_reports_resumes_refuses_and_exports_a_calibrated_model() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, real, out) = (tmp.path().join("synthetic"), tmp.path().join("real"), tmp.path().join("cv"));
    make_dataset(&data, 6, 1);
    make_dataset(&real, 4, 2);

    let mut args = cv_args(&data, &real, &out);
    args.push("--export".into());
    let first = run_ok(&args);
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(stdout.contains("fold 2/2: training on"), "{stdout}");

    // The report: every "real" glitch predicted once, per class, with calibration.
    let report = json(&out.join("cv.json"));
    assert_eq!(report["glitches"], 16);
    assert_eq!(report["folds"], 2);
    let per_class = report["per_class"].as_array().unwrap();
    assert_eq!(per_class.len(), 4);
    assert!(per_class.iter().all(|c| c["glitches"] == 4), "{per_class:?}");
    let top1 = report["top1"].as_f64().unwrap();
    assert!((0.0..=100.0).contains(&top1) && report["top5"].as_f64().unwrap() >= top1);
    let t = report["temperature"].as_f64().unwrap();
    assert!(t > 0.05 && t < 20.0, "{t}");
    assert!(report["ece_before"].as_f64().is_some() && report["reliability_before"].as_array().unwrap().len() == 15);
    for file in ["cv.md", "confusion.png", "confusion.csv", "reliability.png", "fold-1/predictions.json", "final/split.csv"] {
        assert!(out.join(file).is_file(), "{file} missing");
    }
    let predictions = json(&out.join("predictions.json"));
    assert_eq!(predictions.as_array().unwrap().len(), 16);

    // The exported model carries the temperature and the CV metrics.
    let card = json(&out.join("final/model.json"));
    let card_t = card["calibration"]["temperature"].as_f64().unwrap();
    assert!((card_t - t).abs() < 1e-4 * t.max(1.0), "{card_t} vs {t}");
    assert_eq!(card["metrics"]["cross_validation"]["glitches"], 16);

    // Finished folds are not trained again.
    // Each fold keeps its network's embedding of every real glitch (8 held out + 8 trained on), and
    // `vote --cv` fits the final model's neighbour vote out of fold from them.
    let embedded = json(&out.join("fold-1/embeddings.json"));
    let embedded = embedded.as_array().unwrap();
    assert_eq!(embedded.len(), 16);
    assert_eq!(embedded.iter().filter(|e| e["held_out"] == true).count(), 8);
    assert!(embedded.iter().all(|e| e["embedding"].as_array().unwrap().len() == 1280));
    // (On a copy of the final card: the calibration checks below compare the card's own probabilities.)
    let final_card = out.join("final/voted.json");
    std::fs::copy(out.join("final/model.json"), &final_card).unwrap();
    let reference = out.join("final/model.gsref");
    run_ok(&["embed", &real.display().to_string(), "--model", &final_card.display().to_string(), "--label-from-folder", "--out", &reference.display().to_string()].map(String::from));
    let bytes = std::fs::read(&reference).unwrap();
    let mut with_reference = json(&final_card);
    with_reference["reference"] = serde_json::json!({ "file": "model.gsref", "sha256": glitchscope::model::weights::sha256_hex(&bytes), "bytes": bytes.len() });
    std::fs::write(&final_card, serde_json::to_string_pretty(&with_reference).unwrap()).unwrap();
    let voted = run_ok(&["vote", "--cv", &out.display().to_string(), "--model", &final_card.display().to_string(), "--folds", "2", "--write"].map(String::from));
    let stdout = String::from_utf8_lossy(&voted.stdout);
    assert!(stdout.contains("on 16 held-out real glitches") && stdout.contains("real glitches each fold trained on"), "{stdout}");
    let vote = &json(&final_card)["neighbour_vote"];
    assert!(vote["head_weight"].as_f64().is_some() && vote["method"].as_str().unwrap().contains("out of fold"), "{vote}");
    run_ok(&["classify", "--model", &final_card.display().to_string(), &real.join("Blip").display().to_string()].map(String::from));

    let again = run_ok(&cv_args(&data, &real, &out));
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(stdout.contains("fold 1/2: already done") && stdout.contains("fold 2/2: already done"), "{stdout}");
    // ... unless they were made with other options.
    let mut changed = cv_args(&data, &real, &out);
    let e = changed.iter().position(|a| a == "--epochs").unwrap();
    changed[e + 1] = "2".into();
    let stdout = String::from_utf8_lossy(&run_ok(&changed).stdout).to_string();
    assert!(stdout.contains("fold 1/2: saved predictions were made with other options; training again"), "{stdout}");

    // --overwrite (--redo) trains saved folds again; --resume and options cv does not use are refused.
    let mut redo = cv_args(&data, &real, &out);
    redo.push("--overwrite".into());
    let stdout = String::from_utf8_lossy(&run_ok(&redo).stdout).to_string();
    assert!(stdout.contains("fold 1/2: training on") && !stdout.contains("already done"), "{stdout}");
    for (flag, says) in [(&["--resume"][..], "cv has no --resume"), (&["--patience", "3"][..], "cv does not use --patience")] {
        let mut refused = cv_args(&data, &real, &tmp.path().join("cv-refused"));
        refused.extend(flag.iter().map(|s| s.to_string()));
        let o = std::process::Command::new(bin()).args(&refused).output().unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && stderr.contains(says), "{stderr}");
    }
    assert!(!tmp.path().join("cv-refused").exists(), "a refused command writes nothing");

    // More folds than the smallest class has glitches: refused, saying which class and what is allowed.
    let mut too_many = cv_args(&data, &real, &tmp.path().join("cv5"));
    let k = too_many.iter().position(|a| a == "--folds").unwrap();
    too_many[k + 1] = "5".into();
    let refused = std::process::Command::new(bin()).args(&too_many).output().unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && stderr.contains("has only 4 real glitches") && stderr.contains("--folds 4"), "{stderr}");

    // `classify` applies the card's temperature: against the same weights without calibration, every log-odds
    // is divided by T. Views present in the glitch have a contribution, the others none.
    let mut plain = card.clone();
    plain.as_object_mut().unwrap().remove("calibration");
    let plain_path = out.join("final/plain.json");
    std::fs::write(&plain_path, serde_json::to_string(&plain).unwrap()).unwrap();
    let picture = real.join("Blip");
    let classify = |model: &Path| -> serde_json::Value {
        let o = run_ok(&["classify", "--json", "--model", &model.display().to_string(), &picture.display().to_string()].map(String::from));
        serde_json::from_slice(&o.stdout).unwrap()
    };
    let calibrated = classify(&out.join("final/model.json"));
    let raw = classify(&plain_path);
    let probs = |doc: &serde_json::Value| -> Vec<f64> {
        doc["glitches"][0]["prediction"]["probabilities"].as_array().unwrap().iter().map(|p| p.as_f64().unwrap()).collect()
    };
    let (pc, pr) = (probs(&calibrated), probs(&raw));
    for i in 1..pc.len() {
        let (lc, lr) = ((pc[i] / pc[0]).ln(), (pr[i] / pr[0]).ln());
        assert!((lc - lr / card_t).abs() < 2e-3 * (1.0 + lr.abs()), "class {i}: {lc} vs {lr} / {card_t}");
    }
    let contributions = calibrated["glitches"][0]["prediction"]["view_contributions"].as_array().unwrap().clone();
    let present: Vec<bool> = contributions.iter().map(|c| c.is_number()).collect();
    assert_eq!(present, vec![true, true, false, false], "views 0.5 s and 1 s only: {contributions:?}");
    assert!(calibrated["glitches"][0]["warning"].is_null(), "generated viridis-like pictures are not flagged");

    // A card with a single-picture temperature: a lone picture of unknown duration (a name outside Gravity
    // Spy's pattern) is scaled by it, the two-view glitch above still by `temperature`.
    let mut two = card.clone();
    two["calibration"]["single_picture_temperature"] = serde_json::json!(2.5);
    let two_path = out.join("final/two.json");
    std::fs::write(&two_path, serde_json::to_string(&two).unwrap()).unwrap();
    let lone = out.join("lone");
    std::fs::create_dir_all(&lone).unwrap();
    let first_view = std::fs::read_dir(&picture).unwrap().flatten().map(|e| e.path()).filter(|p| p.is_file()).min().unwrap();
    std::fs::copy(&first_view, lone.join("figure-panel.png")).unwrap();
    let classify_path = |model: &Path, input: &Path| -> Vec<f64> {
        let o = run_ok(&["classify", "--json", "--model", &model.display().to_string(), &input.display().to_string()].map(String::from));
        let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        doc["glitches"][0]["prediction"]["probabilities"].as_array().unwrap().iter().map(|p| p.as_f64().unwrap()).collect()
    };
    let (single, single_raw) = (classify_path(&two_path, &lone), classify_path(&plain_path, &lone));
    let both = classify_path(&two_path, &picture);
    for i in 1..single.len() {
        let (lc, lr) = ((single[i] / single[0]).ln(), (single_raw[i] / single_raw[0]).ln());
        assert!((lc - lr / 2.5).abs() < 2e-3 * (1.0 + lr.abs()), "single picture, class {i}: {lc} vs {lr} / 2.5");
        assert!((both[i] - pc[i]).abs() < 1e-6, "two views keep the card's temperature: class {i}");
    }
}
