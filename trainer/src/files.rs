//! Finding and reading spectrogram files for the commands that take files or folders (classify, embed).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use glitchscope::pipeline::{GroupedGlitch, NamedFile};

/// Files under the inputs that look like pictures, sorted; plain files are taken whatever their name so a
/// wrongly named file gets a clear message rather than being silently skipped.
pub fn collect_files(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for input in inputs {
        if input.is_dir() {
            walk(input, &mut files).with_context(|| format!("reading folder {}", input.display()))?;
        } else if input.exists() {
            files.push(input.clone());
        } else {
            bail!("{}: no such file or folder", input.display());
        }
    }
    files.sort();
    Ok(files)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else if glitchscope::views::is_image_name(&path.to_string_lossy()) {
            out.push(path);
        }
    }
    Ok(())
}

/// The bytes of one glitch's files (`files` is the list the group's indices point into).
pub fn read_group(group: &GroupedGlitch, files: &[PathBuf]) -> Result<Vec<NamedFile>> {
    group
        .files
        .iter()
        .map(|f| {
            let path = &files[f.index];
            let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            Ok(NamedFile { name: f.name.clone(), bytes })
        })
        .collect()
}
