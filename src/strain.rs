//! Strain uploads: a detector time series in a file -> the four Gravity Spy views of one glitch.
//!
//! Reads GWOSC ASCII (`#` header lines, then one sample per line; the header may give the sample rate and the
//! starting GPS time) and 1-d `.npy` arrays, from bytes, so the browser (a dropped file) and native code share it.
//! Gzip is not undone here: the page decompresses `.txt.gz` with the browser's `DecompressionStream`.
//! The views come from one Q-transform with the same code and options as `glitchscope qtransform --png` and
//! `glitchscope synth --format full`: the 800x600 Gravity Spy figure of 0.5, 1, 2 and 4 s around the centre.

use crate::npy::read_npy_bytes;
use crate::spectrogram::render::{RenderOptions, render_full_figure};
use crate::spectrogram::{QParams, QTransformer, SpectrogramError};
use crate::views::Duration;

/// The longest series accepted: 2^20 samples (256 s at 4096 Hz). The Q-transform whitens and tiles the whole
/// series, so longer uploads would take minutes in a browser tab; crop them around the glitch first.
pub const MAX_STRAIN_SAMPLES: usize = 1 << 20;
/// Sample rate assumed when neither the file nor the user gives one (GWOSC's 4 kHz strain).
pub const DEFAULT_SAMPLE_RATE: f64 = 4096.0;

#[derive(Debug, thiserror::Error)]
pub enum StrainError {
    #[error("{name}: {message}")]
    Format { name: String, message: String },
    #[error("{name}: sample {index} (line {line}) is {value}, not a finite number")]
    NonFinite { name: String, index: usize, line: usize, value: f64 },
    #[error("{name}: {samples} samples is more than the {MAX_STRAIN_SAMPLES} GlitchScope accepts (256 s at 4096 Hz); crop the series around the glitch")]
    TooLong { name: String, samples: usize },
    #[error("{name}: only {samples} samples; a Gravity Spy Q-transform needs at least {needed} s of strain ({needed_samples} samples at {rate} Hz)")]
    TooShort { name: String, samples: usize, needed: f64, needed_samples: usize, rate: f64 },
    #[error("{name}: invalid sample rate {rate} Hz (must be a positive number)")]
    BadSampleRate { name: String, rate: f64 },
    #[error("{name}: centre time {center} is outside the strain: it covers 0 to {duration:.3} s from its start{gps}")]
    CenterOutside { name: String, center: f64, duration: f64, gps: String },
    #[error("{name}: {source}")]
    Spectrogram { name: String, source: SpectrogramError },
    #[error("{name}: cannot encode the {duration} s view as PNG: {message}")]
    Png { name: String, duration: f32, message: String },
}

/// A strain series as read from a file, before the user's sample rate and centre are applied.
#[derive(Debug, Clone, PartialEq)]
pub struct StrainFile {
    pub samples: Vec<f64>,
    /// Sample rate from the file's header, Hz, if it states one.
    pub sample_rate: Option<f64>,
    /// GPS time of the first sample from the file's header, if it states one.
    pub gps_start: Option<f64>,
}

/// Read a strain upload by its name: `.npy` (1-d, or one long axis) or GWOSC ASCII text (anything else that is
/// text). Gzip bytes get a message saying to decompress first.
pub fn read_strain(name: &str, bytes: &[u8]) -> Result<StrainFile, StrainError> {
    let fail = |message: String| StrainError::Format { name: name.to_string(), message };
    if bytes.is_empty() {
        return Err(fail("the file is empty".into()));
    }
    if bytes.starts_with(&[0x1f, 0x8b]) {
        return Err(fail("the data is still gzip-compressed; decompress it first".into()));
    }
    if bytes.starts_with(b"\x93NUMPY") {
        let array = read_npy_bytes(bytes, name).map_err(|e| fail(strip_prefix(&e.to_string(), name)))?;
        if array.shape.iter().filter(|&&d| d > 1).count() > 1 {
            return Err(fail(format!("expected a 1-d strain time series, got an array of shape {:?}", array.shape)));
        }
        let file = StrainFile { samples: array.data, sample_rate: None, gps_start: None };
        check_samples(name, &file.samples, |i| i + 1)?;
        return Ok(file);
    }
    if bytes.starts_with(b"\x89HDF") {
        return Err(fail("GWOSC HDF5 is not supported here; download the GWOSC ASCII (.txt or .txt.gz) file of the same data".into()));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| fail("not text (expected GWOSC ASCII, one sample per line, or a .npy array)".into()))?;
    parse_gwosc_text(name, text)
}

fn strip_prefix(message: &str, name: &str) -> String {
    message.strip_prefix(&format!("{name}: ")).unwrap_or(message).to_string()
}

/// GWOSC ASCII strain: `#` comment lines (the header says e.g. `# Sample rate: 4096 Hz` or
/// `# starting GPS 1126259446 duration 32`), then one number per line. Blank lines are skipped.
pub fn parse_gwosc_text(name: &str, text: &str) -> Result<StrainFile, StrainError> {
    let fail = |message: String| StrainError::Format { name: name.to_string(), message };
    let mut samples = Vec::new();
    let mut lines = Vec::new(); // line number of each sample, for messages
    let (mut sample_rate, mut gps_start) = (None, None);
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#').or_else(|| line.strip_prefix('%')) {
            let comment = comment.to_ascii_lowercase();
            sample_rate = sample_rate.or_else(|| number_after(&comment, &["sample rate", "sampling rate"]));
            gps_start = gps_start.or_else(|| number_after(&comment, &["starting gps", "start gps", "gps start"]));
            continue;
        }
        if samples.len() >= MAX_STRAIN_SAMPLES {
            let samples = text.lines().map(str::trim).filter(|l| !(l.is_empty() || l.starts_with(['#', '%']))).count();
            return Err(StrainError::TooLong { name: name.into(), samples });
        }
        let mut fields = line.split(|c: char| c.is_whitespace() || c == ',').filter(|f| !f.is_empty());
        let (Some(first), None) = (fields.next(), fields.next()) else {
            return Err(fail(format!("line {}: expected one number per line (GWOSC ASCII), got {:?}", i + 1, shorten(line))));
        };
        let value: f64 = first
            .parse()
            .map_err(|_| fail(format!("line {}: {:?} is not a number", i + 1, shorten(first))))?;
        samples.push(value);
        lines.push(i + 1);
    }
    if samples.is_empty() {
        return Err(fail("no samples: the file holds only comments or blank lines".into()));
    }
    check_samples(name, &samples, |k| lines[k])?;
    Ok(StrainFile { samples, sample_rate, gps_start })
}

fn shorten(s: &str) -> String {
    if s.chars().count() > 40 { format!("{}…", s.chars().take(40).collect::<String>()) } else { s.to_string() }
}

/// The first number after any of `keys` in `comment` (skipping `:`/`=` and spaces), e.g. "sample rate: 4096 hz".
fn number_after(comment: &str, keys: &[&str]) -> Option<f64> {
    keys.iter().find_map(|key| {
        let rest = &comment[comment.find(key)? + key.len()..];
        let rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == ':' || c == '=');
        let end = rest.find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))).unwrap_or(rest.len());
        rest[..end].parse::<f64>().ok().filter(|v| v.is_finite())
    })
}

fn check_samples(name: &str, samples: &[f64], line_of: impl Fn(usize) -> usize) -> Result<(), StrainError> {
    if samples.len() > MAX_STRAIN_SAMPLES {
        return Err(StrainError::TooLong { name: name.into(), samples: samples.len() });
    }
    if let Some(index) = samples.iter().position(|v| !v.is_finite()) {
        return Err(StrainError::NonFinite { name: name.into(), index, line: line_of(index), value: samples[index] });
    }
    Ok(())
}

/// Where to centre the views, in seconds from the first sample. `center` is seconds from the start, or a GPS
/// time when the file states its starting GPS time and `center` is not before it; `None` takes the middle.
pub fn resolve_center(name: &str, file: &StrainFile, sample_rate: f64, center: Option<f64>) -> Result<f64, StrainError> {
    let duration = file.samples.len() as f64 / sample_rate;
    let gps = file.gps_start.map(|g| format!(" (GPS {g} to {})", g + duration)).unwrap_or_default();
    let Some(c) = center else { return Ok(duration / 2.0) };
    let relative = match file.gps_start {
        Some(g) if c >= g => c - g,
        _ => c,
    };
    if !(relative.is_finite() && (0.0..=duration).contains(&relative)) {
        return Err(StrainError::CenterOutside { name: name.into(), center: c, duration, gps });
    }
    Ok(relative)
}

/// The shortest series for the Gravity Spy views: the 4 s view plus the 2 s whitening filter on each side.
pub const MIN_STRAIN_SECONDS: f64 = 8.0;

/// The four Gravity Spy views (0.5, 1, 2, 4 s, full 800x600 figures) of `samples` around `center_s` (seconds
/// from the first sample), from one Q-transform with `QParams::default()` (gwpy 4.1's Gravity Spy call).
pub fn gravity_spy_views(
    name: &str,
    samples: &[f64],
    sample_rate: f64,
    center_s: f64,
) -> Result<Vec<(Duration, image::RgbaImage)>, StrainError> {
    if !(sample_rate.is_finite() && sample_rate > 0.0) {
        return Err(StrainError::BadSampleRate { name: name.into(), rate: sample_rate });
    }
    let needed_samples = (MIN_STRAIN_SECONDS * sample_rate).ceil() as usize;
    if samples.len() < needed_samples {
        return Err(StrainError::TooShort { name: name.into(), samples: samples.len(), needed: MIN_STRAIN_SECONDS, needed_samples, rate: sample_rate });
    }
    let spectro = |source| StrainError::Spectrogram { name: name.into(), source };
    let scan = QTransformer::new().transform(samples, sample_rate, center_s, &QParams::default()).map_err(spectro)?;
    let options = RenderOptions::default();
    Duration::ALL
        .iter()
        .map(|&d| Ok((d, render_full_figure(&scan, center_s, d.seconds() as f64, &options).map_err(spectro)?)))
        .collect()
}

/// PNG bytes of a rendered view (what the classifier then decodes like any uploaded image).
pub fn encode_png(name: &str, duration: Duration, image: &image::RgbaImage) -> Result<Vec<u8>, StrainError> {
    let mut out = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut out, image::ImageFormat::Png)
        .map_err(|e| StrainError::Png { name: name.into(), duration: duration.seconds(), message: e.to_string() })?;
    Ok(out.into_inner())
}

/// The detector named in a file or channel name: `H1`, `L1`, `V1`, `K1`, `G1` standing alone (`H-H1_GWOSC_...`,
/// `L1:LDAS-STRAIN`, `O3a_L1_Whistle_0.npy`).
pub fn detector_in_name(name: &str) -> Option<String> {
    let base = crate::views::base_name(name);
    let bytes = base.as_bytes();
    (0..bytes.len().saturating_sub(1))
        .find(|&i| {
            matches!(bytes[i], b'H' | b'L' | b'V' | b'K' | b'G')
                && bytes[i + 1] == b'1'
                && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric())
                && bytes.get(i + 2).is_none_or(|c| !c.is_ascii_alphanumeric())
        })
        .map(|i| base[i..i + 2].to_string())
}

/// A Gravity Spy style glitch key for an upload: `<IFO>_<stem>-t<centre>`, the detector taken from the file name
/// (e.g. GWOSC's `H-H1_GWOSC_4KHZ_R1-...`) or `X1` when it names none. Only letters, digits, `-` and `_` are kept
/// so the view names `<key>_spectrogram_<d>.png` group like any Gravity Spy upload.
pub fn glitch_key(name: &str, center_s: f64) -> String {
    let base = crate::views::base_name(name);
    let stem = base.split('.').next().unwrap_or(base);
    let ifo = detector_in_name(stem).unwrap_or_else(|| "X1".into());
    let clean: String = stem.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' }).collect();
    let clean = if clean.is_empty() { "strain".to_string() } else { clean };
    format!("{ifo}_{clean}-t{center_s:.3}")
}

#[cfg(test)]
mod tests {
    // In the browser (wasm-pack test), each #[test] below runs as a wasm_bindgen_test.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;
    use super::*;

    const GWOSC_HEADER: &str = "# Gravitational wave strain for H1_GWOSC_4KHZ_R1 (GWOSC)\n\
        # Sample rate: 4096 Hz\n# starting GPS 1126259446 duration 32\n";

    #[test]
    fn gwosc_text_header_and_samples() {
        let text = format!("{GWOSC_HEADER}1.5e-19\n\n-2.25e-19\n  3e-19  \n");
        let f = parse_gwosc_text("H-H1.txt", &text).unwrap();
        assert_eq!(f.samples, vec![1.5e-19, -2.25e-19, 3e-19]);
        assert_eq!(f.sample_rate, Some(4096.0));
        assert_eq!(f.gps_start, Some(1126259446.0));
        // Without a header: numbers only, nothing known.
        let g = read_strain("plain.txt", b"1\n2\n3\n").unwrap();
        assert_eq!((g.samples.len(), g.sample_rate, g.gps_start), (3, None, None));
    }

    #[test]
    fn bad_text_is_a_clear_error() {
        let e = parse_gwosc_text("a.txt", "# header\n1.0\nhello\n").unwrap_err().to_string();
        assert!(e.contains("a.txt") && e.contains("line 3") && e.contains("not a number"), "{e}");
        let e = parse_gwosc_text("a.txt", "1.0 2.0\n").unwrap_err().to_string();
        assert!(e.contains("one number per line"), "{e}");
        let e = parse_gwosc_text("a.txt", "1.0\nnan\n").unwrap_err().to_string();
        assert!(e.contains("sample 1 (line 2)") && e.contains("NaN"), "{e}");
        let e = parse_gwosc_text("a.txt", "1.0\n-inf\n").unwrap_err().to_string();
        assert!(e.contains("not a finite number"), "{e}");
        let e = parse_gwosc_text("a.txt", "# only a header\n").unwrap_err().to_string();
        assert!(e.contains("no samples"), "{e}");
        assert!(read_strain("x.txt", b"").unwrap_err().to_string().contains("empty"));
        assert!(read_strain("x.txt.gz", &[0x1f, 0x8b, 8, 0]).unwrap_err().to_string().contains("gzip"));
        assert!(read_strain("x.hdf5", b"\x89HDF\r\n\x1a\n").unwrap_err().to_string().contains("HDF5"));
        assert!(read_strain("x.bin", &[0xff, 0xfe, 0x00]).unwrap_err().to_string().contains("not text"));
    }

    #[test]
    fn too_long_series_is_refused() {
        let text = "0\n".repeat(MAX_STRAIN_SAMPLES + 1);
        let e = parse_gwosc_text("long.txt", &text).unwrap_err();
        assert!(matches!(e, StrainError::TooLong { .. }), "{e}");
    }

    #[test]
    fn npy_strain_one_axis_only() {
        let bytes = crate::npy::write_npy_f32_bytes(&[4], &[1.0, 2.0, 3.0, 4.0]).unwrap();
        let f = read_strain("s.npy", &bytes).unwrap();
        assert_eq!(f.samples, vec![1.0, 2.0, 3.0, 4.0]);
        let column = crate::npy::write_npy_f32_bytes(&[4, 1], &[1.0, 2.0, 3.0, 4.0]).unwrap();
        assert_eq!(read_strain("c.npy", &column).unwrap().samples.len(), 4);
        let square = crate::npy::write_npy_f32_bytes(&[2, 2], &[1.0, 2.0, 3.0, 4.0]).unwrap();
        assert!(read_strain("q.npy", &square).unwrap_err().to_string().contains("1-d"));
        let nan = crate::npy::write_npy_f32_bytes(&[2], &[1.0, f32::NAN]).unwrap();
        assert!(read_strain("n.npy", &nan).unwrap_err().to_string().contains("sample 1"));
        assert!(read_strain("t.npy", b"\x93NUMPY garbage").unwrap_err().to_string().starts_with("t.npy: "));
    }

    #[test]
    fn centre_from_seconds_or_gps() {
        let f = StrainFile { samples: vec![0.0; 4096 * 32], sample_rate: Some(4096.0), gps_start: Some(1000.0) };
        assert_eq!(resolve_center("f", &f, 4096.0, None).unwrap(), 16.0);
        assert_eq!(resolve_center("f", &f, 4096.0, Some(7.5)).unwrap(), 7.5);
        assert_eq!(resolve_center("f", &f, 4096.0, Some(1010.0)).unwrap(), 10.0);
        let e = resolve_center("f", &f, 4096.0, Some(1040.0)).unwrap_err().to_string();
        assert!(e.contains("outside") && e.contains("GPS 1000"), "{e}");
        assert!(resolve_center("f", &f, 4096.0, Some(-1.0)).is_err());
        assert!(resolve_center("f", &f, 4096.0, Some(f64::NAN)).is_err());
    }

    #[test]
    fn views_of_a_loud_sine_gaussian_and_short_or_bad_input() {
        let rate = 4096.0;
        let n = (16.0 * rate) as usize;
        // Deterministic pseudo-noise plus a loud 200 Hz sine-Gaussian (a Blip-like burst) at 8 s.
        let mut state = 12345u64;
        let samples: Vec<f64> = (0..n)
            .map(|i| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let noise = ((state >> 11) as f64 / (1u64 << 53) as f64) - 0.5;
                let t = i as f64 / rate - 8.0;
                noise + 20.0 * (-(t / 0.01).powi(2)).exp() * (2.0 * std::f64::consts::PI * 200.0 * t).sin()
            })
            .collect();
        let views = gravity_spy_views("sg.npy", &samples, rate, 8.0).unwrap();
        assert_eq!(views.iter().map(|(d, _)| d.seconds()).collect::<Vec<_>>(), vec![0.5, 1.0, 2.0, 4.0]);
        for (d, img) in &views {
            assert_eq!(img.dimensions(), crate::spectrogram::render::FIGURE_SIZE);
            let png = encode_png("sg.npy", *d, img).unwrap();
            assert_eq!(&png[1..4], b"PNG");
        }
        // The burst is yellow (loud) somewhere in the 0.5 s view, the noise alone is not everywhere.
        let bright = views[0].1.pixels().filter(|p| p[0] > 200 && p[1] > 200 && p[2] < 100).count();
        assert!(bright > 50, "only {bright} loud pixels in the 0.5 s view");
        let e = gravity_spy_views("s.npy", &samples[..4096 * 4], rate, 2.0).unwrap_err().to_string();
        assert!(e.contains("at least 8 s"), "{e}");
        assert!(gravity_spy_views("s.npy", &samples, 0.0, 8.0).unwrap_err().to_string().contains("sample rate"));
        let zeros = vec![0.0; n];
        assert!(gravity_spy_views("z.npy", &zeros, rate, 8.0).is_err());
    }

    #[test]
    fn keys_name_the_detector_and_group_as_views() {
        assert_eq!(glitch_key("H-H1_GWOSC_4KHZ_R1-1126259447-32.txt.gz", 16.0), "H1_H-H1_GWOSC_4KHZ_R1-1126259447-32-t16.000");
        assert_eq!(glitch_key("dir/O3a_L1_Whistle_0.strain.npy", 7.0), "L1_O3a_L1_Whistle_0-t7.000");
        assert_eq!(glitch_key("my strain.txt", 1.5), "X1_my-strain-t1.500");
        let key = glitch_key("O3a_H1_Blip_0.strain.npy", 7.0);
        let view = crate::views::parse_view_name(&format!("{key}_spectrogram_0.5.png")).unwrap();
        assert_eq!(view.glitch_key(), key);
    }
}
