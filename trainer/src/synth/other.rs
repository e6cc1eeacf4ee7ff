//! No_Glitch (noise alone, at most a trace below what anyone would call a glitch) and None_of_the_Above
//! (clear glitches whose shapes belong to no other class).

use super::waveform::{gauss, tukey, Canvas};
use super::{log_uniform, phase, uniform, Design};
use chacha20::ChaCha8Rng;
use rand::RngExt;
use std::f64::consts::PI;

pub fn no_glitch(rng: &mut ChaCha8Rng, c: &mut Canvas) -> Design {
    if rng.random_bool(0.3) {
        let f = log_uniform(rng, 30.0, 1000.0);
        let q = uniform(rng, 3.0, 20.0);
        let snr = uniform(rng, 2.0, 4.0);
        c.sine_gaussian(0.0, f, q, 1.0, phase(rng));
        Design::new("trace", snr, f, q / f)
    } else {
        Design::new("noise", 0.0, 0.0, 0.0)
    }
}

pub fn none_of_the_above(rng: &mut ChaCha8Rng, c: &mut Canvas) -> Design {
    // v3: a mixture of what the 33 real None_of_the_Above glitches of ../shared/data/real look like (31 O2
    // volunteer subjects, 2 O1 crops), drawn about as often as they occur there. v2 drew boxes, sweeps and wavy
    // tones that no real example shows (its Fréchet distance to the real class was the worst of all, 106).
    match rng.random_range(0..20) {
        // 7/20: a compact low-frequency blob (20-60 Hz, tens of ms), often with a faint thin needle above it
        // and sometimes bumps beside it: neither a Blip (whose bulb is higher and needle bright) nor a Koi_Fish.
        0..=6 => {
            let snr = log_uniform(rng, 20.0, 80.0);
            let f = log_uniform(rng, 20.0, 60.0);
            let q = uniform(rng, 3.0, 8.0);
            let t0 = uniform(rng, -0.01, 0.01);
            let p = phase(rng);
            c.layer(1.0, |c| c.sine_gaussian(t0, f, q, 1.0, p));
            let needle = if rng.random_bool(0.6) { uniform(rng, 0.08, 0.3) } else { 0.0 };
            if needle > 0.0 {
                let sigma = log_uniform(rng, 0.2e-3, 0.6e-3);
                c.layer(needle, |c| c.gaussian_pulse(t0, sigma, 1, 1.0));
            }
            let bumps = rng.random_range(0..=3usize);
            for _ in 0..bumps {
                let (dt, fb, p) = (uniform(rng, -0.04, 0.04), f * uniform(rng, 0.8, 1.8), phase(rng));
                c.layer(uniform(rng, 0.3, 0.7), |c| c.sine_gaussian(t0 + dt, fb, q, 1.0, p));
            }
            Design::new("low_blob", snr, f, q / f).with("needle_weight", needle).with("bumps", bumps as f64)
        }
        // 2/20: a round mid-frequency blob (70-200 Hz), no needle (the ER10 subjects).
        7 | 8 => {
            let snr = log_uniform(rng, 15.0, 45.0);
            let f = log_uniform(rng, 70.0, 200.0);
            let q = uniform(rng, 4.0, 10.0);
            c.sine_gaussian(0.0, f, q, 1.0, phase(rng));
            Design::new("mid_blob", snr, f, q / f)
        }
        // 2/20: a train of low-frequency pulses (25-45 Hz) every 0.08-0.3 s across the view.
        9 | 10 => {
            let each = log_uniform(rng, 10.0, 25.0);
            let count = rng.random_range(4..=14usize);
            let spacing = uniform(rng, 0.08, 0.3);
            let f = log_uniform(rng, 25.0, 45.0);
            let first = -(rng.random_range(0..count) as f64) * spacing;
            for k in 0..count {
                let (p, w) = (phase(rng), uniform(rng, 0.6, 1.0));
                c.layer(w, |c| c.sine_gaussian(first + k as f64 * spacing, f, uniform(rng, 3.0, 6.0), 1.0, p));
            }
            Design::new("low_pulse_train", each * (count as f64).sqrt(), f, count as f64 * spacing).with("spacing_s", spacing)
        }
        // 2/20: a loud low blob and, at the same time, a separate burst at 400-2000 Hz with a gap between.
        11 | 12 => {
            let snr = log_uniform(rng, 30.0, 100.0);
            let f = log_uniform(rng, 25.0, 60.0);
            let p = phase(rng);
            c.layer(1.0, |c| c.sine_gaussian(0.0, f, uniform(rng, 3.0, 6.0), 1.0, p));
            let width = uniform(rng, 0.01, 0.04);
            let w = uniform(rng, 0.4, 0.9);
            c.layer(w, |c| c.band_noise(rng, -2.0 * width, 2.0 * width, 400.0, 2000.0, |t| gauss(t, 0.0, width)));
            Design::new("low_and_high", snr, f, 4.0 * width).with("high_weight", w)
        }
        // 2/20: a comb of thin high-frequency spikes (300-2000 Hz) repeating every few tens of ms for seconds.
        13 | 14 => {
            let each = log_uniform(rng, 5.0, 9.0);
            let span = uniform(rng, 1.5, 4.0);
            let count = (span * uniform(rng, 12.0, 30.0)).round() as usize;
            for _ in 0..count {
                let (t, f, p) = (uniform(rng, -0.5 * span, 0.5 * span), log_uniform(rng, 400.0, 1500.0), phase(rng));
                c.layer(log_uniform(rng, 0.5, 1.5), |c| c.sine_gaussian(t, f, uniform(rng, 2.0, 4.0), 1.0, p));
            }
            Design::new("high_spike_comb", each * (count as f64).sqrt(), 800.0, span).with("count", count as f64)
        }
        // 2/20: columns of stacked blobs at about f, 2f, 4f (f 60-120 Hz) repeating every 0.25-0.35 s, over a
        // steady line at 12-20 Hz (the Hanford subjects).
        15 | 16 => {
            let snr = log_uniform(rng, 30.0, 80.0);
            let f = log_uniform(rng, 60.0, 120.0);
            let groups = rng.random_range(2..=5usize);
            let spacing = uniform(rng, 0.25, 0.35);
            let first = -(rng.random_range(0..groups) as f64) * spacing;
            for g in 0..groups {
                let tg = first + g as f64 * spacing;
                for (k, h) in [1.0, 2.0, 4.0].into_iter().enumerate() {
                    let p = phase(rng);
                    let w = uniform(rng, 0.4, 1.0) / (1.0 + k as f64);
                    c.layer(w, |c| c.sine_gaussian(tg, f * h * uniform(rng, 0.95, 1.05), uniform(rng, 6.0, 12.0), 1.0, p));
                }
            }
            let f_line = uniform(rng, 12.0, 20.0);
            let p = phase(rng);
            c.layer(uniform(rng, 0.5, 1.0), |c| c.track(-8.0, 8.0, p, |_| f_line, |t| tukey(t, -8.0, 8.0, 1.0)));
            Design::new("stacked_columns", snr, f, groups as f64 * spacing).with("line_hz", f_line)
        }
        // 2/20: a wide saturated low band (16-100 Hz) for 0.2-0.5 s, full of holes.
        17 | 18 => {
            let snr = log_uniform(rng, 80.0, 300.0);
            let dur = uniform(rng, 0.2, 0.5);
            c.band_noise(rng, -0.5 * dur, 0.5 * dur, 16.0, 100.0, |t| tukey(t, -0.5 * dur, 0.5 * dur, 0.3 * dur));
            Design::new("wide_low_band", snr, 40.0, dur)
        }
        // 1/20: a high arch (rising from 300-600 Hz to 1-1.5 kHz and falling back) or a faint steady line at
        // 60-250 Hz lasting seconds (the O1 H1_KWo6HxynTP).
        _ => {
            if rng.random_bool(0.5) {
                let snr = log_uniform(rng, 20.0, 50.0);
                let (f_lo, f_top) = (log_uniform(rng, 300.0, 600.0), log_uniform(rng, 1000.0, 1500.0));
                let dur = uniform(rng, 0.3, 1.0);
                let freq = move |t: f64| f_lo + (f_top - f_lo) * (1.0 - (2.0 * t / dur).powi(2)).max(0.0);
                c.track(-0.5 * dur, 0.5 * dur, phase(rng), freq, |t| tukey(t, -0.5 * dur, 0.5 * dur, 0.1 * dur));
                Design::new("high_arch", snr, f_top, dur)
            } else {
                let snr = log_uniform(rng, 10.0, 20.0);
                let f = log_uniform(rng, 60.0, 250.0);
                let dur = uniform(rng, 2.0, 4.0);
                let wander = uniform(rng, 0.0, 0.05) * f;
                let p = phase(rng);
                c.track(-0.5 * dur, 0.5 * dur, p, move |t| f + wander * (PI * t / dur).sin(), |t| tukey(t, -0.5 * dur, 0.5 * dur, 0.3));
                Design::new("faint_line", snr, f, dur)
            }
        }
    }
}
