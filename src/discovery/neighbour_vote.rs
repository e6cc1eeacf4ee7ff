//! Classification by the trained head and the nearest labelled real glitches together.
//!
//! The head is trained mostly on synthetic glitches and a few real ones per rare class; its embedding places a
//! real glitch next to real glitches of its class more reliably than the head names it (measured on real
//! glitches the network never saw: 1-nearest-neighbour 86 % against the head's 77 %, docs/cross-validation.md).
//! So a card may ask for the two to vote together, with the labelled real glitches of its reference set:
//!
//!   z_c = a * ln p_head(c) + b * s_c + g * ln q(c),      p(c) = softmax_c(z),
//!
//! where `s_c` is the cosine similarity of the glitch's embedding to its nearest reference glitch of class c
//! (0 for a class without reference glitches, and for the classes the card excludes: None_of_the_Above is a
//! residual class of mixed shapes whose nearest example says nothing, so only the head speaks for it), and `q`
//! the probabilities of the reference set's own head (`reference_head`: a class-balanced softmax regression on
//! the real glitches' embeddings, the one the unfamiliar score doubts with). The network's head is trained mostly
//! on synthetic glitches; the reference head only on real ones, each rare class weighing as much as Blip. `a`,
//! `b` and `g` are fitted together by the negative log-likelihood on real glitches the network never trained on
//! (`glitchscope vote`), so the result is calibrated as it stands (`a` also plays the part of the head's
//! temperature).

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
    /// For each card class, its row in the reference head (None: the head does not know it). Empty when the
    /// card gives the reference head no weight.
    head_row_of_class: Vec<Option<usize>>,
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
        let head_row_of_class = if spec.uses_reference_head() {
            let head = set.reference_head().ok_or_else(|| DiscoveryError::InvalidParameter {
                name: "neighbour vote",
                message: "the card weighs the reference head, but the reference set has none (a distance-only calibration): remake it".into(),
            })?;
            let rows: Vec<Option<usize>> = labels.iter().map(|l| head.classes.iter().position(|c| c == l)).collect();
            if rows.iter().all(Option::is_none) {
                return Err(DiscoveryError::InvalidParameter {
                    name: "neighbour vote",
                    message: "the reference head knows none of the model's classes".into(),
                });
            }
            rows
        } else {
            Vec::new()
        };
        Ok(Self { spec, set, rows_of_class, head_row_of_class })
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

    /// `q(c)` for every card class: the reference head's probabilities in card label order, a class the head does
    /// not know taking the head's least probability (as unlikely as its least likely class). None when the card
    /// gives the reference head no weight.
    pub fn reference_head_probabilities(&self, embedding: &[f32]) -> Result<Option<Vec<f32>>> {
        let Some(head) = self.set.reference_head().filter(|_| !self.head_row_of_class.is_empty()) else { return Ok(None) };
        let q = head.probabilities(embedding)?;
        let least = q.iter().copied().fold(1.0, f32::min);
        Ok(Some(self.head_row_of_class.iter().map(|r| r.map_or(least, |r| q[r])).collect()))
    }

    /// The combined probabilities from the head's (calibrated) probabilities, the class similarities and the
    /// reference head's probabilities (when the card weighs them), with the weights for the glitch's kind.
    pub fn combine(&self, head: &[f32], similarities: &[f32], reference_head: Option<&[f32]>, single_picture: bool) -> Vec<f32> {
        let (a, b, g) = self.spec.weights_for(single_picture);
        combine(head, similarities, reference_head, a, b, g)
    }

    /// [`Self::class_similarities`] and [`Self::reference_head_probabilities`], then [`Self::combine`].
    pub fn apply(&self, head: &[f32], embedding: &[f32], single_picture: bool) -> Result<Vec<f32>> {
        if head.len() != self.rows_of_class.len() {
            return Err(DiscoveryError::InvalidParameter {
                name: "neighbour vote",
                message: format!("{} head probabilities for {} classes", head.len(), self.rows_of_class.len()),
            });
        }
        let q = self.reference_head_probabilities(embedding)?;
        Ok(self.combine(head, &self.class_similarities(embedding, None)?, q.as_deref(), single_picture))
    }
}

/// softmax_c(a ln p_c + b s_c + g ln q_c) (`q` absent: no third term); probabilities of 0 are taken as 1e-12 so
/// that the logarithm stays finite.
pub fn combine(head: &[f32], similarities: &[f32], reference_head: Option<&[f32]>, a: f32, b: f32, g: f32) -> Vec<f32> {
    let ln = |p: f32| f64::from(p.max(1e-12)).ln();
    let z: Vec<f64> = head
        .iter()
        .zip(similarities)
        .enumerate()
        .map(|(c, (&p, &s))| {
            let q = reference_head.map_or(0.0, |q| f64::from(g) * ln(q[c]));
            f64::from(a) * ln(p) + f64::from(b) * f64::from(s) + q
        })
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
            reference_head_weight: 0.0,
            single_picture_weights: None,
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
        let p = vote.apply(&head, &[0.0, 1.0, 0.0], false).unwrap();
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        assert!(p[1] > 0.99, "an undecided head follows the neighbours: {p:?}");
        // With b = 0 the rule is the head under a temperature 1/a: the ranking of the head stays.
        let plain = combine(&[0.7, 0.2, 0.1, 0.0], &[0.0, 1.0, 0.0, 0.0], None, 1.0, 0.0, 0.0);
        assert!((plain[0] - 0.7).abs() < 1e-5 && plain[3] < 1e-6, "{plain:?}");
    }

    /// With only the reference head weighed (a = b = 0, g = 1) the vote is the reference head's distribution; a
    /// model class the head does not know gets the head's least probability; a set without a head is refused.
    #[test]
    fn the_reference_head_term_follows_the_head_of_the_set() {
        let (data, truth) = crate::discovery::synthetic::gaussian_blobs(3, 20, 16, 0.5, 3).unwrap();
        let classes: Vec<String> = truth.iter().map(|t| ["A", "B", "C"][*t].to_string()).collect();
        let keys = (0..data.len()).map(|i| format!("k{i}")).collect();
        let mut with_head = ReferenceSet::new(classes, keys, &data).unwrap();
        let without_head = with_head.clone();
        with_head.calibrate_with_doubt(crate::discovery::NoveltyMethod::KnnMeanDistance { k: 1 }, 0.95).unwrap();
        let only_head = NeighbourVoteSpec { head_weight: 0.0, similarity_weight: 0.0, reference_head_weight: 1.0, ..spec(&[]) };
        let vote = NeighbourVote::new(only_head.clone(), with_head.clone(), &labels()).unwrap();
        let glitch = data.row(25); // a B
        let q = with_head.reference_head().unwrap().probabilities(glitch).unwrap();
        let p = vote.apply(&[0.25; 4], glitch, false).unwrap();
        for c in 0..3 {
            assert!((p[c] - q[c] / (1.0 + q.iter().copied().fold(1.0, f32::min))).abs() < 1e-4, "{p:?} vs {q:?}");
        }
        assert!(p[1] > 0.9, "{p:?}");
        assert!((p[3] - p.iter().take(3).copied().fold(1.0, f32::min)).abs() < 1e-6, "D, unknown to the head: {p:?}");
        let err = NeighbourVote::new(only_head, without_head, &labels()).unwrap_err().to_string();
        assert!(err.contains("reference head"), "{err}");
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
        assert!(vote.apply(&[0.5, 0.5], &[1.0, 0.0, 0.0], false).is_err(), "wrong number of classes");
    }
}
