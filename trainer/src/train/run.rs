//! One training run, from data folders to an exported model:
//! scan and split the data, preprocess it once, cache what the frozen part of the network makes of it,
//! train with Burn's Learner (progress, per-epoch metrics, checkpoints, early stopping, resume), then export
//! the best epoch as fp16 weights + model card and check the fp16 model against the f32 one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use burn::lr_scheduler::cosine::CosineAnnealingLrSchedulerConfig;
use burn::lr_scheduler::step::StepLrSchedulerConfig;
use burn::module::{Module, ParamGroup};
use burn::optim::AdamWConfig;
use burn::store::ModuleRecord;
use burn::tensor::activation::softmax;
use burn::train::checkpoint::Checkpoint;
use burn::train::metric::{AccuracyMetric, LossMetric};
use burn::train::{ExecutionStrategy, Learner, MultiDeviceOptim, SupervisedTraining};
use glitchscope::card::ModelCard;
use glitchscope::inference::Classifier;
use glitchscope::labels::{O1_CLASSES, class_index};
use glitchscope::model::GlitchNetConfig;
use glitchscope::views::VIEW_COUNT;
use glitchscope::model::weights::load_imagenet;
use glitchscope::preprocess::InputSpec;
use serde_json::json;

use super::augment::AugmentConfig;
use super::checkpoint::{self, AtomicFileCheckpointer, record_path};
use super::config::{Mode, Plan, Schedule, TrainConfig};
use super::dataset::{self, GlitchFiles, Unreadable};
use super::features::{Extractor, ViewStore};
use super::history::{self, EpochRow, HistoryLogger, KeepLastAndBest, NoImprovement};
use super::loader::{GlitchLoader, Sample, Sampling};
use super::model::{Stage, Trainee};
use super::progress::{self, LineRenderer};
use super::split::{self, Part};
use crate::report::metrics::{Outcome, Summary, summarise};
use crate::report::plots;

/// Files of a run directory.
pub const CONFIG_FILE: &str = "config.json";
/// Running-statistics momentum of batch norms that are trained (`batch_norm = train`, the default from scratch).
pub const TRAINED_BN_MOMENTUM: f64 = 0.1;
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

pub fn train(config: TrainConfig, options: RunOptions) -> Result<()> {
    let started = Instant::now();
    let plan = config.plan()?;
    let out = PathBuf::from(&config.out);
    let ckpt_dir = out.join(checkpoint::DIR);
    // The first device of a data-parallel run holds the model; `fit` spreads the steps over all of them.
    let device = crate::device::select_all(&config.device_names())?.remove(0);
    device.seed(config.seed);
    if plan.imagenet {
        let path = config.imagenet_weights.as_deref().unwrap_or_default();
        if !Path::new(path).is_file() {
            bail!("ImageNet weights file {path} does not exist");
        }
    }

    // --- Data: scan (before touching the run directory, so a typo leaves nothing behind), split by glitch.
    let folders: Vec<PathBuf> = config.data.iter().map(PathBuf::from).collect();
    let found = dataset::scan(&folders)?;
    prepare_run_dir(&out, &config, &options)?;
    let (items, ignored) = label_and_split(found, &config);
    // The split is a function of the data and the seed; a resumed run must see the same one.
    let split_text = split_csv(&items)?;
    let split_path = out.join(SPLIT_FILE);
    if options.resume && split_path.is_file() {
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
    report_data(&items, &ignored);

    let spec = InputSpec { height: config.height as u32, width: config.width as u32 };
    let used: Vec<&Item> = items.iter().filter(|i| i.part != Part::Unused).collect();

    // --- The network, and what training starts from: images, or what the frozen part makes of them.
    let mut net = GlitchNetConfig::new()
        .with_backbone(plan.variant)
        .with_num_classes(O1_CLASSES.len())
        .with_dropout(config.dropout)
        .with_fusion(plan.fusion)
        .init(&device);
    if plan.imagenet {
        let path = config.imagenet_weights.as_deref().unwrap_or_default();
        load_imagenet(&mut net.backbone, Path::new(path))?;
    }
    if !plan.freeze_bn {
        // Batch norms that learn: running statistics at PyTorch's pace, not TF's (see the method).
        net.backbone.set_batch_norm_momentum(TRAINED_BN_MOMENTUM);
    }
    let stage = match plan.mode {
        Mode::All => Stage::Images,
        Mode::Frozen => Stage::Embeddings,
        Mode::LastBlocks(n) => Stage::Blocks { first: net.backbone.num_blocks() - n },
    };

    // --- Read and preprocess every view once; in the frozen modes, turn it into features right away and keep
    // pixels only for the held-out parts (the fp16 check runs the whole network on them).
    let wanted: Vec<Wanted> = used
        .iter()
        .map(|i| Wanted {
            files: &i.files,
            class: i.class,
            keep_pixels: stage == Stage::Images || i.part != Part::Train,
            copies: i.part == Part::Train,
            weight: if i.files.synthetic { 1.0 } else { config.real_weight },
        })
        .collect();
    let prepared = prepare(&net, stage, &config, &plan, &wanted, &device)?;
    let mut parts: BTreeMap<Part, PartData> = BTreeMap::new();
    for (item, sample) in used.iter().zip(&prepared.samples) {
        let Some((sample, pixel_sample)) = sample else { continue };
        let part = parts.entry(item.part).or_default();
        part.samples.push(sample.clone());
        part.pixel_samples.push(pixel_sample.clone());
        part.sources.push(item.files.source.clone());
    }
    let Prepared { store, pixel_store, unreadable, extraction, .. } = prepared;
    let train_part = parts.remove(&Part::Train).unwrap_or_default();
    let valid_part = parts.remove(&Part::Valid).unwrap_or_default();
    let test_part = parts.remove(&Part::Test).unwrap_or_default();
    if train_part.samples.is_empty() || valid_part.samples.is_empty() {
        bail!(
            "need glitches for both training and validation, got {} and {} (classes with a single glitch cannot \
             be split; add data or lower valid_fraction)",
            train_part.samples.len(),
            valid_part.samples.len()
        );
    }
    println!(
        "glitches: {} train, {} valid, {} test; input {}x{}",
        train_part.samples.len(),
        valid_part.samples.len(),
        test_part.samples.len(),
        config.height,
        config.width
    );

    // --- Where to start: a fresh run, or after the last complete checkpoint.
    let resume_from = if options.resume { usable_checkpoint(&ckpt_dir) } else { 0 };
    let history_path = out.join(history::FILE);
    let rows = Arc::new(Mutex::new(history::read(&history_path, resume_from)?));
    if options.resume {
        if resume_from == 0 {
            println!("no complete checkpoint in {}: starting from epoch 1", ckpt_dir.display());
        } else {
            println!("resuming after epoch {resume_from} of {}", config.epochs);
        }
    }
    let already_done = {
        let rows = rows.lock().map_err(|_| anyhow::anyhow!("history lock poisoned"))?;
        let best = history::best_epoch(history::validation_points(&rows), plan.monitor);
        resume_from >= config.epochs || (resume_from > 0 && history::should_stop(best, resume_from, config.patience))
    };

    let train_started = Instant::now();
    if already_done {
        println!("training already finished at epoch {resume_from}; exporting");
    } else {
        let fit_data = FitData { store: store.clone(), train: train_part.samples.clone(), valid: valid_part.samples.clone() };
        fit(&net, &config, &plan, fit_data, &out, resume_from, rows.clone(), &device)?;
    }
    let train_seconds = train_started.elapsed().as_secs_f64();

    // --- The best epoch, exported.
    let rows: Vec<EpochRow> = history::read(&history_path, usize::MAX)?.into_values().collect();
    let points: Vec<(usize, f64, f64)> =
        rows.iter().filter_map(|r| Some((r.epoch, r.valid_top1?, r.valid_loss.unwrap_or(f64::INFINITY)))).collect();
    let Some(best) = history::best_epoch(points, plan.monitor) else { bail!("no epoch finished: nothing to export") };
    let last_epoch = rows.iter().map(|r| r.epoch).max().unwrap_or(best);
    let record = ModuleRecord::load(record_path(&ckpt_dir, "model", best))
        .with_context(|| format!("loading the checkpoint of the best epoch ({best})"))?;
    let trained = Trainee { net }.load_record(record);
    println!("best epoch {best} (of {last_epoch}); exporting it");

    let card_path = out.join(MODEL_FILE);
    let mut card = crate::cmd::init::write_model(&trained.net, &card_path, base_card(&config, &plan, spec))?;

    // --- The fp16 model against the f32 one, on the held-out images.
    let fp16 = Classifier::from_card_file(&card_path, &device)?;
    let fp16 = Trainee { net: fp16.model };
    let mut metrics = serde_json::Map::new();
    let mut fp16_ok = true;
    for (name, part) in [("valid", &valid_part), ("test", &test_part)] {
        if part.samples.is_empty() {
            continue;
        }
        let loader = GlitchLoader::evaluation(pixel_store.clone(), part.pixel_samples.clone(), 16, &device);
        let f32_outcomes = evaluate(&trained, &loader)?;
        let f16_outcomes = evaluate(&fp16, &loader)?;
        let labels: Vec<String> = O1_CLASSES.iter().map(|s| s.to_string()).collect();
        let f32_summary = summarise(&f32_outcomes, &labels);
        let f16_summary = summarise(&f16_outcomes, &labels);
        let difference = (f32_summary.top[0] - f16_summary.top[0]).abs();
        let within = difference <= 0.1;
        fp16_ok &= within;
        println!(
            "{name}: top-1 {:.2}% (f32) vs {:.2}% (fp16 export), difference {difference:.2} points: {}",
            f32_summary.top[0],
            f16_summary.top[0],
            if within { "OK (within 0.1)" } else { "TOO LARGE" }
        );
        metrics.insert(name.into(), summary_json(&f16_summary, &f16_outcomes, &part.sources));
        metrics.insert(
            format!("{name}_fp16_check"),
            json!({ "top1_f32": f32_summary.top[0], "top1_fp16": f16_summary.top[0], "difference": difference,
                    "within_0_1_point": within }),
        );
    }
    let last_row = rows.last().cloned().unwrap_or_default();
    let train_rates: Vec<f64> = rows.iter().filter_map(|r| r.train_views_per_s).collect();
    card.metrics = serde_json::Value::Object(metrics);
    card.training = json!({
        "command": options.command,
        "config": serde_json::to_value(&config)?,
        "data": {
            "folders": config.data,
            "glitches": counts_by_part(&items),
            "ignored_classes": ignored,
            "unreadable_files": unreadable.len(),
        },
        "mode_note": mode_note(plan.mode, config.augment),
        "best_epoch": best,
        "epochs_run": last_epoch,
        "stopped_early": last_epoch < config.epochs,
        "final_epoch": last_row,
        "history": history::FILE,
        "feature_extraction": extraction,
        "train_views_per_s_mean": if train_rates.is_empty() { None } else { Some(train_rates.iter().sum::<f64>() / train_rates.len() as f64) },
        "weights_content_sha256": tensors_sha256(&trained.net)?,
        "seconds": { "this_process": started.elapsed().as_secs_f64(), "training_this_process": train_seconds },
        "hardware": hardware(&config.device_names().join(",")),
    });
    card.validate(&card_path.display().to_string())?;
    std::fs::write(&card_path, card.to_json() + "\n").with_context(|| format!("writing {}", card_path.display()))?;
    if let Err(e) = plots::curves_png(&out.join(CURVES_FILE), &rows, &format!("{} ({})", card.name, config.out)) {
        eprintln!("warning: could not draw the training curves: {e:#}");
    }
    println!("wrote {} ({}, sha256 {})", card_path.display(), card.weights.file, card.weights.sha256);
    if !fp16_ok {
        bail!("the fp16 export differs from the f32 model by more than 0.1 point of top-1 (see above)");
    }
    Ok(())
}

/// A glitch to read, and what the run needs of it.
pub struct Wanted<'a> {
    pub files: &'a GlitchFiles,
    pub class: usize,
    /// Keep its pixels as well (held-out glitches: the whole network is evaluated on them at export).
    pub keep_pixels: bool,
    /// Make `config.copies` picture-level augmented copies of its views (glitches that are trained on).
    pub copies: bool,
    /// Its weight among the glitches of its class when training draws glitches.
    pub weight: f64,
}

/// Every wanted glitch read and preprocessed once and, in the frozen modes, turned into features.
pub struct Prepared {
    /// What training reads (pixels in mode `all`, features otherwise), with the augmented copies.
    pub store: Arc<ViewStore>,
    /// Pixels of the glitches that asked for them (the same store as `store` in mode `all`).
    pub pixel_store: Arc<ViewStore>,
    /// Per wanted glitch, in order: its views in `store` and in `pixel_store`; `None` when none could be read.
    pub samples: Vec<Option<(Sample, Sample)>>,
    pub unreadable: Vec<Unreadable>,
    /// What the frozen part computed, for the card (null in mode `all`).
    pub extraction: serde_json::Value,
}

/// Read, preprocess and (frozen modes) run the frozen part of `net` over the wanted glitches, in chunks so the
/// pixels of a large data set are never all in memory at once. Unreadable files are listed and skipped.
pub fn prepare(
    net: &glitchscope::model::GlitchNet,
    stage: Stage,
    config: &TrainConfig,
    plan: &Plan,
    wanted: &[Wanted],
    device: &burn::tensor::Device,
) -> Result<Prepared> {
    let spec = InputSpec { height: config.height as u32, width: config.width as u32 };
    let domain = config.domain();
    let mut extractor = (stage != Stage::Images).then(|| Extractor::new(net, config.height, config.width, stage, 16, device));
    let what = match stage {
        Stage::Images => "reading glitches",
        Stage::Embeddings => "reading + embedding",
        Stage::Blocks { .. } => "reading + activations",
    };
    let bar = progress::bar(wanted.len(), what);
    let mut pixels: Vec<Vec<u8>> = Vec::new();
    let mut copies_of: Vec<Vec<usize>> = Vec::new();
    let mut unreadable = Vec::new();
    let mut samples = Vec::with_capacity(wanted.len());
    for chunk in wanted.chunks(128) {
        let files: Vec<GlitchFiles> = chunk.iter().map(|w| w.files.clone()).collect();
        let (loaded, bad) = dataset::load_pixels(&files, &plan.slots, spec, &bar);
        unreadable.extend(bad);
        let copy_files: Vec<GlitchFiles> = chunk.iter().filter(|w| w.copies).map(|w| w.files.clone()).collect();
        let mut made = dataset::load_copies(&copy_files, &plan.slots, spec, config.copies, &domain, config.seed).into_iter();
        // Views waiting for the extractor, in store order.
        let mut pending: Vec<Vec<u8>> = Vec::new();
        for (w, views) in chunk.iter().zip(loaded) {
            let mut extra = if w.copies { made.next().unwrap_or_default() } else { Default::default() };
            let Some(views) = views else {
                samples.push(None);
                continue;
            };
            let mut store_slots = [None; VIEW_COUNT];
            let mut pixel_slots = [None; VIEW_COUNT];
            for (slot, view) in views.into_iter().enumerate() {
                let Some(px) = view else { continue };
                let copies = std::mem::take(&mut extra[slot]);
                let index = match &extractor {
                    Some(ex) => {
                        if w.keep_pixels {
                            pixel_slots[slot] = Some(pixels.len());
                            pixels.push(px.clone());
                        }
                        let index = ex.len() + pending.len();
                        pending.push(px);
                        pending.extend(copies.iter().cloned());
                        index
                    }
                    None => {
                        let index = pixels.len();
                        pixel_slots[slot] = Some(index);
                        pixels.push(px);
                        pixels.extend(copies.iter().cloned());
                        index
                    }
                };
                store_slots[slot] = Some(index);
                if !copies.is_empty() {
                    if copies_of.len() <= index {
                        copies_of.resize(index + 1, Vec::new());
                    }
                    copies_of[index] = (index + 1..=index + copies.len()).collect();
                }
            }
            samples.push(Some((
                Sample { class: w.class, views: store_slots, weight: w.weight },
                Sample { class: w.class, views: pixel_slots, weight: w.weight },
            )));
        }
        if let Some(ex) = &mut extractor {
            let refs: Vec<&[u8]> = pending.iter().map(Vec::as_slice).collect();
            ex.add(&refs)?;
        }
    }
    bar.finish_and_clear();
    if !unreadable.is_empty() {
        eprintln!("skipped {} unreadable file(s):", unreadable.len());
        for u in &unreadable {
            eprintln!("  {}: {}", u.path, u.reason);
        }
    }
    let copies_made: usize = copies_of.iter().map(Vec::len).sum();
    let mut extraction = serde_json::Value::Null;
    let (store, pixel_store) = match extractor {
        None => {
            let mut store = ViewStore::pixels(pixels, config.height, config.width);
            store.copies = copies_of;
            let store = Arc::new(store);
            (store.clone(), store)
        }
        Some(ex) => {
            let views = ex.len();
            let (mut store, rate, seconds) = ex.finish();
            store.copies = copies_of;
            let what = if stage == Stage::Embeddings { "embeddings" } else { "activations" };
            println!(
                "computed {what} of {views} views once ({copies_made} of them augmented copies; {seconds:.1} s in \
                 the network, {rate:.1} images/s); on-the-fly image augmentation is off in this mode (view dropout \
                 stays on)"
            );
            extraction = json!({ "what": what, "views": views, "augmented_copies": copies_made, "images_per_s": rate, "seconds": seconds });
            (Arc::new(store), Arc::new(ViewStore::pixels(pixels, config.height, config.width)))
        }
    };
    Ok(Prepared { store, pixel_store, samples, unreadable, extraction })
}

/// What one fit trains on and watches.
pub struct FitData {
    pub store: Arc<ViewStore>,
    pub train: Vec<Sample>,
    /// Shown per epoch (and used by early stopping and the best-epoch choice when `patience > 0`).
    pub valid: Vec<Sample>,
}

/// Train `net` with Burn's Learner from epoch `resume_from + 1` to `config.epochs` (or early stopping):
/// checkpoints in `out/checkpoint`, one history row per epoch in `out/history.csv`.
#[allow(clippy::too_many_arguments)]
pub fn fit(
    net: &glitchscope::model::GlitchNet,
    config: &TrainConfig,
    plan: &Plan,
    data: FitData,
    out: &Path,
    resume_from: usize,
    rows: Arc<Mutex<BTreeMap<usize, EpochRow>>>,
    device: &burn::tensor::Device,
) -> Result<()> {
    let ckpt_dir = out.join(checkpoint::DIR);
    let history_path = out.join(history::FILE);
    let train_len = data.train.len();
    let sampling = Sampling {
        seed: config.seed,
        balanced: config.balanced,
        view_dropout: config.view_dropout,
        unknown_view: config.unknown_view,
        label_smoothing: (config.label_smoothing > 0.0).then_some(config.label_smoothing as f32),
        copies: config.copies,
        augment: (config.augment && plan.mode.sees_images()).then_some(AugmentConfig {
            time_shift: config.time_shift as f32,
            freq_shift: config.freq_shift as f32,
            brightness: config.brightness as f32,
            contrast: config.contrast as f32,
        }),
    };
    let devices = crate::device::select_all(&config.device_names())?;
    if devices.len() > 1 {
        println!(
            "data-parallel on {} devices ({}): {} glitches per step, {} on each",
            devices.len(),
            config.device_names().join(", "),
            config.batch_size,
            config.batch_size / devices.len()
        );
    }
    let train_loader = GlitchLoader::training(
        data.store.clone(),
        data.train,
        sampling,
        config.batch_size,
        devices.len(),
        resume_from + 1,
        device,
    );
    let throughput = train_loader.throughput();
    let valid_loader = GlitchLoader::evaluation(data.store.clone(), data.valid, config.batch_size, device);

    {
        let iters_per_epoch = train_len.div_ceil(config.batch_size);
        let scheduler = match plan.schedule {
            Schedule::Cosine => CosineAnnealingLrSchedulerConfig::new(config.lr, config.epochs * iters_per_epoch)
                .with_min_lr(config.min_lr)
                .init(),
            Schedule::Step => StepLrSchedulerConfig::new(config.lr, config.step_epochs * iters_per_epoch)
                .with_gamma(config.step_gamma)
                .init(),
        }
        .map_err(|e| anyhow::anyhow!("learning-rate schedule: {e}"))?;
        let optimizer = AdamWConfig::new().with_weight_decay(config.weight_decay as f32).init();
        // Parameters made on a plain device take part in autodiff only after `train()`.
        let mut trainee = Trainee { net: net.clone() }.train();
        if plan.freeze_bn {
            // Switch off the batch-norm training flags only: scale and shift still learn, but normalisation
            // uses the running statistics, as at inference (small batches give noisy batch statistics, and
            // the ImageNet ones would barely move with TF's momentum of 0.01).
            let flags = ParamGroup::from_regex(r"(^|\.)bn\d*\.training$")
                .map_err(|e| anyhow::anyhow!("internal: batch-norm group: {e:?}"))?;
            trainee = trainee.freeze_group(flags);
        }
        let learner = Learner::new(trainee, optimizer, scheduler);
        let logger = HistoryLogger::new(history_path, rows, throughput.clone());
        let mut training = SupervisedTraining::new(out, Arc::new(train_loader), Arc::new(valid_loader))
            .metrics((AccuracyMetric::new(), LossMetric::new()))
            .with_metric_logger(logger)
            .with_custom_checkpointers(
                AtomicFileCheckpointer::new(&ckpt_dir, "model")?,
                AtomicFileCheckpointer::new(&ckpt_dir, "optim")?,
                AtomicFileCheckpointer::new(&ckpt_dir, "scheduler")?,
            )
            .with_checkpointing_strategy(KeepLastAndBest { monitor: plan.monitor })
            .renderer(Box::new(LineRenderer::new()))
            .with_application_logger(None)
            .num_epochs(config.epochs);
        if devices.len() > 1 {
            // Burn's data-parallel strategy: one worker thread per device steps its part of each batch (see
            // loader.rs), the gradients are summed on the first device, which runs the optimiser and validation.
            training = training.with_training_strategy(ExecutionStrategy::multi(devices, MultiDeviceOptim::OptimMainDevice).into());
        }
        if config.patience > 0 {
            training = training.early_stopping(NoImprovement { patience: config.patience, monitor: plan.monitor });
        }
        if resume_from > 0 {
            training = training.checkpoint(resume_from);
        }
        let result = training.launch(learner);
        if let Some(error) = result.error {
            bail!("training stopped on an error: {error}");
        }
    }
    Ok(())
}

/// What an export of a model trained outside `train` (the cross-validation's final fit) puts in its card.
pub struct Export<'a> {
    pub config: &'a TrainConfig,
    pub plan: &'a Plan,
    pub command: &'a str,
    /// Pixels of the glitches the fp16 export is checked on.
    pub pixel_store: Arc<ViewStore>,
    pub check: Vec<Sample>,
    pub metrics: serde_json::Value,
    pub calibration: Option<glitchscope::card::Calibration>,
    pub extraction: serde_json::Value,
    pub data: serde_json::Value,
}

/// Write `trained` as fp16 weights + card at `card_path`, after checking the fp16 model against the f32 one
/// on `export.check` (whole network, from pixels): same top-1 within 0.1 point, and the largest probability
/// difference reported.
pub fn export(trained: &Trainee, card_path: &Path, export: Export, device: &burn::tensor::Device) -> Result<()> {
    let config = export.config;
    let spec = InputSpec { height: config.height as u32, width: config.width as u32 };
    let mut card = crate::cmd::init::write_model(&trained.net, card_path, base_card(config, export.plan, spec))?;
    let fp16 = Trainee { net: Classifier::from_card_file(card_path, device)?.model };
    let loader = GlitchLoader::evaluation(export.pixel_store.clone(), export.check.clone(), 16, device);
    let f32_outcomes = evaluate(trained, &loader)?;
    let f16_outcomes = evaluate(&fp16, &loader)?;
    let labels: Vec<String> = O1_CLASSES.iter().map(|s| s.to_string()).collect();
    let (a, b) = (summarise(&f32_outcomes, &labels).top[0], summarise(&f16_outcomes, &labels).top[0]);
    let max_dp = f32_outcomes
        .iter()
        .zip(&f16_outcomes)
        .flat_map(|(x, y)| x.probabilities.iter().zip(&y.probabilities).map(|(p, q)| (p - q).abs()))
        .fold(0f32, f32::max);
    println!("fp16 check on {} held-out synthetic glitches: top-1 {a:.2}% (f32) vs {b:.2}% (fp16), max |dp| {max_dp:.2e}", export.check.len());
    let out = card_path.parent().unwrap_or(Path::new("."));
    let rows: Vec<EpochRow> = history::read(&out.join(history::FILE), usize::MAX)?.into_values().collect();
    card.metrics = export.metrics;
    card.calibration = export.calibration;
    card.training = json!({
        "command": export.command,
        "config": serde_json::to_value(config)?,
        "data": export.data,
        "mode_note": mode_note(export.plan.mode, config.augment),
        "epochs_run": rows.len(),
        "exported_epoch": "last (fixed epochs, chosen by cross-validation)",
        "final_epoch": rows.last().cloned().unwrap_or_default(),
        "history": history::FILE,
        "feature_extraction": export.extraction,
        "fp16_check": { "glitches": export.check.len(), "top1_f32": a, "top1_fp16": b, "max_abs_probability_difference": max_dp },
        "weights_content_sha256": tensors_sha256(&trained.net)?,
        "hardware": hardware(&config.device_names().join(",")),
    });
    card.validate(&card_path.display().to_string())?;
    std::fs::write(card_path, card.to_json() + "\n").with_context(|| format!("writing {}", card_path.display()))?;
    if let Err(e) = plots::curves_png(&out.join(CURVES_FILE), &rows, &card.name) {
        eprintln!("warning: could not draw the training curves: {e:#}");
    }
    println!("wrote {} ({}, sha256 {})", card_path.display(), card.weights.file, card.weights.sha256);
    if (a - b).abs() > 0.1 {
        bail!("the fp16 export differs from the f32 model by more than 0.1 point of top-1 (see above)");
    }
    Ok(())
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

/// The latest epoch whose three checkpoint records all load (0: none).
fn usable_checkpoint(dir: &Path) -> usize {
    use burn::lr_scheduler::LrSchedulerRecord;
    use burn::optim::OptimizerRecord;
    for epoch in checkpoint::complete_epochs(dir).into_iter().rev() {
        let ok = <ModuleRecord as Checkpoint>::load(record_path(dir, "model", epoch)).is_ok()
            && <OptimizerRecord as Checkpoint>::load(record_path(dir, "optim", epoch)).is_ok()
            && <LrSchedulerRecord as Checkpoint>::load(record_path(dir, "scheduler", epoch)).is_ok();
        if ok {
            return epoch;
        }
        eprintln!("warning: the checkpoint of epoch {epoch} does not load; trying an earlier one");
    }
    0
}

/// Give every glitch of a known class a part; count the glitches of classes the model does not have.
fn label_and_split(found: Vec<GlitchFiles>, config: &TrainConfig) -> (Vec<Item>, BTreeMap<String, usize>) {
    let mut ignored: BTreeMap<String, usize> = BTreeMap::new();
    let mut known = Vec::new();
    for files in found {
        match class_index(&files.class) {
            Some(class) => known.push((files, class)),
            None => *ignored.entry(files.class.clone()).or_default() += 1,
        }
    }
    let keys: Vec<(&str, &str)> = known.iter().map(|(f, _)| (f.split_key(), f.class.as_str())).collect();
    let mut parts = split::stratified_split(&keys, config.valid_fraction, config.test_fraction, config.seed);
    if let Some(limit) = config.per_class_limit {
        let classes: Vec<&str> = known.iter().map(|(f, _)| f.class.as_str()).collect();
        split::limit_per_class(&mut parts, &classes, limit, config.seed);
    }
    let items = known.into_iter().zip(parts).map(|((files, class), part)| Item { files, class, part }).collect();
    (items, ignored)
}

fn report_data(items: &[Item], ignored: &BTreeMap<String, usize>) {
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

/// `split.csv`: which part every glitch went to, so `eval --split` can evaluate exactly the held-out part.
fn split_csv(items: &[Item]) -> Result<String> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(["key", "class", "source", "part", "files"])?;
    for item in items {
        let files: Vec<String> = item.files.files.iter().map(|(_, p)| p.display().to_string()).collect();
        writer.write_record([
            item.files.split_key(),
            &item.files.class,
            &item.files.source,
            item.part.name(),
            &files.join(";"),
        ])?;
    }
    let bytes = writer.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(String::from_utf8(bytes)?)
}

fn counts_by_part(items: &[Item]) -> serde_json::Value {
    let mut counts: BTreeMap<&str, BTreeMap<&str, usize>> = BTreeMap::new();
    for item in items {
        *counts.entry(item.part.name()).or_default().entry(item.files.class.as_str()).or_default() += 1;
    }
    serde_json::to_value(counts).unwrap_or_default()
}

/// Class probabilities of every sample of a loader, in order.
pub fn evaluate(model: &Trainee, loader: &GlitchLoader) -> Result<Vec<Outcome>> {
    use burn::data::dataloader::DataLoader;
    let mut outcomes = Vec::new();
    for batch in loader.iter() {
        let batch = batch?;
        let targets: Vec<i64> = batch
            .targets
            .clone()
            .into_data()
            .convert::<i64>()
            .try_into_vec()
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let probabilities = softmax(model.forward_classification(batch).output, 1);
        let [n, k] = probabilities.dims();
        let values: Vec<f32> = probabilities.into_data().try_into_vec().map_err(|e| anyhow::anyhow!("{e:?}"))?;
        for g in 0..n {
            outcomes.push(Outcome { target: targets[g] as usize, probabilities: values[g * k..(g + 1) * k].to_vec() });
        }
    }
    Ok(outcomes)
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

fn mode_note(mode: Mode, augment: bool) -> String {
    match mode {
        Mode::Frozen => "frozen backbone: ImageNet/initial backbone unchanged, embeddings computed once, only the head \
                         trained; no image augmentation (view dropout on)"
            .into(),
        Mode::LastBlocks(n) => format!(
            "last {n} blocks + 1x1 head conv + head trained on activations computed once; no image augmentation \
             (view dropout on)"
        ),
        Mode::All => format!("all layers fine-tuned from the images; augmentation {}", if augment { "on" } else { "off" }),
    }
}

/// The card before training metrics are known.
pub fn base_card(config: &TrainConfig, plan: &Plan, spec: InputSpec) -> ModelCard {
    let mut card = crate::cmd::init::untrained_card(plan.variant, config.height, config.width);
    card.name = format!("glitchscope-{}-{}", plan.variant.name(), config.mode);
    card.description = format!(
        "EfficientNet-Lite ({}) {}-initialised, trained by `glitchscope train` (mode {}) on {}.",
        plan.variant.name(),
        config.init,
        config.mode,
        config.data.join(", ")
    );
    card.input.preprocessing = glitchscope::preprocess::description(spec);
    // Older readers know only concat, and a card without the field means concat: write it only when needed.
    card.fusion = (plan.fusion != glitchscope::model::Fusion::Concat).then(|| plan.fusion.name().to_string());
    card
}

/// sha256 over the names and f32 values of every tensor of the trained model, in name order. Unlike the
/// weights file's checksum it does not depend on Burn's parameter ids, which are random per process: two
/// runs that trained identically have the same content digest.
fn tensors_sha256(net: &glitchscope::model::GlitchNet) -> Result<String> {
    use burn::store::ModuleSnapshot;
    use sha2::{Digest, Sha256};
    let mut tensors = net.collect(None, None, false);
    tensors.sort_by(|a, b| a.name.cmp(&b.name));
    let mut hasher = Sha256::new();
    for tensor in tensors {
        hasher.update(tensor.name.as_bytes());
        let bytes = tensor.into_bytes().map_err(|e| anyhow::anyhow!("reading a tensor of the model: {e}"))?;
        hasher.update(&bytes[..]);
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

fn hardware(device: &str) -> serde_json::Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split(':').nth(1)).map(|s| s.trim().to_string()));
    json!({
        "device": device,
        "cpu": cpu,
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
    })
}
