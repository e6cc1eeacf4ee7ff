//! `glitchscope`: the command-line tool. One subcommand per file in `cmd/`.

mod cmd;
mod device;

use clap::{Parser, Subcommand};

/// GlitchScope: classify LIGO glitches (Gravity Spy classes) with a fine-tuned ImageNet EfficientNet-Lite.
#[derive(Parser)]
#[command(name = "glitchscope", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Classify spectrogram images (files or folders) with a model card; prints top-5 per glitch.
    Classify(cmd::classify::ClassifyArgs),
    /// Make a model card from the ImageNet backbone with an untrained head (a starting point for training).
    Init(cmd::init::InitArgs),
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Classify(args) => cmd::classify::run(args),
        Command::Init(args) => cmd::init::run(args),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
