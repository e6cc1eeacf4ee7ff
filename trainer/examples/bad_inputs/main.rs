//! Writes the bad-input corpus into a folder: `cargo run --release -p glitchscope-trainer --example bad_inputs -- DIR`
//! (or `scripts/make-bad-inputs.sh DIR`). See `corpus.rs` for the files and `DIR/manifest.json` for the list.

// Some items (expected messages, strain centre) serve only tests/bad_inputs.rs, which includes the same file.
#[allow(dead_code)]
mod corpus;

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir] = args.as_slice() else {
        bail!("usage: bad_inputs DIR");
    };
    let real = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/real"));
    let real = real.is_dir().then_some(real);
    if real.is_none() {
        eprintln!("../shared/data/real is absent: truncated files are cut from synthetic pictures");
    }
    let entries = corpus::write_corpus(&PathBuf::from(dir), real)?;
    for e in &entries {
        println!("{:<28} {:<14} {}", e.file, format!("{:?}", e.expect), e.what);
    }
    println!("wrote {} files and {dir}/manifest.json", entries.len());
    Ok(())
}
