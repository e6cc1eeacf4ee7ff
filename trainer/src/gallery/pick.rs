//! Which glitch stands for a class in the gallery.
//!
//! A glitch with all four views, each named with its duration, shows most; so glitches are ranked by the
//! number of views whose duration the file name states, then by the number of views at all (a file whose
//! name does not state its duration, such as the O2 volunteer JPEGs, sits in the 1 s slot by the library's
//! convention, [`glitchscope::views::UNKNOWN_DURATION_SLOT`], and ranks below named ones). The seed only
//! breaks ties, so another seed shows another glitch of equal quality.

use std::collections::BTreeSet;

use chacha20::ChaCha8Rng;
use glitchscope::views;
use rand::SeedableRng;
use rand::seq::SliceRandom;

use crate::train::dataset::GlitchFiles;

/// How much of a glitch the gallery could show: (views with a stated duration, views in all).
fn coverage(glitch: &GlitchFiles) -> (usize, usize) {
    let named: BTreeSet<usize> = glitch
        .files
        .iter()
        .filter(|(_, path)| views::parse_view_name(&path.to_string_lossy()).is_some())
        .map(|(slot, _)| *slot)
        .collect();
    let all: BTreeSet<usize> = glitch.files.iter().map(|(slot, _)| *slot).collect();
    (named.len(), all.len())
}

/// The glitches of one class in the order they are tried: best coverage first, ties in a seeded order.
/// `stream` separates the draws of different classes and sides, so they do not all take the same index.
pub fn ranked<'a>(glitches: &[&'a GlitchFiles], seed: u64, stream: u64) -> Vec<&'a GlitchFiles> {
    let mut order = glitches.to_vec();
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    order.shuffle(&mut rng);
    // A stable sort keeps the shuffled order among glitches of equal coverage.
    order.sort_by_key(|g| std::cmp::Reverse(coverage(g)));
    order
}
