//! The reference set shipped with the default model (models/default.gsref, made by scripts/make-reference-set.sh):
//! the card names it with the right checksum, it belongs to the card's model, it is small enough to download with
//! the page, its calibration is usable, and every class of the model is represented. Catches a retrained model
//! whose reference set was not remade.
#![cfg(not(target_arch = "wasm32"))]

use std::path::Path;

use glitchscope::card::ModelCard;
use glitchscope::discovery::ReferenceSet;
use glitchscope::model::weights::sha256_hex;

#[test]
fn default_model_ships_a_matching_calibrated_reference_set() {
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let card_text = std::fs::read_to_string(models.join("default.json")).expect("models/default.json");
    let card = ModelCard::from_json("models/default.json", &card_text).unwrap();
    let spec = card.reference.as_ref().expect("models/default.json has no \"reference\": run scripts/make-reference-set.sh");
    let bytes = std::fs::read(models.join(&spec.file)).expect("the reference set named by the card");
    assert_eq!(bytes.len() as u64, spec.bytes);
    assert_eq!(sha256_hex(&bytes), spec.sha256, "reference set changed without updating the card (rerun scripts/make-reference-set.sh)");
    assert!(bytes.len() < 2_500_000, "{} bytes is too much to download with the page", bytes.len());

    let set = ReferenceSet::from_bytes(&bytes, &spec.file).unwrap();
    assert_eq!(set.model.as_deref(), Some(card.name.as_str()), "embeddings of another model");
    assert_eq!(set.dim(), 1280, "lite0 embeddings");
    let calibration = set.calibration.as_ref().expect("no unfamiliar-score calibration");
    assert!(calibration.n_calibration == set.len() && calibration.flag_percentile > 0.5 && calibration.flag_percentile < 1.0);
    // The shipped score is the combined one (distance + the reference head's doubt), its head over every class.
    let doubt = calibration.doubt.as_ref().expect("a distance-only calibration: rerun scripts/make-reference-set.sh");
    assert_eq!(doubt.head.classes, set.classes(), "reference head classes");
    assert_eq!(doubt.head.dim, set.dim());
    for label in &set.labels {
        assert!(card.labels.contains(label), "reference label {label:?} is not a class of the model");
    }
    let classes = set.classes();
    assert_eq!(classes.len(), card.labels.len(), "classes without reference glitches: {:?}", card.labels.iter().filter(|l| !classes.contains(l)).collect::<Vec<_>>());

    // Each glitch's nearest other reference glitch is mostly of its own class (the embedding space means something).
    let same = (0..set.len())
        .filter(|&i| {
            let found = set.nearest(set.embeddings().row(i), 2).unwrap();
            found.iter().find(|m| m.index != i).is_some_and(|m| m.label == set.labels[i])
        })
        .count();
    assert!(same as f64 / set.len() as f64 > 0.6, "only {same} of {} reference glitches have a same-class nearest neighbour", set.len());
}
