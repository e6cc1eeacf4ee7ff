//! The reference set a model ships: embeddings of labelled example glitches (for similarity search, class
//! prototypes and the unfamiliar score) with the novelty calibration made on them.
//!
//! File format (`.gsref`), small enough to download with the model (1280-d f16: 2.5 kB per glitch):
//!   8 bytes  magic `GSREF\0\0\x01`
//!   4 bytes  header length H, little-endian u32
//!   H bytes  JSON header: format, count, dim, precision ("f16" or "f32"), labels, keys, model, calibration (with
//!            the combined score's reference head: classes x dim numbers, ~0.3 MB of JSON for 22 x 1280)
//!   count * dim numbers, little-endian, row-major, each row of length 1.
//! f16 keeps cosine similarities to about 1e-3, far below the gaps that matter between classes.

use half::f16;

use super::novelty::{NoveltyCalibration, NoveltyMethod, NoveltyScorer, Unfamiliarity};
use super::prototypes::Prototypes;
use super::reference_head::ReferenceHead;
use super::{DiscoveryError, Embeddings, NeighbourIndex, Result};

pub const REFERENCE_FORMAT: &str = "glitchscope-reference/1";
const MAGIC: &[u8; 8] = b"GSREF\0\0\x01";
/// Folds of the reference head's out-of-fold doubt in [`ReferenceSet::calibrate_with_doubt`].
const DOUBT_FOLDS: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    F16,
    F32,
}

/// Labelled embeddings of example glitches. Rows are kept at unit length.
#[derive(Debug, Clone)]
pub struct ReferenceSet {
    /// Class of each glitch.
    pub labels: Vec<String>,
    /// Identifier of each glitch (Gravity Spy `<IFO>_<id>`).
    pub keys: Vec<String>,
    /// Name of the model card whose embeddings these are, if known.
    pub model: Option<String>,
    /// Calibration of the unfamiliar score made on this set.
    pub calibration: Option<NoveltyCalibration>,
    index: NeighbourIndex,
}

/// A reference glitch found by similarity search.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ReferenceMatch {
    pub index: usize,
    pub key: String,
    pub label: String,
    pub similarity: f32,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Header {
    format: String,
    count: usize,
    dim: usize,
    precision: Precision,
    labels: Vec<String>,
    keys: Vec<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    calibration: Option<NoveltyCalibration>,
}

impl ReferenceSet {
    pub fn new(labels: Vec<String>, keys: Vec<String>, embeddings: &Embeddings) -> Result<Self> {
        if labels.len() != embeddings.len() || keys.len() != embeddings.len() {
            return Err(DiscoveryError::InvalidParameter {
                name: "reference set",
                message: format!("{} labels and {} keys for {} embeddings", labels.len(), keys.len(), embeddings.len()),
            });
        }
        if let Some(row) = labels.iter().position(|l| l.trim().is_empty()) {
            return Err(DiscoveryError::InvalidParameter { name: "reference label", message: format!("glitch {row} has no label") });
        }
        Ok(Self { labels, keys, model: None, calibration: None, index: NeighbourIndex::new(embeddings)? })
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    pub fn dim(&self) -> usize {
        self.index.dim()
    }

    /// The unit-length embeddings.
    pub fn embeddings(&self) -> &Embeddings {
        self.index.unit_rows()
    }

    /// Distinct labels in order of first appearance.
    pub fn classes(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for l in &self.labels {
            if !out.contains(l) {
                out.push(l.clone());
            }
        }
        out
    }

    /// One prototype per class (for few-shot classification and the prototype novelty score).
    pub fn class_prototypes(&self) -> Result<Prototypes> {
        Prototypes::from_labelled(self.embeddings(), &self.labels)
    }

    /// A scorer for the unfamiliar score against this set.
    pub fn novelty_scorer(&self, method: NoveltyMethod) -> Result<NoveltyScorer> {
        NoveltyScorer::new(self.embeddings(), &self.labels, method)
    }

    /// Calibrate the unfamiliar score on this set (each glitch scored without itself) and keep the calibration.
    pub fn calibrate(&mut self, method: NoveltyMethod, flag_percentile: f32) -> Result<&NoveltyCalibration> {
        let calibration = self.novelty_scorer(method)?.calibrate_leave_one_out(flag_percentile)?;
        Ok(self.calibration.insert(calibration))
    }

    /// Calibrate the combined unfamiliar score on this set ([`NoveltyCalibration::with_doubt`]): each glitch's
    /// distance with itself left out, its doubt by a head fitted on the other `DOUBT_FOLDS` folds (stratified by
    /// class), and the head that scores new glitches fitted on all of them.
    pub fn calibrate_with_doubt(&mut self, method: NoveltyMethod, flag_percentile: f32) -> Result<&NoveltyCalibration> {
        let scorer = self.novelty_scorer(method)?;
        let distances = (0..self.len()).map(|i| scorer.score_reference(i)).collect::<Result<Vec<f32>>>()?;
        let classes = self.classes();
        let labels: Vec<usize> = self.labels.iter().map(|l| classes.iter().position(|c| c == l).unwrap_or(0)).collect();
        // Stratified folds: a class's members dealt in turn, each class starting one fold further on.
        let mut seen = vec![0usize; classes.len()];
        let fold_of: Vec<usize> = labels
            .iter()
            .map(|&c| {
                seen[c] += 1;
                (seen[c] + c) % DOUBT_FOLDS
            })
            .collect();
        let mut doubts = vec![0.0f32; self.len()];
        for f in 0..DOUBT_FOLDS {
            let (train, held): (Vec<usize>, Vec<usize>) = (0..self.len()).partition(|&i| fold_of[i] != f);
            if held.is_empty() {
                continue;
            }
            let train_labels: Vec<usize> = train.iter().map(|&i| labels[i]).collect();
            let head = ReferenceHead::fit(&self.embeddings().select(&train)?, &train_labels, &classes)?;
            for i in held {
                doubts[i] = head.doubt(self.embeddings().row(i))?;
            }
        }
        let head = ReferenceHead::fit(self.embeddings(), &labels, &classes)?;
        let calibration = NoveltyCalibration::with_doubt(method, distances, doubts, head, flag_percentile)?;
        Ok(self.calibration.insert(calibration))
    }

    /// The head fitted on this set's embeddings, kept with a combined unfamiliar-score calibration.
    pub fn reference_head(&self) -> Option<&ReferenceHead> {
        self.calibration.as_ref().and_then(|c| c.doubt.as_ref()).map(|d| &d.head)
    }

    /// The calibrated unfamiliar score of a glitch (`key`: see [`Self::unfamiliar_score`]), or None when the set
    /// has no calibration: the one rule for the page and `glitchscope cluster`.
    pub fn assess(&self, scorer: &NoveltyScorer, embedding: &[f32], key: Option<&str>) -> Result<Option<Unfamiliarity>> {
        let Some(calibration) = &self.calibration else { return Ok(None) };
        let distance = self.unfamiliar_score(scorer, embedding, key)?;
        calibration.assess_glitch(distance, embedding).map(Some)
    }

    /// The raw unfamiliar score of a glitch by `scorer` (made from this set). A glitch that is itself in the set
    /// (same key) is scored without itself, as the calibration scored every reference and as `glitchscope
    /// cluster --reference` does: otherwise it would sit at distance 0 from itself and never look unfamiliar.
    pub fn unfamiliar_score(&self, scorer: &NoveltyScorer, embedding: &[f32], key: Option<&str>) -> Result<f32> {
        // The scorer's rows are this set's only when it was built from all of them.
        let own = key.and_then(|k| self.keys.iter().position(|own| own == k)).filter(|_| scorer.len() == self.len());
        scorer.score_glitch(own, embedding)
    }

    /// Cosine similarity of `query` to every reference glitch, in row order.
    pub fn similarities(&self, query: &[f32]) -> Result<Vec<f32>> {
        self.index.similarities(query)
    }

    /// The `k` most similar reference glitches, best first.
    pub fn nearest(&self, query: &[f32], k: usize) -> Result<Vec<ReferenceMatch>> {
        Ok(self
            .index
            .search(query, k, None)?
            .into_iter()
            .map(|n| ReferenceMatch { index: n.index, key: self.keys[n.index].clone(), label: self.labels[n.index].clone(), similarity: n.similarity })
            .collect())
    }

    pub fn to_bytes(&self, precision: Precision) -> Vec<u8> {
        let header = Header {
            format: REFERENCE_FORMAT.into(),
            count: self.len(),
            dim: self.dim(),
            precision,
            labels: self.labels.clone(),
            keys: self.keys.clone(),
            model: self.model.clone(),
            calibration: self.calibration.clone(),
        };
        // Strings and numbers only: serialising cannot fail.
        let json = serde_json::to_vec(&header).unwrap_or_default();
        let width = if precision == Precision::F16 { 2 } else { 4 };
        let mut out = Vec::with_capacity(12 + json.len() + self.len() * self.dim() * width);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(json.len() as u32).to_le_bytes());
        out.extend_from_slice(&json);
        for &v in self.embeddings().as_flat() {
            match precision {
                Precision::F16 => out.extend_from_slice(&f16::from_f32(v).to_le_bytes()),
                Precision::F32 => out.extend_from_slice(&v.to_le_bytes()),
            }
        }
        out
    }

    pub fn from_bytes(bytes: &[u8], source_name: &str) -> Result<Self> {
        let bad = |message: String| DiscoveryError::Format { source_name: source_name.into(), message };
        if bytes.len() < 12 || &bytes[..8] != MAGIC {
            return Err(bad("not a GlitchScope reference set (.gsref): wrong magic bytes".into()));
        }
        let header_len = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize;
        let body = &bytes[12..];
        if header_len > body.len() {
            return Err(bad(format!("header of {header_len} bytes but only {} bytes follow", body.len())));
        }
        let header: Header = serde_json::from_slice(&body[..header_len]).map_err(|e| bad(format!("header: {e}")))?;
        if header.format != REFERENCE_FORMAT {
            return Err(bad(format!("format {:?}, expected {REFERENCE_FORMAT:?}", header.format)));
        }
        if header.labels.len() != header.count || header.keys.len() != header.count {
            return Err(bad(format!("{} labels and {} keys for {} glitches", header.labels.len(), header.keys.len(), header.count)));
        }
        let width = if header.precision == Precision::F16 { 2 } else { 4 };
        let payload = &body[header_len..];
        let expected = header.count.checked_mul(header.dim).and_then(|v| v.checked_mul(width));
        if expected != Some(payload.len()) {
            return Err(bad(format!(
                "{} bytes of embeddings, expected {} x {} x {width}",
                payload.len(),
                header.count,
                header.dim
            )));
        }
        let values: Vec<f32> = match header.precision {
            Precision::F16 => payload.chunks_exact(2).map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
            Precision::F32 => payload.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
        };
        let embeddings = Embeddings::from_flat(values, header.dim).map_err(|e| bad(e.to_string()))?;
        if let Some(c) = &header.calibration {
            c.validate(source_name)?;
        }
        let mut set = Self::new(header.labels, header.keys, &embeddings).map_err(|e| bad(e.to_string()))?;
        set.model = header.model;
        set.calibration = header.calibration;
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    // In the browser (wasm-pack test), each #[test] below runs as a wasm_bindgen_test.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;
    use super::*;
    use crate::discovery::synthetic::gaussian_blobs;

    fn sample() -> ReferenceSet {
        let (data, truth) = gaussian_blobs(3, 10, 32, 0.5, 8).unwrap();
        let labels = truth.iter().map(|t| ["Blip", "Whistle", "Koi_Fish"][*t].to_string()).collect();
        let keys = (0..data.len()).map(|i| format!("H1_{i:010}")).collect();
        let mut set = ReferenceSet::new(labels, keys, &data).unwrap();
        set.model = Some("test".into());
        set.calibrate(NoveltyMethod::KnnMeanDistance { k: 3 }, 0.95).unwrap();
        set
    }

    #[test]
    fn binary_round_trip_in_both_precisions() {
        let set = sample();
        for (precision, tolerance) in [(Precision::F32, 1e-6), (Precision::F16, 1e-3)] {
            let bytes = set.to_bytes(precision);
            let back = ReferenceSet::from_bytes(&bytes, "ref.gsref").unwrap();
            assert_eq!((back.labels.clone(), back.keys.clone(), back.model.clone()), (set.labels.clone(), set.keys.clone(), set.model.clone()));
            assert_eq!(back.calibration, set.calibration);
            let worst = back.embeddings().as_flat().iter().zip(set.embeddings().as_flat()).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
            assert!(worst <= tolerance, "{precision:?}: difference {worst}");
        }
        let f16_size = set.to_bytes(Precision::F16).len();
        assert!(f16_size < 30 * 32 * 2 + 4000, "f16 file is {f16_size} bytes");
    }

    #[test]
    fn nearest_finds_the_same_class_and_prototypes_cover_all_classes() {
        let set = sample();
        let found = set.nearest(set.embeddings().row(12), 4).unwrap();
        assert_eq!(found[0].index, 12);
        assert!(found.iter().all(|m| m.label == "Whistle"), "{found:?}");
        assert_eq!(set.classes(), vec!["Blip", "Whistle", "Koi_Fish"]);
        assert_eq!(set.class_prototypes().unwrap().names(), set.classes().as_slice());
    }

    /// The combined score: a reference set of four blobs, held-out members of them and a fifth blob never seen.
    /// The calibration survives the file; the new blob is flagged, the held-out known ones mostly not; a broken
    /// head or a combined calibration labelled as distance-only is refused with the file's name.
    #[test]
    fn combined_score_flags_a_new_blob_and_survives_the_file() {
        let (data, truth) = gaussian_blobs(5, 40, 32, 0.8, 21).unwrap();
        let refs: Vec<usize> = (0..data.len()).filter(|&i| truth[i] < 4 && i % 40 < 30).collect();
        let held: Vec<usize> = (0..data.len()).filter(|&i| truth[i] < 4 && i % 40 >= 30).collect();
        let new: Vec<usize> = (0..data.len()).filter(|&i| truth[i] == 4).collect();
        let labels = refs.iter().map(|&i| format!("class{}", truth[i])).collect();
        let keys = refs.iter().map(|i| format!("g{i}")).collect();
        let mut set = ReferenceSet::new(labels, keys, &data.select(&refs).unwrap()).unwrap();
        set.calibrate_with_doubt(NoveltyMethod::KnnMeanDistance { k: 1 }, 0.95).unwrap();
        let back = ReferenceSet::from_bytes(&set.to_bytes(Precision::F32), "ref.gsref").unwrap();
        assert_eq!(back.calibration, set.calibration);
        let calibration = back.calibration.as_ref().unwrap();
        assert!(calibration.doubt.is_some() && calibration.known_scores.iter().all(|s| (0.0..=1.0).contains(s)));
        let scorer = back.novelty_scorer(calibration.method).unwrap();
        let assess = |i: usize| back.assess(&scorer, data.row(i), None).unwrap().unwrap();
        let flagged = |rows: &[usize]| rows.iter().filter(|&&i| assess(i).new_class_candidate).count() as f64 / rows.len() as f64;
        assert!(flagged(&new) > 0.8, "new blob flagged {}", flagged(&new));
        assert!(flagged(&held) < 0.2, "held-out known flagged {}", flagged(&held));
        // A reference scored as itself gets its left-out distance, never 0.
        assert!(back.assess(&scorer, back.embeddings().row(0), Some("g0")).unwrap().unwrap().percentile > 0.0);

        let mut broken = set.clone();
        broken.calibration.as_mut().unwrap().doubt.as_mut().unwrap().head.weights.pop();
        let err = ReferenceSet::from_bytes(&broken.to_bytes(Precision::F32), "broken.gsref").unwrap_err().to_string();
        assert!(err.contains("broken.gsref") && err.contains("head"), "{err}");
        let mut mislabelled = set.clone();
        mislabelled.calibration.as_mut().unwrap().format = crate::discovery::novelty::CALIBRATION_FORMAT.into();
        let err = ReferenceSet::from_bytes(&mislabelled.to_bytes(Precision::F32), "old.gsref").unwrap_err().to_string();
        assert!(err.contains("old.gsref") && err.contains("novelty/2"), "{err}");
    }

    #[test]
    fn corrupt_files_are_errors_not_panics() {
        let bytes = sample().to_bytes(Precision::F16);
        assert!(ReferenceSet::from_bytes(&[], "r").is_err());
        assert!(ReferenceSet::from_bytes(b"GSREF\0\0\x01\xff\xff\xff\xff", "r").is_err());
        assert!(ReferenceSet::from_bytes(&bytes[..bytes.len() - 1], "r").is_err());
        let mut wrong_magic = bytes.clone();
        wrong_magic[0] = b'X';
        assert!(ReferenceSet::from_bytes(&wrong_magic, "r").is_err());
        // A NaN in the payload (f16 0x7e00).
        let mut nan = bytes.clone();
        let at = nan.len() - 2;
        nan[at..].copy_from_slice(&[0x00, 0x7e]);
        let err = ReferenceSet::from_bytes(&nan, "r.gsref").unwrap_err().to_string();
        assert!(err.contains("r.gsref") && err.contains("finite"), "{err}");
        let (data, _) = gaussian_blobs(1, 2, 4, 0.1, 0).unwrap();
        assert!(ReferenceSet::new(vec!["a".into()], vec!["k".into(), "l".into()], &data).is_err());
        assert!(ReferenceSet::new(vec!["a".into(), "".into()], vec!["k".into(), "l".into()], &data).is_err());
    }
}
