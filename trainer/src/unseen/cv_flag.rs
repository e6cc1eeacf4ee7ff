//! The flag threshold of the shipped unfamiliar score, set on glitches the network never trained on.
//!
//! The page's reference set holds the real glitches its network trained on, and a network places those tighter
//! than a glitch it never saw: calibrated on them alone (each scored without itself), the 95th percentile flagged
//! 9 and 16 % of the known-class real glitches that protocol D's networks never trained on, not 5 %
//! (`glitchscope unseen --trained-on`, docs/unseen-real.md). A cross-validation run has what an honest
//! threshold needs: in each fold, the glitches the fold network trained on (references, calibrated as the
//! shipped set is) and the ones it held out, embedded by the same network. The held-out glitches' percentiles
//! against their fold's references are the null of what a user's known-class glitch gets against the shipped set;
//! the flag is their (1 - false-alarm rate) quantile. Percentiles transfer from the folds to the shipped set as the
//! temperature does: both are "among the glitches this network trained on".

use std::path::Path;

use anyhow::{Context, Result, bail};
use glitchscope::discovery::{Embeddings, NoveltyMethod, ReferenceSet};

use crate::train::cv::{EMBEDDINGS, FoldEmbedding};

/// Each fold's held-out percentiles, by fold.
pub fn held_out_percentiles(run: &Path) -> Result<Vec<Vec<f32>>> {
    let mut out = Vec::new();
    for f in 1.. {
        let dir = run.join(format!("fold-{f}"));
        if !dir.is_dir() {
            break;
        }
        let path = dir.join(EMBEDDINGS);
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let embedded: Vec<FoldEmbedding> = serde_json::from_str(&text).with_context(|| format!("reading {}", path.display()))?;
        let (refs, held): (Vec<&FoldEmbedding>, Vec<&FoldEmbedding>) = embedded.iter().partition(|e| !e.held_out);
        let rows: Vec<&[f32]> = refs.iter().map(|e| e.embedding.as_slice()).collect();
        let mut set = ReferenceSet::new(
            refs.iter().map(|e| e.class.clone()).collect(),
            refs.iter().map(|e| e.key.clone()).collect(),
            &Embeddings::from_rows(&rows)?,
        )?;
        let method = NoveltyMethod::KnnMeanDistance { k: 1 };
        set.calibrate_with_doubt(method, 0.95)?;
        let scorer = set.novelty_scorer(method)?;
        let percentiles = held
            .iter()
            .map(|e| Ok(set.assess(&scorer, &e.embedding, None)?.map_or(0.0, |u| u.percentile)))
            .collect::<Result<Vec<f32>>>()?;
        out.push(percentiles);
    }
    if out.is_empty() {
        bail!("{} has no fold-N folders with {EMBEDDINGS}: not a finished `glitchscope cv` run", run.display());
    }
    Ok(out)
}

/// The (1 - `rate`) quantile of `values`.
pub fn quantile(values: &[f32], rate: f64) -> f32 {
    let mut v = values.to_vec();
    v.sort_by(f32::total_cmp);
    let at = ((v.len().saturating_sub(1)) as f64 * (1.0 - rate)).round() as usize;
    v.get(at).copied().unwrap_or(1.0)
}

/// The flag from every fold's held-out glitches, and the false-alarm rate it gives each fold when set from the
/// other folds only (an honest estimate of what it does on new glitches).
pub fn out_of_fold_flag(run: &Path, rate: f64) -> Result<(f32, Vec<f64>)> {
    let folds = held_out_percentiles(run)?;
    let all: Vec<f32> = folds.iter().flatten().copied().collect();
    let checks = (0..folds.len())
        .map(|f| {
            let others: Vec<f32> = folds.iter().enumerate().filter(|(g, _)| *g != f).flat_map(|(_, v)| v.iter().copied()).collect();
            let flag = quantile(&others, rate);
            folds[f].iter().filter(|&&p| p >= flag).count() as f64 / folds[f].len().max(1) as f64
        })
        .collect();
    Ok((quantile(&all, rate), checks))
}
