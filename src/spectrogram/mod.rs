//! The Gravity Spy spectrogram in pure Rust: gwpy 4.1.0's
//! `TimeSeries.q_transform` and the Gravity Spy picture.
//!
//! # Shape of the API
//!
//! ```text
//! strain ──q_transform()──► QScan ──grid()/sample_log()/sample()──► Spectrogram ──render──► RGBA image
//!          (whiten, all Q planes,      (cheap: any number of views
//!           keep the loudest)           from the same scan)
//! ```
//!
//! * [`q_transform`] (or [`QTransformer::transform`], which reuses FFT plans
//!   across calls) does all the expensive work once: whitening, every Q plane,
//!   choosing the plane with the loudest tile in the search window. It returns
//!   a [`QScan`] holding that plane's rows of normalised energy.
//! * [`QScan::grid`] is gwpy's final interpolation onto a linear
//!   `tres x fres` grid over an output segment (what `q_transform(...,
//!   tres=, fres=, outseg=)` returns). [`QScan::sample_log`] samples the same
//!   surface at pixel centres with log2-spaced frequencies, which is what a
//!   picture shows. Both cost a small fraction of the transform, so the four
//!   Gravity Spy views (0.5, 1, 2, 4 s) come from one scan.
//! * [`render`] turns a scan into the Gravity Spy picture (viridis, 0 to 25.5,
//!   log2 frequency axis): the plot area alone or the full 800x600 figure.
//!
//! Times are seconds from the first strain sample; frequencies are Hz;
//! [`Spectrogram::data`] is laid out `[time][frequency]` like gwpy's arrays.
//!
//! # Fidelity to gwpy
//!
//! Every step follows gwpy 4.1.0's source (`gwpy/timeseries/timeseries.py`
//! `q_transform`/`whiten`/`convolve`, `gwpy/signal/filter_design.py`
//! `fir_from_transfer`, `gwpy/signal/qtransform.py`) and scipy's `welch`,
//! including gwpy's median-averaged ASD, its `+1` bin offset, the search window
//! `gps +- search/2` (the whole window is `search` wide), float32 rounding of
//! the intermediate grid, and FITPACK's clamping below the lowest row.
//! `tests/qtransform_parity.rs` checks it against arrays made by gwpy itself.

mod qtransform;
pub mod render;
mod sample;
mod spline;
mod tiling;
mod whiten;

pub use qtransform::{QPeak, QRow, QScan, QTransformer};

/// Errors of the spectrogram pipeline.
#[derive(Debug, thiserror::Error)]
pub enum SpectrogramError {
    #[error("invalid {name}: {reason}")]
    InvalidParameter { name: &'static str, reason: String },
    #[error("strain too short for {what}: needs {needed} {unit}, has {got} {unit}")]
    TooShort {
        what: &'static str,
        needed: f64,
        got: f64,
        unit: &'static str,
    },
    #[error("strain contains a non-finite value (NaN or infinity) at sample {index}")]
    NonFinite { index: usize },
    #[error("centre time {center_s} s lies outside the strain, which spans 0 to {duration_s} s")]
    CenterOutside { center_s: f64, duration_s: f64 },
    #[error(
        "cannot whiten: the noise ASD is zero or not finite at {frequency_hz} Hz (is the strain constant?)"
    )]
    ZeroAsd { frequency_hz: f64 },
    #[error("Q tiling does not fit the data: {0}")]
    Tiling(String),
    #[error("no tile has positive energy in the search window (is the strain all zeros?)")]
    NoPeak,
}

/// Whiten strain exactly as [`QTransformer::transform`] does before tiling (gwpy's `whiten` inside
/// `q_transform`, with `params`' fftlength, overlap, fduration and highpass): for stationary noise the result
/// has unit variance, with the filter's edge effects over `fduration / 2` at both ends.
pub fn whiten_strain(strain: &[f64], sample_rate: f64, params: &QParams) -> Result<Vec<f64>, SpectrogramError> {
    if let Some(index) = strain.iter().position(|x| !x.is_finite()) {
        return Err(SpectrogramError::NonFinite { index });
    }
    let wp = whiten::WhitenParams {
        fftlength: params.fftlength,
        overlap: params.overlap,
        fduration: params.fduration,
        highpass: params.highpass,
    };
    whiten::whiten(strain, sample_rate, &wp, &mut whiten::WhitenCache::default())
}

/// Energy normalisation of each frequency row (gwpy's `norm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QNorm {
    /// Divide by the row's median energy: "normalised energy" (Gravity Spy).
    #[default]
    Median,
    /// Divide by the row's mean energy.
    Mean,
    /// Raw tile energy.
    None,
}

/// Parameters of [`q_transform`]; [`Default`] is the Gravity Spy call
/// `q_transform(qrange=(4, 64), frange=(10, 2048), whiten=True, search=0.5)`
/// with gwpy's other defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QParams {
    /// Range of Q values to tile.
    pub qrange: (f64, f64),
    /// Frequency range; the upper end is capped to what the lowest Q allows
    /// at the sample rate (about 1291 Hz at 4096 Hz), exactly as gwpy does.
    /// `0` / `f64::INFINITY` select gwpy's automatic limits.
    pub frange: (f64, f64),
    /// Maximum fractional mismatch between neighbouring tiles.
    pub mismatch: f64,
    /// Whiten with a FIR filter from the strain's own ASD before tiling.
    pub whiten: bool,
    /// Length of the whitening FIR filter, seconds.
    pub fduration: f64,
    /// Optional high-pass corner of the whitening filter, Hz.
    pub highpass: Option<f64>,
    /// ASD FFT length, seconds (`None`: gwpy's `max(2, ceil(2048 / fs))`).
    pub fftlength: Option<f64>,
    /// ASD overlap, seconds (`None`: half of `fftlength`, Hann's recommended overlap).
    pub overlap: Option<f64>,
    /// Width of the window around the centre time in which the loudest tile
    /// picks the Q plane, seconds (`gps - search/2 .. gps + search/2`, as gwpy);
    /// `None` searches the whole span.
    pub search: Option<f64>,
    /// Row normalisation.
    pub norm: QNorm,
}

impl Default for QParams {
    fn default() -> Self {
        Self {
            qrange: (4.0, 64.0),
            frange: (10.0, 2048.0),
            mismatch: 0.2,
            whiten: true,
            fduration: 2.0,
            highpass: None,
            fftlength: None,
            overlap: None,
            search: Some(0.5),
            norm: QNorm::Median,
        }
    }
}

/// A regularly sampled time-frequency map of normalised energy.
#[derive(Debug, Clone, PartialEq)]
pub struct Spectrogram {
    /// Sample times, seconds from the first strain sample.
    pub times: Vec<f64>,
    /// Sample frequencies, Hz, ascending.
    pub freqs: Vec<f64>,
    /// Values laid out `[time][frequency]`: `data[t * freqs.len() + f]`.
    pub data: Vec<f32>,
}

impl Spectrogram {
    pub fn n_times(&self) -> usize {
        self.times.len()
    }
    pub fn n_freqs(&self) -> usize {
        self.freqs.len()
    }
    /// Value at time index `t` and frequency index `f`.
    pub fn at(&self, t: usize, f: usize) -> f32 {
        self.data[t * self.freqs.len() + f]
    }
    /// `(time index, frequency index, value)` of the largest value (first one
    /// in memory order on ties, like numpy's `argmax`).
    pub fn argmax(&self) -> Option<(usize, usize, f32)> {
        let nf = self.freqs.len();
        let mut best: Option<(usize, f32)> = None;
        for (i, &v) in self.data.iter().enumerate() {
            if best.is_none_or(|(_, b)| v > b) {
                best = Some((i, v));
            }
        }
        best.map(|(i, v)| (i / nf, i % nf, v))
    }
}

/// The multi-Q transform of `strain` (sampled at `sample_rate` Hz, first sample
/// at t = 0) keeping the plane with the loudest tile near `center_s`, as gwpy
/// 4.1.0's `TimeSeries.q_transform(gps=center_s, ...)` does before its final
/// interpolation. Sample the result with [`QScan::grid`] or [`QScan::sample_log`].
///
/// For many transforms, keep a [`QTransformer`] and call its `transform`: it
/// caches FFT plans between calls.
pub fn q_transform(
    strain: &[f64],
    sample_rate: f64,
    center_s: f64,
    params: &QParams,
) -> Result<QScan, SpectrogramError> {
    QTransformer::new().transform(strain, sample_rate, center_s, params)
}
