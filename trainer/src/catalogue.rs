//! Whole observing runs on a cluster: a catalogue of picture files cut into shards that a Slurm job array runs,
//! one `classify` or `embed` process per shard, merged into one CSV at the end.
//!
//! - The glitches are those of one sorted listing (`files.txt`, made once by `catalogue sbatch`, so that no shard
//!   walks a tree of millions of files), grouped into glitches before cutting, so a shard boundary never splits a
//!   glitch's views and keys are the same as in one unsharded run. Shard `i` of `N` holds glitches
//!   `i*G/N .. (i+1)*G/N`.
//! - A shard writes its result to a temporary name and renames it when complete: a shard file that exists is a
//!   finished shard. The job script exits at once for those, so resubmitting it (after a node failure, a
//!   `scancel`, a time limit) redoes only the shards that did not finish; `catalogue status` names them and
//!   prints the `sbatch --array=...` that runs just those.
//! - `catalogue merge` checks that every shard is there, that they share one header and that each classify shard
//!   has one row per glitch of its range, then writes one CSV.

use std::fmt;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

/// `i/N`: the `i`-th (from 0) of `N` equal parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// The glitches `start..end` of `total` that this shard holds.
    pub fn range(&self, total: usize) -> std::ops::Range<usize> {
        (self.index * total / self.count)..((self.index + 1) * total / self.count)
    }
}

impl FromStr for Shard {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let (i, n) = text.split_once('/').ok_or_else(|| format!("shard {text:?} is not of the form i/N"))?;
        let index: usize = i.trim().parse().map_err(|_| format!("shard {text:?}: {i:?} is not a number"))?;
        let count: usize = n.trim().parse().map_err(|_| format!("shard {text:?}: {n:?} is not a number"))?;
        if count == 0 || index >= count {
            return Err(format!("shard {text:?}: need 0 <= i < N (shards are numbered from 0, as Slurm array tasks)"));
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Paths listed in a file, one per line (blank lines and `#` comments skipped); relative paths are relative to
/// the list file's folder.
pub fn read_list(list: &Path) -> Result<Vec<PathBuf>> {
    let file = std::fs::File::open(list).with_context(|| format!("reading list file {}", list.display()))?;
    let base = list.parent().unwrap_or(Path::new("."));
    let mut paths = Vec::new();
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("{}: line {} is not text", list.display(), n + 1))?;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let path = Path::new(line);
        paths.push(if path.is_absolute() { path.to_path_buf() } else { base.join(path) });
    }
    Ok(paths)
}

/// Write `path` through a temporary file in the same folder and a rename, so that `path` appears complete or
/// not at all (a killed shard leaves no result that looks finished).
pub fn write_atomically(path: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    // Same extension as the result: writers that choose the format by extension see the right one.
    let stem = path.file_stem().with_context(|| format!("{}: not a file name", path.display()))?.to_string_lossy();
    let ext = path.extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{stem}.{}.partial{ext}", std::process::id()));
    let result = write(&tmp).and_then(|_| {
        std::fs::rename(&tmp, path).with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// What each shard of a catalogue runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    Classify,
    Embed,
}

/// `catalogue.json`: how a catalogue folder was made.
#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub task: Task,
    pub shards: usize,
    pub files: usize,
    pub glitches: usize,
    pub model: PathBuf,
    pub binary: PathBuf,
    /// The command of shard `{i}` (the job script substitutes the array task id).
    pub command: Vec<String>,
}

pub const MANIFEST: &str = "catalogue.json";
pub const LIST: &str = "files.txt";
pub const SCRIPT: &str = "job.sbatch";

/// The result file of shard `index` in catalogue folder `dir`.
pub fn shard_path(dir: &Path, index: usize, count: usize) -> PathBuf {
    dir.join("shards").join(format!("shard-{index:05}-of-{count:05}.csv"))
}

impl Manifest {
    pub fn read(dir: &Path) -> Result<Self> {
        let path = dir.join(MANIFEST);
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {} (not a catalogue folder?)", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("{}: not a catalogue manifest", path.display()))
    }

    /// Shards whose result file is not there yet.
    pub fn missing(&self, dir: &Path) -> Vec<usize> {
        (0..self.shards).filter(|&i| !shard_path(dir, i, self.shards).is_file()).collect()
    }
}

/// Slurm options of the job script.
#[derive(Clone, Debug, Default)]
pub struct SlurmOptions {
    pub job_name: String,
    pub partition: Option<String>,
    pub time: Option<String>,
    pub cpus_per_task: Option<usize>,
    pub mem: Option<String>,
    pub gres: Option<String>,
    /// At most this many array tasks at once (`--array=0-N%max`).
    pub max_parallel: Option<usize>,
    /// Further `#SBATCH` lines, verbatim (e.g. `--account=ligo`).
    pub extra: Vec<String>,
}

/// Shell-quote one word for the job script.
fn quote(word: &str) -> String {
    if !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=,+%{}".contains(c)) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// The Slurm job-array script of a catalogue folder: one array task per shard; a finished shard exits at once.
pub fn job_script(dir: &Path, manifest: &Manifest, slurm: &SlurmOptions) -> String {
    let mut s = String::from("#!/bin/bash\n");
    s += &format!("# GlitchScope catalogue: {} of {} glitches in {} shards. Made by `glitchscope catalogue sbatch`.\n",
        match manifest.task { Task::Classify => "classification", Task::Embed => "embeddings" }, manifest.glitches, manifest.shards);
    s += "# Submit with `sbatch job.sbatch`; resubmitting it reruns only the shards whose result is missing.\n";
    s += &format!("#SBATCH --job-name={}\n", quote(&slurm.job_name));
    let throttle = slurm.max_parallel.map(|m| format!("%{m}")).unwrap_or_default();
    s += &format!("#SBATCH --array=0-{}{throttle}\n", manifest.shards.saturating_sub(1));
    s += &format!("#SBATCH --output={}\n", quote(&dir.join("logs").join("shard-%a.out").display().to_string()));
    for (flag, value) in [
        ("partition", slurm.partition.clone()),
        ("time", slurm.time.clone()),
        ("cpus-per-task", slurm.cpus_per_task.map(|c| c.to_string())),
        ("mem", slurm.mem.clone()),
        ("gres", slurm.gres.clone()),
    ] {
        if let Some(v) = value {
            s += &format!("#SBATCH --{flag}={}\n", quote(&v));
        }
    }
    for extra in &slurm.extra {
        s += &format!("#SBATCH {extra}\n");
    }
    s += "set -euo pipefail\n";
    s += "i=\"${SLURM_ARRAY_TASK_ID:?run this script with sbatch, or set SLURM_ARRAY_TASK_ID}\"\n";
    s += &format!("out={}/shard-$(printf %05d \"$i\")-of-{:05}.csv\n", quote(&dir.join("shards").display().to_string()), manifest.shards);
    s += "if [ -f \"$out\" ]; then echo \"shard $i already done: $out\"; exit 0; fi\n";
    // Rayon and Burn's CPU backend use every core they see; under Slurm that is the allocation.
    s += "export RAYON_NUM_THREADS=\"${SLURM_CPUS_PER_TASK:-${RAYON_NUM_THREADS:-}}\"\n";
    s += "[ -n \"$RAYON_NUM_THREADS\" ] || unset RAYON_NUM_THREADS\n";
    let words: Vec<String> = manifest
        .command
        .iter()
        .map(|w| match w.as_str() {
            "{i}/{n}" => format!("\"$i\"/{}", manifest.shards),
            "{out}" => "\"$out\"".to_string(),
            other => quote(other),
        })
        .collect();
    s += &format!("exec {}\n", words.join(" "));
    s
}

/// Compress a list of shard numbers for `sbatch --array`: `1,4-6,9`.
pub fn array_spec(shards: &[usize]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < shards.len() {
        let mut j = i;
        while j + 1 < shards.len() && shards[j + 1] == shards[j] + 1 {
            j += 1;
        }
        parts.push(if i == j { shards[i].to_string() } else { format!("{}-{}", shards[i], shards[j]) });
        i = j + 1;
    }
    parts.join(",")
}

/// What `merge` did.
pub struct Merged {
    pub rows: usize,
    pub shards: usize,
}

/// Concatenate the shard CSVs of `dir` into `out` (one header). Every shard must be there; shards with no rows
/// (more shards than glitches, or no usable picture) add nothing; the others must share one header; a classify
/// shard must have one row per glitch of its range.
pub fn merge(dir: &Path, out: &Path) -> Result<Merged> {
    let manifest = Manifest::read(dir)?;
    let missing = manifest.missing(dir);
    if !missing.is_empty() {
        bail!(
            "{} of {} shards are not finished ({}): run `sbatch --array={} {}` first",
            missing.len(),
            manifest.shards,
            array_spec(&missing),
            array_spec(&missing),
            dir.join(SCRIPT).display()
        );
    }
    let mut header: Option<(csv::StringRecord, PathBuf)> = None;
    let mut rows = 0;
    write_atomically(out, |tmp| {
        let mut writer = csv::Writer::from_writer(std::io::BufWriter::new(
            std::fs::File::create(tmp).with_context(|| format!("writing {}", out.display()))?,
        ));
        for i in 0..manifest.shards {
            let path = shard_path(dir, i, manifest.shards);
            let mut reader = csv::Reader::from_path(&path).with_context(|| format!("reading {}", path.display()))?;
            let this = reader.headers().with_context(|| format!("{}: reading the header", path.display()))?.clone();
            let mut shard_rows = 0;
            let mut record = csv::StringRecord::new();
            while reader.read_record(&mut record).with_context(|| format!("{}: row {}", path.display(), shard_rows + 1))? {
                if shard_rows == 0 {
                    match &header {
                        None => {
                            writer.write_record(&this)?;
                            header = Some((this.clone(), path.clone()));
                        }
                        Some((first, first_path)) if *first != this => bail!(
                            "{} has another header than {} (different models or tasks in one catalogue?)",
                            path.display(),
                            first_path.display()
                        ),
                        Some(_) => {}
                    }
                }
                writer.write_record(&record)?;
                shard_rows += 1;
            }
            let expected = Shard { index: i, count: manifest.shards }.range(manifest.glitches).len();
            if manifest.task == Task::Classify && shard_rows != expected {
                bail!("{}: {shard_rows} rows, but shard {i} has {expected} glitches (delete it and rerun the shard)", path.display());
            }
            rows += shard_rows;
        }
        writer.flush().with_context(|| format!("writing {}", out.display()))?;
        Ok(())
    })?;
    Ok(Merged { rows, shards: manifest.shards })
}

/// Write the sorted file listing of a catalogue.
pub fn write_list(path: &Path, files: &[PathBuf]) -> Result<()> {
    write_atomically(path, |tmp| {
        let mut w = std::io::BufWriter::new(std::fs::File::create(tmp).with_context(|| format!("writing {}", path.display()))?);
        for f in files {
            let text = f.to_str().with_context(|| format!("{}: file name is not UTF-8", f.display()))?;
            if text.contains('\n') {
                bail!("{text:?}: a file name with a line break cannot go into a list file");
            }
            writeln!(w, "{text}")?;
        }
        w.flush()?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_cover_every_glitch_once() {
        for total in [0, 1, 7, 100, 101] {
            for count in [1, 2, 3, 7, 150] {
                let ranges: Vec<_> = (0..count).map(|index| Shard { index, count }.range(total)).collect();
                assert_eq!(ranges[0].start, 0);
                assert_eq!(ranges[count - 1].end, total);
                assert!(ranges.windows(2).all(|w| w[0].end == w[1].start), "{total} in {count}");
                let (min, max) = ranges.iter().fold((usize::MAX, 0), |(a, b), r| (a.min(r.len()), b.max(r.len())));
                assert!(max - min <= 1, "even parts: {total} in {count}");
            }
        }
    }

    #[test]
    fn shard_specs_parse_and_name_their_problem() {
        assert_eq!("3/10".parse::<Shard>().unwrap(), Shard { index: 3, count: 10 });
        assert!("10/10".parse::<Shard>().unwrap_err().contains("0 <= i < N"));
        assert!("a/3".parse::<Shard>().unwrap_err().contains("\"a\""));
        assert!("3".parse::<Shard>().unwrap_err().contains("i/N"));
    }

    #[test]
    fn array_specs_are_compact() {
        assert_eq!(array_spec(&[1, 4, 5, 6, 9]), "1,4-6,9");
        assert_eq!(array_spec(&[0]), "0");
        assert_eq!(array_spec(&[]), "");
    }

    #[test]
    fn list_files_resolve_relative_paths_and_skip_comments() {
        let dir = tempfile::tempdir().unwrap();
        let list = dir.path().join("l.txt");
        std::fs::write(&list, "# a comment\n\na/b.png\n/abs/c.png\n  d.png  \n").unwrap();
        let paths = read_list(&list).unwrap();
        assert_eq!(paths, vec![dir.path().join("a/b.png"), PathBuf::from("/abs/c.png"), dir.path().join("d.png")]);
        let err = read_list(&dir.path().join("none.txt")).unwrap_err().to_string();
        assert!(err.contains("none.txt"), "{err}");
    }

    #[test]
    fn atomic_writes_leave_nothing_on_failure() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.csv");
        assert!(write_atomically(&path, |tmp| {
            std::fs::write(tmp, "half")?;
            bail!("killed")
        })
        .is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "no result and no temporary file");
        write_atomically(&path, |tmp| Ok(std::fs::write(tmp, "whole")?)).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "whole");
    }

    #[test]
    fn job_scripts_quote_and_skip_finished_shards() {
        let manifest = Manifest {
            task: Task::Classify,
            shards: 4,
            files: 10,
            glitches: 5,
            model: "/m/default.json".into(),
            binary: "/bin/glitchscope".into(),
            command: ["/bin/glitchscope", "classify", "--model", "/m/a b.json", "--shard", "{i}/{n}", "--out", "{out}"]
                .map(String::from)
                .to_vec(),
        };
        let slurm = SlurmOptions { job_name: "gs".into(), cpus_per_task: Some(4), max_parallel: Some(2), ..Default::default() };
        let s = job_script(Path::new("/cat"), &manifest, &slurm);
        assert!(s.contains("#SBATCH --array=0-3%2\n"), "{s}");
        assert!(s.contains("#SBATCH --cpus-per-task=4\n"));
        assert!(s.contains("if [ -f \"$out\" ]; then"));
        assert!(s.contains("exec /bin/glitchscope classify --model '/m/a b.json' --shard \"$i\"/4 --out \"$out\"\n"), "{s}");
    }
}
