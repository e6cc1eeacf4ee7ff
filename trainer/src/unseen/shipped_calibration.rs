//! The shipped calibration, checked where it can be: the page's reference set holds glitches its network trained
//! on, and its flag threshold comes from them (each scored without itself, its doubt out of fold). A network
//! that trained on only some real glitches (`unseen --trained-on`) lets the same calibration be made from those
//! and then measured on the real glitches it never saw: the false alarms on its known classes and the share of
//! its never-seen classes flagged, at the shipped flag.

use std::collections::BTreeSet;

use anyhow::Result;
use glitchscope::discovery::{Embeddings, NoveltyMethod, NoveltyScorer, ReferenceSet};

use super::real_set::RealGlitch;
use crate::train::dataset::split_key_of;

pub struct ShippedCheck {
    pub references: usize,
    /// Real glitches of the network's classes it never trained on, and the share of them flagged.
    pub known: usize,
    pub false_alarms: f64,
    /// Per class the network never saw: glitches and the share flagged.
    pub unseen: Vec<(String, usize, f64)>,
}

/// A reference set of these labelled embeddings, calibrated as `glitchscope embed` calibrates the page's (nearest
/// reference glitch + reference head, flag at the 95th percentile), with its scorer.
pub fn calibrated_set(labels: Vec<String>, keys: Vec<String>, rows: &[&[f32]]) -> Result<(ReferenceSet, NoveltyScorer)> {
    let mut set = ReferenceSet::new(labels, keys, &Embeddings::from_rows(rows)?)?;
    let method = NoveltyMethod::KnnMeanDistance { k: 1 };
    set.calibrate_with_doubt(method, 0.95)?;
    let scorer = set.novelty_scorer(method)?;
    Ok((set, scorer))
}

/// `trained_classes`: the network's classes; `trained_on`: split keys of the real glitches it trained on.
pub fn check(glitches: &[RealGlitch], trained_on: &BTreeSet<String>, trained_classes: &[String]) -> Result<Option<ShippedCheck>> {
    let real = |g: &&RealGlitch| g.source != super::measure::SYNTHETIC_SOURCE;
    let is_ref = |g: &RealGlitch| trained_on.contains(split_key_of(&g.key)) && trained_classes.contains(&g.class);
    let refs: Vec<&RealGlitch> = glitches.iter().filter(real).filter(|g| is_ref(g)).collect();
    if refs.is_empty() {
        return Ok(None);
    }
    let rows: Vec<&[f32]> = refs.iter().map(|g| g.embedding.as_slice()).collect();
    let (set, scorer) = calibrated_set(refs.iter().map(|g| g.class.clone()).collect(), refs.iter().map(|g| g.key.clone()).collect(), &rows)?;
    let flagged = |g: &RealGlitch| -> Result<bool> { Ok(set.assess(&scorer, &g.embedding, None)?.is_some_and(|u| u.new_class_candidate)) };
    let (mut known, mut alarms) = (0usize, 0usize);
    let mut unseen: std::collections::BTreeMap<String, (usize, usize)> = Default::default();
    for g in glitches.iter().filter(real).filter(|g| !is_ref(g)) {
        if trained_classes.contains(&g.class) {
            if !trained_on.contains(split_key_of(&g.key)) {
                known += 1;
                alarms += usize::from(flagged(g)?);
            }
        } else {
            let e = unseen.entry(g.class.clone()).or_default();
            e.0 += 1;
            e.1 += usize::from(flagged(g)?);
        }
    }
    Ok(Some(ShippedCheck {
        references: refs.len(),
        known,
        false_alarms: alarms as f64 / known.max(1) as f64,
        unseen: unseen.into_iter().map(|(c, (n, f))| (c, n, f as f64 / n.max(1) as f64)).collect(),
    }))
}
