//! Copy a dataset in the Gravity Spy layout with every picture replaced by what the network sees: the plot
//! area cropped and resized to the model's input size, as a lossless PNG.
//!
//! Why: a remote GPU machine often cannot read the original folders, and the 800x600 plots are ~10x larger
//! than the inputs. The copy gives bit-identical tensors: a picture that is already input-sized is "not a
//! Gravity Spy layout", taken whole, and `image`'s resize to the same size is a copy. File names (and so
//! glitch ids, grouping and the train/validation split) are kept, a `.jpg` name included: the decoder reads
//! the format from the content. Unreadable pictures are reported and left out, as the trainer would.
//!
//!     cargo run --release -p glitchscope-trainer --example input_size_dataset -- SRC DST [HEIGHT WIDTH]

use std::path::Path;

use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, Result, bail};
use glitchscope::preprocess::{DecodeLimits, InputSpec, crop_plot_area, decode_rgb, resize_to_input};
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use rayon::prelude::*;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() != 2 && args.len() != 4 {
        bail!("usage: input_size_dataset SRC DST [HEIGHT WIDTH]   (default: the model's 176 208)");
    }
    let mut spec = InputSpec::default();
    if args.len() == 4 {
        spec = InputSpec { height: args[2].parse()?, width: args[3].parse()? };
    }
    let (written, skipped) = (AtomicUsize::new(0), AtomicUsize::new(0));
    copy_dir(Path::new(&args[0]), Path::new(&args[1]), spec, &written, &skipped)?;
    let (written, skipped) = (written.into_inner(), skipped.into_inner());
    println!("{written} pictures written at {}x{} (HxW), {skipped} unreadable left out", spec.height, spec.width);
    Ok(())
}

fn copy_dir(src: &Path, dst: &Path, spec: InputSpec, written: &AtomicUsize, skipped: &AtomicUsize) -> Result<()> {
    std::fs::create_dir_all(dst).with_context(|| format!("creating {}", dst.display()))?;
    let mut entries: Vec<_> = std::fs::read_dir(src)
        .with_context(|| format!("reading {}", src.display()))?
        .collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    let (dirs, files): (Vec<_>, Vec<_>) = entries.into_iter().partition(|e| e.path().is_dir());
    for entry in dirs {
        copy_dir(&entry.path(), &dst.join(entry.file_name()), spec, written, skipped)?;
    }
    files.par_iter().try_for_each(|entry| -> Result<()> {
        let (from, to) = (entry.path(), dst.join(entry.file_name()));
        let ext = from.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        if !matches!(ext.as_str(), "png" | "jpg" | "jpeg" | "gif") {
            std::fs::copy(&from, &to).with_context(|| format!("copying {}", from.display()))?;
            return Ok(());
        }
        let bytes = std::fs::read(&from).with_context(|| format!("reading {}", from.display()))?;
        match decode_rgb(&bytes, &DecodeLimits::default()) {
            Ok(rgb) => {
                let input = resize_to_input(&crop_plot_area(&rgb).image, spec);
                // Smallest lossless PNG: these copies exist to travel.
                let file = std::fs::File::create(&to).with_context(|| format!("creating {}", to.display()))?;
                let encoder = PngEncoder::new_with_quality(file, CompressionType::Best, FilterType::Adaptive);
                input.write_with_encoder(encoder).with_context(|| format!("writing {}", to.display()))?;
                written.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                eprintln!("skipped {}: {e}", from.display());
                skipped.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(())
    })
}
