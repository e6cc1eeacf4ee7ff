//! One fit with Burn's Learner, shared by `train` and every fold and final fit of `cv`: loaders, learning-rate
//! schedule, AdamW, frozen batch-norm flags, per-epoch history and checkpoints, early stopping, resume, and
//! data-parallel training on several devices.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, bail};
use burn::lr_scheduler::cosine::CosineAnnealingLrSchedulerConfig;
use burn::lr_scheduler::step::StepLrSchedulerConfig;
use burn::module::{Module, ParamGroup};
use burn::optim::AdamWConfig;
use burn::store::ModuleRecord;
use burn::train::checkpoint::Checkpoint;
use burn::train::metric::{AccuracyMetric, LossMetric};
use burn::train::{ExecutionStrategy, Learner, MultiDeviceOptim, SupervisedTraining};

use super::augment::AugmentConfig;
use super::checkpoint::{self, AtomicFileCheckpointer, record_path};
use super::config::{Plan, Schedule, TrainConfig};
use super::features::ViewStore;
use super::history::{self, EpochRow, HistoryLogger, KeepLastAndBest, NoImprovement};
use super::loader::{GlitchLoader, Sample, Sampling};
use super::model::Trainee;
use super::progress::LineRenderer;

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

/// The latest epoch whose three checkpoint records all load (0: none).
pub fn usable_checkpoint(dir: &Path) -> usize {
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

/// `net` with the trained weights of `epoch` of the fit in `dir`.
pub fn load_epoch(net: glitchscope::model::GlitchNet, dir: &Path, epoch: usize) -> Result<Trainee> {
    let path = record_path(&dir.join(checkpoint::DIR), "model", epoch);
    let record = ModuleRecord::load(&path).with_context(|| format!("loading {}", path.display()))?;
    Ok(Trainee { net }.load_record(record))
}
