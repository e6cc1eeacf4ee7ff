//! Cross-validation on the real Gravity Spy glitches: the honest measure of the classifier.
//!
//! The real glitches of the 22 O1 classes are cut into `k` folds, stratified by class and grouped by glitch
//! (all views of a glitch in one fold). Each fold is a full training run on the synthetic data plus the real
//! glitches of the other folds, evaluated on its own real glitches; every real glitch is thus predicted by a
//! model that never saw it ("out of fold"). The synthetic data keeps a stratified validation part that the
//! Learner watches per epoch; nothing is chosen on the held-out real glitches: each fold trains a fixed number
//! of epochs and its last epoch is evaluated.
//!
//! The frozen part of the network is the same ImageNet backbone in every fold, so views (and their augmented
//! copies) go through it once for all folds (`prepare.rs`).
//!
//! Calibration: the temperature applied to fold `f`'s predictions is fitted on the other folds' predictions
//! (cross-fitted), so the ECE after scaling is measured on glitches the temperature never saw. The temperature
//! shipped with a model (`--export`) is fitted on all out-of-fold predictions.


use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use glitchscope::card::Calibration;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::checkpoint;
use super::config::{Plan, TrainConfig};
use super::dataset::{self, GlitchFiles};
use super::export;
use super::fit::{self, FitData};
use super::history::{self, EpochRow};
use super::loader::{GlitchLoader, Sample};
use super::model::Trainee;
use super::prepare::{Prepared, Wanted, prepare};
use super::run;
use super::setup::{self, Setup};
use super::split::{self, Part};
use super::cv_report::Report;

/// How the cross-validation was asked for.
pub struct CvOptions {
    /// Folders of real labelled glitches to cut into folds.
    pub real: Vec<PathBuf>,
    pub folds: usize,
    /// After the folds, train on everything and export `model.json` + `model.bpk` with the CV metrics and
    /// the fitted temperature.
    pub export: bool,
    /// Redo folds that already finished (otherwise their saved predictions are reused).
    pub overwrite: bool,
    pub command: String,
    /// Training recipes to compare on the same folds and the same extracted features: name -> options that
    /// change only training (lr, epochs, real_weight, label_smoothing, ...). Empty: the config alone.
    pub grid: Vec<(String, serde_json::Value)>,
}

/// Options a grid recipe may change: everything that acts after the frozen part (extraction is shared).
/// `copies` in a recipe is how many of the extracted copies training draws from (the extraction makes the
/// most any recipe asks for).
const RECIPE_OPTIONS: &[&str] = &[
    "epochs", "batch_size", "lr", "weight_decay", "schedule", "min_lr", "step_epochs", "step_gamma", "dropout",
    "view_dropout", "unknown_view", "balanced", "real_weight", "label_smoothing", "seed", "copies", "fusion",
];

/// Read a grid file: a JSON object of recipes, each an object of [`RECIPE_OPTIONS`].
pub fn read_grid(path: &Path) -> Result<Vec<(String, serde_json::Value)>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading grid {}", path.display()))?;
    let value: serde_json::Value = serde_json::from_str(&text).with_context(|| format!("grid {} is not JSON", path.display()))?;
    let Some(recipes) = value.as_object() else { bail!("grid {}: expected an object of recipes", path.display()) };
    let mut out = Vec::new();
    for (name, options) in recipes {
        let Some(fields) = options.as_object() else { bail!("grid {}: recipe {name:?} is not an object", path.display()) };
        if let Some(bad) = fields.keys().find(|k| !RECIPE_OPTIONS.contains(&k.as_str())) {
            bail!(
                "grid {}: recipe {name:?} sets {bad:?}, which changes what is extracted; a recipe may set only {}",
                path.display(),
                RECIPE_OPTIONS.join(", ")
            );
        }
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            bail!("grid {}: recipe name {name:?} must be letters, digits, '-' or '_'", path.display());
        }
        out.push((name.clone(), options.clone()));
    }
    if out.is_empty() {
        bail!("grid {} has no recipe", path.display());
    }
    Ok(out)
}

/// The config with a recipe's options applied.
fn with_recipe(config: &TrainConfig, options: &serde_json::Value) -> Result<TrainConfig> {
    let mut merged = serde_json::to_value(config)?;
    if let (Some(m), Some(o)) = (merged.as_object_mut(), options.as_object()) {
        for (k, v) in o {
            m.insert(k.clone(), v.clone());
        }
    }
    let c: TrainConfig = serde_json::from_value(merged).context("a grid option has the wrong type")?;
    c.plan()?;
    Ok(c)
}

/// One real glitch predicted by the model of the fold that held it out.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OutOfFold {
    pub key: String,
    pub class: String,
    pub source: String,
    pub fold: usize,
    /// Logits before any temperature, in O1 class order.
    pub logits: Vec<f32>,
    /// One picture in the unknown-duration slot (`views::is_single_picture`): calibrated by the card's
    /// single-picture temperature. Set from the glitch's files when the predictions are gathered.
    #[serde(default)]
    pub single_picture: bool,
}

const PREDICTIONS: &str = "predictions.json";
/// Per fold: the embedding of every real glitch by that fold's network (its held-out ones and the real ones it
/// trained on), so that `glitchscope vote --cv` can fit the neighbour vote out of fold.
pub const EMBEDDINGS: &str = "embeddings.json";

/// One real glitch embedded by the network of one fold.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FoldEmbedding {
    pub key: String,
    pub class: String,
    pub source: String,
    /// Whether the fold held it out (else it trained on it).
    pub held_out: bool,
    pub embedding: Vec<f32>,
}

/// Assign each glitch (split key, class) to one of `k` folds: per class (in sorted order) the keys are
/// shuffled with the seed and dealt round-robin, each class starting where the previous one stopped so the
/// folds stay the same size. The same key always gets the same fold.
pub fn assign_folds(items: &[(&str, &str)], k: usize, seed: u64) -> Result<Vec<usize>> {
    use rand::SeedableRng;
    use rand::seq::SliceRandom;
    if k < 2 {
        bail!("--folds must be at least 2, got {k}");
    }
    let mut keys_of_class: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for &(key, class) in items {
        let keys = keys_of_class.entry(class).or_default();
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    // A class with one glitch cannot be in two folds, whatever k: it is tested without a real example of
    // its class in training, and the report says so. Any other class must reach every fold.
    if let Some((class, keys)) = keys_of_class.iter().filter(|(_, k)| k.len() >= 2).min_by_key(|(_, k)| k.len()) {
        if keys.len() < k {
            bail!(
                "--folds {k} is more than the smallest class allows: {class} has only {} real glitches, so some \
                 folds would hold none of it; use --folds {} or fewer",
                keys.len(),
                keys.len()
            );
        }
    }
    let mut fold_of_key: BTreeMap<&str, usize> = BTreeMap::new();
    let mut next = 0;
    for (i, keys) in keys_of_class.values_mut().enumerate() {
        keys.sort_unstable();
        let mut rng = chacha20::ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(1000 + i as u64);
        keys.shuffle(&mut rng);
        for key in keys.iter() {
            fold_of_key.entry(key).or_insert_with(|| {
                let f = next % k;
                next += 1;
                f
            });
        }
    }
    Ok(items.iter().map(|(key, _)| fold_of_key[key]).collect())
}


/// A recipe of the cross-validation: its name ("" for the config alone), its options as given, the config
/// with them applied, and its directory.
struct Recipe {
    name: String,
    options: serde_json::Value,
    config: TrainConfig,
    dir: PathBuf,
}

/// The glitches of a cross-validation: synthetic (always trained on, with a validation part to watch) and real
/// (cut into folds).
struct FoldData {
    synthetic: Vec<(GlitchFiles, usize)>,
    /// Per synthetic glitch: trained on, or watched as validation.
    synth_parts: Vec<Part>,
    real: Vec<(GlitchFiles, usize)>,
    /// Per real glitch: the fold that holds it out.
    folds: Vec<usize>,
    ignored: BTreeMap<String, usize>,
}

impl FoldData {
    fn load(config: &TrainConfig, options: &CvOptions) -> Result<FoldData> {
        let mut ignored: BTreeMap<String, usize> = BTreeMap::new();
        let synthetic = dataset::scan(&config.data.iter().map(PathBuf::from).collect::<Vec<_>>())?;
        let real_all = dataset::scan(&options.real)?;
        let synthetic = setup::known(synthetic, &mut ignored);
        let real = setup::known(real_all, &mut ignored);
        if real.is_empty() {
            bail!("no real glitch of an O1 class in {}", join(&options.real));
        }
        let real_keys: Vec<(&str, &str)> = real.iter().map(|(g, _)| (g.split_key(), g.class.as_str())).collect();
        let folds = assign_folds(&real_keys, options.folds, config.seed)?;
        let synth_keys: Vec<(&str, &str)> = synthetic.iter().map(|(g, _)| (g.split_key(), g.class.as_str())).collect();
        let synth_parts = split::stratified_split(&synth_keys, config.valid_fraction, 0.0, config.seed);
        println!(
            "cross-validation: {} real glitches of {} classes in {} folds; {} synthetic glitches ({} watched as \
             validation); ignored classes: {}",
            real.len(),
            real.iter().map(|(_, c)| c).collect::<std::collections::BTreeSet<_>>().len(),
            options.folds,
            synthetic.len(),
            synth_parts.iter().filter(|p| **p == Part::Valid).count(),
            if ignored.is_empty() { "none".to_string() } else { format!("{ignored:?}") }
        );
        Ok(FoldData { synthetic, synth_parts, real, folds, ignored })
    }

    /// Every glitch to read: the synthetic ones (pixels kept for the validation part, which checks the fp16
    /// export), then the real ones, all with augmented copies but the synthetic validation part.
    fn wanted(&self, config: &TrainConfig) -> Vec<Wanted<'_>> {
        let synthetic = self.synthetic.iter().zip(&self.synth_parts).map(|((g, c), part)| Wanted {
            files: g,
            class: *c,
            keep_pixels: *part == Part::Valid,
            copies: *part == Part::Train,
            weight: 1.0,
        });
        let real = self.real.iter().map(|(g, c)| Wanted { files: g, class: *c, keep_pixels: false, copies: true, weight: config.real_weight });
        synthetic.chain(real).collect()
    }

    /// The training samples of the synthetic glitches of `part`.
    fn synth_samples(&self, prepared: &Prepared, part: Part) -> Vec<Sample> {
        pick(&prepared.samples[..self.synthetic.len()], |i| self.synth_parts[i] == part, |s| &s.0)
    }

    /// The same glitches as indices into the pixel store (the whole network runs on them).
    fn synth_pixel_samples(&self, prepared: &Prepared, part: Part) -> Vec<Sample> {
        pick(&prepared.samples[..self.synthetic.len()], |i| self.synth_parts[i] == part, |s| &s.1)
    }

    /// Per real glitch, its samples (`None`: unreadable).
    fn real_samples<'p>(&self, prepared: &'p Prepared) -> &'p [Option<(Sample, Sample)>] {
        &prepared.samples[prepared.samples.len() - self.real.len()..]
    }
}

/// A fresh network for a recipe (its dropout and fusion; the backbone and what is frozen are the same for all).
type NetOf<'a> = dyn Fn(&TrainConfig) -> Result<glitchscope::model::GlitchNet> + 'a;

pub fn cross_validate(mut config: TrainConfig, options: CvOptions) -> Result<()> {
    // Fixed epochs, last epoch evaluated: nothing may be chosen on the held-out fold, and the synthetic
    // validation part saturates too early to pick epochs with.
    config.patience = 0;
    let Setup { plan, device } = setup::start(&config)?;
    if options.real.is_empty() {
        bail!("no real data to cross-validate on (--real DIR)");
    }
    let out = PathBuf::from(&config.out);
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    std::fs::write(out.join(run::CONFIG_FILE), config.to_json())?;
    let data = FoldData::load(&config, &options)?;

    // --- The network and, once for all folds, what its frozen part makes of every view.
    let net_of = |c: &TrainConfig| setup::network(c, &c.plan()?, &device);
    let net = net_of(&config)?;
    let stage = setup::stage(plan.mode, &net);
    let wanted = data.wanted(&config);
    let recipes = recipes(&config, &options, &out)?;
    // Extract only when some fold must still be trained, with as many copies as the most demanding recipe
    // draws from; a report of finished folds needs no network at all.
    let all_done = !options.overwrite
        && recipes.iter().all(|r| {
            (0..options.folds).all(|f| matches!(saved_fold(&r.config, &options, &fold_dir(&r.dir, f)), Ok(Some(_))))
        });
    let extract = |copies: usize| -> Result<Prepared> {
        let mut c = config.clone();
        c.copies = copies;
        prepare(&net, stage, &c, &plan, &wanted, &device)
    };
    let max_copies = recipes.iter().map(|r| r.config.copies).max().unwrap_or(0);
    let prepared = if all_done { None } else { Some(extract(max_copies)?) };
    let shared = Shared {
        data: &data,
        synth_train: prepared.as_ref().map(|p| data.synth_samples(p, Part::Train)).unwrap_or_default(),
        synth_valid: prepared.as_ref().map(|p| data.synth_samples(p, Part::Valid)).unwrap_or_default(),
        prepared: prepared.as_ref(),
        options: &options,
        out: &out,
        device: &device,
    };
    let (best, report, oof_count) = run_recipes(&shared, recipes, &net_of)?;
    drop(shared);
    if options.export {
        let prepared = match prepared {
            Some(p) if p.store.copies.iter().map(Vec::len).max().unwrap_or(0) >= best.config.copies => p,
            _ => extract(best.config.copies)?,
        };
        let shipped = Shipped { recipe: &best, report: &report, oof_count };
        export_final(&data, &prepared, shipped, &options, &out, &net_of, &device)?;
    }
    Ok(())
}

/// The recipes of the grid (or the config alone), each with its config and directory.
fn recipes(config: &TrainConfig, options: &CvOptions, out: &Path) -> Result<Vec<Recipe>> {
    let grid = if options.grid.is_empty() { vec![(String::new(), json!({}))] } else { options.grid.clone() };
    grid.into_iter()
        .map(|(name, recipe)| {
            let config = with_recipe(config, &recipe)?;
            let dir = if name.is_empty() { out.to_path_buf() } else { out.join(&name) };
            Ok(Recipe { name, options: recipe, config, dir })
        })
        .collect()
}

/// Every recipe's folds and report, the comparison table of a grid (`grid.md`), and the recipe that ships:
/// best macro recall (every class counts the same), ties by top-1; with its report and number of
/// out-of-fold predictions.
fn run_recipes(shared: &Shared, recipes: Vec<Recipe>, net_of: &NetOf) -> Result<(Recipe, Report, usize)> {
    let mut results: Vec<(Report, usize)> = Vec::new();
    for recipe in &recipes {
        if !recipe.name.is_empty() {
            println!("== recipe {}: {}", recipe.name, recipe.options);
        }
        results.push(run_recipe(shared, &recipe.config, &recipe.dir, net_of)?);
    }
    if results.len() > 1 {
        let mut table = String::from("| recipe | options | top-1 | top-5 | macro recall | ECE before | ECE after | T |\n|---|---|---:|---:|---:|---:|---:|---:|\n");
        for (recipe, (r, _)) in recipes.iter().zip(&results) {
            table += &format!(
                "| {} | `{}` | {:.1} % | {:.1} % | {:.1} % | {:.1} % | {:.1} % | {:.2} |\n",
                recipe.name, recipe.options, r.top[0], r.top[4], r.macro_recall, r.reliability_before.ece, r.reliability_after.ece, r.temperature
            );
        }
        std::fs::write(shared.out.join("grid.md"), &table)?;
        println!("{table}");
    }
    let best = (0..results.len())
        .max_by(|&a, &b| {
            let key = |i: usize| (results[i].0.macro_recall, results[i].0.top[0]);
            key(a).partial_cmp(&key(b)).unwrap_or(std::cmp::Ordering::Equal)
        })
        .unwrap_or(0);
    let (report, oof_count) = results.swap_remove(best);
    let recipe = recipes.into_iter().nth(best).context("internal: no recipe")?;
    if !recipe.name.is_empty() {
        println!("best recipe by macro recall: {}", recipe.name);
    }
    Ok((recipe, report, oof_count))
}

/// The recipe that ships and what its cross-validation measured.
struct Shipped<'a> {
    recipe: &'a Recipe,
    report: &'a Report,
    oof_count: usize,
}

/// Train the shipped recipe on everything (every real glitch; the synthetic validation part watched) into
/// `out/final`, and export it with the cross-validation metrics and the out-of-fold temperature in its card.
fn export_final(
    data: &FoldData,
    prepared: &Prepared,
    shipped: Shipped,
    options: &CvOptions,
    out: &Path,
    net_of: &NetOf,
    device: &burn::tensor::Device,
) -> Result<()> {
    let Shipped { recipe, report, oof_count } = shipped;
    let config = &recipe.config;
    let dir = out.join("final");
    reset_dir(&dir)?;
    // split.csv of the final fit, in `train`'s format (scripts/make-reference-set.sh reads it): every real
    // glitch is trained on; the synthetic validation part is only watched.
    let rows = data.synthetic.iter().zip(&data.synth_parts).map(|((g, _), p)| (g, *p)).chain(data.real.iter().map(|(g, _)| (g, Part::Train)));
    std::fs::write(dir.join(run::SPLIT_FILE), setup::split_csv(rows)?)?;
    let mut train = data.synth_samples(prepared, Part::Train);
    train.extend(data.real_samples(prepared).iter().flatten().map(|s| s.0.clone()));
    println!("final model: training on {} glitches (all real ones included)", train.len());
    let fit_data = FitData { store: prepared.store.clone(), train, valid: data.synth_samples(prepared, Part::Valid) };
    let plan = config.plan()?;
    fit::fit(&net_of(config)?, config, &plan, fit_data, &dir, 0, Arc::new(Mutex::new(BTreeMap::new())), device)?;
    let trained = fit::load_epoch(net_of(config)?, &dir, config.epochs)?;

    // --- The export, checked in fp16 against f32 on the pixels of the synthetic validation part.
    let pixel_valid = data.synth_pixel_samples(prepared, Part::Valid);
    let card_path = dir.join(run::MODEL_FILE);
    let base = export::base_card(config, &plan);
    let (mut card, comparisons) = export::write_and_compare(&trained, &card_path, base, &prepared.pixel_store, &[&pixel_valid], device)?;
    let check = &comparisons[0];
    let ((a, b), max_dp) = (check.top1(), check.max_abs_probability_difference());
    println!("fp16 check on {} held-out synthetic glitches: top-1 {a:.2}% (f32) vs {b:.2}% (fp16), max |dp| {max_dp:.2e}", pixel_valid.len());
    let rows: Vec<EpochRow> = history::read(&dir.join(history::FILE), usize::MAX)?.into_values().collect();
    card.metrics = json!({ "cross_validation": report.to_json() });
    card.calibration = Some(Calibration {
        temperature: report.temperature as f32,
        single_picture_temperature: report.single_picture_temperature.map(|t| t as f32),
        method: format!(
            "temperature scaling, NLL-fitted on the {} out-of-fold real predictions of {}-fold cross-validation: one temperature for single pictures in the unknown-duration slot, one for the other glitches",
            oof_count, options.folds
        ),
        ece_before: Some(report.reliability_before.ece),
        ece_after: Some(report.reliability_after.ece),
    });
    let data_json = json!({ "synthetic": config.data, "real": options.real, "real_glitches": oof_count, "recipe": recipe.name, "ignored_classes": data.ignored });
    let mut record = export::training_record(config, &plan, &options.command, data_json, &prepared.extraction, &rows, &trained)?;
    record.insert("epochs_run".into(), json!(rows.len()));
    record.insert("exported_epoch".into(), json!("last (fixed epochs, chosen by cross-validation)"));
    record.insert(
        "fp16_check".into(),
        json!({ "glitches": pixel_valid.len(), "top1_f32": a, "top1_fp16": b, "max_abs_probability_difference": max_dp }),
    );
    card.training = serde_json::Value::Object(record);
    let title = card.name.clone();
    export::finish(&card, &card_path, &rows, &title, check.within())
}

/// What every recipe of a cross-validation shares.
struct Shared<'a> {
    data: &'a FoldData,
    /// The extracted views; `None` when every fold of every recipe was already done.
    prepared: Option<&'a Prepared>,
    synth_train: Vec<Sample>,
    synth_valid: Vec<Sample>,
    options: &'a CvOptions,
    /// The cross-validation's directory (`--out`).
    out: &'a Path,
    device: &'a burn::tensor::Device,
}

const RECIPE: &str = "recipe.json";

/// What a fold's predictions were made with: the recipe's config (less its output folder) and the folds.
/// The extracted copies are not part of it: copy `j` of a view is the same however many are made.
fn fingerprint(config: &TrainConfig, options: &CvOptions) -> Result<serde_json::Value> {
    let mut f = serde_json::to_value(config)?;
    f["out"] = json!(null);
    // Folds saved before fusion was an option were made with concat: the same fingerprint.
    if config.fusion == "concat" {
        if let Some(map) = f.as_object_mut() {
            map.remove("fusion");
        }
    }
    f["real"] = json!(options.real);
    f["folds"] = json!(options.folds);
    Ok(f)
}

/// The saved predictions of a finished fold made with this recipe, if any. A fold saved without a
/// recipe.json (by an older version) is reused with a note.
fn saved_fold(config: &TrainConfig, options: &CvOptions, dir: &Path) -> Result<Option<Vec<OutOfFold>>> {
    let saved = dir.join(PREDICTIONS);
    if !saved.is_file() {
        return Ok(None);
    }
    if !dir.join(EMBEDDINGS).is_file() {
        println!("note: {} has predictions but no {EMBEDDINGS} (made before folds kept them for the neighbour vote): training it again", dir.display());
        return Ok(None);
    }
    match std::fs::read_to_string(dir.join(RECIPE)) {
        Ok(text) => {
            if serde_json::from_str::<serde_json::Value>(&text).ok() != Some(fingerprint(config, options)?) {
                return Ok(None);
            }
        }
        Err(_) => eprintln!("note: {} has no {RECIPE}; reusing its predictions unchecked", dir.display()),
    }
    let text = std::fs::read_to_string(&saved)?;
    Ok(Some(serde_json::from_str(&text).with_context(|| format!("reading {}", saved.display()))?))
}

/// Where fold `f` (from 0) of a recipe keeps its files.
fn fold_dir(recipe_dir: &Path, f: usize) -> PathBuf {
    recipe_dir.join(format!("fold-{}", f + 1))
}

/// All folds of one recipe into `out` (fold-N/ with saved predictions, cv.md, cv.json, plots); the report
/// and the number of out-of-fold predictions.
fn run_recipe(shared: &Shared, config: &TrainConfig, out: &Path, net_of: &NetOf) -> Result<(Report, usize)> {
    let options = shared.options;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let plan = config.plan()?;
    // --- The folds.
    let mut predictions: Vec<OutOfFold> = Vec::new();
    let mut fold_seconds = Vec::new();
    for f in 0..options.folds {
        let dir = fold_dir(out, f);
        if !options.overwrite {
            if let Some(mut done) = saved_fold(config, options, &dir)? {
                println!("fold {}/{}: already done ({} predictions in {})", f + 1, options.folds, done.len(), dir.display());
                predictions.append(&mut done);
                continue;
            }
            if dir.join(PREDICTIONS).is_file() {
                println!("fold {}/{}: saved predictions were made with other options; training again", f + 1, options.folds);
            }
        }
        let fold_started = Instant::now();
        predictions.extend(train_fold(shared, config, &plan, f, &dir, net_of)?);
        fold_seconds.push(fold_started.elapsed().as_secs_f64());
    }

    // Which glitches are single pictures, from their files: folds saved before the fold files said so have
    // `false` there, so the flag is set again for every prediction.
    let single: BTreeMap<(&str, &str), bool> = shared
        .data
        .real
        .iter()
        .map(|(g, _)| ((g.source.as_str(), g.split_key()), g.is_single_picture()))
        .collect();
    for p in &mut predictions {
        p.single_picture = single.get(&(p.source.as_str(), p.key.as_str())).copied().unwrap_or(false);
    }

    // --- The report.
    let report = Report::new(&predictions, options.folds);
    let markdown = report.markdown(config, options);
    std::fs::write(out.join("cv.md"), &markdown)?;
    report.write_files(out)?;
    let mut json_report = report.to_json();
    json_report["command"] = json!(options.command);
    json_report["config"] = serde_json::to_value(config)?;
    json_report["seconds"] = json!({ "folds_this_process": fold_seconds, "extraction": shared.prepared.map(|p| p.extraction.clone()) });
    std::fs::write(out.join("cv.json"), serde_json::to_string_pretty(&json_report)? + "\n")?;
    std::fs::write(out.join("predictions.json"), serde_json::to_string(&predictions)?)?;
    println!("{markdown}");
    println!("wrote {} (cv.md, cv.json, confusion.png/.csv, reliability.png, predictions.json)", out.display());

    Ok((report, predictions.len()))
}

/// Train fold `f` in `dir` on the synthetic data and the other folds' real glitches, and predict its own real
/// glitches; saves the recipe fingerprint, the predictions and every real glitch's embedding in `dir`.
fn train_fold(shared: &Shared, config: &TrainConfig, plan: &Plan, f: usize, dir: &Path, net_of: &NetOf) -> Result<Vec<OutOfFold>> {
    let (options, real, folds) = (shared.options, &shared.data.real, &shared.data.folds);
    let Some(prepared) = shared.prepared else { bail!("internal: fold {} needs training but nothing was extracted", f + 1) };
    let real_samples = shared.data.real_samples(prepared);
    reset_dir(dir)?;
    std::fs::write(dir.join(RECIPE), serde_json::to_string_pretty(&fingerprint(config, options)?)?)?;
    let mut train = shared.synth_train.clone();
    train.extend(pick(real_samples, |i| folds[i] != f, |s| &s.0));
    let held: Vec<usize> = (0..real.len()).filter(|&i| folds[i] == f && real_samples[i].is_some()).collect();
    println!(
        "fold {}/{}: training on {} glitches ({} real), testing on {} real",
        f + 1,
        options.folds,
        train.len(),
        train.len() - shared.synth_train.len(),
        held.len()
    );
    let data = FitData { store: prepared.store.clone(), train, valid: shared.synth_valid.clone() };
    fit::fit(&net_of(config)?, config, plan, data, dir, 0, Arc::new(Mutex::new(BTreeMap::new())), shared.device)?;
    let trained = fit::load_epoch(net_of(config)?, dir, config.epochs)?;
    // Every readable real glitch through the fold's network (held-out ones first: their logits are the
    // out-of-fold predictions); the embeddings of all of them are kept for the neighbour vote.
    let trained_real: Vec<usize> = (0..real.len()).filter(|&i| folds[i] != f && real_samples[i].is_some()).collect();
    let order: Vec<usize> = held.iter().chain(&trained_real).copied().collect();
    let samples: Vec<Sample> = order.iter().filter_map(|&i| real_samples[i].as_ref().map(|s| s.0.clone())).collect();
    let (mut logits, embeddings) = logits_and_embeddings_of(&trained, prepared.store.clone(), samples, shared.device)?;
    logits.truncate(held.len());
    let fold_embeddings: Vec<FoldEmbedding> = order
        .iter()
        .zip(embeddings)
        .enumerate()
        .map(|(n, (&i, embedding))| FoldEmbedding {
            key: real[i].0.split_key().to_string(),
            class: real[i].0.class.clone(),
            source: real[i].0.source.clone(),
            held_out: n < held.len(),
            embedding,
        })
        .collect();
    std::fs::write(dir.join(EMBEDDINGS), serde_json::to_string(&fold_embeddings)?)?;
    let fold_predictions: Vec<OutOfFold> = held
        .iter()
        .zip(logits)
        .map(|(&i, logits)| OutOfFold {
            key: real[i].0.split_key().to_string(),
            class: real[i].0.class.clone(),
            source: real[i].0.source.clone(),
            fold: f,
            logits,
            single_picture: real[i].0.is_single_picture(),
        })
        .collect();
    std::fs::write(dir.join(PREDICTIONS), serde_json::to_string(&fold_predictions)?)?;
    // The checkpoints are not needed once the predictions are saved (hundreds of MB in mode all).
    let _ = std::fs::remove_dir_all(dir.join(checkpoint::DIR));
    Ok(fold_predictions)
}

fn join(paths: &[PathBuf]) -> String {
    paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
}

/// The samples of the glitches `keep` selects (by index), skipping unreadable ones: `which` takes the training
/// sample (`.0`) or the pixel one (`.1`) of each.
fn pick(
    samples: &[Option<(Sample, Sample)>],
    keep: impl Fn(usize) -> bool,
    which: fn(&(Sample, Sample)) -> &Sample,
) -> Vec<Sample> {
    samples.iter().enumerate().filter(|(i, _)| keep(*i)).filter_map(|(_, s)| s.as_ref().map(|s| which(s).clone())).collect()
}

fn reset_dir(dir: &Path) -> Result<()> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))
}

/// Logits and glitch embeddings of every sample, in order.
fn logits_and_embeddings_of(
    model: &Trainee,
    store: Arc<super::features::ViewStore>,
    samples: Vec<Sample>,
    device: &burn::tensor::Device,
) -> Result<(Vec<Vec<f32>>, Vec<Vec<f32>>)> {
    use burn::data::dataloader::DataLoader;
    let rows = |t: burn::tensor::Tensor<2>| -> Result<Vec<Vec<f32>>> {
        let [n, k] = t.dims();
        let values: Vec<f32> = t.into_data().try_into_vec().map_err(|e| anyhow::anyhow!("{e:?}"))?;
        Ok((0..n).map(|g| values[g * k..(g + 1) * k].to_vec()).collect())
    };
    let loader = GlitchLoader::evaluation(store, samples, 16, device);
    let (mut logits, mut embeddings) = (Vec::new(), Vec::new());
    for batch in loader.iter() {
        let (l, e) = model.logits_and_embeddings(&batch?);
        logits.extend(rows(l)?);
        embeddings.extend(rows(e)?);
    }
    Ok((logits, embeddings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_are_stratified_grouped_and_balanced() {
        let items: Vec<(String, String)> = (0..10)
            .map(|i| (format!("a{i}"), "A".to_string()))
            .chain((0..3).map(|i| (format!("b{i}"), "B".to_string())))
            .chain([("a0".to_string(), "A".to_string())]) // a second view of glitch a0
            .collect();
        let refs: Vec<(&str, &str)> = items.iter().map(|(k, c)| (k.as_str(), c.as_str())).collect();
        let folds = assign_folds(&refs, 3, 7).unwrap();
        assert_eq!(folds[0], folds[13], "one glitch, one fold");
        for f in 0..3 {
            let a = (0..10).filter(|&i| folds[i] == f).count();
            let b = (10..13).filter(|&i| folds[i] == f).count();
            assert!((3..=4).contains(&a) && b == 1, "fold {f}: {a} A, {b} B");
        }
        assert_eq!(folds, assign_folds(&refs, 3, 7).unwrap(), "deterministic");
    }

    #[test]
    fn too_many_folds_for_the_smallest_class_is_refused() {
        let refs = [("a", "A"), ("b", "A"), ("c", "A"), ("d", "B"), ("e", "B"), ("s", "Single")];
        let e = assign_folds(&refs, 3, 1).unwrap_err().to_string();
        assert!(e.contains("B has only 2") && e.contains("--folds 2"), "{e}");
        assert!(assign_folds(&refs, 2, 1).is_ok(), "a class of one glitch does not limit k");
        assert!(assign_folds(&refs, 1, 1).unwrap_err().to_string().contains("at least 2"));
    }
}
