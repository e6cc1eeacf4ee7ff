//! `glitchscope train`: fine-tune GlitchNet on folders of Gravity Spy spectrograms (see `train/` for how).
//!
//! Options come from `--config FILE.json` (any subset of the options in `train/config.rs`), then from flags,
//! which win. The resulting config is saved as `<out>/config.json`; `--resume --out DIR` continues that run
//! from its last complete checkpoint with exactly that config.

use std::path::PathBuf;

use anyhow::{Result, bail};
use burn::config::Config;
use clap::Args;

use crate::train::config::TrainConfig;
use crate::train::run::{self, CONFIG_FILE, RunOptions};

#[derive(Args, Debug, Clone)]
pub struct TrainArgs {
    /// JSON file with any subset of the options (the names below with '-' as '_'); flags override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Data folder in the Gravity Spy layout, or a folder of such folders (repeatable).
    #[arg(long = "data")]
    pub data: Vec<String>,
    /// Run directory: config, split, checkpoints, history, model.json + model.bpk [default: runs/latest].
    #[arg(long)]
    pub out: Option<String>,
    /// Continue the run in --out from its last complete checkpoint (after a crash or kill).
    #[arg(long)]
    pub resume: bool,
    /// Start over in a --out that already holds a run (deletes its checkpoints, history and model).
    #[arg(long)]
    pub overwrite: bool,
    /// lite0, lite1 or lite2 [default: lite0].
    #[arg(long)]
    pub backbone: Option<String>,
    /// imagenet or scratch [default: imagenet].
    #[arg(long)]
    pub init: Option<String>,
    /// ImageNet EfficientNet-Lite .pth (for --init imagenet).
    #[arg(long = "imagenet")]
    pub imagenet: Option<String>,
    /// frozen, last-N (e.g. last-3) or all [default: frozen].
    #[arg(long)]
    pub mode: Option<String>,
    /// Network input height in pixels (frequency axis) [default: 176].
    #[arg(long)]
    pub height: Option<usize>,
    /// Network input width in pixels (time axis) [default: 208].
    #[arg(long)]
    pub width: Option<usize>,
    /// View durations to use [default: 0.5,1,2,4].
    #[arg(long, value_delimiter = ',')]
    pub views: Option<Vec<f32>>,
    /// Epochs to train (fewer with early stopping) [default: 30].
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Glitches per batch [default: 16].
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// AdamW peak learning rate [default: 0.001 for --mode frozen, 0.0003 when backbone layers train].
    #[arg(long)]
    pub lr: Option<f64>,
    /// AdamW weight decay [default: 0.0001].
    #[arg(long)]
    pub weight_decay: Option<f64>,
    /// Learning-rate schedule: cosine or step [default: cosine].
    #[arg(long)]
    pub schedule: Option<String>,
    /// Final learning rate of the cosine schedule [default: 0].
    #[arg(long)]
    pub min_lr: Option<f64>,
    /// Epochs between learning-rate steps (schedule step) [default: 10].
    #[arg(long)]
    pub step_epochs: Option<usize>,
    /// Factor applied at each step (schedule step) [default: 0.1].
    #[arg(long)]
    pub step_gamma: Option<f64>,
    /// Dropout before the classification head [default: 0.2].
    #[arg(long)]
    pub dropout: Option<f64>,
    /// Batch norm in trained layers: auto (frozen for imagenet, train for scratch), frozen or train [default: auto].
    #[arg(long)]
    pub batch_norm: Option<String>,
    /// Switch image augmentation off.
    #[arg(long)]
    pub no_augment: bool,
    /// Largest time shift, fraction of the width (mode all) [default: 0.05].
    #[arg(long)]
    pub time_shift: Option<f64>,
    /// Largest frequency shift, fraction of the height (mode all) [default: 0.03].
    #[arg(long)]
    pub freq_shift: Option<f64>,
    /// Largest brightness change, normalised units (mode all) [default: 0.1].
    #[arg(long)]
    pub brightness: Option<f64>,
    /// Largest relative contrast change (mode all) [default: 0.1].
    #[arg(long)]
    pub contrast: Option<f64>,
    /// Probability of dropping each view of a training glitch, one always kept [default: 0.2].
    #[arg(long)]
    pub view_dropout: Option<f64>,
    /// Probability that a training glitch is shown as one view alone in the unknown-duration slot, as O2
    /// Zooniverse subjects arrive [default: 0].
    #[arg(long)]
    pub unknown_view: Option<f64>,
    /// concat or attention: how the views are fused before the head [default: concat].
    #[arg(long)]
    pub fusion: Option<String>,
    /// Picture-level augmented copies of every training view (colour scale, O2-like JPEG, crop jitter) [default: 0].
    #[arg(long)]
    pub copies: Option<usize>,
    /// Largest relative colour-map gain change of a copy [default: 0.2].
    #[arg(long)]
    pub colour_gain: Option<f64>,
    /// Largest colour-map offset of a copy, 0..1 [default: 0.08].
    #[arg(long)]
    pub colour_offset: Option<f64>,
    /// Probability that a copy becomes an O2-like JPEG subject [default: 0.5].
    #[arg(long)]
    pub jpeg: Option<f64>,
    /// Largest crop-box shift of a copy, picture pixels [default: 4].
    #[arg(long)]
    pub crop_jitter: Option<u32>,
    /// Weight of a real glitch against a synthetic one of its class when drawing training glitches [default: 1].
    #[arg(long)]
    pub real_weight: Option<f64>,
    /// Label smoothing of the loss [default: 0].
    #[arg(long)]
    pub label_smoothing: Option<f64>,
    /// Sample glitches in proportion to the classes instead of class-balanced.
    #[arg(long)]
    pub no_balance: bool,
    /// Share of each class held out for validation [default: 0.2].
    #[arg(long)]
    pub valid_fraction: Option<f64>,
    /// Share of each class held out as a test part [default: 0].
    #[arg(long)]
    pub test_fraction: Option<f64>,
    /// At most this many training glitches per class (validation unchanged) [default: all].
    #[arg(long)]
    pub per_class_limit: Option<usize>,
    /// Early-stopping patience in epochs, 0 = off [default: 8].
    #[arg(long)]
    pub patience: Option<usize>,
    /// top1 or loss: what picks the exported epoch and drives early stopping [default: top1].
    #[arg(long)]
    pub monitor: Option<String>,
    /// Seed of everything random (split, init, sampling, augmentation, dropout) [default: 42].
    #[arg(long)]
    pub seed: Option<u64>,
    /// cpu, or cuda / vulkan when compiled in; cuda:N picks a GPU [default: cpu].
    #[arg(long)]
    pub device: Option<String>,
    /// Data-parallel training on several devices, comma-separated (e.g. cuda:0,cuda:1; cpu,cpu runs two CPU
    /// workers): each step splits --batch-size evenly over them [default: --device alone].
    #[arg(long, value_delimiter = ',', conflicts_with = "device")]
    pub devices: Option<Vec<String>>,
}

impl TrainArgs {
    /// Apply the flags that were given; returns how many there were.
    fn apply(&self, c: &mut TrainConfig) -> usize {
        let mut n = 0;
        macro_rules! set {
            ($($field:ident),*) => {$(
                if let Some(v) = &self.$field {
                    c.$field = v.clone();
                    n += 1;
                }
            )*};
        }
        set!(backbone, init, mode, height, width, views, epochs, batch_size, lr, weight_decay, schedule, min_lr,
             step_epochs, step_gamma, dropout, batch_norm, time_shift, freq_shift, brightness, contrast, view_dropout, unknown_view,
             valid_fraction, test_fraction, patience, monitor, seed, device, devices, out, copies, colour_gain, colour_offset,
             jpeg, crop_jitter, real_weight, label_smoothing, fusion);
        if let Some(v) = &self.imagenet {
            c.imagenet_weights = Some(v.clone());
            n += 1;
        }
        if let Some(v) = self.per_class_limit {
            c.per_class_limit = Some(v);
            n += 1;
        }
        if !self.data.is_empty() {
            c.data = self.data.clone();
            n += 1;
        }
        if self.no_augment {
            c.augment = false;
            n += 1;
        }
        if self.no_balance {
            c.balanced = false;
            n += 1;
        }
        n
    }
}

/// The peak learning rate when none is given: it depends on how much of the network trains. A linear head on
/// fixed features takes 1e-3; fine-tuning ImageNet layers at 1e-3 wrecks them (measured: all layers, 10 glitches
/// per class, 8 epochs: 13.3 % validation top-1 at 1e-3, 73.7 % at 3e-4), so trained backbone layers start at 3e-4.
pub fn default_lr(mode: &str) -> f64 {
    if mode == "frozen" { 1e-3 } else { 3e-4 }
}

impl TrainArgs {
    /// The config of a new run: `--config` file, then flags; the learning rate defaults by mode unless given.
    pub fn to_config(&self) -> Result<TrainConfig> {
        let (mut config, file_sets_lr) = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("reading config {}: {e}", path.display()))?;
                let sets_lr = serde_json::from_str::<serde_json::Value>(&text).ok().and_then(|v| v.get("lr").cloned()).is_some();
                (TrainConfig::from_partial_json(path)?, sets_lr)
            }
            None => (TrainConfig::new(), false),
        };
        self.apply(&mut config);
        if self.lr.is_none() && !file_sets_lr {
            config.lr = default_lr(&config.mode);
        }
        Ok(config)
    }
}

pub fn run(args: TrainArgs) -> Result<()> {
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let config = if args.resume {
        let Some(out) = &args.out else { bail!("--resume needs --out DIR, the run to continue") };
        let mut probe = args.clone();
        probe.out = None;
        if probe.apply(&mut TrainConfig::new()) > 0 || args.config.is_some() || args.overwrite {
            bail!("--resume continues a run with its saved {CONFIG_FILE}: pass only --out");
        }
        let path = PathBuf::from(out).join(CONFIG_FILE);
        let mut config = TrainConfig::load(&path)
            .map_err(|e| anyhow::anyhow!("--resume: cannot read {}: {e}", path.display()))?;
        // The run may have been moved; its directory is where it is now.
        config.out = out.clone();
        config
    } else {
        args.to_config()?
    };
    run::train(config, RunOptions { resume: args.resume, overwrite: args.overwrite, command })
}
