//! Native side of the comparison benchmark (scripts/bench-compare.sh, issue #7): hands the default model to
//! PyTorch and times our own inference and training on the CPU (flex) backend.
//!
//!   cargo run --release -p glitchscope-trainer --example bench_native -- export DIR CARD VIEW...
//!   cargo run --release -p glitchscope-trainer --example bench_native -- time CARD --batch 16 [--runs N] [--train-runs N]
//!   cargo run --release -p glitchscope-trainer --example bench_native -- profile CARD [--batch B] [--runs N] [--unfused]
//!   cargo run --release -p glitchscope-trainer --example bench_native -- train-profile CARD [--batch B] [--runs N]
//!
//! `export` writes every tensor of the model (`DIR/weights/<module path>.npy`, f32), one glitch's preprocessed
//! views and presence mask (`DIR/input.npy` `[1, 4, 3, H, W]`, `DIR/mask.npy` `[1, 4]`) and our logits for them
//! (`DIR/logits.npy`), so that bench/glitchnet.py can load the same weights and check it computes the same
//! network. `time` prints one JSON line: inference and training-step times (see timing.rs); `profile` one JSON line
//! with the time of every operation of the backbone (see profile.rs); `train-profile` the training step's layers
//! forward and backward (see train_profile.rs).

mod export;
mod profile;
mod timing;
mod train_profile;

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use burn::tensor::Device;
use glitchscope::inference::Classifier;
use glitchscope::model::GlitchNet;

const USAGE: &str = "usage: bench_native export DIR CARD VIEW...\n       bench_native time CARD [--batch B] [--runs N] [--train-runs N] [--burn-ops]\n       bench_native profile CARD [--batch B] [--runs N] [--unfused]\n       bench_native train-profile CARD [--batch B] [--runs N] [--burn-ops]";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let device = Device::flex();
    device.seed(7);
    match args.first().map(String::as_str) {
        Some("export") => {
            let [_, dir, card, views @ ..] = args.as_slice() else { bail!("{USAGE}") };
            if views.is_empty() || views.len() > 4 {
                bail!("export takes 1 to 4 view files of one glitch\n{USAGE}");
            }
            let classifier = load(card, &device)?;
            let net = trainable(&classifier, card)?;
            export::write(&classifier, &net, &PathBuf::from(dir), views)
        }
        Some(mode @ ("time" | "profile" | "train-profile")) => {
            let Some(card) = args.get(1) else { bail!("{USAGE}") };
            let mut options = timing::Options { batch: 16, runs: 10, train_runs: 5 };
            // --unfused: Burn's own operations instead of the fused CPU kernels (model/efficientnet/fused.rs).
            let unfused = args[2..].iter().any(|a| a == "--unfused");
            glitchscope::model::efficientnet::set_fused_cpu_kernels(!unfused);
            // --burn-ops: train with Burn's own batch norm, ReLU6 and 1x1 convolutions instead of our CPU
            // training kernels (model/efficientnet/train_kernels.rs).
            let burn_ops = args[2..].iter().any(|a| a == "--burn-ops");
            glitchscope::model::efficientnet::set_train_kernels(!burn_ops);
            let rest_args: Vec<&String> = args[2..].iter().filter(|a| *a != "--unfused" && *a != "--burn-ops").collect();
            let mut rest = rest_args.into_iter();
            while let Some(flag) = rest.next() {
                let value = rest.next().with_context(|| format!("{flag} needs a value\n{USAGE}"))?;
                let n: usize = value.parse().with_context(|| format!("{flag} takes a whole number, not {value:?}"))?;
                if n == 0 {
                    bail!("{flag} must be at least 1");
                }
                match flag.as_str() {
                    "--batch" => options.batch = n,
                    "--runs" => options.runs = n,
                    "--train-runs" => options.train_runs = n,
                    other => bail!("unknown option {other:?}\n{USAGE}"),
                }
            }
            let classifier = load(card, &device)?;
            let report = match mode {
                "time" => timing::run(&classifier, trainable(&classifier, card)?, &options)?,
                "profile" => profile::run(&classifier, options.batch, options.runs)?,
                _ => train_profile::run(&classifier, options.batch, options.runs, !burn_ops)?,
            };
            println!("{report}");
            Ok(())
        }
        _ => bail!("{USAGE}"),
    }
}

fn load(card: &str, device: &Device) -> Result<Classifier> {
    Classifier::from_card_file(&PathBuf::from(card), device).with_context(|| format!("loading the model card {card}"))
}

/// The card's network with its batch norms (the classifier's is folded for inference): what PyTorch's
/// definition loads parameter by parameter, and what a training step trains.
fn trainable(classifier: &Classifier, card: &str) -> Result<GlitchNet> {
    let weights = PathBuf::from(card).with_file_name(&classifier.card.weights.file);
    let bytes = std::fs::read(&weights).with_context(|| format!("reading {}", weights.display()))?;
    Ok(Classifier::trainable_model(&classifier.card, &weights.display().to_string(), bytes, &classifier.device)?)
}
