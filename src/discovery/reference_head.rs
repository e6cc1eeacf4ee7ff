//! A small classifier over a reference set's classes, fitted on the references' own embeddings: the second half
//! of the shipped unfamiliar score (`novelty`, "doubt": 1 - its top probability).
//!
//! Why a head of its own and not the model's: on the unseen-class benchmark with networks that never saw the
//! left-out class (`glitchscope unseen`, protocol D in docs/unseen-real.md, 2026-12-08) the network's own calibrated
//! top probability separated a left-out class from known glitches with a median AUROC of only 0.658 / 0.590 (the
//! network is confidently wrong on shapes it never saw), while this head's reached 0.847 / 0.804, and joined to the
//! nearest-reference distance 0.880 / 0.825 against 0.862 / 0.691 for that distance alone.
//!
//! Fitting: L2-normalise, project on the references' first 64 principal components, standardise each component,
//! then softmax regression (full batch, Adam, class-balanced weights so a class of 3 real glitches counts as
//! much as Blip's 89). Everything before the softmax is linear, so it is folded into one `classes x dim` matrix on
//! the unit embedding: applying it needs no PCA, and the browser and the CLI compute the same sums.

use super::embeddings::{dot, normalised_vector};
use super::{DiscoveryError, Embeddings, Pca, Result};

/// Principal components the head is fitted on.
const COMPONENTS: usize = 64;
const STEPS: usize = 300;
const LEARNING_RATE: f32 = 0.05;
const L2: f32 = 1e-3;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReferenceHead {
    /// Class names, in row order of `weights`.
    pub classes: Vec<String>,
    /// Embedding dimension.
    pub dim: usize,
    /// `classes x dim`, row-major, applied to the unit-length embedding.
    pub weights: Vec<f32>,
    pub bias: Vec<f32>,
}

impl ReferenceHead {
    /// Fit on `references` whose row i is of class `classes[labels[i]]`.
    pub fn fit(references: &Embeddings, labels: &[usize], classes: &[String]) -> Result<Self> {
        if labels.len() != references.len() || labels.iter().any(|&l| l >= classes.len()) {
            return Err(DiscoveryError::InvalidParameter {
                name: "reference head labels",
                message: format!("{} labels for {} references and {} classes", labels.len(), references.len(), classes.len()),
            });
        }
        if references.len() < 2 {
            return Err(DiscoveryError::TooFew { what: "a reference head", needed: 2, got: references.len() });
        }
        let unit = references.normalised()?;
        let pca = Pca::fit(&unit, COMPONENTS, 0)?;
        let scale: Vec<f32> = pca.variances.iter().map(|v| 1.0 / v.max(1e-12).sqrt()).collect();
        let rows: Vec<Vec<f32>> = unit
            .rows()
            .map(|r| Ok(pca.project(r)?.iter().zip(&scale).map(|(z, s)| z * s).collect()))
            .collect::<Result<_>>()?;
        let (w, b) = softmax_regression(&rows, labels, classes.len());
        // Fold: logits = W (s * C (u - m)) + b = W' u + (b - W' m), with W' = W diag(s) C.
        let (k, d) = (pca.n_components(), pca.dim);
        let mut weights = vec![0.0f32; classes.len() * d];
        for c in 0..classes.len() {
            let out = &mut weights[c * d..(c + 1) * d];
            for j in 0..k {
                let coef = w[c * k + j] * scale[j];
                out.iter_mut().zip(&pca.components[j * d..(j + 1) * d]).for_each(|(o, &v)| *o += coef * v);
            }
        }
        let bias = (0..classes.len()).map(|c| b[c] - dot(&weights[c * d..(c + 1) * d], &pca.mean)).collect();
        Ok(Self { classes: classes.to_vec(), dim: d, weights, bias })
    }

    /// Check a head read from a file.
    pub fn validate(&self) -> std::result::Result<(), String> {
        let n = self.classes.len();
        if n < 2 || self.dim == 0 {
            return Err(format!("reference head with {n} classes of dimension {}", self.dim));
        }
        if self.weights.len() != n * self.dim || self.bias.len() != n {
            return Err(format!("reference head: {} weights and {} biases for {n} classes x {}", self.weights.len(), self.bias.len(), self.dim));
        }
        if !self.weights.iter().chain(&self.bias).all(|v| v.is_finite()) {
            return Err("reference head has a weight that is not a finite number".into());
        }
        Ok(())
    }

    /// The head's logits for one embedding (any length; it is normalised first).
    pub fn logits(&self, embedding: &[f32]) -> Result<Vec<f32>> {
        let u = normalised_vector(embedding, self.dim, 0)?;
        Ok(self.weights.chunks_exact(self.dim).zip(&self.bias).map(|(w, b)| dot(w, &u) + b).collect())
    }

    pub fn probabilities(&self, embedding: &[f32]) -> Result<Vec<f32>> {
        let mut p = self.logits(embedding)?;
        softmax_in_place(&mut p);
        Ok(p)
    }

    /// 1 - the top probability: how unsure the head is, 0 (certain) .. 1 - 1/classes.
    pub fn doubt(&self, embedding: &[f32]) -> Result<f32> {
        Ok(1.0 - self.probabilities(embedding)?.into_iter().fold(0.0, f32::max))
    }
}

/// Weights `classes x dim` and biases of a softmax regression on `rows` (standardised) with class indices
/// `labels`, class-balanced.
fn softmax_regression(rows: &[Vec<f32>], labels: &[usize], classes: usize) -> (Vec<f32>, Vec<f32>) {
    let dim = rows.first().map_or(0, Vec::len);
    let stride = dim + 1;
    let n = rows.len().max(1);
    let mut counts = vec![0usize; classes];
    labels.iter().for_each(|&c| counts[c] += 1);
    let present = counts.iter().filter(|&&c| c > 0).count().max(1);
    let weight: Vec<f32> = labels.iter().map(|&c| n as f32 / (present * counts[c]) as f32).collect();
    let mut w = vec![0.0f32; classes * stride];
    let (mut m, mut v) = (vec![0.0f32; w.len()], vec![0.0f32; w.len()]);
    let (b1, b2, eps) = (0.9f32, 0.999f32, 1e-8f32);
    let mut grad = vec![0.0f32; w.len()];
    let mut p = vec![0.0f32; classes];
    for step in 1..=STEPS {
        grad.iter_mut().for_each(|g| *g = 0.0);
        for ((x, &y), &wt) in rows.iter().zip(labels).zip(&weight) {
            for (c, o) in p.iter_mut().enumerate() {
                let row = &w[c * stride..(c + 1) * stride];
                *o = row[..dim].iter().zip(x).map(|(a, b)| a * b).sum::<f32>() + row[dim];
            }
            softmax_in_place(&mut p);
            for c in 0..classes {
                let d = wt * (p[c] - if c == y { 1.0 } else { 0.0 }) / n as f32;
                if d == 0.0 {
                    continue;
                }
                let g = &mut grad[c * stride..(c + 1) * stride];
                g[..dim].iter_mut().zip(x).for_each(|(g, &xi)| *g += d * xi);
                g[dim] += d;
            }
        }
        for c in 0..classes {
            for j in 0..dim {
                grad[c * stride + j] += L2 * w[c * stride + j];
            }
        }
        let (c1, c2) = (1.0 - b1.powi(step as i32), 1.0 - b2.powi(step as i32));
        for i in 0..w.len() {
            m[i] = b1 * m[i] + (1.0 - b1) * grad[i];
            v[i] = b2 * v[i] + (1.0 - b2) * grad[i] * grad[i];
            w[i] -= LEARNING_RATE * (m[i] / c1) / ((v[i] / c2).sqrt() + eps);
        }
    }
    let weights = (0..classes).flat_map(|c| w[c * stride..c * stride + dim].to_vec()).collect();
    let bias = (0..classes).map(|c| w[c * stride + dim]).collect();
    (weights, bias)
}

pub fn softmax_in_place(z: &mut [f32]) {
    let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    z.iter_mut().for_each(|v| {
        *v = (*v - max).exp();
        sum += *v;
    });
    z.iter_mut().for_each(|v| *v /= sum);
}

/// `log sum exp` of logits: minus the energy score of Liu et al. (2020).
pub fn log_sum_exp(z: &[f32]) -> f32 {
    let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    max + z.iter().map(|v| (v - max).exp()).sum::<f32>().ln()
}

#[cfg(test)]
mod tests {
    // In the browser (wasm-pack test), each #[test] below runs as a wasm_bindgen_test.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;
    use super::*;
    use crate::discovery::synthetic::gaussian_blobs;

    /// Three blobs: the head puts held-out members in their own class with confidence, and is unsure about a
    /// point halfway between two of them. The folded matrix gives what PCA + standardise + head would.
    #[test]
    fn classifies_blobs_and_doubts_what_lies_between() {
        let (data, truth) = gaussian_blobs(3, 40, 48, 0.5, 5).unwrap();
        let train: Vec<usize> = (0..data.len()).filter(|i| i % 4 != 0).collect();
        let held: Vec<usize> = (0..data.len()).filter(|i| i % 4 == 0).collect();
        let names: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        let labels: Vec<usize> = train.iter().map(|&i| truth[i]).collect();
        let head = ReferenceHead::fit(&data.select(&train).unwrap(), &labels, &names).unwrap();
        head.validate().unwrap();
        for &i in &held {
            let p = head.probabilities(data.row(i)).unwrap();
            let best = (0..3).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap();
            assert_eq!(best, truth[i], "{p:?}");
            assert!(head.doubt(data.row(i)).unwrap() < 0.2);
        }
        let (a, b) = (held.iter().find(|&&i| truth[i] == 0).unwrap(), held.iter().find(|&&i| truth[i] == 1).unwrap());
        let unit = |v: &[f32]| {
            let n = dot(v, v).sqrt();
            v.iter().map(|x| x / n).collect::<Vec<f32>>()
        };
        let between: Vec<f32> = unit(data.row(*a)).iter().zip(unit(data.row(*b))).map(|(x, y)| x + y).collect();
        assert!(head.doubt(&between).unwrap() > head.doubt(data.row(*a)).unwrap());
        assert!(head.logits(&[1.0; 3]).is_err());
        assert!(ReferenceHead::fit(&data, &truth[..3], &names).is_err());
        let mut broken = head.clone();
        broken.bias.pop();
        assert!(broken.validate().is_err());
    }
}
