//! Finding and reading spectrogram files for the commands that take files or folders (classify, embed).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use glitchscope::inference::Classifier;
use glitchscope::pipeline::{self, GroupedGlitch, NamedFile};

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

/// What `classify` and `embed` both start from: the model, its input size, the picture files under the inputs
/// and those files grouped into glitches (indices into `files`).
pub struct Inputs {
    pub classifier: Classifier,
    pub spec: glitchscope::preprocess::InputSpec,
    pub files: Vec<PathBuf>,
    pub groups: Vec<GroupedGlitch>,
}

/// Load the model card on `device` and find and group the picture files under `inputs`.
pub fn load_inputs(model: &Path, device: &str, inputs: &[PathBuf]) -> Result<Inputs> {
    let device = crate::device::select(device)?;
    let classifier = Classifier::from_card_file(model, &device)?;
    let spec = pipeline::input_spec(&classifier.card);
    let files = collect_files(inputs)?;
    if files.is_empty() {
        bail!("no image files (.png, .jpg, .jpeg, .gif) found in the inputs");
    }
    let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    let groups = pipeline::group_names(&names);
    Ok(Inputs { classifier, spec, files, groups })
}
