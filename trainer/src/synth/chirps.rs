//! Frequency sweeps: Chirp (inspiral-like, upward) and Paired_Doves (repeated up/down chirps).

use super::waveform::{gauss, tukey, Canvas};
use super::{log_uniform, phase, uniform, Design};
use chacha20::ChaCha8Rng;
use rand::RngExt;

pub fn chirp(rng: &mut ChaCha8Rng, c: &mut Canvas) -> Design {
    // Leading-order inspiral: f(τ) = f_start (τ / D)^(-3/8), τ the time left to coalescence, D the time it
    // spends above f_start. Strain amplitude grows like f^(2/3).
    let snr = log_uniform(rng, 10.0, 35.0);
    let f_start = uniform(rng, 30.0, 50.0);
    let f_end = log_uniform(rng, 150.0, 500.0);
    let d = log_uniform(rng, 0.1, 0.8);
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
    // S-shaped sweeps between f_lo and f_hi, alternately rising and falling, at a steady cadence.
    let snr_each = log_uniform(rng, 10.0, 30.0);
    let f_lo = log_uniform(rng, 30.0, 50.0);
    let f_hi = f_lo * uniform(rng, 2.5, 5.0);
    let width = uniform(rng, 0.02, 0.06);
    let period = uniform(rng, 0.6, 1.6);
    let count = rng.random_range(3..=6usize);
    let first = -(rng.random_range(0..count) as f64) * period;
    let mut up = rng.random_bool(0.5);
    for k in 0..count {
        let tk = first + k as f64 * period + uniform(rng, -0.03, 0.03);
        let dir = if up { 1.0 } else { -1.0 };
        let mid = (f_lo * f_hi).sqrt();
        let half = 0.5 * (f_hi.ln() - f_lo.ln());
        let p = phase(rng);
        c.layer(uniform(rng, 0.6, 1.0), |c| {
            c.track(tk - 4.0 * width, tk + 4.0 * width, p, |t| mid * (dir * half * ((t - tk) / width).tanh()).exp(), |t| {
                gauss(t, tk, 1.2 * width)
            })
        });
        up = !up;
    }
    Design::new("alternating_sweeps", snr_each * (count as f64).sqrt(), (f_lo * f_hi).sqrt(), 8.0 * width)
        .with("f_low_hz", f_lo)
        .with("f_high_hz", f_hi)
        .with("period_s", period)
        .with("count", count as f64)
}
