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
    let snr = log_uniform(rng, 20.0, 80.0);
    match rng.random_range(0..5) {
        0 => {
            // A box: flat band of noise, sharp in time and frequency.
            let f_lo = log_uniform(rng, 40.0, 600.0);
            let f_hi = f_lo * uniform(rng, 1.5, 3.0);
            let dur = log_uniform(rng, 0.2, 1.5);
            let (t0, t1) = (-0.5 * dur, 0.5 * dur);
            c.band_noise(rng, t0, t1, f_lo, f_hi, |t| tukey(t, t0, t1, 0.02));
            Design::new("box", snr, (f_lo * f_hi).sqrt(), dur).with("f_low_hz", f_lo).with("f_high_hz", f_hi)
        }
        1 => {
            // Falling sweep from high to low frequency (the reverse of an inspiral).
            let f_hi = log_uniform(rng, 300.0, 1500.0);
            let f_lo = log_uniform(rng, 30.0, 100.0);
            let dur = log_uniform(rng, 0.2, 1.0);
            let freq = move |t: f64| f_hi * (f_lo / f_hi).powf(((t + 0.5 * dur) / dur).clamp(0.0, 1.0));
            c.track(-0.5 * dur, 0.5 * dur, phase(rng), freq, |t| tukey(t, -0.5 * dur, 0.5 * dur, 0.2 * dur));
            Design::new("falling_sweep", snr, f_hi, dur).with("f_low_hz", f_lo)
        }
        2 => {
            // A wavy, frequency-modulated tone in the middle band.
            let f0 = log_uniform(rng, 100.0, 500.0);
            let depth = uniform(rng, 0.15, 0.4) * f0;
            let rate = uniform(rng, 1.0, 4.0);
            let dur = uniform(rng, 1.0, 3.0);
            let (t0, t1) = (-0.5 * dur, 0.5 * dur);
            c.track(t0, t1, phase(rng), |t| f0 + depth * (2.0 * PI * rate * t).sin(), |t| tukey(t, t0, t1, 0.2));
            Design::new("wavy_tone", snr, f0, dur).with("depth_hz", depth).with("rate_hz", rate)
        }
        3 => {
            // A vertical comb: simultaneous short tones at unrelated frequencies.
            let teeth = rng.random_range(3..=6usize);
            let dur = log_uniform(rng, 0.05, 0.3);
            let mut f_peak = 0.0;
            for _ in 0..teeth {
                let f = log_uniform(rng, 40.0, 1500.0);
                f_peak = f64::max(f_peak, f);
                let p = phase(rng);
                c.track(-0.5 * dur, 0.5 * dur, p, |_| f, |t| tukey(t, -0.5 * dur, 0.5 * dur, 0.3 * dur));
            }
            Design::new("comb", snr, f_peak, dur).with("teeth", teeth as f64)
        }
        _ => {
            // Two blobs far apart in frequency, side by side in time.
            let f1 = log_uniform(rng, 20.0, 80.0);
            let f2 = log_uniform(rng, 300.0, 1500.0);
            let dt = uniform(rng, 0.05, 0.4);
            let p1 = phase(rng);
            let p2 = phase(rng);
            c.layer(1.0, |c| c.track(-0.5, 0.5, p1, |_| f1, |t| gauss(t, -0.5 * dt, 0.12)));
            c.layer(uniform(rng, 0.5, 1.0), |c| c.sine_gaussian(0.5 * dt, f2, uniform(rng, 8.0, 30.0), 1.0, p2));
            Design::new("blob_pair", snr, f1, dt).with("f_high_hz", f2)
        }
    }
}
