//! Short broadband transients: Blip and its relatives (Tomte, Koi_Fish, Repeating_Blips, Helix),
//! Low_Frequency_Burst and Extremely_Loud.
//!
//! A blip in whitened data is a pulse lasting a few milliseconds. The Q-transform spreads such a pulse over
//! every frequency, narrow at the top (short tiles) and wide at the bottom (long tiles): the teardrop.
//! The low-frequency weight of the pulse decides where the bulb sits (Blip ~100 Hz, Tomte lower, Koi_Fish
//! loud enough that the bulb grows fins).

use super::waveform::{gauss, Canvas};
use super::{log_uniform, phase, uniform, Design};
use chacha20::ChaCha8Rng;
use rand::RngExt;
use std::f64::consts::PI;

/// Draws one blip (bulb sine-Gaussian plus a sharp needle) at t0 and returns its bulb frequency.
pub(crate) fn draw_blip(c: &mut Canvas, t0: f64, f_bulb: f64, q: f64, needle_sigma: f64, needle_weight: f64, ph: f64) {
    c.layer(1.0, |c| c.sine_gaussian(t0, f_bulb, q, 1.0, ph));
    c.layer(needle_weight, |c| c.gaussian_pulse(t0, needle_sigma, 1, 1.0));
}

pub fn blip(rng: &mut ChaCha8Rng, c: &mut Canvas) -> Design {
    let snr = log_uniform(rng, 12.0, 60.0);
    let f_bulb = log_uniform(rng, 50.0, 250.0);
    let q = uniform(rng, 2.0, 5.0);
    let needle_sigma = log_uniform(rng, 0.12e-3, 0.35e-3);
    let needle_weight = uniform(rng, 0.4, 1.0);
    let t0 = uniform(rng, -0.01, 0.01);
    let ph = phase(rng);
    draw_blip(c, t0, f_bulb, q, needle_sigma, needle_weight, ph);
    Design::new("teardrop", snr, f_bulb, q / f_bulb)
        .with("q", q)
        .with("needle_sigma_s", needle_sigma)
        .with("needle_weight", needle_weight)
        .with("t0_s", t0)
}

pub fn tomte(rng: &mut ChaCha8Rng, c: &mut Canvas) -> Design {
    // v3d: a real Tomte (H1_KoNq45tzNK, H1_kOv7nI4zuO) is one filled triangle, saturated and ~0.1 s wide at
    // 20-30 Hz, narrowing smoothly to an apex at 150-300 Hz, with nothing above it. v3c drew a round bulb under
    // a separate needle (a Blip's teardrop, only lower), and real Tomte were read as Blips. A plain Gaussian
    // pulse (no derivative) of σ = 1.2-3 ms draws the triangle: constant-Q tiles make its width fall as 1/f up
    // the plot, its spectrum is flat at low frequency (the bright base) and dies out a few times 1/(2πσ) =
    // 50-130 Hz (the apex). A weaker low sine-Gaussian widens the base, as in the real 0.5 s views.
    let snr = log_uniform(rng, 15.0, 50.0);
    let f_bulb = log_uniform(rng, 18.0, 40.0);
    let q = uniform(rng, 1.5, 3.0);
    let sigma = log_uniform(rng, 1.2e-3, 3.0e-3);
    let bulb_weight = uniform(rng, 0.2, 0.6);
    let t0 = uniform(rng, -0.01, 0.01);
    let ph = phase(rng);
    c.layer(1.0, |c| c.gaussian_pulse(t0, sigma, 0, 1.0));
    c.layer(bulb_weight, |c| c.sine_gaussian(t0, f_bulb, q, 1.0, ph));
    Design::new("gnome_hat", snr, f_bulb, q / f_bulb)
        .with("q", q)
        .with("pulse_sigma_s", sigma)
        .with("bulb_weight", bulb_weight)
}

pub fn koi_fish(rng: &mut ChaCha8Rng, c: &mut Canvas) -> Design {
    // Two looks. The O1 crops and O2 subjects (mostly 0.5 s views) show a wide saturated head at 50-150 Hz with
    // fins and a needle. The 30 O3 L1 ones (4 s views, sim-to-real recall 27 % with only the first look) are a
    // thin loud column from ~16 Hz to ~1 kHz, brightest at the bottom, with two pairs of horizontal fins that
    // reach ±0.1-0.2 s: one at 50-80 Hz and one at 350-600 Hz.
    if rng.random_bool(0.4) {
        let snr = log_uniform(rng, 30.0, 200.0);
        let t0 = uniform(rng, -0.01, 0.01);
        let f_foot = log_uniform(rng, 16.0, 35.0);
        let ph = phase(rng);
        c.layer(uniform(rng, 0.3, 0.6), |c| c.sine_gaussian(t0, f_foot, uniform(rng, 2.0, 4.0), 1.0, ph));
        c.layer(1.0, |c| c.gaussian_pulse(t0, log_uniform(rng, 0.1e-3, 0.25e-3), 1, 1.0));
        // Q 30-60: an envelope τ of 0.1-0.2 s at the low fin, its horizontal reach in the real 4 s views.
        let low_fin = uniform(rng, 50.0, 80.0);
        let high_fin = uniform(rng, 350.0, 600.0);
        for (f, w) in [(low_fin, uniform(rng, 0.12, 0.25)), (high_fin, uniform(rng, 0.12, 0.25))] {
            let p = phase(rng);
            let q = uniform(rng, 30.0, 60.0);
            c.layer(w, |c| c.sine_gaussian(t0, f, q, 1.0, p));
        }
        return Design::new("koi_column", snr, f_foot, 0.3).with("fin_low_hz", low_fin).with("fin_high_hz", high_fin);
    }
    let snr = log_uniform(rng, 60.0, 400.0);
    let f_head = log_uniform(rng, 50.0, 150.0);
    let q = uniform(rng, 3.0, 6.0);
    let t0 = uniform(rng, -0.01, 0.01);
    let ph = phase(rng);
    c.layer(1.0, |c| c.sine_gaussian(t0, f_head, q, 1.0, ph));
    // Fins: longer, lower tones on both sides of the head.
    let fin_f = f_head * uniform(rng, 0.35, 0.6);
    let fin_q = uniform(rng, 6.0, 12.0);
    let fin_weight = uniform(rng, 0.3, 0.6);
    for side in [-1.0, 1.0] {
        let dt = side * uniform(rng, 0.02, 0.06);
        let p = phase(rng);
        c.layer(fin_weight, |c| c.sine_gaussian(t0 + dt, fin_f, fin_q, 1.0, p));
    }
    // Tail: a thin needle up to the top of the plot.
    let needle_sigma = log_uniform(rng, 0.1e-3, 0.25e-3);
    c.layer(uniform(rng, 0.3, 0.6), |c| c.gaussian_pulse(t0, needle_sigma, 1, 1.0));
    // v3d: most real O2 Koi_Fish subjects sit on a wide low-frequency skirt, saturated at 30-80 Hz and reaching
    // ±0.1-0.5 s, some across the whole 0.5 s view, under a *thin* tail. Without it the only wide low fan in
    // training was Extremely_Loud's, and the v3c model read 20 of the 34 real O2 Koi_Fish as Extremely_Loud.
    let skirt = if rng.random_bool(0.5) {
        let spread = log_uniform(rng, 0.05, 0.3);
        let f_hi = uniform(rng, 50.0, 100.0);
        c.layer(uniform(rng, 0.2, 0.5), |c| c.band_noise(rng, t0 - 3.0 * spread, t0 + 3.0 * spread, 15.0, f_hi, |x| gauss(x, t0, spread)));
        spread
    } else {
        0.0
    };
    Design::new("koi", snr, f_head, 0.3)
        .with("q", q)
        .with("fin_frequency_hz", fin_f)
        .with("fin_q", fin_q)
        .with("skirt_spread_s", skirt)
}

pub fn repeating_blips(rng: &mut ChaCha8Rng, c: &mut Canvas) -> Design {
    let snr_each = log_uniform(rng, 12.0, 40.0);
    let spacing = match rng.random_range(0..3) {
        0 => 0.25,
        1 => 0.5,
        _ => uniform(rng, 0.15, 0.8),
    } * uniform(rng, 0.97, 1.03);
    let count = rng.random_range(3..=9usize);
    let first = -(rng.random_range(0..count) as f64) * spacing; // the trigger sits on one of the blips
    let f_bulb = log_uniform(rng, 60.0, 250.0);
    let q = uniform(rng, 2.0, 5.0);
    let needle_sigma = log_uniform(rng, 0.12e-3, 0.35e-3);
    for k in 0..count {
        let t0 = first + k as f64 * spacing + uniform(rng, -0.01, 0.01);
        let w = uniform(rng, 0.5, 1.0);
        let f = f_bulb * uniform(rng, 0.85, 1.15);
        let ph = phase(rng);
        c.layer(w, |c| draw_blip(c, t0, f, q, needle_sigma, 0.7, ph));
    }
    Design::new("blip_train", snr_each * (count as f64).sqrt(), f_bulb, count as f64 * spacing)
        .with("count", count as f64)
        .with("spacing_s", spacing)
        .with("q", q)
}

pub fn helix(rng: &mut ChaCha8Rng, c: &mut Canvas) -> Design {
    // A beaded column: two pulses a few ms apart interfere, |1 + e^(-2πifδt)|² = 4cos²(πfδt), so the column
    // has nulls every 1/δt Hz: beads that crowd together up the log-frequency axis, the "twisted" look. Real
    // Helix columns (O1 L1) are brightest at a few hundred Hz, sit on a wide, dim foot at 20-60 Hz and repeat
    // at a steady cadence (3 columns in the 1 s view, 8-10 in the 4 s view). Each column must be clearly
    // visible (its beads reach the top of the colour scale): a faint, lone column is what a faint Blip looks
    // like, and drawing Helix that way taught the model to call every faint real glitch a Helix.
    let snr_each = log_uniform(rng, 12.0, 25.0);
    let groups = rng.random_range(4..=10usize);
    let spacing = uniform(rng, 0.25, 0.6);
    let on_trigger = rng.random_range(0..groups);
    let gap = uniform(rng, 0.005, 0.015);
    // Pulse spectra peak at 1 / (2π σ) = 160-320 Hz, where the real columns are brightest.
    let sigma = log_uniform(rng, 0.5e-3, 1.0e-3);
    let base_f = log_uniform(rng, 25.0, 50.0);
    let foot_weight = uniform(rng, 0.12, 0.3);
    for g in 0..groups {
        // Steady cadence, a little jitter: the columns of real Helix are nearly evenly spaced.
        let jitter = if g == on_trigger { 0.0 } else { uniform(rng, -0.05, 0.05) * spacing };
        let tg = (g as f64 - on_trigger as f64) * spacing + jitter;
        let w = if g == on_trigger { 1.0 } else { uniform(rng, 0.6, 1.0) };
        let echo = uniform(rng, 0.7, 1.0);
        let p = phase(rng);
        c.layer(w, |c| {
            c.layer(1.0, |c| {
                c.gaussian_pulse(tg - 0.5 * gap, sigma, 1, 1.0);
                c.gaussian_pulse(tg + 0.5 * gap, sigma, 1, echo);
            });
            // The wide foot at the bottom of the column.
            c.layer(foot_weight, |c| c.sine_gaussian(tg, base_f, 3.0, 1.0, p));
        });
    }
    Design::new("beaded_column", snr_each * (groups as f64).sqrt(), 1.0 / (2.0 * PI * sigma), gap)
        .with("groups", groups as f64)
        .with("spacing_s", spacing)
        .with("pulse_gap_s", gap)
        .with("pulse_sigma_s", sigma)
        .with("foot_weight", foot_weight)
}

pub fn low_frequency_burst(rng: &mut ChaCha8Rng, c: &mut Canvas) -> Design {
    let snr = log_uniform(rng, 15.0, 70.0);
    let humps = if rng.random_bool(0.35) { 2 } else { 1 };
    let f_peak = log_uniform(rng, 12.0, 30.0);
    let dur = log_uniform(rng, 0.15, 0.6);
    let slope = -uniform(rng, 0.2, 0.8) * f_peak / dur; // humps lean: frequency falls across the burst
    let mut t = 0.0;
    for h in 0..humps {
        let w = if h == 0 { 1.0 } else { uniform(rng, 0.5, 1.0) };
        let f_c = f_peak * uniform(rng, 0.85, 1.1);
        let p = phase(rng);
        let t_c = t;
        c.layer(w, |c| {
            c.track(t_c - dur, t_c + dur, p, |x| (f_c + slope * (x - t_c)).max(6.0), |x| gauss(x, t_c, dur / 4.0))
        });
        t += uniform(rng, 0.6, 1.4) * dur + 0.2;
    }
    Design::new("hump", snr, f_peak, dur).with("humps", humps as f64).with("slope_hz_per_s", slope)
}

pub fn extremely_loud(rng: &mut ChaCha8Rng, c: &mut Canvas) -> Design {
    // v3: the real O1 Extremely_Loud images are of two kinds. One is a glitch so loud that it saturates a wide
    // low-frequency fan (20-100 Hz over the whole 0.5 s view) under a spike to the top of the plot; the other
    // (and the 4 s view of the first) has an almost uniformly dark background with no noise texture: the
    // detector was disturbed (ringing down, losing lock) for most of the block, so the median ASD that whitens
    // the plot is many times the quiet noise and everything but the glitch falls below the colour scale. The
    // second kind needs that long disturbance in the block, outside a quiet gap around the trigger whose edges
    // show at the sides of the 4 s view (H1_0ZGcigamqD: a faint corner at +1.5 s and 20-40 Hz).
    let snr = log_uniform(rng, 300.0, 2000.0);
    let t0 = uniform(rng, -0.02, 0.02);
    let f_core = log_uniform(rng, 60.0, 300.0);
    c.layer(1.0, |c| c.gaussian_pulse(t0, log_uniform(rng, 0.1e-3, 0.3e-3), 1, 1.0));
    // v3d: the column is fat, not a needle. In the real 0.5 s view (H1_1o6t6QrbWC) it is saturated ~40 ms wide
    // from 100 Hz to the top of the plot, with bright clutter beside it; Koi_Fish keeps a thin tail above its
    // head. Broadband noise under a 8-25 ms envelope draws that column.
    let column = log_uniform(rng, 8e-3, 25e-3);
    c.layer(uniform(rng, 0.5, 1.0), |c| c.band_noise(rng, t0 - 4.0 * column, t0 + 4.0 * column, 100.0, 2000.0, |x| gauss(x, t0, column)));
    let p = phase(rng);
    c.layer(1.0, |c| c.sine_gaussian(t0, f_core, uniform(rng, 2.0, 5.0), 1.0, p));
    // Ringing and low-frequency upheaval, the "huge disturbance covering most of the image" (Gravity Spy: mean
    // duration 8 s, SNR 2416): a saturated fan below 60-150 Hz spreading over seconds, as in the real 0.5 and
    // 1 s views (H1_1o6t6QrbWC). Drawing it weaker (v3b: 5-15 %) left loud blips on a dark background, and the
    // real O2 Koi_Fish subjects were then read as Extremely_Loud (27 of 34).
    let spread = log_uniform(rng, 0.2, 1.0);
    let f_hi = uniform(rng, 60.0, 150.0);
    c.layer(uniform(rng, 0.15, 0.4), |c| c.band_noise(rng, t0 - 3.0 * spread, t0 + 3.0 * spread, 10.0, f_hi, |x| gauss(x, t0, spread)));
    // A few more components near the trigger; v3 strewed 2-5 of them over ±0.3 s and 20-1000 Hz, drawing
    // separate saturated blobs that no real one shows.
    let extra = rng.random_range(0..=2);
    for _ in 0..extra {
        let dt = uniform(rng, -0.05, 0.05);
        let f = log_uniform(rng, 20.0, 200.0);
        let p = phase(rng);
        c.layer(uniform(rng, 0.1, 0.3), |c| c.sine_gaussian(t0 + dt, f, uniform(rng, 3.0, 12.0), 1.0, p));
    }
    let design = Design::new("upheaval", snr, f_core, 2.0 * spread)
        .with("spread_s", spread)
        .with("column_s", column)
        .with("components", extra as f64 + 3.0);
    if rng.random_bool(0.5) {
        return design;
    }
    // The disturbed block: broadband (low-frequency heavy) noise `level` times the quiet noise's RMS per
    // sample, everywhere but a gap around the trigger, slowly modulated.
    c.scale_to_snr(snr);
    let before = uniform(rng, 0.5, 3.0);
    let after = uniform(rng, 0.3, 2.5);
    let level = log_uniform(rng, 2.0, 8.0);
    let (start, end) = (c.time(0), c.time(c.buf.len() - 1));
    let period = uniform(rng, 2.0, 6.0);
    let p = phase(rng);
    let envelope = move |t: f64| {
        let on = if t < 0.0 { tukey_edge(t, start, -before) } else { tukey_edge(t, after, end) };
        on * (1.0 + 0.4 * (2.0 * PI * t / period + p).sin())
    };
    let samples = (c.range(start, -before).len() + c.range(after, end).len()) as f64;
    c.layer(level * samples.sqrt(), |c| {
        // Unit RMS each: the 10-100 Hz part has 20x the spectral density of the broadband part.
        c.band_noise(rng, start, end, 10.0, 2000.0, envelope);
        c.band_noise(rng, start, end, 10.0, 100.0, envelope);
    });
    let total = c.energy().sqrt();
    Design { shape: "disturbed_block".into(), snr: total, ..design }
        .with("glitch_snr", snr)
        .with("quiet_before_s", before)
        .with("quiet_after_s", after)
        .with("disturbance_rms", level)
}

/// 1 inside [t0, t1] with 0.2 s raised-cosine ramps at both ends (0 outside): a disturbance that starts and
/// stops within a fraction of a second.
fn tukey_edge(t: f64, t0: f64, t1: f64) -> f64 {
    super::waveform::tukey(t, t0 - 0.1, t1 + 0.1, 0.2)
}
