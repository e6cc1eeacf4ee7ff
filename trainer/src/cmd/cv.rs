//! `glitchscope cv`: k-fold cross-validation over the real labelled glitches (see `train/cv.rs`), with the
//! training options of `glitchscope train`; `--export` then trains the shipped model on everything.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::cmd::train::TrainArgs;
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
    /// Redo folds whose predictions are already saved in --out.
    #[arg(long = "redo")]
    pub redo: bool,
    #[command(flatten)]
    pub train: TrainArgs,
}

pub fn run(args: CvArgs) -> Result<()> {
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let config = args.train.to_config()?;
    let grid = match &args.grid {
        Some(path) => cv::read_grid(path)?,
        None => Vec::new(),
    };
    cv::cross_validate(config, CvOptions { real: args.real, folds: args.folds, export: args.export, overwrite: args.redo, command, grid })
}
