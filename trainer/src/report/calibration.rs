//! Are the probabilities honest? Expected calibration error (ECE) and its reliability bins, and temperature
//! scaling (Guo et al. 2017): one scalar `T` that divides the logits before the softmax, fitted by minimising
//! the negative log-likelihood on held-out glitches. `T` changes no ranking, so top-k accuracy is unchanged.

use serde::Serialize;

/// Equal-width confidence bins of the reliability diagram.
pub const BINS: usize = 15;

/// Softmax of `logits / temperature`: the classifier's own (`glitchscope::inference`).
pub use glitchscope::inference::softmax_with_temperature as softmax_t;

/// Mean negative log-likelihood of the true classes at temperature `t`.
pub fn nll(logits: &[Vec<f32>], targets: &[usize], t: f64) -> f64 {
    if logits.is_empty() {
        return 0.0;
    }
    let total: f64 = logits
        .iter()
        .zip(targets)
        .map(|(l, &y)| {
            let max = l.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
            let lse = l.iter().map(|&x| ((f64::from(x) - f64::from(max)) / t).exp()).sum::<f64>().ln();
            lse - (f64::from(l[y]) - f64::from(max)) / t
        })
        .sum();
    total / logits.len() as f64
}

/// The temperature in [0.05, 20] that minimises the NLL (golden-section search on log T; the NLL is
/// unimodal in T for fixed logits). 1.0 when there is nothing to fit on.
pub fn fit_temperature(logits: &[Vec<f32>], targets: &[usize]) -> f64 {
    if logits.is_empty() {
        return 1.0;
    }
    let f = |u: f64| nll(logits, targets, u.exp());
    let (mut a, mut b) = (0.05f64.ln(), 20f64.ln());
    let g = (5f64.sqrt() - 1.0) / 2.0;
    let mut c = b - g * (b - a);
    let mut d = a + g * (b - a);
    let (mut fc, mut fd) = (f(c), f(d));
    for _ in 0..80 {
        if fc < fd {
            b = d;
            d = c;
            fd = fc;
            c = b - g * (b - a);
            fc = f(c);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + g * (b - a);
            fd = f(d);
        }
    }
    ((a + b) / 2.0).exp()
}

/// One bin of the reliability diagram.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Bin {
    /// Lower and upper edge of the confidence bin.
    pub lower: f64,
    pub upper: f64,
    pub count: usize,
    /// Mean top-1 probability of the glitches in the bin.
    pub confidence: f64,
    /// Share of them whose top-1 class is right.
    pub accuracy: f64,
}

/// Reliability of a set of predictions.
#[derive(Clone, Debug, Serialize)]
pub struct Reliability {
    /// Expected calibration error, percent: sum over bins of |accuracy - confidence| weighted by the bin's
    /// share of the glitches.
    pub ece: f64,
    /// Largest |accuracy - confidence| of a non-empty bin, percent.
    pub mce: f64,
    pub bins: Vec<Bin>,
}

/// ECE and bins from (top-1 probability, top-1 right) pairs.
pub fn reliability(predictions: &[(f32, bool)]) -> Reliability {
    let mut count = [0usize; BINS];
    let mut conf = [0f64; BINS];
    let mut right = [0usize; BINS];
    for &(p, ok) in predictions {
        let b = ((f64::from(p) * BINS as f64) as usize).min(BINS - 1);
        count[b] += 1;
        conf[b] += f64::from(p);
        right[b] += usize::from(ok);
    }
    let n = predictions.len().max(1) as f64;
    let mut ece = 0.0;
    let mut mce = 0.0f64;
    let bins = (0..BINS)
        .map(|b| {
            let (confidence, accuracy) = if count[b] > 0 {
                (conf[b] / count[b] as f64, right[b] as f64 / count[b] as f64)
            } else {
                (0.0, 0.0)
            };
            if count[b] > 0 {
                let gap = (accuracy - confidence).abs();
                ece += count[b] as f64 / n * gap;
                mce = mce.max(gap);
            }
            Bin { lower: b as f64 / BINS as f64, upper: (b + 1) as f64 / BINS as f64, count: count[b], confidence, accuracy }
        })
        .collect();
    Reliability { ece: 100.0 * ece, mce: 100.0 * mce, bins }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfectly_calibrated_bins_have_no_error_and_overconfidence_has() {
        // 10 predictions at 0.8, 8 right: calibrated.
        let mut p: Vec<(f32, bool)> = (0..10).map(|i| (0.8, i < 8)).collect();
        assert!(reliability(&p).ece < 1e-5, "f32 confidences: only rounding");
        // 10 at 0.99 with 5 right: 49 points off, over half of the glitches.
        p.extend((0..10).map(|i| (0.99, i < 5)));
        let r = reliability(&p);
        assert!((r.ece - 24.5).abs() < 1e-4, "{}", r.ece);
        assert!((r.mce - 49.0).abs() < 1e-4);
        assert_eq!(r.bins.iter().map(|b| b.count).sum::<usize>(), 20);
    }

    #[test]
    fn temperature_cools_overconfident_logits() {
        // Logits that are too sharp: true class wins only 70 % of the time, at probability ~1.
        let mut logits = Vec::new();
        let mut targets = Vec::new();
        for i in 0..100 {
            logits.push(vec![10.0, 0.0, 0.0]);
            targets.push(if i % 10 < 7 { 0 } else { 1 });
        }
        let t = fit_temperature(&logits, &targets);
        assert!(t > 2.0, "overconfidence needs T > 1, got {t}");
        let p = softmax_t(&logits[0], t);
        assert!((f64::from(p[0]) - 0.7).abs() < 0.02, "calibrated top probability {p:?}");
        assert!(nll(&logits, &targets, t) < nll(&logits, &targets, 1.0));
        assert_eq!(fit_temperature(&[], &[]), 1.0);
    }

    #[test]
    fn softmax_at_one_is_the_softmax() {
        let p = softmax_t(&[1.0, 2.0, 3.0], 1.0);
        let e = [1f64.exp(), 2f64.exp(), 3f64.exp()];
        let s: f64 = e.iter().sum();
        for i in 0..3 {
            assert!((f64::from(p[i]) - e[i] / s).abs() < 1e-6);
        }
    }
}
