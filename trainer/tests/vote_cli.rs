//! The neighbour vote of the default model's network and reference set through the CLI: `classify` gives exactly the vote of the
//! head's probabilities, the glitch's similarities to the reference set and the reference head's probabilities
//! (recomputed here from `embed` and the library), and a reference set that is missing or does not match the card stops the load with an error naming
//! the file. Needs no shared data: the glitch is made by `glitchscope synth`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use glitchscope::card::ModelCard;
use glitchscope::discovery::{NeighbourVote, ReferenceSet};

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_glitchscope"))
}

fn models() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../models"))
}

fn run(args: &[&str]) -> Output {
    Command::new(bin()).args(args).output().expect("the glitchscope binary runs")
}

fn ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(out.status.success(), "glitchscope {args:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A copy of the default model (card, weights, reference set) in `dir`, with its vote as shipped: the network's
/// head, the nearest reference glitches and the reference set's own head (weights (0.35, 2, 0.4) for glitches of
/// several views since 2026-12-08, so every term moves the answer).
fn copy_model(dir: &Path) -> PathBuf {
    for f in ["default.json", "default.bpk", "default.gsref"] {
        std::fs::copy(models().join(f), dir.join(f)).unwrap();
    }
    dir.join("default.json")
}

/// The first data row of a CSV, by column name.
fn csv_row(path: &Path) -> std::collections::BTreeMap<String, String> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let headers: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let record = reader.records().next().expect("one row").unwrap();
    headers.into_iter().zip(record.iter().map(String::from)).collect()
}

#[test]
fn classify_gives_the_vote_of_head_and_nearest_reference_glitches() {
    let tmp = tempfile::tempdir().unwrap();
    let card_path = copy_model(tmp.path());
    let card = ModelCard::from_json("default.json", &std::fs::read_to_string(&card_path).unwrap()).unwrap();
    let spec = card.neighbour_vote.clone().expect("the default model votes with its reference set");

    // One synthetic Helix glitch (a rare class), four views.
    let data = tmp.path().join("synth");
    ok(&["synth", "--out", data.to_str().unwrap(), "--per-class", "1", "--classes", "Helix", "--seed", "11"]);
    let glitch = data.join("Helix");

    // The voted probabilities, the head's alone (the same card without its vote), both from `classify --json`
    // (full precision), and the embedding from `embed`.
    let classify = |card: &Path| -> Vec<f32> {
        let out = ok(&["classify", "--json", glitch.to_str().unwrap(), "--model", card.to_str().unwrap()]);
        let json: serde_json::Value = serde_json::from_str(&out).expect("classify --json prints JSON");
        let glitches = json["glitches"].as_array().unwrap();
        assert_eq!(glitches.len(), 1, "{out}");
        glitches[0]["prediction"]["probabilities"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect()
    };
    let got = classify(&card_path);
    let head_card = tmp.path().join("head.json");
    let mut plain: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&card_path).unwrap()).unwrap();
    plain.as_object_mut().unwrap().remove("neighbour_vote");
    std::fs::write(&head_card, serde_json::to_string(&plain).unwrap()).unwrap();
    let head = classify(&head_card);
    let embedded = tmp.path().join("e.csv");
    ok(&["embed", glitch.to_str().unwrap(), "--model", card_path.to_str().unwrap(), "--out", embedded.to_str().unwrap()]);
    let embedded = csv_row(&embedded);
    let dim = embedded.keys().filter(|k| k.starts_with('e') && k[1..].parse::<usize>().is_ok()).count();
    let embedding: Vec<f32> = (0..dim).map(|i| embedded[&format!("e{i}")].parse().unwrap()).collect();

    let bytes = std::fs::read(tmp.path().join("default.gsref")).unwrap();
    let set = ReferenceSet::from_bytes(&bytes, "default.gsref").unwrap();
    let vote = NeighbourVote::new(spec, set, &card.labels).unwrap();
    // Four views: not a single picture.
    let expected = vote.apply(&head, &embedding, false).unwrap();
    let worst = expected.iter().zip(&got).map(|(e, g)| (e - g).abs()).fold(0f32, f32::max);
    // The only difference is the embedding's round trip through the CSV text (f32 printed in full): 1e-6 is
    // far below what any class's probability moves by when one neighbour changes.
    assert!(worst < 1e-6, "CLI vote differs from the library's by {worst}: {got:?} vs {expected:?}");
    assert!((got.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    let moved = head.iter().zip(&got).map(|(h, g)| (h - g).abs()).fold(0f32, f32::max);
    assert!(moved > 1e-3, "the vote changed nothing: {moved}");
}

#[test]
fn a_missing_or_foreign_reference_set_stops_the_load_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let card_path = copy_model(tmp.path());
    let picture = tmp.path().join("x.png");
    image::RgbImage::from_pixel(64, 64, image::Rgb([68, 1, 84])).save(&picture).unwrap();
    let classify = || run(&["classify", picture.to_str().unwrap(), "--model", card_path.to_str().unwrap()]);

    let reference = tmp.path().join("default.gsref");
    let mut bytes = std::fs::read(&reference).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x55;
    std::fs::write(&reference, &bytes).unwrap();
    let out = classify();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("default.gsref") && err.contains("sha256"), "{err}");

    std::fs::remove_file(&reference).unwrap();
    let out = classify();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("default.gsref") && err.contains("cannot read"), "{err}");
}

#[test]
fn eval_leaves_each_glitch_out_of_the_reference_set() {
    // A reference set whose only glitch is a synthetic Helix filed as Whistle: `classify` finds the glitch itself
    // and says Whistle; `eval` must not let it vote for itself, so only the head speaks and says something else.
    let tmp = tempfile::tempdir().unwrap();
    let card_path = copy_model(tmp.path());
    let data = tmp.path().join("synth");
    ok(&["synth", "--out", data.to_str().unwrap(), "--per-class", "1", "--classes", "Helix", "--seed", "11"]);
    let wrong = tmp.path().join("wrong");
    std::fs::create_dir_all(wrong.join("Whistle")).unwrap();
    for entry in std::fs::read_dir(data.join("Helix")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, wrong.join("Whistle").join(path.file_name().unwrap())).unwrap();
    }
    let reference = tmp.path().join("wrong.gsref");
    ok(&["embed", wrong.to_str().unwrap(), "--model", card_path.to_str().unwrap(), "--label-from-folder", "--out", reference.to_str().unwrap()]);
    let bytes = std::fs::read(&reference).unwrap();
    let mut card: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&card_path).unwrap()).unwrap();
    card["reference"] = serde_json::json!({ "file": "wrong.gsref", "sha256": glitchscope::model::weights::sha256_hex(&bytes), "bytes": bytes.len() });
    // Neighbours only, strongly (the previous default's weights): a one-glitch set has no reference head.
    let vote = card["neighbour_vote"].as_object_mut().unwrap();
    vote.insert("head_weight".into(), serde_json::json!(0.2));
    vote.insert("similarity_weight".into(), serde_json::json!(23.0));
    vote.remove("reference_head_weight");
    vote.remove("single_picture_weights");
    let wrong_card = tmp.path().join("wrong.json");
    std::fs::write(&wrong_card, serde_json::to_string(&card).unwrap()).unwrap();

    let classified: serde_json::Value =
        serde_json::from_str(&ok(&["classify", "--json", wrong.to_str().unwrap(), "--model", wrong_card.to_str().unwrap()])).unwrap();
    assert_eq!(classified["glitches"][0]["prediction"]["top5"][0]["label"], "Whistle", "{classified}");
    let evaluated: serde_json::Value =
        serde_json::from_str(&ok(&["eval", "--json", "--model", wrong_card.to_str().unwrap(), "--data", wrong.to_str().unwrap()])).unwrap();
    assert_eq!(evaluated["n"], 1, "{evaluated}");
    assert_eq!(evaluated["top1"].as_f64(), Some(0.0), "eval let the glitch vote for itself: {evaluated}");
}
