//! The unfamiliar-glitch score: how far a glitch sits from everything the model knows, as a percentile of the
//! same score on glitches of known classes.
//!
//! Distances are cosine distances (0 = same direction, 2 = opposite) measured after subtracting the mean
//! direction of the references. Network features are non-negative (ReLU6, then averaged), so raw cosine
//! similarities all crowd near 1; centring spreads them out. On the real O3 images (ImageNet features, reference
//! without Fast_Scattering) it raised the AUROC of Fast_Scattering against the known classes from 0.89 to 0.94.
//!
//! Score, by `NoveltyMethod`:
//! - `KnnMeanDistance { k }` (default, k = 1): mean distance to the k nearest labelled reference embeddings. Follows
//!   the shape of each class, including classes with several modes. k = 1 because the unseen-class benchmark on
//!   real glitches (`glitchscope unseen`, docs/unseen-real.md) put the nearest glitch ahead of the mean of five
//!   under all four of its protocols (median AUROC over the honest rows 0.723 vs 0.700, 0.791 vs 0.747, 0.827 vs
//!   0.824, and 0.951 vs 0.930 for O3 Fast_Scattering with the default model): most classes have 3-14 real glitches, so the 5 nearest of a rare class's glitch are mostly of other
//!   classes and a known rare glitch looks as strange as a new one.
//! - `NearestPrototype`: distance to the nearest class prototype (mean direction of a class). Cheaper, coarser.
//!
//! With a `doubt` part (format 2, what `glitchscope embed` writes into a .gsref) the calibrated score is the mean
//! of two percentiles, each against the same known-class glitches: the distance above, and the doubt of a small
//! head fitted on the references (`reference_head`: 1 - its top probability). The distance finds shapes far from
//! every reference; the head finds glitches that sit between classes. On the unseen-class benchmark with the
//! networks closest to the shipped one (protocol D, docs/unseen-real.md, 2026-12-08) the pair reached a median
//! AUROC of 0.880 / 0.825 over the left-out real classes against 0.862 / 0.691 for the distance alone.
//!
//! Calibration turns the raw score into "this glitch is stranger than p % of known-class glitches": the scores
//! of held-out glitches of known classes (or each reference left out of its own set) are stored sorted in a
//! `NoveltyCalibration`, which is serialisable so a model ships it with its reference set. Glitches at or above
//! `flag_percentile` (default 0.95: one known glitch in 20 is flagged too) are candidates for a new class.

use super::embeddings::{dot, normalise_in_place, normalised_vector};
use super::reference_head::ReferenceHead;
use super::{DiscoveryError, Embeddings, NeighbourIndex, Result};

/// A calibration of the distance alone.
pub const CALIBRATION_FORMAT: &str = "glitchscope-novelty/1";
/// A calibration with a `doubt` part: its `known_scores` are combined scores, which a reader of format 1 would
/// take for distances, so it gets a format of its own.
pub const CALIBRATION_FORMAT_WITH_DOUBT: &str = "glitchscope-novelty/2";
/// At most this many sorted scores are kept (as evenly spaced quantiles) so the calibration stays small.
const MAX_STORED_SCORES: usize = 1001;

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NoveltyMethod {
    KnnMeanDistance { k: usize },
    NearestPrototype,
}

impl Default for NoveltyMethod {
    fn default() -> Self {
        Self::KnnMeanDistance { k: 1 }
    }
}

/// The unfamiliar score of one glitch, in raw and calibrated form.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Unfamiliarity {
    /// Cosine distance by the calibration's method.
    pub score: f32,
    /// Share of known-class calibration glitches with a lower score (0..1).
    pub percentile: f32,
    /// `percentile >= flag_percentile`: a candidate for a class the model does not know.
    pub new_class_candidate: bool,
}

/// Fewest reference classes for which a combined calibration is made by default. The benchmark measured the
/// pair with 11 to 22 known classes; with two (O3 Koi_Fish and Scattered_Light as the only references) the head's
/// doubt is only "which of the two", and it pulled O3 Fast_Scattering's AUROC from 1.000 (the distance alone) to
/// 0.833, while with the shipped 22-class set the pair gives it 1.000 against the same O3 glitches.
pub const MIN_CLASSES_FOR_DOUBT: usize = 10;

/// The second part of a combined score: a head over the reference classes and the two parts' known-class scores.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DoubtCalibration {
    pub head: ReferenceHead,
    /// Distances of the calibration glitches, ascending (each scored as `known_scores` were).
    pub distance_scores: Vec<f32>,
    /// Doubt of the same glitches by heads that did not see them (k-fold), ascending.
    pub doubt_scores: Vec<f32>,
}

impl DoubtCalibration {
    /// The combined score: mean of the distance's and the doubt's percentiles among the known-class glitches.
    pub fn combine(&self, distance: f32, doubt: f32) -> f32 {
        0.5 * (interpolated_percentile(&self.distance_scores, distance) + interpolated_percentile(&self.doubt_scores, doubt))
    }
}

/// The calibration a model ships: method, sorted known-class scores, flag threshold.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NoveltyCalibration {
    pub format: String,
    pub method: NoveltyMethod,
    /// Scores of known-class glitches, ascending (all of them, or evenly spaced quantiles when there were many).
    pub known_scores: Vec<f32>,
    /// How many known-class glitches the calibration was computed from.
    pub n_calibration: usize,
    pub flag_percentile: f32,
    /// Present in format 2: the score is combined with the reference head's doubt ([`DoubtCalibration`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doubt: Option<DoubtCalibration>,
}

impl NoveltyCalibration {
    pub fn from_scores(method: NoveltyMethod, mut scores: Vec<f32>, flag_percentile: f32) -> Result<Self> {
        if scores.len() < 2 {
            return Err(DiscoveryError::TooFew { what: "a novelty calibration", needed: 2, got: scores.len() });
        }
        if let Some(row) = scores.iter().position(|s| !s.is_finite()) {
            return Err(DiscoveryError::NonFinite { row, col: 0 });
        }
        check_flag(flag_percentile)?;
        scores.sort_by(f32::total_cmp);
        let n_calibration = scores.len();
        Ok(Self { format: CALIBRATION_FORMAT.into(), method, known_scores: thin(scores), n_calibration, flag_percentile, doubt: None })
    }

    /// A combined calibration from each known-class glitch's distance (`distances[i]`) and doubt (`doubts[i]`,
    /// by a head that did not see glitch i), with `head` (fitted on all of them) to score new glitches.
    pub fn with_doubt(method: NoveltyMethod, distances: Vec<f32>, doubts: Vec<f32>, head: ReferenceHead, flag_percentile: f32) -> Result<Self> {
        if distances.len() != doubts.len() {
            return Err(DiscoveryError::InvalidParameter { name: "doubt calibration", message: format!("{} distances but {} doubts", distances.len(), doubts.len()) });
        }
        if let Some(row) = doubts.iter().position(|s| !s.is_finite()) {
            return Err(DiscoveryError::NonFinite { row, col: 1 });
        }
        let distance_only = Self::from_scores(method, distances.clone(), flag_percentile)?;
        let sorted = |mut v: Vec<f32>| {
            v.sort_by(f32::total_cmp);
            thin(v)
        };
        let part = DoubtCalibration { head, distance_scores: distance_only.known_scores, doubt_scores: sorted(doubts.clone()) };
        let combined: Vec<f32> = distances.iter().zip(&doubts).map(|(&d, &u)| part.combine(d, u)).collect();
        let mut out = Self::from_scores(method, combined, flag_percentile)?;
        out.format = CALIBRATION_FORMAT_WITH_DOUBT.into();
        out.doubt = Some(part);
        Ok(out)
    }

    /// Check a calibration read from elsewhere (JSON, a reference file).
    pub fn validate(&self, source_name: &str) -> Result<()> {
        let bad = |message: String| Err(DiscoveryError::Format { source_name: source_name.into(), message });
        let expected = if self.doubt.is_some() { CALIBRATION_FORMAT_WITH_DOUBT } else { CALIBRATION_FORMAT };
        if self.format != expected {
            return bad(format!("calibration format {:?}, expected {expected:?}", self.format));
        }
        if let Some(part) = &self.doubt {
            part.head.validate().or_else(&bad)?;
            for (name, v) in [("distance", &part.distance_scores), ("doubt", &part.doubt_scores)] {
                if v.len() < 2 || !v.iter().all(|s| s.is_finite()) || !v.is_sorted() {
                    return bad(format!("calibration {name} scores must be at least 2, finite and ascending"));
                }
            }
        }
        if self.known_scores.len() < 2 {
            return bad("calibration has fewer than 2 scores".into());
        }
        if !self.known_scores.iter().all(|s| s.is_finite()) || !self.known_scores.is_sorted() {
            return bad("calibration scores must be finite and ascending".into());
        }
        if let NoveltyMethod::KnnMeanDistance { k: 0 } = self.method {
            return bad("calibration method has k = 0".into());
        }
        check_flag(self.flag_percentile).or_else(|e| bad(e.to_string()))
    }

    pub fn from_json(json: &str, source_name: &str) -> Result<Self> {
        let c: Self = serde_json::from_str(json)
            .map_err(|e| DiscoveryError::Format { source_name: source_name.into(), message: e.to_string() })?;
        c.validate(source_name)?;
        Ok(c)
    }

    pub fn to_json(&self) -> String {
        // Serialising plain numbers and strings cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Where `score` falls among the known-class scores, 0..1, interpolated between stored scores.
    pub fn percentile(&self, score: f32) -> f32 {
        interpolated_percentile(&self.known_scores, score)
    }

    /// Calibrate a score of the kind `known_scores` holds (for a format-2 calibration, a combined score).
    pub fn assess(&self, score: f32) -> Unfamiliarity {
        let percentile = self.percentile(score);
        Unfamiliarity { score, percentile, new_class_candidate: percentile >= self.flag_percentile }
    }

    /// The one rule for a glitch: its `distance` (by this calibration's method) and, for a combined calibration,
    /// the reference head's doubt about its `embedding`, calibrated.
    pub fn assess_glitch(&self, distance: f32, embedding: &[f32]) -> Result<Unfamiliarity> {
        Ok(self.assess(match &self.doubt {
            Some(part) => part.combine(distance, part.head.doubt(embedding)?),
            None => distance,
        }))
    }
}

/// Keep at most `MAX_STORED_SCORES` of sorted `scores`, as evenly spaced quantiles.
fn thin(scores: Vec<f32>) -> Vec<f32> {
    let n = scores.len();
    if n <= MAX_STORED_SCORES {
        return scores;
    }
    (0..MAX_STORED_SCORES).map(|q| scores[((q as f64 / (MAX_STORED_SCORES - 1) as f64) * (n - 1) as f64).round() as usize]).collect()
}

/// Where `score` falls among `sorted` (ascending, at least 2), 0..1, interpolated between them.
fn interpolated_percentile(q: &[f32], score: f32) -> f32 {
    let m = q.len();
    if score.is_nan() {
        return 1.0;
    }
    if m == 0 || score < q[0] {
        return 0.0;
    }
    if score >= q[m - 1] {
        return 1.0;
    }
    let i = q.partition_point(|&v| v <= score) - 1; // q[i] <= score < q[i+1]
    let frac = if q[i + 1] > q[i] { (score - q[i]) / (q[i + 1] - q[i]) } else { 0.0 };
    (i as f32 + frac) / (m - 1) as f32
}

fn check_flag(flag: f32) -> Result<()> {
    if flag.is_finite() && flag > 0.0 && flag <= 1.0 {
        Ok(())
    } else {
        Err(DiscoveryError::InvalidParameter { name: "flag percentile", message: format!("{flag} (must be in (0, 1])") })
    }
}

/// Scores glitches against labelled reference embeddings.
#[derive(Debug, Clone)]
pub struct NoveltyScorer {
    method: NoveltyMethod,
    /// Mean of the unit-length references, subtracted before comparing (`None` if that leaves nothing).
    centre: Option<Vec<f32>>,
    /// The references in the compared space: unit length, centred, unit length again.
    index: NeighbourIndex,
    /// Class of each reference, as an index into `class_sums`.
    class_of: Vec<usize>,
    /// Sum of the unit embeddings of each class (its direction is the prototype).
    class_sums: Vec<Vec<f32>>,
    class_counts: Vec<usize>,
}

impl NoveltyScorer {
    /// `labels[i]` is the class of `references` row i.
    pub fn new<S: AsRef<str>>(references: &Embeddings, labels: &[S], method: NoveltyMethod) -> Result<Self> {
        if labels.len() != references.len() {
            return Err(DiscoveryError::InvalidParameter {
                name: "reference labels",
                message: format!("{} labels for {} references", labels.len(), references.len()),
            });
        }
        if let NoveltyMethod::KnnMeanDistance { k } = method
            && (k == 0 || k > references.len())
        {
            return Err(DiscoveryError::TooFew { what: "the k-nearest novelty score with this k", needed: k.max(1), got: references.len() });
        }
        let unit = references.normalised()?;
        let dim = references.dim();
        let mut centre = vec![0.0f32; dim];
        for r in unit.rows() {
            centre.iter_mut().zip(r).for_each(|(c, &v)| *c += v / unit.len() as f32);
        }
        let centred: Vec<f32> = unit.rows().flat_map(|r| r.iter().zip(&centre).map(|(v, c)| v - c)).collect();
        // Identical references centre to zero vectors: then compare uncentred.
        let (index, centre) = match Embeddings::from_flat(centred, dim).and_then(|e| NeighbourIndex::new(&e)) {
            Ok(index) => (index, Some(centre)),
            Err(_) => (NeighbourIndex::new(&unit)?, None),
        };
        let mut names: Vec<&str> = Vec::new();
        let mut class_of = Vec::with_capacity(labels.len());
        let mut class_sums: Vec<Vec<f32>> = Vec::new();
        let mut class_counts = Vec::new();
        for (row, label) in index.unit_rows().rows().zip(labels) {
            let c = match names.iter().position(|n| *n == label.as_ref()) {
                Some(c) => c,
                None => {
                    names.push(label.as_ref());
                    class_sums.push(vec![0.0; references.dim()]);
                    class_counts.push(0);
                    names.len() - 1
                }
            };
            class_sums[c].iter_mut().zip(row).for_each(|(s, &v)| *s += v);
            class_counts[c] += 1;
            class_of.push(c);
        }
        Ok(Self { method, centre, index, class_of, class_sums, class_counts })
    }

    pub fn method(&self) -> NoveltyMethod {
        self.method
    }

    /// The raw score of one glitch.
    pub fn score(&self, embedding: &[f32]) -> Result<f32> {
        let mut q = normalised_vector(embedding, self.index.dim(), 0)?;
        if let Some(centre) = &self.centre {
            q.iter_mut().zip(centre).for_each(|(v, c)| *v -= c);
            if normalise_in_place(&mut q).is_none() {
                // Exactly the mean direction: no similarity to anything in particular.
                return Ok(1.0);
            }
        }
        self.score_in_space(&q, None)
    }

    /// Raw scores of many glitches.
    pub fn score_all(&self, data: &Embeddings) -> Result<Vec<f32>> {
        data.rows().map(|r| self.score(r)).collect()
    }

    /// Score and calibrate many glitches; the calibration must have been made with this scorer's method.
    pub fn assess_all(&self, data: &Embeddings, calibration: &NoveltyCalibration) -> Result<Vec<Unfamiliarity>> {
        if calibration.method != self.method {
            return Err(DiscoveryError::InvalidParameter {
                name: "calibration",
                message: format!("made for {:?}, but the scores use {:?}", calibration.method, self.method),
            });
        }
        Ok(self.score_all(data)?.into_iter().map(|s| calibration.assess(s)).collect())
    }

    /// Number of reference embeddings.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The score of reference `i` with itself left out: what a glitch that is in the reference set gets.
    pub fn score_reference(&self, i: usize) -> Result<f32> {
        if i >= self.len() {
            return Err(DiscoveryError::InvalidParameter { name: "reference", message: format!("{i} is out of range for {} references", self.len()) });
        }
        self.score_in_space(self.index.unit_rows().row(i), Some(i))
    }

    /// The score of a glitch that is reference `own` (scored without itself, as [`Self::score_reference`]) or,
    /// when `own` is None, a glitch outside the references: the one rule for the CLI's map and the page.
    pub fn score_glitch(&self, own: Option<usize>, embedding: &[f32]) -> Result<f32> {
        match own {
            Some(i) => self.score_reference(i),
            None => self.score(embedding),
        }
    }

    /// Score of `q` (already in the compared space: unit, centred, unit) as if reference `exclude` were not in
    /// the set (leave-one-out calibration).
    fn score_in_space(&self, q: &[f32], exclude: Option<usize>) -> Result<f32> {
        match self.method {
            NoveltyMethod::KnnMeanDistance { k } => {
                let found = self.index.search(q, k, exclude)?;
                if found.is_empty() {
                    return Err(DiscoveryError::TooFew { what: "the k-nearest novelty score", needed: 2, got: 1 });
                }
                Ok(found.iter().map(|n| 1.0 - n.similarity).sum::<f32>() / found.len() as f32)
            }
            NoveltyMethod::NearestPrototype => {
                let own = exclude.map(|i| self.class_of[i]);
                let mut best = f32::INFINITY;
                for (c, sum) in self.class_sums.iter().enumerate() {
                    let mut proto = sum.clone();
                    if Some(c) == own {
                        if self.class_counts[c] < 2 {
                            continue; // its only member is left out
                        }
                        let row = self.index.unit_rows().row(exclude.unwrap_or(0));
                        proto.iter_mut().zip(row).for_each(|(p, &v)| *p -= v);
                    }
                    let norm = dot(&proto, &proto).sqrt();
                    if norm > 0.0 {
                        best = best.min(1.0 - dot(q, &proto) / norm);
                    }
                }
                if best.is_finite() {
                    Ok(best.max(0.0))
                } else {
                    Err(DiscoveryError::TooFew { what: "the prototype novelty score", needed: 2, got: 1 })
                }
            }
        }
    }

    /// Calibrate on held-out glitches of known classes.
    pub fn calibrate(&self, known: &Embeddings, flag_percentile: f32) -> Result<NoveltyCalibration> {
        NoveltyCalibration::from_scores(self.method, self.score_all(known)?, flag_percentile)
    }

    /// Calibrate on the references themselves, each scored with itself left out: a held-out set for free.
    pub fn calibrate_leave_one_out(&self, flag_percentile: f32) -> Result<NoveltyCalibration> {
        let scores = (0..self.len()).map(|i| self.score_reference(i)).collect::<Result<Vec<f32>>>()?;
        NoveltyCalibration::from_scores(self.method, scores, flag_percentile)
    }
}

#[cfg(test)]
mod tests {
    // In the browser (wasm-pack test), each #[test] below runs as a wasm_bindgen_test.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;
    use super::*;
    use crate::discovery::synthetic::gaussian_blobs;

    /// Area under the ROC curve for "positive scores higher than negative ones" (ties count half).
    pub(crate) fn auroc(positive: &[f32], negative: &[f32]) -> f64 {
        let mut wins = 0.0;
        for &p in positive {
            for &n in negative {
                wins += if p > n { 1.0 } else if p == n { 0.5 } else { 0.0 };
            }
        }
        wins / (positive.len() * negative.len()) as f64
    }

    /// Blobs 0..4 known (references + held-out known), blob 5 unseen.
    fn split() -> (Embeddings, Vec<usize>, Embeddings, Embeddings) {
        let (data, truth) = gaussian_blobs(6, 60, 64, 0.7, 11).unwrap();
        let refs: Vec<usize> = (0..data.len()).filter(|&i| truth[i] < 5 && i % 60 < 30).collect();
        let held: Vec<usize> = (0..data.len()).filter(|&i| truth[i] < 5 && i % 60 >= 30).collect();
        let unseen: Vec<usize> = (0..data.len()).filter(|&i| truth[i] == 5).collect();
        let labels = refs.iter().map(|&i| truth[i]).collect();
        (data.select(&refs).unwrap(), labels, data.select(&held).unwrap(), data.select(&unseen).unwrap())
    }

    #[test]
    fn unseen_blob_scores_high_for_both_methods() {
        let (refs, labels, held, unseen) = split();
        let labels: Vec<String> = labels.iter().map(|l| format!("class{l}")).collect();
        for method in [NoveltyMethod::KnnMeanDistance { k: 5 }, NoveltyMethod::NearestPrototype] {
            let scorer = NoveltyScorer::new(&refs, &labels, method).unwrap();
            let known = scorer.score_all(&held).unwrap();
            let new = scorer.score_all(&unseen).unwrap();
            let a = auroc(&new, &known);
            assert!(a > 0.9, "{method:?}: AUROC {a}");
            let cal = scorer.calibrate_leave_one_out(0.95).unwrap();
            let flagged_new = new.iter().filter(|&&s| cal.assess(s).new_class_candidate).count();
            let flagged_known = known.iter().filter(|&&s| cal.assess(s).new_class_candidate).count();
            assert!(flagged_new as f64 / new.len() as f64 > 0.8, "{method:?}: flagged {flagged_new}/{} unseen", new.len());
            assert!((flagged_known as f64 / known.len() as f64) < 0.15, "{method:?}: flagged {flagged_known}/{} known", known.len());
        }
    }

    #[test]
    fn percentiles_follow_the_calibration_scores() {
        let cal = NoveltyCalibration::from_scores(NoveltyMethod::default(), vec![0.4, 0.1, 0.2, 0.3, 0.5], 0.9).unwrap();
        assert_eq!(cal.known_scores, vec![0.1, 0.2, 0.3, 0.4, 0.5]);
        assert_eq!(cal.percentile(0.0), 0.0);
        assert!((cal.percentile(0.3) - 0.5).abs() < 1e-6);
        assert!((cal.percentile(0.35) - 0.625).abs() < 1e-6);
        assert_eq!(cal.percentile(0.9), 1.0);
        assert!(cal.assess(0.49).new_class_candidate && !cal.assess(0.45).new_class_candidate);
        let back = NoveltyCalibration::from_json(&cal.to_json(), "cal.json").unwrap();
        assert_eq!(back, cal);
        let many: Vec<f32> = (0..5000).map(|i| i as f32).collect();
        let big = NoveltyCalibration::from_scores(NoveltyMethod::NearestPrototype, many, 0.95).unwrap();
        assert_eq!(big.known_scores.len(), MAX_STORED_SCORES);
        assert!((big.percentile(2500.0) - 0.5).abs() < 0.01);
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert!(NoveltyCalibration::from_scores(NoveltyMethod::default(), vec![0.1], 0.9).is_err());
        assert!(NoveltyCalibration::from_scores(NoveltyMethod::default(), vec![0.1, f32::NAN], 0.9).is_err());
        assert!(NoveltyCalibration::from_scores(NoveltyMethod::default(), vec![0.1, 0.2], 1.5).is_err());
        assert!(NoveltyCalibration::from_json("{\"format\": 3}", "x.json").is_err());
        let mut unsorted = NoveltyCalibration::from_scores(NoveltyMethod::default(), vec![0.1, 0.2], 0.9).unwrap();
        unsorted.known_scores = vec![0.3, 0.1];
        assert!(NoveltyCalibration::from_json(&unsorted.to_json(), "x.json").is_err());
        let refs = Embeddings::from_rows(&[vec![1.0, 0.0], vec![0.0, 1.0]]).unwrap();
        assert!(NoveltyScorer::new(&refs, &["a"], NoveltyMethod::default()).is_err());
        assert!(NoveltyScorer::new(&refs, &["a", "b"], NoveltyMethod::KnnMeanDistance { k: 3 }).is_err());
        let s = NoveltyScorer::new(&refs, &["a", "b"], NoveltyMethod::KnnMeanDistance { k: 1 }).unwrap();
        assert!(s.score(&[f32::NAN, 1.0]).is_err());
        assert!(s.score(&[0.0, 0.0]).is_err());
        let wrong = NoveltyCalibration::from_scores(NoveltyMethod::NearestPrototype, vec![0.1, 0.2], 0.9).unwrap();
        assert!(s.assess_all(&refs, &wrong).is_err());
        // Identical references leave nothing after centring: compared uncentred instead, no error.
        let same = Embeddings::from_rows(&[vec![1.0, 2.0], vec![2.0, 4.0]]).unwrap();
        let s = NoveltyScorer::new(&same, &["a", "a"], NoveltyMethod::KnnMeanDistance { k: 1 }).unwrap();
        assert!(s.score(&[1.0, 2.0]).unwrap() < 1e-6);
        assert!(s.score(&[-2.0, 1.0]).unwrap() > 0.99);
        // Centring: a query along the mean direction of two orthogonal references is orthogonal to both.
        let s = NoveltyScorer::new(&refs, &["a", "b"], NoveltyMethod::KnnMeanDistance { k: 1 }).unwrap();
        assert_eq!(s.score(&[1.0, 1.0]).unwrap(), 1.0);
    }
}
