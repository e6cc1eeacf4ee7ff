//! The unseen-class test on real data: O3 Livingston 4 s spectrograms of Koi_Fish, Scattered_Light and
//! Fast_Scattering (an O3 class not among the 22). The reference set holds only the first two; Fast_Scattering
//! should look unfamiliar, form a cluster of its own, and be learnable as a few-shot class.
//!
//! Needs ../shared/data/real and the default model card (models/default.json); skips with a message without them.
//! Prints the measurements: `cargo test --release -p glitchscope-trainer --test discovery_real -- --nocapture`.

use std::path::{Path, PathBuf};
use std::process::Command;

use glitchscope::discovery::{DEFAULT_TEMPERATURE, Embeddings, FewShotSet, Prototypes, combine_with_few_shot};

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

fn auroc(positive: &[f64], negative: &[f64]) -> f64 {
    let wins: f64 = positive.iter().flat_map(|p| negative.iter().map(move |n| if p > n { 1.0 } else if p == n { 0.5 } else { 0.0 })).sum();
    wins / (positive.len() * negative.len()) as f64
}

#[test]
fn fast_scattering_is_unfamiliar_clusters_apart_and_is_learnable_from_few_examples() {
    let (data, card) = (shared_o3(), model_card());
    if !data.is_dir() || !card.is_file() {
        println!("skipping: needs {} and {}", data.display(), card.display());
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

    // Few-shot: a Fast_Scattering prototype from 1, 5 or 10 examples, against prototypes of the known classes;
    // the "model" is a stand-in closed-set classifier (0.9 on the nearest known class), as a real one would be.
    let table = read_csv(&all);
    let embeddings = table.embeddings();
    let known_rows: Vec<usize> = (0..table.keys.len()).filter(|&i| table.labels[i] != NEW).collect();
    let new_rows: Vec<usize> = (0..table.keys.len()).filter(|&i| table.labels[i] == NEW).collect();
    let known_labels: Vec<&String> = known_rows.iter().map(|&i| &table.labels[i]).collect();
    let known = Prototypes::from_labelled(&embeddings.select(&known_rows).unwrap(), &known_labels).unwrap();
    let names = known.names().to_vec();
    let mut few_shot = Vec::new();
    for shots in [1usize, 5, 10] {
        let (mut right_new, mut total_new, mut right_known) = (0, 0, 0);
        // Five different example draws: consecutive runs starting at every sixth glitch.
        let draws = 5;
        for d in 0..draws {
            let examples: Vec<usize> = (0..shots).map(|j| new_rows[(d * 6 + j) % new_rows.len()]).collect();
            let mut set = FewShotSet::new(embeddings.dim(), None);
            set.add_class(NEW, &embeddings.select(&examples).unwrap(), vec![]).unwrap();
            let classify = |i: usize| {
                let e = embeddings.row(i);
                let sims = known.similarities(e).unwrap();
                let best = (0..sims.len()).max_by(|&a, &b| sims[a].total_cmp(&sims[b])).unwrap();
                let p: Vec<f32> = (0..sims.len()).map(|c| if c == best { 0.9 } else { 0.1 / (sims.len() - 1) as f32 }).collect();
                let combined = combine_with_few_shot(&p, &names, e, &known, &set, DEFAULT_TEMPERATURE).unwrap();
                combined.into_iter().max_by(|a, b| a.1.total_cmp(&b.1)).unwrap().0
            };
            for &i in new_rows.iter().filter(|i| !examples.contains(i)) {
                total_new += 1;
                right_new += (classify(i) == NEW) as usize;
            }
            right_known += known_rows.iter().filter(|&&i| classify(i) == table.labels[i]).count();
        }
        few_shot.push((shots, right_new as f64 / total_new as f64, right_known as f64 / (draws * known_rows.len()) as f64));
    }

    println!("model {}: {} glitches ({} {NEW}), reference Koi_Fish + Scattered_Light", card.display(), scores.len(), n_new);
    println!("unfamiliar score AUROC ({NEW} vs known): {a:.3}; flagged {flagged}/{n_new}");
    println!("cluster {best_id}: {hits} of its {size} glitches are {NEW} (purity {cluster_purity:.2}, recall {cluster_recall:.2})");
    for (shots, acc_new, acc_known) in &few_shot {
        println!("few-shot {shots:>2}: {NEW} accuracy {acc_new:.3}, known classes kept {acc_known:.3}");
    }
    // Loose floors: the numbers depend on the model; these catch a broken pipeline, not a weaker model.
    assert!(a > 0.6, "AUROC {a}");
    assert!(cluster_purity > 0.5, "purity {cluster_purity}");
    assert!(few_shot[2].1 > 0.6, "10-shot accuracy {}", few_shot[2].1);
}
