//! The glitches of the test and what the model makes of them: the run's split (known classes, by part) plus
//! every glitch of the unseen class, each run through the model once for its probabilities and its embedding.
//! The results are cached in a JSON file next to the run, so the measurements can be redone without inference.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use glitchscope::inference::Classifier;
use glitchscope::views::GlitchViews;
use glitchscope::pipeline::{self, NamedFile};
use glitchscope::views;

/// Where a glitch sits in the test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Role {
    /// Validation (and optionally training) part of the run: the model's own data, used as the labelled
    /// reference set.
    Reference,
    /// The run's test part: known-class glitches the run never looked at.
    KnownTest,
    /// A glitch of the class the run was trained without.
    Unseen,
}

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Glitch {
    pub key: String,
    pub label: String,
    pub role: Role,
    pub files: Vec<PathBuf>,
}

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Scored {
    pub glitch: Glitch,
    /// Softmax over the card's labels.
    pub probabilities: Vec<f32>,
    pub embedding: Vec<f32>,
}

/// The known classes' glitches from the run's split.csv (key,class,source,part,files with ';' between files):
/// the parts named in `reference_parts` become references, the test part the known test glitches.
pub fn from_split(split: &Path, reference_parts: &[String]) -> Result<Vec<Glitch>> {
    let mut reader = csv::Reader::from_path(split).with_context(|| format!("reading {}", split.display()))?;
    let headers = reader.headers()?.clone();
    let col = |name: &str| headers.iter().position(|h| h == name).with_context(|| format!("{}: no column {name:?}", split.display()));
    let (key, class, part, files) = (col("key")?, col("class")?, col("part")?, col("files")?);
    let mut out = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let r = record.with_context(|| format!("{}: row {}", split.display(), i + 2))?;
        let role = match &r[part] {
            "test" => Role::KnownTest,
            p if reference_parts.iter().any(|x| x == p) => Role::Reference,
            _ => continue,
        };
        let files = r[files].split(';').map(PathBuf::from).collect();
        out.push(Glitch { key: r[key].to_string(), label: r[class].to_string(), role, files });
    }
    if !out.iter().any(|g| g.role == Role::KnownTest) {
        bail!("{} has no test part: train the run with --test-fraction above 0", split.display());
    }
    Ok(out)
}

/// Every glitch in a class folder (`<IFO>_<id>_spectrogram_<dur>.png` files), labelled with the folder's name.
pub fn from_class_folder(dir: &Path) -> Result<Vec<Glitch>> {
    let label = dir.file_name().map(|n| n.to_string_lossy().into_owned()).context("the unseen-class folder has no name")?;
    let mut by_key: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if let Some(view) = views::parse_view_name(&name) {
            by_key.entry(view.glitch_key()).or_default().push(path);
        }
    }
    if by_key.is_empty() {
        bail!("{} holds no Gravity Spy view files (<IFO>_<id>_spectrogram_<dur>.png)", dir.display());
    }
    Ok(by_key.into_iter().map(|(key, mut files)| {
        files.sort();
        Glitch { key, label: label.clone(), role: Role::Unseen, files }
    }).collect())
}

/// Run the model on every glitch, a batch at a time (preprocessed views of all glitches at once would need
/// gigabytes). A glitch with no usable view is reported and left out.
pub fn score(classifier: &Classifier, glitches: Vec<Glitch>, batch: usize) -> Result<Vec<Scored>> {
    let spec = classifier.card.input_spec();
    let total = glitches.len();
    let mut out = Vec::with_capacity(total);
    for chunk in glitches.chunks(batch.max(1)) {
        let mut kept = Vec::new();
        let mut views: Vec<GlitchViews> = Vec::new();
        for g in chunk {
            let files = g
                .files
                .iter()
                .map(|f| {
                    let bytes = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
                    Ok(NamedFile { name: f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(), bytes })
                })
                .collect::<Result<Vec<_>>>()?;
            let prepared = pipeline::prepare_glitch(&files, spec, false);
            match prepared.views {
                Some(v) => {
                    views.push(v);
                    kept.push(g.clone());
                }
                None => {
                    let reasons: Vec<String> = prepared.reports.iter().filter_map(|r| r.error.clone()).collect();
                    eprintln!("skipped {}: no usable view ({})", g.key, reasons.join("; "));
                }
            }
        }
        if views.is_empty() {
            continue;
        }
        for (glitch, p) in kept.into_iter().zip(classifier.predict(&views)?) {
            out.push(Scored { glitch, probabilities: p.probabilities, embedding: p.embedding });
        }
        eprint!("\rmodel: {}/{total} glitches", out.len());
    }
    eprintln!();
    Ok(out)
}

/// The cache: the scored glitches plus the model's weights hash, so a retrained model is never mixed up with
/// an old cache.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Cache {
    pub weights_sha256: String,
    pub reference_parts: Vec<String>,
    pub unseen_dir: PathBuf,
    pub glitches: Vec<Scored>,
}

pub fn load_cache(path: &Path, weights_sha256: &str, unseen_dir: &Path, reference_parts: &[String]) -> Option<Vec<Scored>> {
    let text = std::fs::read_to_string(path).ok()?;
    let cache: Cache = serde_json::from_str(&text).ok()?;
    let same = cache.weights_sha256 == weights_sha256 && cache.unseen_dir == unseen_dir && cache.reference_parts == reference_parts;
    same.then_some(cache.glitches)
}

pub fn save_cache(path: &Path, cache: &Cache) -> Result<()> {
    std::fs::write(path, serde_json::to_string(cache)?).with_context(|| format!("writing {}", path.display()))
}
