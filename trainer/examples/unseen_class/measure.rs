//! The three measurements of the unseen-class test, all with the discovery library (src/discovery):
//! the unfamiliar score, the HDBSCAN cluster that holds the unseen class, and few-shot learning of it.

use anyhow::Result;
use chacha20::ChaCha8Rng;
use glitchscope::discovery::{
    self, ClusterSelection, DEFAULT_TEMPERATURE, Embeddings, FewShotSet, HdbscanParams, NoveltyMethod, NoveltyScorer, Prototypes, Tsne,
    TsneParams, combine_with_few_shot,
};
use rand::SeedableRng;
use rand::seq::SliceRandom;

use crate::inputs::{Role, Scored};

/// The settings of `glitchscope cluster` and `glitchscope embed` by default, so these numbers describe the tools
/// as a user meets them.
pub const NOVELTY_K: usize = 5;
pub const FLAG_PERCENTILE: f32 = 0.95;
const PCA_DIMS: usize = 50;
const MIN_CLUSTER_SIZE: usize = 5;

pub struct Novelty {
    pub auroc: f64,
    pub unseen_flagged: usize,
    pub unseen: usize,
    pub known_flagged: usize,
    pub known: usize,
    pub references: usize,
}

/// AUROC of "unseen scores higher than known test scores" (ties count half): the chance that a random unseen
/// glitch looks stranger than a random known one.
pub fn auroc(positive: &[f32], negative: &[f32]) -> f64 {
    let wins: f64 = positive.iter().flat_map(|&p| negative.iter().map(move |&n| if p > n { 1.0 } else if p == n { 0.5 } else { 0.0 })).sum();
    wins / (positive.len() * negative.len()) as f64
}

fn embeddings_of(rows: &[&Scored]) -> Result<Embeddings> {
    let flat: Vec<&[f32]> = rows.iter().map(|s| s.embedding.as_slice()).collect();
    Ok(Embeddings::from_rows(&flat)?)
}

pub fn by_role(all: &[Scored], role: Role) -> Vec<&Scored> {
    all.iter().filter(|s| s.glitch.role == role).collect()
}

/// The unfamiliar score against the model's own labelled glitches (the reference parts of the split), calibrated
/// with each reference left out of its own set (what `glitchscope cluster --reference` and `embed --out x.gsref`
/// do), then applied to the known test glitches and the unseen class.
pub fn novelty(all: &[Scored]) -> Result<Novelty> {
    let (refs, known, unseen) = (by_role(all, Role::Reference), by_role(all, Role::KnownTest), by_role(all, Role::Unseen));
    let labels: Vec<&str> = refs.iter().map(|s| s.glitch.label.as_str()).collect();
    let scorer = NoveltyScorer::new(&embeddings_of(&refs)?, &labels, NoveltyMethod::KnnMeanDistance { k: NOVELTY_K })?;
    let calibration = scorer.calibrate_leave_one_out(FLAG_PERCENTILE)?;
    let scores = |rows: &[&Scored]| rows.iter().map(|s| scorer.score(&s.embedding)).collect::<discovery::Result<Vec<f32>>>();
    let (known_scores, unseen_scores) = (scores(&known)?, scores(&unseen)?);
    let flagged = |s: &[f32]| s.iter().filter(|&&x| calibration.assess(x).new_class_candidate).count();
    Ok(Novelty {
        auroc: auroc(&unseen_scores, &known_scores),
        unseen_flagged: flagged(&unseen_scores),
        unseen: unseen.len(),
        known_flagged: flagged(&known_scores),
        known: known.len(),
        references: refs.len(),
    })
}

pub struct ClusterResult {
    pub glitches: usize,
    pub clusters: usize,
    /// The cluster holding most unseen glitches: its size and how many of them are unseen.
    pub size: usize,
    pub unseen_in_it: usize,
    pub unseen: usize,
    /// Unseen glitches HDBSCAN called outliers.
    pub unseen_outliers: usize,
    /// Majority label of that cluster's other members, when any.
    pub others: Vec<(String, usize)>,
}

/// HDBSCAN over the test glitches (known test part + the unseen class), as `glitchscope cluster` does by default:
/// L2-normalise, PCA to 50, t-SNE map (perplexity 30, 750 iterations, seed 0), HDBSCAN on the map with minimum
/// cluster size 5, excess-of-mass selection.
pub fn cluster(all: &[Scored]) -> Result<ClusterResult> {
    let rows: Vec<&Scored> = all.iter().filter(|s| s.glitch.role != Role::Reference).collect();
    let prepared = discovery::prepare(&embeddings_of(&rows)?, PCA_DIMS, 0)?;
    let tsne = Tsne::new(&prepared.reduced, TsneParams { perplexity: 30.0, iterations: 750, seed: 0, ..Default::default() })?;
    let map = Embeddings::from_flat(tsne.run().into_iter().flatten().collect(), 2)?;
    let params = HdbscanParams { min_cluster_size: MIN_CLUSTER_SIZE, min_samples: None, allow_single_cluster: false, selection: ClusterSelection::ExcessOfMass };
    let clustering = discovery::hdbscan(&map, &params)?;
    let is_unseen: Vec<bool> = rows.iter().map(|s| s.glitch.role == Role::Unseen).collect();
    let unseen = is_unseen.iter().filter(|&&u| u).count();
    let mut best = (-1i32, 0usize);
    for c in 0..clustering.n_clusters as i32 {
        let hits = (0..rows.len()).filter(|&i| clustering.labels[i] == c && is_unseen[i]).count();
        if hits > best.1 {
            best = (c, hits);
        }
    }
    let members: Vec<usize> = (0..rows.len()).filter(|&i| best.0 >= 0 && clustering.labels[i] == best.0).collect();
    let mut others = std::collections::BTreeMap::<String, usize>::new();
    for &i in members.iter().filter(|&&i| !is_unseen[i]) {
        *others.entry(rows[i].glitch.label.clone()).or_default() += 1;
    }
    let mut others: Vec<(String, usize)> = others.into_iter().collect();
    others.sort_by(|a, b| b.1.cmp(&a.1));
    Ok(ClusterResult {
        glitches: rows.len(),
        clusters: clustering.n_clusters,
        size: members.len(),
        unseen_in_it: best.1,
        unseen,
        unseen_outliers: (0..rows.len()).filter(|&i| is_unseen[i] && clustering.labels[i] == discovery::NOISE).count(),
        others,
    })
}

pub struct FewShot {
    pub shots: usize,
    pub draws: usize,
    /// Top-1 on the unseen glitches that were not examples, mean over draws (and its range).
    pub unseen_top1: f64,
    pub unseen_min: f64,
    pub unseen_max: f64,
    /// Top-1 on the known test glitches with the few-shot class added, mean over draws.
    pub known_top1: f64,
    /// Embedding alone: share of the unseen glitches (not examples) whose nearest prototype (cosine) is the
    /// few-shot one rather than a known class's, mean over draws. What the prototypes could do without the model.
    pub unseen_nearest: f64,
    /// Mean probability the few-shot class took on the unseen glitches (its softmax share, `m`).
    pub unseen_share: f64,
}

fn argmax(p: &[(String, f32)]) -> &str {
    &p.iter().max_by(|a, b| a.1.total_cmp(&b.1)).expect("at least one class").0
}

/// Top-1 of the model alone on the known test glitches and on the unseen class (where it can only be wrong, or
/// right by chance through its never-trained output for that class).
pub fn model_alone(all: &[Scored], labels: &[String]) -> (f64, f64) {
    let top1 = |rows: &[&Scored]| {
        let right = rows.iter().filter(|s| {
            let best = (0..labels.len()).max_by(|&a, &b| s.probabilities[a].total_cmp(&s.probabilities[b])).expect("labels");
            labels[best] == s.glitch.label
        });
        right.count() as f64 / rows.len() as f64
    };
    (top1(&by_role(all, Role::KnownTest)), top1(&by_role(all, Role::Unseen)))
}

/// What the model alone calls the unseen glitches: (class, count), most common first.
pub fn unseen_calls(all: &[Scored], labels: &[String]) -> Vec<(String, usize)> {
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for s in by_role(all, Role::Unseen) {
        let best = (0..labels.len()).max_by(|&a, &b| s.probabilities[a].total_cmp(&s.probabilities[b])).expect("labels");
        *counts.entry(labels[best].clone()).or_default() += 1;
    }
    let mut v: Vec<(String, usize)> = counts.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1));
    v
}

/// Few-shot: a prototype of the unseen class from `shots` random glitches of it joins the model's classification
/// (`combine_with_few_shot`: the model's probabilities, with prototypes of the known classes from the reference
/// glitches competing against the few-shot prototype). A glitch counts as right when its top class is its label;
/// the few-shot class carries the unseen class's name.
pub fn few_shot(all: &[Scored], labels: &[String], shots: usize, draws: usize, seed: u64) -> Result<FewShot> {
    let (refs, known, unseen) = (by_role(all, Role::Reference), by_role(all, Role::KnownTest), by_role(all, Role::Unseen));
    let ref_labels: Vec<&str> = refs.iter().map(|s| s.glitch.label.as_str()).collect();
    let prototypes = Prototypes::from_labelled(&embeddings_of(&refs)?, &ref_labels)?;
    let name = unseen[0].glitch.label.clone();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut unseen_acc, mut known_acc, mut nearest_acc, mut shares) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..draws {
        let mut order: Vec<usize> = (0..unseen.len()).collect();
        order.shuffle(&mut rng);
        let (examples, rest) = order.split_at(shots.min(unseen.len() - 1));
        let mut set = FewShotSet::new(prototypes.dim(), None);
        let chosen: Vec<&Scored> = examples.iter().map(|&i| unseen[i]).collect();
        set.add_class(&name, &embeddings_of(&chosen)?, chosen.iter().map(|s| s.glitch.key.clone()).collect())?;
        let combined = |s: &Scored| combine_with_few_shot(&s.probabilities, labels, &s.embedding, &prototypes, &set, DEFAULT_TEMPERATURE);
        let right = |s: &Scored| -> Result<bool> { Ok(argmax(&combined(s)?) == s.glitch.label) };
        let new_prototype = Prototypes::from_labelled(&embeddings_of(&chosen)?, &vec![name.as_str(); chosen.len()])?;
        let (mut hits, mut nearest, mut share) = (0, 0, 0.0);
        for &i in rest {
            let s = unseen[i];
            hits += right(s)? as usize;
            // The few-shot class comes last in combine_with_few_shot's output.
            share += combined(s)?.last().map_or(0.0, |c| c.1 as f64);
            let best_known = prototypes.similarities(&s.embedding)?.into_iter().fold(f32::NEG_INFINITY, f32::max);
            nearest += (new_prototype.similarities(&s.embedding)?[0] > best_known) as usize;
        }
        unseen_acc.push(hits as f64 / rest.len() as f64);
        nearest_acc.push(nearest as f64 / rest.len() as f64);
        shares.push(share / rest.len() as f64);
        let mut hits = 0;
        for s in &known {
            hits += right(s)? as usize;
        }
        known_acc.push(hits as f64 / known.len() as f64);
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    Ok(FewShot {
        shots,
        draws,
        unseen_top1: mean(&unseen_acc),
        unseen_min: unseen_acc.iter().copied().fold(f64::INFINITY, f64::min),
        unseen_max: unseen_acc.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        known_top1: mean(&known_acc),
        unseen_nearest: mean(&nearest_acc),
        unseen_share: mean(&shares),
    })
}

#[cfg(test)]
mod tests {
    use super::auroc;

    #[test]
    fn auroc_counts_pairs_and_halves_ties() {
        assert_eq!(auroc(&[3.0, 4.0], &[1.0, 2.0]), 1.0);
        assert_eq!(auroc(&[1.0], &[2.0, 3.0]), 0.0);
        assert_eq!(auroc(&[2.0, 0.0], &[2.0, 1.0]), 0.375);
    }
}
