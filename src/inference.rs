//! Inference: a model card plus its weights, turned into top-5 classes, probabilities and embeddings.
//!
//! The forward pass is the same everywhere; only reading results differs: natively we can block on the
//! device, in a browser on WebGPU we must await (`predict_async`).

use burn::tensor::{Device, Tensor, TensorData};

use crate::card::{CardError, ModelCard};
use crate::discovery::{NeighbourVote, ReferenceSet};
use crate::model::weights::{self, WeightsError};
use crate::model::{BatchError, GlitchBatch, GlitchNet, GlitchNetConfig};
use crate::views::{GlitchViews, VIEW_COUNT, is_single_picture};

/// A loaded model.
#[derive(Debug)]
pub struct Classifier {
    pub model: GlitchNet,
    pub card: ModelCard,
    pub device: Device,
    /// The card's neighbour vote bound to its reference set, once attached ([`Self::attach_reference`]).
    vote: Option<NeighbourVote>,
}

/// Why a model could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Card(#[from] CardError),
    #[error(transparent)]
    Weights(#[from] WeightsError),
    #[error("reference set {path}: {message}")]
    Reference { path: String, message: String },
}


/// The result for one glitch.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Prediction {
    /// Probability of every class, in card label order.
    pub probabilities: Vec<f32>,
    /// The five most likely classes, most likely first.
    pub top5: Vec<TopClass>,
    /// The glitch embedding (mean of the present views' pooled backbone features).
    pub embedding: Vec<f32>,
    /// Per view slot (0.5, 1, 2, 4 s): what that view added to the top class's logit, divided by the card's
    /// temperature like the logits (`None` for a missing view). The head is linear, so these plus the
    /// presence terms and the bias are the top class's calibrated logit: the largest is the view that mattered.
    pub view_contributions: [Option<f32>; VIEW_COUNT],
}

impl Classifier {
    /// Build a classifier from a card and the bytes of its weights file, checking the card's sha256 first.
    pub fn from_card(card: ModelCard, weights_path: &str, weights_bytes: Vec<u8>, device: &Device) -> Result<Self, LoadError> {
        let mut model = Self::trainable_model(&card, weights_path, weights_bytes, device)?;
        // Inference only from here on: batch norms folded into the convolutions (same outputs, one pass over
        // every convolution's output fewer).
        model.backbone.fold_batch_norms();
        Ok(Self { model, card, device: device.clone(), vote: None })
    }

    /// Whether the card asks for the neighbour vote, so that its reference set must be attached before use.
    pub fn needs_reference(&self) -> bool {
        self.card.neighbour_vote.is_some()
    }

    /// Attach the card's reference set (`bytes` of the file the card names, read from `path`): checked against
    /// the card's sha256, then bound to the card's neighbour vote. Without a vote in the card it is not needed.
    pub fn attach_reference(&mut self, path: &str, bytes: &[u8]) -> Result<(), LoadError> {
        let Some(spec) = self.card.neighbour_vote.clone() else { return Ok(()) };
        let err = |message: String| LoadError::Reference { path: path.to_string(), message };
        let expected = self.card.reference.as_ref().map(|r| r.sha256.clone()).unwrap_or_default();
        let found = weights::sha256_hex(bytes);
        if !found.eq_ignore_ascii_case(&expected) {
            return Err(err(format!("its sha256 {found} differs from the card's {expected} (rerun scripts/make-reference-set.sh)")));
        }
        let set = ReferenceSet::from_bytes(bytes, path).map_err(|e| err(e.to_string()))?;
        if set.dim() != crate::model::efficientnet::HEAD_CHANNELS {
            return Err(err(format!("its embeddings have {} dimensions, the model's {}", set.dim(), crate::model::efficientnet::HEAD_CHANNELS)));
        }
        if set.model.as_deref().is_some_and(|m| m != self.card.name) {
            return Err(err(format!("it was made with model {:?}, not {:?}", set.model.unwrap_or_default(), self.card.name)));
        }
        self.vote = Some(NeighbourVote::new(spec, set, &self.card.labels).map_err(|e| err(e.to_string()))?);
        Ok(())
    }

    /// The attached neighbour vote, if any.
    pub fn neighbour_vote(&self) -> Option<&NeighbourVote> {
        self.vote.as_ref()
    }

    /// Drop the neighbour vote: predictions are the head's alone (for fitting and comparing the vote).
    pub fn head_only(mut self) -> Self {
        self.vote = None;
        self.card.neighbour_vote = None;
        self
    }

    /// The card's network as trained (batch norms not folded, so it can be trained further or exported
    /// parameter by parameter), after the same sha256 check.
    pub fn trainable_model(card: &ModelCard, weights_path: &str, weights_bytes: Vec<u8>, device: &Device) -> Result<GlitchNet, LoadError> {
        weights::verify_sha256(weights_path, &weights_bytes, &card.weights.sha256)?;
        let backbone = card.backbone().expect("validated card has a known backbone");
        let fusion = card.fusion().expect("validated card has a known fusion");
        let mut model = GlitchNetConfig::new()
            .with_backbone(backbone)
            .with_num_classes(card.labels.len())
            .with_fusion(fusion)
            .init(device);
        weights::load_burnpack(&mut model, weights_path, weights_bytes)?;
        Ok(model)
    }

    /// Load `card.json` and the weights file it names, from disk.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn from_card_file(path: &std::path::Path, device: &Device) -> Result<Self, LoadError> {
        let name = path.display().to_string();
        let json = std::fs::read_to_string(path)
            .map_err(|e| CardError::Invalid { path: name.clone(), message: format!("cannot read it: {e}") })?;
        let card = ModelCard::from_json(&name, &json)?;
        let weights_path = path.with_file_name(&card.weights.file);
        let weights_name = weights_path.display().to_string();
        let bytes = std::fs::read(&weights_path)
            .map_err(|e| WeightsError::Read { path: weights_name.clone(), message: e.to_string() })?;
        let mut classifier = Self::from_card(card, &weights_name, bytes, device)?;
        if let (true, Some(reference)) = (classifier.needs_reference(), classifier.card.reference.clone()) {
            let reference_path = path.with_file_name(&reference.file);
            let reference_name = reference_path.display().to_string();
            let bytes = std::fs::read(&reference_path)
                .map_err(|e| LoadError::Reference { path: reference_name.clone(), message: format!("cannot read it: {e}") })?;
            classifier.attach_reference(&reference_name, &bytes)?;
        }
        Ok(classifier)
    }

    /// Build the device batch for some glitches.
    pub fn batch(&self, glitches: &[GlitchViews]) -> Result<GlitchBatch, BatchError> {
        let mut images: Vec<&[f32]> = Vec::new();
        let mut slots = Vec::new();
        for (g, views) in glitches.iter().enumerate() {
            for (v, view) in views.iter().enumerate() {
                if let Some(data) = view {
                    images.push(data);
                    slots.push((g, v));
                }
            }
        }
        GlitchBatch::new(&images, slots, glitches.len(), self.card.input.height, self.card.input.width, &self.device)
    }

    /// The card's calibration temperature (1 when it has none).
    pub fn temperature(&self) -> f32 {
        self.card.calibration.as_ref().map_or(1.0, |c| c.temperature)
    }

    /// The temperature for a glitch that is (or is not) a single picture in the unknown-duration slot: the card's
    /// single-picture temperature when it has one, else [`Self::temperature`].
    pub fn temperature_for(&self, single_picture: bool) -> f32 {
        self.card.calibration.as_ref().map_or(1.0, |c| c.temperature_for(single_picture))
    }

    /// Logits, embeddings and per-view logit contributions still on the device. The temperatures and the
    /// softmax are applied on the host ([`Self::unpack`]): a glitch's temperature depends on its views, and
    /// 22 numbers per glitch cost nothing there.
    fn forward(&self, batch: &GlitchBatch) -> (Tensor<2>, Tensor<2>, Tensor<2>) {
        let out = self.model.forward(batch);
        (out.logits, out.embedding, out.view_logits)
    }

    /// Classify glitches, blocking until the device is done (native).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn predict(&self, glitches: &[GlitchViews]) -> Result<Vec<Prediction>, BatchError> {
        let batch = self.batch(glitches)?;
        let (logits, emb, views) = self.forward(&batch);
        let singles: Vec<bool> = glitches.iter().map(|g| is_single_picture(g)).collect();
        Ok(self.unpack(logits.into_data(), emb.into_data(), views.into_data(), &batch.slots, &singles))
    }

    /// Classify glitches, awaiting the device (needed on WebGPU in a browser; works everywhere).
    pub async fn predict_async(&self, glitches: &[GlitchViews]) -> Result<Result<Vec<Prediction>, String>, BatchError> {
        let batch = self.batch(glitches)?;
        let singles: Vec<bool> = glitches.iter().map(|g| is_single_picture(g)).collect();
        let (logits, emb, views) = self.forward(&batch);
        let logits = match logits.into_data_async().await {
            Ok(d) => d,
            Err(e) => return Ok(Err(format!("reading logits from the device failed: {e:?}"))),
        };
        let emb = match emb.into_data_async().await {
            Ok(d) => d,
            Err(e) => return Ok(Err(format!("reading embeddings from the device failed: {e:?}"))),
        };
        let views = match views.into_data_async().await {
            Ok(d) => d,
            Err(e) => return Ok(Err(format!("reading view contributions from the device failed: {e:?}"))),
        };
        Ok(Ok(self.unpack(logits, emb, views, &batch.slots, &singles)))
    }

    /// Per glitch: softmax(logits / T) with the glitch's temperature, the neighbour vote if attached (both by
    /// whether the glitch is a single picture, `singles`), and the views' contributions to the top class's logit
    /// (divided by the same T).
    fn unpack(&self, logits: TensorData, emb: TensorData, views: TensorData, slots: &[(usize, usize)], singles: &[bool]) -> Vec<Prediction> {
        let n = singles.len();
        let temperatures: Vec<f32> = singles.iter().map(|&s| self.temperature_for(s)).collect();
        let logits: Vec<f32> = logits.try_into_vec().unwrap_or_default();
        let emb: Vec<f32> = emb.try_into_vec().unwrap_or_default();
        let mut views: Vec<f32> = views.try_into_vec().unwrap_or_default();
        let k = self.card.labels.len();
        let d = if n == 0 { 0 } else { emb.len() / n };
        for (i, &(g, _)) in slots.iter().enumerate() {
            if let Some(row) = views.get_mut(i * k..(i + 1) * k) {
                row.iter_mut().for_each(|v| *v /= temperatures[g]);
            }
        }
        let mut predictions: Vec<Prediction> = (0..n)
            .map(|g| {
                let mut p = softmax_with_temperature(&logits[g * k..(g + 1) * k], f64::from(temperatures[g]));
                if let Some(vote) = &self.vote {
                    // The vote cannot fail here: the head gives k probabilities and the embedding has the
                    // reference set's dimension (checked when the set was attached). Keep the head's if it does.
                    if let Ok(voted) = vote.apply(&p, &emb[g * d..(g + 1) * d], singles[g]) {
                        p = voted;
                    }
                }
                Prediction {
                    top5: top_k(&p, &self.card.labels, 5),
                    probabilities: p,
                    embedding: emb[g * d..(g + 1) * d].to_vec(),
                    view_contributions: [None; VIEW_COUNT],
                }
            })
            .collect();
        for (i, &(g, v)) in slots.iter().enumerate() {
            let top = predictions[g].top5.first().and_then(|t| self.card.labels.iter().position(|l| *l == t.label));
            if let (Some(c), Some(value)) = (top, views.get(i * k..(i + 1) * k)) {
                predictions[g].view_contributions[v] = Some(value[c]);
            }
        }
        predictions
    }
}

/// A class and its probability; the same JSON shape in the CLI's `--json` and the browser's results.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct TopClass {
    pub label: String,
    pub probability: f32,
}

/// softmax(logits / t), computed stably in f64 (the largest logit subtracted first): the classifier's and the
/// trainer's calibration code's one softmax.
pub fn softmax_with_temperature(logits: &[f32], temperature: f64) -> Vec<f32> {
    let t = temperature.max(1e-6);
    let max = logits.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f64> = logits.iter().map(|&l| ((f64::from(l) - f64::from(max)) / t).exp()).collect();
    let sum: f64 = e.iter().sum();
    e.iter().map(|&x| (x / sum) as f32).collect()
}

/// The `k` most likely labels with their probabilities, most likely first.
pub fn top_k(probabilities: &[f32], labels: &[String], k: usize) -> Vec<TopClass> {
    let mut idx: Vec<usize> = (0..probabilities.len()).collect();
    idx.sort_by(|&a, &b| probabilities[b].total_cmp(&probabilities[a]));
    idx.into_iter().take(k).map(|i| TopClass { label: labels[i].clone(), probability: probabilities[i] }).collect()
}
