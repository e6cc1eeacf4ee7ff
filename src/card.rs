//! Model cards: everything needed to use a set of weights (labels, input size, preprocessing, views,
//! backbone, training, metrics, checksum of the weights file). The CLI and the browser load a model only
//! through its card, and refuse weights whose sha256 differs from the card's.

use serde::{Deserialize, Serialize};

use crate::labels::O1_CLASSES;
use crate::model::{Fusion, LiteVariant};

/// Version tag written into every card; a card of another format is refused with a clear message.
pub const CARD_FORMAT: &str = "glitchscope-model-card/1";

/// The card. Unknown fields are refused: a typo in a hand-edited card must not silently change behaviour.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ModelCard {
    /// Always [`CARD_FORMAT`].
    pub format: String,
    /// Short name, e.g. `glitchscope-lite0-o1`.
    pub name: String,
    /// Free text: what the model is for, its limits.
    #[serde(default)]
    pub description: String,
    /// Output classes in output order.
    pub labels: Vec<String>,
    /// Backbone, `lite0`, `lite1` or `lite2`.
    pub backbone: String,
    /// How the views are fused before the head: `concat` (also when absent, as in every older card) or
    /// `attention` (see `model::fusion`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fusion: Option<String>,
    /// Network input and preprocessing.
    pub input: CardInput,
    /// View durations in slot order, seconds (0.5, 1, 2, 4).
    pub views: Vec<f32>,
    /// The weights file, relative to the card.
    pub weights: WeightsSpec,
    /// How the model was made (command, data, config), free-form JSON.
    #[serde(default)]
    pub training: serde_json::Value,
    /// Measured results, free-form JSON (accuracy per data set, etc.).
    #[serde(default)]
    pub metrics: serde_json::Value,
    /// Optional reference set shipped with the model (labelled example embeddings + unfamiliar-score
    /// calibration, see `discovery::reference`). Cards without it stay valid; the page then has no unfamiliar
    /// score and no similarity search against known glitches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<ReferenceSpec>,
    /// Optional probability calibration: the logits are divided by `temperature` before the softmax,
    /// everywhere the card is used (CLI and browser). Cards without it give the plain softmax.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<Calibration>,
    /// Optional: classify by the head and the nearest labelled real glitches of the reference set together
    /// (`discovery::neighbour_vote`); needs `reference`. Cards without it give the head's probabilities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub neighbour_vote: Option<NeighbourVoteSpec>,
}

/// How the head, the reference set's nearest real glitches and the reference set's own head vote:
/// `p(c) = softmax_c(a ln p_head(c) + b s_c + g ln q(c))` with `s_c` the cosine similarity to the nearest
/// reference glitch of class c and `q` the probabilities of the head fitted on the reference embeddings
/// (`discovery::ReferenceHead`, stored with the set's unfamiliar-score calibration).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NeighbourVoteSpec {
    /// `a`: weight of the head's log-probabilities (after the card's temperature).
    pub head_weight: f32,
    /// `b`: weight of the nearest-neighbour similarities.
    pub similarity_weight: f32,
    /// `g`: weight of the reference head's log-probabilities (0, or absent in older cards: not used).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reference_head_weight: f32,
    /// (a, b, g) for glitches given as a single picture (those the calibration's single-picture temperature is
    /// for: a volunteer's subject, a figure panel), fitted apart as that temperature is. None: the weights above.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub single_picture_weights: Option<[f32; 3]>,
    /// Classes whose reference glitches do not vote (only the head speaks for them).
    #[serde(default)]
    pub excluded: Vec<String>,
    /// How and on what the weights were fitted, for people reading the card.
    #[serde(default)]
    pub method: String,
}

impl NeighbourVoteSpec {
    /// Why the rule cannot be used with a model of these labels, if it cannot.
    pub fn check(&self, labels: &[String]) -> Result<(), String> {
        let ok = |w: f32| w.is_finite() && (0.0..=1000.0).contains(&w);
        for single in [false, true] {
            let (a, b, g) = self.weights_for(single);
            if !ok(a) || !ok(b) || !ok(g) {
                return Err(format!("weights {a}, {b} and {g} must be numbers in [0, 1000]"));
            }
            if a == 0.0 && b == 0.0 && g == 0.0 {
                return Err("all weights are 0: no class would ever win".into());
            }
        }
        if let Some(unknown) = self.excluded.iter().find(|e| !labels.contains(e)) {
            return Err(format!("excluded class {unknown:?} is not one of the model's labels"));
        }
        Ok(())
    }

    /// (a, b, g) for one glitch: the single-picture weights for a single picture when the card has them.
    pub fn weights_for(&self, single_picture: bool) -> (f32, f32, f32) {
        match self.single_picture_weights {
            Some([a, b, g]) if single_picture => (a, b, g),
            _ => (self.head_weight, self.similarity_weight, self.reference_head_weight),
        }
    }

    /// Whether either set of weights gives the reference head a say.
    pub fn uses_reference_head(&self) -> bool {
        self.weights_for(false).2 > 0.0 || self.weights_for(true).2 > 0.0
    }
}

fn is_zero(v: &f32) -> bool {
    *v == 0.0
}

/// Temperature scaling (Guo et al. 2017), fitted on held-out glitches. It changes no ranking.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Calibration {
    /// Logits are divided by this before the softmax (1 = none).
    pub temperature: f32,
    /// The temperature for a glitch given as a single picture in the 1.0 s slot: a picture of unknown
    /// duration (a volunteer's subject, a figure panel) or a lone 1 s view. Fitted apart because the network is
    /// over-confident on four views and under-confident on one (the cross-validation's fitted temperatures were
    /// 1.5 and 0.8). None: `temperature` for every glitch (older cards).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub single_picture_temperature: Option<f32>,
    /// How and on what it was fitted, for people reading the card.
    #[serde(default)]
    pub method: String,
    /// Expected calibration error (percent, 15 bins) of the held-out predictions before and after.
    #[serde(default)]
    pub ece_before: Option<f64>,
    #[serde(default)]
    pub ece_after: Option<f64>,
}

impl Calibration {
    /// The temperature for one glitch: `single_picture_temperature` for a lone picture in the unknown-duration
    /// slot (`views::is_single_picture`) when there is one, else `temperature`. The one rule for the classifier
    /// and for the trainer's out-of-fold measures.
    pub fn temperature_for(&self, single_picture: bool) -> f32 {
        match self.single_picture_temperature {
            Some(t) if single_picture => t,
            _ => self.temperature,
        }
    }
}

/// The reference set file of a card (`.gsref`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ReferenceSpec {
    /// File name relative to the card.
    pub file: String,
    /// Hex sha256 of the file.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
    /// The command that produces it, for people reading the card.
    #[serde(default)]
    pub reproduce: String,
}

/// The card's "input": the network's input geometry and, for people, how pictures are preprocessed.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CardInput {
    /// Network input height in pixels (frequency axis).
    pub height: usize,
    /// Network input width in pixels (time axis).
    pub width: usize,
    /// Human-readable description of the preprocessing, for people reading the card.
    #[serde(default)]
    pub preprocessing: String,
}

/// The weights file of a card.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WeightsSpec {
    /// File name relative to the card.
    pub file: String,
    /// Hex sha256 of the file.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Storage precision, `f16` or `f32`.
    pub dtype: String,
}

/// What is wrong with a card.
#[derive(Debug, thiserror::Error)]
pub enum CardError {
    #[error("model card {path} is not valid JSON for a GlitchScope card: {message}")]
    Parse { path: String, message: String },
    #[error("model card {path}: {message}")]
    Invalid { path: String, message: String },
}

impl ModelCard {
    /// The network's input size, as the preprocessing resizes to it.
    pub fn input_spec(&self) -> crate::preprocess::InputSpec {
        crate::preprocess::InputSpec { height: self.input.height as u32, width: self.input.width as u32 }
    }

    /// Parse and validate a card; `path` is only used in error messages.
    pub fn from_json(path: &str, json: &str) -> Result<Self, CardError> {
        let card: ModelCard =
            serde_json::from_str(json).map_err(|e| CardError::Parse { path: path.into(), message: e.to_string() })?;
        card.validate(path)?;
        Ok(card)
    }

    /// Check the fields that the code relies on.
    pub fn validate(&self, path: &str) -> Result<(), CardError> {
        let invalid = |message: String| Err(CardError::Invalid { path: path.into(), message });
        if self.format != CARD_FORMAT {
            return invalid(format!("format is {:?}, this version reads {:?}", self.format, CARD_FORMAT));
        }
        if self.labels.is_empty() {
            return invalid("it lists no labels".into());
        }
        let mut unique = self.labels.clone();
        unique.sort();
        unique.dedup();
        if unique.len() != self.labels.len() {
            return invalid("its labels contain duplicates".into());
        }
        if self.backbone().is_none() {
            return invalid(format!("unknown backbone {:?} (expected lite0, lite1 or lite2)", self.backbone));
        }
        if self.fusion().is_none() {
            return invalid(format!("unknown fusion {:?} (expected concat or attention)", self.fusion.as_deref().unwrap_or_default()));
        }
        if !(32..=1024).contains(&self.input.height) || !(32..=1024).contains(&self.input.width) {
            return invalid(format!("input size {}x{} is outside 32..1024", self.input.height, self.input.width));
        }
        if self.views.is_empty() || self.views.len() > crate::views::VIEW_COUNT {
            return invalid(format!("it lists {} views, expected 1 to 4", self.views.len()));
        }
        // Found by fuzzing: a duration too large for f32 (1e40) parses as infinity, and such a card could not be
        // written back (JSON has no infinity).
        if let Some(v) = self.views.iter().find(|v| !(v.is_finite() && **v > 0.0)) {
            return invalid(format!("view duration {v} is not a positive number of seconds"));
        }
        if self.weights.sha256.len() != 64 || !self.weights.sha256.chars().all(|c| c.is_ascii_hexdigit()) {
            return invalid("weights.sha256 is not a 64-digit hex sha256".into());
        }
        if !matches!(self.weights.dtype.as_str(), "f16" | "f32") {
            return invalid(format!("weights.dtype {:?} is not f16 or f32", self.weights.dtype));
        }
        if self.weights.file.contains("..") || self.weights.file.starts_with('/') || self.weights.file.contains("://") {
            return invalid(format!("weights.file {:?} must be a plain file name next to the card", self.weights.file));
        }
        if let Some(c) = &self.calibration {
            for (name, t) in [("temperature", Some(c.temperature)), ("single_picture_temperature", c.single_picture_temperature)] {
                if let Some(t) = t.filter(|t| !(t.is_finite() && (0.01..=100.0).contains(t))) {
                    return invalid(format!("calibration.{name} {t} is not a number in [0.01, 100]"));
                }
            }
        }
        if let Some(vote) = &self.neighbour_vote {
            if self.reference.is_none() {
                return invalid("neighbour_vote needs the reference set the card names in \"reference\"; it names none".into());
            }
            if let Err(message) = vote.check(&self.labels) {
                return invalid(format!("neighbour_vote: {message}"));
            }
        }
        if let Some(r) = &self.reference {
            if r.file.is_empty() || r.file.contains("..") || r.file.starts_with('/') || r.file.contains("://") {
                return invalid(format!("reference.file {:?} must be a plain file name next to the card", r.file));
            }
            if r.sha256.len() != 64 || !r.sha256.chars().all(|c| c.is_ascii_hexdigit()) {
                return invalid("reference.sha256 is not a 64-digit hex sha256".into());
            }
        }
        Ok(())
    }

    /// The backbone as a typed value.
    pub fn backbone(&self) -> Option<LiteVariant> {
        LiteVariant::from_name(&self.backbone)
    }

    /// The view fusion (`concat` when the card does not say; `None` for an unknown name).
    pub fn fusion(&self) -> Option<Fusion> {
        Fusion::from_name(self.fusion.as_deref().unwrap_or("concat"))
    }

    /// Whether the labels are the 22 Gravity Spy O1 classes in the canonical order.
    pub fn has_o1_labels(&self) -> bool {
        self.labels.iter().map(String::as_str).eq(O1_CLASSES.iter().copied())
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a card always serialises")
    }
}

#[cfg(test)]
mod tests {
    // In the browser (wasm-pack test), each #[test] below runs as a wasm_bindgen_test.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;
    use super::*;

    fn card() -> ModelCard {
        ModelCard {
            format: CARD_FORMAT.into(),
            name: "test".into(),
            description: String::new(),
            labels: O1_CLASSES.iter().map(|s| s.to_string()).collect(),
            backbone: "lite0".into(),
            fusion: None,
            input: CardInput { height: 176, width: 208, preprocessing: String::new() },
            views: vec![0.5, 1.0, 2.0, 4.0],
            weights: WeightsSpec { file: "w.bpk".into(), sha256: "a".repeat(64), bytes: 1, dtype: "f16".into() },
            training: serde_json::Value::Null,
            metrics: serde_json::Value::Null,
            reference: None,
            calibration: None,
            neighbour_vote: None,
        }
    }

    #[test]
    fn calibration_round_trips_and_bad_temperatures_are_refused() {
        let mut c = card();
        c.calibration = Some(Calibration { temperature: 1.7, single_picture_temperature: None, method: "test".into(), ece_before: Some(9.0), ece_after: None });
        assert_eq!(ModelCard::from_json("c.json", &c.to_json()).unwrap(), c);
        for t in [0.0, -1.0, f32::NAN, 1e9] {
            c.calibration.as_mut().unwrap().temperature = t;
            let e = c.validate("c.json").unwrap_err().to_string();
            assert!(e.contains("c.json") && e.contains("temperature"), "{e}");
        }
        // The single-picture temperature: kept through JSON, checked the same way.
        c.calibration.as_mut().unwrap().temperature = 1.5;
        c.calibration.as_mut().unwrap().single_picture_temperature = Some(0.8);
        assert_eq!(ModelCard::from_json("c.json", &c.to_json()).unwrap(), c);
        let cal = c.calibration.clone().unwrap();
        assert_eq!((cal.temperature_for(true), cal.temperature_for(false)), (0.8, 1.5));
        let older = Calibration { single_picture_temperature: None, ..cal };
        assert_eq!(older.temperature_for(true), 1.5, "a card without it uses one temperature for all");
        for t in [0.0, f32::INFINITY] {
            c.calibration.as_mut().unwrap().single_picture_temperature = Some(t);
            let e = c.validate("c.json").unwrap_err().to_string();
            assert!(e.contains("single_picture_temperature"), "{e}");
        }
    }

    #[test]
    fn round_trips_and_validates() {
        let c = card();
        let back = ModelCard::from_json("c.json", &c.to_json()).unwrap();
        assert_eq!(back, c);
        assert!(back.has_o1_labels());
    }

    #[test]
    fn refuses_unknown_fields_missing_labels_and_bad_paths() {
        let mut v: serde_json::Value = serde_json::from_str(&card().to_json()).unwrap();
        v["surprise"] = 1.into();
        let e = ModelCard::from_json("c.json", &v.to_string()).unwrap_err().to_string();
        assert!(e.contains("unknown field") && e.contains("c.json"), "{e}");

        let mut v: serde_json::Value = serde_json::from_str(&card().to_json()).unwrap();
        v.as_object_mut().unwrap().remove("labels");
        assert!(ModelCard::from_json("c.json", &v.to_string()).unwrap_err().to_string().contains("labels"));

        let mut c = card();
        c.labels.clear();
        assert!(ModelCard::from_json("c.json", &c.to_json()).unwrap_err().to_string().contains("no labels"));

        let mut c = card();
        c.weights.file = "../../etc/passwd".into();
        assert!(ModelCard::from_json("c.json", &c.to_json()).is_err());

        let mut c = card();
        c.weights.sha256 = "xyz".into();
        assert!(ModelCard::from_json("c.json", &c.to_json()).is_err());
    }

    #[test]
    fn refuses_view_durations_that_are_not_positive_finite_seconds() {
        // The fuzzer's case (fuzz/fuzz_targets/card.rs): 7.7e45 overflows f32 to infinity, which to_json cannot write.
        let json = card().to_json().replacen("1.0", "7777777777777777777777777777777777777777777771.0", 1);
        let e = ModelCard::from_json("c.json", &json).unwrap_err().to_string();
        assert!(e.contains("view duration inf"), "{e}");
        for bad in ["-1.0", "0.0"] {
            let json = card().to_json().replacen("0.5", bad, 1);
            assert!(ModelCard::from_json("c.json", &json).unwrap_err().to_string().contains("view duration"), "{bad}");
        }
    }

    #[test]
    fn fusion_defaults_to_concat_and_unknown_names_are_refused() {
        let plain = card();
        assert!(!plain.to_json().contains("fusion"), "older readers must still read a concat card");
        assert_eq!(plain.fusion(), Some(Fusion::Concat));
        let mut c = card();
        c.fusion = Some("attention".into());
        assert_eq!(ModelCard::from_json("c.json", &c.to_json()).unwrap().fusion(), Some(Fusion::Attention));
        c.fusion = Some("mean".into());
        let e = ModelCard::from_json("c.json", &c.to_json()).unwrap_err().to_string();
        assert!(e.contains("c.json") && e.contains("unknown fusion \"mean\""), "{e}");
    }

    #[test]
    fn reference_set_is_optional_and_checked() {
        let plain = card().to_json();
        assert!(!plain.contains("reference"), "no field written when there is no reference set");
        let mut c = card();
        c.reference = Some(ReferenceSpec { file: "default.gsref".into(), sha256: "b".repeat(64), bytes: 10, reproduce: String::new() });
        assert_eq!(ModelCard::from_json("c.json", &c.to_json()).unwrap(), c);
        let mut bad = c.clone();
        bad.reference.as_mut().unwrap().file = "../x.gsref".into();
        assert!(ModelCard::from_json("c.json", &bad.to_json()).unwrap_err().to_string().contains("reference.file"));
        let mut bad = c.clone();
        bad.reference.as_mut().unwrap().sha256 = "12".into();
        assert!(ModelCard::from_json("c.json", &bad.to_json()).unwrap_err().to_string().contains("reference.sha256"));
    }

    #[test]
    fn neighbour_vote_needs_a_reference_set_and_sane_weights() {
        let vote = NeighbourVoteSpec {
            head_weight: 0.2,
            similarity_weight: 23.0,
            reference_head_weight: 0.5,
            single_picture_weights: Some([0.4, 0.0, 0.6]),
            excluded: vec!["None_of_the_Above".into()],
            method: String::new(),
        };
        let mut c = card();
        c.neighbour_vote = Some(vote.clone());
        let err = ModelCard::from_json("c.json", &c.to_json()).unwrap_err().to_string();
        assert!(err.contains("c.json") && err.contains("reference"), "{err}");
        c.reference = Some(ReferenceSpec { file: "default.gsref".into(), sha256: "b".repeat(64), bytes: 10, reproduce: String::new() });
        assert_eq!(ModelCard::from_json("c.json", &c.to_json()).unwrap(), c);
        for (a, b, excluded, expected) in [
            (f32::INFINITY, 1.0, "None_of_the_Above", "weights"),
            (-1.0, 1.0, "None_of_the_Above", "weights"),
            (0.0, 0.0, "None_of_the_Above", "all weights are 0"),
            (0.2, 23.0, "Unicorn", "Unicorn"),
        ] {
            let mut bad = c.clone();
            let g = if a == 0.0 && b == 0.0 { 0.0 } else { vote.reference_head_weight };
            bad.neighbour_vote = Some(NeighbourVoteSpec { head_weight: a, similarity_weight: b, reference_head_weight: g, excluded: vec![excluded.into()], ..vote.clone() });
            // Infinity does not survive JSON: validate the struct itself.
            let err = bad.validate("c.json").unwrap_err().to_string();
            assert!(err.contains("neighbour_vote") && err.contains(expected), "{err}");
        }
        let mut bad = c.clone();
        bad.neighbour_vote = Some(NeighbourVoteSpec { reference_head_weight: -0.5, ..vote.clone() });
        assert!(bad.validate("c.json").unwrap_err().to_string().contains("weights"));
        bad.neighbour_vote = Some(NeighbourVoteSpec { single_picture_weights: Some([0.0, 0.0, 0.0]), ..vote.clone() });
        assert!(bad.validate("c.json").unwrap_err().to_string().contains("all weights are 0"));
        assert_eq!((vote.weights_for(true), vote.weights_for(false)), ((0.4, 0.0, 0.6), (0.2, 23.0, 0.5)));
        // Older cards have no reference head weight: it reads as 0 (not used), and 0 is not written.
        let mut old = c.clone();
        old.neighbour_vote = Some(NeighbourVoteSpec { reference_head_weight: 0.0, single_picture_weights: None, ..vote.clone() });
        assert!(!old.to_json().contains("reference_head_weight") && !old.to_json().contains("single_picture_weights"));
        assert_eq!(ModelCard::from_json("c.json", &old.to_json()).unwrap(), old);
    }
}
