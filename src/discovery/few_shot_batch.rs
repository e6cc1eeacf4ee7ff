//! Few-shot classes applied to a whole set of classified glitches at once (the page's results).
//!
//! `combine_with_few_shot` needs prototypes of the model's own classes to compete with the few-shot ones. With no
//! shipped reference set they come from the other glitches of the set, grouped by the model's top class: for
//! glitch i, the prototype of class c is the normalised mean direction of every other glitch the model calls c,
//! leaving out i itself (else a glitch would always sit closest to the class it helped to define) and leaving out
//! the examples of the few-shot classes (the user said those are not what the model thinks). A class with no
//! such glitch takes no part; with none at all, the model's answer stands unchanged.
//! When the model ships a reference set, its class prototypes are given as `known` and used for every glitch
//! instead (labelled examples beat the model's own guesses).

use super::embeddings::{normalise_in_place, normalised_vector};
use super::prototypes::{FewShotSet, combine_with_few_shot};
use super::{DiscoveryError, Embeddings, Prototypes, Result};

/// One class of a re-scored top-5.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RankedClass {
    pub label: String,
    pub probability: f32,
    /// True for a user's few-shot class, false for one of the model's.
    pub few_shot: bool,
}

/// One glitch after re-scoring.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Rescored {
    pub top5: Vec<RankedClass>,
    /// Probability mass the few-shot classes took (the model's classes were scaled by 1 minus this).
    pub few_shot_share: f32,
    /// How many of the model's classes had a prototype to compete with (0: the model's answer unchanged).
    pub known_classes: usize,
}

/// Re-score `n` glitches: `probabilities` is `n x labels.len()` (the model's softmax, row-major), `embeddings` the
/// glitches' embeddings, `keys` their keys (to recognise few-shot examples). `temperature` as in
/// `combine_with_few_shot`. `known`: prototypes of the model's classes from a reference set, or `None` to build
/// them from the glitches themselves (see the module documentation).
pub fn rescore_with_few_shot(
    set: &FewShotSet,
    labels: &[String],
    probabilities: &[f32],
    embeddings: &Embeddings,
    keys: &[String],
    known: Option<&Prototypes>,
    temperature: f32,
) -> Result<Vec<Rescored>> {
    let n = embeddings.len();
    check_batch(labels, probabilities, embeddings, keys)?;
    if embeddings.dim() != set.embedding_dim {
        return Err(DiscoveryError::DimensionMismatch { row: 0, expected: set.embedding_dim, got: embeddings.dim() });
    }
    let dim = embeddings.dim();
    let examples: std::collections::HashSet<&str> =
        set.classes.iter().flat_map(|c| c.examples.iter().map(String::as_str)).collect();
    let row_probs = |i: usize| &probabilities[i * labels.len()..(i + 1) * labels.len()];
    let top_class = |i: usize| {
        let p = row_probs(i);
        (0..p.len()).max_by(|&a, &b| p[a].total_cmp(&p[b]))
    };

    // Unit vectors, and per-class sums of the glitches that may define the model's classes.
    let units: Vec<Vec<f32>> = (0..n).map(|i| normalised_vector(embeddings.row(i), dim, i)).collect::<Result<_>>()?;
    let mut sums = vec![vec![0.0f32; dim]; labels.len()];
    let mut counts = vec![0usize; labels.len()];
    let contributes: Vec<Option<usize>> =
        (0..n).map(|i| if examples.contains(keys[i].as_str()) { None } else { top_class(i) }).collect();
    for (i, c) in contributes.iter().enumerate() {
        if let Some(c) = *c {
            sums[c].iter_mut().zip(&units[i]).for_each(|(s, u)| *s += u);
            counts[c] += 1;
        }
    }

    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let mut names = Vec::new();
        let mut rows: Vec<Vec<f32>> = Vec::new();
        for c in 0..labels.len() {
            let own = contributes[i] == Some(c);
            if counts[c] - usize::from(own) == 0 {
                continue;
            }
            let mut v = sums[c].clone();
            if own {
                v.iter_mut().zip(&units[i]).for_each(|(s, u)| *s -= u);
            }
            // Glitches that cancel out exactly leave no direction: that class sits this one out.
            if normalise_in_place(&mut v).is_some() {
                names.push(labels[c].clone());
                rows.push(v);
            }
        }
        let p = row_probs(i);
        let page_known;
        let known = match known {
            Some(k) => Some(k),
            None if rows.is_empty() => None,
            None => {
                page_known = Prototypes::from_labelled(&Embeddings::from_rows(&rows)?, &names)?;
                Some(&page_known)
            }
        };
        let known_classes = known.map_or(0, Prototypes::len);
        let combined = match known {
            Some(k) if !set.classes.is_empty() => combine_with_few_shot(p, labels, embeddings.row(i), k, set, temperature)?,
            _ => labels.iter().cloned().zip(p.iter().copied()).collect(),
        };
        let few_shot_share = combined[labels.len()..].iter().map(|c| c.1).sum();
        let mut ranked: Vec<RankedClass> = combined
            .into_iter()
            .enumerate()
            .map(|(k, (label, probability))| RankedClass { label, probability, few_shot: k >= labels.len() })
            .collect();
        ranked.sort_by(|a, b| b.probability.total_cmp(&a.probability));
        ranked.truncate(5);
        out.push(Rescored { top5: ranked, few_shot_share, known_classes });
    }
    Ok(out)
}

/// A batch of `n` glitches must come with `n x labels.len()` probabilities and `n` keys.
pub(super) fn check_batch(labels: &[String], probabilities: &[f32], embeddings: &Embeddings, keys: &[String]) -> Result<()> {
    let n = embeddings.len();
    if probabilities.len() != n * labels.len() || keys.len() != n {
        return Err(DiscoveryError::InvalidParameter {
            name: "glitches",
            message: format!("{} probabilities and {} keys for {n} embeddings of {} classes", probabilities.len(), keys.len(), labels.len()),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    // In the browser (wasm-pack test), each #[test] below runs as a wasm_bindgen_test.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;
    use super::*;
    use crate::discovery::synthetic::gaussian_blobs;

    /// Three blobs; the model knows classes "a" and "b" and calls every glitch of blob 2 an "a" (it never saw
    /// that class). A few-shot class from three blob-2 glitches must take over blob 2 and leave blobs 0 and 1.
    #[test]
    fn few_shot_class_takes_its_blob_and_leaves_the_others() {
        let per = 20;
        let (data, truth) = gaussian_blobs(3, per, 32, 0.5, 7).unwrap();
        let labels = vec!["a".to_string(), "b".to_string()];
        let probabilities: Vec<f32> =
            truth.iter().flat_map(|&t| if t == 1 { [0.1, 0.9] } else { [0.8, 0.2] }).collect();
        let keys: Vec<String> = (0..data.len()).map(|i| format!("g{i}")).collect();
        let blob2: Vec<usize> = (0..data.len()).filter(|&i| truth[i] == 2).collect();
        let mut set = FewShotSet::new(32, Some("m".into()));
        let chosen = &blob2[..3];
        set.add_class("New", &data.select(chosen).unwrap(), chosen.iter().map(|&i| keys[i].clone()).collect()).unwrap();

        let scored = rescore_with_few_shot(&set, &labels, &probabilities, &data, &keys, None, 0.05).unwrap();
        assert_eq!(scored.len(), data.len());
        for (i, s) in scored.iter().enumerate() {
            let total: f32 = s.top5.iter().map(|c| c.probability).sum();
            assert!((total - 1.0).abs() < 1e-4, "glitch {i}: 3 classes sum to {total}");
            let expected = ["a", "b", "New"][truth[i]];
            assert_eq!(s.top5[0].label, expected, "glitch {i} (blob {})", truth[i]);
            assert_eq!(s.top5[0].few_shot, expected == "New");
            assert!(s.top5.windows(2).all(|w| w[0].probability >= w[1].probability));
        }
        // The model's own order among its classes is kept: blob 1 still says b before a.
        let b1 = &scored[(0..data.len()).find(|&i| truth[i] == 1).unwrap()];
        let pos = |l: &str| b1.top5.iter().position(|c| c.label == l).unwrap();
        assert!(pos("b") < pos("a"));

        // Prototypes of "a" and "b" from labelled references (blobs 0 and 1 only) give the same answers.
        let refs: Vec<usize> = (0..data.len()).filter(|&i| truth[i] < 2 && i % per < 5).collect();
        let ref_labels: Vec<&str> = refs.iter().map(|&i| ["a", "b"][truth[i]]).collect();
        let known = Prototypes::from_labelled(&data.select(&refs).unwrap(), &ref_labels).unwrap();
        let with_ref = rescore_with_few_shot(&set, &labels, &probabilities, &data, &keys, Some(&known), 0.05).unwrap();
        for (i, s) in with_ref.iter().enumerate() {
            assert_eq!(s.top5[0].label, ["a", "b", "New"][truth[i]], "glitch {i} with reference prototypes");
            assert_eq!(s.known_classes, 2);
        }
    }

    #[test]
    fn nothing_to_compete_with_leaves_the_model_alone() {
        let (data, _) = gaussian_blobs(1, 2, 8, 0.3, 3).unwrap();
        let labels = vec!["a".to_string(), "b".to_string()];
        let keys = vec!["x".to_string(), "y".to_string()];
        let mut set = FewShotSet::new(8, None);
        set.add_class("New", &data.select(&[0, 1]).unwrap(), keys.clone()).unwrap();
        // Both glitches are examples: no glitch is left to define the model's classes.
        let scored = rescore_with_few_shot(&set, &labels, &[0.7, 0.3, 0.6, 0.4], &data, &keys, None, 0.05).unwrap();
        assert_eq!(scored[0].known_classes, 0);
        assert_eq!(scored[0].few_shot_share, 0.0);
        assert_eq!(scored[0].top5.iter().map(|c| c.label.as_str()).collect::<Vec<_>>(), vec!["a", "b"]);
        assert!(rescore_with_few_shot(&set, &labels, &[0.7, 0.3], &data, &keys, None, 0.05).is_err());
        let wrong_dim = Embeddings::from_rows(&[vec![1.0f32; 4], vec![1.0; 4]]).unwrap();
        assert!(rescore_with_few_shot(&set, &labels, &[0.7, 0.3, 0.6, 0.4], &wrong_dim, &keys, None, 0.05).is_err());
    }
}
