//! Building blocks for glitch waveforms, drawn in *whitened* units.
//!
//! Every glitch is drawn on a [`Canvas`] as if the detector noise were white with unit variance per sample; the
//! noise model colours the sum of noise and glitch afterwards. Drawing in the whitened domain is what makes the
//! SNR exact (SNR² = Σ g² for unit-variance white noise, which equals the matched-filter SNR 4∫|h̃|²/S df once
//! both are coloured by the same ASD) and what makes the shapes we draw be the shapes the Q-transform shows
//! after it whitens the strain again.

use rand::RngExt;
use rand_distr::StandardNormal;
use std::f64::consts::PI;

/// A whitened time series centred on the trigger: sample `center` is t = 0 s.
pub struct Canvas {
    pub fs: f64,
    pub center: usize,
    pub buf: Vec<f64>,
}

impl Canvas {
    pub fn new(sample_rate: f64, len: usize) -> Self {
        Canvas { fs: sample_rate, center: len / 2, buf: vec![0.0; len] }
    }

    /// Time in seconds of sample `i`, relative to the trigger.
    pub fn time(&self, i: usize) -> f64 {
        (i as f64 - self.center as f64) / self.fs
    }

    /// Sample indices covering [t0, t1] (seconds from the trigger), clipped to the block.
    pub fn range(&self, t0: f64, t1: f64) -> std::ops::Range<usize> {
        let to_index = |t: f64| (self.center as f64 + t * self.fs).round().clamp(0.0, self.buf.len() as f64) as usize;
        to_index(t0)..to_index(t1).max(to_index(t0))
    }

    /// Sum of squares: the SNR² of what is drawn, in unit-variance white noise.
    pub fn energy(&self) -> f64 {
        self.buf.iter().map(|x| x * x).sum()
    }

    /// Scales everything drawn so far to the given SNR (no-op on an empty canvas).
    pub fn scale_to_snr(&mut self, snr: f64) {
        let e = self.energy();
        if e > 0.0 {
            let k = snr / e.sqrt();
            self.buf.iter_mut().for_each(|x| *x *= k);
        }
    }

    /// Draws one component on a blank canvas, normalises it to unit SNR and adds it with SNR `weight`.
    /// Lets a class say "the head carries 3x the SNR of the tail" without knowing the shapes' energies.
    pub fn layer(&mut self, weight: f64, draw: impl FnOnce(&mut Canvas)) {
        let mut part = Canvas { fs: self.fs, center: self.center, buf: vec![0.0; self.buf.len()] };
        draw(&mut part);
        let e = part.energy();
        if e > 0.0 {
            let k = weight / e.sqrt();
            self.buf.iter_mut().zip(&part.buf).for_each(|(x, p)| *x += k * p);
        }
    }

    /// Sine-Gaussian at t0 with central frequency f0 and quality factor q (gwpy/Omicron convention:
    /// envelope exp(-(t/τ)²), τ = q / (√2 π f0)).
    pub fn sine_gaussian(&mut self, t0: f64, f0: f64, q: f64, amp: f64, phase: f64) {
        let tau = q / (2f64.sqrt() * PI * f0);
        for i in self.range(t0 - 4.0 * tau, t0 + 4.0 * tau) {
            let t = self.time(i) - t0;
            self.buf[i] += amp * (-(t / tau).powi(2)).exp() * (2.0 * PI * f0 * t + phase).cos();
        }
    }

    /// Short broadband pulse: a Gaussian of width sigma, differentiated `order` times (spectrum peaks near
    /// √order / (2π sigma) and falls off like a Gaussian above). Blip-like glitches are such pulses.
    pub fn gaussian_pulse(&mut self, t0: f64, sigma: f64, order: u32, amp: f64) {
        for i in self.range(t0 - 6.0 * sigma, t0 + 6.0 * sigma) {
            let x = (self.time(i) - t0) / sigma;
            // Hermite functions: the n-th derivative of exp(-x²/2) is (-1)^n He_n(x) exp(-x²/2).
            let he = match order {
                0 => 1.0,
                1 => x,
                2 => x * x - 1.0,
                _ => x * x * x - 3.0 * x,
            };
            self.buf[i] += amp * he * (-0.5 * x * x).exp();
        }
    }

    /// A tone following the frequency track `freq(t)` with envelope `amp(t)` over [t0, t1]; the phase is the
    /// running integral of 2π f, so any smooth track gives a clean line in the Q-transform.
    pub fn track(&mut self, t0: f64, t1: f64, phase0: f64, freq: impl Fn(f64) -> f64, amp: impl Fn(f64) -> f64) {
        let mut phase = phase0;
        let dt = 1.0 / self.fs;
        for i in self.range(t0, t1) {
            let t = self.time(i);
            self.buf[i] += amp(t) * phase.sin();
            phase += 2.0 * PI * freq(t) * dt;
        }
    }

    /// A signal given by its phase `phase(t)` (radians) and envelope: sin(phase(t)) * amp(t). Scattered light is
    /// naturally written this way (phase = 4π x(t) / λ).
    pub fn phase_signal(&mut self, t0: f64, t1: f64, phase: impl Fn(f64) -> f64, amp: impl Fn(f64) -> f64) {
        for i in self.range(t0, t1) {
            let t = self.time(i);
            self.buf[i] += amp(t) * phase(t).sin();
        }
    }

    /// Gaussian noise band-passed to [f_lo, f_hi] (two cascaded RBJ band-pass biquads), unit RMS, times `amp(t)`.
    pub fn band_noise<R: RngExt + ?Sized>(
        &mut self,
        rng: &mut R,
        t0: f64,
        t1: f64,
        f_lo: f64,
        f_hi: f64,
        amp: impl Fn(f64) -> f64,
    ) {
        let range = self.range(t0, t1);
        if range.is_empty() {
            return;
        }
        let fc = (f_lo * f_hi).sqrt();
        let q = (fc / (f_hi - f_lo).max(1e-3)).max(0.3);
        let mut stages = [Biquad::band_pass(fc, q, self.fs), Biquad::band_pass(fc, q, self.fs)];
        // Pre-roll so the filters have settled when the band starts.
        let preroll = (4.0 * q * self.fs / fc).ceil() as usize + 16;
        let mut filtered = Vec::with_capacity(range.len());
        for k in 0..preroll + range.len() {
            let mut x: f64 = rng.sample(StandardNormal);
            for s in &mut stages {
                x = s.step(x);
            }
            if k >= preroll {
                filtered.push(x);
            }
        }
        let rms = (filtered.iter().map(|x| x * x).sum::<f64>() / filtered.len() as f64).sqrt().max(1e-300);
        for (i, x) in range.zip(filtered) {
            let t = self.time(i);
            self.buf[i] += amp(t) * x / rms;
        }
    }
}

/// RBJ audio-cookbook biquad (constant 0 dB peak gain band-pass).
struct Biquad {
    b: [f64; 3],
    a: [f64; 2],
    z: [f64; 2],
}

impl Biquad {
    fn band_pass(fc: f64, q: f64, fs: f64) -> Self {
        let w0 = 2.0 * PI * (fc / fs).min(0.49);
        let alpha = w0.sin() / (2.0 * q);
        let a0 = 1.0 + alpha;
        Biquad {
            b: [alpha / a0, 0.0, -alpha / a0],
            a: [-2.0 * w0.cos() / a0, (1.0 - alpha) / a0],
            z: [0.0; 2],
        }
    }

    /// Transposed direct form II.
    fn step(&mut self, x: f64) -> f64 {
        let y = self.b[0] * x + self.z[0];
        self.z[0] = self.b[1] * x - self.a[0] * y + self.z[1];
        self.z[1] = self.b[2] * x - self.a[1] * y;
        y
    }
}

/// Tukey window: 1 inside [t0 + taper, t1 - taper], cosine ramps to 0 at t0 and t1.
pub fn tukey(t: f64, t0: f64, t1: f64, taper: f64) -> f64 {
    if t <= t0 || t >= t1 {
        return 0.0;
    }
    let taper = taper.min(0.5 * (t1 - t0)).max(1e-9);
    let edge = (t - t0).min(t1 - t);
    if edge >= taper { 1.0 } else { 0.5 - 0.5 * (PI * edge / taper).cos() }
}

/// Gaussian bump exp(-((t - t0) / width)² / 2).
pub fn gauss(t: f64, t0: f64, width: f64) -> f64 {
    (-0.5 * ((t - t0) / width).powi(2)).exp()
}
