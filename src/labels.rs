//! The 22 Gravity Spy O1 classes, in the exact Gravity Spy spelling.
//!
//! This order is the order of the classifier's outputs. It is fixed here and nowhere else: model cards carry
//! the list they were trained with, and loading a card checks it against this one.

/// Gravity Spy O1 class names, index = output index of the classification head.
pub const O1_CLASSES: [&str; 22] = [
    "1080Lines",
    "1400Ripples",
    "Air_Compressor",
    "Blip",
    "Chirp",
    "Extremely_Loud",
    "Helix",
    "Koi_Fish",
    "Light_Modulation",
    "Low_Frequency_Burst",
    "Low_Frequency_Lines",
    "No_Glitch",
    "None_of_the_Above",
    "Paired_Doves",
    "Power_Line",
    "Repeating_Blips",
    "Scattered_Light",
    "Scratchy",
    "Tomte",
    "Violin_Mode",
    "Wandering_Line",
    "Whistle",
];

/// Number of O1 classes.
pub const NUM_O1_CLASSES: usize = O1_CLASSES.len();

/// Index of a class name in [`O1_CLASSES`], or `None` for a class the O1 set does not have
/// (for example O3's `Fast_Scattering`).
pub fn class_index(name: &str) -> Option<usize> {
    O1_CLASSES.iter().position(|c| *c == name)
}

#[cfg(test)]
mod tests {
    // In the browser (wasm-pack test), each #[test] below runs as a wasm_bindgen_test.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;
    use super::*;

    #[test]
    fn classes_are_unique_and_sorted_like_gravity_spy() {
        let mut sorted = O1_CLASSES.to_vec();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), NUM_O1_CLASSES);
        assert_eq!(class_index("Blip"), Some(3));
        assert_eq!(class_index("Fast_Scattering"), None);
    }
}
