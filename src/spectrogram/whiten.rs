//! Whitening as gwpy 4.1.0 does it inside `TimeSeries.q_transform(whiten=True)`:
//!
//! 1. ASD by Welch's method with a **median** average (gwpy's default method),
//!    periodic Hann segments of `fftlength` (default `max(2, ceil(2048/fs))` s),
//!    50 % overlap, each segment mean-subtracted, scipy's median bias correction.
//! 2. The ASD linearly interpolated to a resolution of `1 / duration`.
//! 3. A FIR whitening filter of `fduration * fs` taps from `1 / ASD`
//!    (`gwpy.signal.filter_design.fir_from_transfer`): Tukey taper of 5 bins at
//!    both ends of the transfer function, inverse real FFT, Hann-truncated
//!    impulse response, rolled to be causal-centred.
//! 4. The mean-subtracted data, Hann-tapered over half a filter length at each
//!    end, convolved with the filter (`scipy.signal.fftconvolve(mode="same")`,
//!    which gwpy's overlap-save path equals exactly) and scaled by `sqrt(2 dt)`.

use std::collections::HashMap;
use std::f64::consts::PI;
use std::sync::Arc;

use realfft::RealFftPlanner;
use rustfft::num_complex::Complex;

use super::SpectrogramError;

/// Periodic ("DFT-even") Hann window, scipy's `get_window("hann", n)`.
pub(crate) fn hann_periodic(n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| 0.5 - 0.5 * (2.0 * PI * i as f64 / n as f64).cos())
        .collect()
}

/// Real-FFT plans and Hann windows, kept between transforms of the same size.
#[derive(Default)]
pub(crate) struct WhitenCache {
    pub planner: RealFftPlanner<f64>,
    hann: HashMap<usize, Arc<[f64]>>,
}

impl WhitenCache {
    fn hann(&mut self, n: usize) -> Arc<[f64]> {
        self.hann
            .entry(n)
            .or_insert_with(|| hann_periodic(n).into())
            .clone()
    }
}

/// scipy's `_median_bias(n)`: expected ratio of median to mean of `n`
/// chi-squared(2) periodogram values.
fn median_bias(n: usize) -> f64 {
    let upper = (n - 1) / 2;
    1.0 + (1..=upper)
        .map(|i| {
            let ii2 = 2.0 * i as f64;
            1.0 / (ii2 + 1.0) - 1.0 / ii2
        })
        .sum::<f64>()
}

/// numpy's median (mean of the two middle values for even counts).
pub(crate) fn median_in_place(v: &mut [f64]) -> f64 {
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    let k = n / 2;
    let (left, mid, _) = v.select_nth_unstable_by(k, f64::total_cmp);
    let upper = *mid;
    if n % 2 == 1 {
        upper
    } else {
        let lower = left.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lower + upper) / 2.0
    }
}

/// Smallest 2^a 3^b 5^c >= n: sizes rustfft handles fastest.
pub(crate) fn next_fast_len(n: usize) -> usize {
    let mut best = usize::MAX;
    let mut p5 = 1usize;
    while p5 < 2 * n.max(1) {
        let mut p35 = p5;
        while p35 < 2 * n.max(1) {
            let mut p = p35;
            while p < n {
                p *= 2;
            }
            best = best.min(p);
            p35 *= 3;
        }
        p5 *= 5;
    }
    best
}

/// Settings of the whitening step (gwpy's `q_transform` defaults in
/// [`WhitenParams::gwpy_default`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct WhitenParams {
    pub fftlength: Option<f64>,
    pub overlap: Option<f64>,
    pub fduration: f64,
    pub highpass: Option<f64>,
}

/// One-sided PSD by Welch's method with a median average, as
/// `scipy.signal.welch(x, fs, window=hann, nperseg, noverlap, average="median")`.
/// Returns the PSD at frequencies `k * fs / nperseg`.
fn welch_median_psd(
    x: &[f64],
    fs: f64,
    nperseg: usize,
    noverlap: usize,
    cache: &mut WhitenCache,
) -> Vec<f64> {
    let win = cache.hann(nperseg);
    let planner = &mut cache.planner;
    let scale = 1.0 / (fs * win.iter().map(|w| w * w).sum::<f64>());
    let step = nperseg - noverlap;
    let nseg = (x.len() - noverlap) / step;
    let nfreq = nperseg / 2 + 1;
    let fft = planner.plan_fft_forward(nperseg);
    let mut seg = fft.make_input_vec();
    let mut spec = fft.make_output_vec();
    let mut scratch = fft.make_scratch_vec();
    // periodograms[f][segment]
    let mut periodograms = vec![0.0f64; nfreq * nseg];
    for s in 0..nseg {
        let chunk = &x[s * step..s * step + nperseg];
        let mean = chunk.iter().sum::<f64>() / nperseg as f64;
        for ((o, &v), &w) in seg.iter_mut().zip(chunk).zip(win.iter()) {
            *o = (v - mean) * w;
        }
        // Lengths match by construction, so this cannot fail.
        let _ = fft.process_with_scratch(&mut seg, &mut spec, &mut scratch);
        for (f, c) in spec.iter().enumerate() {
            let mut p = c.norm_sqr() * scale;
            // One-sided: double all but DC and (for even nperseg) Nyquist.
            if f > 0 && !(nperseg.is_multiple_of(2) && f == nfreq - 1) {
                p *= 2.0;
            }
            periodograms[f * nseg + s] = p;
        }
    }
    let bias = if nseg > 1 { median_bias(nseg) } else { 1.0 };
    periodograms
        .chunks_mut(nseg)
        .map(|col| {
            if nseg > 1 {
                median_in_place(col) / bias
            } else {
                col[0]
            }
        })
        .collect()
}

/// The FIR whitening filter (gwpy `fir_from_transfer(1/asd, ntaps, "hann", ncorner)`).
fn fir_from_inverse_asd(
    transfer: &mut [f64],
    ntaps: usize,
    ncorner: usize,
    cache: &mut WhitenCache,
) -> Result<Vec<f64>, SpectrogramError> {
    let nsamp = transfer.len();
    // _truncate_transfer: zero below the corner, 5-bin Tukey(alpha=1) taper at both ends.
    let nsamples = 5;
    for v in transfer.iter_mut().take(ncorner.min(nsamp)) {
        *v = 0.0;
    }
    if nsamp > ncorner {
        // scipy tukey(10, alpha=1) is the symmetric Hann window of length 10.
        let tukey: Vec<f64> = (0..2 * nsamples)
            .map(|i| 0.5 * (1.0 - (2.0 * PI * i as f64 / (2 * nsamples - 1) as f64).cos()))
            .collect();
        for i in 0..nsamples.min(nsamp - ncorner) {
            transfer[ncorner + i] *= tukey[i];
        }
        for i in 0..nsamples.min(nsamp) {
            transfer[nsamp - nsamples + i] *= tukey[nsamples + i];
        }
    }
    // numpy irfft: output length 2 (m - 1), normalised by 1/n.
    let n = 2 * (nsamp - 1);
    if ntaps > n {
        return Err(SpectrogramError::TooShort {
            what: "the whitening filter (fduration)",
            needed: ntaps as f64,
            got: n as f64,
            unit: "samples",
        });
    }
    let ifft = cache.planner.plan_fft_inverse(n);
    let mut spec: Vec<Complex<f64>> = transfer.iter().map(|&v| Complex::new(v, 0.0)).collect();
    let mut impulse = ifft.make_output_vec();
    let _ = ifft.process(&mut spec, &mut impulse);
    let inv_n = 1.0 / n as f64;
    for v in impulse.iter_mut() {
        *v *= inv_n;
    }
    // _truncate_impulse: keep ntaps/2 samples at each end, Hann-tapered.
    let window = cache.hann(ntaps);
    let trunc_start = ntaps / 2;
    let trunc_stop = n - trunc_start;
    for i in 0..trunc_start {
        impulse[i] *= window[trunc_start + i];
    }
    for i in trunc_stop..n {
        impulse[i] *= window[i - trunc_stop];
    }
    for v in impulse[trunc_start..trunc_stop].iter_mut() {
        *v = 0.0;
    }
    // numpy.roll(impulse, int(ntaps/2 - 1))[0:ntaps]
    let shift = (ntaps as f64 / 2.0 - 1.0).trunc() as i64;
    Ok((0..ntaps)
        .map(|j| impulse[((j as i64 - shift).rem_euclid(n as i64)) as usize])
        .collect())
}

/// Linear convolution of `x` with `fir`, central part of length `x.len()`
/// (scipy `fftconvolve(x, fir, mode="same")`).
fn fft_convolve_same(x: &[f64], fir: &[f64], planner: &mut RealFftPlanner<f64>) -> Vec<f64> {
    let (n, m) = (x.len(), fir.len());
    let size = next_fast_len(n + m - 1);
    let fwd = planner.plan_fft_forward(size);
    let inv = planner.plan_fft_inverse(size);
    let mut scratch =
        vec![Complex::new(0.0, 0.0); fwd.get_scratch_len().max(inv.get_scratch_len())];
    let mut a = vec![0.0; size];
    a[..n].copy_from_slice(x);
    let mut fa = fwd.make_output_vec();
    let _ = fwd.process_with_scratch(&mut a, &mut fa, &mut scratch);
    let mut b = vec![0.0; size];
    b[..m].copy_from_slice(fir);
    let mut fb = fwd.make_output_vec();
    let _ = fwd.process_with_scratch(&mut b, &mut fb, &mut scratch);
    let inv_size = 1.0 / size as f64;
    for (p, q) in fa.iter_mut().zip(&fb) {
        *p = *p * *q * inv_size;
    }
    // The product of two real spectra keeps DC and Nyquist real up to rounding;
    // realfft insists on exact zeros there.
    fa[0].im = 0.0;
    if size.is_multiple_of(2) {
        let last = fa.len() - 1;
        fa[last].im = 0.0;
    }
    let _ = inv.process_with_scratch(&mut fa, &mut a, &mut scratch);
    let start = (m - 1) / 2;
    a[start..start + n].to_vec()
}

/// Whitens `x` (sampled at `fs`) exactly as gwpy 4.1.0's `q_transform` does.
pub(crate) fn whiten(
    x: &[f64],
    fs: f64,
    params: &WhitenParams,
    cache: &mut WhitenCache,
) -> Result<Vec<f64>, SpectrogramError> {
    let n = x.len();
    let duration = n as f64 * (1.0 / fs);
    // TimeSeries.q_transform: fftlength default, overlap = recommended (0.5) or 0
    // when one FFT covers the whole series.
    let fftlength = params
        .fftlength
        .unwrap_or_else(|| (2.0f64).max((2048.0 / fs).ceil()).trunc());
    let overlap = match params.overlap {
        Some(o) => o,
        None if fftlength == duration => 0.0,
        None => 0.5 * fftlength,
    };
    let nperseg = (fftlength * fs) as usize;
    let noverlap = (overlap * fs) as usize;
    if nperseg < 2 || nperseg > n {
        return Err(SpectrogramError::TooShort {
            what: "the ASD estimate (fftlength)",
            needed: fftlength,
            got: duration,
            unit: "s",
        });
    }
    if noverlap >= nperseg {
        return Err(SpectrogramError::InvalidParameter {
            name: "overlap",
            reason: format!("overlap {overlap} s must be shorter than fftlength {fftlength} s"),
        });
    }
    let psd = welch_median_psd(x, fs, nperseg, noverlap, cache);

    // FrequencySeries.interpolate(1 / duration): numpy.interp onto k * df.
    let df_old = fs / nperseg as f64;
    let df = 1.0 / duration;
    let n_samples = ((psd.len() - 1) as f64 * (df_old / df) + 1.0).round_ties_even() as usize;
    let mut transfer = Vec::with_capacity(n_samples);
    let last = psd.len() - 1;
    for k in 0..n_samples {
        let f = k as f64 * df;
        let pos = f / df_old;
        let asd = if pos >= last as f64 {
            psd[last].sqrt()
        } else {
            let i = pos.floor() as usize;
            // numpy.interp between neighbouring ASD values (ASD = sqrt(PSD)).
            let (a, b) = (psd[i].sqrt(), psd[i + 1].sqrt());
            let (fa, fb) = (i as f64 * df_old, (i + 1) as f64 * df_old);
            a + (b - a) * (f - fa) / (fb - fa)
        };
        if asd == 0.0 || !asd.is_finite() {
            return Err(SpectrogramError::ZeroAsd { frequency_hz: f });
        }
        transfer.push(1.0 / asd);
    }

    let ncorner = params.highpass.map(|hp| (hp / df) as usize).unwrap_or(0);
    let ntaps = (params.fduration * fs) as usize;
    if ntaps < 2 || ntaps > n {
        return Err(SpectrogramError::TooShort {
            what: "the whitening filter (fduration)",
            needed: params.fduration,
            got: duration,
            unit: "s",
        });
    }
    let fir = fir_from_inverse_asd(&mut transfer, ntaps, ncorner, cache)?;

    // detrend("constant"), then TimeSeries.convolve: taper pad = ceil(ntaps/2)
    // samples at each end with the matching halves of a Hann window.
    let mean = x.iter().sum::<f64>() / n as f64;
    let mut data: Vec<f64> = x.iter().map(|v| v - mean).collect();
    let pad = ntaps.div_ceil(2);
    let window = cache.hann(ntaps);
    for i in 0..pad.min(n) {
        data[i] *= window[i];
    }
    for i in 0..pad.min(n) {
        data[n - pad + i] *= window[ntaps - pad + i];
    }
    let mut out = fft_convolve_same(&data, &fir, &mut cache.planner);
    let norm = (2.0 / fs).sqrt();
    for v in out.iter_mut() {
        *v *= norm;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    // In the browser (wasm-pack test), each #[test] below runs as a wasm_bindgen_test.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;
    use super::*;

    #[test]
    fn median_bias_matches_scipy() {
        // scipy.signal._spectral_py._median_bias(13) and (4)
        assert!((median_bias(13) - 0.7301337551337552).abs() < 1e-12);
        assert!((median_bias(4) - 0.8333333333333333).abs() < 1e-12);
        assert_eq!(median_bias(1), 1.0);
    }

    #[test]
    fn median_matches_numpy() {
        assert_eq!(median_in_place(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median_in_place(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
    }

    #[test]
    fn fast_lengths_are_smooth_and_minimal() {
        assert_eq!(next_fast_len(65535), 65536);
        assert_eq!(next_fast_len(1000), 1000);
        assert_eq!(next_fast_len(1001), 1024);
        assert_eq!(next_fast_len(7), 8);
    }

    #[test]
    fn convolution_matches_direct_sum() {
        let x: Vec<f64> = (0..37).map(|i| ((i * 7 % 11) as f64) - 5.0).collect();
        let h: Vec<f64> = (0..8).map(|i| 1.0 / (i as f64 + 1.0)).collect();
        let got = fft_convolve_same(&x, &h, &mut RealFftPlanner::new());
        let start = (h.len() - 1) / 2;
        for (i, g) in got.iter().enumerate() {
            let k = i + start;
            let direct: f64 = (0..h.len())
                .filter(|&j| k >= j && k - j < x.len())
                .map(|j| h[j] * x[k - j])
                .sum();
            assert!((g - direct).abs() < 1e-9, "{i}: {g} vs {direct}");
        }
    }
}
