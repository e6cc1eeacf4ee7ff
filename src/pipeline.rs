//! From named files to a glitch ready for the network: group by Gravity Spy id, preprocess every view, keep a
//! per-file report (ok, or why not). The CLI and the browser both go through here, so they see identical
//! tensors and identical error messages.

use serde::Serialize;

use crate::preprocess::{self, InputSpec, PreprocessConfig};
use crate::views::{self, GlitchViews};

/// A file as the user gave it: its name (used for grouping) and its bytes.
#[derive(Clone, Debug)]
pub struct NamedFile {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// One file in a group, for the page to show before anything is decoded.
#[derive(Clone, Debug, Serialize)]
pub struct GroupedFile {
    /// Index of the file in the list that was grouped.
    pub index: usize,
    pub name: String,
    /// View duration in seconds, `None` when the name does not say.
    pub duration: Option<f32>,
}

/// A glitch found by grouping names.
#[derive(Clone, Debug, Serialize)]
pub struct GroupedGlitch {
    /// `<IFO>_<id>`, or the file stem for other names.
    pub key: String,
    pub ifo: Option<String>,
    pub files: Vec<GroupedFile>,
}

/// Group file names into glitches. Never fails: a file that claims a view slot already taken (the same
/// view uploaded twice) starts a glitch of its own, keyed `<key> (2)`, so nothing the user gave is lost.
pub fn group_names(names: &[String]) -> Vec<GroupedGlitch> {
    let mut glitches: Vec<GroupedGlitch> = Vec::new();
    // key -> indices into `glitches` of the glitches with that key (the first, then "(2)", ...).
    let mut by_key: std::collections::BTreeMap<String, Vec<usize>> = Default::default();
    for (index, name) in names.iter().enumerate() {
        let parsed = views::parse_view_name(name);
        let key = match &parsed {
            Some(p) => p.glitch_key(),
            None => file_stem(name).to_string(),
        };
        let duration = parsed.as_ref().map(|p| p.duration);
        let slot = duration.unwrap_or(views::UNKNOWN_DURATION_SLOT).seconds();
        let slot_of = |f: &GroupedFile| f.duration.unwrap_or(views::UNKNOWN_DURATION_SLOT.seconds());
        let same_key = by_key.entry(key.clone()).or_default();
        let free = same_key.iter().copied().find(|&g| !glitches[g].files.iter().any(|f| slot_of(f) == slot));
        let g = free.unwrap_or_else(|| {
            let n = same_key.len() + 1;
            glitches.push(GroupedGlitch {
                key: if n == 1 { key.clone() } else { format!("{key} ({n})") },
                ifo: parsed.as_ref().map(|p| p.ifo.clone()),
                files: Vec::new(),
            });
            same_key.push(glitches.len() - 1);
            glitches.len() - 1
        });
        glitches[g].files.push(GroupedFile { index, name: name.clone(), duration: duration.map(|d| d.seconds()) });
    }
    for g in &mut glitches {
        g.files.sort_by(|a, b| a.duration.unwrap_or(1.0).total_cmp(&b.duration.unwrap_or(1.0)));
    }
    glitches.sort_by(|a, b| a.key.cmp(&b.key));
    glitches
}

/// A file name without folder and extension.
fn file_stem(name: &str) -> &str {
    let base = views::base_name(name);
    base.rsplit_once('.').map(|(s, _)| s).filter(|s| !s.is_empty()).unwrap_or(base)
}

/// What happened to one file of a glitch.
#[derive(Clone, Debug, Serialize)]
pub struct ViewReport {
    pub name: String,
    /// Duration in seconds from the name, `None` when it does not say (the view then takes the 1 s slot).
    pub duration: Option<f32>,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Which crop rule applied: `full_plot`, `plot_area` or `other`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Why this picture does not look like a Gravity Spy spectrogram (viridis share, flat colour), if so:
    /// its class is then meaningless and must be shown with this warning.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
    /// Share of its plot-area pixels in the viridis colour map (0..1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub viridis_share: Option<f32>,
    /// PNG of the cropped spectrogram, small, for thumbnails.
    #[serde(skip_serializing_if = "Option::is_none", with = "serde_bytes_opt")]
    pub thumbnail: Option<Vec<u8>>,
}

mod serde_bytes_opt {
    pub fn serialize<S: serde::Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(b) => s.serialize_bytes(b),
            None => s.serialize_none(),
        }
    }
}

/// A glitch after preprocessing.
#[derive(Debug)]
pub struct PreparedGlitch {
    pub key: String,
    /// The network inputs by view slot; `None` when no view could be used.
    pub views: Option<GlitchViews>,
    pub reports: Vec<ViewReport>,
}

impl PreparedGlitch {
    /// The warnings of its used views that do not look like Gravity Spy spectrograms, joined; `None` if all do.
    pub fn warning(&self) -> Option<String> {
        let w: Vec<&str> = self.reports.iter().filter(|r| r.ok).filter_map(|r| r.warning.as_deref()).collect();
        (!w.is_empty()).then(|| w.join("; "))
    }
}

/// Thumbnail height in pixels (the plot area's aspect is kept).
const THUMBNAIL_HEIGHT: u32 = 96;

/// Preprocess the files of ONE glitch (as grouped by [`group_names`]; several files for one slot keep the
/// first). Bad files get a report with the reason; the glitch is usable if any view is.
pub fn prepare_glitch(files: &[NamedFile], spec: InputSpec, thumbnails: bool) -> PreparedGlitch {
    let config = PreprocessConfig { input: spec, ..PreprocessConfig::default() };
    let mut slots: GlitchViews = [None, None, None, None];
    let mut reports = Vec::with_capacity(files.len());
    let mut key = None;
    for file in files {
        let parsed = views::parse_view_name(&file.name);
        let duration = parsed.as_ref().map(|p| p.duration);
        key.get_or_insert_with(|| match &parsed {
            Some(p) => p.glitch_key(),
            None => file_stem(&file.name).to_string(),
        });
        let slot = duration.unwrap_or(views::UNKNOWN_DURATION_SLOT).index();
        let mut report = ViewReport {
            name: file.name.clone(),
            duration: duration.map(|d| d.seconds()),
            ok: false,
            error: None,
            kind: None,
            warning: None,
            viridis_share: None,
            thumbnail: None,
        };
        if slots[slot].is_some() {
            report.error = Some(format!("{}: a second file for the same view of this glitch; ignored", file.name));
        } else {
            match preprocess::preprocess_named(&file.name, &file.bytes, &config) {
                Ok(p) => {
                    report.ok = true;
                    report.kind = Some(p.kind.as_str().to_string());
                    let check = preprocess::likeness(&p.crop);
                    report.viridis_share = Some(check.viridis_share);
                    report.warning = check.problem.map(|why| format!("{}: {why}", file.name));
                    if thumbnails {
                        report.thumbnail = thumbnail_png(&p.crop);
                    }
                    slots[slot] = Some(p.input);
                }
                Err(e) => report.error = Some(e.to_string()),
            }
        }
        reports.push(report);
    }
    let usable = slots.iter().any(Option::is_some);
    PreparedGlitch { key: key.unwrap_or_default(), views: usable.then_some(slots), reports }
}

fn thumbnail_png(crop: &image::RgbImage) -> Option<Vec<u8>> {
    let (w, h) = crop.dimensions();
    if h == 0 {
        return None;
    }
    let tw = ((w as f32 * THUMBNAIL_HEIGHT as f32 / h as f32).round() as u32).max(1);
    let small = image::imageops::resize(crop, tw, THUMBNAIL_HEIGHT, image::imageops::FilterType::Triangle);
    let mut out = std::io::Cursor::new(Vec::new());
    small.write_to(&mut out, image::ImageFormat::Png).ok()?;
    Some(out.into_inner())
}

#[cfg(test)]
mod tests {
    // In the browser (wasm-pack test), each #[test] below runs as a wasm_bindgen_test.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;
    use super::*;

    #[test]
    fn grouping_keeps_duplicates_as_separate_glitches() {
        let names: Vec<String> = [
            "H1_a_spectrogram_0.5.png",
            "H1_a_spectrogram_1.0.png",
            "x/H1_a_spectrogram_1.0.png",
            "whatever.png",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let groups = group_names(&names);
        let total: usize = groups.iter().map(|g| g.files.len()).sum();
        assert_eq!(total, 4, "no file is lost");
        let a = groups.iter().find(|g| g.key == "H1_a").unwrap();
        assert_eq!(a.files.len(), 2);
        assert_eq!(a.ifo.as_deref(), Some("H1"));
        assert!(groups.iter().any(|g| g.key == "H1_a (2)" && g.files[0].index == 2));
        assert!(groups.iter().any(|g| g.key == "whatever" && g.files[0].duration.is_none()));
    }

    #[test]
    fn bad_files_are_reported_and_good_ones_kept() {
        let img = image::RgbImage::from_pixel(569, 479, image::Rgb([68, 1, 84]));
        let mut png = std::io::Cursor::new(Vec::new());
        img.write_to(&mut png, image::ImageFormat::Png).unwrap();
        let files = vec![
            NamedFile { name: "L1_b_spectrogram_2.0.png".into(), bytes: png.into_inner() },
            NamedFile { name: "L1_b_spectrogram_4.0.png".into(), bytes: b"not a picture".to_vec() },
            NamedFile { name: "L1_b_spectrogram_0.5.png".into(), bytes: Vec::new() },
        ];
        let spec = InputSpec { height: 32, width: 40 };
        let g = prepare_glitch(&files, spec, true);
        assert_eq!(g.key, "L1_b");
        let views = g.views.expect("one good view is enough");
        assert!(views[2].is_some() && views[3].is_none() && views[0].is_none());
        assert!(g.reports[0].ok && g.reports[0].thumbnail.is_some());
        assert!(g.reports[1].error.as_ref().unwrap().contains("L1_b_spectrogram_4.0.png"));
        assert!(g.reports[2].error.as_ref().unwrap().contains("empty"));
    }
}
