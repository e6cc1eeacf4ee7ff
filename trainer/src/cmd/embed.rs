//! `glitchscope embed`: the embedding (mean of the views' pooled backbone features) of every glitch in files or
//! folders, through the same grouping and preprocessing as `classify`, written as
//! - `.csv`: columns key, label, predicted, probability, e0 .. e{d-1};
//! - `.npy`: an n x d float32 array, with the other columns in `<name>.keys.csv` next to it;
//! - `.gsref`: a reference set to ship with the model (f16, labels required, unfamiliar score calibrated on it).
//!
//! `EmbeddingTable` reads all three back; `cluster` and `similar` take any of them.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use glitchscope::discovery::novelty::MIN_CLASSES_FOR_DOUBT;
use glitchscope::discovery::{DiscoveryError, Embeddings, NoveltyMethod, Precision, ReferenceSet};
use glitchscope::views::GlitchViews;

use crate::catalogue::write_atomically;
use crate::files::{Inputs, Selection, folder_label, load_inputs, prepare_group};

#[derive(Args)]
pub struct EmbedArgs {
    /// Spectrogram images (PNG, JPEG, GIF) or folders to search recursively.
    #[arg(required_unless_present_any = ["list", "strain"], conflicts_with = "strain")]
    pub inputs: Vec<PathBuf>,
    #[command(flatten)]
    pub selection: Selection,
    #[command(flatten)]
    pub strain: crate::strain_inputs::StrainInputs,
    /// Model card (JSON); its weights file sits next to it.
    #[arg(long, default_value = "models/default.json")]
    pub model: PathBuf,
    /// Output file: .csv, .npy (plus <name>.keys.csv) or .gsref (reference set; needs --label-from-folder).
    #[arg(long)]
    pub out: PathBuf,
    /// Take each glitch's label from the name of its folder (the Gravity Spy layout `<Class>/<files>`).
    #[arg(long)]
    pub label_from_folder: bool,
    /// Neighbours in the unfamiliar score calibrated into a .gsref.
    #[arg(long, default_value_t = 1)]
    pub novelty_k: usize,
    /// Calibrate the .gsref's unfamiliar score on the distance alone, without the reference head's doubt (the
    /// combined score is the default for references of 10 classes or more: docs/unseen-real.md).
    #[arg(long)]
    pub distance_only: bool,
    /// With a .gsref: set its flag threshold on glitches the network never trained on, from this `glitchscope cv`
    /// run of the same recipe (each fold's held-out glitches against the references it trained on; see
    /// `unseen::cv_flag`), instead of the 95th percentile of the references themselves.
    #[arg(long)]
    pub flag_from_cv: Option<PathBuf>,
    /// The share of known-class glitches the flag may catch (with --flag-from-cv).
    #[arg(long, default_value_t = 0.05)]
    pub false_alarm_rate: f64,
    /// Glitches per forward pass.
    #[arg(long, default_value_t = 8)]
    pub batch_size: usize,
    /// Device: cpu, or cuda/vulkan when compiled in.
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

/// Output kinds, by file extension.
#[derive(Clone, Copy, PartialEq)]
enum Format {
    Csv,
    Npy,
    Reference,
}

fn format_of(path: &Path) -> Result<Format> {
    match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("csv") => Ok(Format::Csv),
        Some("npy") => Ok(Format::Npy),
        Some("gsref") => Ok(Format::Reference),
        _ => bail!("{}: unknown embeddings format (use .csv, .npy or .gsref)", path.display()),
    }
}

/// Embeddings with what is known about each glitch. Empty strings and `None` mean "unknown".
pub struct EmbeddingTable {
    pub keys: Vec<String>,
    pub labels: Vec<String>,
    pub predicted: Vec<String>,
    pub probability: Vec<Option<f32>>,
    pub embeddings: Embeddings,
    /// Model and calibration, when read from a reference set.
    pub reference: Option<ReferenceSet>,
}

impl EmbeddingTable {
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn has_labels(&self) -> bool {
        self.labels.iter().any(|l| !l.is_empty())
    }

    /// Read a .csv, .npy (+ optional .keys.csv) or .gsref file.
    pub fn read(path: &Path) -> Result<Self> {
        match format_of(path)? {
            Format::Csv => read_csv(path),
            Format::Npy => read_npy(path),
            Format::Reference => {
                let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
                let set = ReferenceSet::from_bytes(&bytes, &path.display().to_string())?;
                let n = set.len();
                Ok(Self {
                    keys: set.keys.clone(),
                    labels: set.labels.clone(),
                    predicted: vec![String::new(); n],
                    probability: vec![None; n],
                    embeddings: set.embeddings().clone(),
                    reference: Some(set),
                })
            }
        }
    }

    /// The row of a glitch: its exact key, or the one key containing `query`.
    pub fn find_key(&self, query: &str, source: &Path) -> Result<usize> {
        if let Some(i) = self.keys.iter().position(|k| k == query) {
            return Ok(i);
        }
        let matches: Vec<usize> = (0..self.len()).filter(|&i| self.keys[i].contains(query)).collect();
        match matches.as_slice() {
            [one] => Ok(*one),
            [] => {
                let examples: Vec<&str> = self.keys.iter().take(3).map(String::as_str).collect();
                bail!("{}: no glitch with key {query:?} among {} (keys look like {})", source.display(), self.len(), examples.join(", "))
            }
            many => {
                let names: Vec<&str> = many.iter().take(10).map(|&i| self.keys[i].as_str()).collect();
                bail!("{}: {} keys contain {query:?}: {}{}", source.display(), many.len(), names.join(", "), if many.len() > 10 { ", ..." } else { "" })
            }
        }
    }
}

/// Turn a discovery error about a row into one that names the file and the glitch.
pub fn row_error(path: &Path, keys: &[String], e: DiscoveryError) -> anyhow::Error {
    let glitch = |row: usize| keys.get(row).map_or(format!("row {row}"), |k| format!("glitch {k:?} (row {})", row + 1));
    match e {
        DiscoveryError::NonFinite { row, col } => anyhow::anyhow!("{}: {} has a value that is not a finite number (NaN or infinity) in e{col}", path.display(), glitch(row)),
        DiscoveryError::ZeroVector { row } => anyhow::anyhow!("{}: {} has an all-zero embedding", path.display(), glitch(row)),
        DiscoveryError::Empty => anyhow::anyhow!("{}: no glitches in the file", path.display()),
        other => anyhow::anyhow!("{}: {other}", path.display()),
    }
}

fn read_csv(path: &Path) -> Result<EmbeddingTable> {
    let mut reader = csv::ReaderBuilder::new().from_path(path).with_context(|| format!("reading {}", path.display()))?;
    let headers = reader.headers().with_context(|| format!("{}: reading the header", path.display()))?.clone();
    let column = |name: &str| headers.iter().position(|h| h == name);
    let key_col = column("key").with_context(|| format!("{}: no `key` column in the header", path.display()))?;
    let (label_col, predicted_col, probability_col) = (column("label"), column("predicted"), column("probability"));
    // e0, e1, ... in any column order, but all of 0..d present.
    let mut dims: Vec<(usize, usize)> =
        headers.iter().enumerate().filter_map(|(c, h)| h.strip_prefix('e').and_then(|d| d.parse().ok()).map(|d: usize| (d, c))).collect();
    dims.sort();
    if dims.is_empty() || dims.iter().enumerate().any(|(i, &(d, _))| i != d) {
        bail!("{}: expected embedding columns e0, e1, ... e<d-1> in the header", path.display());
    }
    let mut table = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (line, record) in reader.records().enumerate() {
        let line = line + 2;
        let record = record.with_context(|| format!("{}: line {line}", path.display()))?;
        let field = |c: Option<usize>| c.and_then(|c| record.get(c)).unwrap_or("").trim().to_string();
        table.0.push(field(Some(key_col)));
        table.1.push(field(label_col));
        table.2.push(field(predicted_col));
        let p = field(probability_col);
        table.3.push(if p.is_empty() { None } else { Some(p.parse::<f32>().with_context(|| format!("{}: line {line}: probability {p:?} is not a number", path.display()))?) });
        for &(d, c) in &dims {
            let v = record.get(c).unwrap_or("").trim();
            table.4.push(v.parse::<f32>().with_context(|| format!("{}: line {line}: e{d} = {v:?} is not a number", path.display()))?);
        }
    }
    let (keys, labels, predicted, probability, values) = table;
    let embeddings = Embeddings::from_flat(values, dims.len()).map_err(|e| row_error(path, &keys, e))?;
    Ok(EmbeddingTable { keys, labels, predicted, probability, embeddings, reference: None })
}

/// `emb.npy` -> `emb.keys.csv`.
fn keys_path(npy: &Path) -> PathBuf {
    npy.with_extension("keys.csv")
}

fn read_npy(path: &Path) -> Result<EmbeddingTable> {
    let array = glitchscope::npy::read_npy_file(path)?;
    let [n, d] = array.shape[..] else {
        bail!("{}: expected a 2-d array (glitches x dimensions), got shape {:?}", path.display(), array.shape);
    };
    let (n, d) = (n as usize, d as usize);
    let side = keys_path(path);
    let (keys, labels, predicted, probability) = if side.exists() {
        let mut reader = csv::Reader::from_path(&side).with_context(|| format!("reading {}", side.display()))?;
        let headers = reader.headers()?.clone();
        let column = |name: &str| headers.iter().position(|h| h == name);
        let key_col = column("key").with_context(|| format!("{}: no `key` column", side.display()))?;
        let mut cols = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for record in reader.records() {
            let record = record.with_context(|| format!("reading {}", side.display()))?;
            let field = |c: Option<usize>| c.and_then(|c| record.get(c)).unwrap_or("").trim().to_string();
            cols.0.push(field(Some(key_col)));
            cols.1.push(field(column("label")));
            cols.2.push(field(column("predicted")));
            cols.3.push(field(column("probability")).parse::<f32>().ok());
        }
        if cols.0.len() != n {
            bail!("{}: {} rows, but {} has {n} embeddings", side.display(), cols.0.len(), path.display());
        }
        cols
    } else {
        ((0..n).map(|i| i.to_string()).collect(), vec![String::new(); n], vec![String::new(); n], vec![None; n])
    };
    let values: Vec<f32> = array.data.iter().map(|&v| v as f32).collect();
    if values.len() != n * d {
        bail!("{}: {} numbers for shape {n} x {d}", path.display(), values.len());
    }
    let embeddings = Embeddings::from_flat(values, d).map_err(|e| row_error(path, &keys, e))?;
    Ok(EmbeddingTable { keys, labels, predicted, probability, embeddings, reference: None })
}

fn write(table: &EmbeddingTable, path: &Path, model: &str, novelty_k: usize, distance_only: bool, flag: Option<f32>) -> Result<()> {
    let meta_header = ["key", "label", "predicted", "probability"];
    let meta = |i: usize| {
        [table.keys[i].clone(), table.labels[i].clone(), table.predicted[i].clone(), table.probability[i].map(|p| p.to_string()).unwrap_or_default()]
    };
    match format_of(path)? {
        Format::Csv => {
            let mut w = csv::Writer::from_path(path).with_context(|| format!("writing {}", path.display()))?;
            let dims = (0..table.embeddings.dim()).map(|d| format!("e{d}"));
            w.write_record(meta_header.iter().map(|s| s.to_string()).chain(dims))?;
            for (i, e) in table.embeddings.rows().enumerate() {
                w.write_record(meta(i).into_iter().chain(e.iter().map(|v| v.to_string())))?;
            }
            w.flush().with_context(|| format!("writing {}", path.display()))?;
        }
        Format::Npy => {
            let shape = [table.len() as u64, table.embeddings.dim() as u64];
            glitchscope::npy::write_npy_f32_file(path, &shape, table.embeddings.as_flat())?;
            let side = keys_path(path);
            let mut w = csv::Writer::from_path(&side).with_context(|| format!("writing {}", side.display()))?;
            w.write_record(meta_header)?;
            for i in 0..table.len() {
                w.write_record(meta(i))?;
            }
            w.flush().with_context(|| format!("writing {}", side.display()))?;
        }
        Format::Reference => {
            if let Some(i) = table.labels.iter().position(String::is_empty) {
                bail!("glitch {} has no label; a reference set needs --label-from-folder and labelled folders", table.keys[i]);
            }
            let mut set = ReferenceSet::new(table.labels.clone(), table.keys.clone(), &table.embeddings)?;
            set.model = Some(model.to_string());
            let method = NoveltyMethod::KnnMeanDistance { k: novelty_k };
            if table.len() > novelty_k && !distance_only && set.classes().len() >= MIN_CLASSES_FOR_DOUBT {
                set.calibrate_with_doubt(method, 0.95)?;
                if let (Some(flag), Some(c)) = (flag, set.calibration.as_mut()) {
                    c.flag_percentile = flag;
                }
            } else if table.len() > novelty_k {
                set.calibrate(method, 0.95)?;
            } else {
                eprintln!("note: {} glitches are too few to calibrate the unfamiliar score (need more than {novelty_k})", table.len());
            }
            std::fs::write(path, set.to_bytes(Precision::F16)).with_context(|| format!("writing {}", path.display()))?;
        }
    }
    Ok(())
}

pub fn run(args: EmbedArgs) -> Result<()> {
    let format = format_of(&args.out)?;
    if format == Format::Reference && !args.label_from_folder {
        bail!("a reference set (.gsref) needs labels: add --label-from-folder");
    }
    let (mut keys, mut labels, mut pending) = (Vec::new(), Vec::new(), Vec::<GlitchViews>::new());
    let (classifier, total) = if args.strain.given() {
        // Triggers in strain files: each one's four views, made as `classify --strain` makes them.
        if args.label_from_folder || args.selection.list.is_some() {
            bail!("--label-from-folder and --list are for picture files, not --strain");
        }
        let (series, jobs) = crate::strain_inputs::plan(&args.strain, args.selection.shard)?;
        let device = crate::device::select(&args.device)?;
        let classifier = glitchscope::inference::Classifier::from_card_file(&args.model, &device)?;
        let spec = classifier.card.input_spec();
        let bar = crate::strain_inputs::progress(jobs.len(), "triggers");
        for chunk in jobs.chunks(args.batch_size.max(1)) {
            for g in crate::strain_inputs::make(chunk, &series, &args.strain, spec) {
                match g.prepared.map(|p| p.views) {
                    Ok(Some(views)) => {
                        keys.push(g.key);
                        labels.push(String::new());
                        pending.push(views);
                    }
                    Ok(None) => bar.println(format!("skipped {}: no usable view", g.key)),
                    Err(e) => bar.println(format!("skipped {}: {e}", g.key)),
                }
            }
            bar.inc(chunk.len() as u64);
        }
        bar.finish_and_clear();
        (classifier, jobs.len())
    } else {
        let Inputs { classifier, spec, files, groups } = load_inputs(&args.model, &args.device, &args.inputs, &args.selection)?;
        for group in &groups {
            let Some((key, views)) = prepare_group(group, &files, spec) else { continue };
            let label = if args.label_from_folder { folder_label(group, &files) } else { String::new() };
            keys.push(key);
            labels.push(label);
            pending.push(views);
        }
        (classifier, groups.len())
    };
    if pending.is_empty() {
        if args.selection.shard.is_some() && format == Format::Csv {
            // An empty shard is finished too: a header-only result that the merge passes over.
            write_atomically(&args.out, |tmp| Ok(std::fs::write(tmp, "key,label,predicted,probability\n")?))?;
            println!("wrote 0 embeddings to {} (no usable glitch in this shard)", args.out.display());
            return Ok(());
        }
        bail!("none of the {total} glitches had a usable view");
    }
    let (mut predicted, mut probability, mut values) = (Vec::new(), Vec::new(), Vec::new());
    let mut dim = 0;
    for (b, chunk) in pending.chunks(args.batch_size.max(1)).enumerate() {
        for p in classifier.predict(chunk)? {
            dim = p.embedding.len();
            let (label, prob) = p.top5.first().map(|t| (t.label.clone(), t.probability)).unwrap_or_default();
            predicted.push(label);
            probability.push(Some(prob));
            values.extend(p.embedding);
        }
        eprint!("\rembedded {}/{} glitches", ((b + 1) * args.batch_size.max(1)).min(pending.len()), pending.len());
    }
    eprintln!();
    let embeddings = Embeddings::from_flat(values, dim).map_err(|e| row_error(&args.out, &keys, e))?;
    let flag = match (&args.flag_from_cv, format) {
        (Some(run), Format::Reference) => {
            let (flag, checks) = crate::unseen::cv_flag::out_of_fold_flag(run, args.false_alarm_rate)?;
            let checks: Vec<String> = checks.iter().map(|c| format!("{:.1} %", 100.0 * c)).collect();
            eprintln!(
                "flag at the {:.1}th percentile of the references (the held-out glitches of {}; set from the other folds, it flags {} of each fold's)",
                100.0 * flag,
                run.display(),
                checks.join(" / ")
            );
            Some(flag.clamp(0.5, 1.0))
        }
        (Some(_), _) => bail!("--flag-from-cv is for a reference set (.gsref)"),
        (None, _) => None,
    };
    let table = EmbeddingTable { keys, labels, predicted, probability, embeddings, reference: None };
    // Through a temporary name (for .npy, its keys file is written next to the temporary and renamed after).
    write_atomically(&args.out, |tmp| {
        write(&table, tmp, &classifier.card.name, args.novelty_k, args.distance_only, flag)?;
        if format == Format::Npy {
            std::fs::rename(keys_path(tmp), keys_path(&args.out))?;
        }
        Ok(())
    })?;
    println!("wrote {} embeddings of dimension {dim} ({}) to {}", table.len(), classifier.card.name, args.out.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> EmbeddingTable {
        EmbeddingTable {
            keys: vec!["H1_a".into(), "L1_b".into(), "L1_bc".into()],
            labels: vec!["Blip".into(), "".into(), "Whistle".into()],
            predicted: vec!["Blip".into(), "Koi_Fish".into(), "".into()],
            probability: vec![Some(0.5), Some(0.25), None],
            embeddings: Embeddings::from_flat(vec![1.0, 2.0, 3.0, -1.5, 0.0, 2.0, 0.1, 0.2, 0.3], 3).unwrap(),
            reference: None,
        }
    }

    #[test]
    fn csv_and_npy_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["e.csv", "e.npy"] {
            let path = dir.path().join(name);
            write(&table(), &path, "m", 5, false, None).unwrap();
            let back = EmbeddingTable::read(&path).unwrap();
            let t = table();
            assert_eq!((back.keys, back.labels, back.predicted, back.probability), (t.keys, t.labels, t.predicted, t.probability), "{name}");
            assert_eq!(back.embeddings, t.embeddings, "{name}");
        }
    }

    #[test]
    fn keys_match_exactly_or_by_unique_part() {
        let t = table();
        let p = Path::new("e.csv");
        assert_eq!(t.find_key("L1_b", p).unwrap(), 1, "exact match wins over longer keys");
        assert_eq!(t.find_key("bc", p).unwrap(), 2);
        assert!(t.find_key("L1", p).unwrap_err().to_string().contains("2 keys contain"));
        assert!(t.find_key("zzz", p).unwrap_err().to_string().contains("no glitch"));
    }

    #[test]
    fn bad_files_give_errors_naming_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            ("nan.csv", "key,e0,e1\na,1,2\nb,NaN,1\n", "glitch \"b\" (row 2)"),
            ("text.csv", "key,e0\na,x\n", "line 2: e0"),
            ("nokey.csv", "name,e0\na,1\n", "no `key` column"),
            ("gap.csv", "key,e0,e2\na,1,2\n", "e0, e1"),
            ("empty.csv", "key,e0\n", "no glitches"),
        ];
        for (name, text, expected) in cases {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            let err = format!("{:#}", EmbeddingTable::read(&path).err().unwrap());
            assert!(err.contains(expected) && err.contains(name), "{name}: {err}");
        }
        assert!(EmbeddingTable::read(&dir.path().join("x.txt")).is_err());
        assert!(EmbeddingTable::read(&dir.path().join("missing.csv")).is_err());
    }
}
