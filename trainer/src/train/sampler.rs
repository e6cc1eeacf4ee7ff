//! Which glitches an epoch trains on, in which order, and with which views.
//!
//! Everything random in an epoch comes from a generator seeded by (run seed, epoch), never from state carried
//! over from the previous epoch: an epoch replayed after a resume is the same epoch.

use chacha20::ChaCha8Rng;
use rand::seq::SliceRandom;
use rand::{Rng, RngExt, SeedableRng};

/// The generator for one purpose of one epoch. Streams separate the purposes so that, say, changing the
/// augmentation does not change the sampling order.
pub fn epoch_rng(seed: u64, epoch: usize, purpose: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed.wrapping_add(purpose.wrapping_mul(0x9E37_79B9_7F4A_7C15)));
    rng.set_stream(epoch as u64);
    rng
}

/// The order of one epoch over `classes.len()` training glitches (`classes[i]` = class of glitch `i`).
///
/// Balanced: as many draws as glitches, each picking a class uniformly among those present and then a glitch
/// of it in proportion to `weights[i]` (with replacement), so Paired_Doves is seen as often as Blip, and a
/// real glitch weighted up is drawn more often than the synthetic ones of its class. Otherwise a permutation
/// (weights ignored).
pub fn epoch_order(classes: &[usize], weights: &[f64], balanced: bool, rng: &mut impl Rng) -> Vec<usize> {
    if !balanced {
        let mut order: Vec<usize> = (0..classes.len()).collect();
        order.shuffle(rng);
        return order;
    }
    let mut members: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
    for (i, &c) in classes.iter().enumerate() {
        members.entry(c).or_default().push(i);
    }
    // Per class: members and their cumulative weights (a glitch without a weight counts 1).
    let groups: Vec<(Vec<usize>, Vec<f64>)> = members
        .into_values()
        .map(|m| {
            let mut total = 0.0;
            let cumulative = m.iter().map(|&i| { total += weights.get(i).copied().unwrap_or(1.0).max(0.0); total }).collect();
            (m, cumulative)
        })
        .collect();
    if groups.is_empty() {
        return Vec::new();
    }
    (0..classes.len())
        .map(|_| {
            let (group, cumulative) = &groups[rng.random_range(0..groups.len())];
            let total = cumulative.last().copied().unwrap_or(0.0);
            if total <= 0.0 {
                return group[rng.random_range(0..group.len())];
            }
            let x = rng.random_range(0.0..total);
            group[cumulative.partition_point(|&c| c <= x).min(group.len() - 1)]
        })
        .collect()
}

/// Drop each present view with probability `p`, keeping at least one (a missing view is normal in the data,
/// so the head must cope with any subset).
pub fn drop_views(present: &[usize], p: f64, rng: &mut impl Rng) -> Vec<usize> {
    if present.len() <= 1 || p <= 0.0 {
        return present.to_vec();
    }
    let kept: Vec<usize> = present.iter().copied().filter(|_| !rng.random_bool(p)).collect();
    if kept.is_empty() {
        vec![present[rng.random_range(0..present.len())]]
    } else {
        kept
    }
}

/// Where the kept views are shown: each in its own slot, or, with probability `p`, one of them (at random) alone
/// in the `unknown` slot. That is how an O2 Zooniverse subject reaches the model: one picture whose name gives
/// no duration, put in the unknown-duration slot whatever its time window (53 % of the real labelled glitches
/// here; a model trained only on complete four-view glitches reads a lone 0.5 s Blip there as the 1 s view of
/// Repeating_Blips). No draw is made when `p` is 0, so runs without it keep their random streams.
pub fn place_views(kept: Vec<usize>, p: f64, unknown: usize, rng: &mut impl Rng) -> Vec<(usize, usize)> {
    if p > 0.0 && !kept.is_empty() && rng.random_bool(p) {
        return vec![(kept[rng.random_range(0..kept.len())], unknown)];
    }
    kept.into_iter().map(|v| (v, v)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balanced_order_sees_rare_classes_as_often() {
        // 95 glitches of class 0, 5 of class 1.
        let classes: Vec<usize> = (0..100).map(|i| usize::from(i >= 95)).collect();
        let mut rng = epoch_rng(1, 1, 0);
        let mut rare = 0;
        for _ in 0..20 {
            rare += epoch_order(&classes, &[], true, &mut rng).iter().filter(|&&i| classes[i] == 1).count();
        }
        let share = rare as f64 / 2000.0;
        assert!((0.45..0.55).contains(&share), "rare class share {share}");
        let plain = epoch_order(&classes, &[], false, &mut rng);
        let mut sorted = plain.clone();
        sorted.sort();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>(), "unbalanced is a permutation");
    }

    #[test]
    fn weights_favour_members_within_a_class_not_the_class() {
        // Class 0: glitch 0 (weight 9) and glitch 1 (weight 1); class 1: glitch 2.
        let classes = vec![0, 0, 1];
        let weights = vec![9.0, 1.0, 1.0];
        let mut rng = epoch_rng(3, 1, 0);
        let mut counts = [0usize; 3];
        for _ in 0..3000 {
            for i in epoch_order(&classes, &weights, true, &mut rng) {
                counts[i] += 1;
            }
        }
        let total = counts.iter().sum::<usize>() as f64;
        let share = |i: usize| counts[i] as f64 / total;
        assert!((share(2) - 0.5).abs() < 0.02, "class share unchanged: {counts:?}");
        assert!((share(0) / share(1) - 9.0).abs() < 1.0, "9:1 within the class: {counts:?}");
    }

    #[test]
    fn epochs_are_reproducible_and_distinct() {
        let classes = vec![0, 0, 1, 1, 2, 2, 2, 2];
        let a = epoch_order(&classes, &[], true, &mut epoch_rng(9, 3, 0));
        let b = epoch_order(&classes, &[], true, &mut epoch_rng(9, 3, 0));
        let c = epoch_order(&classes, &[], true, &mut epoch_rng(9, 4, 0));
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn unknown_view_shows_one_view_in_the_unknown_slot() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        assert_eq!(place_views(vec![0, 2, 3], 0.0, 1, &mut rng), vec![(0, 0), (2, 2), (3, 3)]);
        let mut seen = [0usize; 4];
        for _ in 0..400 {
            let placed = place_views(vec![0, 2, 3], 1.0, 1, &mut rng);
            assert_eq!(placed.len(), 1);
            assert_eq!(placed[0].1, 1, "shown in the unknown slot");
            seen[placed[0].0] += 1;
        }
        assert!(seen[0] > 80 && seen[2] > 80 && seen[3] > 80 && seen[1] == 0, "any kept view, uniformly: {seen:?}");
        let half = (0..1000).filter(|_| place_views(vec![0, 1, 2, 3], 0.5, 1, &mut rng).len() == 1).count();
        assert!((400..600).contains(&half), "{half}");
    }

    #[test]
    fn view_dropout_keeps_at_least_one() {
        let mut rng = epoch_rng(2, 1, 1);
        let mut dropped_some = false;
        for _ in 0..200 {
            let kept = drop_views(&[0, 1, 2, 3], 0.9, &mut rng);
            assert!(!kept.is_empty() && kept.iter().all(|v| [0, 1, 2, 3].contains(v)));
            dropped_some |= kept.len() < 4;
        }
        assert!(dropped_some);
        assert_eq!(drop_views(&[2], 0.9, &mut rng), vec![2]);
        assert_eq!(drop_views(&[0, 3], 0.0, &mut rng), vec![0, 3]);
    }
}
