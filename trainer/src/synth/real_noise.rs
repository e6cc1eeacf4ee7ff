//! Real detector noise under synthetic glitches (`glitchscope synth --real-noise NPZ`).
//!
//! Simulated Gaussian noise is stationary; real strain, once whitened, still carries non-stationarity, small
//! transients and residues of lines, which is what separates a real No_Glitch or None_of_the_Above picture from a
//! synthetic one. So a share of the synthetic glitches gets, around its trigger, a window of real whitened O3 noise
//! instead of the simulated one:
//!
//! - Source: the 14 s O3 segments of `../shared/data/strain/o3_glitches_deepextractor` (4096 Hz; a real glitch
//!   at the centre). Each is whitened by its own ASD exactly as the Q-transform whitens (gwpy's whiten, 2 s
//!   filter), and the two 5 s windows away from its glitch are kept: 0.75-5.75 s and 8.25-13.25 s (the 2 s filter
//!   spoils the first and last second; the glitch sits at 7 s). Segments whose glitch class lasts seconds
//!   (Scattered_Light, Light_Modulation: mean durations 2.6 and 2.3 s in Gravity Spy's O1 set) are left out, so no
//!   window holds part of a real glitch. Each window is scaled to unit robust standard deviation (MAD), so the
//!   transients it holds keep their loudness relative to its own noise.
//! - The windows are upsampled to the generator's 8192 Hz by zero-padding their spectrum: real noise fills
//!   0-2048 Hz (all the plots show), the simulated noise keeps the band above. In the block the real window
//!   replaces the simulated noise's low band over the 5 s around the trigger (the 4 s view and 0.5 s to spare),
//!   with a 0.25 s cosine cross-fade at both ends; the glitch is added on top, and the block is coloured by the
//!   detector ASD as before, so the Q-transform's own whitening sees a realistic coloured block.
//! - Which glitches, which window, time reversal and sign: drawn from a stream of their own (SHA-256 of the
//!   glitch's stream seed), so the glitches without real noise are bit-identical to the generator without it.

use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result, bail};
use chacha20::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use realfft::RealFftPlanner;
use sha2::{Digest, Sha256};

use glitchscope::spectrogram::{QParams, whiten_strain};

/// Length of a real-noise window, seconds.
pub const WINDOW_S: f64 = 5.0;
/// Cross-fade at each end of the window, seconds.
const FADE_S: f64 = 0.25;
/// Highest frequency the real noise carries (the Nyquist frequency of the 4096 Hz source).
const REAL_BAND_HZ: f64 = 2048.0;
/// Classes whose real glitch lasts long enough to reach the windows.
const LONG_CLASSES: [&str; 2] = ["Scattered_Light", "Light_Modulation"];

/// One window of real whitened noise at the generator's sample rate.
#[derive(Clone, Debug)]
pub struct Window {
    /// Where it comes from, e.g. `O3a/H1/Blip/h_input/0.npy@0.75s`.
    pub source: String,
    pub samples: Vec<f64>,
}

/// Real-noise windows, and how often the generator uses them.
#[derive(Clone, Debug)]
pub struct RealNoise {
    pub windows: Vec<Window>,
    /// Share of glitches that get real noise, in [0, 1].
    pub share: f64,
}

/// What a glitch got: the window, reversed in time or not, sign.
#[derive(Clone, Debug)]
pub struct Choice {
    pub window: usize,
    pub reversed: bool,
    pub negated: bool,
}

impl RealNoise {
    /// The windows of every usable segment of a DeepExtractor-style `.npz` (keys `<run>/<ifo>/<class>/h_input/<i>`,
    /// 14 s at 4096 Hz), upsampled to `sample_rate`.
    pub fn load_npz(path: &Path, sample_rate: f64, share: f64) -> Result<Self> {
        let file = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
        let mut zip = zip::ZipArchive::new(file).with_context(|| format!("{}: not a .npz (zip) file", path.display()))?;
        let mut names = Vec::new();
        for name in zip.file_names() {
            let name = name.with_context(|| format!("{}: an entry name is not readable", path.display()))?;
            if name.contains("/h_input/") {
                names.push(name.into_owned());
            }
        }
        names.sort();
        let mut segments = Vec::new();
        for name in names {
            if LONG_CLASSES.iter().any(|c| name.split('/').any(|part| part == *c)) {
                continue;
            }
            let mut bytes = Vec::new();
            zip.by_name(&name)
                .and_then(|mut f| f.read_to_end(&mut bytes).map_err(Into::into))
                .with_context(|| format!("{}: reading {name}", path.display()))?;
            let array = glitchscope::npy::read_npy_bytes(&bytes, &name)?;
            segments.push((name, array.data.iter().map(|&v| v as f64).collect::<Vec<f64>>()));
        }
        if segments.is_empty() {
            bail!("{}: no usable h_input segment (keys <run>/<ifo>/<class>/h_input/<i>)", path.display());
        }
        Self::from_segments(&segments, 4096.0, sample_rate, share).with_context(|| format!("{}", path.display()))
    }

    /// Windows from strain segments (name, samples at `source_rate`) with a glitch at their centre.
    pub fn from_segments(segments: &[(String, Vec<f64>)], source_rate: f64, sample_rate: f64, share: f64) -> Result<Self> {
        if !(0.0..=1.0).contains(&share) {
            bail!("real-noise share must be in [0, 1], got {share}");
        }
        let mut windows = Vec::new();
        let mut planner = RealFftPlanner::<f64>::new();
        for (name, strain) in segments {
            let duration = strain.len() as f64 / source_rate;
            if duration < 2.0 * WINDOW_S + 4.0 {
                bail!("{name}: {duration:.1} s of strain, need at least {} s", 2.0 * WINDOW_S + 4.0);
            }
            let white = whiten_strain(strain, source_rate, &QParams::default()).with_context(|| format!("whitening {name}"))?;
            let centre = duration / 2.0;
            for start in [0.75, centre + 1.25] {
                let a = (start * source_rate).round() as usize;
                let n = (WINDOW_S * source_rate).round() as usize;
                let mut w = white[a..a + n].to_vec();
                let scale = robust_std(&w);
                if !(scale > 0.0 && scale.is_finite()) {
                    bail!("{name}: the whitened window at {start} s is flat");
                }
                w.iter_mut().for_each(|x| *x /= scale);
                windows.push(Window { source: format!("{name}@{start:.2}s"), samples: upsample(&w, source_rate, sample_rate, &mut planner)? });
            }
        }
        Ok(RealNoise { windows, share })
    }

    /// Whether glitch (stream seed `digest`) gets real noise, and which.
    pub fn choose(&self, digest: &[u8; 32]) -> Option<Choice> {
        let mut h = Sha256::new();
        h.update(b"glitchscope-real-noise-v1");
        h.update(digest);
        let mut rng = ChaCha8Rng::from_seed(h.finalize().into());
        if self.windows.is_empty() || !rng.random_bool(self.share) {
            return None;
        }
        Some(Choice { window: rng.random_range(0..self.windows.len()), reversed: rng.random_bool(0.5), negated: rng.random_bool(0.5) })
    }

    /// Put the chosen window into `noise` (simulated unit-variance white noise at `sample_rate`), centred on
    /// sample `centre`: below 2048 Hz the window replaces the noise, cross-faded at its ends.
    pub fn apply(&self, choice: &Choice, noise: &mut [f64], centre: usize, sample_rate: f64) -> Result<()> {
        let window = &self.windows[choice.window].samples;
        let n = window.len();
        let Some(start) = centre.checked_sub(n / 2).filter(|s| s + n <= noise.len()) else {
            bail!("the block is too short for a {WINDOW_S} s real-noise window");
        };
        let mut planner = RealFftPlanner::<f64>::new();
        let low = low_pass(&noise[start..start + n], sample_rate, REAL_BAND_HZ, &mut planner)?;
        let fade = (FADE_S * sample_rate).round() as usize;
        let sign = if choice.negated { -1.0 } else { 1.0 };
        for i in 0..n {
            let real = if choice.reversed { window[n - 1 - i] } else { window[i] };
            let edge = i.min(n - 1 - i);
            let w = if edge >= fade { 1.0 } else { 0.5 - 0.5 * (std::f64::consts::PI * edge as f64 / fade as f64).cos() };
            noise[start + i] += w * (sign * real - low[i]);
        }
        Ok(())
    }
}

/// 1.4826 x the median absolute deviation: the standard deviation of Gaussian noise, unmoved by transients.
fn robust_std(x: &[f64]) -> f64 {
    let mut v: Vec<f64> = x.to_vec();
    v.sort_by(f64::total_cmp);
    let median = v[v.len() / 2];
    let mut dev: Vec<f64> = x.iter().map(|a| (a - median).abs()).collect();
    dev.sort_by(f64::total_cmp);
    1.4826 * dev[dev.len() / 2]
}

/// Band-limited interpolation from `from` Hz to `to` Hz (`to` a multiple of `from`) by zero-padding the
/// spectrum, scaled so that the result has the power spectral density of the input: unit-variance white noise
/// at `from` Hz becomes the low band of unit-variance white noise at `to` Hz.
fn upsample(x: &[f64], from: f64, to: f64, planner: &mut RealFftPlanner<f64>) -> Result<Vec<f64>> {
    let factor = (to / from).round() as usize;
    if factor < 1 || (factor as f64 * from - to).abs() > 1e-9 {
        bail!("cannot upsample from {from} Hz to {to} Hz (not an integer factor)");
    }
    let n = x.len();
    let m = n * factor;
    let forward = planner.plan_fft_forward(n);
    let mut input = x.to_vec();
    let mut spectrum = forward.make_output_vec();
    forward.process(&mut input, &mut spectrum).map_err(|e| anyhow::anyhow!("FFT: {e}"))?;
    let inverse = planner.plan_fft_inverse(m);
    let mut padded = inverse.make_input_vec();
    padded[..spectrum.len()].copy_from_slice(&spectrum);
    if n % 2 == 0 {
        // The source's Nyquist bin is shared by +f and -f; in the longer spectrum it is an ordinary bin.
        padded[n / 2] *= 0.5;
    }
    let mut out = inverse.make_output_vec();
    inverse.process(&mut padded, &mut out).map_err(|e| anyhow::anyhow!("FFT: {e}"))?;
    // Inverse FFT of length m is unnormalised (x m); interpolation needs 1/n; equal PSD another 1/sqrt(factor).
    let scale = 1.0 / (n as f64 * (factor as f64).sqrt());
    out.iter_mut().for_each(|v| *v *= scale);
    Ok(out)
}

/// The part of `x` below `cutoff` Hz (one FFT over the window, treated as periodic).
fn low_pass(x: &[f64], sample_rate: f64, cutoff: f64, planner: &mut RealFftPlanner<f64>) -> Result<Vec<f64>> {
    let n = x.len();
    let forward = planner.plan_fft_forward(n);
    let mut input = x.to_vec();
    let mut spectrum = forward.make_output_vec();
    forward.process(&mut input, &mut spectrum).map_err(|e| anyhow::anyhow!("FFT: {e}"))?;
    let keep = ((cutoff * n as f64 / sample_rate).floor() as usize).min(spectrum.len());
    spectrum[keep..].iter_mut().for_each(|c| *c = Default::default());
    spectrum[0] = Default::default();
    let inverse = planner.plan_fft_inverse(n);
    let mut out = inverse.make_output_vec();
    inverse.process(&mut spectrum, &mut out).map_err(|e| anyhow::anyhow!("FFT: {e}"))?;
    out.iter_mut().for_each(|v| *v /= n as f64);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_distr::StandardNormal;

    fn gaussian(n: usize, seed: u64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n).map(|_| rng.sample::<f64, _>(StandardNormal)).collect()
    }

    /// A 14 s "segment" at 4096 Hz: coloured noise with a loud 0.1 s burst 3 s in (inside the first window).
    fn segment() -> Vec<f64> {
        let mut x = gaussian(14 * 4096, 1);
        // Colour it (a steep low-frequency excess, as real strain has) so whitening has something to undo.
        let mut acc = 0.0;
        for v in x.iter_mut() {
            acc = 0.99 * acc + *v;
            *v = 1e-21 * (*v + 0.3 * acc);
        }
        for i in 0..410 {
            x[3 * 4096 + i] += 2e-20 * (2.0 * std::f64::consts::PI * 300.0 * i as f64 / 4096.0).sin();
        }
        x
    }

    #[test]
    fn windows_are_whitened_unit_noise_that_keeps_its_transients() {
        let real = RealNoise::from_segments(&[("seg".into(), segment())], 4096.0, 8192.0, 1.0).unwrap();
        assert_eq!(real.windows.len(), 2);
        let w = &real.windows[1].samples;
        assert_eq!(w.len(), (WINDOW_S * 8192.0) as usize);
        // Upsampled unit white noise at 4096 Hz: the low half of unit white noise at 8192 Hz, variance 1/2.
        let var = w.iter().map(|v| v * v).sum::<f64>() / w.len() as f64;
        assert!((var - 0.5).abs() < 0.08, "variance {var}");
        // The burst (2.25 s into the first window) stands out of the whitened noise.
        let first = &real.windows[0].samples;
        let at = |t: f64| first[(t * 8192.0) as usize..((t + 0.1) * 8192.0) as usize].iter().map(|v| v * v).sum::<f64>();
        assert!(at(2.25) > 20.0 * at(1.0), "burst {} vs noise {}", at(2.25), at(1.0));
        assert!(RealNoise::from_segments(&[("short".into(), vec![0.0; 4096 * 8])], 4096.0, 8192.0, 1.0).is_err());
    }

    #[test]
    fn applied_windows_replace_the_low_band_and_keep_the_high_band() {
        let real = RealNoise::from_segments(&[("seg".into(), segment())], 4096.0, 8192.0, 1.0).unwrap();
        let fs = 8192.0;
        let noise = gaussian(32 * 8192, 2);
        let mut mixed = noise.clone();
        let choice = Choice { window: 1, reversed: true, negated: false };
        let centre = 16 * 8192;
        real.apply(&choice, &mut mixed, centre, fs).unwrap();
        let n = real.windows[1].samples.len();
        let start = centre - n / 2;
        let mut planner = RealFftPlanner::<f64>::new();
        // Inside the window (past the fades): low band = the (reversed) real window, high band = the noise's.
        let (a, b) = (start + 4096, start + n - 4096);
        let low_mixed = low_pass(&mixed[start..start + n], fs, 2000.0, &mut planner).unwrap();
        let real_rev: Vec<f64> = real.windows[1].samples.iter().rev().copied().collect();
        let low_real = low_pass(&real_rev, fs, 2000.0, &mut planner).unwrap();
        let corr = |x: &[f64], y: &[f64]| {
            let dot: f64 = x.iter().zip(y).map(|(a, b)| a * b).sum();
            dot / (x.iter().map(|v| v * v).sum::<f64>() * y.iter().map(|v| v * v).sum::<f64>()).sqrt()
        };
        let c = corr(&low_mixed[4096..n - 4096], &low_real[4096..n - 4096]);
        assert!(c > 0.98, "low band follows the real window: {c}");
        let high = |x: &[f64]| {
            let low = low_pass(x, fs, 2100.0, &mut RealFftPlanner::new()).unwrap();
            x.iter().zip(low).map(|(a, l)| a - l).collect::<Vec<f64>>()
        };
        let c = corr(&high(&mixed[a..b]), &high(&noise[a..b]));
        assert!(c > 0.98, "high band is the simulated noise: {c}");
        // Outside the window nothing changed.
        assert_eq!(&mixed[..start], &noise[..start]);
        assert_eq!(&mixed[start + n..], &noise[start + n..]);
    }

    #[test]
    fn choices_are_deterministic_and_follow_the_share() {
        let real = RealNoise { windows: vec![Window { source: "w".into(), samples: vec![0.0; 8] }; 3], share: 0.3 };
        let digests: Vec<[u8; 32]> = (0..2000u32).map(|i| Sha256::digest(i.to_le_bytes()).into()).collect();
        let picked = digests.iter().filter(|d| real.choose(d).is_some()).count();
        assert!((500..700).contains(&picked), "{picked} of 2000 at share 0.3");
        let again: Vec<Option<usize>> = digests.iter().map(|d| real.choose(d).map(|c| c.window)).collect();
        let first: Vec<Option<usize>> = digests.iter().map(|d| real.choose(d).map(|c| c.window)).collect();
        assert_eq!(again, first);
        // Windows, reversal and sign spread evenly over the picked glitches.
        let picks: Vec<Choice> = digests.iter().filter_map(|d| real.choose(d)).collect();
        let reversed = picks.iter().filter(|c| c.reversed).count() as f64 / picks.len() as f64;
        let negated = picks.iter().filter(|c| c.negated).count() as f64 / picks.len() as f64;
        assert!((0.4..0.6).contains(&reversed) && (0.4..0.6).contains(&negated), "{reversed} {negated}");
        for w in 0..3 {
            let share = picks.iter().filter(|c| c.window == w).count() as f64 / picks.len() as f64;
            assert!((0.25..0.42).contains(&share), "window {w}: {share}");
        }
        let none = RealNoise { share: 0.0, ..real };
        assert!(digests.iter().all(|d| none.choose(d).is_none()));
    }
}
