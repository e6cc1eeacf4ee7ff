//! Gravity Spy file names and the four views of a glitch.
//!
//! Gravity Spy names each picture `<IFO>_<id>_spectrogram_<duration>.png`, e.g.
//! `H1_0Sug0tqkoL_spectrogram_1.0.png` or `L1_1265064745.328119993_spectrogram_4.0.png`; the views of
//! one glitch share `<IFO>_<id>`. Pure functions of names: the browser uses them on uploaded files.
//!
//! A file whose name does not follow the pattern (or whose duration is not one of the four) is still
//! usable: it becomes a glitch of its own, keyed by its file stem, holding one view of unknown
//! duration in the 1.0 s slot ([`UNKNOWN_DURATION_SLOT`]). 1.0 s is chosen because it is the middle
//! of the four time scales and shows both short glitches and their surroundings; the view keeps
//! `duration: None` so callers can tell it was a guess.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The four Gravity Spy views, by the width of their time window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Duration {
    #[serde(rename = "0.5")]
    S0_5,
    #[serde(rename = "1.0")]
    S1,
    #[serde(rename = "2.0")]
    S2,
    #[serde(rename = "4.0")]
    S4,
}

/// Number of views of a glitch: the view slots of the network (model/batch.rs) and of every glitch here.
pub const VIEW_COUNT: usize = 4;

/// One glitch's preprocessed views (CHW floats at the model's input size), by slot 0.5, 1, 2, 4 s: what the
/// pipeline hands to the classifier.
pub type GlitchViews = [Option<Vec<f32>>; VIEW_COUNT];

/// The slot a view of unknown duration takes (see the module documentation).
pub const UNKNOWN_DURATION_SLOT: Duration = Duration::S1;

/// Whether a glitch is a single picture in the unknown-duration slot: a picture of unknown duration or a lone
/// view of that duration (the model cannot tell them apart). Such glitches get the card's single-picture
/// temperature.
pub fn is_single_picture(views: &[Option<Vec<f32>>]) -> bool {
    let present: Vec<usize> = (0..views.len()).filter(|&i| views[i].is_some()).collect();
    is_single_picture_slots(&present)
}

/// [`is_single_picture`] from the slots a glitch's views take.
pub fn is_single_picture_slots(present: &[usize]) -> bool {
    present == [UNKNOWN_DURATION_SLOT.index()]
}

/// Extensions accepted as pictures (compared without case).
pub const IMAGE_EXTENSIONS: [&str; 4] = ["png", "jpg", "jpeg", "gif"];

impl Duration {
    /// All four, in slot order.
    pub const ALL: [Duration; VIEW_COUNT] = [Self::S0_5, Self::S1, Self::S2, Self::S4];

    /// Slot index 0..4, in the order 0.5, 1.0, 2.0, 4.0 s.
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn from_index(index: usize) -> Option<Self> {
        Self::ALL.get(index).copied()
    }

    /// Width of the time window in seconds.
    pub fn seconds(self) -> f32 {
        match self {
            Self::S0_5 => 0.5,
            Self::S1 => 1.0,
            Self::S2 => 2.0,
            Self::S4 => 4.0,
        }
    }

    /// As written in Gravity Spy file names: "0.5", "1.0", "2.0", "4.0".
    pub fn label(self) -> &'static str {
        match self {
            Self::S0_5 => "0.5",
            Self::S1 => "1.0",
            Self::S2 => "2.0",
            Self::S4 => "4.0",
        }
    }

    /// Parses "0.5", "1.0", "1", "2.00", ... ; other values give `None`.
    pub fn parse(text: &str) -> Option<Self> {
        let value: f64 = text.trim().parse().ok()?;
        Self::ALL
            .into_iter()
            .find(|d| (f64::from(d.seconds()) - value).abs() < 1e-9)
    }
}

impl std::fmt::Display for Duration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} s", self.label())
    }
}

/// What a Gravity Spy file name says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewName {
    /// Detector, e.g. "H1", "L1".
    pub ifo: String,
    /// Gravity Spy id (or GPS time in some O3 sets), e.g. "0Sug0tqkoL".
    pub id: String,
    pub duration: Duration,
}

impl ViewName {
    /// The key shared by the views of one glitch: `<IFO>_<id>`.
    pub fn glitch_key(&self) -> String {
        format!("{}_{}", self.ifo, self.id)
    }
}

/// The file name without any folder ('/' or '\\').
pub fn base_name(name: &str) -> &str {
    name.rsplit(['/', '\\']).next().unwrap_or(name)
}

/// Splits a base name into stem and extension (the text after the last '.').
fn split_extension(base: &str) -> (&str, Option<&str>) {
    match base.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => (stem, Some(ext)),
        _ => (base, None),
    }
}

/// True when the name ends in one of [`IMAGE_EXTENSIONS`].
pub fn is_image_name(name: &str) -> bool {
    let (_, ext) = split_extension(base_name(name));
    ext.is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

/// Parses `<IFO>_<id>_spectrogram_<dur>.<png|jpg|jpeg|gif>` with any folder prefix.
/// `None` when the name does not follow the pattern or the duration is not one of the four.
pub fn parse_view_name(name: &str) -> Option<ViewName> {
    if !is_image_name(name) {
        return None;
    }
    let (stem, _) = split_extension(base_name(name));
    let (prefix, duration) = stem.rsplit_once("_spectrogram_")?;
    let duration = Duration::parse(duration)?;
    let (ifo, id) = prefix.split_once('_')?;
    let mut ifo_chars = ifo.chars();
    let ifo_ok = ifo.len() == 2
        && ifo_chars.next().is_some_and(|c| c.is_ascii_uppercase())
        && ifo_chars.next().is_some_and(|c| c.is_ascii_digit());
    if !ifo_ok || id.is_empty() {
        return None;
    }
    Some(ViewName {
        ifo: ifo.to_string(),
        id: id.to_string(),
        duration,
    })
}

/// One file placed in a glitch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct View<T> {
    /// The name as given (with its folder, if any).
    pub name: String,
    /// `None` when the name did not say; the view then sits in [`UNKNOWN_DURATION_SLOT`].
    pub duration: Option<Duration>,
    pub item: T,
}

/// The views of one glitch, indexed by [`Duration::index`]; any non-empty subset may be present.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Glitch<T> {
    /// `<IFO>_<id>` for Gravity Spy names, else the file stem.
    pub key: String,
    pub views: [Option<View<T>>; VIEW_COUNT],
}

impl<T> Glitch<T> {
    /// Number of views present.
    pub fn view_count(&self) -> usize {
        self.views.iter().filter(|v| v.is_some()).count()
    }

    /// The durations present, in slot order (unknown-duration views count as their slot).
    pub fn present(&self) -> Vec<Duration> {
        Duration::ALL
            .into_iter()
            .filter(|d| self.views[d.index()].is_some())
            .collect()
    }
}

/// Two files claim the same view of the same glitch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{first} and {second} are both the {slot} view of glitch {key}")]
pub struct DuplicateView {
    pub key: String,
    pub slot: Duration,
    pub first: String,
    pub second: String,
}

/// Groups named files into glitches, sorted by key. Names following the Gravity Spy pattern are
/// grouped by `<IFO>_<id>` (folders are ignored, so the same glitch in two class folders is caught
/// as a duplicate); any other name is a glitch of its own (see the module documentation).
pub fn group_views<T>(
    files: impl IntoIterator<Item = (String, T)>,
) -> Result<Vec<Glitch<T>>, DuplicateView> {
    let mut glitches: BTreeMap<String, Glitch<T>> = BTreeMap::new();
    for (name, item) in files {
        let (key, duration) = match parse_view_name(&name) {
            Some(v) => (v.glitch_key(), Some(v.duration)),
            None => (split_extension(base_name(&name)).0.to_string(), None),
        };
        let slot = duration.unwrap_or(UNKNOWN_DURATION_SLOT);
        let glitch = glitches.entry(key.clone()).or_insert_with(|| Glitch {
            key: key.clone(),
            views: [None, None, None, None],
        });
        if let Some(existing) = &glitch.views[slot.index()] {
            return Err(DuplicateView {
                key,
                slot,
                first: existing.name.clone(),
                second: name,
            });
        }
        glitch.views[slot.index()] = Some(View {
            name,
            duration,
            item,
        });
    }
    Ok(glitches.into_values().collect())
}

#[cfg(test)]
mod tests {
    // In the browser (wasm-pack test), each #[test] below runs as a wasm_bindgen_test.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;
    use super::*;

    #[test]
    fn duration_index_order() {
        let order: Vec<f32> = (0..VIEW_COUNT)
            .filter_map(Duration::from_index)
            .map(Duration::seconds)
            .collect();
        assert_eq!(order, vec![0.5, 1.0, 2.0, 4.0]);
        assert_eq!(Duration::from_index(4), None);
        for d in Duration::ALL {
            assert_eq!(Duration::from_index(d.index()), Some(d));
            assert_eq!(Duration::parse(d.label()), Some(d));
        }
    }

    #[test]
    fn duration_parse_variants() {
        assert_eq!(Duration::parse("1"), Some(Duration::S1));
        assert_eq!(Duration::parse("0.50"), Some(Duration::S0_5));
        assert_eq!(Duration::parse("8.0"), None);
        assert_eq!(Duration::parse("abc"), None);
    }

    #[test]
    fn parses_gravity_spy_names() {
        let v = parse_view_name("data/Blip/H1_0Sug0tqkoL_spectrogram_0.5.png").unwrap();
        assert_eq!(
            (v.ifo.as_str(), v.id.as_str(), v.duration),
            ("H1", "0Sug0tqkoL", Duration::S0_5)
        );
        assert_eq!(v.glitch_key(), "H1_0Sug0tqkoL");
        // O3 names carry a GPS time with a dot; Windows folders; upper-case extensions.
        let v = parse_view_name(r"C:\x\L1_1265064745.328119993_spectrogram_4.0.JPG").unwrap();
        assert_eq!(
            (v.ifo.as_str(), v.id.as_str(), v.duration),
            ("L1", "1265064745.328119993", Duration::S4)
        );
        assert!(parse_view_name("V1_abc_spectrogram_2.0.gif").is_some());
        assert!(parse_view_name("H1_abc_spectrogram_2.0.jpeg").is_some());
    }

    #[test]
    fn rejects_other_names() {
        for name in [
            "03faae2f-4259-4179-98c3-db1ae06a3393.jpg",
            "H1_abc_spectrogram_3.0.png", // not one of the four durations
            "H1_abc_spectrogram_1.0.txt", // not a picture
            "h1_abc_spectrogram_1.0.png", // detector must be upper-case letter + digit
            "H1__spectrogram_1.0.png",    // empty id
            "H1_abc_spectrogram_.png",
            "spectrogram_1.0.png",
        ] {
            assert_eq!(parse_view_name(name), None, "{name}");
        }
    }

    #[test]
    fn groups_views_and_keeps_unknowns_apart() {
        let files = [
            "a/H1_x_spectrogram_4.0.png",
            "a/H1_x_spectrogram_0.5.png",
            "b/L1_y_spectrogram_2.0.png",
            "c/some-upload.jpg",
            "a/H1_x_spectrogram_1.0.png",
        ];
        let glitches =
            group_views(files.iter().enumerate().map(|(i, n)| (n.to_string(), i))).unwrap();
        let keys: Vec<&str> = glitches.iter().map(|g| g.key.as_str()).collect();
        assert_eq!(keys, vec!["H1_x", "L1_y", "some-upload"]);
        assert_eq!(
            glitches[0].present(),
            vec![Duration::S0_5, Duration::S1, Duration::S4]
        );
        assert_eq!(
            glitches[0].views[Duration::S4.index()]
                .as_ref()
                .map(|v| v.item),
            Some(0)
        );
        assert_eq!(glitches[1].present(), vec![Duration::S2]);
        let unknown = glitches[2].views[UNKNOWN_DURATION_SLOT.index()]
            .as_ref()
            .unwrap();
        assert_eq!((unknown.duration, unknown.item), (None, 3));
        assert_eq!(glitches[2].view_count(), 1);
    }

    #[test]
    fn duplicate_view_is_an_error() {
        let files = [
            "Blip/H1_x_spectrogram_1.0.png",
            "Whistle/H1_x_spectrogram_1.0.jpg",
        ];
        let err = group_views(files.iter().map(|n| (n.to_string(), ()))).unwrap_err();
        assert_eq!(err.key, "H1_x");
        assert_eq!(err.slot, Duration::S1);
        assert!(err.to_string().contains("Whistle/H1_x_spectrogram_1.0.jpg"));
    }
}
