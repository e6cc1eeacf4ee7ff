//! Glitches from electronics and light: Whistle (radio-frequency beat notes), Light_Modulation and Scratchy.
//!
//! A whistle is the beat between a drifting RF oscillator and a fixed one: its frequency is |f_a(t) - f_b|,
//! which draws a V where the two cross, an arch (∩) when the drift turns round, or a W when the beat also
//! reflects off a digitiser alias frequency.

use super::waveform::{gauss, tukey, Canvas};
use super::{log_uniform, phase, tone_snr, uniform, Design};
use chacha20::ChaCha8Rng;
use rand::RngExt;

/// Reflects f into [0, ceiling] like a triangle wave (beat notes fold at 0 Hz and at an alias frequency).
fn fold(f: f64, ceiling: f64) -> f64 {
    let period = 2.0 * ceiling;
    let x = f.rem_euclid(period);
    if x > ceiling { period - x } else { x }
}

pub fn whistle(rng: &mut ChaCha8Rng, c: &mut Canvas) -> Design {
    // Real O1 whistles are thin lines, mostly green (normalised energy 10-20) and yellow only where the sweep
    // slows down at the bottom of the V; many are fast: the whole V crosses the plot in 0.1-0.5 s, some so fast
    // that it is a narrow spike at high frequency. A per-tile SNR of 4-9 painted every whistle solid yellow and
    // thick, and long slow ones dominated.
    let shape = ["v", "v", "arch", "w", "diagonal"][rng.random_range(0..5usize)];
    let t_mid = uniform(rng, -0.05, 0.05);
    let dur = log_uniform(rng, 0.08, 1.5);
    let f_min = log_uniform(rng, 150.0, 700.0);
    let f_max = log_uniform(rng, 1000.0, 2400.0);
    let ceiling = uniform(rng, 1500.0, 2600.0);
    let slope = (f_max - f_min) / (0.5 * dur);
    let sign = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
    let notch = uniform(rng, 0.2, 0.4) * dur;
    // Floor 8: the shortest sweeps cover few tiles, and Gravity Spy's whistles average SNR 9.5.
    let snr = tone_snr(log_uniform(rng, 3.5, 6.0), 0.5 * (f_min + f_max), dur).max(8.0);
    let raw = move |t: f64| {
        let x = t - t_mid;
        match shape {
            "v" => f_min + slope * x.abs(),
            "arch" => f_max - (f_max - f_min) * (2.0 * x / dur).powi(2),
            "w" => f_min + slope * (x.abs() - notch).abs(),
            _ => 0.5 * (f_min + f_max) + sign * slope * x,
        }
    };
    let freq = move |t: f64| fold(raw(t).max(1.0), ceiling).max(20.0);
    // A beat note that would fall below ~f_min / 2 fades out instead of piling up at the 20 Hz floor (which drew
    // a loud low-frequency blob under some arches).
    let fade_below = 0.5 * f_min;
    let fade = move |t: f64| (raw(t) / fade_below).clamp(0.0, 1.0);
    let p = phase(rng);
    let t0 = t_mid - 0.5 * dur;
    let t1 = t_mid + 0.5 * dur;
    let harmonic = rng.random_bool(0.25);
    c.layer(1.0, |c| c.track(t0, t1, p, freq, |t| tukey(t, t0, t1, 0.1 * dur) * fade(t)));
    if harmonic {
        let p2 = phase(rng);
        c.layer(uniform(rng, 0.3, 0.7), |c| {
            c.track(t0, t1, p2, |t| 2.0 * freq(t), |t| tukey(t, t0, t1, 0.1 * dur) * fade(t))
        });
    }
    Design::new(shape, snr, freq(t_mid), dur)
        .with("f_min_hz", f_min)
        .with("f_max_hz", f_max)
        .with("fold_hz", ceiling)
        .with("harmonic", harmonic as u8 as f64)
}

pub fn light_modulation(rng: &mut ChaCha8Rng, c: &mut Canvas) -> Design {
    // Bright spikes in succession over a low-frequency rumble. The real O1 ones (H1) are tall thin columns
    // reaching ~1 kHz, 0.3-1.7 s apart in the 4 s view (Gravity Spy's mean duration 2.3 s), each standing on
    // a bright blob below ~35 Hz; v3 drew them 0.05-0.5 s apart over a 40-120 Hz foot 2 % as strong (sim-to-real
    // recall 0 of 3).
    let snr = log_uniform(rng, 25.0, 90.0);
    let spikes = rng.random_range(2..=5usize);
    // Spike times: gaps of 0.3-1.5 s, shifted so that one spike (any of them) sits on the trigger.
    let mut times = vec![0.0];
    for _ in 1..spikes {
        let last = times[times.len() - 1];
        times.push(last + log_uniform(rng, 0.3, 1.5));
    }
    let shift = times[rng.random_range(0..spikes)];
    for (k, tk) in times.iter().map(|t| t - shift).enumerate() {
        let sigma = log_uniform(rng, 0.15e-3, 0.5e-3);
        let f = log_uniform(rng, 12.0, 35.0);
        let p = phase(rng);
        let w = if k == 0 { 1.0 } else { uniform(rng, 0.4, 1.0) };
        let foot = uniform(rng, 0.25, 0.7);
        c.layer(w, |c| {
            c.layer(1.0, |c| c.gaussian_pulse(tk, sigma, 1, 1.0));
            c.layer(foot, |c| c.sine_gaussian(tk, f, 3.0, 1.0, p));
        });
    }
    let span = times[spikes - 1];
    let rumble = uniform(rng, 0.5, 2.0);
    let f_hi = uniform(rng, 30.0, 60.0);
    let t_c = 0.5 * span - shift;
    c.layer(uniform(rng, 0.3, 0.8), |c| c.band_noise(rng, t_c - 3.0 * rumble, t_c + 3.0 * rumble, 10.0, f_hi, |x| gauss(x, t_c, rumble)));
    Design::new("spikes_and_rumble", snr, 105.0, span + rumble).with("spikes", spikes as f64).with("rumble_s", rumble)
}

pub fn scratchy(rng: &mut ChaCha8Rng, c: &mut Canvas) -> Design {
    // Many small blobs in one frequency band, scattered in time over seconds.
    let snr_each = log_uniform(rng, 5.0, 8.0);
    let f_c = log_uniform(rng, 80.0, 400.0);
    let span = uniform(rng, 2.0, 8.0);
    let count = (span * uniform(rng, 8.0, 20.0)).round() as usize;
    let t0 = -span * uniform(rng, 0.3, 0.7);
    let q = uniform(rng, 5.0, 10.0);
    for _ in 0..count {
        let tk = t0 + uniform(rng, 0.0, span);
        let f = f_c * log_uniform(rng, 0.8, 1.25);
        let p = phase(rng);
        let w = log_uniform(rng, 0.4, 1.5);
        c.layer(w, |c| c.sine_gaussian(tk, f, q, 1.0, p));
    }
    Design::new("scratches", snr_each * (count as f64).sqrt(), f_c, span).with("count", count as f64).with("q", q)
}
