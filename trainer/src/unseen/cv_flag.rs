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
use super::shipped_calibration::calibrated_set;
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
        let (set, scorer) = calibrated_set(refs.iter().map(|e| e.class.clone()).collect(), refs.iter().map(|e| e.key.clone()).collect(), &rows)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use glitchscope::discovery::synthetic::gaussian_blobs;

    /// A cv run of three folds over four blobs, each fold holding out a third of every blob: the flag is a high
    /// percentile, and set from two folds it flags about the stated share of the third's known glitches.
    #[test]
    fn the_flag_is_set_on_held_out_glitches() {
        let (data, truth) = gaussian_blobs(4, 60, 32, 0.6, 5).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        for f in 0..3 {
            let rows: Vec<FoldEmbedding> = (0..data.len())
                .map(|i| FoldEmbedding {
                    key: format!("g{i}"),
                    class: format!("c{}", truth[i]),
                    source: "s".into(),
                    held_out: i % 3 == f,
                    embedding: data.row(i).to_vec(),
                })
                .collect();
            let dir = tmp.path().join(format!("fold-{}", f + 1));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(EMBEDDINGS), serde_json::to_string(&rows).unwrap()).unwrap();
        }
        let (flag, checks) = out_of_fold_flag(tmp.path(), 0.05).unwrap();
        assert!(flag > 0.5 && flag <= 1.0, "flag {flag}");
        assert_eq!(checks.len(), 3);
        assert!(checks.iter().all(|&c| c <= 0.15), "false alarms per fold {checks:?}");
        assert_eq!(quantile(&[0.1, 0.2, 0.3, 0.4, 0.5], 0.25), 0.4);
        assert!(out_of_fold_flag(&tmp.path().join("nothing"), 0.05).is_err());
    }
}
