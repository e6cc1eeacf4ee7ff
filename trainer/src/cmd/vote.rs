//! `glitchscope vote`: fit and measure the neighbour vote (`glitchscope::discovery::neighbour_vote`) of a model
//! card on labelled real glitches that its network never trained on.
//!
//! Every held-out glitch is classified by the head alone and compared with every glitch of the card's reference
//! set, itself left out (by key) when it is there. The two weights of the vote are fitted by the negative
//! log-likelihood on a grid; the figures printed are **nested**: the glitches are cut into folds (all views of
//! a glitch in one), the weights fitted on the other folds predict each fold, so no printed figure comes from
//! weights that saw the glitch. `--write` then fits on all of them and writes the vote into the card.
//!
//! Two sources of held-out glitches:
//! - `--held-out DIR...`: real glitches the card's own network never trained on, compared with the card's
//!   reference set (itself left out);
//! - `--cv RUN`: a `glitchscope cv` run over every real glitch. Each fold's held-out glitches, with that fold's
//!   out-of-fold probabilities (its logits under the cross-fitted temperature), are compared with the real
//!   glitches that fold trained on, embedded by the same fold network (`fold-N/embeddings.json`). This is how a
//!   model trained on every real glitch gets its vote: the weights transfer from the folds as the temperature does.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use glitchscope::card::NeighbourVoteSpec;
use glitchscope::discovery::{NeighbourVote, ReferenceSet, neighbour_vote};
use glitchscope::inference::Classifier;
use glitchscope::views::GlitchViews;
use rand::SeedableRng;
use rand::seq::SliceRandom;

use crate::files::{find_glitches, folder_label, prepare_group};
use crate::report::calibration::reliability;

#[derive(Args)]
pub struct VoteArgs {
    /// Model card (JSON) with a reference set; its weights and reference files sit next to it.
    #[arg(long, default_value = "models/default.json")]
    pub model: PathBuf,
    /// Folders of labelled real glitches (`<Class>/<files>`) the network never trained on; each is reported as
    /// a source of its own. Classes the model does not have are skipped.
    #[arg(long, num_args = 1.., required_unless_present = "cv", conflicts_with = "cv")]
    pub held_out: Vec<PathBuf>,
    /// A `glitchscope cv` output folder (fold-N/predictions.json and embeddings.json): fit out of fold.
    #[arg(long)]
    pub cv: Option<PathBuf>,
    /// Classes whose reference glitches do not vote (only the head speaks for them).
    #[arg(long, value_delimiter = ',', default_value = "None_of_the_Above")]
    pub exclude: Vec<String>,
    /// Folds of the nested measurement.
    #[arg(long, default_value_t = 5)]
    pub folds: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Write the vote fitted on every held-out glitch into the card.
    #[arg(long)]
    pub write: bool,
    /// Also write the tables (markdown) to this file.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Write the vote's wrong answers at >= 80 % confidence as a PNG contact sheet (their views as the network
    /// sees them, with what they are and what they were called). With --cv, give --real too: a cv run keeps
    /// keys and sources, not file names.
    #[arg(long)]
    pub errors: Option<PathBuf>,
    /// With --cv and --errors: the folder of real sources the cv run read (`<source>/<Class>/<files>`), where the
    /// views of its glitches are found by source and key.
    #[arg(long)]
    pub real: Option<PathBuf>,
    /// Glitches per forward pass.
    #[arg(long, default_value_t = 8)]
    pub batch_size: usize,
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

/// One held-out glitch: what the head says and how close it is to each class's reference glitches.
struct HeldOut {
    key: String,
    /// The glitch's view files (empty for glitches read from a cv run).
    files: Vec<PathBuf>,
    source: String,
    class: usize,
    head: Vec<f32>,
    similarities: Vec<f32>,
    /// The reference head's probabilities (`q`), in card label order; empty when the bank has no head.
    reference_head: Vec<f32>,
    /// A single picture (the card's single-picture temperature and weights are for it).
    single: bool,
}

impl HeldOut {
    fn reference_head(&self) -> Option<&[f32]> {
        (!self.reference_head.is_empty()).then_some(self.reference_head.as_slice())
    }

    /// The vote with weights (a, b, g).
    fn combine(&self, (a, b, g): Weights) -> Vec<f32> {
        neighbour_vote::combine(&self.head, &self.similarities, self.reference_head(), a, b, g)
    }
}

/// (a, b, g): the weights of the head, the nearest neighbours and the reference head.
type Weights = (f32, f32, f32);

/// Weights for the glitches of four views (or any but a single picture) and for single pictures.
#[derive(Clone, Copy)]
struct KindWeights {
    views: Weights,
    /// None: too few single pictures to fit apart; they take `views`.
    single: Option<Weights>,
}

/// Fewest single pictures among the glitches a fit sees for their weights to be fitted apart.
const MIN_SINGLE: usize = 30;

impl KindWeights {
    fn of(&self, g: &HeldOut) -> Weights {
        match self.single {
            Some(w) if g.single => w,
            _ => self.views,
        }
    }

    fn fit(glitches: &[&HeldOut]) -> Self {
        let singles: Vec<&HeldOut> = glitches.iter().filter(|g| g.single).copied().collect();
        if singles.len() < MIN_SINGLE || singles.len() == glitches.len() {
            return Self { views: fit(glitches), single: None };
        }
        let others: Vec<&HeldOut> = glitches.iter().filter(|g| !g.single).copied().collect();
        Self { views: fit(&others), single: Some(fit(&singles)) }
    }

    fn describe(&self) -> String {
        let w = |(a, b, g): Weights| format!("({a:.2}, {b:.0}, {g:.1})");
        match self.single {
            Some(s) => format!("{} / single pictures {}", w(self.views), w(s)),
            None => w(self.views),
        }
    }
}

/// The weight grids: `a` (head) in steps of 0.05 up to 2, `b` (neighbours) in steps of 2 up to 60, `g`
/// (reference head) in steps of 0.1 up to 2 (only 0 when the glitches have no reference head). Measured optima
/// on the shipped models: a near 1 and b = 0 with every source in training; b near 20 before that.
fn grid(with_reference_head: bool) -> impl Iterator<Item = Weights> {
    let gs = if with_reference_head { 20 } else { 0 };
    (0..=40).flat_map(move |i| (0..=30).flat_map(move |j| (0..=gs).map(move |k| (i as f32 * 0.05, j as f32 * 2.0, k as f32 * 0.1))))
}

/// Each glitch's three terms as f64 (ln p, s, ln q) with its class: the NLL over the grid without allocating.
struct Terms {
    rows: Vec<([f64; 3], usize)>,
    classes: usize,
}

impl Terms {
    fn new(glitches: &[&HeldOut]) -> Self {
        let ln = |p: f32| f64::from(p.max(1e-12)).ln();
        let classes = glitches.first().map_or(0, |g| g.head.len());
        let rows = glitches
            .iter()
            .flat_map(|g| (0..classes).map(move |c| ([ln(g.head[c]), f64::from(g.similarities[c]), g.reference_head().map_or(0.0, |q| ln(q[c]))], g.class)))
            .collect();
        Self { rows, classes }
    }

    fn nll(&self, (a, b, g): Weights) -> f64 {
        let (a, b, g) = (f64::from(a), f64::from(b), f64::from(g));
        let mut sum = 0.0;
        let mut z = vec![0.0f64; self.classes];
        for glitch in self.rows.chunks_exact(self.classes.max(1)) {
            for (zc, (t, _)) in z.iter_mut().zip(glitch) {
                *zc = a * t[0] + b * t[1] + g * t[2];
            }
            let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let log_sum = max + z.iter().map(|v| (v - max).exp()).sum::<f64>().ln();
            sum += log_sum - z[glitch[0].1];
        }
        sum / (self.rows.len() / self.classes.max(1)).max(1) as f64
    }
}

/// The (a, b, g) of least NLL on these glitches.
fn fit(glitches: &[&HeldOut]) -> Weights {
    let terms = Terms::new(glitches);
    grid(glitches.iter().all(|g| g.reference_head().is_some()))
        .filter(|&(a, b, g)| a > 0.0 || b > 0.0 || g > 0.0)
        .map(|w| (terms.nll(w), w))
        .min_by(|x, y| x.0.total_cmp(&y.0))
        .map(|(_, w)| w)
        .expect("the grid is not empty")
}

/// Folds by glitch key, shuffled with the seed, stratified by class (dealt round-robin class by class).
fn folds(glitches: &[HeldOut], k: usize, seed: u64) -> Vec<usize> {
    let mut by_class: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
    for g in glitches {
        let keys = by_class.entry(g.class).or_default();
        if !keys.contains(&g.key.as_str()) {
            keys.push(&g.key);
        }
    }
    let mut rng = chacha20::ChaCha8Rng::seed_from_u64(seed);
    let mut fold_of: BTreeMap<&str, usize> = BTreeMap::new();
    let mut next = 0;
    for keys in by_class.values_mut() {
        keys.sort_unstable();
        keys.shuffle(&mut rng);
        for key in keys.iter() {
            fold_of.entry(key).or_insert_with(|| {
                next += 1;
                (next - 1) % k
            });
        }
    }
    glitches.iter().map(|g| fold_of[g.key.as_str()]).collect()
}

/// Top-1, macro recall, ECE and the confident errors of some predictions.
struct Scores {
    n: usize,
    top1: f64,
    macro_recall: f64,
    ece: f64,
    confident_errors: usize,
}

fn score(rows: &[(&HeldOut, &[f32])]) -> Scores {
    let mut per_class: BTreeMap<usize, (usize, usize)> = BTreeMap::new();
    let mut pairs = Vec::new();
    let mut confident_errors = 0;
    for (g, p) in rows {
        let (top, conf) = argmax(p);
        let ok = top == g.class;
        let e = per_class.entry(g.class).or_default();
        e.0 += 1;
        e.1 += usize::from(ok);
        pairs.push((conf, ok));
        confident_errors += usize::from(!ok && conf >= 0.95);
    }
    let n = rows.len();
    let right: usize = per_class.values().map(|v| v.1).sum();
    let recalls: Vec<f64> = per_class.values().map(|&(t, r)| r as f64 / t as f64).collect();
    Scores {
        n,
        top1: 100.0 * right as f64 / n.max(1) as f64,
        macro_recall: 100.0 * recalls.iter().sum::<f64>() / recalls.len().max(1) as f64,
        ece: reliability(&pairs).ece,
        confident_errors,
    }
}

fn of_source<'a>(rows: &[(&'a HeldOut, &'a [f32])], source: &str) -> Vec<(&'a HeldOut, &'a [f32])> {
    rows.iter().filter(|r| r.0.source == source).copied().collect()
}

fn argmax(p: &[f32]) -> (usize, f32) {
    p.iter().enumerate().fold((0, f32::MIN), |best, (i, &v)| if v > best.1 { (i, v) } else { best })
}

fn row(name: &str, s: &Scores) -> String {
    format!(
        "| {name} | {} | {:.1} % | {:.1} % | {:.1} % | {} |\n",
        s.n, s.top1, s.macro_recall, s.ece, s.confident_errors
    )
}

pub fn run(args: VoteArgs) -> Result<()> {
    if args.folds < 2 {
        bail!("--folds must be at least 2, got {}", args.folds);
    }
    let card_text = std::fs::read_to_string(&args.model).with_context(|| format!("reading {}", args.model.display()))?;
    let card = glitchscope::card::ModelCard::from_json(&args.model.display().to_string(), &card_text)?;
    let (mut glitches, bank, writable) = match &args.cv {
        Some(run) => from_cv(run, &card.labels, &args.exclude)?,
        None => {
            let Some(reference) = card.reference.clone() else {
                bail!("{} names no reference set: make one first (scripts/make-reference-set.sh)", args.model.display())
            };
            let device = crate::device::select(&args.device)?;
            let classifier = Classifier::from_card_file(&args.model, &device)?.head_only();
            let reference_path = args.model.with_file_name(&reference.file);
            let bytes = std::fs::read(&reference_path).with_context(|| format!("reading {}", reference_path.display()))?;
            let set = ReferenceSet::from_bytes(&bytes, &reference_path.display().to_string())?;
            let vote = NeighbourVote::new(placeholder(&args.exclude, &set), set, &card.labels)?;
            let bank = format!("reference set {} ({} glitches)", reference.file, vote.reference().len());
            (held_out(&args, &classifier, &vote)?, bank, true)
        }
    };
    if let (Some(_), Some(_), Some(real)) = (&args.cv, &args.errors, &args.real) {
        attach_files(&mut glitches, real)?;
    }
    if args.write && !writable {
        bail!("--write needs a finished cv run (its cv.json holds the temperature the vote's weights are fitted under)");
    }
    if glitches.len() < 2 * args.folds {
        bail!("{} held-out glitches are too few for {} folds", glitches.len(), args.folds);
    }

    // Nested: each fold predicted with the weights fitted on the others.
    let fold_of = folds(&glitches, args.folds, args.seed);
    let mut voted: Vec<Vec<f32>> = vec![Vec::new(); glitches.len()];
    let mut chosen = Vec::new();
    for f in 0..args.folds {
        let train: Vec<&HeldOut> = glitches.iter().zip(&fold_of).filter(|(_, k)| **k != f).map(|(g, _)| g).collect();
        let weights = KindWeights::fit(&train);
        chosen.push(weights.describe());
        for (i, glitch) in glitches.iter().enumerate().filter(|(i, _)| fold_of[*i] == f) {
            voted[i] = glitch.combine(weights.of(glitch));
        }
    }
    let head_rows: Vec<(&HeldOut, &[f32])> = glitches.iter().map(|g| (g, g.head.as_slice())).collect();
    let vote_rows: Vec<(&HeldOut, &[f32])> = glitches.iter().zip(&voted).map(|(g, p)| (g, p.as_slice())).collect();
    let nn_only: Vec<Vec<f32>> = glitches.iter().map(|g| g.combine((0.0, 50.0, 0.0))).collect();
    let nn_rows: Vec<(&HeldOut, &[f32])> = glitches.iter().zip(&nn_only).map(|(g, p)| (g, p.as_slice())).collect();
    // The reference head alone, under its own fitted temperature (g alone, nested like the vote).
    let with_head = glitches.iter().all(|g| g.reference_head().is_some());
    let mut head_only: Vec<Vec<f32>> = vec![Vec::new(); glitches.len()];
    for f in 0..args.folds {
        let train: Vec<&HeldOut> = glitches.iter().zip(&fold_of).filter(|(_, k)| **k != f).map(|(g, _)| g).collect();
        let terms = Terms::new(&train);
        let g = (1..=40)
            .map(|k| k as f32 * 0.05)
            .map(|g| (terms.nll((0.0, 0.0, g)), g))
            .min_by(|x, y| x.0.total_cmp(&y.0))
            .map_or(1.0, |(_, g)| g);
        for (i, glitch) in glitches.iter().enumerate().filter(|(i, _)| fold_of[*i] == f) {
            head_only[i] = glitch.combine((0.0, 0.0, g));
        }
    }
    let ref_head_rows: Vec<(&HeldOut, &[f32])> = glitches.iter().zip(&head_only).map(|(g, p)| (g, p.as_slice())).collect();

    let command: Vec<String> = std::env::args().skip(1).collect();
    let mut out = format!(
        "# The neighbour vote on real glitches the network never trained on\n\nMade by `glitchscope {}` \
         (how the vote works: `src/discovery/neighbour_vote.rs`). Every figure below is nested: each glitch is \
         predicted with weights fitted on the other folds, and compared with the reference set without itself.\n\n",
        command.join(" ")
    );
    out += &format!(
        "Neighbour vote of {} on {} held-out real glitches ({} folds by glitch, seed {}; weights (a, b, g) per fold, single pictures fitted apart when at least {MIN_SINGLE}: {}); \
         compared with the {bank}; excluded from voting: {}\n\n",
        card.name,
        glitches.len(),
        args.folds,
        args.seed,
        chosen.join("; "),
        if args.exclude.is_empty() { "none".into() } else { args.exclude.join(", ") }
    );
    out += "| rule | glitches | top-1 | macro recall | ECE | wrong at >= 95 % |\n|---|---:|---:|---:|---:|---:|\n";
    out += &row("head alone (card's temperature)", &score(&head_rows));
    out += &row("nearest real glitch alone", &score(&nn_rows));
    if with_head {
        out += &row("reference head alone (nested temperature)", &score(&ref_head_rows));
    }
    out += &row("**vote (nested)**", &score(&vote_rows));
    let sources: BTreeSet<&str> = glitches.iter().map(|g| g.source.as_str()).collect();
    out += "\n| source | glitches | head top-1 | vote top-1 | head macro recall | vote macro recall | vote ECE |\n|---|---:|---:|---:|---:|---:|---:|\n";
    for s in &sources {
        let (h, v) = (score(&of_source(&head_rows, s)), score(&of_source(&vote_rows, s)));
        out += &format!("| {s} | {} | {:.1} % | {:.1} % | {:.1} % | {:.1} % | {:.1} % |\n", h.n, h.top1, v.top1, h.macro_recall, v.macro_recall, v.ece);
    }
    out += "\n| class | glitches | head right | vote right |\n|---|---:|---:|---:|\n";
    for (c, label) in card.labels.iter().enumerate() {
        let of: Vec<usize> = (0..glitches.len()).filter(|&i| glitches[i].class == c).collect();
        if of.is_empty() {
            continue;
        }
        let head_right = of.iter().filter(|&&i| argmax(&glitches[i].head).0 == c).count();
        let vote_right = of.iter().filter(|&&i| argmax(&voted[i]).0 == c).count();
        out += &format!("| {label} | {} | {head_right} | {vote_right} |\n", of.len());
    }
    let wrong: Vec<(&HeldOut, String)> = glitches
        .iter()
        .zip(&voted)
        .filter_map(|(g, p)| {
            let (top, conf) = argmax(p);
            (top != g.class && conf >= 0.8)
                .then(|| (g, format!("{} ({}): {} called {} at {:.0} %", g.key, g.source, card.labels[g.class], card.labels[top], 100.0 * conf)))
        })
        .collect();
    let lines: Vec<String> = wrong.iter().map(|(_, caption)| format!("- {caption}")).collect();
    out += &format!("\nWrong answers of the vote at >= 80 % confidence: {}\n{}\n", wrong.len(), lines.join("\n"));
    if let Some(path) = &args.errors {
        let rows: Vec<crate::gallery::Wrong> =
            wrong.iter().filter(|(g, _)| !g.files.is_empty()).map(|(g, caption)| crate::gallery::Wrong { files: g.files.clone(), caption: caption.clone() }).collect();
        crate::gallery::write_error_sheet(&rows, path)?;
        out += &format!("\nTheir views, as the network sees them: `{}`\n", path.display());
    }

    let all: Vec<&HeldOut> = glitches.iter().collect();
    let weights = KindWeights::fit(&all);
    let (a, b, g) = weights.views;
    out += &format!("\nFitted on all {} held-out glitches, (a, b, g): {}\n", glitches.len(), weights.describe());
    print!("{out}");
    if let Some(path) = &args.report {
        std::fs::write(path, &out).with_context(|| format!("writing {}", path.display()))?;
    }
    if args.write {
        let text = std::fs::read_to_string(&args.model).with_context(|| format!("reading {}", args.model.display()))?;
        let mut card: serde_json::Value = serde_json::from_str(&text)?;
        // The figures of the method text are the nested ones printed above.
        let spec = NeighbourVoteSpec {
            head_weight: a,
            similarity_weight: b,
            reference_head_weight: g,
            single_picture_weights: weights.single.map(|(a, b, g)| [a, b, g]),
            excluded: args.exclude.clone(),
            method: format!(
                "NLL-fitted on {} real glitches {} ({}), each compared with the {bank}; nested {}-fold: top-1 {:.1} %, \
                 macro recall {:.1} %, ECE {:.1} % (head alone {:.1} %, {:.1} %, {:.1} %); `glitchscope {}`",
                glitches.len(),
                if args.cv.is_some() { "out of fold in the cross-validation" } else { "the network never trained on" },
                sources.iter().copied().collect::<Vec<_>>().join(", "),
                args.folds,
                score(&vote_rows).top1,
                score(&vote_rows).macro_recall,
                score(&vote_rows).ece,
                score(&head_rows).top1,
                score(&head_rows).macro_recall,
                score(&head_rows).ece,
                command.join(" "),
            ),
        };
        card["neighbour_vote"] = serde_json::to_value(&spec)?;
        std::fs::write(&args.model, serde_json::to_string_pretty(&card)? + "\n")
            .with_context(|| format!("writing {}", args.model.display()))?;
        println!("wrote the vote {} into {}", weights.describe(), args.model.display());
    }
    Ok(())
}

/// The view files of cv glitches, found under `real` by (source, key): the first folder under `real` is the
/// source, as `glitchscope cv` names it.
fn attach_files(glitches: &mut [HeldOut], real: &std::path::Path) -> Result<()> {
    let (files, groups) = find_glitches(&[real.to_path_buf()], None)?;
    let mut by_key: BTreeMap<(String, String), Vec<PathBuf>> = BTreeMap::new();
    for group in &groups {
        let paths: Vec<PathBuf> = group.files.iter().map(|f| files[f.index].clone()).collect();
        by_key.insert((crate::files::source_of(real, &paths[0]), group.key.clone()), paths);
    }
    for g in glitches.iter_mut() {
        if let Some(paths) = by_key.get(&(g.source.clone(), g.key.clone())) {
            g.files = paths.clone();
        }
    }
    Ok(())
}

/// A rule to bind a set with, weighing the reference head when the set has one (so that its `q` is computed).
fn placeholder(exclude: &[String], set: &ReferenceSet) -> NeighbourVoteSpec {
    NeighbourVoteSpec {
        head_weight: 1.0,
        similarity_weight: 1.0,
        reference_head_weight: if set.reference_head().is_some() { 1.0 } else { 0.0 },
        single_picture_weights: None,
        excluded: exclude.to_vec(),
        method: String::new(),
    }
}

/// The out-of-fold glitches of a `glitchscope cv` run, each compared with the real glitches its fold trained on.
fn from_cv(run: &std::path::Path, labels: &[String], exclude: &[String]) -> Result<(Vec<HeldOut>, String, bool)> {
    use crate::train::cv::{EMBEDDINGS, FoldEmbedding, OutOfFold};
    // The head's probabilities under the cross-fitted temperature, which becomes the final card's: `a` then means
    // the same in the card. While the run is unfinished (no cv.json yet) the finished folds are measured with
    // T = 1; the vote is then the same family (a ln softmax(l / T) = (a / T) l + a constant), but its `a` is
    // not the card's, so --write refuses it.
    // Cards from runs with enough single pictures have a second temperature for them; the run's
    // predictions.json (written with cv.json) says which glitches those are.
    let mut single_picture_temperature = None;
    let temperature = match std::fs::read_to_string(run.join("cv.json")) {
        Ok(text) => {
            let report: serde_json::Value = serde_json::from_str(&text).with_context(|| format!("reading {}/cv.json", run.display()))?;
            single_picture_temperature = report["single_picture_temperature"].as_f64().map(|t| t as f32);
            Some(report["temperature"].as_f64().context("cv.json has no temperature")? as f32)
        }
        Err(_) => {
            eprintln!("note: {}/cv.json is not there yet (unfinished run): measuring the finished folds with T = 1", run.display());
            None
        }
    };
    let single: std::collections::BTreeSet<(String, String)> = match (single_picture_temperature, std::fs::read_to_string(run.join("predictions.json"))) {
        (Some(_), Ok(text)) => serde_json::from_str::<Vec<OutOfFold>>(&text)
            .with_context(|| format!("reading {}/predictions.json", run.display()))?
            .into_iter()
            .filter(|p| p.single_picture)
            .map(|p| (p.source, p.key))
            .collect(),
        _ => Default::default(),
    };
    // The card's rule for which temperature a glitch gets, with the run's cross-fitted temperatures.
    let calibration = temperature.map(|temperature| glitchscope::card::Calibration {
        temperature,
        single_picture_temperature,
        method: String::new(),
        ece_before: None,
        ece_after: None,
    });
    let mut out = Vec::new();
    let mut folds = 0;
    for f in 1.. {
        let dir = run.join(format!("fold-{f}"));
        if !dir.is_dir() {
            break;
        }
        folds += 1;
        let read = |name: &str| std::fs::read_to_string(dir.join(name)).with_context(|| format!("reading {}/{name}", dir.display()));
        if temperature.is_none() && !dir.join("predictions.json").is_file() {
            continue; // a fold still training
        }
        let predictions: Vec<OutOfFold> = serde_json::from_str(&read("predictions.json")?)?;
        let embedded: Vec<FoldEmbedding> = serde_json::from_str(&read(EMBEDDINGS).context(
            "this fold predates the saved fold embeddings: rerun the same `glitchscope cv` command (it trains such folds again)",
        )?)?;
        let bank: Vec<&FoldEmbedding> = embedded.iter().filter(|e| !e.held_out).collect();
        let rows: Vec<&[f32]> = bank.iter().map(|e| e.embedding.as_slice()).collect();
        // The fold's reference head, fitted on the real glitches it trained on as the shipped one is on all of
        // them (`scripts/make-reference-set.sh`), with the same rule.
        let (set, _) = crate::unseen::shipped_calibration::calibrated_set(
            bank.iter().map(|e| e.class.clone()).collect(),
            bank.iter().map(|e| e.key.clone()).collect(),
            &rows,
        )?;
        let vote = NeighbourVote::new(placeholder(exclude, &set), set, labels)?;
        let embedding_of: BTreeMap<&str, &[f32]> =
            embedded.iter().filter(|e| e.held_out).map(|e| (e.key.as_str(), e.embedding.as_slice())).collect();
        for p in predictions {
            let (Some(class), Some(embedding)) = (labels.iter().position(|l| *l == p.class), embedding_of.get(p.key.as_str())) else {
                continue;
            };
            let is_single = single.contains(&(p.source.clone(), p.key.clone()));
            let t = calibration.as_ref().map_or(1.0, |c| c.temperature_for(is_single));
            let head = crate::report::calibration::softmax_t(&p.logits, f64::from(t));
            let similarities = vote.class_similarities(embedding, None)?;
            let reference_head = vote.reference_head_probabilities(embedding)?.unwrap_or_default();
            out.push(HeldOut { key: p.key, files: Vec::new(), source: p.source, class, head, similarities, reference_head, single: is_single });
        }
    }
    if folds == 0 {
        bail!("{} has no fold-N folders: not a `glitchscope cv` output", run.display());
    }
    let finished = if temperature.is_some() { String::new() } else { ", unfinished run: finished folds only, T = 1".into() };
    let bank = format!("real glitches each fold trained on, embedded by that fold's network ({folds} folds of {}{finished})", run.display());
    Ok((out, bank, temperature.is_some()))
}

/// Classify every labelled glitch of the held-out folders with the head, and compare it with the reference set.
fn held_out(args: &VoteArgs, classifier: &Classifier, vote: &NeighbourVote) -> Result<Vec<HeldOut>> {
    let spec = classifier.card.input_spec();
    let mut out = Vec::new();
    for dir in &args.held_out {
        let source = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| dir.display().to_string());
        let (files, groups) = find_glitches(std::slice::from_ref(dir), None)?;
        let mut pending: Vec<(String, usize, GlitchViews, Vec<PathBuf>)> = Vec::new();
        for group in &groups {
            let Some(class) = classifier.card.labels.iter().position(|l| *l == folder_label(group, &files)) else { continue };
            let Some((key, views)) = prepare_group(group, &files, spec) else { continue };
            pending.push((key, class, views, group.files.iter().map(|f| files[f.index].clone()).collect()));
        }
        for chunk in pending.chunks(args.batch_size.max(1)) {
            let views: Vec<GlitchViews> = chunk.iter().map(|c| c.2.clone()).collect();
            for ((key, class, views_of, paths), p) in chunk.iter().zip(classifier.predict(&views)?) {
                let similarities = vote.class_similarities(&p.embedding, Some(key))?;
                let reference_head = vote.reference_head_probabilities(&p.embedding)?.unwrap_or_default();
                out.push(HeldOut {
                    key: key.clone(),
                    files: paths.clone(),
                    source: source.clone(),
                    class: *class,
                    head: p.probabilities,
                    similarities,
                    reference_head,
                    single: glitchscope::views::is_single_picture(views_of),
                });
            }
        }
        eprintln!("{source}: {} labelled glitches", out.iter().filter(|g| g.source == source).count());
    }
    Ok(out)
}
