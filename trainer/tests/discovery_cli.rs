//! `glitchscope cluster` and `glitchscope similar` on synthetic embeddings: Gaussian blobs with known labels, one
//! blob never labelled (the "new class"). Clusters must be pure, the new blob unfamiliar, neighbours from the
//! same blob, runs reproducible, and bad files clear errors.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use glitchscope::discovery::synthetic::gaussian_blobs;
use glitchscope::discovery::{NoveltyMethod, Precision, ReferenceSet};

const BLOBS: usize = 6;
const PER_BLOB: usize = 40;
const DIM: usize = 128;
/// The blob no label mentions: the unseen class.
const UNSEEN: usize = BLOBS - 1;

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_glitchscope"))
}

fn run(args: &[&str]) -> Output {
    Command::new(bin()).args(args).output().expect("the glitchscope binary runs")
}

fn run_ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(out.status.success(), "glitchscope {args:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn key(blob: usize, i: usize) -> String {
    format!("H1_b{blob}_{i:02}")
}

/// Blobs as an embeddings CSV (as `glitchscope embed` writes it). Known blobs are labelled and predicted
/// correctly; the unseen blob has no label and is "predicted" as class0, as a closed-set model would.
fn write_blobs(path: &Path) -> Vec<usize> {
    let (data, truth) = gaussian_blobs(BLOBS, PER_BLOB, DIM, 0.7, 42).unwrap();
    let mut text = String::from("key,label,predicted,probability");
    for d in 0..DIM {
        text += &format!(",e{d}");
    }
    text += "\n";
    for (i, (row, &b)) in data.rows().zip(&truth).enumerate() {
        let label = if b == UNSEEN { String::new() } else { format!("class{b}") };
        let predicted = if b == UNSEEN { "class0".to_string() } else { format!("class{b}") };
        text += &format!("{},{label},{predicted},0.9", key(b, i % PER_BLOB));
        for v in row {
            text += &format!(",{v}");
        }
        text += "\n";
    }
    std::fs::write(path, text).unwrap();
    truth
}

struct Row {
    cluster: i32,
    score: f64,
    candidate: bool,
}

fn read_clusters(dir: &Path) -> Vec<Row> {
    let mut reader = csv::Reader::from_path(dir.join("clusters.csv")).unwrap();
    let headers = reader.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name}"));
    let (c, s, f) = (col("cluster"), col("unfamiliar_score"), col("new_class_candidate"));
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            Row { cluster: r[c].parse().unwrap(), score: r[s].parse().unwrap(), candidate: &r[f] == "true" }
        })
        .collect()
}

/// Share of clustered points whose cluster's majority blob is their own.
fn purity(rows: &[Row], truth: &[usize]) -> f64 {
    let mut counts = std::collections::HashMap::<(i32, usize), usize>::new();
    for (r, &t) in rows.iter().zip(truth).filter(|(r, _)| r.cluster >= 0) {
        *counts.entry((r.cluster, t)).or_default() += 1;
    }
    let mut best = std::collections::HashMap::<i32, usize>::new();
    for ((c, _), n) in counts {
        let b = best.entry(c).or_default();
        *b = (*b).max(n);
    }
    best.values().sum::<usize>() as f64 / rows.iter().filter(|r| r.cluster >= 0).count().max(1) as f64
}

fn auroc(positive: &[f64], negative: &[f64]) -> f64 {
    let wins: f64 = positive.iter().flat_map(|p| negative.iter().map(move |n| if p > n { 1.0 } else if p == n { 0.5 } else { 0.0 })).sum();
    wins / (positive.len() * negative.len()) as f64
}

fn check_unseen_blob_is_unfamiliar(rows: &[Row], truth: &[usize]) {
    let unseen: Vec<f64> = rows.iter().zip(truth).filter(|(_, t)| **t == UNSEEN).map(|(r, _)| r.score).collect();
    let known: Vec<f64> = rows.iter().zip(truth).filter(|(_, t)| **t != UNSEEN).map(|(r, _)| r.score).collect();
    let a = auroc(&unseen, &known);
    let flagged = rows.iter().zip(truth).filter(|(r, t)| **t == UNSEEN && r.candidate).count();
    let false_flags = rows.iter().zip(truth).filter(|(r, t)| **t != UNSEEN && r.candidate).count();
    println!("unseen blob: AUROC {a:.3}, flagged {flagged}/{PER_BLOB}; known flagged {false_flags}/{}", known.len());
    assert!(a > 0.9, "unseen-blob AUROC {a}");
    assert!(flagged as f64 > 0.8 * PER_BLOB as f64, "only {flagged}/{PER_BLOB} of the unseen blob flagged");
    assert!((false_flags as f64) < 0.15 * known.len() as f64, "{false_flags} known glitches flagged");
}

#[test]
fn cluster_finds_the_blobs_flags_the_unseen_one_and_is_reproducible() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("blobs.csv");
    let truth = write_blobs(&file);
    let out = tmp.path().join("run1");
    let stdout = run_ok(&["cluster", "--embeddings", file.to_str().unwrap(), "--out", out.to_str().unwrap(), "--iterations", "500"]);
    assert!(stdout.contains("240 glitches"), "{stdout}");

    let rows = read_clusters(&out);
    assert_eq!(rows.len(), BLOBS * PER_BLOB);
    let n_clusters = rows.iter().map(|r| r.cluster).max().unwrap() + 1;
    assert!((BLOBS as i32..=BLOBS as i32 + 2).contains(&n_clusters), "{n_clusters} clusters for {BLOBS} blobs");
    let p = purity(&rows, &truth);
    let outliers = rows.iter().filter(|r| r.cluster < 0).count();
    println!("{n_clusters} clusters, purity {p:.3}, {outliers} outliers");
    assert!(p > 0.9, "purity {p}");
    assert!(outliers < rows.len() / 10, "{outliers} outliers");
    check_unseen_blob_is_unfamiliar(&rows, &truth);

    let png = image::open(out.join("map.png")).expect("map.png is a PNG");
    assert_eq!((png.width(), png.height()), (1200, 860));
    let summary: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["glitches"], 240);
    assert_eq!(summary["clusters"].as_array().unwrap().len() as i32, n_clusters);
    assert!(summary["unfamiliar"]["reference"].as_str().unwrap().contains("200 labelled glitches"));

    // Same input, same seed: byte-identical results.
    let again = tmp.path().join("run2");
    run_ok(&["cluster", "--embeddings", file.to_str().unwrap(), "--out", again.to_str().unwrap(), "--iterations", "500"]);
    assert_eq!(std::fs::read(out.join("clusters.csv")).unwrap(), std::fs::read(again.join("clusters.csv")).unwrap());

    // Clustering in PCA space and k-means work too.
    let pca = tmp.path().join("pca");
    run_ok(&["cluster", "--embeddings", file.to_str().unwrap(), "--out", pca.to_str().unwrap(), "--cluster-on", "pca", "--iterations", "300"]);
    assert!(purity(&read_clusters(&pca), &truth) > 0.9);
    let km = tmp.path().join("kmeans");
    run_ok(&["cluster", "--embeddings", file.to_str().unwrap(), "--out", km.to_str().unwrap(), "--kmeans", "6", "--cluster-on", "pca", "--iterations", "300"]);
    let km_rows = read_clusters(&km);
    assert!(km_rows.iter().all(|r| r.cluster >= 0) && purity(&km_rows, &truth) > 0.9);
}

/// A shipped reference set (.gsref) of the known blobs, made with the library as `embed --out x.gsref` does.
fn write_reference(blobs_csv: &Path, path: &Path) {
    let (data, truth) = gaussian_blobs(BLOBS, PER_BLOB, DIM, 0.7, 42).unwrap();
    let rows: Vec<usize> = (0..data.len()).filter(|&i| truth[i] != UNSEEN).collect();
    let labels = rows.iter().map(|&i| format!("class{}", truth[i])).collect();
    let keys = rows.iter().map(|&i| key(truth[i], i % PER_BLOB)).collect();
    let mut set = ReferenceSet::new(labels, keys, &data.select(&rows).unwrap()).unwrap();
    set.calibrate(NoveltyMethod::KnnMeanDistance { k: 5 }, 0.95).unwrap();
    std::fs::write(path, set.to_bytes(Precision::F16)).unwrap();
    assert!(blobs_csv.exists());
}

#[test]
fn a_shipped_reference_set_scores_and_searches() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("blobs.csv");
    let truth = write_blobs(&file);
    let reference = tmp.path().join("ref.gsref");
    write_reference(&file, &reference);
    let out = tmp.path().join("out");
    let stdout = run_ok(&[
        "cluster", "--embeddings", file.to_str().unwrap(), "--reference", reference.to_str().unwrap(), "--out", out.to_str().unwrap(),
        "--iterations", "300",
    ]);
    assert!(stdout.contains("ref.gsref"), "{stdout}");
    check_unseen_blob_is_unfamiliar(&read_clusters(&out), &truth);

    let json = run_ok(&[
        "similar", "--embeddings", file.to_str().unwrap(), "--key", &key(2, 3), "-k", "5", "--reference", reference.to_str().unwrap(), "--json",
    ]);
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    let among = doc["neighbours"].as_array().unwrap();
    assert_eq!(among.len(), 5);
    for n in among {
        let k = n["key"].as_str().unwrap();
        assert!(k.starts_with("H1_b2_") && k != key(2, 3), "neighbour {k}");
    }
    let sims: Vec<f64> = among.iter().map(|n| n["similarity"].as_f64().unwrap()).collect();
    assert!(sims.windows(2).all(|w| w[0] >= w[1]), "not sorted: {sims:?}");
    let in_reference = doc["reference"]["neighbours"].as_array().unwrap();
    assert_eq!(in_reference[0]["key"], key(2, 3), "the glitch itself is in the reference set");
    assert!(in_reference.iter().all(|n| n["label"] == "class2"));

    // The reference set can be searched as an embeddings file too, and a unique part of a key is enough.
    let table = run_ok(&["similar", "--embeddings", reference.to_str().unwrap(), "--key", "b4_17", "-k", "3"]);
    assert!(table.contains("H1_b4_17 (label class4)") && table.lines().count() == 5, "{table}");
}

fn err_of(args: &[&str]) -> String {
    let out = run(args);
    assert!(!out.status.success(), "glitchscope {args:?} should fail");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

#[test]
fn bad_inputs_give_clear_errors_and_tiny_inputs_work() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    let out = dir.join("out");
    let out = out.to_str().unwrap();

    let nan = write("nan.csv", "key,e0,e1\nH1_a,1,2\nH1_b,NaN,1\n");
    let e = err_of(&["cluster", "--embeddings", &nan, "--out", out]);
    assert!(e.contains("nan.csv") && e.contains("\"H1_b\"") && e.contains("not a finite number"), "{e}");
    let e = err_of(&["similar", "--embeddings", &nan, "--key", "H1_a"]);
    assert!(e.contains("nan.csv"), "{e}");

    let empty = write("empty.csv", "key,e0,e1\n");
    assert!(err_of(&["cluster", "--embeddings", &empty, "--out", out]).contains("no glitches"));
    let zero = write("zero.csv", "key,e0,e1\nH1_a,0,0\nH1_b,1,1\n");
    assert!(err_of(&["cluster", "--embeddings", &zero, "--out", out]).contains("all-zero"));
    assert!(err_of(&["cluster", "--embeddings", &dir.join("missing.csv").to_string_lossy(), "--out", out]).contains("missing.csv"));
    assert!(err_of(&["cluster", "--embeddings", &write("e.txt", ""), "--out", out]).contains("unknown embeddings format"));

    let two = write("two.csv", "key,label,e0,e1\nH1_a,Blip,1,0\nH1_b,Blip,0.9,0.1\n");
    assert!(err_of(&["similar", "--embeddings", &two, "--key", "L1_x"]).contains("no glitch with key"));
    assert!(err_of(&["similar", "--embeddings", &two, "--key", "H1_"]).contains("2 keys contain"));
    assert!(err_of(&["similar", "--embeddings", &two, "--key", "H1_a", "-k", "0"]).contains("-k"));
    let wide = write("wide.csv", "key,label,e0,e1,e2\nH1_c,Blip,1,0,0\nH1_d,Blip,0,1,0\n");
    assert!(err_of(&["similar", "--embeddings", &two, "--key", "H1_a", "--reference", &wide]).contains("dimension"));
    assert!(err_of(&["cluster", "--embeddings", &two, "--reference", &wide, "--out", out]).contains("dimension"));

    // One glitch, and two: a map, no clusters, no failure.
    let one = write("one.csv", "key,e0,e1\nH1_a,1,2\n");
    let stdout = run_ok(&["cluster", "--embeddings", &one, "--out", out]);
    assert!(stdout.contains("1 glitches, 0 clusters, 1 outliers"), "{stdout}");
    run_ok(&["cluster", "--embeddings", &two, "--out", out]);
    run_ok(&["similar", "--embeddings", &two, "--key", "H1_a"]);
}
