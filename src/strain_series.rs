//! A strain series anywhere in a file (GWOSC/gwpy HDF5 read lazily, or ASCII/.npy held in memory) and the four
//! Gravity Spy views of a trigger in it: a window of strain around the trigger time, cut short at gaps (DQ mask
//! zero, NaN) and at the file's ends, then exactly [`gravity_spy_views`], the path `glitchscope qtransform --png`
//! and the page's strain upload take, so a trigger gives the same pictures (and answer) as its PNGs.

use std::sync::Arc;

use crate::strain::{self, MIN_STRAIN_SECONDS, StrainError, detector_in_name, gravity_spy_views};
use crate::views::Duration;

/// Strain taken around a trigger: 64 s (32 s each side), the same for every trigger so that its views do not
/// depend on where it sits in the file, except where the data end (file edge, gap), which shortens that side.
pub const TRIGGER_WINDOW_S: f64 = 64.0;
/// The least strain on each side of a trigger: half the shortest series the views need (the 4 s view plus the
/// 2 s whitening filter), so the longest view never reaches into missing data.
pub const MIN_SIDE_S: f64 = MIN_STRAIN_SECONDS / 2.0;

/// Samples that stay in their file until a window of them is asked for (an HDF5 dataset: strain_hdf5.rs).
pub trait LazySamples: Send + Sync {
    /// Samples `start .. start + count`; `file` names the file in errors.
    fn read(&self, file: &str, start: u64, count: u64) -> Result<Vec<f64>, StrainError>;
}

/// Where a series' samples are.
#[derive(Clone)]
pub enum SeriesData {
    /// In the file, read a window at a time (an HDF5 dataset).
    Lazy(Arc<dyn LazySamples>),
    /// ASCII or `.npy` strain, read whole (they are at most 2^20 samples).
    Memory(Arc<Vec<f64>>),
}

/// One detector's strain in one file.
#[derive(Clone)]
pub struct StrainSeries {
    /// The file, for messages.
    pub file: String,
    /// The dataset (HDF5) or the file name (text, .npy).
    pub channel: String,
    /// `H1`, `L1`, ... when the file or its name says.
    pub ifo: Option<String>,
    pub gps_start: f64,
    pub sample_rate: f64,
    pub len: u64,
    /// GPS starts of the seconds with no data (GWOSC DQ mask DATA bit zero), sorted.
    pub gaps: Vec<f64>,
    pub data: SeriesData,
}

impl std::fmt::Debug for StrainSeries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StrainSeries({} {} {:?} GPS {}+{} s at {} Hz)", self.file, self.channel, self.ifo, self.gps_start, self.duration(), self.sample_rate)
    }
}

impl StrainSeries {
    /// Checks what every later step assumes: a power-of-two sample rate (the Q-transform's FFT sizes and
    /// Gravity Spy's tiling are defined for those) and at least one sample.
    #[allow(clippy::too_many_arguments)]
    pub fn new(file: &str, channel: &str, ifo: Option<String>, gps_start: f64, sample_rate: f64, len: u64, gaps: Vec<f64>, data: SeriesData) -> Result<Self, StrainError> {
        let rounded = sample_rate.round();
        if !(sample_rate.is_finite() && (sample_rate - rounded).abs() < 1e-6 && rounded >= 1.0 && (rounded as u64).is_power_of_two()) {
            return Err(StrainError::Format { name: file.into(), message: format!("{channel}: sample rate {sample_rate} Hz is not a power of two (GWOSC: 4096 or 16384 Hz)") });
        }
        if len == 0 {
            return Err(StrainError::Format { name: file.into(), message: format!("{channel}: no samples") });
        }
        if !gps_start.is_finite() {
            return Err(StrainError::Format { name: file.into(), message: format!("{channel}: GPS start {gps_start} is not a number") });
        }
        Ok(Self { file: file.into(), channel: channel.into(), ifo, gps_start, sample_rate: rounded, len, gaps, data })
    }

    pub fn duration(&self) -> f64 {
        self.len as f64 / self.sample_rate
    }

    pub fn gps_end(&self) -> f64 {
        self.gps_start + self.duration()
    }

    /// Samples `start .. start + count`.
    pub fn read(&self, start: u64, count: u64) -> Result<Vec<f64>, StrainError> {
        match &self.data {
            SeriesData::Lazy(samples) => samples.read(&self.file, start, count),
            SeriesData::Memory(samples) => Ok(samples[start as usize..(start + count) as usize].to_vec()),
        }
    }
}

/// The series of a GWOSC ASCII or `.npy` strain file given as bytes (its GPS start from the header, else 0 so
/// trigger times count seconds from the first sample; its sample rate from the header, else `sample_rate`, else
/// 4096 Hz). HDF5 files are read lazily instead, by `strain_hdf5::open_hdf5`.
pub fn read_strain_series(name: &str, bytes: Vec<u8>, sample_rate: Option<f64>) -> Result<Vec<StrainSeries>, StrainError> {
    if bytes.starts_with(b"\x89HDF\r\n\x1a\n") {
        return Err(StrainError::Format { name: name.into(), message: "an HDF5 file: read it with strain_hdf5::open_hdf5".into() });
    }
    let file = strain::read_strain(name, &bytes)?;
    let rate = file.sample_rate.or(sample_rate).unwrap_or(strain::DEFAULT_SAMPLE_RATE);
    let len = file.samples.len() as u64;
    Ok(vec![StrainSeries::new(name, name, detector_in_name(name), file.gps_start.unwrap_or(0.0), rate, len, Vec::new(), SeriesData::Memory(Arc::new(file.samples)))?])
}

/// The four views of one trigger.
#[derive(Debug)]
pub struct TriggerViews {
    /// `<IFO>_<GPS to the millisecond>`, a Gravity Spy style key (`X1` when the detector is unknown).
    pub key: String,
    /// GPS time of the first sample used and the number used.
    pub window_gps: (f64, f64),
    pub views: Vec<(Duration, image::RgbaImage)>,
}

/// The key of a trigger's glitch.
pub fn trigger_key(ifo: Option<&str>, gps: f64) -> String {
    format!("{}_{gps:.3}", ifo.unwrap_or("X1"))
}

fn trigger_err(series: &StrainSeries, gps: f64, message: String) -> StrainError {
    let ifo = series.ifo.as_deref().map(|i| format!(" ({i})")).unwrap_or_default();
    StrainError::Format { name: series.file.clone(), message: format!("trigger at GPS {gps}{ifo}: {message}") }
}

/// The views of the trigger at GPS `gps` in `series`: strain from `gps - window_s/2` to `gps + window_s/2`,
/// shortened to the data around the trigger (file ends, DQ gaps, NaN), which must reach [`MIN_SIDE_S`] each side.
pub fn trigger_views(series: &StrainSeries, gps: f64, window_s: f64) -> Result<TriggerViews, StrainError> {
    let err = |m: String| trigger_err(series, gps, m);
    let (start, end) = (series.gps_start, series.gps_end());
    if !(gps >= start && gps < end) {
        return Err(err(format!("outside the file, which holds GPS {start} to {end}")));
    }
    // The data around the trigger, cut at the nearest gap second on each side; why each side ends, for messages.
    let (mut lo, mut hi) = ((gps - window_s / 2.0).max(start), (gps + window_s / 2.0).min(end));
    let mut why = [
        if lo == start { "the start of the file" } else { "the start of the --window" }.to_string(),
        if hi == end { "the end of the file" } else { "the end of the --window" }.to_string(),
    ];
    for &g in &series.gaps {
        if gps >= g && gps < g + 1.0 {
            return Err(err(format!("in a gap: the DQ mask says there are no data in GPS {g} to {}", g + 1.0)));
        }
        if g + 1.0 <= gps && g + 1.0 > lo {
            lo = g + 1.0;
            why[0] = format!("a gap (DQ mask zero) ending at GPS {lo}");
        } else if g > gps && g < hi {
            hi = g;
            why[1] = format!("a gap (DQ mask zero) from GPS {g}");
        }
    }
    let rate = series.sample_rate;
    let first = ((lo - start) * rate).ceil() as u64;
    let last = (((hi - start) * rate).floor() as u64).min(series.len).max(first);
    let mut samples = series.read(first, last - first)?;
    let mut first = first;
    // NaN (GWOSC fills gaps with it; a file may lack the DQ mask): keep the finite run around the trigger.
    let centre = ((((gps - start) * rate) as u64).saturating_sub(first) as usize).min(samples.len().saturating_sub(1));
    if samples.get(centre).is_some_and(|v| !v.is_finite()) {
        return Err(err("the strain at the trigger time is NaN (no data)".into()));
    }
    if samples.iter().any(|v| !v.is_finite()) {
        let before = samples[..centre].iter().rposition(|v| !v.is_finite()).map_or(0, |i| i + 1);
        let after = samples[centre..].iter().position(|v| !v.is_finite()).map_or(samples.len(), |i| centre + i);
        let at = |i: usize| start + (first + i as u64) as f64 / rate;
        if before > 0 {
            why[0] = format!("NaN samples ending at GPS {:.3}", at(before));
        }
        if after < samples.len() {
            why[1] = format!("NaN samples from GPS {:.3}", at(after));
        }
        samples = samples[before..after].to_vec();
        first += before as u64;
    }
    let center_s = gps - (start + first as f64 / rate);
    let have = [center_s, samples.len() as f64 / rate - center_s];
    if have[0] < MIN_SIDE_S || have[1] < MIN_SIDE_S {
        let side = if have[0] < MIN_SIDE_S { 0 } else { 1 };
        return Err(err(format!(
            "too close to the edge of the data for the 4 s view: {:.3} s before and {:.3} s after it (the data stop at {}), need {MIN_SIDE_S} s each side",
            have[0], have[1], why[side]
        )));
    }
    let name = format!("{} (trigger at GPS {gps})", series.file);
    let views = gravity_spy_views(&name, &samples, rate, center_s)?;
    Ok(TriggerViews { key: trigger_key(series.ifo.as_deref(), gps), window_gps: (start + first as f64 / rate, samples.len() as f64), views })
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;
    use super::*;
    #[test]
    fn text_strain_is_a_series_too() {
        let s = &read_strain_series("L1-x.txt", b"# sample rate: 2048 Hz\n# starting GPS 100\n1\n2\n".to_vec(), None).unwrap()[0];
        assert_eq!((s.ifo.as_deref(), s.gps_start, s.sample_rate, s.len), (Some("L1"), 100.0, 2048.0, 2));
        assert_eq!(s.read(1, 1).unwrap(), vec![2.0]);
    }
}
