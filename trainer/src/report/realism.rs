//! How much synthetic glitches of a class look like the real ones, on the ImageNet backbone's pooled features
//! (the generator must be improved by measurement, class by class).
//!
//! Three numbers per class, all on the same projection:
//! - **Fréchet distance** between the synthetic and the real feature distributions (as FID does with Inception
//!   features). A class has 2–66 real glitches, far fewer than the 1280 feature dimensions, so both
//!   distributions are first projected onto the leading principal components *of the real glitches* (fixed by
//!   the real data, so two generator versions are measured in the same space). Classes with fewer than
//!   [`MIN_REAL_FOR_FRECHET`] real glitches get no covariance: for them only the distances below are given.
//! - **Nearest-neighbour ratio**: the mean distance from each real glitch to its nearest synthetic glitch of
//!   the class, divided by the median nearest-neighbour distance among the synthetic glitches themselves.
//!   About 1: real glitches sit among the synthetic ones as closely as those sit among each other; defined
//!   for any number of real glitches.
//! - **Real-vs-synthetic AUROC**: a logistic regression on the projected features of all classes learns to
//!   tell real from synthetic (5-fold cross-validated, so each glitch is scored by a model that did not see it);
//!   the AUROC of its held-out scores within a class says how separable that class is: 0.5 = cannot tell
//!   them apart, 1.0 = always can.

use std::collections::BTreeMap;

use glitchscope::discovery::pca::symmetric_eigen;
use glitchscope::discovery::{Embeddings, Pca};
use serde::Serialize;

/// Fewest real glitches of a class for a Fréchet distance (a covariance from 2 points is a line).
pub const MIN_REAL_FOR_FRECHET: usize = 3;

/// One class's measures.
#[derive(Clone, Debug, Serialize)]
pub struct ClassRealism {
    pub class: String,
    pub real: usize,
    pub synthetic: usize,
    /// `None` with fewer than [`MIN_REAL_FOR_FRECHET`] real glitches.
    pub frechet: Option<f64>,
    pub nn_ratio: f64,
    /// `None` when the class has no synthetic or no real glitch.
    pub auroc: Option<f64>,
}

/// The whole measurement.
#[derive(Clone, Debug, Serialize)]
pub struct Realism {
    pub components: usize,
    pub classes: Vec<ClassRealism>,
    /// Real-vs-synthetic AUROC over all glitches together.
    pub auroc_all: f64,
}

/// Measure synthetic against real features, both labelled (`labels[i]` is the class of row `i`).
pub fn measure(
    synthetic: &Embeddings,
    synthetic_labels: &[String],
    real: &Embeddings,
    real_labels: &[String],
    components: usize,
    seed: u64,
) -> anyhow::Result<Realism> {
    anyhow::ensure!(synthetic.dim() == real.dim(), "synthetic features are {}-d, real ones {}-d", synthetic.dim(), real.dim());
    let pca = Pca::fit(real, components, seed)?;
    let k = pca.n_components();
    let project = |e: &Embeddings| -> anyhow::Result<Vec<Vec<f64>>> {
        let p = pca.transform(e)?;
        Ok((0..p.len()).map(|i| p.row(i).iter().map(|&x| x as f64).collect()).collect())
    };
    let (syn, rea) = (project(synthetic)?, project(real)?);

    // Real-vs-synthetic scores, each from a model that did not see that glitch.
    let mut x: Vec<&[f64]> = syn.iter().map(Vec::as_slice).collect();
    x.extend(rea.iter().map(Vec::as_slice));
    let y: Vec<bool> = (0..syn.len()).map(|_| false).chain((0..rea.len()).map(|_| true)).collect();
    let scores = cross_validated_scores(&x, &y, 5, seed);
    let auroc_all = auroc(&scores, &y).unwrap_or(0.5);

    let mut by_class: BTreeMap<&str, (Vec<usize>, Vec<usize>)> = BTreeMap::new();
    for (i, l) in synthetic_labels.iter().enumerate() {
        by_class.entry(l.as_str()).or_default().0.push(i);
    }
    for (i, l) in real_labels.iter().enumerate() {
        by_class.entry(l.as_str()).or_default().1.push(i);
    }
    let mut classes = Vec::new();
    for (class, (si, ri)) in by_class {
        if ri.is_empty() {
            continue;
        }
        let s: Vec<&[f64]> = si.iter().map(|&i| syn[i].as_slice()).collect();
        let r: Vec<&[f64]> = ri.iter().map(|&i| rea[i].as_slice()).collect();
        let frechet = (ri.len() >= MIN_REAL_FOR_FRECHET && si.len() >= 2).then(|| frechet_distance(&s, &r, k));
        let class_scores: Vec<f64> = si.iter().map(|&i| scores[i]).chain(ri.iter().map(|&i| scores[syn.len() + i])).collect();
        let class_y: Vec<bool> = si.iter().map(|_| false).chain(ri.iter().map(|_| true)).collect();
        classes.push(ClassRealism {
            class: class.to_string(),
            real: ri.len(),
            synthetic: si.len(),
            frechet,
            nn_ratio: nn_ratio(&s, &r),
            auroc: auroc(&class_scores, &class_y),
        });
    }
    Ok(Realism { components: k, classes, auroc_all })
}

/// SplitMix64: a seeded source of u64s for shuffles and test data (reproducible across platforms).
fn splitmix(seed: u64) -> impl FnMut() -> u64 {
    let mut state = seed;
    move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum()
}

/// Column means of rows of dimension `k`.
fn column_mean<'a>(rows: impl ExactSizeIterator<Item = &'a [f64]>, k: usize) -> Vec<f64> {
    let n = rows.len() as f64;
    let mut mean = vec![0.0; k];
    for r in rows {
        for (m, v) in mean.iter_mut().zip(r) {
            *m += v / n;
        }
    }
    mean
}

/// Mean and covariance (divided by n - 1) of rows of dimension `k`.
fn moments(rows: &[&[f64]], k: usize) -> (Vec<f64>, Vec<f64>) {
    let n = rows.len() as f64;
    let mean = column_mean(rows.iter().copied(), k);
    let mut cov = vec![0.0; k * k];
    for r in rows {
        for i in 0..k {
            let di = r[i] - mean[i];
            for j in 0..k {
                cov[i * k + j] += di * (r[j] - mean[j]) / (n - 1.0).max(1.0);
            }
        }
    }
    (mean, cov)
}

/// Square root of a symmetric positive semi-definite matrix (negative eigenvalues from rounding clipped to 0).
fn sqrt_psd(m: &[f64], k: usize) -> Vec<f64> {
    let mut a = m.to_vec();
    let (values, vectors) = symmetric_eigen(&mut a, k);
    let mut out = vec![0.0; k * k];
    for (e, &lambda) in values.iter().enumerate() {
        let s = lambda.max(0.0).sqrt();
        for i in 0..k {
            for j in 0..k {
                out[i * k + j] += s * vectors[i * k + e] * vectors[j * k + e];
            }
        }
    }
    out
}

fn matmul(a: &[f64], b: &[f64], k: usize) -> Vec<f64> {
    let mut out = vec![0.0; k * k];
    for i in 0..k {
        for l in 0..k {
            let x = a[i * k + l];
            for j in 0..k {
                out[i * k + j] += x * b[l * k + j];
            }
        }
    }
    out
}

/// Fréchet distance between Gaussians fitted to two sets of rows:
/// `|mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1^1/2 S2 S1^1/2)^1/2)`.
pub fn frechet_distance(a: &[&[f64]], b: &[&[f64]], k: usize) -> f64 {
    let (ma, sa) = moments(a, k);
    let (mb, sb) = moments(b, k);
    let root_a = sqrt_psd(&sa, k);
    let middle = matmul(&matmul(&root_a, &sb, k), &root_a, k);
    let cross = sqrt_psd(&middle, k);
    let trace = |m: &[f64]| (0..k).map(|i| m[i * k + i]).sum::<f64>();
    (sq_dist(&ma, &mb) + trace(&sa) + trace(&sb) - 2.0 * trace(&cross)).max(0.0)
}

/// Mean distance from each real row to its nearest synthetic row, over the median nearest-neighbour distance
/// among the synthetic rows.
pub fn nn_ratio(synthetic: &[&[f64]], real: &[&[f64]]) -> f64 {
    let nearest = |q: &[f64], pool: &[&[f64]], skip: Option<usize>| -> f64 {
        pool.iter().enumerate().filter(|(i, _)| Some(*i) != skip).map(|(_, p)| sq_dist(q, p)).fold(f64::INFINITY, f64::min).sqrt()
    };
    let mut within: Vec<f64> = (0..synthetic.len()).map(|i| nearest(synthetic[i], synthetic, Some(i))).collect();
    within.sort_by(f64::total_cmp);
    let median = if within.is_empty() { f64::NAN } else { within[within.len() / 2] };
    let across = real.iter().map(|r| nearest(r, synthetic, None)).sum::<f64>() / real.len() as f64;
    across / median
}

/// Area under the ROC curve of `scores` for the positives `y` (ties count half); `None` without both kinds.
pub fn auroc(scores: &[f64], y: &[bool]) -> Option<f64> {
    let pos: Vec<f64> = scores.iter().zip(y).filter(|(_, p)| **p).map(|(s, _)| *s).collect();
    let neg: Vec<f64> = scores.iter().zip(y).filter(|(_, p)| !**p).map(|(s, _)| *s).collect();
    if pos.is_empty() || neg.is_empty() {
        return None;
    }
    let mut wins = 0.0;
    for p in &pos {
        for n in &neg {
            wins += if p > n { 1.0 } else if p == n { 0.5 } else { 0.0 };
        }
    }
    Some(wins / (pos.len() * neg.len()) as f64)
}

/// Held-out scores of an L2-regularised logistic regression (standardised features, class-weighted so the
/// smaller side counts as much), `folds`-fold, folds assigned round-robin within each side after a seeded
/// shuffle.
pub fn cross_validated_scores(x: &[&[f64]], y: &[bool], folds: usize, seed: u64) -> Vec<f64> {
    let n = x.len();
    let mut fold = vec![0usize; n];
    let mut rng = splitmix(seed);
    for side in [false, true] {
        let mut idx: Vec<usize> = (0..n).filter(|&i| y[i] == side).collect();
        for i in (1..idx.len()).rev() {
            let j = (rng() % (i as u64 + 1)) as usize;
            idx.swap(i, j);
        }
        for (r, &i) in idx.iter().enumerate() {
            fold[i] = r % folds;
        }
    }
    let mut scores = vec![0.0; n];
    for f in 0..folds {
        let train: Vec<usize> = (0..n).filter(|&i| fold[i] != f).collect();
        let model = Logistic::fit(x, y, &train);
        for i in (0..n).filter(|&i| fold[i] == f) {
            scores[i] = model.score(x[i]);
        }
    }
    scores
}

/// Linear real-vs-synthetic model.
struct Logistic {
    mean: Vec<f64>,
    scale: Vec<f64>,
    w: Vec<f64>,
    b: f64,
}

impl Logistic {
    fn fit(x: &[&[f64]], y: &[bool], rows: &[usize]) -> Self {
        let k = x[0].len();
        let n = rows.len() as f64;
        let mean = column_mean(rows.iter().map(|&i| x[i]), k);
        let mut scale = vec![0.0; k];
        for &i in rows {
            for j in 0..k {
                scale[j] += (x[i][j] - mean[j]).powi(2) / n;
            }
        }
        scale.iter_mut().for_each(|s| *s = s.sqrt().max(1e-9));
        let positives = rows.iter().filter(|&&i| y[i]).count().max(1) as f64;
        let negatives = (n - positives).max(1.0);
        let (wp, wn) = (n / (2.0 * positives), n / (2.0 * negatives));
        let mut model = Self { mean, scale, w: vec![0.0; k], b: 0.0 };
        // Full-batch gradient descent: a convex problem on a few thousand points of ~16 dimensions.
        let (lr, l2) = (0.5, 1e-3);
        for _ in 0..500 {
            let mut gw = vec![0.0; k];
            let mut gb = 0.0;
            for &i in rows {
                let z = model.standardise(x[i]);
                let p = 1.0 / (1.0 + (-model.linear(&z)).exp());
                let (t, weight) = if y[i] { (1.0, wp) } else { (0.0, wn) };
                let g = weight * (p - t) / n;
                for j in 0..k {
                    gw[j] += g * z[j];
                }
                gb += g;
            }
            for j in 0..k {
                model.w[j] -= lr * (gw[j] + l2 * model.w[j]);
            }
            model.b -= lr * gb;
        }
        model
    }

    fn standardise(&self, v: &[f64]) -> Vec<f64> {
        v.iter().zip(&self.mean).zip(&self.scale).map(|((x, m), s)| (x - m) / s).collect()
    }

    fn linear(&self, z: &[f64]) -> f64 {
        z.iter().zip(&self.w).map(|(a, b)| a * b).sum::<f64>() + self.b
    }

    fn score(&self, v: &[f64]) -> f64 {
        self.linear(&self.standardise(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gaussian(n: usize, k: usize, shift: f64, seed: u64) -> Vec<Vec<f64>> {
        let mut rng = splitmix(seed);
        let mut normal = move || {
            // Box-Muller from two uniforms.
            let u1 = ((rng() >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
            let u2 = (rng() >> 11) as f64 / (1u64 << 53) as f64;
            (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
        };
        (0..n).map(|_| (0..k).map(|j| normal() + if j == 0 { shift } else { 0.0 }).collect()).collect()
    }

    fn refs(v: &[Vec<f64>]) -> Vec<&[f64]> {
        v.iter().map(Vec::as_slice).collect()
    }

    #[test]
    fn frechet_distance_is_zero_for_one_set_and_the_squared_shift_for_shifted_gaussians() {
        let a = gaussian(4000, 4, 0.0, 1);
        assert!(frechet_distance(&refs(&a), &refs(&a), 4) < 1e-6);
        let b = gaussian(4000, 4, 3.0, 2);
        let d = frechet_distance(&refs(&a), &refs(&b), 4);
        assert!((d - 9.0).abs() < 0.5, "{d}");
        // Different spreads: for 1-d N(0,1) vs N(0,4) the distance is (1 - 2)^2 = 1 per scaled dimension.
        let c: Vec<Vec<f64>> = gaussian(4000, 4, 0.0, 3).into_iter().map(|r| r.into_iter().map(|x| 2.0 * x).collect()).collect();
        let d = frechet_distance(&refs(&a), &refs(&c), 4);
        assert!((d - 4.0).abs() < 0.4, "{d}");
    }

    #[test]
    fn separability_and_nn_ratio_tell_alike_from_unlike() {
        let syn = gaussian(300, 6, 0.0, 4);
        let same = gaussian(60, 6, 0.0, 5);
        let far = gaussian(60, 6, 4.0, 6);
        for (real, alike) in [(&same, true), (&far, false)] {
            let mut x = refs(&syn);
            x.extend(refs(real));
            let y: Vec<bool> = (0..syn.len()).map(|_| false).chain((0..real.len()).map(|_| true)).collect();
            let a = auroc(&cross_validated_scores(&x, &y, 5, 9), &y).unwrap();
            let r = nn_ratio(&refs(&syn), &refs(real));
            if alike {
                assert!((0.35..0.65).contains(&a) && r < 1.5, "alike: auroc {a}, nn ratio {r}");
            } else {
                assert!(a > 0.95 && r > 2.0, "unlike: auroc {a}, nn ratio {r}");
            }
        }
        assert_eq!(auroc(&[1.0, 2.0], &[true, true]), None);
        assert_eq!(auroc(&[1.0, 2.0, 2.0], &[false, true, false]), Some(0.75));
    }
}
