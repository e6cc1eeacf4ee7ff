//! Scattered_Light: light scattered off a slowly swinging surface re-enters the beam with a phase 4π x(t)/λ.
//! Its instantaneous frequency is |2 v(t) / λ|, which for a mirror swinging as x = A sin(2π f_m t) draws
//! arches that peak at 2·A·2π f_m/λ and touch 0 Hz where the surface turns round. Multiple bounces add
//! harmonics n·|2v/λ| stacked above the fundamental.

use super::waveform::{tukey, Canvas};
use super::{log_uniform, phase, uniform, Design};
use chacha20::ChaCha8Rng;
use rand::RngExt;
use std::f64::consts::PI;

const LAMBDA_M: f64 = 1.064e-6; // Nd:YAG laser wavelength

pub fn scattered_light(rng: &mut ChaCha8Rng, c: &mut Canvas) -> Design {
    // Real O1/O3 arches are modest: one to three stacked arches with flat tops at 15-40 Hz, each lit for
    // 1.5-4 s around the trigger (their lower flanks fade into the seismic noise), bright only in a narrow band
    // (Gravity Spy's mean SNR is 16, peak 30 Hz, duration 2.6 s). Long trains of loud arches with many
    // harmonics up to 200 Hz look like nothing the detectors showed.
    let snr = log_uniform(rng, 15.0, 50.0);
    let f_max = log_uniform(rng, 15.0, 35.0); // peak fringe frequency of the lowest visible arch
    let arch_period = uniform(rng, 2.0, 5.0); // time between turning points = 1/(2 f_m)
    let f_m = 1.0 / (2.0 * arch_period);
    let amplitude_m = f_max * LAMBDA_M / (4.0 * PI * f_m);
    let offset = uniform(rng, -0.1, 0.1) * arch_period; // the trigger sits near an arch top
    // Visible arches are bounce orders n0, n0+1, ... of one fundamental: often the first visible one is the
    // second or third order (the fundamental sits below 10 Hz), which stacks them closer than 1:2:3.
    let first_order = rng.random_range(1..=3usize);
    let arches = rng.random_range(1..=3usize);
    let span = uniform(rng, 1.5, 3.5).min(0.8 * arch_period);
    let t_start = offset - 0.5 * span;
    let t_end = t_start + span;
    let phases: Vec<f64> = (0..arches).map(|_| phase(rng)).collect();
    let decay = uniform(rng, 0.3, 0.8);
    for (k, p) in phases.iter().enumerate() {
        // Relative order: the lowest visible arch peaks at f_max, the next at f_max (n0 + 1) / n0, ...
        let n = (first_order + k) as f64 / first_order as f64;
        c.layer(decay.powi(k as i32), |c| {
            c.phase_signal(
                t_start,
                t_end,
                |t| n * 4.0 * PI * amplitude_m * (2.0 * PI * f_m * (t - offset)).sin() / LAMBDA_M + p,
                |t| tukey(t, t_start, t_end, 0.4 * span),
            )
        });
    }
    Design::new("arches", snr, f_max, span)
        .with("mirror_amplitude_m", amplitude_m)
        .with("mirror_frequency_hz", f_m)
        .with("first_order", first_order as f64)
        .with("arches", arches as f64)
}
