//! Classification by the trained head and the nearest labelled real glitches together.
//!
//! The head is trained mostly on synthetic glitches and a few real ones per rare class; its embedding places a
//! real glitch next to real glitches of its class more reliably than the head names it (measured on real
//! glitches the network never saw: 1-nearest-neighbour 86 % against the head's 77 %, docs/cross-validation.md).
//! So a card may ask for the two to vote together, with the labelled real glitches of its reference set:
//!
//!   z_c = a * ln p_head(c) + b * s_c,      p(c) = softmax_c(z),
//!
//! where `s_c` is the cosine similarity of the glitch's embedding to its nearest reference glitch of class c
//! (0 for a class without reference glitches, and for the classes the card excludes: None_of_the_Above is a
//! residual class of mixed shapes whose nearest example says nothing, so only the head speaks for it). `a` and
//! `b` are fitted together by the negative log-likelihood on real glitches the network never trained on, so the
//! result is calibrated as it stands (`a` also plays the part of the head's temperature).

use super::{DiscoveryError, ReferenceSet, Result};
use crate::card::NeighbourVoteSpec;

/// Similarities below this are treated as this (cosine similarities of ReLU6 features are >= 0 anyway).
const FLOOR: f32 = 0.0;

/// A card's vote rule bound to its reference set.
#[derive(Debug, Clone)]
pub struct NeighbourVote {
    spec: NeighbourVoteSpec,
    set: ReferenceSet,
    /// For each card class, the reference rows that vote for it (empty: none, or excluded by the card).
    rows_of_class: Vec<Vec<usize>>,
}

impl NeighbourVote {
    /// Bind `spec` to `set` for a model whose outputs are `labels`. Fails when the rule is not usable: weights
    /// not finite or negative, an excluded class the model does not have, or no class with reference glitches.
    pub fn new(spec: NeighbourVoteSpec, set: ReferenceSet, labels: &[String]) -> Result<Self> {
        spec.check(labels).map_err(|message| DiscoveryError::InvalidParameter { name: "neighbour vote", message })?;
        let rows_of_class: Vec<Vec<usize>> = labels
            .iter()
            .map(|label| {
                if spec.excluded.contains(label) {
                    return Vec::new();
                }
                set.labels.iter().enumerate().filter(|(_, l)| *l == label).map(|(i, _)| i).collect()
            })
            .collect();
        if rows_of_class.iter().all(Vec::is_empty) {
            return Err(DiscoveryError::InvalidParameter {
                name: "neighbour vote",
                message: "the reference set has no glitch of any class the model votes with".into(),
            });
        }
        Ok(Self { spec, set, rows_of_class })
    }

    pub fn spec(&self) -> &NeighbourVoteSpec {
        &self.spec
    }

    pub fn reference(&self) -> &ReferenceSet {
        &self.set
    }

    /// `s_c` for every class: the similarity to the nearest reference glitch of that class, leaving out the
    /// reference glitches whose key is `skip_key` (a glitch must not vote for itself when it is in the set).
    pub fn class_similarities(&self, embedding: &[f32], skip_key: Option<&str>) -> Result<Vec<f32>> {
        let all = self.set.similarities(embedding)?;
        Ok(self
            .rows_of_class
            .iter()
            .map(|rows| {
                rows.iter()
                    .filter(|&&r| skip_key.is_none_or(|k| self.set.keys[r] != k))
                    .map(|&r| all[r])
                    .fold(FLOOR, f32::max)
            })
            .collect())
    }

    /// The combined probabilities from the head's (calibrated) probabilities and the class similarities.
    pub fn combine(&self, head: &[f32], similarities: &[f32]) -> Vec<f32> {
        combine(head, similarities, self.spec.head_weight, self.spec.similarity_weight)
    }

    /// [`Self::class_similarities`] then [`Self::combine`].
    pub fn apply(&self, head: &[f32], embedding: &[f32]) -> Result<Vec<f32>> {
        if head.len() != self.rows_of_class.len() {
            return Err(DiscoveryError::InvalidParameter {
                name: "neighbour vote",
                message: format!("{} head probabilities for {} classes", head.len(), self.rows_of_class.len()),
            });
        }
        Ok(self.combine(head, &self.class_similarities(embedding, None)?))
    }
}

/// softmax_c(a ln p_c + b s_c); probabilities of 0 are taken as 1e-12 so that the logarithm stays finite.
pub fn combine(head: &[f32], similarities: &[f32], a: f32, b: f32) -> Vec<f32> {
    let z: Vec<f64> = head
        .iter()
        .zip(similarities)
        .map(|(&p, &s)| f64::from(a) * f64::from(p.max(1e-12)).ln() + f64::from(b) * f64::from(s))
        .collect();
    let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = z.iter().map(|v| (v - max).exp()).collect();
    let sum: f64 = e.iter().sum();
    e.iter().map(|v| (v / sum) as f32).collect()
}

#[cfg(test)]
mod tests {
    // In the browser (wasm-pack test), each #[test] below runs as a wasm_bindgen_test.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;
    use super::*;
    use crate::discovery::Embeddings;

    fn set() -> ReferenceSet {
        let rows = [[1.0, 0.0, 0.0], [0.9, 0.1, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
        let labels = ["A", "A", "B", "C"].map(String::from).to_vec();
        let keys = ["a1", "a2", "b1", "c1"].map(String::from).to_vec();
        ReferenceSet::new(labels, keys, &Embeddings::from_rows(&rows).unwrap()).unwrap()
    }

    fn spec(excluded: &[&str]) -> NeighbourVoteSpec {
        NeighbourVoteSpec {
            head_weight: 0.5,
            similarity_weight: 10.0,
            excluded: excluded.iter().map(|s| s.to_string()).collect(),
            method: String::new(),
        }
    }

    fn labels() -> Vec<String> {
        ["A", "B", "C", "D"].map(String::from).to_vec()
    }

    #[test]
    fn nearest_glitch_of_each_class_and_none_for_absent_or_excluded_classes() {
        let vote = NeighbourVote::new(spec(&["C"]), set(), &labels()).unwrap();
        let s = vote.class_similarities(&[1.0, 0.0, 0.0], None).unwrap();
        assert!((s[0] - 1.0).abs() < 1e-6 && s[1].abs() < 1e-6, "{s:?}");
        assert_eq!((s[2], s[3]), (0.0, 0.0), "C excluded, D absent: {s:?}");
        // Leaving the glitch itself out: its nearest of A is now a2.
        let left_out = vote.class_similarities(&[1.0, 0.0, 0.0], Some("a1")).unwrap();
        let a2 = 0.9 / (0.81f32 + 0.01).sqrt();
        assert!((left_out[0] - a2).abs() < 1e-3, "{left_out:?}");
    }

    #[test]
    fn combination_is_a_distribution_that_follows_both_voters() {
        let vote = NeighbourVote::new(spec(&[]), set(), &labels()).unwrap();
        let head = [0.25, 0.25, 0.25, 0.25];
        let p = vote.apply(&head, &[0.0, 1.0, 0.0]).unwrap();
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        assert!(p[1] > 0.99, "an undecided head follows the neighbours: {p:?}");
        // With b = 0 the rule is the head under a temperature 1/a: the ranking of the head stays.
        let plain = combine(&[0.7, 0.2, 0.1, 0.0], &[0.0, 1.0, 0.0, 0.0], 1.0, 0.0);
        assert!((plain[0] - 0.7).abs() < 1e-5 && plain[3] < 1e-6, "{plain:?}");
    }

    #[test]
    fn unusable_rules_are_refused() {
        assert!(NeighbourVote::new(spec(&["Z"]), set(), &labels()).is_err(), "unknown excluded class");
        let mut bad = spec(&[]);
        bad.similarity_weight = f32::NAN;
        assert!(NeighbourVote::new(bad, set(), &labels()).is_err());
        let other = ["X", "Y"].map(String::from).to_vec();
        assert!(NeighbourVote::new(spec(&[]), set(), &other).is_err(), "no class in common");
        let vote = NeighbourVote::new(spec(&[]), set(), &labels()).unwrap();
        assert!(vote.apply(&[0.5, 0.5], &[1.0, 0.0, 0.0]).is_err(), "wrong number of classes");
    }
}
