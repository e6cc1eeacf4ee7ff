//! The training configuration, declared once: the flags of `glitchscope train` and `glitchscope cv`, the keys of
//! a `--config` file, and `config.json` in every run directory (so a run can be repeated, resumed, and read back
//! by `eval`).
//!
//! Choices are kept as short strings (`"frozen"`, `"last-3"`, `"cosine"`) rather than enums so that the JSON
//! file and the command-line flags look the same; [`TrainConfig::plan`] parses and checks them all at once.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use glitchscope::model::{Fusion, LiteVariant};
use glitchscope::views::Duration;

use serde::{Deserialize, Serialize};

use super::history::Monitor;

/// Everything that decides what a training run does. Each option is declared here once: its doc comment is
/// the `--help` text of `glitchscope train` and `glitchscope cv` (both flatten this struct), its `#[arg]` holds
/// the default, and its field name is the key in a `--config` file and in the saved `config.json`.
/// The defaults are the recipe of the shipped model (`models/default.json`, `scripts/make-default-model.sh`):
/// ImageNet EfficientNet-Lite0, all layers fine-tuned at 88x104 for 5 epochs at lr 3e-4.
#[derive(clap::Args, Serialize, Deserialize, Clone, Debug)]
pub struct TrainConfig {
    /// Data folder in the Gravity Spy layout (`DIR/<Class>/<IFO>_<id>_spectrogram_<dur>.png`), or a folder of
    /// such folders (one level, e.g. `shared/data/real` with one sub-folder per source); repeatable.
    #[arg(long = "data")]
    pub data: Vec<String>,
    /// Run directory: config, split, checkpoints, history, model.json + model.bpk.
    #[arg(long, default_value = "runs/latest")]
    pub out: String,
    /// lite0, lite1 or lite2.
    #[arg(long, default_value = "lite0")]
    pub backbone: String,
    /// imagenet (needs --imagenet) or scratch.
    #[arg(long, default_value = "imagenet")]
    pub init: String,
    /// ImageNet EfficientNet-Lite .pth (for --init imagenet).
    #[arg(long = "imagenet")]
    pub imagenet_weights: Option<String>,
    /// frozen (head only, on embeddings computed once), last-N (the last N blocks + head, on activations
    /// computed once, e.g. last-3) or all (every layer, from the images).
    #[arg(long, default_value = "all")]
    pub mode: String,
    /// Network input height in pixels (frequency axis).
    #[arg(long, default_value_t = 88)]
    pub height: usize,
    /// Network input width in pixels (time axis).
    #[arg(long, default_value_t = 104)]
    pub width: usize,
    /// View durations to use, seconds (any of 0.5, 1, 2, 4); the other views are dropped from the data.
    #[arg(long, value_delimiter = ',', default_values_t = [0.5f32, 1.0, 2.0, 4.0])]
    pub views: Vec<f32>,
    /// Epochs to train (fewer with early stopping).
    #[arg(long, default_value_t = 5)]
    pub epochs: usize,
    /// Glitches per batch (each brings up to four view images).
    #[arg(long, default_value_t = 16)]
    pub batch_size: usize,
    /// AdamW peak learning rate; when neither a flag nor a --config file sets it, 0.001 in --mode frozen (a
    /// linear head on fixed features) and 0.0003 when backbone layers train (see `default_lr`).
    #[arg(long, default_value_t = 3e-4)]
    pub lr: f64,
    /// AdamW weight decay.
    #[arg(long, default_value_t = 1e-4)]
    pub weight_decay: f64,
    /// Learning-rate schedule: cosine (to --min-lr over the run) or step (times --step-gamma every
    /// --step-epochs).
    #[arg(long, default_value = "cosine")]
    pub schedule: String,
    /// Final learning rate of the cosine schedule.
    #[arg(long, default_value_t = 0.0)]
    pub min_lr: f64,
    /// Epochs between learning-rate steps (schedule step).
    #[arg(long, default_value_t = 10)]
    pub step_epochs: usize,
    /// Factor applied at each step (schedule step).
    #[arg(long, default_value_t = 0.1)]
    pub step_gamma: f64,
    /// Batch norm in trained layers: frozen keeps the (ImageNet) running statistics and uses them in training
    /// too (only scale and shift learn), train uses batch statistics and updates the running ones, auto is
    /// frozen for ImageNet initialisation and train from scratch.
    #[arg(long, default_value = "auto")]
    pub batch_norm: String,
    /// Dropout before the classification head.
    #[arg(long, default_value_t = 0.2)]
    pub dropout: f64,
    /// Image augmentation (only where images are seen during training, i.e. --mode all); --no-augment
    /// switches it off.
    #[arg(long = "no-augment", action = clap::ArgAction::SetFalse)]
    pub augment: bool,
    /// Largest time shift, as a fraction of the width (mode all).
    #[arg(long, default_value_t = 0.05)]
    pub time_shift: f64,
    /// Largest frequency shift, as a fraction of the height (mode all).
    #[arg(long, default_value_t = 0.03)]
    pub freq_shift: f64,
    /// Largest brightness change, in normalised input units (1.0 = 128 grey levels; mode all).
    #[arg(long, default_value_t = 0.1)]
    pub brightness: f64,
    /// Largest relative contrast change (mode all).
    #[arg(long, default_value_t = 0.1)]
    pub contrast: f64,
    /// Probability of dropping each view of a training glitch (at least one view is always kept).
    #[arg(long, default_value_t = 0.2)]
    pub view_dropout: f64,
    /// Probability that a training glitch is shown as one of its views alone, in the unknown-duration slot (as
    /// an O2 Zooniverse subject, a picture without a duration in its name, reaches the model).
    #[arg(long, default_value_t = 0.3)]
    pub unknown_view: f64,
    /// How the views are fused before the head: concat (slots side by side) or attention (weighted sum over
    /// the present views, `glitchscope::model::fusion`).
    #[arg(long, default_value = "concat")]
    pub fusion: String,
    /// Picture-level augmented copies made of every training view before preprocessing (`domain.rs`: colour
    /// scale, O2-like JPEG subjects, crop jitter); training draws the view or one of its copies. Works in every
    /// mode, because the copies go through the frozen part once like the views themselves. 0: none.
    #[arg(long, default_value_t = 2)]
    pub copies: usize,
    /// Largest relative change of the colour-map gain of a copy.
    #[arg(long, default_value_t = 0.2)]
    pub colour_gain: f64,
    /// Largest colour-map offset of a copy (colour-map units, 0..1).
    #[arg(long, default_value_t = 0.08)]
    pub colour_offset: f64,
    /// Probability that a full-plot copy becomes an O2-like JPEG subject (quality 90-95, a quarter at 600x450).
    #[arg(long, default_value_t = 0.5)]
    pub jpeg: f64,
    /// Largest shift of a copy's crop box, picture pixels.
    #[arg(long, default_value_t = 4)]
    pub crop_jitter: u32,
    /// Weight of a real glitch against a synthetic one of the same class when drawing training glitches
    /// (synthetic = from a folder written by `glitchscope synth`, i.e. with a synth.json). 16: the default
    /// model's, chosen by the all-real cross-validation over 4, 8 and 16 (docs/cross-validation.md).
    #[arg(long, default_value_t = 16.0)]
    pub real_weight: f64,
    /// Label smoothing of the cross-entropy loss (0: none).
    #[arg(long, default_value_t = 0.0)]
    pub label_smoothing: f64,
    /// Draw training glitches class-balanced (each class equally often); --no-balance draws them in
    /// proportion to the classes.
    #[arg(long = "no-balance", action = clap::ArgAction::SetFalse)]
    pub balanced: bool,
    /// Fraction of each class's glitches held out for validation (early stopping, reported metrics).
    #[arg(long, default_value_t = 0.2)]
    pub valid_fraction: f64,
    /// Fraction of each class's glitches held out as a test part that training never looks at.
    #[arg(long, default_value_t = 0.0)]
    pub test_fraction: f64,
    /// Keep at most this many training glitches per class (the few-labels experiment); validation unchanged
    /// [default: all].
    #[arg(long)]
    pub per_class_limit: Option<usize>,
    /// Stop when the monitored validation metric has not improved for this many epochs; 0 disables it.
    #[arg(long, default_value_t = 8)]
    pub patience: usize,
    /// What picks the exported epoch and drives early stopping: top1 (validation accuracy, ties by loss) or
    /// loss (validation loss, smoother when the validation part is small).
    #[arg(long, default_value = "top1")]
    pub monitor: String,
    /// Seed of everything random (split, init, sampling, augmentation, dropout).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// cpu, or cuda / vulkan when compiled in; cuda:N picks a GPU.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Data-parallel training on several devices, comma-separated (e.g. cuda:0,cuda:1; cpu,cpu runs two CPU
    /// workers): each step splits --batch-size evenly over them and sums their gradients [default: --device
    /// alone].
    #[arg(long, value_delimiter = ',', conflicts_with = "device")]
    pub devices: Vec<String>,
}

impl Default for TrainConfig {
    /// The defaults of the `#[arg]` attributes above (the command line with no flag).
    fn default() -> Self {
        use clap::{Args, FromArgMatches};
        let matches = TrainConfig::augment_args(clap::Command::new("defaults"))
            .try_get_matches_from(["defaults"])
            .expect("the training options have no required flag");
        TrainConfig::from_arg_matches(&matches).expect("the defaults of the training options parse")
    }
}

impl burn::config::Config for TrainConfig {}

/// The peak learning rate when none is given: it depends on how much of the network trains. A linear head on
/// fixed features takes 1e-3; fine-tuning ImageNet layers at 1e-3 wrecks them (measured: all layers, 10 glitches
/// per class, 8 epochs: 13.3 % validation top-1 at 1e-3, 73.7 % at 3e-4), so trained backbone layers start at 3e-4.
pub fn default_lr(mode: &str) -> f64 {
    if mode == "frozen" { 1e-3 } else { 3e-4 }
}

/// The training options of a command line (`glitchscope train` and `glitchscope cv` flatten this): a
/// `--config` file and the flags, which win over it. A flag given twice takes its last value, so a script can
/// pass its own choice and still let extra flags of its caller (e.g. `EXTRA="--height 88"`) override it.
#[derive(clap::Args, Debug, Clone)]
#[command(args_override_self = true)]
pub struct TrainOptions {
    /// JSON file with any subset of the options (the names below with '-' as '_'); flags override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub flags: TrainConfig,
}

impl TrainOptions {
    /// The training options given as flags (not left at their defaults), by field name; `given` holds the
    /// matches of the command these options were parsed from.
    pub fn flags_given(given: &clap::ArgMatches) -> Vec<String> {
        use clap::Args;
        TrainConfig::augment_args(clap::Command::new("options"))
            .get_arguments()
            .map(|a| a.get_id().as_str().to_string())
            .filter(|id| given.value_source(id) == Some(clap::parser::ValueSource::CommandLine))
            .collect()
    }

    /// The config of a new run: defaults, then the `--config` file, then the flags given; the learning rate
    /// defaults by mode unless the file or a flag sets it.
    pub fn to_config(&self, given: &clap::ArgMatches) -> Result<TrainConfig> {
        let (mut merged, file_sets_lr) = match &self.config {
            Some(path) => {
                let config = TrainConfig::from_partial_json(path)?;
                let text = std::fs::read_to_string(path).with_context(|| format!("reading config {}", path.display()))?;
                let sets_lr = serde_json::from_str::<serde_json::Value>(&text).ok().and_then(|v| v.get("lr").cloned()).is_some();
                (serde_json::to_value(config)?, sets_lr)
            }
            None => (serde_json::to_value(TrainConfig::default())?, false),
        };
        let flags = serde_json::to_value(&self.flags)?;
        let given = Self::flags_given(given);
        for id in &given {
            merged[id.as_str()] = flags[id.as_str()].clone();
        }
        let mut config: TrainConfig = serde_json::from_value(merged).context("internal: merging the flags into the config")?;
        if !given.iter().any(|id| id == "lr") && !file_sets_lr {
            config.lr = default_lr(&config.mode);
        }
        Ok(config)
    }
}

/// How much of the network is trained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Head only; backbone embeddings computed once.
    Frozen,
    /// The last `n` MBConv blocks, the 1x1 head convolution and the head; activations before them computed once.
    LastBlocks(usize),
    /// Every layer, from the images (augmentation possible).
    All,
}

impl Mode {
    pub fn parse(text: &str) -> Option<Mode> {
        match text {
            "frozen" => Some(Mode::Frozen),
            "all" => Some(Mode::All),
            other => other.strip_prefix("last-")?.parse().ok().filter(|&n| n > 0).map(Mode::LastBlocks),
        }
    }

    /// Whether training sees images (and so can augment them).
    pub fn sees_images(self) -> bool {
        self == Mode::All
    }
}

/// Learning-rate schedule.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Schedule {
    Cosine,
    Step,
}

/// The parsed, checked configuration.
#[derive(Clone, Debug)]
pub struct Plan {
    pub variant: LiteVariant,
    pub imagenet: bool,
    pub mode: Mode,
    pub schedule: Schedule,
    pub monitor: Monitor,
    /// Batch norm uses its running statistics while training.
    pub freeze_bn: bool,
    /// View slots kept (indices into 0.5, 1, 2, 4 s).
    pub slots: Vec<usize>,
    pub fusion: Fusion,
}

impl TrainConfig {
    /// The devices training runs on: `devices`, or `device` alone.
    pub fn device_names(&self) -> Vec<String> {
        if self.devices.is_empty() { vec![self.device.clone()] } else { self.devices.clone() }
    }

    /// Parse the string choices and check the numbers; every problem names the option.
    pub fn plan(&self) -> Result<Plan> {
        let Some(variant) = LiteVariant::from_name(&self.backbone) else {
            bail!("backbone {:?} is not one of lite0, lite1, lite2", self.backbone);
        };
        let imagenet = match self.init.as_str() {
            "imagenet" => true,
            "scratch" => false,
            other => bail!("init {other:?} is not one of imagenet, scratch"),
        };
        if imagenet && self.imagenet_weights.is_none() {
            bail!(
                "init = imagenet needs the ImageNet weights file (--imagenet PATH, e.g. \
                 ../shared/weights/efficientnet-lite0/efficientnet-lite0-57934424.pth), or use --init scratch"
            );
        }
        let Some(mode) = Mode::parse(&self.mode) else {
            bail!("mode {:?} is not one of frozen, all, last-N (N >= 1)", self.mode);
        };
        let schedule = match self.schedule.as_str() {
            "cosine" => Schedule::Cosine,
            "step" => Schedule::Step,
            other => bail!("schedule {other:?} is not one of cosine, step"),
        };
        let monitor = match self.monitor.as_str() {
            "top1" => Monitor::Top1,
            "loss" => Monitor::Loss,
            other => bail!("monitor {other:?} is not one of top1, loss"),
        };
        let freeze_bn = match self.batch_norm.as_str() {
            "auto" => imagenet,
            "frozen" => true,
            "train" => false,
            other => bail!("batch_norm {other:?} is not one of auto, frozen, train"),
        };
        let Some(fusion) = Fusion::from_name(&self.fusion) else {
            bail!("fusion {:?} is not one of concat, attention", self.fusion);
        };
        let mut slots = Vec::new();
        for &v in &self.views {
            let Some(d) = Duration::ALL.into_iter().find(|d| (d.seconds() - v).abs() < 1e-6) else {
                bail!("view {v} s is not one of the Gravity Spy durations 0.5, 1, 2, 4");
            };
            if !slots.contains(&d.index()) {
                slots.push(d.index());
            }
        }
        slots.sort_unstable();
        if slots.is_empty() {
            bail!("views is empty: give at least one of 0.5, 1, 2, 4");
        }
        if self.data.is_empty() {
            bail!("no data folder given (--data DIR, repeatable)");
        }
        if !(32..=1024).contains(&self.height) || !(32..=1024).contains(&self.width) {
            bail!("input size {}x{} is outside 32..1024", self.height, self.width);
        }
        if self.epochs == 0 || self.batch_size == 0 {
            bail!("epochs and batch_size must be at least 1");
        }
        let devices = self.device_names().len();
        if self.batch_size % devices != 0 {
            bail!("batch_size {} does not split evenly over {devices} devices", self.batch_size);
        }
        if !(self.lr > 0.0 && self.lr <= 1.0) || !(0.0..=self.lr).contains(&self.min_lr) {
            bail!("lr must be in (0, 1] and min_lr in [0, lr] (got lr {}, min_lr {})", self.lr, self.min_lr);
        }
        let fraction = |name: &str, v: f64| -> Result<()> {
            if !(0.0..1.0).contains(&v) {
                bail!("{name} must be in [0, 1), got {v}");
            }
            Ok(())
        };
        fraction("valid_fraction", self.valid_fraction)?;
        fraction("test_fraction", self.test_fraction)?;
        fraction("view_dropout", self.view_dropout)?;
        fraction("unknown_view", self.unknown_view)?;
        fraction("dropout", self.dropout)?;
        fraction("time_shift", self.time_shift)?;
        fraction("freq_shift", self.freq_shift)?;
        fraction("contrast", self.contrast)?;
        fraction("label_smoothing", self.label_smoothing)?;
        fraction("colour_gain", self.colour_gain)?;
        fraction("colour_offset", self.colour_offset)?;
        if !(0.0..=1.0).contains(&self.jpeg) {
            bail!("jpeg must be in [0, 1], got {}", self.jpeg);
        }
        if !(self.real_weight > 0.0 && self.real_weight <= 1000.0) {
            bail!("real_weight must be in (0, 1000], got {}", self.real_weight);
        }
        if self.copies > 16 {
            bail!("copies must be at most 16 (each copy is another pass through the frozen part), got {}", self.copies);
        }
        if self.valid_fraction + self.test_fraction >= 0.9 {
            bail!("valid_fraction + test_fraction leaves too little to train on");
        }
        if self.valid_fraction == 0.0 {
            bail!("valid_fraction must be above 0: validation drives early stopping and the reported metrics");
        }
        if self.schedule == "step" && self.step_epochs == 0 {
            bail!("step_epochs must be at least 1");
        }
        if !(0.0..=2.0).contains(&self.brightness) {
            bail!("brightness must be in [0, 2], got {}", self.brightness);
        }
        if self.per_class_limit == Some(0) {
            bail!("per_class_limit must be at least 1");
        }
        if let Mode::LastBlocks(n) = mode {
            let blocks = glitchscope::model::EfficientNetConfig::new()
                .with_variant(variant)
                .with_num_classes(0)
                .init(&burn::tensor::Device::flex())
                .num_blocks();
            if n > blocks {
                bail!("mode last-{n}: {} has only {blocks} blocks", variant.name());
            }
        }
        Ok(Plan { variant, imagenet, mode, schedule, monitor, freeze_bn, slots, fusion })
    }

    /// Read a JSON config that may list only some fields; the others keep their defaults. Unknown fields are
    /// refused, so a typo cannot silently fall back to a default.
    pub fn from_partial_json(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading config {}", path.display()))?;
        Self::from_partial_str(&text).with_context(|| format!("config {}", path.display()))
    }

    pub fn from_partial_str(text: &str) -> Result<Self> {
        let given: serde_json::Value = serde_json::from_str(text).context("not valid JSON")?;
        let serde_json::Value::Object(given) = given else {
            bail!("expected a JSON object of options");
        };
        let mut merged = serde_json::to_value(TrainConfig::default())?;
        let serde_json::Value::Object(fields) = &mut merged else {
            bail!("internal: the default config is not an object");
        };
        for (key, value) in given {
            if !fields.contains_key(&key) {
                let mut known: Vec<&String> = fields.keys().collect();
                known.sort();
                bail!("unknown option {key:?}; known options: {}", known.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", "));
            }
            fields.insert(key, value);
        }
        serde_json::from_value(merged).context("an option has the wrong type")
    }

    /// The config as pretty JSON (what `config.json` holds).
    pub fn to_json(&self) -> String {
        burn::config::config_to_json(self)
    }

    /// The picture-level augmentation of the copies.
    pub fn domain(&self) -> super::domain::DomainConfig {
        super::domain::DomainConfig {
            colour_gain: self.colour_gain as f32,
            colour_offset: self.colour_offset as f32,
            jpeg: self.jpeg,
            crop_jitter: self.crop_jitter,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse() {
        assert_eq!(Mode::parse("frozen"), Some(Mode::Frozen));
        assert_eq!(Mode::parse("all"), Some(Mode::All));
        assert_eq!(Mode::parse("last-3"), Some(Mode::LastBlocks(3)));
        assert_eq!(Mode::parse("last-0"), None);
        assert_eq!(Mode::parse("last-x"), None);
        assert_eq!(Mode::parse("half"), None);
    }

    #[test]
    fn partial_json_keeps_defaults_and_refuses_typos() {
        let c = TrainConfig::from_partial_str(r#"{"epochs": 3, "mode": "last-2", "data": ["a"]}"#).unwrap();
        assert_eq!((c.epochs, c.mode.as_str(), c.batch_size), (3, "last-2", 16));
        let e = TrainConfig::from_partial_str(r#"{"epoch": 3}"#).unwrap_err().to_string();
        assert!(e.contains("unknown option \"epoch\""), "{e}");
        let e = TrainConfig::from_partial_str(r#"{"epochs": "three"}"#).unwrap_err();
        assert!(format!("{e:#}").contains("wrong type"), "{e:#}");
    }

    #[test]
    fn plan_checks_choices() {
        let mut c = TrainConfig::default();
        c.data = vec!["d".into()];
        c.init = "scratch".into();
        c.mode = "frozen".into();
        let p = c.plan().unwrap();
        assert_eq!((p.mode, p.slots.clone()), (Mode::Frozen, vec![0, 1, 2, 3]));
        c.views = vec![2.0, 0.5];
        assert_eq!(c.plan().unwrap().slots, vec![0, 2]);
        c.views = vec![3.0];
        assert!(c.plan().unwrap_err().to_string().contains("3 s"));
        c.views = vec![1.0];
        c.init = "imagenet".into();
        assert!(c.plan().unwrap_err().to_string().contains("--imagenet"));
        c.init = "scratch".into();
        c.mode = "last-17".into();
        assert!(c.plan().unwrap_err().to_string().contains("16 blocks"));
    }

    /// The options of a command line, as `glitchscope train` parses them.
    fn parse(args: &[&str]) -> (TrainOptions, clap::ArgMatches) {
        use clap::{Args, FromArgMatches};
        let matches = TrainOptions::augment_args(clap::Command::new("train")).try_get_matches_from(args).unwrap();
        (TrainOptions::from_arg_matches(&matches).unwrap(), matches)
    }

    #[test]
    fn defaults_are_the_shipped_recipe() {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../models/default.json")).unwrap();
        let card: serde_json::Value = serde_json::from_str(&text).unwrap();
        let shipped = &card["training"]["config"];
        let defaults = serde_json::to_value(TrainConfig::default()).unwrap();
        // What the script passes for its own data and bookkeeping; cv always trains without early stopping.
        let own = ["data", "out", "imagenet_weights", "seed", "valid_fraction", "patience"];
        for (key, value) in defaults.as_object().unwrap() {
            // (An option added after the shipped model was made is not in its card.)
            if !own.contains(&key.as_str()) && shipped.get(key).is_some() {
                assert_eq!(&shipped[key], value, "default {key} differs from the shipped model's");
            }
        }
        assert_eq!((&shipped["mode"], &shipped["height"], &shipped["epochs"]), (&defaults["mode"], &defaults["height"], &defaults["epochs"]));
        let (options, given) = parse(&["train"]);
        assert_eq!(serde_json::to_value(options.to_config(&given).unwrap()).unwrap(), defaults);
    }

    #[test]
    fn flags_win_over_the_file_and_the_lr_follows_the_mode() {
        let dir = std::env::temp_dir().join(format!("glitchscope-config-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("c.json");
        std::fs::write(&file, r#"{"epochs": 7, "height": 64, "mode": "frozen"}"#).unwrap();
        let (options, given) = parse(&["train", "--config", file.to_str().unwrap(), "--height", "96", "--no-augment"]);
        let c = options.to_config(&given).unwrap();
        assert_eq!((c.epochs, c.height, c.width, c.augment, c.balanced), (7, 96, 104, false, true));
        assert_eq!((c.mode.as_str(), c.lr), ("frozen", 1e-3), "lr by mode when nothing sets it");
        let (options, given) = parse(&["train", "--config", file.to_str().unwrap(), "--lr", "0.01", "--views", "1,2"]);
        let c = options.to_config(&given).unwrap();
        assert_eq!((c.lr, c.views.clone()), (0.01, vec![1.0, 2.0]));
        let (options, given) = parse(&["train", "--height", "176", "--height", "80", "--data", "a", "--data", "b"]);
        let c = options.to_config(&given).unwrap();
        assert_eq!((c.height, c.data.clone()), (80, vec!["a".to_string(), "b".to_string()]), "the last value wins; --data adds up");
        let (options, given) = parse(&["train", "--mode", "last-2", "--imagenet", "w.pth", "--per-class-limit", "3"]);
        let c = options.to_config(&given).unwrap();
        assert_eq!((c.lr, c.imagenet_weights.as_deref(), c.per_class_limit), (3e-4, Some("w.pth"), Some(3)));
        let mut given = TrainOptions::flags_given(&given);
        given.sort();
        assert_eq!(given, ["imagenet_weights", "mode", "per_class_limit"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
