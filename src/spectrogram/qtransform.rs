//! The multi-Q transform (gwpy 4.1.0 `TimeSeries.q_transform` up to, but not
//! including, the final interpolation, which lives in [`super::sample`]).
//!
//! For each Q plane and each frequency row, the row's slice of the
//! (normalised, one-sided) spectrum of the whitened data is multiplied by the
//! bisquare window, zero-padded to `ntiles`, inverse-FFT'd, squared and divided
//! by the row's median energy. The plane whose loudest tile inside the search
//! window is the loudest of all planes is kept, as a [`QScan`].

use std::sync::Arc;

use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};

use super::tiling::{QPlane, QTiling};
use super::whiten::{WhitenCache, WhitenParams, median_in_place, whiten};
use super::{QNorm, QParams, SpectrogramError};

/// One row of the kept Q plane: normalised tile energies at one frequency,
/// tile `i` centred at time `i * dt` (seconds from the first strain sample).
#[derive(Debug, Clone)]
pub struct QRow {
    pub frequency: f64,
    pub dt: f64,
    pub energy: Vec<f32>,
}

/// The loudest tile of the kept plane inside the search window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QPeak {
    /// Normalised energy of the tile.
    pub energy: f32,
    /// `sqrt(2 * energy)`.
    pub snr: f64,
    /// Tile time, seconds from the first strain sample.
    pub time: f64,
    pub frequency: f64,
}

/// The Q plane gwpy keeps: the one with the loudest tile in the search window.
/// Sample it on any time/frequency grid with [`QScan::grid`] or
/// [`QScan::sample_log`]; the expensive work is already done.
#[derive(Debug, Clone)]
pub struct QScan {
    pub(crate) q: f64,
    pub(crate) duration: f64,
    pub(crate) sample_rate: f64,
    pub(crate) frange: (f64, f64),
    pub(crate) rows: Vec<QRow>,
    pub(crate) peak: QPeak,
}

impl QScan {
    /// Q of the kept plane.
    pub fn q(&self) -> f64 {
        self.q
    }
    /// Duration of the transformed strain, seconds.
    pub fn duration(&self) -> f64 {
        self.duration
    }
    pub fn sample_rate(&self) -> f64 {
        self.sample_rate
    }
    /// The tiling's frequency range after gwpy's cap for the sample rate
    /// (the frequency axis of [`QScan::grid`]).
    pub fn frange(&self) -> (f64, f64) {
        self.frange
    }
    /// Rows of the kept plane, in increasing frequency.
    pub fn rows(&self) -> &[QRow] {
        &self.rows
    }
    /// Centre frequencies of the lowest and highest rows.
    pub fn row_frequency_range(&self) -> (f64, f64) {
        let first = self.rows.first().map_or(self.frange.0, |r| r.frequency);
        let last = self.rows.last().map_or(self.frange.1, |r| r.frequency);
        (first, last)
    }
    pub fn peak(&self) -> QPeak {
        self.peak
    }
}

/// Reusable state for many transforms: FFT plans (cached per size) and
/// scratch buffers. Use one per thread when rendering thousands of glitches.
pub struct QTransformer {
    complex: FftPlanner<f64>,
    whiten: WhitenCache,
    buffer: Vec<Complex<f64>>,
    scratch: Vec<Complex<f64>>,
    energy: Vec<f64>,
    sort: Vec<f64>,
}

impl Default for QTransformer {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for QTransformer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("QTransformer")
    }
}

/// The search window as gwpy builds it: `Segment(gps - search/2, gps + search/2) & span`.
fn search_segment(center: f64, search: Option<f64>, duration: f64) -> Option<(f64, f64)> {
    search.map(|w| {
        (
            (center - w / 2.0).max(0.0),
            (center + w / 2.0).min(duration),
        )
    })
}

impl QTransformer {
    pub fn new() -> Self {
        Self {
            complex: FftPlanner::new(),
            whiten: WhitenCache::default(),
            buffer: Vec::new(),
            scratch: Vec::new(),
            energy: Vec::new(),
            sort: Vec::new(),
        }
    }

    /// See [`super::q_transform`].
    pub fn transform(
        &mut self,
        strain: &[f64],
        sample_rate: f64,
        center_s: f64,
        params: &QParams,
    ) -> Result<QScan, SpectrogramError> {
        if !(sample_rate > 0.0 && sample_rate.is_finite()) {
            return Err(SpectrogramError::InvalidParameter {
                name: "sample_rate",
                reason: format!("must be positive, got {sample_rate}"),
            });
        }
        if let Some(index) = strain.iter().position(|v| !v.is_finite()) {
            return Err(SpectrogramError::NonFinite { index });
        }
        let n = strain.len();
        let duration = n as f64 * (1.0 / sample_rate);
        if !(center_s >= 0.0 && center_s <= duration) {
            return Err(SpectrogramError::CenterOutside {
                center_s,
                duration_s: duration,
            });
        }
        if let Some(s) = params.search
            && !(s > 0.0 && s.is_finite())
        {
            return Err(SpectrogramError::InvalidParameter {
                name: "search",
                reason: format!("must be a positive window width in seconds, got {s}"),
            });
        }
        let tiling = QTiling::new(
            duration,
            sample_rate,
            params.qrange,
            params.frange,
            params.mismatch,
        )?;

        let data = if params.whiten {
            let wp = WhitenParams {
                fftlength: params.fftlength,
                overlap: params.overlap,
                fduration: params.fduration,
                highpass: params.highpass,
            };
            whiten(strain, sample_rate, &wp, &mut self.whiten)?
        } else {
            strain.to_vec()
        };
        let fseries = self.spectrum(&data);

        let search = search_segment(center_s, params.search, duration);
        let mut best: Option<(QPlane, Vec<QRow>, QPeak)> = None;
        for plane in tiling.planes() {
            let rows = self.transform_plane(&plane, &fseries, params.norm)?;
            let peak = find_peak(&rows, search)?;
            // gwpy keeps the first plane whose peak is strictly louder.
            if peak.energy > best.as_ref().map_or(0.0, |b| b.2.energy) {
                best = Some((plane, rows, peak));
            }
        }
        let Some((plane, rows, peak)) = best else {
            return Err(SpectrogramError::NoPeak);
        };
        Ok(QScan {
            q: plane.q,
            duration,
            sample_rate,
            frange: tiling.frange,
            rows,
            peak,
        })
    }

    /// `TimeSeries.fft()`: `rfft(x) / n` with all but the DC bin doubled.
    fn spectrum(&mut self, x: &[f64]) -> Vec<Complex<f64>> {
        let n = x.len();
        let fft = self.whiten.planner.plan_fft_forward(n);
        let mut input = x.to_vec();
        let mut out = fft.make_output_vec();
        let _ = fft.process(&mut input, &mut out);
        let inv_n = 1.0 / n as f64;
        for (k, c) in out.iter_mut().enumerate() {
            *c *= if k == 0 { inv_n } else { 2.0 * inv_n };
        }
        out
    }

    fn transform_plane(
        &mut self,
        plane: &QPlane,
        fseries: &[Complex<f64>],
        norm: QNorm,
    ) -> Result<Vec<QRow>, SpectrogramError> {
        let freqs = plane.frequencies();
        let mut rows = Vec::with_capacity(freqs.len());
        for f in freqs {
            let tile = plane.tile(f);
            let nt = tile.ntiles;
            let window = tile.window();
            let first = tile.first_data_index();
            let last = first + window.len() as i64 - 1;
            if first < 0 || last >= fseries.len() as i64 {
                return Err(SpectrogramError::Tiling(format!(
                    "row at {f} Hz (Q = {:.3}) needs spectrum bins {first}..={last}, only 0..{} exist",
                    plane.q,
                    fseries.len()
                )));
            }
            let (left, _right) = tile.padding();
            // numpy.pad + ifftshift: padded[j] lands at (j - nt/2) mod nt.
            self.buffer.clear();
            self.buffer.resize(nt, Complex::new(0.0, 0.0));
            let half = (nt / 2) as i64;
            let src = &fseries[first as usize..=last as usize];
            for (m, (c, w)) in src.iter().zip(&window).enumerate() {
                let j = (left + m) as i64;
                let dst = (j - half).rem_euclid(nt as i64) as usize;
                self.buffer[dst] = c * *w;
            }
            let ifft: Arc<dyn Fft<f64>> = self.complex.plan_fft_inverse(nt);
            let need = ifft.get_inplace_scratch_len();
            if self.scratch.len() < need {
                self.scratch.resize(need, Complex::new(0.0, 0.0));
            }
            ifft.process_with_scratch(&mut self.buffer, &mut self.scratch[..need]);
            // numpy ifft normalises by 1/n; energy = |.|^2.
            let inv = 1.0 / nt as f64;
            let scale = inv * inv;
            self.energy.clear();
            self.energy
                .extend(self.buffer.iter().map(|c| c.norm_sqr() * scale));
            let divisor = match norm {
                QNorm::Median => {
                    self.sort.clear();
                    self.sort.extend_from_slice(&self.energy);
                    median_in_place(&mut self.sort)
                }
                QNorm::Mean => self.energy.iter().sum::<f64>() / nt as f64,
                QNorm::None => 1.0,
            };
            let energy = self.energy.iter().map(|e| (e / divisor) as f32).collect();
            rows.push(QRow {
                frequency: f,
                dt: tile.duration / nt as f64,
                energy,
            });
        }
        Ok(rows)
    }
}

/// gwpy `QGram._find_peak`: loudest tile of each row cropped to the search
/// window (`Series.crop` index arithmetic), first row wins ties.
fn find_peak(rows: &[QRow], search: Option<(f64, f64)>) -> Result<QPeak, SpectrogramError> {
    let mut peak = QPeak {
        energy: 0.0,
        snr: 0.0,
        time: 0.0,
        frequency: 0.0,
    };
    for row in rows {
        let n = row.energy.len();
        let (i0, i1) = match search {
            None => (0, n),
            Some((start, end)) => {
                let x1 = n as f64 * row.dt;
                let i0 = if start <= 0.0 {
                    0
                } else {
                    (start / row.dt).floor() as usize
                };
                let i1 = if end >= x1 {
                    n
                } else {
                    (end / row.dt).floor() as usize
                };
                (i0.min(n), i1.min(n))
            }
        };
        if i0 >= i1 {
            return Err(SpectrogramError::InvalidParameter {
                name: "search",
                reason: format!(
                    "the search window holds no tile of the {} Hz row",
                    row.frequency
                ),
            });
        }
        // numpy argmax: first maximum.
        let mut maxidx = i0;
        for i in i0..i1 {
            if row.energy[i] > row.energy[maxidx] {
                maxidx = i;
            }
        }
        let maxe = row.energy[maxidx];
        if maxe > peak.energy {
            peak = QPeak {
                energy: maxe,
                snr: (2.0 * maxe as f64).sqrt(),
                time: maxidx as f64 * row.dt,
                frequency: row.frequency,
            };
        }
    }
    Ok(peak)
}

#[cfg(test)]
mod tests {
    // In the browser (wasm-pack test), each #[test] below runs as a wasm_bindgen_test.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;
    use super::*;
    use crate::spectrogram::q_transform;

    fn noise(n: usize, seed: u64) -> Vec<f64> {
        let mut state = seed;
        (0..n)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
            })
            .collect()
    }

    #[test]
    fn transformer_and_scan_can_move_between_threads() {
        fn assert_send<T: Send>() {}
        assert_send::<QTransformer>();
        assert_send::<QScan>();
    }

    #[test]
    fn bad_input_gives_errors_not_panics() {
        let params = QParams::default();
        let mut t = QTransformer::new();
        let mut x = noise(8 * 1024, 1);
        x[100] = f64::NAN;
        assert!(matches!(
            t.transform(&x, 1024.0, 4.0, &params),
            Err(SpectrogramError::NonFinite { index: 100 })
        ));
        let x = noise(8 * 1024, 2);
        assert!(matches!(
            t.transform(&x, 1024.0, 9.0, &params),
            Err(SpectrogramError::CenterOutside { .. })
        ));
        assert!(matches!(
            t.transform(&x[..1024], 1024.0, 0.5, &params),
            Err(SpectrogramError::TooShort { .. })
        ));
        assert!(
            t.transform(&vec![0.0; 8 * 1024], 1024.0, 4.0, &params)
                .is_err()
        );
        assert!(t.transform(&x, 0.0, 4.0, &params).is_err());
        let bad = QParams {
            qrange: (8.0, 4.0),
            ..params
        };
        assert!(t.transform(&x, 1024.0, 4.0, &bad).is_err());
    }

    #[test]
    fn reusing_a_transformer_gives_the_same_scan() {
        let params = QParams::default();
        let x = noise(8 * 2048, 3);
        let mut t = QTransformer::new();
        let a = t.transform(&x, 2048.0, 4.0, &params).unwrap();
        let _ = t
            .transform(&noise(6 * 2048, 4), 2048.0, 3.0, &params)
            .unwrap();
        let b = t.transform(&x, 2048.0, 4.0, &params).unwrap();
        assert_eq!(a.q(), b.q());
        assert_eq!(a.rows().len(), b.rows().len());
        for (ra, rb) in a.rows().iter().zip(b.rows()) {
            assert_eq!(ra.energy, rb.energy);
        }
    }

    #[test]
    fn peak_lies_in_the_search_window_around_the_centre() {
        // A loud sine-Gaussian at 2.5 s and a louder one at 5.5 s: with the
        // search window at 2.5 s the peak must be the first one.
        let fs = 2048.0;
        let mut x = noise(8 * 2048, 5);
        for (i, v) in x.iter_mut().enumerate() {
            let t = i as f64 / fs;
            for (t0, a) in [(2.5, 10.0), (5.5, 40.0)] {
                *v += a
                    * (-((t - t0) / 0.01f64).powi(2)).exp()
                    * (2.0 * std::f64::consts::PI * 100.0 * (t - t0)).sin();
            }
        }
        let scan = q_transform(&x, fs, 2.5, &QParams::default()).unwrap();
        assert!((scan.peak().time - 2.5).abs() <= 0.25, "{:?}", scan.peak());
        let scan = q_transform(&x, fs, 5.5, &QParams::default()).unwrap();
        assert!((scan.peak().time - 5.5).abs() <= 0.25, "{:?}", scan.peak());
    }
}
