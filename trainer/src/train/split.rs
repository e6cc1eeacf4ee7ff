//! The stratified split by glitch: every class is cut separately (so rare classes are in both parts), and all
//! views of one glitch, wherever they sit, go to the same part. The split depends only on the glitch keys,
//! their classes and the seed, so a resumed run and `eval --split` see the same parts.

use std::collections::BTreeMap;

use rand::SeedableRng;
use chacha20::ChaCha8Rng;
use rand::seq::SliceRandom;

/// Which part of the data a glitch belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Part {
    Train,
    Valid,
    Test,
    /// A training glitch left out by `per_class_limit`.
    Unused,
}

impl Part {
    pub fn name(self) -> &'static str {
        match self {
            Part::Train => "train",
            Part::Valid => "valid",
            Part::Test => "test",
            Part::Unused => "unused",
        }
    }

    pub fn parse(text: &str) -> Option<Part> {
        [Part::Train, Part::Valid, Part::Test, Part::Unused].into_iter().find(|p| p.name() == text)
    }
}

/// How many of `n` glitches go to validation and test: rounded fractions, but at least one validation glitch
/// when the class has two, and at least one training glitch always.
fn counts(n: usize, valid: f64, test: f64) -> (usize, usize) {
    let mut n_valid = (n as f64 * valid).round() as usize;
    let mut n_test = (n as f64 * test).round() as usize;
    if valid > 0.0 && n_valid == 0 && n >= 2 {
        n_valid = 1;
    }
    if test > 0.0 && n_test == 0 && n >= 3 {
        n_test = 1;
    }
    while n_valid + n_test >= n && n_test > 0 {
        n_test -= 1;
    }
    while n_valid + n_test >= n && n_valid > 0 {
        n_valid -= 1;
    }
    (n_valid, n_test)
}

/// Assign a part to every item `(split key, class)`. A key seen under several classes follows the first.
pub fn stratified_split(items: &[(&str, &str)], valid: f64, test: f64, seed: u64) -> Vec<Part> {
    let mut class_of_key: BTreeMap<&str, &str> = BTreeMap::new();
    for &(key, class) in items {
        class_of_key.entry(key).or_insert(class);
    }
    let mut keys_of_class: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (&key, &class) in &class_of_key {
        keys_of_class.entry(class).or_default().push(key);
    }
    let mut part_of_key: BTreeMap<&str, Part> = BTreeMap::new();
    for (i, (_, keys)) in keys_of_class.iter_mut().enumerate() {
        // One stream per class (in sorted class order), so adding a class does not reshuffle the others.
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(i as u64);
        keys.shuffle(&mut rng);
        let (n_valid, n_test) = counts(keys.len(), valid, test);
        for (j, key) in keys.iter().enumerate() {
            let part = if j < n_valid {
                Part::Valid
            } else if j < n_valid + n_test {
                Part::Test
            } else {
                Part::Train
            };
            part_of_key.insert(key, part);
        }
    }
    items.iter().map(|(key, _)| part_of_key[key]).collect()
}

/// Keep at most `limit` training items per class (chosen by the seed); the rest become [`Part::Unused`].
pub fn limit_per_class(parts: &mut [Part], classes: &[&str], limit: usize, seed: u64) {
    let mut by_class: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, (&part, &class)) in parts.iter().zip(classes).enumerate() {
        if part == Part::Train {
            by_class.entry(class).or_default().push(i);
        }
    }
    for (c, (_, mut members)) in by_class.into_iter().enumerate() {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_11a1);
        rng.set_stream(c as u64);
        members.shuffle(&mut rng);
        for &i in members.iter().skip(limit) {
            parts[i] = Part::Unused;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_keep_both_sides_populated() {
        assert_eq!(counts(10, 0.2, 0.0), (2, 0));
        assert_eq!(counts(2, 0.2, 0.0), (1, 0));
        assert_eq!(counts(1, 0.2, 0.0), (0, 0));
        assert_eq!(counts(3, 0.2, 0.2), (1, 1));
        assert_eq!(counts(2, 0.2, 0.2), (1, 0));
        assert_eq!(counts(100, 0.2, 0.1), (20, 10));
    }

    #[test]
    fn split_is_stratified_deterministic_and_keeps_glitches_whole() {
        let mut items: Vec<(String, String)> = Vec::new();
        for class in ["Blip", "Whistle", "Paired_Doves"] {
            let n = if class == "Paired_Doves" { 3 } else { 20 };
            for g in 0..n {
                // Two views of each glitch, listed separately, as a folder scan might give them.
                items.push((format!("{class}_{g}"), class.into()));
                items.push((format!("{class}_{g}"), class.into()));
            }
        }
        let refs: Vec<(&str, &str)> = items.iter().map(|(k, c)| (k.as_str(), c.as_str())).collect();
        let parts = stratified_split(&refs, 0.2, 0.0, 7);
        assert_eq!(parts, stratified_split(&refs, 0.2, 0.0, 7), "same seed, same split");
        assert_ne!(parts, stratified_split(&refs, 0.2, 0.0, 8), "another seed, another split");
        for pair in parts.chunks(2) {
            assert_eq!(pair[0], pair[1], "the views of one glitch stay together");
        }
        let valid_of = |class: &str| {
            refs.iter().zip(&parts).filter(|((_, c), p)| *c == class && **p == Part::Valid).count() / 2
        };
        assert_eq!((valid_of("Blip"), valid_of("Whistle"), valid_of("Paired_Doves")), (4, 4, 1));
    }

    #[test]
    fn a_key_under_two_classes_is_on_one_side() {
        let refs = vec![("k", "A"), ("k", "B"), ("x", "A"), ("y", "B"), ("z", "B")];
        let parts = stratified_split(&refs, 0.5, 0.0, 1);
        assert_eq!(parts[0], parts[1]);
    }

    #[test]
    fn per_class_limit_leaves_validation_alone() {
        let classes = vec!["A"; 10];
        let mut parts = vec![Part::Train; 8];
        parts.extend([Part::Valid, Part::Valid]);
        limit_per_class(&mut parts, &classes, 3, 5);
        assert_eq!(parts.iter().filter(|&&p| p == Part::Train).count(), 3);
        assert_eq!(parts.iter().filter(|&&p| p == Part::Unused).count(), 5);
        assert_eq!(&parts[8..], &[Part::Valid, Part::Valid]);
    }
}
