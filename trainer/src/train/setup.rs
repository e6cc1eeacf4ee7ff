//! What `train` and `cv` both do before training: check the options, pick and seed the device, check the
//! ImageNet weights, build the network and decide what training starts from, label the glitches found (known
//! classes, and counts of the ignored ones), and write `split.csv`.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context as _, Result, bail};
use glitchscope::labels::{O1_CLASSES, class_index};
use glitchscope::model::weights::load_imagenet;
use glitchscope::model::{GlitchNet, GlitchNetConfig};

use super::config::{Mode, Plan, TrainConfig};
use super::dataset::GlitchFiles;
use super::model::Stage;
use super::split::Part;

/// Running-statistics momentum of batch norms that are trained (`batch_norm = train`, the default from scratch).
pub const TRAINED_BN_MOMENTUM: f64 = 0.1;

/// The checked options and the device a run trains on.
pub struct Setup {
    pub plan: Plan,
    /// The first device of a data-parallel run holds the model; `fit` spreads the steps over all of them.
    pub device: burn::tensor::Device,
}

/// Check the options, select and seed the device, and check that the ImageNet weights file exists.
pub fn start(config: &TrainConfig) -> Result<Setup> {
    let plan = config.plan()?;
    let device = crate::device::select_all(&config.device_names())?.remove(0);
    device.seed(config.seed);
    if plan.imagenet {
        let path = config.imagenet_weights.as_deref().unwrap_or_default();
        if !Path::new(path).is_file() {
            bail!("ImageNet weights file {path} does not exist");
        }
    }
    Ok(Setup { plan, device })
}

/// A fresh network for `config` (`plan` is its plan): ImageNet backbone when asked for, trained batch norms at
/// PyTorch's pace. Fresh for every use: Burn's batch-norm running statistics are shared between clones of a
/// module, so a record loaded into a clone would reach into the others (and into the checkpoint file).
pub fn network(config: &TrainConfig, plan: &Plan, device: &burn::tensor::Device) -> Result<GlitchNet> {
    let mut net = GlitchNetConfig::new()
        .with_backbone(plan.variant)
        .with_num_classes(O1_CLASSES.len())
        .with_dropout(config.dropout)
        .with_fusion(plan.fusion)
        .init(device);
    if plan.imagenet {
        load_imagenet(&mut net.backbone, Path::new(config.imagenet_weights.as_deref().unwrap_or_default()))?;
    }
    if !plan.freeze_bn {
        // Batch norms that learn: running statistics at PyTorch's pace, not TF's (see the method).
        net.backbone.set_batch_norm_momentum(TRAINED_BN_MOMENTUM);
    }
    Ok(net)
}

/// What training starts from: images, or what the frozen part of `net` makes of them.
pub fn stage(mode: Mode, net: &GlitchNet) -> Stage {
    match mode {
        Mode::All => Stage::Images,
        Mode::Frozen => Stage::Embeddings,
        Mode::LastBlocks(n) => Stage::Blocks { first: net.backbone.num_blocks() - n },
    }
}

/// The glitches of a class the model has, with its index; the others are counted in `ignored` by class.
pub fn known(found: Vec<GlitchFiles>, ignored: &mut BTreeMap<String, usize>) -> Vec<(GlitchFiles, usize)> {
    found
        .into_iter()
        .filter_map(|g| match class_index(&g.class) {
            Some(c) => Some((g, c)),
            None => {
                *ignored.entry(g.class.clone()).or_default() += 1;
                None
            }
        })
        .collect()
}

/// `split.csv`: which part every glitch went to, so `eval --split` can evaluate exactly the held-out part
/// (and scripts/make-reference-set.sh knows what the network trained on).
pub fn split_csv<'a>(rows: impl IntoIterator<Item = (&'a GlitchFiles, Part)>) -> Result<String> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(["key", "class", "source", "part", "files"])?;
    for (g, part) in rows {
        let files: Vec<String> = g.files.iter().map(|(_, p)| p.display().to_string()).collect();
        writer.write_record([g.split_key(), &g.class, &g.source, part.name(), &files.join(";")])?;
    }
    let bytes = writer.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(String::from_utf8(bytes)?)
}

/// One row of a run's split.csv ([`split_csv`]).
pub struct SplitRow {
    /// The glitch's split key ([`GlitchFiles::split_key`]).
    pub key: String,
    pub class: String,
    pub source: String,
    /// The part's name (train, valid, test, unused).
    pub part: String,
}

/// The rows of a run's split.csv.
pub fn read_split_csv(path: &Path) -> Result<Vec<SplitRow>> {
    let mut reader = csv::Reader::from_path(path).with_context(|| format!("reading {}", path.display()))?;
    reader
        .records()
        .map(|record| {
            let record = record.with_context(|| format!("{} is not a split file", path.display()))?;
            let field = |i: usize| record.get(i).unwrap_or_default().to_string();
            Ok(SplitRow { key: field(0), class: field(1), source: field(2), part: field(3) })
        })
        .collect()
}
