//! Reading the glitches of a run once: every wanted view read and preprocessed (plus its picture-level
//! augmented copies) and, in the frozen modes, turned right away into what the frozen part of the network makes
//! of it, so training reads features instead of images. `train` prepares its parts, `cv` all folds at once.

use std::sync::Arc;

use anyhow::Result;
use glitchscope::views::VIEW_COUNT;
use glitchscope::preprocess::InputSpec;
use serde_json::json;

use super::config::{Plan, TrainConfig};
use super::dataset::{self, GlitchFiles, Unreadable};
use super::features::{Extractor, ViewStore};
use super::loader::Sample;
use super::model::Stage;
use super::progress;

/// A glitch to read, and what the run needs of it.
pub struct Wanted<'a> {
    pub files: &'a GlitchFiles,
    pub class: usize,
    /// Keep its pixels as well (held-out glitches: the whole network is evaluated on them at export).
    pub keep_pixels: bool,
    /// Make `config.copies` picture-level augmented copies of its views (glitches that are trained on).
    pub copies: bool,
    /// Its weight among the glitches of its class when training draws glitches.
    pub weight: f64,
}

/// Every wanted glitch read and preprocessed once and, in the frozen modes, turned into features.
pub struct Prepared {
    /// What training reads (pixels in mode `all`, features otherwise), with the augmented copies.
    pub store: Arc<ViewStore>,
    /// Pixels of the glitches that asked for them (the same store as `store` in mode `all`).
    pub pixel_store: Arc<ViewStore>,
    /// Per wanted glitch, in order: its views in `store` and in `pixel_store`; `None` when none could be read.
    pub samples: Vec<Option<(Sample, Sample)>>,
    pub unreadable: Vec<Unreadable>,
    /// What the frozen part computed, for the card (null in mode `all`).
    pub extraction: serde_json::Value,
}

/// Read, preprocess and (frozen modes) run the frozen part of `net` over the wanted glitches, in chunks so the
/// pixels of a large data set are never all in memory at once. Unreadable files are listed and skipped.
pub fn prepare(
    net: &glitchscope::model::GlitchNet,
    stage: Stage,
    config: &TrainConfig,
    plan: &Plan,
    wanted: &[Wanted],
    device: &burn::tensor::Device,
) -> Result<Prepared> {
    let spec = InputSpec { height: config.height as u32, width: config.width as u32 };
    let domain = config.domain();
    let mut extractor = (stage != Stage::Images).then(|| Extractor::new(net, config.height, config.width, stage, 16, device));
    let what = match stage {
        Stage::Images => "reading glitches",
        Stage::Embeddings => "reading + embedding",
        Stage::Blocks { .. } => "reading + activations",
    };
    let bar = progress::bar(wanted.len(), what);
    let mut pixels: Vec<Vec<u8>> = Vec::new();
    let mut copies_of: Vec<Vec<usize>> = Vec::new();
    let mut unreadable = Vec::new();
    let mut samples = Vec::with_capacity(wanted.len());
    for chunk in wanted.chunks(128) {
        let files: Vec<GlitchFiles> = chunk.iter().map(|w| w.files.clone()).collect();
        let (loaded, bad) = dataset::load_pixels(&files, &plan.slots, spec, &bar);
        unreadable.extend(bad);
        let copy_files: Vec<GlitchFiles> = chunk.iter().filter(|w| w.copies).map(|w| w.files.clone()).collect();
        let mut made = dataset::load_copies(&copy_files, &plan.slots, spec, config.copies, &domain, config.seed).into_iter();
        // Views waiting for the extractor, in store order.
        let mut pending: Vec<Vec<u8>> = Vec::new();
        for (w, views) in chunk.iter().zip(loaded) {
            let mut extra = if w.copies { made.next().unwrap_or_default() } else { Default::default() };
            let Some(views) = views else {
                samples.push(None);
                continue;
            };
            let mut store_slots = [None; VIEW_COUNT];
            let mut pixel_slots = [None; VIEW_COUNT];
            for (slot, view) in views.into_iter().enumerate() {
                let Some(px) = view else { continue };
                let copies = std::mem::take(&mut extra[slot]);
                let index = match &extractor {
                    Some(ex) => {
                        if w.keep_pixels {
                            pixel_slots[slot] = Some(pixels.len());
                            pixels.push(px.clone());
                        }
                        let index = ex.len() + pending.len();
                        pending.push(px);
                        pending.extend(copies.iter().cloned());
                        index
                    }
                    None => {
                        let index = pixels.len();
                        pixel_slots[slot] = Some(index);
                        pixels.push(px);
                        pixels.extend(copies.iter().cloned());
                        index
                    }
                };
                store_slots[slot] = Some(index);
                if !copies.is_empty() {
                    if copies_of.len() <= index {
                        copies_of.resize(index + 1, Vec::new());
                    }
                    copies_of[index] = (index + 1..=index + copies.len()).collect();
                }
            }
            samples.push(Some((
                Sample { class: w.class, views: store_slots, weight: w.weight },
                Sample { class: w.class, views: pixel_slots, weight: w.weight },
            )));
        }
        if let Some(ex) = &mut extractor {
            let refs: Vec<&[u8]> = pending.iter().map(Vec::as_slice).collect();
            ex.add(&refs)?;
        }
    }
    bar.finish_and_clear();
    if !unreadable.is_empty() {
        eprintln!("skipped {} unreadable file(s):", unreadable.len());
        for u in &unreadable {
            eprintln!("  {}: {}", u.path, u.reason);
        }
    }
    let copies_made: usize = copies_of.iter().map(Vec::len).sum();
    let mut extraction = serde_json::Value::Null;
    let (store, pixel_store) = match extractor {
        None => {
            let mut store = ViewStore::pixels(pixels, config.height, config.width);
            store.copies = copies_of;
            let store = Arc::new(store);
            (store.clone(), store)
        }
        Some(ex) => {
            let views = ex.len();
            let (mut store, rate, seconds) = ex.finish();
            store.copies = copies_of;
            let what = if stage == Stage::Embeddings { "embeddings" } else { "activations" };
            println!(
                "computed {what} of {views} views once ({copies_made} of them augmented copies; {seconds:.1} s in \
                 the network, {rate:.1} images/s); on-the-fly image augmentation is off in this mode (view dropout \
                 stays on)"
            );
            extraction = json!({ "what": what, "views": views, "augmented_copies": copies_made, "images_per_s": rate, "seconds": seconds });
            (Arc::new(store), Arc::new(ViewStore::pixels(pixels, config.height, config.width)))
        }
    };
    Ok(Prepared { store, pixel_store, samples, unreadable, extraction })
}
