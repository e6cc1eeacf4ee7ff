//! Every labelled real glitch under a folder of sources (`<source>/<Class>/<files>`, as `../shared/data/real`),
//! embedded once by a model and cached: the benchmark then re-scores the same embeddings for every left-out
//! class and every candidate score in seconds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use glitchscope::inference::Classifier;
use glitchscope::views::GlitchViews;
use serde::{Deserialize, Serialize};

use crate::files::{find_glitches, folder_label, prepare_group, source_of};

/// Folder names that are not classes.
const NOT_A_CLASS: [&str; 1] = ["Unlabeled"];

#[derive(Clone, Serialize, Deserialize)]
pub struct RealGlitch {
    pub key: String,
    /// The first folder under the root: where the pictures came from (o1_cropped, golden_gif, ...).
    pub source: String,
    pub class: String,
    pub embedding: Vec<f32>,
    /// The scoring network's own calibrated top probability (its head, as the page shows it): the
    /// `net_max_prob` score. Absent in caches written before it was kept; such a cache is remade.
    #[serde(default)]
    pub top_probability: Option<f32>,
}

#[derive(Serialize, Deserialize)]
struct Cache {
    /// sha256 of the weights that made the embeddings; a cache of another model is not used.
    weights_sha256: String,
    root: String,
    glitches: Vec<RealGlitch>,
}

/// The embeddings of every labelled glitch under `root` by `model`, from `cache` when it was made by the same
/// weights from the same root (and written there otherwise).
pub fn embed_real(model: &Path, root: &Path, cache: &Path, batch_size: usize) -> Result<Vec<RealGlitch>> {
    let device = crate::device::select("cpu")?;
    let classifier = Classifier::from_card_file(model, &device)?.head_only();
    let sha = classifier.card.weights.sha256.clone();
    let root_name = root.display().to_string();
    if let Ok(text) = std::fs::read_to_string(cache)
        && let Ok(c) = serde_json::from_str::<Cache>(&text)
        && c.weights_sha256 == sha
        && c.root == root_name
        && c.glitches.iter().all(|g| g.top_probability.is_some())
    {
        eprintln!("unseen: {} embeddings from {}", c.glitches.len(), cache.display());
        return Ok(c.glitches);
    }
    let (files, groups) = find_glitches(&[root.to_path_buf()], None)?;
    if groups.is_empty() {
        bail!("{}: no pictures found", root.display());
    }
    let spec = classifier.card.input_spec();
    let mut pending: Vec<(String, String, String, GlitchViews)> = Vec::new();
    for group in &groups {
        let class = folder_label(group, &files);
        if class.is_empty() || NOT_A_CLASS.contains(&class.as_str()) {
            continue;
        }
        let source = source_of(root, &files[group.files[0].index]);
        let Some((key, views)) = prepare_group(group, &files, spec) else { continue };
        pending.push((key, source, class, views));
    }
    let bar = indicatif::ProgressBar::new(pending.len() as u64);
    let mut out = Vec::with_capacity(pending.len());
    for chunk in pending.chunks(batch_size.max(1)) {
        let views: Vec<GlitchViews> = chunk.iter().map(|c| c.3.clone()).collect();
        for ((key, source, class, _), p) in chunk.iter().zip(classifier.predict(&views)?) {
            let top = p.probabilities.iter().copied().fold(0.0, f32::max);
            out.push(RealGlitch { key: key.clone(), source: source.clone(), class: class.clone(), embedding: p.embedding, top_probability: Some(top) });
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    if let Some(dir) = cache.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let json = serde_json::to_string(&Cache { weights_sha256: sha, root: root_name, glitches: out.clone() })?;
    std::fs::write(cache, json).with_context(|| format!("writing {}", cache.display()))?;
    eprintln!("unseen: embedded {} real glitches (cached in {})", out.len(), cache.display());
    Ok(out)
}

/// Glitches per class, classes sorted.
pub fn count_by_class(glitches: &[RealGlitch]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for g in glitches {
        *counts.entry(g.class.clone()).or_insert(0) += 1;
    }
    counts
}

/// The default cache file of a model's embeddings of a set of glitches: `<card's folder>-<card stem>-<what>.json`
/// (the folder too: training runs all name their card `model.json`, and each would overwrite the other's cache).
pub fn default_cache(model: &Path, what: &str) -> PathBuf {
    let name = |p: Option<&std::ffi::OsStr>| p.map(|s| s.to_string_lossy().into_owned());
    let folder = name(std::fs::canonicalize(model).ok().as_deref().and_then(Path::parent).and_then(Path::file_name)).unwrap_or_default();
    let stem = format!("{folder}-{}", name(model.file_stem()).unwrap_or_else(|| "model".into()));
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
    home.join(".cache/glitchscope/unseen").join(format!("{stem}-{what}.json"))
}
