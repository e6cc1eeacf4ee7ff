//! HDF5 strain files -> [`StrainSeries`]: GWOSC's layout (`/strain/Strain` with its `Xspacing` attribute,
//! `/meta/GPSstart`, `/meta/Detector`, `/quality/simple/DQmask`) and gwpy's `TimeSeries.write(format="hdf5")`
//! layout (1-d datasets with `x0`/`dx` attributes, named by channel, e.g. the S6 test file).
//!
//! Read with `hdf5-pure` through a byte-range [`Source`], so only the metadata and the chunks a trigger's window
//! needs are read and inflated: natively from the file on disk, in the page through `File.slice` in the worker.
//! A 512 MiB 16 kHz file is never loaded whole.

use std::sync::Arc;

use hdf5_pure::{AttrValue, Source};

use crate::strain::StrainError;
use crate::strain_series::{SeriesData, StrainSeries, detector_in_name};

/// The GWOSC DQ mask bit that says "data exist and are science-quality strain" (bit 0, `DATA`).
const DQ_DATA_BIT: i64 = 1;

fn format_err(name: &str, message: impl Into<String>) -> StrainError {
    StrainError::Format { name: name.to_string(), message: message.into() }
}

/// One number from an attribute of any numeric type (GWOSC writes `Xspacing` as a float, `Xstart` as an int).
fn attr_number(value: &AttrValue) -> Option<f64> {
    match value {
        AttrValue::I8(v) => Some(*v as f64),
        AttrValue::I16(v) => Some(*v as f64),
        AttrValue::I32(v) => Some(*v as f64),
        AttrValue::I64(v) => Some(*v as f64),
        AttrValue::U8(v) => Some(*v as f64),
        AttrValue::U16(v) => Some(*v as f64),
        AttrValue::U32(v) => Some(*v as f64),
        AttrValue::U64(v) => Some(*v as f64),
        other => other.as_f64(),
    }
}

/// Every strain series in an HDF5 file read through `source` (`name` is used in messages and for the detector
/// when the file does not state it). A file that is not HDF5, truncated, or holds no strain in either layout is
/// an error naming the file.
pub fn open_hdf5<S: Source + Send + Sync + 'static>(name: &str, source: S) -> Result<Vec<StrainSeries>, StrainError> {
    let file = hdf5_pure::File::from_source(source)
        .map_err(|e| format_err(name, format!("not a readable HDF5 file (truncated or damaged?): {e}")))?;
    let file = Arc::new(file);
    if file.group("strain").is_ok() {
        return Ok(vec![gwosc_series(name, &file)?]);
    }
    let root = file.root();
    let datasets = root.datasets().map_err(|e| format_err(name, format!("cannot list the file's datasets: {e}")))?;
    let mut series = Vec::new();
    for path in datasets {
        let Ok(ds) = file.dataset(&path) else { continue };
        let attrs = ds.attrs().unwrap_or_default();
        let (Some(x0), Some(dx)) = (attrs.get("x0").and_then(attr_number), attrs.get("dx").and_then(attr_number)) else {
            continue;
        };
        let len = one_dim(name, &path, &ds)?;
        let ifo = detector_in_name(&path).or_else(|| detector_in_name(name));
        series.push(StrainSeries::new(name, &path, ifo, x0, 1.0 / dx, len, Vec::new(), SeriesData::Hdf5 { file: file.clone(), dataset: path.clone() })?);
    }
    if series.is_empty() {
        return Err(format_err(name, "no strain in this HDF5 file: expected GWOSC's /strain/Strain (with its Xspacing attribute) or gwpy 1-d datasets with x0/dx attributes"));
    }
    Ok(series)
}

/// The length of a 1-d dataset, or an error naming the file and the dataset.
fn one_dim(name: &str, path: &str, ds: &hdf5_pure::Dataset) -> Result<u64, StrainError> {
    let shape = ds.shape().map_err(|e| format_err(name, format!("{path}: cannot read the shape: {e}")))?;
    match shape[..] {
        [n] => Ok(n),
        _ => Err(format_err(name, format!("{path} is not a 1-d time series (shape {shape:?})"))),
    }
}

fn gwosc_series(name: &str, file: &Arc<hdf5_pure::File>) -> Result<StrainSeries, StrainError> {
    let path = "strain/Strain";
    let ds = file
        .dataset(path)
        .map_err(|e| format_err(name, format!("/strain/Strain cannot be opened (truncated or not a GWOSC file?): {e}")))?;
    let len = one_dim(name, path, &ds)?;
    let attrs = ds.attrs().map_err(|e| format_err(name, format!("{path}: cannot read its attributes: {e}")))?;
    let spacing = attrs
        .get("Xspacing")
        .and_then(attr_number)
        .ok_or_else(|| format_err(name, format!("{path} has no Xspacing attribute (the sample spacing GWOSC writes)")))?;
    let scalar = |p: &str| file.dataset(p).ok().and_then(|d| d.read_f64().ok()).and_then(|v| v.first().copied());
    let gps_start = scalar("meta/GPSstart")
        .or_else(|| attrs.get("Xstart").and_then(attr_number))
        .ok_or_else(|| format_err(name, "no /meta/GPSstart (nor an Xstart attribute on /strain/Strain): the GPS time of the first sample is unknown"))?;
    let ifo = file
        .dataset("meta/Detector")
        .ok()
        .and_then(|d| d.read_string().ok())
        .and_then(|v| v.first().map(|s| s.trim().to_string()))
        .filter(|s| !s.is_empty())
        .or_else(|| detector_in_name(name));
    // DQ mask at 1 Hz: seconds whose DATA bit is zero are gaps (GWOSC fills them with NaN).
    let gaps = match file.dataset("quality/simple/DQmask").and_then(|d| d.read_i64()) {
        Ok(mask) => {
            mask.iter().enumerate().filter(|(_, m)| *m & DQ_DATA_BIT == 0).map(|(s, _)| gps_start + s as f64).collect()
        }
        Err(_) => Vec::new(),
    };
    StrainSeries::new(name, path, ifo, gps_start, 1.0 / spacing, len, gaps, SeriesData::Hdf5 { file: file.clone(), dataset: path.into() })
}

/// Read `count` samples from `start` of a dataset (only the chunks they lie in).
pub(crate) fn read_rows(name: &str, file: &hdf5_pure::File, dataset: &str, start: u64, count: u64) -> Result<Vec<f64>, StrainError> {
    file.dataset(dataset)
        .and_then(|d| d.read_f64_rows(start, count))
        .map_err(|e| format_err(name, format!("{dataset}: cannot read samples {start}..{}: {e}", start + count)))
}

/// An HDF5 file already in memory (the crate's own bytes source is not public).
pub struct MemorySource(pub Vec<u8>);

impl Source for MemorySource {
    fn len(&self) -> u64 {
        self.0.len() as u64
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), hdf5_pure::FormatError> {
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        match start.checked_add(buf.len()).filter(|&end| end <= self.0.len()) {
            Some(end) => {
                buf.copy_from_slice(&self.0[start..end]);
                Ok(())
            }
            None => Err(hdf5_pure::FormatError::UnexpectedEof { expected: start.saturating_add(buf.len()), available: self.0.len() }),
        }
    }
}

/// Open an HDF5 file on disk lazily (native only: the page gives a `File.slice` source instead).
#[cfg(not(target_arch = "wasm32"))]
pub fn open_hdf5_path(path: &std::path::Path) -> Result<Vec<StrainSeries>, StrainError> {
    let name = path.display().to_string();
    let handle = std::fs::File::open(path).map_err(|e| format_err(&name, format!("cannot open: {e}")))?;
    let source = hdf5_pure::ReadSeekSource::new(handle).map_err(|e| format_err(&name, format!("cannot read: {e}")))?;
    open_hdf5(&name, source)
}
