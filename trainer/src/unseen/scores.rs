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
    /// Principal components of the references' unit embeddings, for the head and the Mahalanobis distance.
    pca: Pca,
    mahalanobis: Mahalanobis,
    /// 1 / standard deviation along each component: the head's inputs are standardised.
    scale: Vec<f32>,
    pub head: LinearHead,
}

impl FoldModel {
    /// `refs`: raw embeddings of the references; `labels[i]` their class in `0..classes`.
    pub fn fit(refs: &Embeddings, labels: &[usize], classes: usize) -> Result<Self> {
        let names: Vec<String> = labels.iter().map(|c| c.to_string()).collect();
        let unit = refs.normalised()?;
        let pca = Pca::fit(&unit, DIMS, 0)?;
        let z: Vec<Vec<f32>> = unit.rows().map(|r| pca.project(r)).collect::<Result<_, _>>()?;
        let scale: Vec<f32> = pca.variances.iter().map(|v| 1.0 / v.max(1e-12).sqrt()).collect();
        let rows: Vec<Vec<f32>> = z.iter().map(|v| standardise(v, &scale)).collect();
        Ok(Self {
            knn1: NoveltyScorer::new(refs, &names, NoveltyMethod::KnnMeanDistance { k: 1 })?,
            knn5: NoveltyScorer::new(refs, &names, NoveltyMethod::KnnMeanDistance { k: 5 })?,
            prototype: NoveltyScorer::new(refs, &names, NoveltyMethod::NearestPrototype)?,
            mahalanobis: Mahalanobis::fit(&z, labels, classes, pca.n_components()),
            head: LinearHead::fit(&rows, labels, classes),
            pca,
            scale,
        })
    }

    /// A glitch in the fold's principal components.
    fn project(&self, embedding: &[f32]) -> Result<Vec<f32>> {
        Ok(self.pca.project(&unit(embedding))?)
    }

    /// The head's probabilities over the fold's known classes.
    pub fn probabilities(&self, embedding: &[f32]) -> Result<Vec<f32>> {
        let mut p = self.head.logits(&standardise(&self.project(embedding)?, &self.scale));
        softmax_in_place(&mut p);
        Ok(p)
    }

    /// Every raw score of one glitch, in `RAW` order.
    pub fn raw_scores(&self, embedding: &[f32]) -> Result<[f32; 6]> {
        let z = self.project(embedding)?;
        let logits = self.head.logits(&standardise(&z, &self.scale));
        let mut p = logits.clone();
        softmax_in_place(&mut p);
        let max_p = p.iter().copied().fold(0.0, f32::max);
        Ok([
            self.knn1.score(embedding)?,
            self.knn5.score(embedding)?,
            self.prototype.score(embedding)?,
            self.mahalanobis.score(&z),
            1.0 - max_p,
            -log_sum_exp(&logits),
        ])
    }
}

fn standardise(z: &[f32], scale: &[f32]) -> Vec<f32> {
    z.iter().zip(scale).map(|(v, s)| v * s).collect()
}

fn unit(v: &[f32]) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.iter().map(|x| x / n).collect()
}
