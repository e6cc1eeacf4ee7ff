//! The unseen-class test on real data: O3 Livingston 4 s spectrograms of Koi_Fish, Scattered_Light and
//! Fast_Scattering (an O3 class not among the 22). A reference set of only the first two (the distance score:
//! too few classes for the combined one), and the shipped reference set of every class; against both
//! Fast_Scattering should look unfamiliar; it should form a cluster of its own and be learnable as a few-shot class.
//!
//! The few-shot part runs as the page does (`few_shot_head::rescore_with_reference`): the model's own calibrated
//! probabilities (`glitchscope classify`) and its shipped reference set (models/default.gsref), into whose head
//! a class of 3 examples or more is fitted; one example competes with the set's class prototypes.
//!
//! Needs ../shared/data/real and the default model card (models/default.json); skips with a message without them
//! (a failure under CI=true).
//! Prints the measurements: `cargo test --release -p glitchscope-trainer --test discovery_real -- --nocapture`.

use std::path::{Path, PathBuf};
use std::process::Command;

use glitchscope::card::ModelCard;
use glitchscope::discovery::few_shot_head::rescore_with_reference;
use glitchscope::discovery::{DEFAULT_TEMPERATURE, Embeddings, FewShotSet, ReferenceSet};

#[path = "../../tests/support/skip.rs"]
mod skip;

const NEW: &str = "Fast_Scattering";

fn shared_o3() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/real/o3_l1_4s"))
}

fn model_card() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../models/default.json"))
}

fn glitchscope(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_glitchscope")).args(args).output().expect("the glitchscope binary runs");
    assert!(out.status.success(), "glitchscope {args:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

struct Table {
    keys: Vec<String>,
    labels: Vec<String>,
    columns: Vec<Vec<String>>,
    headers: Vec<String>,
}

fn read_csv(path: &Path) -> Table {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let headers: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let records: Vec<Vec<String>> = reader.records().map(|r| r.unwrap().iter().map(String::from).collect()).collect();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    Table {
        keys: records.iter().map(|r| r[col("key")].clone()).collect(),
        labels: records.iter().map(|r| r[col("label")].clone()).collect(),
        columns: records,
        headers,
    }
}

impl Table {
    fn column(&self, name: &str) -> Vec<&str> {
        let c = self.headers.iter().position(|h| h == name).unwrap();
        self.columns.iter().map(|r| r[c].as_str()).collect()
    }

    fn embeddings(&self) -> Embeddings {
        let dims: Vec<usize> = (0..self.headers.len()).filter(|&c| self.headers[c].starts_with('e')).collect();
        let flat = self.columns.iter().flat_map(|r| dims.iter().map(|&c| r[c].parse::<f32>().unwrap())).collect();
        Embeddings::from_flat(flat, dims.len()).unwrap()
    }
}

/// The calibrated probability of every class (`p_<label>` columns of `classify --out`), row-major in `keys` order.
fn model_probabilities(path: &Path, keys: &[String], labels: &[String]) -> Vec<f32> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let headers: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name}"));
    let (key_col, p_cols): (usize, Vec<usize>) = (col("key"), labels.iter().map(|l| col(&format!("p_{l}"))).collect());
    let rows: std::collections::HashMap<String, Vec<f32>> = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[key_col].to_string(), p_cols.iter().map(|&c| r[c].parse::<f32>().expect("a classified glitch")).collect())
        })
        .collect();
    keys.iter().flat_map(|k| rows.get(k).unwrap_or_else(|| panic!("{k} not in the classify output")).clone()).collect()
}

fn auroc(positive: &[f64], negative: &[f64]) -> f64 {
    let wins: f64 = positive.iter().flat_map(|p| negative.iter().map(move |n| if p > n { 1.0 } else if p == n { 0.5 } else { 0.0 })).sum();
    wins / (positive.len() * negative.len()) as f64
}

#[test]
fn fast_scattering_is_unfamiliar_clusters_apart_and_is_learnable_from_few_examples() {
    let (data, card) = (shared_o3(), model_card());
    if !data.is_dir() || !card.is_file() {
        skip::skip(&format!("needs {} and {}", data.display(), card.display()));
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let all = tmp.path().join("o3.csv");
    let reference = tmp.path().join("known.gsref");
    let (card_s, data_s) = (card.to_str().unwrap(), data.to_str().unwrap());
    glitchscope(&["embed", "--model", card_s, data_s, "--label-from-folder", "--out", all.to_str().unwrap()]);
    let known_dirs = [data.join("Koi_Fish"), data.join("Scattered_Light")];
    glitchscope(&[
        "embed", "--model", card_s, known_dirs[0].to_str().unwrap(), known_dirs[1].to_str().unwrap(), "--label-from-folder", "--out",
        reference.to_str().unwrap(),
    ]);
    let out = tmp.path().join("clusters");
    glitchscope(&["cluster", "--embeddings", all.to_str().unwrap(), "--reference", reference.to_str().unwrap(), "--out", out.to_str().unwrap()]);

    let clusters = read_csv(&out.join("clusters.csv"));
    let is_new: Vec<bool> = clusters.labels.iter().map(|l| l == NEW).collect();
    let scores: Vec<f64> = clusters.column("unfamiliar_score").iter().map(|s| s.parse().unwrap()).collect();
    let pick = |want: bool| (0..scores.len()).filter(|&i| is_new[i] == want).map(|i| scores[i]).collect::<Vec<_>>();
    let a = auroc(&pick(true), &pick(false));
    let flagged = clusters.column("new_class_candidate").iter().zip(&is_new).filter(|(f, n)| **f == "true" && **n).count();

    // The shipped unfamiliar score: the model's own reference set (22 classes, the O3 Koi_Fish and Scattered_Light
    // among them, each scored with itself left out) and its combined calibration (distance + reference head).
    let shipped_out = tmp.path().join("clusters-shipped");
    let card_dir = card.parent().unwrap();
    let shipped_ref = card_dir.join("default.gsref");
    glitchscope(&["cluster", "--embeddings", all.to_str().unwrap(), "--reference", shipped_ref.to_str().unwrap(), "--out", shipped_out.to_str().unwrap()]);
    let shipped = read_csv(&shipped_out.join("clusters.csv"));
    let shipped_new: Vec<bool> = shipped.labels.iter().map(|l| l == NEW).collect();
    let shipped_scores: Vec<f64> = shipped.column("unfamiliar_score").iter().map(|s| s.parse().unwrap()).collect();
    let shipped_pick = |want: bool| (0..shipped_scores.len()).filter(|&i| shipped_new[i] == want).map(|i| shipped_scores[i]).collect::<Vec<_>>();
    let shipped_auroc = auroc(&shipped_pick(true), &shipped_pick(false));
    let shipped_flags = |want: bool| shipped.column("new_class_candidate").iter().zip(&shipped_new).filter(|(f, n)| **f == "true" && **n == want).count();
    let (shipped_flagged, shipped_false) = (shipped_flags(true), shipped_flags(false));

    // The cluster holding most Fast_Scattering glitches: how pure, how complete.
    let ids = clusters.column("cluster");
    let mut per_cluster = std::collections::HashMap::<&str, (usize, usize)>::new();
    for (id, &new) in ids.iter().zip(&is_new) {
        let e = per_cluster.entry(id).or_default();
        e.0 += 1;
        e.1 += new as usize;
    }
    let n_new = is_new.iter().filter(|&&n| n).count();
    let (best_id, (size, hits)) = per_cluster.iter().filter(|(id, _)| **id != "-1").max_by_key(|(_, c)| c.1).map(|(k, v)| (*k, *v)).unwrap();
    let (cluster_purity, cluster_recall) = (hits as f64 / size as f64, hits as f64 / n_new as f64);

    // Few-shot: a Fast_Scattering class from 1, 5 or 10 of its glitches, as the page makes it.
    let table = read_csv(&all);
    let embeddings = table.embeddings();
    let probs_csv = tmp.path().join("classified.csv");
    glitchscope(&["classify", "--model", card_s, data_s, "--out", probs_csv.to_str().unwrap()]);
    let card_json = ModelCard::from_json("models/default.json", &std::fs::read_to_string(&card).unwrap()).unwrap();
    let labels = card_json.labels.clone();
    let probabilities = model_probabilities(&probs_csv, &table.keys, &labels);
    let spec = card_json.reference.as_ref().expect("the default model ships a reference set");
    let gsref = card.parent().unwrap().join(&spec.file);
    let shipped_set = ReferenceSet::from_bytes(&std::fs::read(&gsref).unwrap(), &spec.file).unwrap();
    let known_rows: Vec<usize> = (0..table.keys.len()).filter(|&i| table.labels[i] != NEW).collect();
    let new_rows: Vec<usize> = (0..table.keys.len()).filter(|&i| table.labels[i] == NEW).collect();
    let mut few_shot = Vec::new();
    for shots in [1usize, 5, 10] {
        let (mut right_new, mut total_new, mut right_known) = (0, 0, 0);
        let started = std::time::Instant::now();
        // Five different example draws: consecutive runs starting at every sixth glitch.
        let draws = 5;
        for d in 0..draws {
            let examples: Vec<usize> = (0..shots).map(|j| new_rows[(d * 6 + j) % new_rows.len()]).collect();
            let mut set = FewShotSet::new(embeddings.dim(), None);
            let example_keys = examples.iter().map(|&i| table.keys[i].clone()).collect();
            set.add_class(NEW, &embeddings.select(&examples).unwrap(), example_keys).unwrap();
            let scored = rescore_with_reference(&set, &shipped_set, &labels, &probabilities, &embeddings, &table.keys, DEFAULT_TEMPERATURE).unwrap();
            let top = |i: usize| scored[i].top5[0].label.as_str();
            for &i in new_rows.iter().filter(|i| !examples.contains(i)) {
                total_new += 1;
                right_new += (top(i) == NEW) as usize;
            }
            right_known += known_rows.iter().filter(|&&i| top(i) == table.labels[i]).count();
        }
        let ms = started.elapsed().as_secs_f64() * 1000.0 / draws as f64;
        few_shot.push((shots, right_new as f64 / total_new as f64, right_known as f64 / (draws * known_rows.len()) as f64, ms));
    }

    println!("model {}: {} glitches ({} {NEW}), reference Koi_Fish + Scattered_Light", card.display(), scores.len(), n_new);
    println!("unfamiliar score AUROC ({NEW} vs known): {a:.3}; flagged {flagged}/{n_new}");
    println!(
        "shipped reference set (models/default.gsref): AUROC {shipped_auroc:.3}; flagged {shipped_flagged}/{n_new} {NEW}, {shipped_false}/{} known",
        scores.len() - n_new
    );
    println!("cluster {best_id}: {hits} of its {size} glitches are {NEW} (purity {cluster_purity:.2}, recall {cluster_recall:.2})");
    for (shots, acc_new, acc_known, ms) in &few_shot {
        println!("few-shot {shots:>2}: {NEW} accuracy {acc_new:.3}, known classes kept {acc_known:.3}; {ms:.0} ms per re-scoring of the {} glitches", scores.len());
    }
    // Floors just under what the shipped model measured (2026-12-07, the figures the README quotes): AUROC 1.000,
    // 30/30 flagged, cluster purity and recall 1.00, few-shot from 1/5/10 examples 100/100/100 % (2026-12-08, late:
    // the head rule self-trained on the batch, and 1 example bootstrapped by the prototypes' sure glitches;
    // 75.9/97.6/100 % earlier that day with 5 and 10 examples fitted into the reference head once; 71.7/92.8/94.0 %
    // with prototypes only; the default of
    // 2026-12-07 evening; the previous default 67.6/90.4/96.0 %, and 54.5/89.6/92.0 before the few-shot classes were
    // compared in centred space), known classes kept 100 %. The unfamiliar score
    // is the shipped one (nearest reference glitch, k = 1, since 2026-12-07; the figures were the same with k = 5). Margins: the AUROC may lose a few of its 30x60 pairs (0.98), the flag and the cluster
    // two of 30 glitches (0.93); few-shot about ten of its 145/125/100 judged glitches (1 shot: 29 per draw).
    assert!(a >= 0.98, "AUROC {a} (measured 1.000)");
    assert!(flagged as f64 / n_new as f64 >= 0.93, "flagged {flagged}/{n_new} (measured 30/30)");
    // The shipped set and score (distance + reference head since 2026-12-08): measured AUROC 1.000, 30/30 flagged,
    // 1/60 known flagged.
    assert!(shipped_auroc >= 0.98, "shipped reference set: AUROC {shipped_auroc} (measured 1.000)");
    assert!(shipped_flagged as f64 / n_new as f64 >= 0.93, "shipped reference set: flagged {shipped_flagged}/{n_new} (measured 30/30)");
    assert!(shipped_false <= 6, "shipped reference set: {shipped_false} known O3 glitches flagged (measured 1 of 60)");
    assert!(cluster_purity >= 0.93 && cluster_recall >= 0.93, "cluster purity {cluster_purity}, recall {cluster_recall} (measured 1.00)");
    for ((shots, acc_new, acc_known, _), floor) in few_shot.iter().zip([0.93, 0.93, 0.93]) {
        assert!(*acc_new >= floor, "{shots}-shot {NEW} accuracy {acc_new:.3} < {floor} (measured 1.000/1.000/1.000)");
        assert!(*acc_known >= 0.97, "{shots}-shot: known classes kept {acc_known:.3} (measured 1.000)");
    }
}
