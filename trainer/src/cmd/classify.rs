//! `glitchscope classify`: top-5 classes for every glitch found in files or folders, through the same
//! grouping, preprocessing and network as the browser.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use glitchscope::inference::{Prediction, TopClass};
use glitchscope::views::GlitchViews;
use glitchscope::pipeline::{self, NamedFile, ViewReport};
use serde::Serialize;

use crate::catalogue::write_atomically;
use crate::files::{Inputs, Selection, load_inputs};
use crate::strain_inputs::{self, StrainInputs};

#[derive(Args)]
pub struct ClassifyArgs {
    /// Spectrogram images (PNG, JPEG, GIF) or folders to search recursively.
    #[arg(required_unless_present_any = ["list", "strain"], conflicts_with = "strain")]
    pub inputs: Vec<PathBuf>,
    #[command(flatten)]
    pub selection: Selection,
    #[command(flatten)]
    pub strain: StrainInputs,
    /// Write a CSV catalogue here (one row per glitch: top-5, every class's probability, warnings, errors)
    /// instead of the table; it appears complete or not at all.
    #[arg(long, conflicts_with = "json")]
    pub out: Option<PathBuf>,
    /// Model card (JSON); its weights file sits next to it.
    #[arg(long, default_value = "models/default.json")]
    pub model: PathBuf,
    /// One JSON document on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Glitches per forward pass.
    #[arg(long, default_value_t = 8)]
    pub batch_size: usize,
    /// Device: cpu, or cuda/vulkan when compiled in.
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

#[derive(Serialize)]
struct GlitchOut {
    key: String,
    views: Vec<ViewReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// Set when a used view does not look like a Gravity Spy spectrogram: the class then means nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    warning: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prediction: Option<PredictionOut>,
    /// `--strain`: the trigger's fields, as the CSV's ifo, files, gps, snr and frequency columns.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    trigger: Option<TriggerOut>,
}

/// A trigger row's own fields in `--json` (snr and frequency are null when the list does not give them).
#[derive(Serialize)]
struct TriggerOut {
    gps: f64,
    ifo: String,
    file: String,
    snr: Option<f64>,
    frequency: Option<f64>,
}

#[derive(Serialize)]
struct PredictionOut {
    top5: Vec<TopClass>,
    /// Calibrated (the card's temperature applied).
    probabilities: Vec<f32>,
    /// Per view (0.5, 1, 2, 4 s): its part of the top class's calibrated logit; null for a missing view.
    view_contributions: [Option<f32>; 4],
}

impl From<Prediction> for PredictionOut {
    fn from(p: Prediction) -> Self {
        Self { top5: p.top5, probabilities: p.probabilities, view_contributions: p.view_contributions }
    }
}

pub fn run(args: ClassifyArgs) -> Result<()> {
    if args.strain.given() {
        return run_triggers(args);
    }
    let Inputs { classifier, spec, files, groups } = load_inputs(&args.model, &args.device, &args.inputs, &args.selection)?;

    let mut outputs = Vec::with_capacity(groups.len());
    let mut pending: Vec<(usize, GlitchViews)> = Vec::new();
    for group in &groups {
        // A file that cannot be read (permissions, vanished) is reported like a broken picture; the rest goes on.
        let mut named = Vec::new();
        let mut unreadable = Vec::new();
        for f in &group.files {
            match std::fs::read(&files[f.index]) {
                Ok(bytes) => named.push(NamedFile { name: f.name.clone(), bytes }),
                Err(e) => unreadable.push(ViewReport {
                    name: f.name.clone(),
                    duration: f.duration,
                    ok: false,
                    error: Some(format!("{}: cannot read the file: {e}", f.name)),
                    kind: None,
                    warning: None,
                    viridis_share: None,
                    thumbnail: None,
                }),
            }
        }
        let prepared = pipeline::prepare_glitch(&named, spec, false);
        let error = prepared.views.is_none().then(|| "no usable view".to_string());
        let warning = prepared.warning();
        if let Some(views) = prepared.views {
            pending.push((outputs.len(), views));
        }
        // The group's key, which tells apart two glitches of the same name ("key (2)").
        let key = group.key.clone();
        let mut views = prepared.reports;
        views.extend(unreadable);
        outputs.push(GlitchOut { key, views, error, warning, prediction: None, trigger: None });
    }
    for chunk in pending.chunks(args.batch_size.max(1)) {
        let views: Vec<GlitchViews> = chunk.iter().map(|(_, v)| v.clone()).collect();
        let predictions = classifier.predict(&views)?;
        for ((index, _), prediction) in chunk.iter().zip(predictions) {
            outputs[*index].prediction = Some(prediction.into());
        }
    }

    if let Some(path) = &args.out {
        let rows: Vec<RowMeta> = groups
            .iter()
            .map(|g| RowMeta {
                ifo: g.ifo.clone().unwrap_or_default(),
                files: g.files.iter().map(|f| files[f.index].display().to_string()).collect::<Vec<_>>().join(";"),
                extra: Vec::new(),
            })
            .collect();
        write_atomically(path, |tmp| write_csv(tmp, &classifier.card.labels, &[], &rows, &outputs))
            .with_context(|| format!("writing {}", path.display()))?;
        let classified = outputs.iter().filter(|g| g.prediction.is_some()).count();
        println!("wrote {} glitches ({classified} classified) to {}", outputs.len(), path.display());
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    let written = if args.json {
        let doc = serde_json::json!({
            "model": classifier.card.name,
            "labels": classifier.card.labels,
            "glitches": outputs,
        });
        serde_json::to_writer_pretty(&mut out, &doc).map_err(std::io::Error::from).and_then(|_| writeln!(out))
    } else {
        print_table(&mut out, &outputs)
    };
    finish(written)
}

fn finish(written: std::io::Result<()>) -> Result<()> {
    match written {
        // A reader that stopped early (`| head`) is not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// `classify --strain FILES --triggers LIST`: each trigger in each strain file holding it, made into its four
/// views and classified like pictures; rows add the trigger's GPS time, SNR and frequency.
fn run_triggers(args: ClassifyArgs) -> Result<()> {
    if args.selection.list.is_some() {
        anyhow::bail!("--list names picture files; with --strain give the triggers with --triggers");
    }
    let (series, jobs) = strain_inputs::plan(&args.strain, args.selection.shard)?;
    let device = crate::device::select(&args.device)?;
    let classifier = glitchscope::inference::Classifier::from_card_file(&args.model, &device)?;
    let spec = classifier.card.input_spec();
    let bar = strain_inputs::progress(jobs.len(), "triggers");
    let (mut outputs, mut rows) = (Vec::with_capacity(jobs.len()), Vec::with_capacity(jobs.len()));
    // Time spent making views (read, Q-transform, render, PNG, preprocess) and in the network, for the summary.
    let (start, mut views_s, mut network_s) = (std::time::Instant::now(), 0.0, 0.0);
    for chunk in jobs.chunks(args.batch_size.max(1)) {
        let t0 = std::time::Instant::now();
        let glitches = strain_inputs::make(chunk, &series, &args.strain, spec);
        views_s += t0.elapsed().as_secs_f64();
        let mut pending: Vec<(usize, GlitchViews)> = Vec::new();
        for g in glitches {
            let t = &g.trigger;
            let opt = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
            rows.push(RowMeta { ifo: g.ifo.clone(), files: g.file.clone(), extra: vec![format!("{:.4}", t.gps), opt(t.snr), opt(t.frequency)] });
            let trigger = Some(TriggerOut { gps: t.gps, ifo: g.ifo.clone(), file: g.file.clone(), snr: t.snr, frequency: t.frequency });
            match g.prepared {
                Ok(prepared) => {
                    let error = prepared.views.is_none().then(|| "no usable view".to_string());
                    let warning = prepared.warning();
                    if let Some(views) = prepared.views {
                        pending.push((outputs.len(), views));
                    }
                    outputs.push(GlitchOut { key: g.key, views: prepared.reports, error, warning, prediction: None, trigger });
                }
                Err(e) => outputs.push(GlitchOut { key: g.key, views: Vec::new(), error: Some(e), warning: None, prediction: None, trigger }),
            }
        }
        if !pending.is_empty() {
            let t0 = std::time::Instant::now();
            let views: Vec<GlitchViews> = pending.iter().map(|(_, v)| v.clone()).collect();
            for ((index, _), prediction) in pending.iter().zip(classifier.predict(&views)?) {
                outputs[*index].prediction = Some(prediction.into());
            }
            network_s += t0.elapsed().as_secs_f64();
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    let classified = outputs.iter().filter(|g| g.prediction.is_some()).count();
    let total_s = start.elapsed().as_secs_f64();
    eprintln!(
        "{} triggers ({classified} classified) in {total_s:.2} s = {:.2} triggers/s: views {views_s:.2} s, network {network_s:.2} s",
        outputs.len(),
        outputs.len() as f64 / total_s.max(1e-9)
    );
    for g in outputs.iter().filter(|g| g.prediction.is_none()) {
        eprintln!("error: {}: {}", g.key, g.error.as_deref().unwrap_or("not classified"));
    }
    if let Some(path) = &args.out {
        write_atomically(path, |tmp| write_csv(tmp, &classifier.card.labels, &["gps", "snr", "frequency"], &rows, &outputs))
            .with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {} triggers ({classified} classified) to {}", outputs.len(), path.display());
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    let written = if args.json {
        let doc = serde_json::json!({ "model": classifier.card.name, "labels": classifier.card.labels, "glitches": outputs });
        serde_json::to_writer_pretty(&mut out, &doc).map_err(std::io::Error::from).and_then(|_| writeln!(out))
    } else {
        print_table(&mut out, &outputs)
    };
    finish(written)
}

/// What a catalogue row says besides the classification: detector, source files, and extra columns.
struct RowMeta {
    ifo: String,
    files: String,
    extra: Vec<String>,
}

/// The catalogue CSV: key, ifo, the views used, the files, top-5 labels and probabilities, then the calibrated
/// probability of every class (`p_<label>`), the warning and the error. Unclassifiable glitches keep their row
/// (empty probabilities, the error says why), so a catalogue has one row per glitch of its inputs.
fn write_csv(path: &Path, labels: &[String], extra_header: &[&str], meta: &[RowMeta], outputs: &[GlitchOut]) -> Result<()> {
    let mut w = csv::Writer::from_path(path)?;
    let mut header: Vec<String> = ["key", "ifo", "views", "files"].map(String::from).to_vec();
    header.extend(extra_header.iter().map(|h| h.to_string()));
    for rank in 1..=5 {
        header.push(format!("top{rank}"));
        header.push(format!("p{rank}"));
    }
    header.extend(labels.iter().map(|l| format!("p_{l}")));
    header.extend(["warning", "error"].map(String::from));
    w.write_record(&header)?;
    for (m, g) in meta.iter().zip(outputs) {
        let views: Vec<String> =
            g.views.iter().filter(|v| v.ok).filter_map(|v| v.duration.map(|d| d.to_string())).collect();
        let mut row = vec![g.key.clone(), m.ifo.clone(), views.join(";"), m.files.clone()];
        row.extend(m.extra.iter().cloned());
        match &g.prediction {
            Some(p) => {
                for rank in 0..5 {
                    match p.top5.get(rank) {
                        Some(t) => row.extend([t.label.clone(), format!("{:.6}", t.probability)]),
                        None => row.extend([String::new(), String::new()]),
                    }
                }
                row.extend(p.probabilities.iter().map(|v| format!("{v:.6}")));
            }
            None => row.extend(std::iter::repeat_n(String::new(), 10 + labels.len())),
        }
        let problems: Vec<String> = g.views.iter().filter_map(|v| v.error.clone()).collect();
        let error = match (&g.error, problems.is_empty()) {
            (Some(e), _) => format!("{e}: {}", problems.join("; ")),
            (None, false) => problems.join("; "),
            (None, true) => String::new(),
        };
        row.extend([g.warning.clone().unwrap_or_default(), error]);
        w.write_record(&row)?;
    }
    w.flush()?;
    Ok(())
}

fn print_table(out: &mut impl Write, outputs: &[GlitchOut]) -> std::io::Result<()> {
    for g in outputs {
        let views: Vec<String> = g
            .views
            .iter()
            .filter(|v| v.ok)
            .map(|v| v.duration.map(|d| format!("{d}s")).unwrap_or_else(|| "?s".into()))
            .collect();
        writeln!(out, "{}  [views: {}]", g.key, views.join(" "))?;
        for v in g.views.iter().filter(|v| !v.ok) {
            writeln!(out, "    ! {}", v.error.as_deref().unwrap_or("unusable"))?;
        }
        if let Some(w) = &g.warning {
            writeln!(out, "    WARNING {w}")?;
        }
        match &g.prediction {
            Some(p) => {
                for (rank, top) in p.top5.iter().enumerate() {
                    writeln!(out, "    {}. {:<20} {:>6.2} %", rank + 1, top.label, top.probability * 100.0)?;
                }
                let parts: Vec<String> = ["0.5", "1", "2", "4"]
                    .iter()
                    .zip(p.view_contributions)
                    .filter_map(|(d, c)| Some(format!("{d} s {:+.1}", c?)))
                    .collect();
                writeln!(out, "    view contributions to the top class's logit: {}", parts.join(", "))?;
            }
            None => writeln!(out, "    not classified: {}", g.error.as_deref().unwrap_or(""))?,
        }
    }
    Ok(())
}
