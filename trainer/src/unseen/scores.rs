//! The candidate unfamiliar scores, each fitted on one fold's references (real glitches of the known classes
//! only). Higher means stranger. Every score sees the left-out class nowhere: not in the references, not in the
//! head, not in the PCA.

use anyhow::Result;
use glitchscope::discovery::reference_head::log_sum_exp;
use glitchscope::discovery::{Embeddings, NoveltyMethod, NoveltyScorer, Pca, ReferenceHead};

use super::mahalanobis::Mahalanobis;

/// The raw scores, in this order.
/// `max_prob` and `energy` come from a head fitted on the fold's references; `net_max_prob` from the scoring
/// network's own calibrated head (constant where a glitch has no such probability).
pub const RAW: [&str; 7] = ["knn1", "knn5", "prototype", "mahalanobis", "max_prob", "energy", "net_max_prob"];
/// How a combination joins its parts' percentiles (each part against the null of known glitches).
#[derive(Clone, Copy)]
pub enum Join {
    Mean,
    Max,
}

/// Combinations of two raw scores (indices into `RAW`).
pub const COMBOS: [(&str, [usize; 2], Join); 7] = [
    ("knn1+max_prob", [0, 4], Join::Mean),
    ("knn5+mahalanobis", [1, 3], Join::Mean),
    ("mahalanobis+max_prob", [3, 4], Join::Mean),
    ("knn1+mahalanobis", [0, 3], Join::Mean),
    ("knn1+net_max_prob", [0, 6], Join::Mean),
    ("max(knn1,max_prob)", [0, 4], Join::Max),
    ("max(knn1,mahalanobis)", [0, 3], Join::Max),
];

/// Components kept for the Mahalanobis distance (the head keeps as many: `ReferenceHead`).
const DIMS: usize = 64;

pub struct FoldModel {
    knn1: NoveltyScorer,
    knn5: NoveltyScorer,
    prototype: NoveltyScorer,
    /// Principal components of the references' unit embeddings, for the Mahalanobis distance.
    pca: Pca,
    mahalanobis: Mahalanobis,
    /// The shipped unfamiliar score's head over the known classes (`max_prob`, `energy`), fitted on the fold's
    /// references as `ReferenceSet::calibrate_with_doubt` fits it on the shipped ones.
    pub head: ReferenceHead,
}

impl FoldModel {
    /// `refs`: raw embeddings of the references; `labels[i]` their class in `0..classes`.
    pub fn fit(refs: &Embeddings, labels: &[usize], classes: usize) -> Result<Self> {
        let names: Vec<String> = labels.iter().map(|c| c.to_string()).collect();
        let class_names: Vec<String> = (0..classes).map(|c| c.to_string()).collect();
        let unit = refs.normalised()?;
        let pca = Pca::fit(&unit, DIMS, 0)?;
        let z: Vec<Vec<f32>> = unit.rows().map(|r| pca.project(r)).collect::<Result<_, _>>()?;
        Ok(Self {
            knn1: NoveltyScorer::new(refs, &names, NoveltyMethod::KnnMeanDistance { k: 1 })?,
            knn5: NoveltyScorer::new(refs, &names, NoveltyMethod::KnnMeanDistance { k: 5 })?,
            prototype: NoveltyScorer::new(refs, &names, NoveltyMethod::NearestPrototype)?,
            mahalanobis: Mahalanobis::fit(&z, labels, classes, pca.n_components()),
            head: ReferenceHead::fit(refs, labels, &class_names)?,
            pca,
        })
    }

    /// A glitch in the fold's principal components.
    fn project(&self, embedding: &[f32]) -> Result<Vec<f32>> {
        Ok(self.pca.project(&unit(embedding))?)
    }

    /// The head's probabilities over the fold's known classes.
    pub fn probabilities(&self, embedding: &[f32]) -> Result<Vec<f32>> {
        Ok(self.head.probabilities(embedding)?)
    }

    /// Every raw score of one glitch, in `RAW` order; `top_probability`: the network's own (see `RAW`).
    pub fn raw_scores(&self, embedding: &[f32], top_probability: Option<f32>) -> Result<[f32; 7]> {
        let z = self.project(embedding)?;
        let logits = self.head.logits(embedding)?;
        Ok([
            self.knn1.score(embedding)?,
            self.knn5.score(embedding)?,
            self.prototype.score(embedding)?,
            self.mahalanobis.score(&z),
            self.head.doubt(embedding)?,
            -log_sum_exp(&logits),
            1.0 - top_probability.unwrap_or(1.0),
        ])
    }
}

fn unit(v: &[f32]) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.iter().map(|x| x / n).collect()
}
