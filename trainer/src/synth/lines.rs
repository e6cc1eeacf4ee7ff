//! Narrow-band glitches: Power_Line, Air_Compressor, Violin_Mode, 1080Lines, 1400Ripples, Low_Frequency_Lines
//! and Wandering_Line. All are tones (sometimes with harmonics) switched on for a while; what tells them apart
//! is the frequency, how long they last and how they are chopped or meander.

use super::waveform::{tukey, Canvas};
use super::{log_uniform, phase, tone_snr, uniform, Design};
use chacha20::ChaCha8Rng;
use rand::RngExt;
use std::f64::consts::PI;

/// A steady tone at f over [t0, t1] with soft edges.
fn tone(c: &mut Canvas, f: f64, t0: f64, t1: f64, taper: f64, p: f64) {
    c.track(t0, t1, p, |_| f, |t| tukey(t, t0, t1, taper));
}

pub fn power_line(rng: &mut ChaCha8Rng, c: &mut Canvas) -> Design {
    let f0 = 60.0 + uniform(rng, -0.3, 0.3);
    let dur = log_uniform(rng, 0.3, 2.0);
    let snr = tone_snr(log_uniform(rng, 7.0, 18.0), f0, dur);
    let t0 = -dur * uniform(rng, 0.3, 0.7);
    let harmonics = if rng.random_bool(0.3) { 2 } else { 1 };
    for k in 1..=harmonics {
        let w = if k == 1 { 1.0 } else { uniform(rng, 0.2, 0.5) };
        let p = phase(rng);
        c.layer(w, |c| tone(c, f0 * k as f64, t0, t0 + dur, 0.1 * dur, p));
    }
    Design::new("mains", snr, f0, dur).with("harmonics", harmonics as f64)
}

pub fn air_compressor(rng: &mut ChaCha8Rng, c: &mut Canvas) -> Design {
    // A motor hum: a ~50 Hz band a few Hz wide (the compressor's speed wobbles), so thicker than a mains line.
    let snr = log_uniform(rng, 12.0, 35.0);
    let f0 = uniform(rng, 45.0, 55.0);
    let half_band = uniform(rng, 2.0, 5.0);
    let dur = log_uniform(rng, 0.4, 1.5);
    let t0 = -dur * uniform(rng, 0.3, 0.7);
    let t1 = t0 + dur;
    c.band_noise(rng, t0, t1, f0 - half_band, f0 + half_band, |t| tukey(t, t0, t1, 0.25 * dur));
    Design::new("hum", snr, f0, dur).with("half_bandwidth_hz", half_band)
}

pub fn violin_mode(rng: &mut ChaCha8Rng, c: &mut Canvas) -> Design {
    // Rung violin modes of the test-mass suspensions: short bursts at ~500 Hz and harmonics.
    let snr_each = log_uniform(rng, 10.0, 30.0);
    let f_v = uniform(rng, 495.0, 515.0);
    let count = rng.random_range(1..=5usize);
    let weights: Vec<f64> = (0..3).map(|_| uniform(rng, 0.2, 1.0)).collect();
    let q = uniform(rng, 15.0, 50.0);
    let mut t = 0.0;
    for _ in 0..count {
        let tk = t;
        let ph: Vec<f64> = (0..3).map(|_| phase(rng)).collect();
        c.layer(uniform(rng, 0.5, 1.0), |c| {
            for h in 0..3 {
                let f = f_v * (h + 1) as f64;
                let tau = q / (2f64.sqrt() * PI * f);
                // Equal-duration bursts at each harmonic: the same envelope, different carrier.
                let amp = weights[h] / tau.sqrt();
                c.sine_gaussian(tk, f, q * (h + 1) as f64, amp, ph[h]);
            }
        });
        t += if rng.random_bool(0.5) { 1.0 } else { -1.0 } * uniform(rng, 0.3, 1.5);
    }
    let loudest = weights.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(h, _)| h + 1).unwrap_or(1);
    Design::new("harmonic_bursts", snr_each * (count as f64).sqrt(), f_v * loudest as f64, q / f_v)
        .with("fundamental_hz", f_v)
        .with("count", count as f64)
        .with("q", q)
}

pub fn lines_1080(rng: &mut ChaCha8Rng, c: &mut Canvas) -> Design {
    // A string of short dots near 1080 Hz, sometimes so close that they join into a line.
    let f0 = uniform(rng, 1070.0, 1090.0);
    let span = log_uniform(rng, 0.5, 3.0);
    let count = rng.random_range(3..=14usize);
    let dot = log_uniform(rng, 0.02, 0.12);
    let snr = tone_snr(log_uniform(rng, 5.0, 10.0), f0, dot) * (count as f64).sqrt();
    let t_start = -span * uniform(rng, 0.2, 0.8);
    for k in 0..count {
        // The first dot sits on the trigger.
        let tk = if k == 0 { 0.0 } else { t_start + uniform(rng, 0.0, span) };
        let f = f0 + uniform(rng, -5.0, 5.0);
        let p = phase(rng);
        let d = dot * uniform(rng, 0.5, 2.0);
        c.layer(uniform(rng, 0.4, 1.0), |c| tone(c, f, tk - d / 2.0, tk + d / 2.0, 0.4 * d, p));
    }
    Design::new("dots", snr, f0, span).with("count", count as f64).with("dot_s", dot)
}

pub fn ripples_1400(rng: &mut ChaCha8Rng, c: &mut Canvas) -> Design {
    let f0 = uniform(rng, 1350.0, 1650.0);
    let count = rng.random_range(1..=3usize);
    let dur = log_uniform(rng, 0.05, 0.3);
    let snr = tone_snr(log_uniform(rng, 6.0, 14.0), f0, dur) * (count as f64).sqrt();
    let mut t = 0.0;
    for k in 0..count {
        let tk = t;
        let f = f0 + uniform(rng, -15.0, 15.0);
        let p = phase(rng);
        let w = if k == 0 { 1.0 } else { uniform(rng, 0.3, 0.8) };
        c.layer(w, |c| tone(c, f, tk - dur / 2.0, tk + dur / 2.0, 0.3 * dur, p));
        t += if rng.random_bool(0.5) { 1.0 } else { -1.0 } * uniform(rng, 0.3, 1.5);
    }
    Design::new("ripple", snr, f0, dur).with("count", count as f64)
}

pub fn low_frequency_lines(rng: &mut ChaCha8Rng, c: &mut Canvas) -> Design {
    let snr = log_uniform(rng, 20.0, 60.0);
    let f0 = log_uniform(rng, 10.0, 25.0);
    let span = uniform(rng, 4.0, 10.0);
    let t0 = -span * uniform(rng, 0.3, 0.7);
    let t1 = t0 + span;
    let wobble = uniform(rng, 0.0, 0.08) * f0;
    let wobble_hz = uniform(rng, 0.1, 0.5);
    let lines = if rng.random_bool(0.3) { 2 } else { 1 };
    for k in 0..lines {
        let f = if k == 0 { f0 } else { f0 * uniform(rng, 1.3, 2.2) };
        let p = phase(rng);
        c.layer(if k == 0 { 1.0 } else { uniform(rng, 0.4, 0.8) }, |c| {
            c.track(t0, t1, p, |t| f + wobble * (2.0 * PI * wobble_hz * t).sin(), |t| tukey(t, t0, t1, 1.0))
        });
    }
    Design::new("steady_low", snr, f0, span).with("lines", lines as f64).with("wobble_hz", wobble)
}

pub fn wandering_line(rng: &mut ChaCha8Rng, c: &mut Canvas) -> Design {
    let f0 = log_uniform(rng, 400.0, 1600.0);
    let span = uniform(rng, 3.0, 9.0);
    let companions = rng.random_range(0..=2usize);
    let snr = tone_snr(log_uniform(rng, 5.0, 10.0), f0, span) * (companions as f64 + 1.0).sqrt();
    let t0 = -span * uniform(rng, 0.3, 0.7);
    let t1 = t0 + span;
    let sawtooth = rng.random_bool(0.3);
    // Meander: a few slow random sinusoids; sawtooth: repeated slow downward sweeps.
    let terms: Vec<(f64, f64, f64)> =
        (0..3).map(|_| (uniform(rng, 0.01, 0.06) * f0, uniform(rng, 0.15, 1.0), phase(rng))).collect();
    let saw_period = uniform(rng, 0.5, 1.2);
    let saw_drop = uniform(rng, 0.05, 0.15) * f0;
    let freq = move |t: f64| {
        if sawtooth {
            f0 + saw_drop * (0.5 - ((t - t0) / saw_period).fract())
        } else {
            f0 + terms.iter().map(|(a, fm, p)| a * (2.0 * PI * fm * t + p).sin()).sum::<f64>()
        }
    };
    let ratio = uniform(rng, 1.2, 1.5);
    for k in 0..=companions {
        let r = ratio.powi(k as i32);
        let p = phase(rng);
        let w = if k == 0 { 1.0 } else { uniform(rng, 0.3, 0.8) };
        c.layer(w, |c| c.track(t0, t1, p, |t| r * freq(t), |t| tukey(t, t0, t1, 0.3)));
    }
    Design::new(if sawtooth { "sawtooth" } else { "meander" }, snr, f0, span)
        .with("companions", companions as f64)
        .with("ratio", ratio)
}
