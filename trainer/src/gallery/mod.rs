//! The gallery: one picture with a row per Gravity Spy O1 class, each showing one glitch's four views (0.5, 1,
//! 2, 4 s) from the synthetic set next to one real glitch's, so anyone can judge the generator at a glance.
//!
//! - `pick`: which glitch stands for a class (the most views first; the seed breaks ties);
//! - `thumb`: file -> thumbnail through the library's one preprocessing path (decode, crop to the plot area);
//! - `layout`: where every cell, class name and column header goes, and the drawing;
//! - `errors`: a contact sheet of wrongly classified glitches (`glitchscope vote --errors`).
//!
//! Both data folders are found with [`crate::train::dataset::scan`], the loader the trainer uses, so the
//! gallery reads exactly what training reads: `DIR/<Class>/...` or `DIR/<source>/<Class>/...`.

mod errors;
mod layout;
mod palette_png;
mod pick;
#[cfg(test)]
mod tests;
mod text;
mod thumb;

pub use errors::{Wrong, write_error_sheet};

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use glitchscope::labels::O1_CLASSES;
use glitchscope::views::VIEW_COUNT;
use image::RgbImage;

use crate::train::dataset::{self, GlitchFiles};

pub use layout::Geometry;
pub use palette_png::save_indexed_png;
pub use thumb::{load_thumbnail, thumb_width};

/// Smallest thumbnail height that still shows a spectrogram and fits its column header.
pub const MIN_THUMB_HEIGHT: u32 = 32;
/// Largest thumbnail height: at 480 px the picture is already ~ 5,000 x 11,000 px.
pub const MAX_THUMB_HEIGHT: u32 = 480;

/// The two halves of a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Synthetic,
    Real,
}

impl Side {
    pub const ALL: [Side; 2] = [Side::Synthetic, Side::Real];

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn name(self) -> &'static str {
        match self {
            Side::Synthetic => "synthetic",
            Side::Real => "real",
        }
    }
}

/// The glitch shown for one class on one side.
pub struct Shown {
    /// `<IFO>_<id>` (or the file stem for names outside the Gravity Spy pattern).
    pub key: String,
    /// The folder its class folder sits in (`o1_cropped`, ...; the data folder's name for a flat layout).
    pub source: String,
    /// Thumbnails by slot (0.5, 1, 2, 4 s); `None` where the glitch has no readable view of that duration.
    pub views: [Option<RgbImage>; VIEW_COUNT],
}

/// One row of the gallery: a class and what each side shows for it (`None`: no example of the class).
pub struct Row {
    pub class: &'static str,
    pub sides: [Option<Shown>; 2],
}

pub struct GalleryOptions {
    pub thumb_height: u32,
    /// Picks which glitch stands for a class among equally complete ones.
    pub seed: u64,
}

/// The drawn gallery and what went into it.
pub struct Gallery {
    pub image: RgbImage,
    pub geometry: Geometry,
    pub rows: Vec<Row>,
    /// Files that could not be read, with the reason (path first).
    pub skipped: Vec<String>,
    /// Class folders found that are not O1 classes (e.g. `Unlabeled`, O3's `Fast_Scattering`).
    pub ignored_classes: Vec<String>,
}

/// Builds the gallery from a synthetic and a real data folder.
pub fn build(synthetic: &Path, real: &Path, options: &GalleryOptions) -> Result<Gallery> {
    let thumb_height = options.thumb_height;
    if !(MIN_THUMB_HEIGHT..=MAX_THUMB_HEIGHT).contains(&thumb_height) {
        bail!("thumbnail height {thumb_height} px is outside {MIN_THUMB_HEIGHT}..={MAX_THUMB_HEIGHT}");
    }
    let thumb_width = thumb_width(thumb_height);
    let found = [scan(synthetic, Side::Synthetic)?, scan(real, Side::Real)?];
    let ignored_classes: Vec<String> = found
        .iter()
        .flatten()
        .map(|g| g.class.clone())
        .filter(|c| !O1_CLASSES.contains(&c.as_str()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();

    let mut skipped = Vec::new();
    let mut rows = Vec::with_capacity(O1_CLASSES.len());
    for (c, &class) in O1_CLASSES.iter().enumerate() {
        let sides = Side::ALL.map(|side| {
            let of_class: Vec<&GlitchFiles> = found[side.index()].iter().filter(|g| g.class == class).collect();
            let stream = (2 * c + side.index()) as u64 + 1;
            choose(&pick::ranked(&of_class, options.seed, stream), thumb_width, thumb_height, &mut skipped)
        });
        rows.push(Row { class, sides });
    }

    let captions: Vec<String> = rows
        .iter()
        .filter_map(|r| r.sides[Side::Real.index()].as_ref().map(|s| format!("real: {}", s.source)))
        .collect();
    let labels: Vec<&str> = O1_CLASSES.iter().copied().chain(captions.iter().map(String::as_str)).collect();
    let font = text::Font::dejavu_sans()?;
    let geometry = Geometry::new(&font, thumb_width, thumb_height, rows.len() as u32, &labels);
    let title = format!(
        "GlitchScope gallery: one synthetic and one real Gravity Spy glitch per O1 class (seed {})",
        options.seed
    );
    let image = layout::draw(&font, &geometry, &rows, &title);
    Ok(Gallery { image, geometry, rows, skipped, ignored_classes })
}

fn scan(dir: &Path, side: Side) -> Result<Vec<GlitchFiles>> {
    dataset::scan(&[PathBuf::from(dir)]).with_context(|| format!("reading the {} data", side.name()))
}

/// Loads the first glitch of `ranked` whose files all load. A glitch with unreadable files is passed over
/// (each file named in `skipped`) unless no later one shows more views.
fn choose(ranked: &[&GlitchFiles], width: u32, height: u32, skipped: &mut Vec<String>) -> Option<Shown> {
    let mut best: Option<(usize, Shown)> = None;
    for glitch in ranked {
        let mut views: [Option<RgbImage>; VIEW_COUNT] = Default::default();
        let mut failed = false;
        for (slot, path) in &glitch.files {
            // The grouping gives each slot at most one file; a slot out of range cannot come from it.
            let Some(cell) = views.get_mut(*slot).filter(|v| v.is_none()) else { continue };
            match load_thumbnail(path, width, height) {
                Ok(thumb) => *cell = Some(thumb),
                Err(reason) => {
                    skipped.push(reason);
                    failed = true;
                }
            }
        }
        let loaded = views.iter().flatten().count();
        if loaded > best.as_ref().map_or(0, |(n, _)| *n) {
            best = Some((loaded, Shown { key: glitch.key.clone(), source: glitch.source.clone(), views }));
        }
        // Later glitches have no more views than this one (see `pick`): nothing better is to come.
        if !failed && loaded > 0 {
            break;
        }
    }
    best.map(|(_, shown)| shown)
}
