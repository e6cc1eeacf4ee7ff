//! `glitchscope gallery`: one PNG with a row per O1 class, a synthetic glitch's four views next to a real one's
//! (see [`crate::gallery`]).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::gallery::{self, GalleryOptions, MAX_THUMB_HEIGHT, MIN_THUMB_HEIGHT, Side};

#[derive(Args, Debug)]
pub struct GalleryArgs {
    /// Synthetic data folder (what `glitchscope synth` writes: DIR/<Class>/<IFO>_<id>_spectrogram_<dur>.png).
    #[arg(long)]
    pub synthetic: PathBuf,
    /// Real data folder, DIR/<Class>/... or DIR/<source>/<Class>/... (e.g. ../shared/data/real).
    #[arg(long)]
    pub real: PathBuf,
    /// Output PNG (256-colour palette, see `gallery::save_indexed_png`).
    #[arg(long)]
    pub out: PathBuf,
    /// Height of each thumbnail in pixels (the width follows the plot area's 559:470).
    #[arg(long, default_value_t = 96,
          value_parser = clap::value_parser!(u32).range(i64::from(MIN_THUMB_HEIGHT)..=i64::from(MAX_THUMB_HEIGHT)))]
    pub thumb_height: u32,
    /// Picks which glitch stands for a class among the equally complete ones.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

pub fn run(args: GalleryArgs) -> Result<()> {
    let options = GalleryOptions { thumb_height: args.thumb_height, seed: args.seed };
    let built = gallery::build(&args.synthetic, &args.real, &options)?;
    for reason in &built.skipped {
        eprintln!("skipped {reason}");
    }
    if !built.ignored_classes.is_empty() {
        println!("not O1 classes, left out: {}", built.ignored_classes.join(", "));
    }
    println!("{:<20} {:<28} real", "class", "synthetic");
    for row in &built.rows {
        let describe = |side: Side| match &row.sides[side.index()] {
            Some(s) => {
                let views = s.views.iter().filter(|v| v.is_some()).count();
                format!("{}/{} ({views} views)", s.source, s.key)
            }
            None => "-".to_string(),
        };
        println!("{:<20} {:<28} {}", row.class, describe(Side::Synthetic), describe(Side::Real));
    }
    let error = gallery::save_indexed_png(&built.image, &args.out)?;
    let bytes = std::fs::metadata(&args.out).map(|m| m.len()).unwrap_or(0);
    let (width, height) = built.image.dimensions();
    let thumb = (built.geometry.thumb_width, built.geometry.thumb_height);
    println!(
        "wrote {} ({width}x{height} px, thumbnails {}x{} px, {:.0} KiB; 256-colour palette, mean |error| {:.2}, max {} of 255)",
        args.out.display(),
        thumb.0,
        thumb.1,
        bytes as f64 / 1024.0,
        error.mean_abs,
        error.max_abs
    );
    Ok(())
}
