//! HDF5 strain files -> [`StrainSeries`]: GWOSC's layout (`/strain/Strain` with its `Xspacing` attribute,
//! `/meta/GPSstart`, `/meta/Detector`, `/quality/simple/DQmask`) and gwpy's `TimeSeries.write(format="hdf5")`
//! layout (1-d datasets with `x0`/`dx` attributes, named by channel, e.g. the S6 test file).
//!
//! Read with `hdf5-pure` through a byte-range [`Source`], so only the metadata and the chunks a trigger's window
//! needs are read and inflated: natively from the file on disk, in the page through `File.slice` in the worker.
//! A 512 MiB 16 kHz file is never loaded whole.

use std::sync::Arc;

use hdf5_pure::{AttrValue, Source};

use crate::strain::{StrainError, detector_in_name};
use crate::strain_series::{LazySamples, SeriesData, StrainSeries};

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
        series.push(StrainSeries::new(name, &path, ifo, x0, 1.0 / dx, len, Vec::new(), SeriesData::Lazy(Arc::new(Hdf5Dataset { file: file.clone(), dataset: path.clone() })))?);
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
    StrainSeries::new(name, path, ifo, gps_start, 1.0 / spacing, len, gaps, SeriesData::Lazy(Arc::new(Hdf5Dataset { file: file.clone(), dataset: path.into() })))
}

/// A 1-d strain dataset of an open file, read a window at a time (only the chunks the window lies in).
struct Hdf5Dataset {
    file: Arc<hdf5_pure::File>,
    dataset: String,
}

impl LazySamples for Hdf5Dataset {
    fn read(&self, name: &str, start: u64, count: u64) -> Result<Vec<f64>, StrainError> {
        let dataset = &self.dataset;
        self.file
            .dataset(dataset)
            .and_then(|d| d.read_f64_rows(start, count))
            .map_err(|e| format_err(name, format!("{dataset}: cannot read samples {start}..{}: {e}", start + count)))
    }
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

#[cfg(test)]
mod tests {
    // In the browser (wasm-pack test), each #[test] below runs as a wasm_bindgen_test.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;
    use super::*;
    use crate::strain::gravity_spy_views;
    use crate::strain_series::trigger_views;
    use hdf5_pure::{AttrValue, FileBuilder};

    /// A GWOSC-layout file (gzip-chunked /strain/Strain, /meta, DQ mask with a gap) built in memory.
    fn gwosc_bytes(rate: f64, seconds: usize, gap: Option<usize>) -> Vec<u8> {
        let n = seconds * rate as usize;
        let mut state = 7u64;
        let mut strain: Vec<f64> = (0..n)
            .map(|i| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let t = i as f64 / rate - 10.0;
                ((state >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 1e-21 + 3e-20 * (-(t / 0.01).powi(2)).exp() * (2.0 * std::f64::consts::PI * 200.0 * t).sin()
            })
            .collect();
        let mut dq = vec![1i32; seconds];
        if let Some(g) = gap {
            strain[g * rate as usize..(g + 1) * rate as usize].fill(f64::NAN);
            dq[g] = 0;
        }
        let mut b = FileBuilder::new();
        let mut meta = b.create_group("meta");
        meta.create_dataset("GPSstart").with_i64_data(&[1000]);
        b.add_group(meta.finish());
        let mut g = b.create_group("strain");
        g.create_dataset("Strain").with_f64_data(&strain).with_chunks(&[rate as u64]).with_deflate(4).set_attr("Xspacing", AttrValue::F64(1.0 / rate));
        b.add_group(g.finish());
        let mut q = b.create_group("quality");
        let mut simple = q.create_group("simple");
        simple.create_dataset("DQmask").with_i32_data(&dq);
        q.add_group(simple.finish());
        b.add_group(q.finish());
        b.finish().unwrap()
    }

    #[test]
    fn gwosc_hdf5_trigger_views_equal_the_views_of_the_same_samples() {
        let bytes = gwosc_bytes(4096.0, 24, Some(20));
        let series = open_hdf5("H-H1_GWOSC_4KHZ_R1-1000-24.hdf5", MemorySource(bytes)).unwrap();
        let s = &series[0];
        assert_eq!((s.ifo.as_deref(), s.gps_start, s.sample_rate, s.len, s.gaps.clone()), (Some("H1"), 1000.0, 4096.0, 24 * 4096, vec![1020.0]));
        let views = trigger_views(s, 1010.0, 64.0).unwrap();
        assert_eq!(views.key, "H1_1010.000");
        // The window stops at the gap (GPS 1020): samples 0 .. 20 s, the trigger 10 s in.
        assert_eq!(views.window_gps, (1000.0, 20.0 * 4096.0));
        let samples = s.read(0, 20 * 4096).unwrap();
        let direct = gravity_spy_views("x", &samples, 4096.0, 10.0).unwrap();
        assert!(views.views.iter().zip(&direct).all(|(a, b)| a.1 == b.1), "same pixels as the strain path");
        let e = trigger_views(s, 1020.5, 64.0).unwrap_err().to_string();
        assert!(e.contains("in a gap") && e.contains("GPS 1020.5"), "{e}");
        let e = trigger_views(s, 1017.0, 64.0).unwrap_err().to_string();
        assert!(e.contains("too close") && e.contains("gap"), "{e}");
        let e = trigger_views(s, 1030.0, 64.0).unwrap_err().to_string();
        assert!(e.starts_with("H-H1_GWOSC_4KHZ_R1-1000-24.hdf5: trigger at GPS 1030 (H1): outside"), "{e}");
    }

    #[test]
    fn bad_hdf5_is_named() {
        let e = open_hdf5("t.h5", MemorySource(b"\x89HDF\r\n\x1a\n\0\0\0".to_vec())).unwrap_err().to_string();
        assert!(e.starts_with("t.h5: not a readable HDF5 file"), "{e}");
        let mut b = FileBuilder::new();
        b.create_dataset("L1:X").with_f64_data(&[0.0; 64]).set_attr("x0", AttrValue::F64(5.0)).set_attr("dx", AttrValue::F64(1.0 / 3000.0));
        let e = open_hdf5("r.h5", MemorySource(b.finish().unwrap())).unwrap_err().to_string();
        assert!(e.contains("not a power of two"), "{e}");
        let mut b = FileBuilder::new();
        b.create_dataset("other").with_f64_data(&[0.0; 4]);
        let e = open_hdf5("o.h5", MemorySource(b.finish().unwrap())).unwrap_err().to_string();
        assert!(e.contains("no strain in this HDF5 file"), "{e}");
    }
}
