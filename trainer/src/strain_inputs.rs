//! `classify|embed --strain FILES --triggers LIST`: every trigger of a list, in every strain file (and detector)
//! that holds it, becomes a glitch whose four views are rendered by the library's strain path
//! (`glitchscope::strain_series::trigger_views`), encoded as PNG and read back through the same preprocessing as
//! picture files, so a trigger's answer is the answer for its PNGs (`--save-views` writes them).
//!
//! Bad input never stops the others: a strain file that cannot be read is reported and its triggers are then
//! "outside every strain file"; a trigger that cannot be rendered keeps its row with the error naming the file
//! and the trigger.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use glitchscope::pipeline::{self, NamedFile, PreparedGlitch};
use glitchscope::preprocess::InputSpec;
use glitchscope::strain_series::{StrainSeries, TRIGGER_WINDOW_S, read_strain_series, trigger_key, trigger_views};
use glitchscope::triggers::{Trigger, TriggerCuts, read_triggers};
use rayon::prelude::*;

use crate::catalogue::Shard;

#[derive(clap::Args, Clone, Debug, Default)]
pub struct StrainInputs {
    /// Strain files to classify triggers in: GWOSC HDF5 (4 or 16 kHz; only the chunks a trigger needs are read),
    /// gwpy HDF5, GWOSC ASCII, .npy. Each trigger is looked up in every file and detector that holds its time.
    #[arg(long, num_args = 1.., value_name = "FILES")]
    pub strain: Vec<PathBuf>,
    /// Trigger list: GPS times one per line, a CSV/space table with a time column (and snr, frequency, ifo),
    /// Omicron text output, or LIGO_LW XML (sngl_burst, .xml or .xml.gz).
    #[arg(long, value_name = "LIST", requires = "strain")]
    pub triggers: Option<PathBuf>,
    /// GPS times to classify (besides or instead of --triggers).
    #[arg(long, num_args = 1.., value_name = "GPS", requires = "strain")]
    pub gps: Vec<f64>,
    /// Keep triggers with SNR at least this (Gravity Spy: 7.5); triggers without an SNR are kept.
    #[arg(long, default_value_t = 7.5)]
    pub snr_min: f64,
    /// Keep triggers whose peak frequency is in fmin..fmax Hz (Gravity Spy: 10–2048); those without one are kept.
    #[arg(long, default_value_t = 10.0)]
    pub fmin: f64,
    #[arg(long, default_value_t = 2048.0)]
    pub fmax: f64,
    /// Seconds of strain taken around each trigger (whitening and Q-transform), shortened at file edges and gaps.
    #[arg(long, default_value_t = TRIGGER_WINDOW_S)]
    pub window: f64,
    /// Sample rate of ASCII/.npy strain whose header does not give one (default 4096 Hz).
    #[arg(long)]
    pub sample_rate: Option<f64>,
    /// Write each trigger's four views here as Gravity Spy PNGs (`<IFO>_<GPS>_spectrogram_<d>.png`).
    #[arg(long, value_name = "DIR")]
    pub save_views: Option<PathBuf>,
}

impl StrainInputs {
    pub fn given(&self) -> bool {
        !self.strain.is_empty()
    }
}

/// One glitch to make: a trigger and the series that holds it (`None`: no strain file holds it).
pub struct TriggerJob {
    pub key: String,
    pub trigger: Trigger,
    pub series: Option<usize>,
}

/// A trigger made into a glitch (or the reason it could not be).
pub struct TriggerGlitch {
    pub key: String,
    pub ifo: String,
    pub file: String,
    pub trigger: Trigger,
    pub prepared: Result<PreparedGlitch, String>,
}

/// The series of the strain files, the triggers after the cuts, and one job per trigger and series holding it,
/// sorted by GPS time and detector, then cut to `shard`. Unreadable strain files are reported on stderr.
pub fn plan(args: &StrainInputs, shard: Option<Shard>) -> Result<(Vec<StrainSeries>, Vec<TriggerJob>)> {
    let mut series = Vec::new();
    for path in &args.strain {
        match open(path, args.sample_rate) {
            Ok(s) => series.extend(s),
            Err(e) => eprintln!("error: {e:#}"),
        }
    }
    if series.is_empty() {
        bail!("no strain could be read from {} file(s)", args.strain.len());
    }
    let mut triggers: Vec<Trigger> = args.gps.iter().map(|&gps| Trigger { gps, ifo: None, snr: None, frequency: None, line: 0 }).collect();
    if let Some(list) = &args.triggers {
        let bytes = std::fs::read(list).with_context(|| format!("reading trigger list {}", list.display()))?;
        triggers.extend(read_triggers(&list.display().to_string(), &bytes)?);
    }
    if triggers.is_empty() {
        bail!("no triggers: give --triggers LIST or --gps TIMES");
    }
    let cuts = TriggerCuts { snr_min: args.snr_min, fmin: args.fmin, fmax: args.fmax };
    let total = triggers.len();
    triggers.retain(|t| cuts.keep(t));
    let cut = format!("SNR >= {}, {}–{} Hz", cuts.snr_min, cuts.fmin, cuts.fmax);
    if triggers.is_empty() {
        let list = args.triggers.as_ref().map(|l| format!("{}: ", l.display())).unwrap_or_default();
        bail!("{list}none of the {total} triggers passes the cuts ({cut}; see --snr-min, --fmin, --fmax)");
    }
    eprintln!("{} of {total} triggers pass the cuts ({cut})", triggers.len());
    let mut jobs = Vec::new();
    for t in triggers {
        let holders: Vec<usize> = (0..series.len())
            .filter(|&i| {
                let s = &series[i];
                let same_ifo = match (&t.ifo, &s.ifo) {
                    (Some(a), Some(b)) => a == b,
                    _ => true,
                };
                same_ifo && t.gps >= s.gps_start && t.gps < s.gps_end()
            })
            .collect();
        if holders.is_empty() {
            jobs.push(TriggerJob { key: trigger_key(t.ifo.as_deref(), t.gps), trigger: t.clone(), series: None });
        }
        for i in holders {
            jobs.push(TriggerJob { key: trigger_key(series[i].ifo.as_deref(), t.gps), trigger: t.clone(), series: Some(i) });
        }
    }
    jobs.sort_by(|a, b| a.trigger.gps.total_cmp(&b.trigger.gps).then_with(|| a.key.cmp(&b.key)));
    // The same trigger in two files of one detector (or listed twice): "key (2)", as for pictures.
    let mut seen = std::collections::HashMap::<String, usize>::new();
    for job in &mut jobs {
        let n = seen.entry(job.key.clone()).or_default();
        *n += 1;
        if *n > 1 {
            job.key = format!("{} ({n})", job.key);
        }
    }
    if let Some(shard) = shard {
        let range = shard.range(jobs.len());
        eprintln!("shard {shard}: triggers {}..{} of {}", range.start, range.end, jobs.len());
        jobs = jobs.drain(range).collect();
    }
    Ok((series, jobs))
}

fn open(path: &Path, sample_rate: Option<f64>) -> Result<Vec<StrainSeries>> {
    let mut head = [0u8; 8];
    let is_hdf5 = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
        .map(|_| &head == b"\x89HDF\r\n\x1a\n")
        .unwrap_or(false);
    if is_hdf5 {
        return Ok(glitchscope::strain_hdf5::open_hdf5_path(path)?);
    }
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(read_strain_series(&path.display().to_string(), bytes, sample_rate)?)
}

/// Make the glitches of `jobs` (in parallel, one Q-transform per trigger), in the order given.
pub fn make(jobs: &[TriggerJob], series: &[StrainSeries], args: &StrainInputs, spec: InputSpec) -> Vec<TriggerGlitch> {
    jobs.par_iter().map(|job| make_one(job, series, args, spec)).collect()
}

fn make_one(job: &TriggerJob, series: &[StrainSeries], args: &StrainInputs, spec: InputSpec) -> TriggerGlitch {
    let t = &job.trigger;
    let Some(i) = job.series else {
        let ifo = t.ifo.as_deref().map(|i| format!(" ({i})")).unwrap_or_default();
        let spans: Vec<String> = series.iter().map(|s| format!("{} {} {}..{}", s.file, s.ifo.as_deref().unwrap_or("?"), s.gps_start, s.gps_end())).collect();
        return TriggerGlitch {
            key: job.key.clone(),
            ifo: t.ifo.clone().unwrap_or_default(),
            file: String::new(),
            trigger: t.clone(),
            prepared: Err(format!("trigger at GPS {}{ifo}{}: outside every strain file ({})", t.gps, line(t), spans.join("; "))),
        };
    };
    let s = &series[i];
    let prepared = views_as_pngs(job, s, args).map(|named| pipeline::prepare_glitch(&named, spec, false));
    TriggerGlitch { key: job.key.clone(), ifo: s.ifo.clone().unwrap_or_default(), file: s.file.clone(), trigger: t.clone(), prepared }
}

fn line(t: &Trigger) -> String {
    if t.line > 0 { format!(", list line {}", t.line) } else { String::new() }
}

/// The four views as Gravity Spy PNG files named after the glitch (saved when asked).
fn views_as_pngs(job: &TriggerJob, s: &StrainSeries, args: &StrainInputs) -> Result<Vec<NamedFile>, String> {
    let views = trigger_views(s, job.trigger.gps, args.window).map_err(|e| format!("{e}{}", line(&job.trigger)))?;
    let mut named = Vec::new();
    for (duration, image) in &views.views {
        let name = format!("{}_spectrogram_{}.png", job.key, duration.label());
        let bytes = glitchscope::strain::encode_png(&s.file, *duration, image).map_err(|e| e.to_string())?;
        if let Some(dir) = &args.save_views {
            let path = dir.join(&name);
            std::fs::create_dir_all(dir).and_then(|_| std::fs::write(&path, &bytes)).map_err(|e| format!("writing {}: {e}", path.display()))?;
        }
        named.push(NamedFile { name, bytes });
    }
    Ok(named)
}

/// A progress bar on stderr for long runs (hidden when stderr is not a terminal).
pub fn progress(len: usize, what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(&format!("{{elapsed_precise}} [{{bar:40}}] {{pos}}/{{len}} {what} ({{per_sec}}, ETA {{eta}})"))
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar
}
