//! The candidate unfamiliar scores, each fitted on one fold's references (real glitches of the known classes
//! only). Higher means stranger. Every score sees the left-out class nowhere: not in the references, not in the
//! head, not in the PCA.

use anyhow::Result;
use glitchscope::discovery::{Embeddings, NoveltyMethod, NoveltyScorer, Pca};

use super::linear_head::{LinearHead, log_sum_exp, softmax_in_place};
use super::mahalanobis::Mahalanobis;

/// The raw scores, in this order.
pub const RAW: [&str; 6] = ["knn1", "knn5", "prototype", "mahalanobis", "max_prob", "energy"];
/// Combinations: the mean of their parts' percentiles (each part against the null of known glitches).
pub const COMBOS: [(&str, [usize; 2]); 4] =
    [("knn1+max_prob", [0, 4]), ("knn5+mahalanobis", [1, 3]), ("mahalanobis+max_prob", [3, 4]), ("knn1+mahalanobis", [0, 3])];

/// Components kept for the head and the Mahalanobis distance.
const DIMS: usize = 64;

pub struct FoldModel {
    knn1: NoveltyScorer,
    knn5: NoveltyScorer,
    prototype: NoveltyScorer,
    mahalanobis: Mahalanobis,
    pca: Pca,
    scale: Vec<f32>,
    pub head: LinearHead,
}

impl FoldModel {
    /// `refs`: raw embeddings of the references; `labels[i]` their class in `0..classes`.
    pub fn fit(refs: &Embeddings, labels: &[usize], classes: usize) -> Result<Self> {
        let names: Vec<String> = labels.iter().map(|c| c.to_string()).collect();
        let unit = refs.normalised()?;
        let knn1 = NoveltyScorer::new(refs, &names, NoveltyMethod::KnnMeanDistance { k: 1 })?;
        let knn5 = NoveltyScorer::new(refs, &names, NoveltyMethod::KnnMeanDistance { k: 5 })?;
        let prototype = NoveltyScorer::new(refs, &names, NoveltyMethod::NearestPrototype)?;
        let mahalanobis = Mahalanobis::fit(&unit, labels, classes, DIMS)?;
        let pca = Pca::fit(&unit, DIMS, 0)?;
        let scale: Vec<f32> = pca.variances.iter().map(|v| 1.0 / v.max(1e-12).sqrt()).collect();
        let mut model = Self { knn1, knn5, prototype, mahalanobis, pca, scale, head: LinearHead::fit(&[], &[], classes) };
        let rows: Vec<Vec<f32>> = unit.rows().map(|r| model.head_input(r)).collect::<Result<_>>()?;
        model.head = LinearHead::fit(&rows, labels, classes);
        Ok(model)
    }

    fn head_input(&self, unit: &[f32]) -> Result<Vec<f32>> {
        Ok(self.pca.project(unit)?.into_iter().zip(&self.scale).map(|(v, s)| v * s).collect())
    }

    /// The head's probabilities over the fold's known classes.
    pub fn probabilities(&self, embedding: &[f32]) -> Result<Vec<f32>> {
        let mut z = self.head.logits(&self.head_input(&unit(embedding))?);
        softmax_in_place(&mut z);
        Ok(z)
    }

    /// Every raw score of one glitch, in `RAW` order.
    pub fn raw_scores(&self, embedding: &[f32]) -> Result<[f32; 6]> {
        let u = unit(embedding);
        let logits = self.head.logits(&self.head_input(&u)?);
        let mut p = logits.clone();
        softmax_in_place(&mut p);
        let max_p = p.iter().copied().fold(0.0, f32::max);
        Ok([
            self.knn1.score(embedding)?,
            self.knn5.score(embedding)?,
            self.prototype.score(embedding)?,
            self.mahalanobis.score(&u)?,
            1.0 - max_p,
            -log_sum_exp(&logits),
        ])
    }
}

fn unit(v: &[f32]) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.iter().map(|x| x / n).collect()
}
