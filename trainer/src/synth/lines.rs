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
    // Real Power_Line glitches (O1 crops, O2 subjects) are short spindles at 60 Hz: 0.15-0.4 s of bright line
    // in the 1 and 2 s views, brightest in the middle and fading at both ends, often with a fainter ripple
    // beside them (Gravity Spy: 0.2-0.5 s). v2/v3 drew 0.3-2 s of flat-topped tone, a long thin line no real
    // one shows (sim-to-real recall 48 %).
    let f0 = 60.0 + uniform(rng, -0.3, 0.3);
    // Total length of the Hann envelope; its half-maximum width is half of it, 0.12-0.4 s.
    let dur = log_uniform(rng, 0.25, 0.8);
    let snr = tone_snr(log_uniform(rng, 8.0, 20.0), f0, dur);
    let t0 = -dur * uniform(rng, 0.3, 0.7);
    let harmonics = if rng.random_bool(0.3) { 2 } else { 1 };
    for k in 1..=harmonics {
        let w = if k == 1 { 1.0 } else { uniform(rng, 0.2, 0.5) };
        let p = phase(rng);
        // Taper 0.5: a Hann envelope, the spindle.
        c.layer(w, |c| tone(c, f0 * k as f64, t0, t0 + dur, 0.5 * dur, p));
    }
    // A fainter second spindle 0.2-0.6 s away in a third of them (the ripple beside the real ones).
    let echo = rng.random_bool(0.35);
    if echo {
        let gap = uniform(rng, 0.2, 0.6) * if rng.random_bool(0.5) { 1.0 } else { -1.0 };
        let d = dur * uniform(rng, 0.4, 0.8);
        let te = t0 + 0.5 * dur + gap - 0.5 * d;
        let p = phase(rng);
        c.layer(uniform(rng, 0.2, 0.5), |c| tone(c, f0, te, te + d, 0.5 * d, p));
    }
    Design::new("mains", snr, f0, dur).with("harmonics", harmonics as f64).with("echo", echo as u8 as f64)
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
    // Rung violin modes of the test-mass suspensions: bursts at ~500 Hz and its harmonics, all at once. Real
    // O1/O2 images show the harmonics *stacked*: dots at 500, 1000, 1500 (and often 2000) Hz in the same column,
    // of comparable brightness (the upper ones are often the brightest: Gravity Spy's mean peak frequency is
    // 1673 Hz), each a few tens of ms long and often a pair of dots (two modes of neighbouring fibres), repeating
    // every 0.1-0.6 s. The stack is what tells them from 1080Lines (dots at one frequency only).
    // The energy is shared by four harmonics (and a pair), so each burst needs more than a lone dot would.
    // Loudness 6-40 per burst: the real O1 crops show faint dots, barely above the noise, the O2 subjects bright
    // ones (15-40 drew only the bright kind).
    let snr_each = log_uniform(rng, 6.0, 40.0);
    let f_v = uniform(rng, 495.0, 515.0);
    let count = rng.random_range(1..=6usize);
    let weights = [uniform(rng, 0.5, 1.0), uniform(rng, 0.5, 1.0), uniform(rng, 0.5, 1.0), uniform(rng, 0.0, 0.6)];
    // A second mode of the fundamental, 20-50 Hz away, in most glitches: the O2 subjects show the 500 Hz dots
    // as vertical pairs far more often than single.
    let pair = if rng.random_bool(0.7) {
        Some((uniform(rng, 20.0, 50.0) * if rng.random_bool(0.5) { 1.0 } else { -1.0 }, uniform(rng, 0.5, 1.0)))
    } else {
        None
    };
    // Envelope width (s), the same at every harmonic: e^-(t/τ)² with τ = 10-40 ms.
    let tau = log_uniform(rng, 0.01, 0.04);
    let spacing = uniform(rng, 0.1, 0.6);
    let mut t = 0.0;
    for _ in 0..count {
        let tk = t;
        let ph: Vec<f64> = (0..weights.len() + 1).map(|_| phase(rng)).collect();
        c.layer(uniform(rng, 0.5, 1.0), |c| {
            for (h, w) in weights.iter().enumerate() {
                let f = f_v * (h + 1) as f64;
                let q = 2f64.sqrt() * PI * f * tau;
                // A burst of fixed length spreads over more (shorter) tiles the higher it sits: amplitude
                // ∝ √(h + 1) keeps the dots of the stack about as bright as `weights` says.
                c.sine_gaussian(tk, f, q, w * ((h + 1) as f64).sqrt(), ph[h]);
            }
            if let Some((df, w)) = pair {
                let f = f_v + df;
                c.sine_gaussian(tk, f, 2f64.sqrt() * PI * f * tau, w * weights[0], ph[weights.len()]);
            }
        });
        t += if rng.random_bool(0.5) { 1.0 } else { -1.0 } * spacing * uniform(rng, 0.8, 1.2);
    }
    // Many O2 subjects also show lone dots at the second harmonic (~1 kHz) at many other times, a row across the
    // view, while the 500 Hz pairs sit in a few columns only; a model that never saw that row read 10 of the 23
    // real O2 violin modes as 1080Lines.
    let row = if rng.random_bool(0.5) { rng.random_range(3..=12usize) } else { 0 };
    for _ in 0..row {
        let tk = uniform(rng, -2.0, 2.0);
        let f = 2.0 * f_v + uniform(rng, -10.0, 10.0);
        let p = phase(rng);
        c.layer(uniform(rng, 0.15, 0.4), |c| c.sine_gaussian(tk, f, 2f64.sqrt() * PI * f * tau, 1.0, p));
    }
    let loudest = weights.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(h, _)| h + 1).unwrap_or(1);
    Design::new("harmonic_stack", snr_each * (count as f64).sqrt(), f_v * loudest as f64, 2.0 * tau)
        .with("fundamental_hz", f_v)
        .with("count", count as f64)
        .with("tau_s", tau)
        .with("spacing_s", spacing)
        .with("pair_offset_hz", pair.map_or(0.0, |(df, _)| df))
        .with("row_dots", row as f64)
}

pub fn lines_1080(rng: &mut ChaCha8Rng, c: &mut Canvas) -> Design {
    // A string of short dots near 1080 Hz, sometimes so close that they join into a line. v3d: in the real O1
    // images (H1_2Xn58S1QCj, H1_3FBh0droFC) the dots are faint (cyan-green, never the top of the colour scale)
    // and crowded, one every 20-60 ms along strings of 0.2-1 s; v3c drew 3-14 bright, sparse dashes.
    let f0 = uniform(rng, 1070.0, 1090.0);
    let span = log_uniform(rng, 0.3, 1.5);
    let count = rng.random_range(8..=30usize);
    let dot = log_uniform(rng, 0.01, 0.04);
    let snr = tone_snr(log_uniform(rng, 3.5, 7.0), f0, dot) * (count as f64).sqrt();
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
    // v3d: the real O1 lines are thin and faint, cyan-green at 10-15 Hz (the 0.5 s view of one barely shows
    // it); v3c's SNR 20-60 over the long low tiles drew thick saturated bars. Brightness is now set per tile
    // (5-10), as for the other narrow lines.
    let f0 = log_uniform(rng, 10.0, 25.0);
    let span = uniform(rng, 4.0, 10.0);
    let snr = tone_snr(log_uniform(rng, 5.0, 10.0), f0, span);
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
    // Real O1 wandering lines (H1) are ragged, not clean: the track jitters by a few percent from one tile to
    // the next, breaks into dotted segments, often has parallel companions, and sits among broadband specks and
    // blobs from the same disturbance. Two of the three real ones are bright (yellow) thin tracks: one a
    // descending sawtooth of three parallel tracks (period ~1 s, each ramp falling by a quarter, a blob where
    // it resets), one a chopped line near 1 kHz; the third is faint (v3's Fréchet distance 51, the worst class,
    // came from drawing only faint, mostly meandering lines).
    let f0 = log_uniform(rng, 300.0, 1400.0);
    let span = uniform(rng, 3.0, 9.0);
    let companions = rng.random_range(0..=2usize);
    // 3.5-12 per tile: from faint green to the bright thin tracks of the real ones.
    let snr = tone_snr(log_uniform(rng, 3.5, 12.0), f0, span) * (companions as f64 + 1.0).sqrt();
    let t0 = -span * uniform(rng, 0.3, 0.7);
    let t1 = t0 + span;
    let sawtooth = rng.random_bool(0.5);
    // Meander: a few slow random sinusoids; sawtooth: repeated slow downward sweeps.
    let terms: Vec<(f64, f64, f64)> =
        (0..3).map(|_| (uniform(rng, 0.01, 0.06) * f0, uniform(rng, 0.15, 1.0), phase(rng))).collect();
    let saw_period = uniform(rng, 0.6, 1.5);
    let saw_drop = uniform(rng, 0.1, 0.3) * f0;
    // Jitter: a random walk in frequency sampled every 20-50 ms, linearly interpolated (a smooth track would
    // be a clean line; white jitter per sample would be wideband noise).
    let jitter_step = uniform(rng, 0.02, 0.05);
    let jitter_depth = uniform(rng, 0.01, 0.04) * f0;
    let knots: Vec<f64> = {
        let n = (span / jitter_step).ceil() as usize + 2;
        let mut walk = 0.0;
        (0..n).map(|_| { walk = 0.7 * walk + uniform(rng, -1.0, 1.0) * jitter_depth; walk }).collect()
    };
    let jitter = move |t: f64| {
        let x = ((t - t0) / jitter_step).max(0.0);
        let k = (x.floor() as usize).min(knots.len() - 2);
        let a = (x - k as f64).min(1.0);
        knots[k] * (1.0 - a) + knots[k + 1] * a
    };
    let freq = move |t: f64| {
        let base = if sawtooth {
            f0 + saw_drop * (0.5 - ((t - t0) / saw_period).fract())
        } else {
            f0 + terms.iter().map(|(a, fm, p)| a * (2.0 * PI * fm * t + p).sin()).sum::<f64>()
        };
        base + jitter(t)
    };
    // Dotted: the amplitude flickers (on/off at 5-15 Hz with a random duty) in most lines.
    let flicker_hz = uniform(rng, 5.0, 15.0);
    let flicker_depth = if rng.random_bool(0.7) { uniform(rng, 0.4, 0.9) } else { 0.0 };
    let flicker = move |t: f64| 1.0 - flicker_depth * (0.5 + 0.5 * (2.0 * PI * flicker_hz * t).sin()).powi(4);
    // Companions: neighbouring harmonics (ratio (n+1)/n, the evenly spaced parallel tracks of the sawtooth) or
    // about an octave up.
    let ratio = if rng.random_bool(0.6) { 1.0 + 1.0 / rng.random_range(2..=4u32) as f64 } else { uniform(rng, 1.8, 2.0) };
    // Companions above the plot (with ratio 2, even past Nyquist) are left out.
    let companions = (0..=companions).take_while(|k| *k == 0 || ratio.powi(*k as i32) * f0 <= 1900.0).count() - 1;
    for k in 0..=companions {
        let r = ratio.powi(k as i32);
        let p = phase(rng);
        let w = if k == 0 { 1.0 } else { uniform(rng, 0.3, 0.8) };
        c.layer(w, |c| c.track(t0, t1, p, |t| r * freq(t), |t| tukey(t, t0, t1, 0.3) * flicker(t)));
    }
    // The sawtooth's resets: a bright blob at the low end of each ramp, where the real one jumps back up.
    if sawtooth {
        let mut k = 1.0;
        while t0 + k * saw_period < t1 {
            let tk = t0 + k * saw_period;
            let f = freq(tk - 1e-3);
            let p = phase(rng);
            c.layer(uniform(rng, 0.3, 0.8), |c| c.sine_gaussian(tk, f, uniform(rng, 4.0, 8.0), 1.0, p));
            k += 1.0;
        }
    }
    // Specks: a few short blobs at 300 Hz - 2 kHz scattered over the line's span.
    let specks = rng.random_range(0..=6usize);
    for _ in 0..specks {
        let tk = uniform(rng, t0, t1);
        let f = log_uniform(rng, 300.0, 2000.0);
        let p = phase(rng);
        c.layer(uniform(rng, 0.05, 0.15), |c| c.sine_gaussian(tk, f, uniform(rng, 4.0, 12.0), 1.0, p));
    }
    Design::new(if sawtooth { "sawtooth" } else { "meander" }, snr, f0, span)
        .with("companions", companions as f64)
        .with("ratio", ratio)
        .with("jitter_hz", jitter_depth)
        .with("flicker_depth", flicker_depth)
        .with("specks", specks as f64)
}
