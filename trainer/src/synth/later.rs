//! Glitch classes that Gravity Spy added after O1, drawn only as *unseen* classes for the discovery benchmark
//! (`glitchscope unseen --synthetic`): no training set or default class list here includes them, so a network
//! trained on this generator never sees one.
//!
//! What each is drawn from (the public descriptions; the morphology is all that is known here):
//! - `Blip_Low_Frequency`: added to the O3 machine-learning model (Glanzer et al. 2023, CQG 40 065004): a blip
//!   whose energy sits at low frequency, a small round drop below ~100 Hz instead of a teardrop reaching the top
//!   of the plot. Volunteers' LOWFREQUENCYBLIP is the same shape (not drawn twice). Its look-alikes: Tomte,
//!   Blip, Low_Frequency_Burst.
//! - `Fast_Scattering` ("Crown" to volunteers; Soni et al. 2021, CQG 38 195016): short arches repeating
//!   quickly below ~60 Hz, from surfaces moving at 1-6 Hz (ground motion from trains and traffic). The shared
//!   O3 L1 pictures hold 30 real ones, so its synthetic and real rows can be set side by side; the arch rate
//!   was read off those pictures, so that comparison checks the rendering, not an independent description.
//! - `70HZLINE` (a volunteer label on Zooniverse, not in any machine-learning model; Gravity Spy's data release
//!   of volunteer classifications, 2024): a narrow line near 70 Hz that lasts seconds. Its look-alikes:
//!   Power_Line (60 Hz, short spindles) and Air_Compressor (~50 Hz band).
//! - `HIGHFREQUENCYBURST` (volunteer label, same release): a short burst whose energy is only at high
//!   frequency (hundreds of Hz to 2 kHz), with nothing at the bottom of the plot. Its look-alikes: the top of
//!   a Blip, 1400Ripples, Violin_Mode.
//!
//! PIZZICATO, the fourth volunteer-only label of that release, is not drawn: no public description of its shape
//! was found, and a guess would measure the guess.

use super::waveform::{tukey, Canvas};
use super::{log_uniform, phase, tone_snr, uniform, Design};
use chacha20::ChaCha8Rng;
use rand::RngExt;
use std::f64::consts::PI;

/// The later classes and the share of H1 among them (Fast_Scattering and Blip_Low_Frequency were found
/// mostly at Livingston; the volunteer-only classes have no published detector counts, so 1/2).
pub const LATER_CLASSES: [(&str, f64); 4] =
    [("Blip_Low_Frequency", 0.25), ("Fast_Scattering", 0.1), ("70HZLINE", 0.5), ("HIGHFREQUENCYBURST", 0.5)];


/// Draws the glitch of a later class, or None for a name that is not one.
pub fn draw(class: &str, rng: &mut ChaCha8Rng, c: &mut Canvas) -> Option<Design> {
    Some(match class {
        "Blip_Low_Frequency" => blip_low_frequency(rng, c),
        "Fast_Scattering" => fast_scattering(rng, c),
        "70HZLINE" => line_70hz(rng, c),
        "HIGHFREQUENCYBURST" => high_frequency_burst(rng, c),
        _ => return None,
    })
}

fn blip_low_frequency(rng: &mut ChaCha8Rng, c: &mut Canvas) -> Design {
    // A round drop at 18-50 Hz, 20-60 ms long, with a short needle (first derivative of a 2-4 ms Gaussian:
    // its spectrum peaks at 40-80 Hz) that tapers out by ~150 Hz. A Blip's needle is ten times shorter and
    // reaches the top of the plot; a Tomte's triangle reaches 150-300 Hz.
    let snr = log_uniform(rng, 10.0, 40.0);
    let f_bulb = log_uniform(rng, 18.0, 50.0);
    let q = uniform(rng, 3.0, 6.0);
    let sigma = log_uniform(rng, 2.0e-3, 4.0e-3);
    let needle_weight = uniform(rng, 0.05, 0.25);
    let t0 = uniform(rng, -0.01, 0.01);
    let ph = phase(rng);
    // A Blip's drawing (bulb plus needle) with a low bulb and a long, weak needle.
    super::bursts::draw_blip(c, t0, f_bulb, q, sigma, needle_weight, ph);
    Design::new("low_drop", snr, f_bulb, q / f_bulb).with("q", q).with("needle_sigma_s", sigma).with("needle_weight", needle_weight)
}

fn fast_scattering(rng: &mut ChaCha8Rng, c: &mut Canvas) -> Design {
    // A train of short arches over 1.5-4 s: each a tone whose frequency rises to its top (18-45 Hz) and falls
    // back within 0.15-0.3 s, the next one 0.1-0.5 s later, as the 30 real O3 L1 4 s views show (a row of
    // short bright bumps at 20-40 Hz with gaps between them). Scattering off a surface in steady sinusoidal
    // motion would give evenly spaced arches, and the Q-transform then resolves the train into a comb of
    // horizontal lines, which no real one shows: the real trains are irregular (ground motion is not one tone).
    let snr = log_uniform(rng, 15.0, 60.0);
    let f_max = log_uniform(rng, 18.0, 45.0);
    let span = uniform(rng, 1.5, 4.0);
    let t_start = -span * uniform(rng, 0.3, 0.7);
    let t_end = t_start + span;
    let mut t = t_start;
    let mut bumps = 0usize;
    while t < t_end {
        let d = uniform(rng, 0.15, 0.3);
        let top = f_max * uniform(rng, 0.8, 1.15);
        let (t0, p, w) = (t, phase(rng), uniform(rng, 0.5, 1.0));
        // Frequency top * cos(π x / d) over the arch, from 0.3 top at its feet (what clears the plot's floor).
        c.layer(w, |c| c.track(t0, t0 + d, p, |x| top * (PI * (x - t0 - 0.5 * d) / d).cos().max(0.3), |x| tukey(x, t0, t0 + d, 0.3 * d)));
        bumps += 1;
        t += d + uniform(rng, 0.1, 0.5);
    }
    Design::new("crown", snr, f_max, span).with("arches", bumps as f64)
}

fn line_70hz(rng: &mut ChaCha8Rng, c: &mut Canvas) -> Design {
    // A steady tone at 67-73 Hz lasting 1.5-6 s (it crosses the 1 and 2 s views and much of the 4 s one), its
    // frequency wandering by up to ±0.7 Hz over a few seconds.
    let f0 = uniform(rng, 67.0, 73.0);
    let dur = log_uniform(rng, 1.5, 6.0);
    let snr = tone_snr(log_uniform(rng, 6.0, 14.0), f0, dur);
    let t0 = -dur * uniform(rng, 0.3, 0.7);
    let t1 = t0 + dur;
    let wander = uniform(rng, 0.0, 0.7);
    let wander_period = uniform(rng, 2.0, 6.0);
    let wp = phase(rng);
    let p = phase(rng);
    c.track(t0, t1, p, |t| f0 + wander * (2.0 * PI * t / wander_period + wp).sin(), |t| tukey(t, t0, t1, 0.15 * dur));
    Design::new("line_70hz", snr, f0, dur).with("wander_hz", wander)
}

fn high_frequency_burst(rng: &mut ChaCha8Rng, c: &mut Canvas) -> Design {
    // One to three low-Q sine-Gaussians at 300-1600 Hz within ±30 ms: a compact blob high on the plot with
    // nothing below ~200 Hz. Louder than a Blip's needle (SNR 20-80): the short tiles at high frequency spread
    // the energy thin, and a faint one would be invisible, not a glitch.
    let snr = log_uniform(rng, 20.0, 80.0);
    let parts = rng.random_range(1..=3usize);
    let f_main = log_uniform(rng, 300.0, 1600.0);
    for k in 0..parts {
        let f = if k == 0 { f_main } else { (f_main * uniform(rng, 0.7, 1.4)).clamp(250.0, 1900.0) };
        let q = uniform(rng, 3.0, 10.0);
        let t = uniform(rng, -0.03, 0.03);
        let p = phase(rng);
        c.layer(if k == 0 { 1.0 } else { uniform(rng, 0.4, 0.9) }, |c| c.sine_gaussian(t, f, q, 1.0, p));
    }
    Design::new("high_burst", snr, f_main, 0.05).with("parts", parts as f64)
}
