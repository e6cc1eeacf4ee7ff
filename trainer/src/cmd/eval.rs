//! `glitchscope eval`: a model card against labelled folders. Top-1..top-5 accuracy (the paper's Table 1),
//! per-class precision/recall/F1, per-source results, the confusion matrix (PNG + CSV) and the training curves
//! (PNG, when the model's folder has the training history).
//!
//! Glitches of classes the model does not know (O3's Fast_Scattering, "Unlabeled", ...) are not errors: they
//! are reported apart, with what the model called them.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use glitchscope::inference::Classifier;
use glitchscope::views::GlitchViews;
use serde_json::json;

use crate::report::metrics::{Outcome, Summary, summarise};
use crate::report::plots;
use crate::train::dataset::{self, GlitchFiles, Unreadable};
use crate::train::history;
use crate::train::progress;

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Model card (JSON); its weights file must sit next to it.
    #[arg(long)]
    pub model: PathBuf,
    /// Labelled data in the Gravity Spy layout, or a folder of such folders (one result per sub-folder).
    #[arg(long = "data", required = true)]
    pub data: Vec<PathBuf>,
    /// Print one JSON object instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Write confusion.png, confusion.csv, curves.png and report.json here.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// A training run's split.csv: evaluate only the glitches of --part in it (e.g. the held-out validation).
    #[arg(long)]
    pub split: Option<PathBuf>,
    /// train, valid or test (with --split).
    #[arg(long, default_value = "valid")]
    pub part: String,
    /// Glitches per forward pass.
    #[arg(long, default_value_t = 16)]
    pub batch_size: usize,
    /// cpu (default), or cuda / vulkan when compiled in.
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

/// What the model said about one glitch.
struct Judged {
    source: String,
    class: String,
    probabilities: Vec<f32>,
}

pub fn run(args: EvalArgs) -> Result<()> {
    let device = crate::device::select(&args.device)?;
    let classifier = Classifier::from_card_file(&args.model, &device)?;
    // A card that votes with its reference set would find a glitch of that set as its own nearest neighbour:
    // evaluation applies the vote with the glitch left out of the set, as `glitchscope vote` measures it.
    let vote = classifier.neighbour_vote().cloned();
    let classifier = classifier.head_only();
    let card = &classifier.card;
    let labels = card.labels.clone();

    let mut glitches = dataset::scan(&args.data)?;
    if let Some(split) = &args.split {
        let keep = read_split(split, &args.part)?;
        glitches.retain(|g| keep.contains(&(g.source.clone(), g.class.clone(), g.split_key().to_string())));
        if glitches.is_empty() {
            bail!("no glitch of {} is in part {:?} of {}", join(&args.data), args.part, split.display());
        }
    }
    let spec = card.input_spec();
    // Read, preprocess and classify in chunks: only a chunk's pixels are in memory at a time.
    let bar = progress::bar(glitches.len(), "classifying");
    let mut judged = Vec::with_capacity(glitches.len());
    let mut unreadable = Vec::new();
    let batch = args.batch_size.max(1);
    for chunk in glitches.chunks(batch * 8) {
        let (pixels, bad) = dataset::load_pixels(chunk, &[0, 1, 2, 3], spec, &bar);
        unreadable.extend(bad);
        let usable: Vec<(&GlitchFiles, dataset::GlitchPixels)> =
            chunk.iter().zip(pixels).filter_map(|(g, p)| Some((g, p?))).collect();
        for part in usable.chunks(batch) {
            let views: Vec<GlitchViews> = part
                .iter()
                .map(|(_, px)| {
                    px.clone().map(|v| {
                        v.map(|p| {
                            let mut out = Vec::with_capacity(p.len());
                            dataset::normalise(&p, &mut out);
                            out
                        })
                    })
                })
                .collect();
            let predictions = classifier.predict(&views)?;
            for ((g, _), p) in part.iter().zip(predictions) {
                let probabilities = match &vote {
                    Some(vote) => vote.combine(
                        &p.probabilities,
                        &vote.class_similarities(&p.embedding, Some(g.split_key()))?,
                        vote.reference_head_probabilities(&p.embedding)?.as_deref(),
                        g.is_single_picture(),
                    ),
                    None => p.probabilities,
                };
                judged.push(Judged { source: g.source.clone(), class: g.class.clone(), probabilities });
            }
        }
    }
    bar.finish_and_clear();

    // Known classes are scored; the others are described.
    let index: BTreeMap<&str, usize> = labels.iter().enumerate().map(|(i, l)| (l.as_str(), i)).collect();
    let mut outcomes = Vec::new();
    let mut outcome_sources = Vec::new();
    let mut unknown: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for j in &judged {
        match index.get(j.class.as_str()) {
            Some(&target) => {
                outcomes.push(Outcome { target, probabilities: j.probabilities.clone() });
                outcome_sources.push(j.source.clone());
            }
            None => {
                let predicted = Outcome { target: 0, probabilities: j.probabilities.clone() }.predicted();
                *unknown.entry(j.class.clone()).or_default().entry(labels[predicted].clone()).or_default() += 1;
            }
        }
    }
    let overall = summarise(&outcomes, &labels);
    let sources: BTreeSet<&str> = outcome_sources.iter().map(String::as_str).collect();
    let per_source: BTreeMap<&str, Summary> = sources
        .iter()
        .map(|&s| {
            let subset: Vec<Outcome> =
                outcomes.iter().zip(&outcome_sources).filter(|(_, src)| src.as_str() == s).map(|(o, _)| o.clone()).collect();
            (s, summarise(&subset, &labels))
        })
        .collect();

    let mut files = serde_json::Map::new();
    if let Some(out) = &args.out {
        std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
        let shown: Vec<usize> = (0..labels.len())
            .filter(|&c| overall.confusion[c].iter().sum::<usize>() > 0 || overall.confusion.iter().any(|r| r[c] > 0))
            .collect();
        let png = out.join("confusion.png");
        let title = format!("{} on {} ({} glitches)", card.name, join(&args.data), overall.n);
        plots::confusion_png(&png, &labels, &overall.confusion, &shown, &title)?;
        let csv_path = out.join("confusion.csv");
        write_confusion_csv(&csv_path, &labels, &overall.confusion, &shown)?;
        files.insert("confusion_png".into(), json!(png));
        files.insert("confusion_csv".into(), json!(csv_path));
        let history_path = args.model.with_file_name(history::FILE);
        if history_path.is_file() {
            let rows: Vec<history::EpochRow> = history::read(&history_path, usize::MAX)?.into_values().collect();
            let curves = out.join("curves.png");
            plots::curves_png(&curves, &rows, &format!("training of {}", card.name))?;
            files.insert("curves_png".into(), json!(curves));
        }
    }

    let results = Results { name: &card.name, overall: &overall, per_source: &per_source, unknown: &unknown, unreadable: &unreadable };
    let report = report_json(&args, &results, files);
    if let Some(out) = &args.out {
        let path = out.join("report.json");
        std::fs::write(&path, serde_json::to_string_pretty(&report)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_tables(&args, &results);
    }
    Ok(())
}

fn join(paths: &[PathBuf]) -> String {
    paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
}

/// (source, class, key) of the glitches of one part of a training run's split.csv.
fn read_split(path: &Path, part: &str) -> Result<BTreeSet<(String, String, String)>> {
    if crate::train::split::Part::parse(part).is_none() {
        bail!("--part {part:?} is not one of train, valid, test, unused");
    }
    Ok(crate::train::setup::read_split_csv(path)?.into_iter().filter(|r| r.part == part).map(|r| (r.source, r.class, r.key)).collect())
}

fn write_confusion_csv(path: &Path, labels: &[String], confusion: &[Vec<usize>], shown: &[usize]) -> Result<()> {
    let mut writer = csv::Writer::from_path(path).with_context(|| format!("writing {}", path.display()))?;
    let mut header = vec!["true \\ predicted".to_string()];
    header.extend(shown.iter().map(|&c| labels[c].clone()));
    writer.write_record(&header)?;
    for &t in shown {
        let mut row = vec![labels[t].clone()];
        row.extend(shown.iter().map(|&p| confusion[t][p].to_string()));
        writer.write_record(&row)?;
    }
    writer.flush()?;
    Ok(())
}

fn tops(summary: &Summary) -> serde_json::Value {
    json!({
        "n": summary.n,
        "top1": summary.top[0], "top2": summary.top[1], "top3": summary.top[2], "top4": summary.top[3], "top5": summary.top[4],
        "macro_f1": summary.macro_f1,
    })
}

/// What an evaluation found, as both the JSON report and the tables show it.
struct Results<'a> {
    name: &'a str,
    overall: &'a Summary,
    per_source: &'a BTreeMap<&'a str, Summary>,
    /// Classes the model does not know: true class -> predicted label -> count.
    unknown: &'a BTreeMap<String, BTreeMap<String, usize>>,
    unreadable: &'a [Unreadable],
}

fn report_json(args: &EvalArgs, r: &Results, files: serde_json::Map<String, serde_json::Value>) -> serde_json::Value {
    let Results { name, overall, per_source, unknown, unreadable } = *r;
    let mut report = tops(overall);
    let per_class: serde_json::Map<String, serde_json::Value> = overall
        .per_class
        .iter()
        .map(|c| {
            let v = json!({ "support": c.support, "predicted": c.predicted, "precision": c.precision, "recall": c.recall, "f1": c.f1 });
            (c.label.clone(), v)
        })
        .collect();
    let unknown_json: serde_json::Map<String, serde_json::Value> = unknown
        .iter()
        .map(|(class, predicted)| (class.clone(), json!({ "n": predicted.values().sum::<usize>(), "predicted": predicted })))
        .collect();
    if let serde_json::Value::Object(map) = &mut report {
        map.insert("model".into(), json!(args.model));
        map.insert("model_name".into(), json!(name));
        map.insert("data".into(), json!(args.data));
        if let Some(split) = &args.split {
            map.insert("split".into(), json!({ "file": split, "part": args.part }));
        }
        map.insert("unit".into(), json!("percent"));
        map.insert("per_class".into(), serde_json::Value::Object(per_class));
        map.insert("per_source".into(), json!(per_source.iter().map(|(s, v)| (s.to_string(), tops(v))).collect::<BTreeMap<_, _>>()));
        map.insert("unknown_classes".into(), serde_json::Value::Object(unknown_json));
        map.insert("unreadable".into(), json!(unreadable));
        map.insert("files".into(), serde_json::Value::Object(files));
    }
    report
}

fn print_tables(args: &EvalArgs, r: &Results) {
    let Results { name, overall, per_source, unknown, unreadable } = *r;
    println!("{name} ({}) on {}", args.model.display(), join(&args.data));
    println!();
    println!("| data | glitches | top-1 | top-2 | top-3 | top-4 | top-5 |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let row = |label: &str, s: &Summary| {
        println!(
            "| {label} | {} | {:.1} % | {:.1} % | {:.1} % | {:.1} % | {:.1} % |",
            s.n, s.top[0], s.top[1], s.top[2], s.top[3], s.top[4]
        )
    };
    if per_source.len() > 1 {
        for (source, s) in per_source {
            row(source, s);
        }
    }
    row("all", overall);
    println!();
    println!("| class | glitches | predicted | precision | recall | F1 |");
    println!("|---|---:|---:|---:|---:|---:|");
    for c in &overall.per_class {
        println!(
            "| {} | {} | {} | {:.1} % | {:.1} % | {:.1} % |",
            c.label, c.support, c.predicted, c.precision, c.recall, c.f1
        );
    }
    println!("macro F1 over the classes present: {:.1} %", overall.macro_f1);
    if !unknown.is_empty() {
        println!();
        println!("classes the model does not know (not counted above):");
        for (class, predicted) in unknown {
            let mut list: Vec<(&String, &usize)> = predicted.iter().collect();
            list.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            let said: Vec<String> = list.iter().map(|(l, n)| format!("{l} {n}")).collect();
            println!("  {class} ({} glitches): called {}", predicted.values().sum::<usize>(), said.join(", "));
        }
    }
    if !unreadable.is_empty() {
        println!();
        println!("unreadable files (skipped): {}", unreadable.len());
        for u in unreadable {
            println!("  {}: {}", u.path, u.reason);
        }
    }
}
