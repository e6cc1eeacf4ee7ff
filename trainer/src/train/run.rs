//! One training run, from data folders to an exported model (`glitchscope train`):
//! scan and split the data, preprocess it once, cache what the frozen part of the network makes of it
//! (`prepare.rs`), train with Burn's Learner (`fit.rs`: progress, per-epoch metrics, checkpoints, early
//! stopping, resume), then export the best epoch as fp16 weights + model card and check the fp16 model against
//! the f32 one (`export.rs`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use glitchscope::labels::O1_CLASSES;
use glitchscope::model::GlitchNet;
use serde_json::json;

use super::checkpoint;
use super::config::{Plan, TrainConfig};
use super::dataset::{self, GlitchFiles};
use super::export::{self, Comparison};
use super::features::ViewStore;
use super::fit::{self, FitData};
use super::history::{self, EpochRow};
use super::loader::Sample;
use super::prepare::{Prepared, Wanted, prepare};
use super::setup::{self, Setup};
use super::split::{self, Part};
use crate::report::metrics::{Outcome, Summary, summarise};

/// Files of a run directory.
pub const CONFIG_FILE: &str = "config.json";
pub const SPLIT_FILE: &str = "split.csv";
pub const MODEL_FILE: &str = "model.json";
pub const CURVES_FILE: &str = "curves.png";

/// How this process was asked to run.
pub struct RunOptions {
    /// Continue the run in `config.out` from its last complete checkpoint.
    pub resume: bool,
    /// Delete a previous run's files in `config.out` first.
    pub overwrite: bool,
    /// The command line, recorded in the model card.
    pub command: String,
}

/// A labelled glitch that made it into the run.
struct Item {
    files: GlitchFiles,
    class: usize,
    part: Part,
}

/// The labelled glitches of a run, and the counts of those of classes the model does not have.
struct Data {
    items: Vec<Item>,
    ignored: BTreeMap<String, usize>,
}

/// Glitches of one part with their sources, ready for a loader.
#[derive(Default)]
struct PartData {
    /// Views as indices into the store training reads (pixels or features).
    samples: Vec<Sample>,
    /// The same glitches with views as indices into the pixel store (held-out parts, or every part in mode
    /// `all`), for evaluating the whole network.
    pixel_samples: Vec<Sample>,
    sources: Vec<String>,
}

struct Parts {
    train: PartData,
    valid: PartData,
    test: PartData,
}

/// One run of `glitchscope train`.
struct Run {
    config: TrainConfig,
    plan: Plan,
    device: burn::tensor::Device,
    out: PathBuf,
    options: RunOptions,
    started: Instant,
}

pub fn train(config: TrainConfig, options: RunOptions) -> Result<()> {
    let started = Instant::now();
    let Setup { plan, device } = setup::start(&config)?;
    let out = PathBuf::from(&config.out);
    let run = Run { config, plan, device, out, options, started };
    let data = run.data()?;
    // --- The network, and what training starts from: images, or what the frozen part makes of them.
    let net = setup::network(&run.config, &run.plan, &run.device)?;
    let (parts, prepared) = run.read(&net, &data)?;
    let train_seconds = run.fit(&net, &prepared.store, &parts)?;
    run.export_best(net, &data, &parts, &prepared, train_seconds)
}

impl Run {
    /// Scan the data (before touching the run directory, so a typo leaves nothing behind), set up the run
    /// directory, split by glitch and write `split.csv`.
    fn data(&self) -> Result<Data> {
        let folders: Vec<PathBuf> = self.config.data.iter().map(PathBuf::from).collect();
        let found = dataset::scan(&folders)?;
        prepare_run_dir(&self.out, &self.config, &self.options)?;
        let data = label_and_split(found, &self.config);
        // The split is a function of the data and the seed; a resumed run must see the same one.
        let split_text = setup::split_csv(data.items.iter().map(|i| (&i.files, i.part)))?;
        let split_path = self.out.join(SPLIT_FILE);
        if self.options.resume && split_path.is_file() {
            let before = std::fs::read_to_string(&split_path).with_context(|| format!("reading {}", split_path.display()))?;
            if before != split_text {
                bail!(
                    "--resume: the data folders no longer hold the glitches this run was split on ({}); resuming \
                     would train on a different split. Restore the data, or start a new run.",
                    split_path.display()
                );
            }
        }
        std::fs::write(&split_path, &split_text).with_context(|| format!("writing {}", split_path.display()))?;
        report_data(&data);
        Ok(data)
    }

    /// Read and preprocess every view once; in the frozen modes, turn it into features right away and keep
    /// pixels only for the held-out parts (the fp16 check runs the whole network on them).
    fn read(&self, net: &GlitchNet, data: &Data) -> Result<(Parts, Prepared)> {
        let (config, stage) = (&self.config, setup::stage(self.plan.mode, net));
        let used: Vec<&Item> = data.items.iter().filter(|i| i.part != Part::Unused).collect();
        let wanted: Vec<Wanted> = used
            .iter()
            .map(|i| Wanted {
                files: &i.files,
                class: i.class,
                keep_pixels: stage == super::model::Stage::Images || i.part != Part::Train,
                copies: i.part == Part::Train,
                weight: if i.files.synthetic { 1.0 } else { config.real_weight },
            })
            .collect();
        let prepared = prepare(net, stage, config, &self.plan, &wanted, &self.device)?;
        let mut parts: BTreeMap<Part, PartData> = BTreeMap::new();
        for (item, sample) in used.iter().zip(&prepared.samples) {
            let Some((sample, pixel_sample)) = sample else { continue };
            let part = parts.entry(item.part).or_default();
            part.samples.push(sample.clone());
            part.pixel_samples.push(pixel_sample.clone());
            part.sources.push(item.files.source.clone());
        }
        let mut take = |p: Part| parts.remove(&p).unwrap_or_default();
        let parts = Parts { train: take(Part::Train), valid: take(Part::Valid), test: take(Part::Test) };
        if parts.train.samples.is_empty() || parts.valid.samples.is_empty() {
            bail!(
                "need glitches for both training and validation, got {} and {} (classes with a single glitch \
                 cannot be split; add data or lower valid_fraction)",
                parts.train.samples.len(),
                parts.valid.samples.len()
            );
        }
        println!(
            "glitches: {} train, {} valid, {} test; input {}x{}",
            parts.train.samples.len(),
            parts.valid.samples.len(),
            parts.test.samples.len(),
            config.height,
            config.width
        );
        Ok((parts, prepared))
    }

    /// Train from where the run stands: a fresh run, after the last complete checkpoint, or not at all when it
    /// had finished. Returns the seconds spent training in this process.
    fn fit(&self, net: &GlitchNet, store: &Arc<ViewStore>, parts: &Parts) -> Result<f64> {
        let (config, resume) = (&self.config, self.options.resume);
        let ckpt_dir = self.out.join(checkpoint::DIR);
        let resume_from = if resume { fit::usable_checkpoint(&ckpt_dir) } else { 0 };
        let rows = Arc::new(Mutex::new(history::read(&self.out.join(history::FILE), resume_from)?));
        if resume {
            if resume_from == 0 {
                println!("no complete checkpoint in {}: starting from epoch 1", ckpt_dir.display());
            } else {
                println!("resuming after epoch {resume_from} of {}", config.epochs);
            }
        }
        let already_done = {
            let rows = rows.lock().map_err(|_| anyhow::anyhow!("history lock poisoned"))?;
            let best = history::best_epoch(history::validation_points(&rows), self.plan.monitor);
            resume_from >= config.epochs || (resume_from > 0 && history::should_stop(best, resume_from, config.patience))
        };
        let train_started = Instant::now();
        if already_done {
            println!("training already finished at epoch {resume_from}; exporting");
        } else {
            let data = FitData { store: store.clone(), train: parts.train.samples.clone(), valid: parts.valid.samples.clone() };
            fit::fit(net, config, &self.plan, data, &self.out, resume_from, rows, &self.device)?;
        }
        Ok(train_started.elapsed().as_secs_f64())
    }

    /// Export the best epoch, checked in fp16 against f32 on the held-out parts, with its metrics in the card.
    fn export_best(&self, net: GlitchNet, data: &Data, parts: &Parts, prepared: &Prepared, train_seconds: f64) -> Result<()> {
        let config = &self.config;
        let rows: Vec<EpochRow> = history::read(&self.out.join(history::FILE), usize::MAX)?.into_values().collect();
        let points: Vec<(usize, f64, f64)> =
            rows.iter().filter_map(|r| Some((r.epoch, r.valid_top1?, r.valid_loss.unwrap_or(f64::INFINITY)))).collect();
        let Some(best) = history::best_epoch(points, self.plan.monitor) else { bail!("no epoch finished: nothing to export") };
        let last_epoch = rows.iter().map(|r| r.epoch).max().unwrap_or(best);
        let trained = fit::load_epoch(net, &self.out, best).with_context(|| format!("the checkpoint of the best epoch ({best})"))?;
        println!("best epoch {best} (of {last_epoch}); exporting it");

        // --- The fp16 model against the f32 one, on the held-out images.
        let card_path = self.out.join(MODEL_FILE);
        let held_out: Vec<(&str, &PartData)> =
            [("valid", &parts.valid), ("test", &parts.test)].into_iter().filter(|(_, p)| !p.samples.is_empty()).collect();
        let checks: Vec<&[Sample]> = held_out.iter().map(|(_, p)| p.pixel_samples.as_slice()).collect();
        let base = export::base_card(config, &self.plan);
        let (mut card, comparisons) = export::write_and_compare(&trained, &card_path, base, &prepared.pixel_store, &checks, &self.device)?;
        let mut metrics = serde_json::Map::new();
        let labels: Vec<String> = O1_CLASSES.iter().map(|s| s.to_string()).collect();
        for ((name, part), comparison) in held_out.iter().zip(&comparisons) {
            let (top1_f32, top1_fp16) = comparison.top1();
            let difference = (top1_f32 - top1_fp16).abs();
            let within = comparison.within();
            println!(
                "{name}: top-1 {top1_f32:.2}% (f32) vs {top1_fp16:.2}% (fp16 export), difference {difference:.2} points: {}",
                if within { "OK (within 0.1)" } else { "TOO LARGE" }
            );
            let summary = summarise(&comparison.fp16, &labels);
            metrics.insert(name.to_string(), summary_json(&summary, &comparison.fp16, &part.sources));
            metrics.insert(
                format!("{name}_fp16_check"),
                json!({ "top1_f32": top1_f32, "top1_fp16": top1_fp16, "difference": difference, "within_0_1_point": within }),
            );
        }
        let train_rates: Vec<f64> = rows.iter().filter_map(|r| r.train_views_per_s).collect();
        let data_json = json!({
            "folders": config.data,
            "glitches": counts_by_part(&data.items),
            "ignored_classes": data.ignored,
            "unreadable_files": prepared.unreadable.len(),
        });
        let mut record = export::training_record(config, &self.plan, &self.options.command, data_json, &prepared.extraction, &rows, &trained)?;
        record.insert("best_epoch".into(), json!(best));
        record.insert("epochs_run".into(), json!(last_epoch));
        record.insert("stopped_early".into(), json!(last_epoch < config.epochs));
        let mean_rate = (!train_rates.is_empty()).then(|| train_rates.iter().sum::<f64>() / train_rates.len() as f64);
        record.insert("train_views_per_s_mean".into(), json!(mean_rate));
        record.insert(
            "seconds".into(),
            json!({ "this_process": self.started.elapsed().as_secs_f64(), "training_this_process": train_seconds }),
        );
        card.metrics = serde_json::Value::Object(metrics);
        card.training = serde_json::Value::Object(record);
        let title = format!("{} ({})", card.name, config.out);
        export::finish(&card, &card_path, &rows, &title, comparisons.iter().all(Comparison::within))
    }
}

/// Check or create the run directory and save the config in it.
fn prepare_run_dir(out: &Path, config: &TrainConfig, options: &RunOptions) -> Result<()> {
    let config_path = out.join(CONFIG_FILE);
    if options.resume {
        if !config_path.is_file() {
            bail!("--resume: {} has no {CONFIG_FILE}; nothing to resume", out.display());
        }
        return Ok(());
    }
    if config_path.exists() {
        if !options.overwrite {
            bail!(
                "{} already holds a run: continue it with `glitchscope train --resume --out {}`, or start over \
                 with --overwrite",
                out.display(),
                out.display()
            );
        }
        // Only what a run writes; anything else the user put there stays.
        let _ = std::fs::remove_dir_all(out.join(checkpoint::DIR));
        for file in [history::FILE, SPLIT_FILE, MODEL_FILE, "model.bpk", CURVES_FILE, CONFIG_FILE] {
            let _ = std::fs::remove_file(out.join(file));
        }
    }
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    std::fs::write(&config_path, config.to_json()).with_context(|| format!("writing {}", config_path.display()))
}

/// Give every glitch of a known class a part; count the glitches of classes the model does not have.
fn label_and_split(found: Vec<GlitchFiles>, config: &TrainConfig) -> Data {
    let mut ignored: BTreeMap<String, usize> = BTreeMap::new();
    let known = setup::known(found, &mut ignored);
    let keys: Vec<(&str, &str)> = known.iter().map(|(f, _)| (f.split_key(), f.class.as_str())).collect();
    let mut parts = split::stratified_split(&keys, config.valid_fraction, config.test_fraction, config.seed);
    if let Some(limit) = config.per_class_limit {
        let classes: Vec<&str> = known.iter().map(|(f, _)| f.class.as_str()).collect();
        split::limit_per_class(&mut parts, &classes, limit, config.seed);
    }
    let items = known.into_iter().zip(parts).map(|((files, class), part)| Item { files, class, part }).collect();
    Data { items, ignored }
}

fn report_data(Data { items, ignored }: &Data) {
    let mut per_source: BTreeMap<&str, usize> = BTreeMap::new();
    for item in items {
        *per_source.entry(item.files.source.as_str()).or_default() += 1;
    }
    let sources: Vec<String> = per_source.iter().map(|(s, n)| format!("{s} {n}")).collect();
    println!("found {} labelled glitches ({})", items.len(), sources.join(", "));
    if !ignored.is_empty() {
        let list: Vec<String> = ignored.iter().map(|(c, n)| format!("{c} ({n})")).collect();
        println!("ignored glitches of classes the model does not have: {}", list.join(", "));
    }
}

fn counts_by_part(items: &[Item]) -> serde_json::Value {
    let mut counts: BTreeMap<&str, BTreeMap<&str, usize>> = BTreeMap::new();
    for item in items {
        *counts.entry(item.part.name()).or_default().entry(item.files.class.as_str()).or_default() += 1;
    }
    serde_json::to_value(counts).unwrap_or_default()
}

/// Metrics of a part for the card: top-1..top-5, macro F1 and top-1 per source.
fn summary_json(summary: &Summary, outcomes: &[Outcome], sources: &[String]) -> serde_json::Value {
    let mut per_source: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for (o, s) in outcomes.iter().zip(sources) {
        let entry = per_source.entry(s.as_str()).or_default();
        entry.0 += 1;
        entry.1 += usize::from(o.predicted() == o.target);
    }
    let per_source: BTreeMap<&str, serde_json::Value> = per_source
        .into_iter()
        .map(|(s, (n, hits))| (s, json!({ "n": n, "top1": 100.0 * hits as f64 / n as f64 })))
        .collect();
    json!({
        "n": summary.n,
        "top1": summary.top[0], "top2": summary.top[1], "top3": summary.top[2], "top4": summary.top[3], "top5": summary.top[4],
        "macro_f1": summary.macro_f1,
        "per_source": per_source,
        "unit": "percent",
    })
}
