//! The unseen-class test on synthetic data (issue #6): how well the discovery tools find a class a model was
//! trained without. Run by scripts/unseen-class.sh, which makes the training folder and trains the model first:
//!
//!   cargo run --release -p glitchscope-trainer --example unseen_class -- \
//!     --model RUN/model.json --split RUN/split.csv --unseen DATA/CLASS [--md docs/unseen-class.md]
//!
//! The run must have a test part (`glitchscope train --test-fraction 0.2`). Reference set = the run's validation
//! glitches (known classes the head was not trained on, as in the shipped reference set; `--reference-parts
//! train,valid` adds the training glitches); test = the run's test part (known classes, never looked at) plus
//! every glitch of the unseen class. Prints a markdown table; with --md, writes it into that file as the section
//! of this class (other classes' sections are kept).

mod inputs;
mod measure;
mod report;

use std::path::PathBuf;

use anyhow::{Context, Result};
use burn::tensor::Device;
use clap::Parser;
use glitchscope::inference::Classifier;

#[derive(Parser)]
struct Args {
    /// Model card of the run trained without the unseen class.
    #[arg(long)]
    model: PathBuf,
    /// The run's split.csv (with train, valid and test parts).
    #[arg(long)]
    split: PathBuf,
    /// Folder with every glitch of the unseen class (its name is the class name).
    #[arg(long)]
    unseen: PathBuf,
    /// Markdown file to write this class's section into.
    #[arg(long)]
    md: Option<PathBuf>,
    /// Parts of the run's split that form the reference set (comma-separated). Default: the validation part
    /// alone, like the shipped reference set (glitches the head was not trained on); `train,valid` takes all.
    #[arg(long, default_value = "valid", value_delimiter = ',')]
    reference_parts: Vec<String>,
    /// Random example draws per few-shot size.
    #[arg(long, default_value_t = 20)]
    draws: usize,
    #[arg(long, default_value_t = 8)]
    batch_size: usize,
    /// The command line to quote in the markdown.
    #[arg(long, default_value = "scripts/unseen-class.sh")]
    command: String,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let device = Device::flex();
    let classifier = Classifier::from_card_file(&args.model, &device).with_context(|| format!("loading {}", args.model.display()))?;
    let unseen_dir = std::fs::canonicalize(&args.unseen).with_context(|| format!("{} is missing", args.unseen.display()))?;
    let class = unseen_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();

    let cache_path = args.model.with_file_name(format!("unseen-{class}-scored.json"));
    let sha = classifier.card.weights.sha256.clone();
    let scored = match inputs::load_cache(&cache_path, &sha, &unseen_dir, &args.reference_parts) {
        Some(s) => {
            eprintln!("using the model outputs cached in {}", cache_path.display());
            s
        }
        None => {
            let mut glitches = inputs::from_split(&args.split, &args.reference_parts)?;
            if glitches.iter().any(|g| g.label == class) {
                anyhow::bail!("{} holds glitches of {class}: the run was not trained without it", args.split.display());
            }
            glitches.extend(inputs::from_class_folder(&unseen_dir)?);
            let scored = inputs::score(&classifier, glitches, args.batch_size)?;
            inputs::save_cache(&cache_path, &inputs::Cache { weights_sha256: sha, reference_parts: args.reference_parts.clone(), unseen_dir: unseen_dir.clone(), glitches: scored.clone() })?;
            scored
        }
    };

    let labels = &classifier.card.labels;
    let novelty = measure::novelty(&scored)?;
    eprintln!("unfamiliar score done; mapping and clustering");
    let cluster = measure::cluster(&scored)?;
    let alone = measure::model_alone(&scored, labels);
    let calls = measure::unseen_calls(&scored, labels);
    let few_shot = [1, 5, 10].iter().map(|&k| measure::few_shot(&scored, labels, k, args.draws, 2026)).collect::<Result<Vec<_>>>()?;
    let known_classes = {
        let mut c: Vec<&str> = measure::by_role(&scored, inputs::Role::Reference).iter().map(|s| s.glitch.label.as_str()).collect();
        c.sort();
        c.dedup();
        c.len()
    };
    let section = report::section(&report::Facts {
        class: &class,
        model: &args.model,
        head_outputs: labels.len(),
        known_classes,
        reference_parts: &args.reference_parts.join(" + "),
        command: &args.command,
        novelty: &novelty,
        cluster: &cluster,
        alone,
        calls: &calls,
        few_shot: &few_shot,
    });
    println!("{section}");
    if let Some(md) = &args.md {
        report::write_section(md, &class, &section)?;
        eprintln!("wrote the {class} section of {}", md.display());
    }
    Ok(())
}
