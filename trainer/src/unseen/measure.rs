//! One left-out class: cross-validated over the real glitches of the known classes, so that every glitch is
//! scored by references, a head and a PCA that never saw it, and the left-out class shapes none of them.
//!
//! Folds are by glitch, stratified by class; the left-out class's glitches are dealt to the folds too, so each
//! glitch is scored exactly once. The flag threshold of fold f is the (1 - far) quantile of the scores of the
//! known glitches of the *other* folds (their null distribution), so the false-alarm rate printed is measured
//! on glitches that did not set it.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Result, bail};
use chacha20::ChaCha8Rng;
use glitchscope::discovery::few_shot_head::{SelfTraining, rescore_with_reference_by};
use glitchscope::discovery::{
    DEFAULT_TEMPERATURE, Embeddings, FewShotSet, Prototypes, ReferenceSet, rescore_with_few_shot,
};
use rand::SeedableRng;
use rand::seq::SliceRandom;

use super::real_set::RealGlitch;
use crate::train::dataset::split_key_of;
use super::scores::{COMBOS, FoldModel, Join, RAW};

#[derive(Clone)]
pub struct Options {
    pub folds: usize,
    pub seed: u64,
    /// Flag threshold: this share of known glitches is flagged (0.05).
    pub false_alarm_rate: f64,
    pub shots: Vec<usize>,
    pub draws: usize,
    /// Keys of real glitches the scoring network trained on, as split.csv writes them ([`split_key_of`]: copies
    /// of one subject share it, and count as trained on when one of them is): they serve as references in every fold (as the
    /// shipped reference set does) but are never scored, since a network scores what it trained on as familiar.
    /// Empty for a network that trained on no real glitch.
    pub trained_on: BTreeSet<String>,
    /// The page rule's self-training (`few_shot_head::SELF_TRAINING` unless measuring another).
    pub self_training: SelfTraining,
}

/// Few-shot recall and false positives from `shots` examples, by the page's rule and by centred prototypes.
#[derive(Clone, Copy, Default)]
pub struct FewShot {
    pub shots: usize,
    pub recall_page: f64,
    pub false_page: f64,
    pub recall_centred: f64,
    pub false_centred: f64,
    /// What the page does: the reference head refitted with the examples as a class of their own
    /// (`rescore_with_few_shot_head`) from `MIN_EXAMPLES` examples on, the prototypes (`recall_page`) below.
    pub recall_head: f64,
    pub false_head: f64,
}

pub struct LeftOut {
    pub class: String,
    pub n: usize,
    pub known: usize,
    /// One per score in `score_names()` order.
    pub auroc: Vec<f64>,
    pub recall: Vec<f64>,
    pub false_alarms: Vec<f64>,
    pub few_shot: Vec<FewShot>,
}

pub fn score_names() -> Vec<&'static str> {
    RAW.iter().copied().chain(COMBOS.iter().map(|c| c.0)).collect()
}

/// One scored glitch of a fold. In the real protocol a known glitch is both in the null (it sets thresholds and
/// percentiles) and a negative (against which the left-out class's AUROC is measured); the synthetic protocol
/// ([`super::synthetic`]) keeps the two apart.
pub(super) struct Scored {
    pub fold: usize,
    /// A glitch of the left-out class: a positive.
    pub left_out: bool,
    /// A known real glitch: the null distribution of the scores.
    pub null: bool,
    /// A known glitch that the positives' AUROC and the false alarms are measured against.
    pub negative: bool,
    pub scores: Vec<f32>,
}

/// The `source` of the synthetic glitches given to [`leave_out_synthetic`].
pub const SYNTHETIC_SOURCE: &str = "synthetic";

/// Measure one left-out class on real glitches. `never_known`: classes that are never among the known ones
/// (e.g. a class no model was trained on), unless they are the one left out. Synthetic glitches in
/// `glitches` are ignored.
pub fn leave_out(glitches: &[RealGlitch], class: &str, never_known: &[String], opts: &Options) -> Result<LeftOut> {
    measure(glitches, class, never_known, false, opts)
}

/// Measure a synthetic unseen class (a later Gravity Spy class drawn by the generator, never trained on):
/// its synthetic glitches are the positives and synthetic glitches of the known classes the negatives, so both
/// sides carry the same synthetic-to-real gap. References, head, PCA, the null of the percentiles and the flag
/// threshold are the real known glitches' (as in the shipped tools); the false alarms are measured on the
/// synthetic known glitches, and so include that gap. Real glitches of `class` (O3 Fast_Scattering) are left
/// out of everything.
pub fn leave_out_synthetic(glitches: &[RealGlitch], class: &str, never_known: &[String], opts: &Options) -> Result<LeftOut> {
    measure(glitches, class, never_known, true, opts)
}

fn measure(glitches: &[RealGlitch], class: &str, never_known: &[String], synthetic: bool, opts: &Options) -> Result<LeftOut> {
    let is_synth = |i: usize| glitches[i].source == SYNTHETIC_SOURCE;
    let known_names: Vec<String> = {
        let mut v: Vec<String> = (0..glitches.len())
            .filter(|&i| !is_synth(i))
            .map(|i| glitches[i].class.clone())
            .filter(|c| c != class && !never_known.contains(c))
            .collect();
        v.sort();
        v.dedup();
        v
    };
    let index_of: BTreeMap<&str, usize> = known_names.iter().enumerate().map(|(i, n)| (n.as_str(), i)).collect();
    // The glitches in play: real known ones (references and null) and the side measured, real or synthetic.
    let chosen: Vec<usize> = (0..glitches.len())
        .filter(|&i| {
            let known = index_of.contains_key(glitches[i].class.as_str());
            let left_out = glitches[i].class == class;
            if is_synth(i) { synthetic && (known || left_out) } else { known || (!synthetic && left_out) }
        })
        .collect();
    let trained = |i: usize| !is_synth(i) && opts.trained_on.contains(split_key_of(&glitches[i].key));
    if let Some(&i) = chosen.iter().find(|&&i| glitches[i].class == class && trained(i)) {
        bail!("{class}: the network trained on its glitch {}, so it cannot be left out", glitches[i].key);
    }
    let n_left = chosen.iter().filter(|&&i| glitches[i].class == class).count();
    if n_left < 2 {
        bail!("{class}: {n_left} {} glitches; a left-out class needs at least 2", if synthetic { "synthetic" } else { "real" });
    }
    // Trained-on glitches get no fold: never scored, references in every fold.
    let scoreable: Vec<usize> = chosen.iter().copied().filter(|&i| !trained(i)).collect();
    let fold_of = deal_folds(glitches, &scoreable, opts.folds, opts.seed);
    let in_fold = |i: usize, f: usize| fold_of.get(&i) == Some(&f);
    let dim = glitches[0].embedding.len();

    let mut models = Vec::with_capacity(opts.folds);
    let mut scored: Vec<Scored> = Vec::new();
    let mut fold_refs: Vec<Vec<usize>> = Vec::new();
    for f in 0..opts.folds {
        let refs: Vec<usize> = chosen.iter().copied().filter(|&i| !in_fold(i, f) && glitches[i].class != class && !is_synth(i)).collect();
        let emb = Embeddings::from_rows(&refs.iter().map(|&i| glitches[i].embedding.as_slice()).collect::<Vec<_>>())?;
        let labels: Vec<usize> = refs.iter().map(|&i| index_of[glitches[i].class.as_str()]).collect();
        let model = FoldModel::fit(&emb, &labels, known_names.len())?;
        for &i in chosen.iter().filter(|&&i| in_fold(i, f)) {
            let raw = model.raw_scores(&glitches[i].embedding, glitches[i].top_probability)?;
            let left_out = glitches[i].class == class;
            let negative = !left_out && is_synth(i) == synthetic;
            scored.push(Scored { fold: f, left_out, null: !left_out && !is_synth(i), negative, scores: raw.to_vec() });
        }
        models.push(model);
        fold_refs.push(refs);
    }
    add_combos(&mut scored, opts.folds);

    let (auroc, recall, false_alarms) = rates(&scored, opts);

    let members: Vec<usize> = chosen.iter().copied().filter(|&i| glitches[i].class == class).collect();
    let negative = |i: usize| glitches[i].class != class && is_synth(i) == synthetic && !trained(i);
    let known_test = |f: usize| -> Vec<usize> { chosen.iter().copied().filter(|&i| in_fold(i, f) && negative(i)).collect() };
    let few_shot = opts
        .shots
        .iter()
        .filter(|&&s| s < n_left)
        .map(|&s| few_shot(glitches, &members, &known_test, &fold_refs, &models, &known_names, dim, s, opts))
        .collect::<Result<Vec<_>>>()?;
    let known = chosen.iter().filter(|&&i| negative(i)).count();
    Ok(LeftOut { class: class.to_string(), n: n_left, known, auroc, recall, false_alarms, few_shot })
}

/// Per score (in `score_names()` order): the positives' AUROC against the negatives, and the shares of positives
/// and of negatives flagged. Each fold's threshold is the (1 - far) quantile of the other folds' null.
pub(super) fn rates(scored: &[Scored], opts: &Options) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let (mut auroc, mut recall, mut false_alarms) = (Vec::new(), Vec::new(), Vec::new());
    for s in 0..score_names().len() {
        let pos: Vec<f32> = scored.iter().filter(|g| g.left_out).map(|g| g.scores[s]).collect();
        let neg: Vec<f32> = scored.iter().filter(|g| g.negative).map(|g| g.scores[s]).collect();
        auroc.push(auc(&pos, &neg));
        let thresholds: Vec<f32> = (0..opts.folds)
            .map(|f| {
                let null: Vec<f32> = scored.iter().filter(|o| o.null && o.fold != f).map(|o| o.scores[s]).collect();
                quantile(&null, 1.0 - opts.false_alarm_rate)
            })
            .collect();
        let flagged = |g: &&Scored| g.scores[s] > thresholds[g.fold];
        recall.push(scored.iter().filter(|g| g.left_out).filter(flagged).count() as f64 / pos.len().max(1) as f64);
        false_alarms.push(scored.iter().filter(|g| g.negative).filter(flagged).count() as f64 / neg.len().max(1) as f64);
    }
    (auroc, recall, false_alarms)
}

/// Stratified folds: each class's glitches shuffled and dealt round-robin, continuing where the last class
/// stopped so small classes do not all start in fold 0.
pub(super) fn deal_folds(glitches: &[RealGlitch], chosen: &[usize], k: usize, seed: u64) -> BTreeMap<usize, usize> {
    let mut by_class: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for &i in chosen {
        by_class.entry(glitches[i].class.as_str()).or_default().push(i);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = BTreeMap::new();
    let mut next = 0;
    for members in by_class.values_mut() {
        members.shuffle(&mut rng);
        for &i in members.iter() {
            out.insert(i, next % k);
            next += 1;
        }
    }
    out
}

/// Each combination joins its parts' percentiles against the known glitches of the other folds (mean or max).
pub(super) fn add_combos(scored: &mut [Scored], folds: usize) {
    let nulls: Vec<Vec<Vec<f32>>> = (0..folds)
        .map(|f| {
            (0..RAW.len())
                .map(|s| {
                    let mut v: Vec<f32> = scored.iter().filter(|o| o.null && o.fold != f).map(|o| o.scores[s]).collect();
                    v.sort_by(f32::total_cmp);
                    v
                })
                .collect()
        })
        .collect();
    for g in scored.iter_mut() {
        for (_, parts, join) in COMBOS {
            let pct = parts.map(|p| percentile(&nulls[g.fold][p], g.scores[p]));
            g.scores.push(match join {
                Join::Mean => pct.iter().sum::<f32>() / pct.len() as f32,
                Join::Max => pct.iter().copied().fold(0.0, f32::max),
            });
        }
    }
}

/// Share of `sorted` below `x` (ties count half).
fn percentile(sorted: &[f32], x: f32) -> f32 {
    let below = sorted.partition_point(|&v| v < x);
    let upto = sorted.partition_point(|&v| v <= x);
    (below as f32 + 0.5 * (upto - below) as f32) / sorted.len().max(1) as f32
}

fn quantile(values: &[f32], q: f64) -> f32 {
    let mut v = values.to_vec();
    v.sort_by(f32::total_cmp);
    if v.is_empty() {
        return f32::INFINITY;
    }
    let at = ((v.len() - 1) as f64 * q).round() as usize;
    v[at.min(v.len() - 1)]
}

/// Area under the ROC curve: the chance that a positive scores above a negative (ties half).
pub fn auc(pos: &[f32], neg: &[f32]) -> f64 {
    let mut wins = 0.0f64;
    for &p in pos {
        for &n in neg {
            wins += if p > n { 1.0 } else if p == n { 0.5 } else { 0.0 };
        }
    }
    wins / (pos.len() * neg.len()).max(1) as f64
}

/// Few-shot recall and false positives from `shots` of the left-out class's glitches (`members`), over
/// `opts.draws` draws, draw d in fold d % folds: its other glitches and `known_test(fold)` are classified.
#[allow(clippy::too_many_arguments)]
pub(super) fn few_shot(
    glitches: &[RealGlitch],
    members: &[usize],
    known_test: &dyn Fn(usize) -> Vec<usize>,
    fold_refs: &[Vec<usize>],
    models: &[FoldModel],
    known_names: &[String],
    dim: usize,
    shots: usize,
    opts: &Options,
) -> Result<FewShot> {
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed ^ (shots as u64 * 7919));
    let mut sums = [0.0f64; 6];
    for d in 0..opts.draws {
        let f = d % opts.folds;
        let mut pool = members.to_vec();
        pool.shuffle(&mut rng);
        let (examples, rest) = pool.split_at(shots);
        let known_test = known_test(f);
        let shares = one_draw(glitches, examples, rest, &known_test, &fold_refs[f], &models[f], known_names, dim, opts.self_training)?;
        sums.iter_mut().zip(shares).for_each(|(s, v)| *s += v);
    }
    let [rp, fp, rc, fc, rh, fh] = sums.map(|v| v / opts.draws.max(1) as f64);
    Ok(FewShot { shots, recall_page: rp, false_page: fp, recall_centred: rc, false_centred: fc, recall_head: rh, false_head: fh })
}

/// One few-shot draw: a new class made from `examples`, then the shares of `rest` (its other glitches) and of
/// `known_test` (known glitches) whose top class it becomes, by prototypes (`rescore_with_few_shot`), by centred
/// prototypes and by the page's rule (the reference head refitted with the new class from `MIN_EXAMPLES` examples
/// on, prototypes below): [recall, false] of each, in that order. `refs` are the fold's references, `model` its
/// head; every index is into `glitches`.
#[allow(clippy::too_many_arguments)]
pub(super) fn one_draw(
    glitches: &[RealGlitch],
    examples: &[usize],
    rest: &[usize],
    known_test: &[usize],
    refs: &[usize],
    model: &FoldModel,
    known_names: &[String],
    dim: usize,
    training: SelfTraining,
) -> Result<[f64; 6]> {
    let eval: Vec<usize> = rest.iter().chain(known_test).copied().collect();
    let rows = |idx: &[usize]| Embeddings::from_rows(&idx.iter().map(|&i| glitches[i].embedding.as_slice()).collect::<Vec<_>>());
    let ref_emb = rows(refs)?;
    let ref_labels: Vec<&str> = refs.iter().map(|&i| glitches[i].class.as_str()).collect();
    let known = Prototypes::from_labelled(&ref_emb, &ref_labels)?;
    // Probabilities in `known_names` order (the prototypes are matched to labels by name).
    let mut probs = Vec::with_capacity(eval.len() * known_names.len());
    for &i in &eval {
        probs.extend(model.probabilities(&glitches[i].embedding)?);
    }
    let eval_emb = rows(&eval)?;
    let eval_keys: Vec<String> = eval.iter().map(|&i| glitches[i].key.clone()).collect();
    let mut set = FewShotSet::new(dim, None);
    let ex_emb = rows(examples)?;
    set.add_class("new class", &ex_emb, examples.iter().map(|&i| glitches[i].key.clone()).collect())?;
    let rescored = rescore_with_few_shot(&set, known_names, &probs, &eval_emb, &eval_keys, Some(&known), DEFAULT_TEMPERATURE)?;
    let page: Vec<bool> = rescored.iter().map(|r| r.top5.first().is_some_and(|t| t.few_shot)).collect();
    let centred = centred_rule(&ref_emb, &ref_labels, &ex_emb, &eval_emb)?;
    // The page's rule (`rescore_with_reference`): from 3 examples on, the head rule or the prototypes where only
    // they say new; below, the head rule bootstrapped from the glitches the prototypes are sure of, or the
    // prototypes.
    let head = head_rule(glitches, refs, examples, &eval, known_names, model, training)?;
    let share = |v: &[bool]| v.iter().filter(|&&b| b).count() as f64 / v.len().max(1) as f64;
    let n = rest.len();
    Ok([share(&page[..n]), share(&page[n..]), share(&centred[..n]), share(&centred[n..]), share(&head[..n]), share(&head[n..])])
}

/// The page's rule for a few-shot class of 3 examples or more (`few_shot_head::rescore_with_reference`): the
/// fold's reference head fitted again with the examples as a class of their own, or the references' class
/// prototypes where only they put a glitch in it; the fold head's probabilities are the model's. Is each of
/// `eval` put in the new class?
fn head_rule(
    glitches: &[RealGlitch],
    refs: &[usize],
    examples: &[usize],
    eval: &[usize],
    known_names: &[String],
    model: &FoldModel,
    training: SelfTraining,
) -> Result<Vec<bool>> {
    let reference = ReferenceSet::new(
        refs.iter().map(|&i| glitches[i].class.clone()).collect(),
        refs.iter().map(|&i| format!("ref-{}", glitches[i].key)).collect(),
        &Embeddings::from_rows(&refs.iter().map(|&i| glitches[i].embedding.as_slice()).collect::<Vec<_>>())?,
    )?;
    let all: Vec<usize> = examples.iter().chain(eval).copied().collect();
    let keys: Vec<String> = all.iter().map(|&i| glitches[i].key.clone()).collect();
    let mut set = FewShotSet::new(reference.dim(), None);
    let emb = Embeddings::from_rows(&all.iter().map(|&i| glitches[i].embedding.as_slice()).collect::<Vec<_>>())?;
    set.add_class("new class", &emb.select(&(0..examples.len()).collect::<Vec<_>>())?, keys[..examples.len()].to_vec())?;
    let mut probs = Vec::with_capacity(all.len() * known_names.len());
    for &i in &all {
        probs.extend(model.probabilities(&glitches[i].embedding)?);
    }
    let scored = rescore_with_reference_by(&set, &reference, known_names, &probs, &emb, &keys, DEFAULT_TEMPERATURE, training)?;
    Ok(scored[examples.len()..].iter().map(|r| r.top5.first().is_some_and(|t| t.few_shot)).collect())
}

/// Nearest prototype after centring on the references' mean direction (as the unfamiliar score does): is each
/// glitch nearer the examples' prototype than every known class's?
fn centred_rule(refs: &Embeddings, labels: &[&str], examples: &Embeddings, eval: &Embeddings) -> Result<Vec<bool>> {
    let unit_refs = refs.normalised()?;
    let dim = refs.dim();
    let mut centre = vec![0.0f32; dim];
    unit_refs.rows().for_each(|r| centre.iter_mut().zip(r).for_each(|(c, v)| *c += v / unit_refs.len() as f32));
    let centred = |e: &Embeddings| -> Result<Embeddings> {
        let u = e.normalised()?;
        let flat: Vec<f32> = u.rows().flat_map(|r| r.iter().zip(&centre).map(|(v, c)| v - c)).collect();
        Ok(Embeddings::from_flat(flat, dim)?)
    };
    let known = Prototypes::from_labelled(&centred(refs)?, labels)?;
    let new = Prototypes::from_labelled(&centred(examples)?, &vec!["new"; examples.len()])?;
    let q = centred(eval)?;
    q.rows()
        .map(|r| {
            let best_known = known.similarities(r)?.into_iter().fold(f32::NEG_INFINITY, f32::max);
            Ok(new.similarities(r)?[0] > best_known)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use glitchscope::discovery::synthetic::gaussian_blobs;

    /// Five blobs, one left out: it must score as new, be flagged at about the stated false-alarm rate, and a
    /// few examples must define it. Blobs that overlap less than real classes do; the benchmark's own numbers
    /// come from `glitchscope unseen` on real glitches.
    #[test]
    fn a_left_out_blob_is_found() {
        let (data, truth) = gaussian_blobs(5, 30, 96, 0.6, 11).unwrap();
        let glitches: Vec<RealGlitch> = data
            .rows()
            .zip(&truth)
            .enumerate()
            .map(|(i, (e, &b))| RealGlitch { key: format!("g{i}"), source: "s".into(), class: format!("c{b}"), embedding: e.to_vec(), top_probability: None })
            .collect();
        let opts = Options { folds: 3, seed: 1, false_alarm_rate: 0.05, shots: vec![1, 3], draws: 4, trained_on: BTreeSet::new(), self_training: glitchscope::discovery::few_shot_head::SELF_TRAINING };
        let r = leave_out(&glitches, "c4", &[], &opts).unwrap();
        assert_eq!((r.n, r.known), (30, 120));
        let knn5 = score_names().iter().position(|n| *n == "knn5").unwrap();
        assert!(r.auroc[knn5] > 0.95, "AUROC {}", r.auroc[knn5]);
        assert!(r.recall[knn5] > 0.8, "recall {}", r.recall[knn5]);
        assert!(r.false_alarms[knn5] < 0.15, "false alarms {}", r.false_alarms[knn5]);
        assert!(r.auroc.iter().all(|a| (0.0..=1.0).contains(a)));
        let three = r.few_shot.iter().find(|f| f.shots == 3).unwrap();
        assert!(three.recall_centred > 0.8 && three.false_centred < 0.1, "centred few-shot {} / {}", three.recall_centred, three.false_centred);
        assert!(three.recall_head > 0.8 && three.false_head < 0.1, "head few-shot {} / {}", three.recall_head, three.false_head);
        // A network that trained on half of the known glitches: they become references only, so the left-out
        // blob is measured against the other half, and a class the network trained on cannot be left out.
        let half: BTreeSet<String> = glitches.iter().enumerate().filter(|(i, g)| i % 2 == 0 && g.class != "c4").map(|(_, g)| g.key.clone()).collect();
        let trained_opts = Options { trained_on: half.clone(), ..opts.clone() };
        let t = leave_out(&glitches, "c4", &[], &trained_opts).unwrap();
        assert_eq!((t.n, t.known), (30, 120 - half.len()));
        assert!(t.auroc[knn5] > 0.95, "AUROC with trained-on references {}", t.auroc[knn5]);
        // Copies of one subject share split.csv's key: one trained on means all are.
        let mut copies = glitches.clone();
        copies[0].key = "subject (копие)-0".into();
        copies[1].key = "subject (копие)-1".into();
        let one_copy = Options { trained_on: ["subject".to_string()].into(), ..opts.clone() };
        assert_eq!(leave_out(&copies, "c4", &[], &one_copy).unwrap().known, 120 - 2);
        let err = leave_out(&glitches, "c3", &[], &Options { trained_on: glitches.iter().map(|g| g.key.clone()).collect(), ..opts.clone() });
        assert!(err.is_err_and(|e| e.to_string().contains("trained on")));
        // A class with one glitch cannot be left out.
        let mut one = glitches[..121].to_vec();
        one[120].class = "lonely".into();
        assert!(leave_out(&one, "lonely", &[], &opts).is_err());
    }

    /// The synthetic protocol: real known blobs are the references; synthetic copies of the known blobs, moved
    /// off by a common offset (a domain gap), are the negatives, and a synthetic new blob the positives.
    #[test]
    fn a_synthetic_new_blob_is_measured_against_synthetic_known_ones() {
        let (data, truth) = gaussian_blobs(5, 40, 96, 0.6, 12).unwrap();
        let offset: Vec<f32> = (0..96).map(|d| if d % 7 == 0 { 0.05 } else { 0.0 }).collect();
        let mut glitches = Vec::new();
        for (i, (e, &b)) in data.rows().zip(&truth).enumerate() {
            let (source, embedding) = if b == 4 || i % 2 == 1 {
                (SYNTHETIC_SOURCE.to_string(), e.iter().zip(&offset).map(|(v, o)| v + o).collect())
            } else {
                ("real".to_string(), e.to_vec())
            };
            glitches.push(RealGlitch { key: format!("g{i}"), source, class: format!("c{b}"), embedding, top_probability: None });
        }
        let opts = Options { folds: 3, seed: 1, false_alarm_rate: 0.05, shots: vec![3], draws: 4, trained_on: BTreeSet::new(), self_training: glitchscope::discovery::few_shot_head::SELF_TRAINING };
        let r = leave_out_synthetic(&glitches, "c4", &[], &opts).unwrap();
        // 40 synthetic new glitches against the 80 synthetic known ones (half of c0..c3).
        assert_eq!((r.n, r.known), (40, 80));
        let knn1 = score_names().iter().position(|n| *n == "knn1").unwrap();
        assert!(r.auroc[knn1] > 0.95, "AUROC {}", r.auroc[knn1]);
        // The real protocol ignores synthetic glitches: c4 has no real glitch to leave out.
        assert!(leave_out(&glitches, "c4", &[], &opts).is_err());
        let real = leave_out(&glitches, "c3", &[], &opts).unwrap();
        assert_eq!((real.n, real.known), (20, 60));
    }

    #[test]
    fn auc_and_quantiles() {
        assert_eq!(auc(&[2.0, 3.0], &[0.0, 1.0]), 1.0);
        assert_eq!(auc(&[1.0], &[1.0]), 0.5);
        assert_eq!(quantile(&[3.0, 1.0, 2.0], 1.0), 3.0);
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 2.5), 0.5);
    }
}
