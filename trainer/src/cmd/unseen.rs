//! `glitchscope unseen`: the unseen-class benchmark on real glitches (issue 25). Each class in turn is left out:
//! the known classes' real glitches are cut into folds, and each fold's references, PCA and linear head are
//! fitted without that fold and without the left-out class; then the left-out class's real glitches are scored
//! against them. Printed: per candidate unfamiliar score the median AUROC, recall and false alarms at a flag
//! threshold set by a stated false-alarm rate on known glitches; per class the AUROC, the map's cluster, and
//! few-shot recall from 1, 3 and 5 examples.
//!
//! The embedding is the model's (`--model`). With an ImageNet card from `glitchscope init` (its backbone never
//! saw a glitch) every row is honest: the left-out class shapes nothing that scores it. With a fine-tuned card
//! only the classes its network never trained on are (Fast_Scattering for the shipped model); the table marks
//! the others. The embeddings are computed once and cached, so a rerun with other options takes seconds.

use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use clap::Args;

use crate::unseen::measure::{Options, SYNTHETIC_SOURCE, leave_out, leave_out_synthetic, score_names};
use crate::unseen::real_set::{count_by_class, default_cache, embed_real};
use crate::unseen::{clusters, report};

#[derive(Args)]
pub struct UnseenArgs {
    /// Model card whose embeddings are measured (an ImageNet card from `glitchscope init` for the honest
    /// protocol on every class).
    #[arg(long, default_value = "models/default.json")]
    pub model: PathBuf,
    /// Folder of sources of labelled real glitches (`<source>/<Class>/<files>`).
    #[arg(long, default_value = "../shared/data/real")]
    pub real: PathBuf,
    /// Classes never among the known ones (no model here was trained on them); each is still left out in turn.
    #[arg(long, value_delimiter = ',', default_value = "Fast_Scattering")]
    pub never_known: Vec<String>,
    /// Leave out only these classes (default: every class with at least --min-glitches real glitches, except
    /// None_of_the_Above, which is not one shape).
    #[arg(long, value_delimiter = ',')]
    pub classes: Vec<String>,
    #[arg(long, default_value_t = 3)]
    pub min_glitches: usize,
    #[arg(long, default_value_t = 5)]
    pub folds: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Share of known glitches the flag threshold lets through.
    #[arg(long, default_value_t = 0.05)]
    pub false_alarm_rate: f64,
    /// Few-shot example counts.
    #[arg(long, value_delimiter = ',', default_value = "1,3,5")]
    pub shots: Vec<usize>,
    /// Random draws of the examples per count.
    #[arg(long, default_value_t = 20)]
    pub draws: usize,
    /// Classes the model's network never trained on, when its card's labels do not say it (a network trained
    /// on a subset of the classes keeps all 22 outputs): their rows are the honest ones.
    #[arg(long, value_delimiter = ',')]
    pub network_never_saw: Vec<String>,
    /// Score for the per-class table (default: the best median AUROC on the honest rows).
    #[arg(long)]
    pub score: Option<String>,
    /// A folder of synthetic glitches (`<folder>/<any name>/<Class>/<views>`, from `glitchscope synth`): the generator's
    /// later Gravity Spy classes (Blip_Low_Frequency, Fast_Scattering, 70HZLINE, HIGHFREQUENCYBURST; never
    /// trained on) and a set of the known classes. Each later class is measured against the synthetic known
    /// glitches, with the real known glitches as references and null (a table of its own).
    #[arg(long)]
    pub synthetic: Option<PathBuf>,
    /// The `split.csv` of the run that trained the model: its real glitches
    /// serve as references only and are never scored, so a network fine-tuned on some real glitches is measured
    /// on the others. A left-out class must have none there.
    #[arg(long)]
    pub trained_on: Option<PathBuf>,
    /// Embeddings cache (default ~/.cache/glitchscope/unseen/<card>-real-embeddings.json).
    #[arg(long)]
    pub cache: Option<PathBuf>,
    /// Also write the tables to this markdown file.
    #[arg(long)]
    pub report: Option<PathBuf>,
    #[arg(long, default_value_t = 8)]
    pub batch_size: usize,
    /// Self-training rounds of the page's few-shot head rule (default: the page's, `few_shot_head::SELF_TRAINING`).
    #[arg(long)]
    pub self_training_rounds: Option<usize>,
    /// Smallest few-shot probability that makes a glitch join the class in self-training (default: the page's).
    #[arg(long)]
    pub self_training_min: Option<f32>,
    /// Also print how other HDBSCAN settings than the page's cluster the real glitches (a grid).
    #[arg(long)]
    pub map_grid: bool,
}

pub fn run(args: UnseenArgs) -> Result<()> {
    if args.folds < 2 {
        bail!("--folds must be at least 2");
    }
    let cache = args.cache.clone().unwrap_or_else(|| default_cache(&args.model, "real-embeddings"));
    let glitches = embed_real(&args.model, &args.real, &cache, args.batch_size)?;
    let counts = count_by_class(&glitches);
    let classes: Vec<String> = if args.classes.is_empty() {
        counts.iter().filter(|(c, n)| **n >= args.min_glitches && c.as_str() != "None_of_the_Above").map(|(c, _)| c.clone()).collect()
    } else {
        args.classes.clone()
    };
    let card = glitchscope::card::ModelCard::from_json(
        &args.model.display().to_string(),
        &std::fs::read_to_string(&args.model).with_context(|| format!("reading {}", args.model.display()))?,
    )?;
    // An untrained head (glitchscope init) means the backbone never saw a glitch.
    let untrained = card.training.get("head").and_then(|h| h.as_str()) == Some("random");
    let trained: Vec<String> = if untrained {
        Vec::new()
    } else {
        card.labels.iter().filter(|l| !args.network_never_saw.contains(l)).cloned().collect()
    };
    let opts = Options {
        folds: args.folds,
        seed: args.seed,
        false_alarm_rate: args.false_alarm_rate,
        shots: args.shots.clone(),
        draws: args.draws,
        trained_on: match &args.trained_on {
            Some(path) => crate::train::setup::read_split_csv(path)?.into_iter().map(|r| r.key).collect(),
            None => Default::default(),
        },
        self_training: {
            let page = glitchscope::discovery::few_shot_head::SELF_TRAINING;
            glitchscope::discovery::few_shot_head::SelfTraining {
                rounds: args.self_training_rounds.unwrap_or(page.rounds),
                min_probability: args.self_training_min.unwrap_or(page.min_probability),
            }
        },
    };
    let mut results = Vec::new();
    for class in &classes {
        let started = std::time::Instant::now();
        match leave_out(&glitches, class, &args.never_known, &opts) {
            Ok(r) => {
                eprintln!("{class}: {} glitches, {:.1} s", r.n, started.elapsed().as_secs_f64());
                results.push(r);
            }
            Err(e) => eprintln!("{class}: skipped: {e:#}"),
        }
    }
    if results.is_empty() {
        bail!("no class could be left out");
    }
    let chosen = match &args.score {
        Some(name) => score_names().iter().position(|n| n == name).with_context(|| format!("--score {name}: one of {:?}", score_names()))?,
        None => report::best_score(&results, &trained),
    };
    let synthetic_results = match &args.synthetic {
        Some(dir) => measure_synthetic(&args, dir, &glitches, &opts)?,
        None => Vec::new(),
    };
    let points = clusters::prepared_points(&glitches)?;
    let map = clusters::cluster_classes(&glitches, &points)?;
    let command = std::env::args().map(|a| if a.contains(' ') { format!("'{a}'") } else { a }).collect::<Vec<_>>().join(" ");
    let ctx = report::Context {
        command: &command,
        model: &args.model.display().to_string(),
        trained: &trained,
        folds: args.folds,
        false_alarm_rate: args.false_alarm_rate,
        trained_on: glitches.iter().filter(|g| opts.trained_on.contains(crate::train::dataset::split_key_of(&g.key))).count(),
    };
    let mut md = report::markdown(&ctx, &results, &map, chosen);
    if !opts.trained_on.is_empty()
        && let Some(check) = crate::unseen::shipped_calibration::check(&glitches, &opts.trained_on, &trained)?
    {
        md.push_str(&report::shipped_markdown(&check));
    }
    if args.map_grid {
        md.push_str(&report::grid_markdown(&clusters::grid(&glitches, &points, &trained)?));
    }
    if !synthetic_results.is_empty() {
        md.push_str(&report::synthetic_markdown(&synthetic_results, chosen, args.synthetic.as_deref().unwrap_or(std::path::Path::new(""))));
    }
    println!("{md}");
    if let Some(path) = &args.report {
        std::fs::write(path, &md).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// Every later class in `dir` (a class that is not one of the model's labels), measured by the synthetic
/// protocol ([`leave_out_synthetic`]).
fn measure_synthetic(args: &UnseenArgs, dir: &std::path::Path, real: &[crate::unseen::real_set::RealGlitch], opts: &Options) -> Result<Vec<crate::unseen::measure::LeftOut>> {
    let name = dir.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let cache = default_cache(&args.model, &format!("synthetic-{name}"));
    let mut synthetic = embed_real(&args.model, dir, &cache, args.batch_size)?;
    for g in &mut synthetic {
        g.source = SYNTHETIC_SOURCE.to_string();
    }
    let later: std::collections::BTreeSet<String> =
        synthetic.iter().map(|g| g.class.clone()).filter(|c| glitchscope::labels::class_index(c).is_none()).collect();
    let all: Vec<_> = real.iter().cloned().chain(synthetic).collect();
    let mut out = Vec::new();
    for class in &later {
        match leave_out_synthetic(&all, class, &args.never_known, opts) {
            Ok(r) => out.push(r),
            Err(e) => eprintln!("{class} (synthetic): skipped: {e:#}"),
        }
    }
    Ok(out)
}

