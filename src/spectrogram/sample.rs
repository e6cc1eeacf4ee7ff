//! Sampling a [`QScan`] on an output grid: gwpy's `QGram.interpolate`.
//!
//! gwpy first interpolates every row in time with a cubic spline
//! (`InterpolatedUnivariateSpline`, cast to float32), then across rows in
//! frequency with a cubic `RectBivariateSpline` evaluated at its own time
//! nodes, which reduces to a not-a-knot spline over the row frequencies per
//! time column, clamped to the lowest/highest row outside them. Here the same
//! two passes run on any set of times and frequencies, so one scan serves
//! several views (0.5/1/2/4 s) and both gwpy's linear grid and log-spaced
//! pixel rows.

use super::spline::{FixedNodeSpline, SplineWork, eval_uniform_local};
use super::{QScan, Spectrogram, SpectrogramError};

/// `numpy.arange(start, stop, step)` for float64: length
/// `ceil((stop - start) / step)`, values `start + i * ((start + step) - start)`.
pub(crate) fn arange_f64(start: f64, stop: f64, step: f64) -> Vec<f64> {
    let len = ((stop - start) / step).ceil().max(0.0) as usize;
    let delta = (start + step) - start;
    (0..len)
        .map(|i| {
            if i == 0 {
                start
            } else {
                start + i as f64 * delta
            }
        })
        .collect()
}

/// `numpy.arange(start, stop, step, dtype=float32)`, returned as f64.
pub(crate) fn arange_f32(start: f64, stop: f64, step: f64) -> Vec<f64> {
    let len = ((stop - start) / step).ceil().max(0.0) as usize;
    let s = start as f32;
    let delta = ((start + step) as f32) - s;
    (0..len)
        .map(|i| {
            if i == 0 {
                s as f64
            } else {
                (s + i as f32 * delta) as f64
            }
        })
        .collect()
}

fn check_window(t_start: f64, t_end: f64) -> Result<(), SpectrogramError> {
    if !(t_start.is_finite() && t_end.is_finite() && t_end > t_start) {
        return Err(SpectrogramError::InvalidParameter {
            name: "time window",
            reason: format!("need finite t_start < t_end, got [{t_start}, {t_end}]"),
        });
    }
    Ok(())
}

impl QScan {
    /// gwpy's `interpolate(tres, fres, logf=False, outseg=(t_start, t_end))`:
    /// times `numpy.arange(t_start, t_end, tres)`, frequencies
    /// `numpy.arange(frange.0, frange.1, fres, dtype=float32)`. Times are
    /// seconds from the first strain sample.
    pub fn grid(
        &self,
        t_start: f64,
        t_end: f64,
        tres: f64,
        fres: f64,
    ) -> Result<Spectrogram, SpectrogramError> {
        check_window(t_start, t_end)?;
        for (name, v) in [("tres", tres), ("fres", fres)] {
            if !(v > 0.0 && v.is_finite()) {
                return Err(SpectrogramError::InvalidParameter {
                    name,
                    reason: format!("must be positive, got {v}"),
                });
            }
        }
        let times = arange_f64(t_start, t_end, tres);
        let freqs = arange_f32(self.frange.0, self.frange.1, fres);
        Ok(self.sample(&times, &freqs))
    }

    /// Samples `n_times x n_freqs` cell centres: times evenly spaced over
    /// `[t_start, t_end]`, frequencies evenly spaced in log2 over
    /// `[f_min, f_max]` (ascending). This is what a picture with a log2
    /// frequency axis shows in each pixel.
    pub fn sample_log(
        &self,
        t_start: f64,
        t_end: f64,
        n_times: usize,
        f_min: f64,
        f_max: f64,
        n_freqs: usize,
    ) -> Result<Spectrogram, SpectrogramError> {
        check_window(t_start, t_end)?;
        if !(f_min > 0.0 && f_max > f_min && f_max.is_finite()) {
            return Err(SpectrogramError::InvalidParameter {
                name: "frequency range",
                reason: format!("need 0 < f_min < f_max, got [{f_min}, {f_max}]"),
            });
        }
        if n_times == 0 || n_freqs == 0 {
            return Err(SpectrogramError::InvalidParameter {
                name: "grid size",
                reason: format!(
                    "need at least one time and one frequency, got {n_times} x {n_freqs}"
                ),
            });
        }
        let dt = (t_end - t_start) / n_times as f64;
        let times: Vec<f64> = (0..n_times)
            .map(|i| t_start + (i as f64 + 0.5) * dt)
            .collect();
        let (l0, l1) = (f_min.log2(), f_max.log2());
        let dl = (l1 - l0) / n_freqs as f64;
        let freqs: Vec<f64> = (0..n_freqs)
            .map(|k| (l0 + (k as f64 + 0.5) * dl).exp2())
            .collect();
        Ok(self.sample(&times, &freqs))
    }

    /// Samples the plane at any times (seconds from the first strain sample)
    /// and frequencies (Hz): the two spline passes of gwpy's `interpolate`.
    /// Output layout is `[time][frequency]`.
    pub fn sample(&self, times: &[f64], freqs: &[f64]) -> Spectrogram {
        let nrows = self.rows.len();
        let nt = times.len();
        // Pass 1: each row's time spline at `times`, stored [time][row] and
        // rounded to float32 like gwpy's intermediate spectrogram.
        let mut by_time = vec![0.0f64; nt * nrows];
        let mut values = Vec::with_capacity(nt);
        let mut work = SplineWork::default();
        for (r, row) in self.rows.iter().enumerate() {
            eval_uniform_local(0.0, row.dt, &row.energy, times, &mut values, &mut work);
            for (t, v) in values.iter().enumerate() {
                by_time[t * nrows + r] = *v as f32 as f64;
            }
        }
        // Pass 2: across rows in frequency, per time column.
        let nodes: Vec<f64> = self.rows.iter().map(|r| r.frequency).collect();
        let spline = FixedNodeSpline::new(&nodes, freqs);
        let nf = freqs.len();
        let mut data = vec![0.0f32; nt * nf];
        let mut m = Vec::with_capacity(nrows);
        if nrows > 0 && nf > 0 {
            for (column, out) in by_time.chunks(nrows).zip(data.chunks_mut(nf)) {
                spline.eval_into(column, out, &mut m);
            }
        }
        Spectrogram {
            times: times.to_vec(),
            freqs: freqs.to_vec(),
            data,
        }
    }
}

#[cfg(test)]
mod tests {
    // In the browser (wasm-pack test), each #[test] below runs as a wasm_bindgen_test.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;
    use super::*;

    #[test]
    fn arange_matches_numpy() {
        // numpy.arange(5.0, 9.0, 0.01): 400 values, last 8.989999999999915
        let t = arange_f64(5.0, 9.0, 0.01);
        assert_eq!(t.len(), 400);
        assert_eq!(t[399], 8.989999999999915);
        // numpy.arange(10, 1290.6, 2.0, dtype=float32): 641 values
        let f = arange_f32(10.0, 1290.6, 2.0);
        assert_eq!(f.len(), 641);
        assert_eq!(f[640], 1290.0);
    }
}
