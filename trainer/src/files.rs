//! Finding and reading spectrogram files for the commands that take files or folders (classify, embed).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use glitchscope::inference::Classifier;
use glitchscope::views::GlitchViews;
use glitchscope::pipeline::{self, GroupedGlitch, NamedFile};

use crate::catalogue::{self, Shard};

/// Which glitches a command works on, besides the files and folders given: a list file, and one shard of all.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct Selection {
    /// A text file listing picture files, one per line (relative to the list's folder); for catalogues of
    /// millions of files, where walking the tree in every shard would be slow.
    #[arg(long)]
    pub list: Option<PathBuf>,
    /// Only shard i of N (from 0): the glitches i*G/N .. (i+1)*G/N of the sorted, grouped inputs, so N processes
    /// (a Slurm job array: `glitchscope catalogue sbatch`) share a catalogue without splitting a glitch.
    #[arg(long)]
    pub shard: Option<Shard>,
}

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

/// Read and preprocess one glitch of the inputs: its key and views. A file that cannot be read, or a glitch with
/// no usable view, is skipped with a message naming it, so the rest of the batch goes on.
pub fn prepare_group(group: &GroupedGlitch, files: &[PathBuf], spec: glitchscope::preprocess::InputSpec) -> Option<(String, GlitchViews)> {
    let named = match read_group(group, files) {
        Ok(named) => named,
        Err(e) => {
            eprintln!("skipped {}: {e:#}", group.key);
            return None;
        }
    };
    let prepared = pipeline::prepare_glitch(&named, spec, false);
    let Some(views) = prepared.views else {
        let reasons: Vec<String> = prepared.reports.iter().filter_map(|r| r.error.clone()).collect();
        eprintln!("skipped {}: no usable view ({})", prepared.key, reasons.join("; "));
        return None;
    };
    Some((prepared.key, views))
}

/// The first folder of `file` under `root`: the source of a real glitch in `<source>/<Class>/<files>` (empty when
/// the file is not under `root`).
pub fn source_of(root: &Path, file: &Path) -> String {
    file.strip_prefix(root)
        .ok()
        .and_then(|rel| rel.components().next())
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The name of the folder that holds a glitch's first file: its class in the Gravity Spy layout `<Class>/<files>`.
pub fn folder_label(group: &GroupedGlitch, files: &[PathBuf]) -> String {
    let first = &files[group.files[0].index];
    first.parent().and_then(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// What `classify` and `embed` both start from: the model, its input size, the picture files under the inputs
/// and those files grouped into glitches (indices into `files`).
pub struct Inputs {
    pub classifier: Classifier,
    pub spec: glitchscope::preprocess::InputSpec,
    pub files: Vec<PathBuf>,
    pub groups: Vec<GroupedGlitch>,
}

/// Every picture file of the inputs and the list file, sorted and without repeats, grouped into glitches.
pub fn find_glitches(inputs: &[PathBuf], list: Option<&Path>) -> Result<(Vec<PathBuf>, Vec<GroupedGlitch>)> {
    let mut files = collect_files(inputs)?;
    if let Some(list) = list {
        files.extend(catalogue::read_list(list)?);
        files.sort();
    }
    files.dedup();
    let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    let groups = pipeline::group_names(&names);
    Ok((files, groups))
}

/// Load the model card on `device` and find and group the picture files under `inputs` (and `selection`'s list),
/// keeping `selection`'s shard of the glitches. A shard may be empty (more shards than glitches).
pub fn load_inputs(model: &Path, device: &str, inputs: &[PathBuf], selection: &Selection) -> Result<Inputs> {
    if inputs.is_empty() && selection.list.is_none() {
        bail!("no inputs: give picture files or folders, or --list FILE");
    }
    let device = crate::device::select(device)?;
    let classifier = Classifier::from_card_file(model, &device)?;
    let spec = classifier.card.input_spec();
    let (files, mut groups) = find_glitches(inputs, selection.list.as_deref())?;
    if files.is_empty() {
        bail!("no image files (.png, .jpg, .jpeg, .gif) found in the inputs");
    }
    if let Some(shard) = selection.shard {
        let range = shard.range(groups.len());
        eprintln!("shard {shard}: glitches {}..{} of {}", range.start, range.end, groups.len());
        groups = groups.drain(range).collect();
    }
    Ok(Inputs { classifier, spec, files, groups })
}
