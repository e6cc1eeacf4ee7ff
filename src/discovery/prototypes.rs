//! Class prototypes and few-shot classes.
//!
//! A prototype is the mean of a class's L2-normalised embeddings, normalised again: its direction in embedding
//! space (Snell et al. 2017). A few-shot class is a prototype made from a handful of glitches a user picked and
//! named; a `FewShotSet` is shared as JSON.
//!
//! How few-shot classes join the model's classification (`combine_with_few_shot`): prototypes of the model's own
//! classes (from the shipped reference set, or from the uploaded glitches grouped by predicted class) and of the
//! few-shot classes compete in one softmax over cosine similarities, `w_c = softmax_c(cos(e, proto_c) / T)`,
//! each vector taken relative to the mean of the model's class prototypes (see `centred_similarities`).
//! The share of the few-shot classes, `m = sum of w over few-shot classes`, is what the embedding says is new;
//! the model keeps the rest and distributes it as before:
//!
//!   P(model class i) = (1 - m) * p_model(i),     P(few-shot class c) = w_c.
//!
//! The result sums to 1, leaves the model's ranking of its own classes unchanged, needs no retraining, and
//! a new class only takes over where its prototype is clearly closer than every known class's. T = 0.05 by
//! default: a cosine-similarity lead of 0.1 gives e^2 = 7.4 times the weight.

use super::embeddings::{dot, normalise_in_place, normalised_vector};
use super::{DiscoveryError, Embeddings, Result};

pub const FEW_SHOT_FORMAT: &str = "glitchscope-few-shot/1";
pub const DEFAULT_TEMPERATURE: f32 = 0.05;

/// Named unit-length directions in embedding space.
#[derive(Debug, Clone, PartialEq)]
pub struct Prototypes {
    names: Vec<String>,
    unit: Vec<Vec<f32>>,
    dim: usize,
}

impl Prototypes {
    /// One prototype per distinct label, in order of first appearance; rows with an empty label are skipped.
    pub fn from_labelled<S: AsRef<str>>(embeddings: &Embeddings, labels: &[S]) -> Result<Self> {
        if labels.len() != embeddings.len() {
            return Err(DiscoveryError::InvalidParameter {
                name: "labels",
                message: format!("{} labels for {} embeddings", labels.len(), embeddings.len()),
            });
        }
        let mut names: Vec<String> = Vec::new();
        let mut sums: Vec<Vec<f32>> = Vec::new();
        for (row, (e, label)) in embeddings.rows().zip(labels).enumerate() {
            let label = label.as_ref();
            if label.is_empty() {
                continue;
            }
            let unit = normalised_vector(e, embeddings.dim(), row)?;
            let c = names.iter().position(|n| n == label).unwrap_or_else(|| {
                names.push(label.to_string());
                sums.push(vec![0.0; embeddings.dim()]);
                names.len() - 1
            });
            sums[c].iter_mut().zip(&unit).for_each(|(s, v)| *s += v);
        }
        Self::from_sums(names, sums, embeddings.dim())
    }

    fn from_sums(names: Vec<String>, mut sums: Vec<Vec<f32>>, dim: usize) -> Result<Self> {
        for (s, name) in sums.iter_mut().zip(&names) {
            // Opposite examples cancelling out exactly leave no direction.
            normalise_in_place(s).ok_or_else(|| DiscoveryError::InvalidParameter {
                name: "class examples",
                message: format!("the examples of {name:?} cancel out (their mean is zero)"),
            })?;
        }
        Ok(Self { names, unit: sums, dim })
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn prototype(&self, i: usize) -> &[f32] {
        &self.unit[i]
    }

    /// Cosine similarity of `embedding` to every prototype.
    pub fn similarities(&self, embedding: &[f32]) -> Result<Vec<f32>> {
        let q = normalised_vector(embedding, self.dim, 0)?;
        Ok(self.unit.iter().map(|p| dot(&q, p).clamp(-1.0, 1.0)).collect())
    }
}

/// A class a user defined from a few examples.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FewShotClass {
    pub name: String,
    /// Unit-length mean direction of the examples.
    pub prototype: Vec<f32>,
    /// Keys of the example glitches (for showing them again; not needed to classify).
    #[serde(default)]
    pub examples: Vec<String>,
}

/// The few-shot classes of one model, as stored in IndexedDB and exchanged as JSON.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FewShotSet {
    pub format: String,
    /// Embedding dimension (1280 for EfficientNet-Lite0); prototypes of another model do not mix.
    pub embedding_dim: usize,
    /// Name of the model card whose embeddings defined the classes, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    pub classes: Vec<FewShotClass>,
}

impl FewShotSet {
    pub fn new(embedding_dim: usize, model: Option<String>) -> Self {
        Self { format: FEW_SHOT_FORMAT.into(), embedding_dim, model, classes: Vec::new() }
    }

    /// Define (or redefine, replacing one of the same name) a class from its example embeddings.
    pub fn add_class(&mut self, name: &str, examples: &Embeddings, keys: Vec<String>) -> Result<()> {
        let name = name.trim();
        if name.is_empty() {
            return Err(DiscoveryError::InvalidParameter { name: "class name", message: "is empty".into() });
        }
        if examples.dim() != self.embedding_dim {
            return Err(DiscoveryError::DimensionMismatch { row: 0, expected: self.embedding_dim, got: examples.dim() });
        }
        let labels = vec![name; examples.len()];
        let p = Prototypes::from_labelled(examples, &labels)?;
        let class = FewShotClass { name: name.to_string(), prototype: p.unit[0].clone(), examples: keys };
        match self.classes.iter_mut().find(|c| c.name == name) {
            Some(existing) => *existing = class,
            None => self.classes.push(class),
        }
        Ok(())
    }

    /// Remove a class by name; false if there was none.
    pub fn remove_class(&mut self, name: &str) -> bool {
        let before = self.classes.len();
        self.classes.retain(|c| c.name != name);
        self.classes.len() != before
    }

    /// Add the classes of an imported set (same embedding dimension); a class of the same name is replaced.
    pub fn import(&mut self, other: FewShotSet) -> Result<()> {
        if other.embedding_dim != self.embedding_dim {
            return Err(DiscoveryError::DimensionMismatch { row: 0, expected: self.embedding_dim, got: other.embedding_dim });
        }
        for class in other.classes {
            match self.classes.iter_mut().find(|c| c.name == class.name) {
                Some(existing) => *existing = class,
                None => self.classes.push(class),
            }
        }
        Ok(())
    }

    pub fn to_json(&self) -> String {
        // Plain numbers and strings: serialising cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Read and check a shared set: format, dimension, names, and prototypes (made unit length again).
    pub fn from_json(json: &str, source_name: &str) -> Result<Self> {
        let bad = |message: String| DiscoveryError::Format { source_name: source_name.into(), message };
        let mut set: Self = serde_json::from_str(json).map_err(|e| bad(e.to_string()))?;
        if set.format != FEW_SHOT_FORMAT {
            return Err(bad(format!("format {:?}, expected {FEW_SHOT_FORMAT:?}", set.format)));
        }
        let mut seen = std::collections::HashSet::new();
        for class in &mut set.classes {
            if class.name.trim().is_empty() || !seen.insert(class.name.clone()) {
                return Err(bad(format!("class name {:?} is empty or repeated", class.name)));
            }
            if class.prototype.len() != set.embedding_dim {
                return Err(bad(format!("class {:?} has {} numbers, expected {}", class.name, class.prototype.len(), set.embedding_dim)));
            }
            class.prototype = normalised_vector(&class.prototype, set.embedding_dim, 0)
                .map_err(|e| bad(format!("class {:?}: {e}", class.name)))?;
        }
        Ok(set)
    }

    fn prototypes(&self) -> Prototypes {
        Prototypes {
            names: self.classes.iter().map(|c| c.name.clone()).collect(),
            unit: self.classes.iter().map(|c| c.prototype.clone()).collect(),
            dim: self.embedding_dim,
        }
    }
}

/// The model's probabilities extended by the few-shot classes (see the module documentation for the formula).
/// Returns (label, probability) for the model's classes (in `model_labels` order) followed by the few-shot
/// classes, summing to 1. `known` are prototypes of the model's classes; `temperature` is T (use
/// `DEFAULT_TEMPERATURE`).
pub fn combine_with_few_shot(
    model_probabilities: &[f32],
    model_labels: &[String],
    embedding: &[f32],
    known: &Prototypes,
    few_shot: &FewShotSet,
    temperature: f32,
) -> Result<Vec<(String, f32)>> {
    if model_probabilities.len() != model_labels.len() {
        return Err(DiscoveryError::InvalidParameter {
            name: "model probabilities",
            message: format!("{} probabilities for {} labels", model_probabilities.len(), model_labels.len()),
        });
    }
    if let Some(col) = model_probabilities.iter().position(|p| !p.is_finite() || *p < 0.0) {
        return Err(DiscoveryError::NonFinite { row: 0, col });
    }
    if !(temperature.is_finite() && temperature > 0.0) {
        return Err(DiscoveryError::InvalidParameter { name: "temperature", message: format!("{temperature} (must be positive)") });
    }
    let mut out: Vec<(String, f32)> = model_labels.iter().cloned().zip(model_probabilities.iter().copied()).collect();
    if few_shot.classes.is_empty() {
        return Ok(out);
    }
    if known.is_empty() {
        return Err(DiscoveryError::InvalidParameter {
            name: "known prototypes",
            message: "few-shot classes need prototypes of the model's classes to compete with".into(),
        });
    }
    if known.dim() != few_shot.embedding_dim {
        return Err(DiscoveryError::DimensionMismatch { row: 0, expected: few_shot.embedding_dim, got: known.dim() });
    }
    let new = few_shot.prototypes();
    let logits = match centred_similarities(embedding, known, &new)? {
        Some(centred) => centred,
        None => {
            let mut logits: Vec<f32> = known.similarities(embedding)?;
            logits.extend(new.similarities(embedding)?);
            logits
        }
    };
    let top = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let weights: Vec<f64> = logits.iter().map(|&s| (((s - top) / temperature) as f64).exp()).collect();
    let total: f64 = weights.iter().sum();
    let new_weights: Vec<f64> = weights[known.len()..].iter().map(|w| w / total).collect();
    let m: f64 = new_weights.iter().sum();
    let model_total: f64 = model_probabilities.iter().map(|&p| p as f64).sum();
    let scale = if model_total > 0.0 { (1.0 - m) / model_total } else { 0.0 };
    for (_, p) in &mut out {
        *p = (*p as f64 * scale) as f32;
    }
    out.extend(new.names.into_iter().zip(new_weights.into_iter().map(|w| w as f32)));
    Ok(out)
}

/// Cosine similarities of `embedding` to the known and then the few-shot prototypes, all measured after
/// subtracting the mean of the known prototypes (each class once). Network features are non-negative, so raw
/// cosines crowd near 1 and a new class rarely leads clearly; centred, they spread out (as in the unfamiliar
/// score). Measured by `glitchscope unseen` on real glitches (docs/unseen-real.md, 2026-12-07): from 3 examples
/// of a left-out class, centring raised the share of its other glitches that the few-shot class takes in 31 of
/// the 37 (class, network) rows of the three honest protocols and lowered it in 1 (O3 Fast_Scattering with the
/// ImageNet backbone 69 -> 95 %, with the shipped model 89 -> 91 %); known glitches wrongly taken rose from
/// 0-1 % to 0-4 %. `None` when there is nothing to centre on (fewer than two known classes)
/// or a direction vanishes (a prototype equal to the mean): then the caller compares uncentred.
fn centred_similarities(embedding: &[f32], known: &Prototypes, new: &Prototypes) -> Result<Option<Vec<f32>>> {
    if known.len() < 2 {
        return Ok(None);
    }
    let dim = known.dim;
    let mut centre = vec![0.0f32; dim];
    for u in &known.unit {
        centre.iter_mut().zip(u).for_each(|(c, v)| *c += v / known.len() as f32);
    }
    let centred = |v: &[f32]| -> Option<Vec<f32>> {
        let mut out: Vec<f32> = v.iter().zip(&centre).map(|(a, c)| a - c).collect();
        normalise_in_place(&mut out).map(|_| out)
    };
    let Some(q) = centred(&normalised_vector(embedding, dim, 0)?) else { return Ok(None) };
    let mut out = Vec::with_capacity(known.len() + new.len());
    for u in known.unit.iter().chain(&new.unit) {
        let Some(c) = centred(u) else { return Ok(None) };
        out.push(dot(&q, &c));
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    // In the browser (wasm-pack test), each #[test] below runs as a wasm_bindgen_test.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;
    use super::*;
    use crate::discovery::synthetic::gaussian_blobs;

    const BLOBS: usize = 6;
    const PER: usize = 60;

    /// A stand-in for the network: confident (0.9) in the nearest known blob, so an unseen blob is always
    /// misclassified, as a real model would.
    fn model_probabilities(e: &[f32], known: &Prototypes) -> Vec<f32> {
        let sims = known.similarities(e).unwrap();
        let best = (0..sims.len()).max_by(|&a, &b| sims[a].total_cmp(&sims[b])).unwrap();
        let rest = 0.1 / (sims.len() - 1) as f32;
        (0..sims.len()).map(|i| if i == best { 0.9 } else { rest }).collect()
    }

    fn argmax(p: &[(String, f32)]) -> &str {
        &p.iter().max_by(|a, b| a.1.total_cmp(&b.1)).unwrap().0
    }

    #[test]
    fn few_shot_class_from_1_5_and_10_examples_classifies_a_new_blob() {
        let (data, truth) = gaussian_blobs(BLOBS, PER, 64, 0.7, 21).unwrap();
        let labels: Vec<String> = truth.iter().map(|t| format!("class{t}")).collect();
        // Blobs 0..5 are the model's classes (prototypes from the first half of each); blob 5 is new.
        let known_rows: Vec<usize> = (0..data.len()).filter(|&i| truth[i] < BLOBS - 1 && i % PER < PER / 2).collect();
        let known_labels: Vec<&String> = known_rows.iter().map(|&i| &labels[i]).collect();
        let known = Prototypes::from_labelled(&data.select(&known_rows).unwrap(), &known_labels).unwrap();
        let model_labels: Vec<String> = known.names().to_vec();
        let new_rows: Vec<usize> = (0..data.len()).filter(|&i| truth[i] == BLOBS - 1).collect();
        let test_known: Vec<usize> = (0..data.len()).filter(|&i| truth[i] < BLOBS - 1 && i % PER >= PER / 2).collect();

        for shots in [1usize, 5, 10] {
            let mut set = FewShotSet::new(64, None);
            let keys = (0..shots).map(|i| format!("g{i}")).collect();
            set.add_class("Reverse_Chirp", &data.select(&new_rows[..shots]).unwrap(), keys).unwrap();
            let classify = |i: usize| {
                let e = data.row(i);
                let p = model_probabilities(e, &known);
                let combined = combine_with_few_shot(&p, &model_labels, e, &known, &set, DEFAULT_TEMPERATURE).unwrap();
                let total: f32 = combined.iter().map(|c| c.1).sum();
                assert!((total - 1.0).abs() < 1e-4, "probabilities sum to {total}");
                argmax(&combined).to_string()
            };
            let held_out_new = &new_rows[10..];
            let right_new = held_out_new.iter().filter(|&&i| classify(i) == "Reverse_Chirp").count();
            let right_known = test_known.iter().filter(|&&i| classify(i) == labels[i]).count();
            let acc_new = right_new as f64 / held_out_new.len() as f64;
            let acc_known = right_known as f64 / test_known.len() as f64;
            assert!(acc_new > 0.9, "{shots}-shot: new-class accuracy {acc_new}");
            assert!(acc_known > 0.95, "{shots}-shot: known classes kept only {acc_known}");
        }
    }

    #[test]
    fn json_round_trip_import_and_removal() {
        let (data, _) = gaussian_blobs(2, 5, 8, 0.2, 1).unwrap();
        let mut set = FewShotSet::new(8, Some("lite0-o1".into()));
        set.add_class("A", &data.select(&[0, 1]).unwrap(), vec!["k0".into(), "k1".into()]).unwrap();
        set.add_class("B", &data.select(&[5]).unwrap(), vec![]).unwrap();
        let back = FewShotSet::from_json(&set.to_json(), "classes.json").unwrap();
        assert_eq!(back.classes.len(), 2);
        for (a, b) in back.classes.iter().zip(&set.classes) {
            assert_eq!(a.name, b.name);
            assert!(a.prototype.iter().zip(&b.prototype).all(|(x, y)| (x - y).abs() < 1e-6));
        }
        let mut other = FewShotSet::new(8, None);
        other.add_class("A", &data.select(&[7]).unwrap(), vec![]).unwrap();
        other.add_class("C", &data.select(&[8]).unwrap(), vec![]).unwrap();
        set.import(other).unwrap();
        assert_eq!(set.classes.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), vec!["A", "B", "C"]);
        assert!(set.remove_class("B"));
        assert!(!set.remove_class("B"));
        assert!(set.import(FewShotSet::new(9, None)).is_err());
    }

    #[test]
    fn bad_json_and_inputs_are_errors() {
        assert!(FewShotSet::from_json("not json", "x.json").is_err());
        let wrong_format = r#"{"format":"other","embedding_dim":2,"classes":[]}"#;
        assert!(FewShotSet::from_json(wrong_format, "x.json").is_err());
        let wrong_dim = r#"{"format":"glitchscope-few-shot/1","embedding_dim":2,"classes":[{"name":"A","prototype":[1.0]}]}"#;
        assert!(FewShotSet::from_json(wrong_dim, "x.json").is_err());
        let zero = r#"{"format":"glitchscope-few-shot/1","embedding_dim":2,"classes":[{"name":"A","prototype":[0.0,0.0]}]}"#;
        assert!(FewShotSet::from_json(zero, "x.json").is_err());
        let twice = r#"{"format":"glitchscope-few-shot/1","embedding_dim":1,"classes":[{"name":"A","prototype":[1.0]},{"name":"A","prototype":[1.0]}]}"#;
        assert!(FewShotSet::from_json(twice, "x.json").is_err());
        let mut set = FewShotSet::new(2, None);
        let e = Embeddings::from_rows(&[vec![1.0, 0.0]]).unwrap();
        assert!(set.add_class("  ", &e, vec![]).is_err());
        let opposite = Embeddings::from_rows(&[vec![1.0, 0.0], vec![-1.0, 0.0]]).unwrap();
        assert!(set.add_class("A", &opposite, vec![]).is_err());
        set.add_class("A", &e, vec![]).unwrap();
        let labels = vec!["x".to_string()];
        let empty = Prototypes { names: vec![], unit: vec![], dim: 2 };
        assert!(combine_with_few_shot(&[1.0], &labels, &[1.0, 0.0], &empty, &set, 0.05).is_err());
        let known = Prototypes::from_labelled(&e, &["x"]).unwrap();
        assert!(combine_with_few_shot(&[f32::NAN], &labels, &[1.0, 0.0], &known, &set, 0.05).is_err());
        assert!(combine_with_few_shot(&[1.0], &labels, &[1.0, 0.0], &known, &set, 0.0).is_err());
        assert!(combine_with_few_shot(&[1.0, 0.0], &labels, &[1.0, 0.0], &known, &set, 0.05).is_err());
        // No few-shot classes: the model's answer unchanged.
        let none = FewShotSet::new(2, None);
        assert_eq!(combine_with_few_shot(&[1.0], &labels, &[0.0, 1.0], &known, &none, 0.05).unwrap(), vec![("x".into(), 1.0)]);
    }
}
