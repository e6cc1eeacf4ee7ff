//! Model-card text -> parse + validate, as `?model=` in the page and `--model` in the CLI do.
#![no_main]

use glitchscope::card::ModelCard;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let Ok(json) = std::str::from_utf8(bytes) else { return };
    if let Ok(card) = ModelCard::from_json("fuzz.json", json) {
        // A card that validates must survive the calls made on a loaded card, and round-trip.
        assert!(card.backbone().is_some());
        let _ = card.has_o1_labels();
        let again = ModelCard::from_json("fuzz.json", &card.to_json()).expect("a valid card re-reads");
        assert_eq!(again.labels, card.labels);
    }
});
