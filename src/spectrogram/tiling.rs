//! Q-transform tiling geometry: which Q planes, which frequency rows, how many
//! time tiles per row and the bisquare window of each row.
//!
//! A line-by-line port of `QTiling`, `QPlane` and `QTile` in gwpy 4.1.0
//! (`gwpy/signal/qtransform.py`), including its quirks (the `+ 1` in the data
//! indices, Python's float floor division when rounding row frequencies to
//! multiples of `1 / duration`), so that the rows and tiles are the same
//! numbers gwpy uses.

use std::f64::consts::PI;

use super::SpectrogramError;

/// `2 * sqrt(mismatch / 3)`: fractional mismatch between neighbouring tiles.
fn deltam(mismatch: f64) -> f64 {
    2.0 * (mismatch / 3.0).sqrt()
}

/// Python's `a // b` for floats (CPython `float_floor_div`): it differs from
/// `(a / b).floor()` when `a / b` rounds up to an integer.
fn py_floordiv(a: f64, b: f64) -> f64 {
    let rem = a % b;
    let mut div = (a - rem) / b;
    if rem != 0.0 && (b < 0.0) != (rem < 0.0) {
        div -= 1.0;
    }
    if div != 0.0 {
        let mut floordiv = div.floor();
        if div - floordiv > 0.5 {
            floordiv += 1.0;
        }
        floordiv
    } else {
        0.0f64.copysign(a / b)
    }
}

/// `round_to_power(x, base=2, which="upper")`: the next power of two, with
/// the exponent computed as Python's `math.log(x, 2)` does.
fn next_power_of_two_like_gwpy(x: f64) -> usize {
    let exponent = (x.ln() / 2f64.ln()).ceil();
    2f64.powi(exponent as i32) as usize
}

/// The set of Q planes for one data segment (gwpy `QTiling`).
#[derive(Debug, Clone)]
pub(crate) struct QTiling {
    pub duration: f64,
    pub sampling: f64,
    pub mismatch: f64,
    pub qs: Vec<f64>,
    /// Frequency range after gwpy's defaults and its cap for the sample rate.
    pub frange: (f64, f64),
}

impl QTiling {
    pub fn new(
        duration: f64,
        sampling: f64,
        qrange: (f64, f64),
        frange: (f64, f64),
        mismatch: f64,
    ) -> Result<Self, SpectrogramError> {
        if !(qrange.0 > 0.0 && qrange.1 >= qrange.0 && qrange.1.is_finite()) {
            return Err(SpectrogramError::InvalidParameter {
                name: "qrange",
                reason: format!("need 0 < low <= high < inf, got {qrange:?}"),
            });
        }
        if !(mismatch > 0.0 && mismatch.is_finite()) {
            return Err(SpectrogramError::InvalidParameter {
                name: "mismatch",
                reason: format!("must be positive, got {mismatch}"),
            });
        }
        if !(frange.0 >= 0.0 && frange.1 > frange.0) || frange.0.is_nan() || frange.1.is_nan() {
            return Err(SpectrogramError::InvalidParameter {
                name: "frange",
                reason: format!("need 0 <= low < high, got {frange:?}"),
            });
        }
        let dm = deltam(mismatch);
        let cumum = (qrange.1 / qrange.0).ln() / 2f64.sqrt();
        let nplanes = ((cumum / dm).ceil()).max(1.0) as usize;
        let dq = cumum / nplanes as f64;
        let qs: Vec<f64> = (0..nplanes)
            .map(|i| qrange.0 * (2f64.sqrt() * dq * (i as f64 + 0.5)).exp())
            .collect();
        let qmin = qs.iter().copied().fold(f64::INFINITY, f64::min);
        let qmax = qs.iter().copied().fold(0.0, f64::max);

        let mut fmin = frange.0;
        let mut fmax = frange.1;
        if fmin == 0.0 {
            fmin = 50.0 * qmax / (2.0 * PI * duration);
        }
        // gwpy caps the upper frequency so that the widest (lowest-Q) tile
        // still fits below Nyquist: fs/2 / (1 + sqrt(11)/Qmin).
        let maxf = sampling / 2.0 / (1.0 + 11f64.sqrt() / qmin);
        if fmax.is_infinite() || fmax > maxf {
            fmax = maxf;
        }
        if fmin >= fmax {
            return Err(SpectrogramError::InvalidParameter {
                name: "frange",
                reason: format!(
                    "lower frequency {fmin} Hz is not below the usable upper frequency {fmax} Hz \
                     at {sampling} Hz sampling"
                ),
            });
        }
        Ok(Self {
            duration,
            sampling,
            mismatch,
            qs,
            frange: (fmin, fmax),
        })
    }

    pub fn planes(&self) -> impl Iterator<Item = QPlane> + '_ {
        self.qs
            .iter()
            .map(|&q| QPlane::new(q, self.frange, self.duration, self.sampling, self.mismatch))
    }
}

/// One Q plane (gwpy `QPlane`): its row frequencies.
#[derive(Debug, Clone)]
pub(crate) struct QPlane {
    pub q: f64,
    pub frange: (f64, f64),
    pub duration: f64,
    pub sampling: f64,
    pub mismatch: f64,
}

impl QPlane {
    fn new(q: f64, frange: (f64, f64), duration: f64, sampling: f64, mismatch: f64) -> Self {
        Self {
            q,
            frange,
            duration,
            sampling,
            mismatch,
        }
    }

    /// Central frequencies of the rows, rounded down to multiples of
    /// `1 / duration`, consecutive duplicates dropped (as gwpy does).
    pub fn frequencies(&self) -> Vec<f64> {
        let (minf, maxf) = self.frange;
        let q2 = (2.0 + self.q * self.q).sqrt();
        let fcum_mismatch = (maxf / minf).ln() * q2 / 2.0;
        let nfreq = ((fcum_mismatch / deltam(self.mismatch)).ceil()).max(1.0) as usize;
        let fstep = fcum_mismatch / nfreq as f64;
        let fstepmin = 1.0 / self.duration;
        let mut out: Vec<f64> = Vec::with_capacity(nfreq);
        for i in 0..nfreq {
            let f = minf * (2.0 / q2 * (i as f64 + 0.5) * fstep).exp();
            let this = py_floordiv(f, fstepmin) * fstepmin;
            if out.last() != Some(&this) {
                out.push(this);
            }
        }
        out
    }

    pub fn tile(&self, frequency: f64) -> QTile {
        QTile::new(
            self.q,
            frequency,
            self.duration,
            self.sampling,
            self.mismatch,
        )
    }
}

/// One row of tiles at fixed (Q, frequency) (gwpy `QTile`).
#[derive(Debug, Clone)]
pub(crate) struct QTile {
    pub q: f64,
    pub frequency: f64,
    pub duration: f64,
    pub sampling: f64,
    pub ntiles: usize,
    pub windowsize: usize,
}

impl QTile {
    fn new(q: f64, frequency: f64, duration: f64, sampling: f64, mismatch: f64) -> Self {
        let qprime = q / 11f64.sqrt();
        let tcum_mismatch = duration * 2.0 * PI * frequency / q;
        let ntiles = next_power_of_two_like_gwpy(tcum_mismatch / deltam(mismatch));
        let windowsize = 2 * ((frequency / qprime * duration) as usize) + 1;
        Self {
            q,
            frequency,
            duration,
            sampling,
            ntiles,
            windowsize,
        }
    }

    fn qprime(&self) -> f64 {
        self.q / 11f64.sqrt()
    }

    fn half(&self) -> i64 {
        ((self.windowsize - 1) / 2) as i64
    }

    /// The bisquare window, already multiplied by gwpy's normalisation.
    pub fn window(&self) -> Vec<f64> {
        let qprime = self.qprime();
        let norm = self.ntiles as f64 / (self.duration * self.sampling)
            * (315.0 * qprime / (128.0 * self.frequency)).sqrt();
        let half = self.half();
        (-half..=half)
            .map(|k| {
                let x = (k as f64 / self.duration) * qprime / self.frequency;
                let b = 1.0 - x * x;
                b * b * norm
            })
            .collect()
    }

    /// Index of the first FFT bin of the window (gwpy's `get_data_indices()[0]`;
    /// the rest follow consecutively). Note gwpy's `+ 1` offset.
    pub fn first_data_index(&self) -> i64 {
        let centre = ((-self.half() + 1) as f64 + self.frequency * self.duration).round_ties_even();
        centre as i64
    }

    /// `(left, right)` zero padding that brings the window to `ntiles`.
    pub fn padding(&self) -> (usize, usize) {
        let pad = self.ntiles as i64 - self.windowsize as i64;
        // Python's int() truncates towards zero.
        let left = ((pad - 1) as f64 / 2.0).trunc() as i64;
        let right = ((pad + 1) as f64 / 2.0).trunc() as i64;
        (left.max(0) as usize, right.max(0) as usize)
    }
}

#[cfg(test)]
mod tests {
    // In the browser (wasm-pack test), each #[test] below runs as a wasm_bindgen_test.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;
    use super::*;

    #[test]
    fn floordiv_matches_python_when_the_quotient_rounds_up() {
        // 0.3 / 0.1 == 2.9999999999999996 in floats; Python: 0.3 // 0.1 == 2.0
        assert_eq!(py_floordiv(0.3, 0.1), 2.0);
        assert_eq!(py_floordiv(1.0, 0.1), 9.0); // Python: 1.0 // 0.1 == 9.0
        assert_eq!(py_floordiv(7.0, 2.0), 3.0);
        assert_eq!(py_floordiv(-7.0, 2.0), -4.0);
    }

    #[test]
    fn gravity_spy_tiling_at_4096_hz_matches_gwpy() {
        // gwpy 4.1.0: QTiling(14, 4096, (4, 64), (10, 2048)).qs and .frange
        let t = QTiling::new(14.0, 4096.0, (4.0, 64.0), (10.0, 2048.0), 0.2).unwrap();
        let expected_qs = [
            5.65685424949238,
            11.31370849898476,
            22.627416997969522,
            45.25483399593904,
        ];
        assert_eq!(t.qs.len(), 4);
        for (q, e) in t.qs.iter().zip(expected_qs) {
            assert!((q - e).abs() < 1e-9, "{q} vs {e}");
        }
        // gwpy: frange == (10.0, 1291.0530521679268)
        assert_eq!(t.frange.0, 10.0);
        assert!(
            (t.frange.1 - 1291.0530521679268).abs() < 1e-9,
            "{:?}",
            t.frange
        );
    }
}
