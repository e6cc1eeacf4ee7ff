//! `glitchscope train`: fine-tune GlitchNet on folders of Gravity Spy spectrograms (see `train/` for how).
//!
//! Options come from `--config FILE.json` (any subset of the options in `train/config.rs`), then from flags,
//! which win. The resulting config is saved as `<out>/config.json`; `--resume --out DIR` continues that run
//! from its last complete checkpoint with exactly that config.

use std::path::PathBuf;

use anyhow::{Result, bail};
use burn::config::Config;
use clap::{ArgMatches, Args};

use crate::train::config::{TrainConfig, TrainOptions};
use crate::train::run::{self, CONFIG_FILE, RunOptions};

#[derive(Args, Debug, Clone)]
pub struct TrainArgs {
    /// Continue the run in --out from its last complete checkpoint (after a crash or kill).
    #[arg(long)]
    pub resume: bool,
    /// Start over in a --out that already holds a run (deletes its checkpoints, history and model).
    #[arg(long)]
    pub overwrite: bool,
    #[command(flatten)]
    pub options: TrainOptions,
}

/// `given`: the matches of the `train` subcommand (which flags were given, as opposed to left at their default).
pub fn run(args: TrainArgs, given: &ArgMatches) -> Result<()> {
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let config = if args.resume {
        let flags = TrainOptions::flags_given(given);
        if !flags.iter().any(|f| f == "out") {
            bail!("--resume needs --out DIR, the run to continue");
        }
        if flags.len() > 1 || args.options.config.is_some() || args.overwrite {
            bail!("--resume continues a run with its saved {CONFIG_FILE}: pass only --out");
        }
        let out = args.options.flags.out;
        let path = PathBuf::from(&out).join(CONFIG_FILE);
        let mut config = TrainConfig::load(&path)
            .map_err(|e| anyhow::anyhow!("--resume: cannot read {}: {e}", path.display()))?;
        // The run may have been moved; its directory is where it is now.
        config.out = out;
        config
    } else {
        args.options.to_config(given)?
    };
    run::train(config, RunOptions { resume: args.resume, overwrite: args.overwrite, command })
}
