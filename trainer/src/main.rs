//! `glitchscope`: the command-line tool. One subcommand per file in `cmd/`.

mod catalogue;
mod cmd;
mod device;
mod files;
mod gallery;
mod report;
mod strain_inputs;
mod synth;
mod train;
mod unseen;

use clap::{CommandFactory, FromArgMatches, Subcommand};

/// GlitchScope: classify LIGO glitches (Gravity Spy classes) with a fine-tuned ImageNet EfficientNet-Lite.
#[derive(clap::Parser)]
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
    /// Fine-tune on folders of Gravity Spy spectrograms (frozen, last-N blocks or all layers) and export a model.
    Train(cmd::train::TrainArgs),
    /// k-fold cross-validation over real labelled glitches (each fold trained on synthetic + the other folds),
    /// with calibration; --export trains and exports the final calibrated model.
    Cv(cmd::cv::CvArgs),
    /// Evaluate a model card on labelled folders: top-1..top-5, per class, confusion matrix, curves.
    Eval(cmd::eval::EvalArgs),
    /// Gravity Spy Q-transform of a strain .npy (gwpy 4.1 equivalent) to a [time, frequency] .npy, optionally a PNG.
    Qtransform(cmd::qtransform::QTransformArgs),
    /// Make a synthetic Gravity-Spy-like data set: simulated O1 strain with glitches of every class, four views each.
    Synth(cmd::synth::SynthArgs),
    /// One PNG with a row per O1 class: a synthetic glitch's four views next to a real one's.
    Gallery(cmd::gallery::GalleryArgs),
    /// Embeddings (pooled network features) of glitches in files or folders, to CSV, .npy or a reference set.
    Embed(cmd::embed::EmbedArgs),
    /// Map (t-SNE), clusters (HDBSCAN) and unfamiliar-glitch scores of an embeddings file; CSV, PNG and JSON.
    Cluster(cmd::cluster::ClusterArgs),
    /// Nearest neighbours of one glitch by cosine similarity, in an embeddings file and a reference set.
    Similar(cmd::similar::SimilarArgs),
    /// Per class, how far synthetic glitches are from real ones (Fréchet distance, nearest-neighbour ratio,
    /// real-vs-synthetic AUROC on ImageNet features, sim-to-real recall); scripts/realism.sh makes the inputs.
    Realism(cmd::realism::RealismArgs),
    /// Classify or embed a whole observing run on a Slurm cluster: cut it into shards (a job array), see
    /// which are finished, merge their results into one CSV.
    #[command(subcommand)]
    Catalogue(cmd::catalogue::CatalogueCommand),
    /// Fit and measure the neighbour vote (head + nearest labelled real glitches of the reference set) on real
    /// glitches the network never trained on; --write puts it into the card.
    Vote(cmd::vote::VoteArgs),
    /// The unseen-class benchmark on real glitches: leave each class out in turn and measure the unfamiliar
    /// scores, the map's clusters and few-shot classes on its real glitches.
    Unseen(cmd::unseen::UnseenArgs),
}

fn main() {
    // The matches are kept: `train` and `cv` tell the flags given from the defaults (flags win over --config).
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let given = matches.subcommand().map(|(_, m)| m.clone()).unwrap_or_default();
    let result = match cli.command {
        Command::Classify(args) => cmd::classify::run(args),
        Command::Init(args) => cmd::init::run(args),
        Command::Train(args) => cmd::train::run(args, &given),
        Command::Cv(args) => cmd::cv::run(args, &given),
        Command::Eval(args) => cmd::eval::run(args),
        Command::Qtransform(args) => cmd::qtransform::run(args),
        Command::Synth(args) => cmd::synth::run(args),
        Command::Gallery(args) => cmd::gallery::run(args),
        Command::Embed(args) => cmd::embed::run(args),
        Command::Catalogue(command) => cmd::catalogue::run(command),
        Command::Cluster(args) => cmd::cluster::run(args),
        Command::Similar(args) => cmd::similar::run(args),
        Command::Realism(args) => cmd::realism::run(args),
        Command::Vote(args) => cmd::vote::run(args),
        Command::Unseen(args) => cmd::unseen::run(args),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
