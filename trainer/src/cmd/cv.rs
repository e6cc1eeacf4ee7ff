//! `glitchscope cv`: k-fold cross-validation over the real labelled glitches (see `train/cv.rs`), with the
//! training options of `glitchscope train`; `--export` then trains the shipped model on everything.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::{ArgMatches, Args};

use crate::train::config::TrainOptions;
use crate::train::cv::{self, CvOptions};

#[derive(Args, Debug)]
pub struct CvArgs {
    /// Real labelled glitches to cut into folds (a Gravity Spy folder, or a folder of such folders; repeatable).
    /// Classes outside the 22 O1 classes (O3's Fast_Scattering, Unlabeled) are left out and counted.
    #[arg(long = "real", required = true)]
    pub real: Vec<PathBuf>,
    /// Number of folds; at most the glitch count of the smallest class that has two or more.
    #[arg(long, default_value_t = 2)]
    pub folds: usize,
    /// After the folds, train on all the data and export model.json + model.bpk into --out/final, with the
    /// cross-validation metrics and the fitted temperature in the card.
    #[arg(long)]
    pub export: bool,
    /// Compare several training recipes on the same folds and extracted features: a JSON object
    /// {"name": {"lr": 3e-4, "real_weight": 4, ...}, ...} of training-only options; with --export the recipe
    /// with the best macro recall ships.
    #[arg(long)]
    pub grid: Option<PathBuf>,
    /// Train again the folds whose predictions are already saved in --out (by default a fold saved with the
    /// same recipe is reused, one made with other options is trained again).
    #[arg(long = "redo", visible_alias = "overwrite")]
    pub redo: bool,
    /// Refused: cv always resumes (see --redo); `glitchscope train --resume` continues a training run.
    #[arg(long, hide = true)]
    pub resume: bool,
    #[command(flatten)]
    pub options: TrainOptions,
}

/// Training options that mean nothing to a cross-validation, and why: given as flags they are refused (in a
/// `--config` file, e.g. a `train` run's config.json, they are left unused).
const NOT_FOR_CV: &[(&str, &str)] = &[
    ("patience", "cv trains a fixed number of epochs (--epochs) and evaluates the last: no early stopping"),
    ("monitor", "cv trains a fixed number of epochs (--epochs) and evaluates the last: no epoch is picked"),
    ("test_fraction", "cv tests on the real folds (--folds); the synthetic data keeps only a validation part (--valid-fraction)"),
    ("per_class_limit", "cv trains on every glitch of the other folds and of the synthetic training part"),
];

/// `given`: the matches of the `cv` subcommand.
pub fn run(args: CvArgs, given: &ArgMatches) -> Result<()> {
    if args.resume {
        bail!(
            "cv has no --resume: it always reuses the folds already saved in --out with the same recipe and trains \
             only the others (--redo trains them all again); drop --resume"
        );
    }
    let flags = TrainOptions::flags_given(given);
    if let Some((name, why)) = NOT_FOR_CV.iter().find(|(name, _)| flags.iter().any(|f| f == name)) {
        bail!("cv does not use --{}: {why}", name.replace('_', "-"));
    }
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let config = args.options.to_config(given)?;
    let grid = match &args.grid {
        Some(path) => cv::read_grid(path)?,
        None => Vec::new(),
    };
    cv::cross_validate(config, CvOptions { real: args.real, folds: args.folds, export: args.export, overwrite: args.redo, command, grid })
}
