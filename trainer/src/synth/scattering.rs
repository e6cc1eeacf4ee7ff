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
    let snr = log_uniform(rng, 80.0, 250.0);
    let f_max = log_uniform(rng, 18.0, 55.0); // peak fringe frequency of the fundamental
    let arch_period = uniform(rng, 1.5, 5.0); // time between turning points = 1/(2 f_m)
    let f_m = 1.0 / (2.0 * arch_period);
    let amplitude_m = f_max * LAMBDA_M / (4.0 * PI * f_m);
    let offset = uniform(rng, -0.15, 0.15) * arch_period; // the trigger sits near an arch top
    let harmonics = rng.random_range(2..=5usize);
    let span = uniform(rng, 6.0, 14.0);
    let t_start = -span * uniform(rng, 0.3, 0.7);
    let t_end = t_start + span;
    let phases: Vec<f64> = (0..harmonics).map(|_| phase(rng)).collect();
    let decay = uniform(rng, 0.5, 0.9);
    for (k, p) in phases.iter().enumerate() {
        let n = (k + 1) as f64;
        c.layer(decay.powi(k as i32), |c| {
            c.phase_signal(
                t_start,
                t_end,
                |t| n * 4.0 * PI * amplitude_m * (2.0 * PI * f_m * (t - offset)).sin() / LAMBDA_M + p,
                |t| tukey(t, t_start, t_end, 1.0),
            )
        });
    }
    Design::new("arches", snr, f_max, span)
        .with("mirror_amplitude_m", amplitude_m)
        .with("mirror_frequency_hz", f_m)
        .with("harmonics", harmonics as f64)
}
