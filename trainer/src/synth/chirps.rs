//! Frequency sweeps: Chirp (inspiral-like, upward) and Paired_Doves (repeated up/down chirps).

use super::waveform::{tukey, Canvas};
use super::{log_uniform, phase, uniform, Design};
use chacha20::ChaCha8Rng;
use rand::RngExt;

pub fn chirp(rng: &mut ChaCha8Rng, c: &mut Canvas) -> Design {
    // Leading-order inspiral: f(τ) = f_start (τ / D)^(-3/8), τ the time left to coalescence, D the time it
    // spends above f_start. Strain amplitude grows like f^(2/3).
    // v3d: the real O1 chirps (H1_iBAFzsCgWq, H1_mUGBFQ81i0) are short and steep: visible for 0.08-0.25 s,
    // climbing from 30-60 Hz to 200-600 Hz and ending there, brightest at the end. v3c's sweeps spent up to
    // 0.8 s above f_start and drew long, nearly flat low tracks that no real Chirp shows.
    let snr = log_uniform(rng, 10.0, 35.0);
    let f_start = uniform(rng, 30.0, 60.0);
    let f_end = log_uniform(rng, 200.0, 600.0);
    let d = log_uniform(rng, 0.08, 0.3);
    let tc = uniform(rng, -0.02, 0.03);
    let tau_end = d * (f_start / f_end).powf(8.0 / 3.0);
    let freq = move |t: f64| f_start * ((tc - t).max(tau_end) / d).powf(-3.0 / 8.0);
    let p = phase(rng);
    c.track(tc - d, tc - tau_end, p, freq, |t| {
        freq(t).powf(2.0 / 3.0) * tukey(t, tc - d, tc - tau_end, 0.3 * d.min(0.1))
    });
    Design::new("inspiral", snr, f_end, d).with("f_start_hz", f_start).with("coalescence_s", tc)
}

pub fn paired_doves(rng: &mut ChaCha8Rng, c: &mut Canvas) -> Design {
    // Each dove is a hook: the frequency climbs from f_lo to f_hi and curls straight back down, the two strands
    // side by side (real O1 H1 doves: 30 -> ~100 Hz and back within ~0.1-0.2 s, the top brightest). Doves come
    // in mirrored pairs (the curl opens to the right, then to the left), repeating at a steady cadence.
    // The tracks cover few of the long low-frequency tiles, so a modest SNR already saturates the top of the hook.
    let snr_each = log_uniform(rng, 7.0, 14.0);
    let f_lo = log_uniform(rng, 22.0, 40.0);
    let f_hi = f_lo * uniform(rng, 1.8, 3.5);
    let rise = uniform(rng, 0.08, 0.2); // time to climb from f_lo to f_hi
    let fall = rise * uniform(rng, 0.3, 0.6); // the curl back down is quicker
    let period = uniform(rng, 0.6, 1.6);
    let count = rng.random_range(2..=6usize);
    let first = -(rng.random_range(0..count) as f64) * period;
    let mut mirrored = rng.random_bool(0.5);
    let ratio_ln = (f_hi / f_lo).ln();
    for k in 0..count {
        let tk = first + k as f64 * period + uniform(rng, -0.03, 0.03);
        let (up, down) = if mirrored { (fall, rise) } else { (rise, fall) };
        // Position in the hook: smooth climb to the top at tk, then the return; log-frequency follows a raised
        // cosine on each side so the strands bend round at the top instead of meeting at a point.
        let shape = move |t: f64| {
            let x = t - tk;
            let s = if x < 0.0 { (x / up).max(-1.0) } else { (x / down).min(1.0) };
            0.5 + 0.5 * (std::f64::consts::PI * s).cos()
        };
        let p = phase(rng);
        // Brightest at the top, dimmer towards f_lo on both strands.
        c.layer(uniform(rng, 0.6, 1.0), |c| {
            c.track(tk - up, tk + down, p, |t| f_lo * (ratio_ln * shape(t)).exp(), |t| {
                (0.35 + 0.65 * shape(t)) * tukey(t, tk - up, tk + down, 0.2 * (up + down))
            })
        });
        mirrored = !mirrored;
    }
    Design::new("hooks", snr_each * (count as f64).sqrt(), f_hi, rise + fall)
        .with("f_low_hz", f_lo)
        .with("f_high_hz", f_hi)
        .with("rise_s", rise)
        .with("fall_s", fall)
        .with("period_s", period)
        .with("count", count as f64)
}
