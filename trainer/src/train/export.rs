//! Writing a model: fp16 weights + model card, the check of the fp16 export against the f32 model, and the
//! card's record of how the model was trained. `glitchscope init` (untrained head), `train` (best epoch) and
//! `cv --export` (the final fit) all write their models through here.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use burn::tensor::activation::softmax;
use glitchscope::card::{CARD_FORMAT, CardInput, ModelCard, WeightsSpec};
use glitchscope::inference::Classifier;
use glitchscope::labels::O1_CLASSES;
use glitchscope::model::weights::{save_burnpack_f16, sha256_hex};
use glitchscope::model::{GlitchNet, LiteVariant};
use serde_json::json;

use super::config::{Mode, Plan, TrainConfig};
use super::features::ViewStore;
use super::history::{self, EpochRow};
use super::loader::{GlitchLoader, Sample};
use super::model::Trainee;
use super::run::CURVES_FILE;
use crate::report::metrics::{Outcome, summarise};
use crate::report::plots;

/// A card for the ImageNet backbone with an untrained head; `write_model` fills in the weights fields.
pub fn untrained_card(variant: LiteVariant, height: usize, width: usize) -> ModelCard {
    ModelCard {
        format: CARD_FORMAT.into(),
        name: format!("glitchscope-{}-untrained", variant.name()),
        description: "ImageNet EfficientNet-Lite backbone, untrained 22-class head: for testing the tool chain, \
                      not for science."
            .into(),
        labels: O1_CLASSES.iter().map(|s| s.to_string()).collect(),
        backbone: variant.name().into(),
        fusion: None,
        input: CardInput { height, width, preprocessing: String::new() },
        views: vec![0.5, 1.0, 2.0, 4.0],
        weights: WeightsSpec { file: String::new(), sha256: String::new(), bytes: 0, dtype: "f16".into() },
        training: serde_json::json!({ "initialisation": "imagenet", "head": "random" }),
        metrics: serde_json::Value::Null,
        reference: None,
        calibration: None,
        neighbour_vote: None,
    }
}

/// Write fp16 weights next to `card_path` and the card with their checksum; returns the final card.
pub fn write_model(model: &GlitchNet, card_path: &Path, mut card: ModelCard) -> Result<ModelCard> {
    let stem = card_path.file_stem().context("the card path needs a file name")?.to_string_lossy().to_string();
    let weights_name = format!("{stem}.bpk");
    let weights_path = card_path.with_file_name(&weights_name);
    let bytes = save_burnpack_f16(model, &weights_path.display().to_string())?;
    if let Some(dir) = card_path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&weights_path, &bytes).with_context(|| format!("writing {}", weights_path.display()))?;
    card.weights = WeightsSpec { file: weights_name, sha256: sha256_hex(&bytes), bytes: bytes.len() as u64, dtype: "f16".into() };
    card.validate(&card_path.display().to_string())?;
    std::fs::write(card_path, card.to_json() + "\n").with_context(|| format!("writing {}", card_path.display()))?;
    Ok(card)
}

/// The card of a trained model before its metrics are known.
pub fn base_card(config: &TrainConfig, plan: &Plan) -> ModelCard {
    let spec = glitchscope::preprocess::InputSpec { height: config.height as u32, width: config.width as u32 };
    let mut card = untrained_card(plan.variant, config.height, config.width);
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

/// The f32 model and its fp16 export (read back from the written weights) on the same glitches.
pub struct Comparison {
    pub f32: Vec<Outcome>,
    pub fp16: Vec<Outcome>,
}

impl Comparison {
    /// Top-1 of the f32 model and of the export, percent.
    pub fn top1(&self) -> (f64, f64) {
        let labels: Vec<String> = O1_CLASSES.iter().map(|s| s.to_string()).collect();
        (summarise(&self.f32, &labels).top[0], summarise(&self.fp16, &labels).top[0])
    }

    /// The largest difference of a class probability between the two.
    pub fn max_abs_probability_difference(&self) -> f32 {
        self.f32
            .iter()
            .zip(&self.fp16)
            .flat_map(|(x, y)| x.probabilities.iter().zip(&y.probabilities).map(|(p, q)| (p - q).abs()))
            .fold(0f32, f32::max)
    }

    /// The export passes when its top-1 is within 0.1 point of the f32 model's.
    pub fn within(&self) -> bool {
        let (a, b) = self.top1();
        (a - b).abs() <= 0.1
    }
}

/// Write `trained` as fp16 weights + `card` at `card_path`, then run the f32 model and the export on each set
/// of `checks` (whole network, from the pixels of `pixel_store`). Returns the card as written (weights fields
/// filled in) and one comparison per set.
pub fn write_and_compare(
    trained: &Trainee,
    card_path: &Path,
    card: ModelCard,
    pixel_store: &Arc<ViewStore>,
    checks: &[&[Sample]],
    device: &burn::tensor::Device,
) -> Result<(ModelCard, Vec<Comparison>)> {
    let card = write_model(&trained.net, card_path, card)?;
    let fp16 = Trainee { net: Classifier::from_card_file(card_path, device)?.model };
    let mut comparisons = Vec::new();
    for samples in checks {
        let loader = GlitchLoader::evaluation(pixel_store.clone(), samples.to_vec(), 16, device);
        comparisons.push(Comparison { f32: evaluate(trained, &loader)?, fp16: evaluate(&fp16, &loader)? });
    }
    Ok((card, comparisons))
}

/// The part of the card's `training` record every trained model has; the caller adds what is its own.
pub fn training_record(
    config: &TrainConfig,
    plan: &Plan,
    command: &str,
    data: serde_json::Value,
    extraction: &serde_json::Value,
    rows: &[EpochRow],
    trained: &Trainee,
) -> Result<serde_json::Map<String, serde_json::Value>> {
    let record = json!({
        "command": command,
        "config": serde_json::to_value(config)?,
        "data": data,
        "mode_note": mode_note(plan.mode, config.augment),
        "final_epoch": rows.last().cloned().unwrap_or_default(),
        "history": history::FILE,
        "feature_extraction": extraction,
        "weights_content_sha256": tensors_sha256(&trained.net)?,
        "hardware": hardware(&config.device_names().join(",")),
    });
    match record {
        serde_json::Value::Object(map) => Ok(map),
        _ => unreachable!("a json! object"),
    }
}

/// Write the completed card, draw the training curves next to it, and fail when the fp16 check did.
pub fn finish(card: &ModelCard, card_path: &Path, rows: &[EpochRow], curves_title: &str, fp16_ok: bool) -> Result<()> {
    card.validate(&card_path.display().to_string())?;
    std::fs::write(card_path, card.to_json() + "\n").with_context(|| format!("writing {}", card_path.display()))?;
    let out = card_path.parent().unwrap_or(Path::new("."));
    if let Err(e) = plots::curves_png(&out.join(CURVES_FILE), rows, curves_title) {
        eprintln!("warning: could not draw the training curves: {e:#}");
    }
    println!("wrote {} ({}, sha256 {})", card_path.display(), card.weights.file, card.weights.sha256);
    if !fp16_ok {
        bail!("the fp16 export differs from the f32 model by more than 0.1 point of top-1 (see above)");
    }
    Ok(())
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

/// sha256 over the names and f32 values of every tensor of the trained model, in name order. Unlike the
/// weights file's checksum it does not depend on Burn's parameter ids, which are random per process: two
/// runs that trained identically have the same content digest.
fn tensors_sha256(net: &GlitchNet) -> Result<String> {
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
