//! `glitchscope catalogue sbatch | status | merge`: a whole observing run through a Slurm job array
//! (see `catalogue.rs` for how shards, restarts and the merge work).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};

use crate::catalogue::{self, LIST, MANIFEST, Manifest, SCRIPT, SlurmOptions, Task};
use crate::files::find_glitches;
use crate::strain_inputs::StrainInputs;

#[derive(Subcommand)]
pub enum CatalogueCommand {
    /// List the pictures once, cut their glitches into shards and write the Slurm job-array script.
    Sbatch(SbatchArgs),
    /// Which shards are finished; the `sbatch --array=...` that runs the others.
    Status(DirArgs),
    /// Merge the finished shards into one CSV (fails, naming them, while any shard is missing).
    Merge(MergeArgs),
}

#[derive(Args)]
pub struct SbatchArgs {
    /// Picture files or folders (searched recursively).
    #[arg(required_unless_present_any = ["list", "strain"])]
    pub inputs: Vec<PathBuf>,
    /// A list file of pictures, one per line, instead of or besides the inputs.
    #[arg(long)]
    pub list: Option<PathBuf>,
    /// The catalogue folder: files.txt, catalogue.json, job.sbatch, shards/, logs/.
    #[arg(long)]
    pub dir: PathBuf,
    /// What each shard computes: classify (top-5 and every class's probability) or embed (embeddings CSV).
    #[arg(long, value_enum, default_value = "classify")]
    pub task: Task,
    /// Number of shards (array tasks).
    #[arg(long)]
    pub shards: usize,
    /// Model card.
    #[arg(long, default_value = "models/default.json")]
    pub model: PathBuf,
    /// Device of each shard: cpu, or cuda / cuda:N when compiled in.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Glitches per forward pass.
    #[arg(long, default_value_t = 16)]
    pub batch_size: usize,
    /// embed only: take each glitch's label from its folder name.
    #[arg(long)]
    pub label_from_folder: bool,
    /// Slurm job name.
    #[arg(long, default_value = "glitchscope")]
    pub job_name: String,
    #[arg(long)]
    pub partition: Option<String>,
    /// Time limit per shard (Slurm syntax, e.g. 02:00:00).
    #[arg(long)]
    pub time: Option<String>,
    /// CPUs per shard (also the shard's thread count).
    #[arg(long)]
    pub cpus_per_task: Option<usize>,
    /// Memory per shard (Slurm syntax, e.g. 4G).
    #[arg(long)]
    pub mem: Option<String>,
    /// Generic resources per shard, e.g. gpu:1 with --device cuda.
    #[arg(long)]
    pub gres: Option<String>,
    /// At most this many shards at once.
    #[arg(long)]
    pub max_parallel: Option<usize>,
    /// Further sbatch options, one per flag, e.g. --sbatch-option=--account=ligo (repeatable).
    #[arg(long = "sbatch-option")]
    pub sbatch_options: Vec<String>,
    /// Triggers in strain files instead of pictures (--strain FILES --triggers LIST ...): each array task runs
    /// `classify|embed --strain ... --shard i/N` on its share of the (trigger, file) pairs.
    #[command(flatten)]
    pub strain: StrainInputs,
}

#[derive(Args)]
pub struct DirArgs {
    /// The catalogue folder made by `catalogue sbatch`.
    #[arg(long)]
    pub dir: PathBuf,
}

#[derive(Args)]
pub struct MergeArgs {
    /// The catalogue folder made by `catalogue sbatch`.
    #[arg(long)]
    pub dir: PathBuf,
    /// The merged CSV [default: DIR/catalogue.csv].
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(command: CatalogueCommand) -> Result<()> {
    match command {
        CatalogueCommand::Sbatch(args) => sbatch(args),
        CatalogueCommand::Status(args) => status(args),
        CatalogueCommand::Merge(args) => merge(args),
    }
}

/// The absolute path the shards will use (they run in another working directory, on other nodes).
fn absolute(path: &std::path::Path) -> Result<PathBuf> {
    std::fs::canonicalize(path).with_context(|| format!("{}: no such file or folder", path.display()))
}

fn sbatch(args: SbatchArgs) -> Result<()> {
    if args.shards == 0 {
        bail!("--shards must be at least 1");
    }
    if args.label_from_folder && args.task != Task::Embed {
        bail!("--label-from-folder is for --task embed");
    }
    if !args.model.is_file() {
        bail!("{}: no such model card", args.model.display());
    }
    std::fs::create_dir_all(&args.dir).with_context(|| format!("creating {}", args.dir.display()))?;
    let dir = absolute(&args.dir)?;
    if dir.join(MANIFEST).exists() {
        bail!("{} already holds a catalogue: use another --dir, or `catalogue status --dir` to continue it", dir.display());
    }
    let started = Instant::now();
    // What the shards read: the listed pictures (files.txt), or the strain files and triggers as given.
    let (files, glitches, input_args) = if args.strain.given() {
        if !args.inputs.is_empty() || args.list.is_some() || args.label_from_folder {
            bail!("give pictures (inputs, --list, --label-from-folder) or --strain with triggers, not both");
        }
        let strain = strain_args(&args.strain)?;
        let (_, jobs) = crate::strain_inputs::plan(&strain, None)?;
        (strain.strain.len(), jobs.len(), strain_command(&strain))
    } else {
        let inputs: Vec<PathBuf> = args.inputs.iter().map(|p| absolute(p)).collect::<Result<_>>()?;
        let list = args.list.as_deref().map(absolute).transpose()?;
        let (files, groups) = find_glitches(&inputs, list.as_deref())?;
        if files.is_empty() {
            bail!("no image files (.png, .jpg, .jpeg, .gif) found in the inputs");
        }
        catalogue::write_list(&dir.join(LIST), &files)?;
        (files.len(), groups.len(), vec!["--list".into(), dir.join(LIST).display().to_string()])
    };
    for sub in ["shards", "logs"] {
        std::fs::create_dir_all(dir.join(sub)).with_context(|| format!("creating {}", dir.join(sub).display()))?;
    }

    let binary = std::env::current_exe().context("finding the glitchscope binary")?;
    let model = absolute(&args.model)?;
    let mut command: Vec<String> = vec![
        binary.display().to_string(),
        match args.task {
            Task::Classify => "classify",
            Task::Embed => "embed",
        }
        .into(),
        "--model".into(),
        model.display().to_string(),
        "--device".into(),
        args.device.clone(),
        "--batch-size".into(),
        args.batch_size.to_string(),
    ];
    command.extend(input_args);
    command.extend(["--shard".into(), "{i}/{n}".into(), "--out".into(), "{out}".into()]);
    if args.label_from_folder {
        command.push("--label-from-folder".into());
    }
    let manifest = Manifest { task: args.task, shards: args.shards, files, glitches, model, binary, command };
    let slurm = SlurmOptions {
        job_name: args.job_name,
        partition: args.partition,
        time: args.time,
        cpus_per_task: args.cpus_per_task,
        mem: args.mem,
        gres: args.gres,
        max_parallel: args.max_parallel,
        extra: args.sbatch_options,
    };
    let script = dir.join(SCRIPT);
    std::fs::write(&script, catalogue::job_script(&dir, &manifest, &slurm)).with_context(|| format!("writing {}", script.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))?;
    }
    // The manifest last: its presence says the folder is complete.
    let text = serde_json::to_string_pretty(&manifest)?;
    catalogue::write_atomically(&dir.join(MANIFEST), |tmp| Ok(std::fs::write(tmp, text)?))?;
    println!(
        "{} files, {} glitches in {} shards (about {} each), listed in {:.1} s",
        files,
        glitches,
        args.shards,
        glitches.div_ceil(args.shards),
        started.elapsed().as_secs_f64()
    );
    println!("submit:  sbatch {}", script.display());
    println!("then:    glitchscope catalogue status --dir {0}   and   glitchscope catalogue merge --dir {0}", dir.display());
    Ok(())
}

/// The strain inputs with absolute paths (the shards run elsewhere); --save-views is created first.
fn strain_args(given: &StrainInputs) -> Result<StrainInputs> {
    let mut out = given.clone();
    out.strain = given.strain.iter().map(|p| absolute(p)).collect::<Result<_>>()?;
    out.triggers = given.triggers.as_deref().map(absolute).transpose()?;
    if let Some(views) = &given.save_views {
        std::fs::create_dir_all(views).with_context(|| format!("creating {}", views.display()))?;
        out.save_views = Some(absolute(views)?);
    }
    Ok(out)
}

/// The `classify|embed` arguments that give each shard the same triggers.
fn strain_command(a: &StrainInputs) -> Vec<String> {
    let mut c: Vec<String> = vec!["--strain".into()];
    c.extend(a.strain.iter().map(|p| p.display().to_string()));
    if let Some(list) = &a.triggers {
        c.extend(["--triggers".into(), list.display().to_string()]);
    }
    if !a.gps.is_empty() {
        c.push("--gps".into());
        c.extend(a.gps.iter().map(|g| g.to_string()));
    }
    for (flag, value) in [("--snr-min", a.snr_min), ("--fmin", a.fmin), ("--fmax", a.fmax), ("--window", a.window)] {
        c.extend([flag.into(), value.to_string()]);
    }
    if let Some(rate) = a.sample_rate {
        c.extend(["--sample-rate".into(), rate.to_string()]);
    }
    if let Some(views) = &a.save_views {
        c.extend(["--save-views".into(), views.display().to_string()]);
    }
    c
}

fn status(args: DirArgs) -> Result<()> {
    let manifest = Manifest::read(&args.dir)?;
    let missing = manifest.missing(&args.dir);
    let done = manifest.shards - missing.len();
    println!("{done} of {} shards finished ({} glitches in all)", manifest.shards, manifest.glitches);
    if missing.is_empty() {
        println!("merge:   glitchscope catalogue merge --dir {}", args.dir.display());
    } else {
        let spec = catalogue::array_spec(&missing);
        println!("missing: {spec}");
        println!("rerun:   sbatch --array={spec} {}", args.dir.join(SCRIPT).display());
    }
    Ok(())
}

fn merge(args: MergeArgs) -> Result<()> {
    let out = args.out.unwrap_or_else(|| args.dir.join("catalogue.csv"));
    let started = Instant::now();
    let merged = catalogue::merge(&args.dir, &out)?;
    println!(
        "merged {} shards, {} rows into {} in {:.2} s",
        merged.shards,
        merged.rows,
        out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
