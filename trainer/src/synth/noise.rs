//! Detector noise: an analytic O1-like Advanced LIGO amplitude spectral density with a few narrow lines, and the
//! colouring that turns whitened (unit-variance) samples into strain with that ASD.
//!
//! The broadband shape is the aLIGO design fit of Ajith (2011, PRD 84 084037, "zero-detuned high power"),
//! raised by 3x (O1 reached about a third of design range) plus a steep seismic wall below ~20 Hz, which is where
//! O1 differed most from design. The lines are the ones every O1 spectrogram whitens away: 60 Hz mains and
//! harmonics, the ~500 Hz violin modes and their first harmonic, and the photon-calibrator lines.

use rand::RngExt;
use rand_distr::StandardNormal;
use realfft::RealFftPlanner;
use serde::{Deserialize, Serialize};

/// One narrow spectral line: frequency (Hz), width (Hz), peak ASD as a multiple of the broadband ASD.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Line {
    pub f: f64,
    pub width: f64,
    pub factor: f64,
}

/// An O1-like detector noise model.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NoiseModel {
    /// Overall ASD scale relative to the nominal O1-like curve (detectors drift by tens of percent).
    pub scale: f64,
    /// Corner of the seismic wall (Hz).
    pub seismic_corner_hz: f64,
    pub lines: Vec<Line>,
}

impl NoiseModel {
    /// A random model for one detector: scale, seismic corner and line heights vary a little from block to block.
    pub fn random<R: RngExt + ?Sized>(rng: &mut R, ifo: &str) -> Self {
        let mut lines = Vec::new();
        for k in 1..=3 {
            lines.push(Line { f: 60.0 * k as f64, width: 0.1, factor: rng.random_range(3.0..30.0) / k as f64 });
        }
        let violin = if ifo == "H1" { 508.0 } else { 502.0 };
        for k in 1..=2 {
            let base = violin * k as f64;
            for _ in 0..3 {
                lines.push(Line { f: base + rng.random_range(-6.0..6.0), width: 0.05, factor: rng.random_range(5.0..100.0) });
            }
        }
        let calibration: &[f64] = if ifo == "H1" { &[36.7, 331.9, 1083.7] } else { &[35.9, 331.3, 1083.1] };
        for &f in calibration {
            lines.push(Line { f, width: 0.03, factor: rng.random_range(5.0..20.0) });
        }
        NoiseModel {
            scale: rng.random_range(0.8..1.25),
            seismic_corner_hz: rng.random_range(14.0..22.0),
            lines,
        }
    }

    /// One-sided ASD in 1/√Hz at frequency f (Hz).
    pub fn asd(&self, f: f64) -> f64 {
        // Held flat below 10 Hz (the bottom of the plots): the wall would otherwise climb ~3 more decades by
        // 5 Hz, and that much power leaks through the Hann windows of any ASD estimate into the 20-50 Hz rows.
        let fb = f.max(10.0);
        let x = fb / 215.0;
        let design_psd = 1e-49 * (x.powf(-4.14) - 5.0 / (x * x) + 111.0 * (1.0 - x * x + 0.5 * x.powi(4)) / (1.0 + 0.5 * x * x));
        let broadband = 3.0 * design_psd.max(1e-50).sqrt();
        let seismic = broadband * (self.seismic_corner_hz / fb).powi(8);
        let base = (broadband * broadband + seismic * seismic).sqrt();
        let line_gain: f64 = self
            .lines
            .iter()
            .filter(|l| (f - l.f).abs() < 8.0 * l.width) // beyond 8 widths a line adds < 1e-13
            .map(|l| l.factor * (-0.5 * ((f - l.f) / l.width).powi(2)).exp())
            .sum();
        self.scale * base * (1.0 + line_gain)
    }

    /// Colours a whitened series in place: each Fourier bin is multiplied by ASD(f) * √(fs/2), so unit-variance
    /// white samples (one-sided PSD 2/fs) come out with PSD = ASD². The block is treated as periodic, which is
    /// harmless because the views sit in the middle of it.
    pub fn colour(&self, samples: &mut [f64], sample_rate: f64) -> anyhow::Result<()> {
        let n = samples.len();
        let mut planner = RealFftPlanner::<f64>::new();
        let forward = planner.plan_fft_forward(n);
        let inverse = planner.plan_fft_inverse(n);
        let mut spectrum = forward.make_output_vec();
        forward.process(samples, &mut spectrum).map_err(|e| anyhow::anyhow!("colouring FFT: {e}"))?;
        let gain = (sample_rate / 2.0).sqrt() / n as f64; // realfft's inverse is unnormalised
        for (k, c) in spectrum.iter_mut().enumerate() {
            let f = k as f64 * sample_rate / n as f64;
            *c *= if k == 0 { 0.0 } else { self.asd(f) * gain };
        }
        // DC and Nyquist bins must be real for the inverse real FFT.
        spectrum[0].im = 0.0;
        if let Some(last) = spectrum.last_mut() {
            last.im = 0.0;
        }
        inverse.process(&mut spectrum, samples).map_err(|e| anyhow::anyhow!("colouring inverse FFT: {e}"))?;
        Ok(())
    }
}

/// Adds unit-variance white Gaussian noise to `samples`.
pub fn add_white_noise<R: RngExt + ?Sized>(rng: &mut R, samples: &mut [f64]) {
    for x in samples.iter_mut() {
        let n: f64 = rng.sample(StandardNormal);
        *x += n;
    }
}
