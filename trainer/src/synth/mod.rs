//! Synthetic Gravity-Spy-like glitches.
//!
//! The real O1 training set is not available, so we make our own: for each glitch, a block of O1-like strain
//! (coloured Gaussian noise plus one physically motivated glitch of a Gravity Spy class) that the Q-transform and
//! renderer turn into the four Gravity Spy views. All four views of a glitch come from the same block.
//!
//! Choices:
//! - 8192 Hz: the Q-transform must reach 2048 Hz, and gwpy caps the top frequency of a Q plane at about
//!   nyquist / (1 + √11 / q), i.e. ~1291 Hz at 4096 Hz sampling but ~2240 Hz at 8192 Hz. 16384 Hz (Gravity Spy's)
//!   would only double the cost.
//! - 32 s blocks (2^18 samples, a power-of-two FFT): the whitening ASD is the median of gwpy's 2 s Welch
//!   segments, 31 of them in 32 s, so even the longest glitches (Extremely_Loud ~8 s, Wandering_Line ~6 s)
//!   spoil a minority that the median ignores; the 4 s view sits ≥14 s from the periodic block edges, far
//!   beyond the 2 s whitening filter. Gravity Spy used 64 s, but the Q-transform's cost grows with the block
//!   (measured: 31, 56, 127 ms for 16, 32, 64 s), and 16 s would leave only 15 segments for the median.
//! - Glitches are drawn in whitened units ([`waveform::Canvas`]) with an exact SNR, then noise and glitch are
//!   coloured together by the detector ASD ([`noise::NoiseModel`]).
//! - Determinism: every glitch has its own ChaCha8 stream seeded from SHA-256(seed, class, index), so the output
//!   does not depend on how many threads run or in which order.

pub mod bursts;
pub mod chirps;
pub mod later;
pub mod lines;
pub mod noise;
pub mod other;
pub mod real_noise;
pub mod rf;
pub mod scattering;
pub mod waveform;

#[cfg(test)]
mod tests;

use rand::SeedableRng;
use rand::RngExt;
use chacha20::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use waveform::Canvas;

/// Sampling of the synthetic strain.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SynthConfig {
    pub sample_rate: f64,
    pub block_s: f64,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig { sample_rate: 8192.0, block_s: 32.0 }
    }
}

impl SynthConfig {
    pub fn len(&self) -> usize {
        (self.sample_rate * self.block_s).round() as usize
    }

    /// Trigger time in seconds from the start of the block (its middle).
    pub fn center_s(&self) -> f64 {
        (self.len() / 2) as f64 / self.sample_rate
    }
}

/// What a class drew: the numbers that describe this glitch (also written to synth.json).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Design {
    /// Sub-shape within the class (e.g. "v" or "arch" for Whistle).
    pub shape: String,
    /// Whitened SNR of the whole glitch: √Σg² against unit-variance white noise.
    pub snr: f64,
    /// Frequency of the loudest part (Hz).
    pub peak_frequency_hz: f64,
    /// Rough duration of the visible glitch (s).
    pub duration_s: f64,
    /// Class-specific parameters.
    pub details: BTreeMap<String, f64>,
}

impl Design {
    pub fn new(shape: &str, snr: f64, peak_frequency_hz: f64, duration_s: f64) -> Self {
        Design { shape: shape.to_string(), snr, peak_frequency_hz, duration_s, details: BTreeMap::new() }
    }

    pub fn with(mut self, key: &str, value: f64) -> Self {
        self.details.insert(key.to_string(), value);
        self
    }
}

/// Everything needed to reproduce or describe one synthetic glitch.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GlitchParams {
    pub class: String,
    pub index: u64,
    /// Gravity-Spy-style 10-character id, derived from (seed, class, index).
    pub id: String,
    pub ifo: String,
    /// The run's seed (with class and index it determines everything).
    pub seed: u64,
    pub sample_rate: f64,
    pub block_s: f64,
    /// Trigger time in seconds from the start of the block.
    pub center_s: f64,
    #[serde(flatten)]
    pub design: Design,
    pub noise: noise::NoiseModel,
    /// The real-noise window under the glitch (`--real-noise`), none for simulated noise alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub real_noise: Option<String>,
}

/// One synthetic glitch: its parameters and its strain block.
pub struct Glitch {
    pub params: GlitchParams,
    /// Strain (noise + glitch, coloured by the ASD), `params.block_s` long, trigger at `params.center_s`.
    pub strain: Vec<f64>,
    /// The glitch alone, whitened (unit-variance noise units, √Σg² = SNR): the clean target a denoiser or an
    /// SNR check needs.
    pub whitened_glitch: Vec<f64>,
}

impl Glitch {
    /// Shortest time span (s) holding `fraction` of the glitch's energy, found by trimming equal energy from
    /// both ends: a measured duration to set beside the designed one (0 for an empty glitch).
    pub fn energy_span_s(&self, fraction: f64) -> f64 {
        let total: f64 = self.whitened_glitch.iter().map(|x| x * x).sum();
        if total <= 0.0 {
            return 0.0;
        }
        let tail = 0.5 * (1.0 - fraction.clamp(0.0, 1.0)) * total;
        let mut acc = 0.0;
        let first = self.whitened_glitch.iter().position(|x| {
            acc += x * x;
            acc > tail
        });
        acc = 0.0;
        let last = self.whitened_glitch.iter().rposition(|x| {
            acc += x * x;
            acc > tail
        });
        match (first, last) {
            (Some(a), Some(b)) if b >= a => (b - a + 1) as f64 / self.params.sample_rate,
            _ => 0.0,
        }
    }
}

/// Generates glitch number `index` of `class` for `seed`, in simulated noise (the tests' entry point; the CLI
/// calls [`generate_with`]).
#[cfg(test)]
pub fn generate(class: &str, seed: u64, index: u64, config: &SynthConfig) -> anyhow::Result<Glitch> {
    generate_with(class, seed, index, config, None)
}

/// Generates glitch number `index` of `class` for `seed`; with `real`, some glitches (its share, drawn from
/// their own stream) sit in a window of real detector noise ([`real_noise`]). Glitches without it are
/// bit-identical to [`generate`]'s.
pub fn generate_with(
    class: &str,
    seed: u64,
    index: u64,
    config: &SynthConfig,
    real: Option<&real_noise::RealNoise>,
) -> anyhow::Result<Glitch> {
    let (class_index, h1_share) = class_info(class).ok_or_else(|| {
        anyhow::anyhow!(
            "unknown class '{class}' (expected one of: {}; or a later class for the unseen-class benchmark: {})",
            glitchscope::labels::O1_CLASSES.join(", "),
            later::LATER_CLASSES.map(|(c, _)| c).join(", ")
        )
    })?;
    let digest = stream_digest(seed, class_index, index);
    let mut rng = ChaCha8Rng::from_seed(digest);
    let ifo = if rng.random_bool(h1_share) { "H1" } else { "L1" };

    let mut canvas = Canvas::new(config.sample_rate, config.len());
    let design = draw(class, &mut rng, &mut canvas);
    canvas.scale_to_snr(design.snr);

    let noise = noise::NoiseModel::random(&mut rng, ifo);
    let whitened_glitch = canvas.buf;
    let mut white = vec![0.0; whitened_glitch.len()];
    noise::add_white_noise(&mut rng, &mut white);
    let mut real_source = None;
    if let Some(real) = real
        && let Some(choice) = real.choose(&digest)
    {
        let centre = (config.center_s() * config.sample_rate).round() as usize;
        real.apply(&choice, &mut white, centre, config.sample_rate)?;
        let window = &real.windows[choice.window].source;
        real_source = Some(format!(
            "{window}{}{}",
            if choice.reversed { " reversed" } else { "" },
            if choice.negated { " negated" } else { "" }
        ));
    }
    let mut strain: Vec<f64> = whitened_glitch.iter().zip(&white).map(|(g, n)| g + n).collect();
    noise.colour(&mut strain, config.sample_rate)?;

    let params = GlitchParams {
        class: class.to_string(),
        index,
        id: short_id(&digest),
        ifo: ifo.to_string(),
        seed,
        sample_rate: config.sample_rate,
        block_s: config.len() as f64 / config.sample_rate,
        center_s: config.center_s(),
        design,
        noise,
        real_noise: real_source,
    };
    Ok(Glitch { params, strain, whitened_glitch })
}

/// Draws the glitch of `class` on the canvas (not yet scaled to its SNR).
fn draw(class: &str, rng: &mut ChaCha8Rng, c: &mut Canvas) -> Design {
    if let Some(design) = later::draw(class, rng, c) {
        return design;
    }
    match class {
        "Blip" => bursts::blip(rng, c),
        "Tomte" => bursts::tomte(rng, c),
        "Koi_Fish" => bursts::koi_fish(rng, c),
        "Repeating_Blips" => bursts::repeating_blips(rng, c),
        "Helix" => bursts::helix(rng, c),
        "Low_Frequency_Burst" => bursts::low_frequency_burst(rng, c),
        "Extremely_Loud" => bursts::extremely_loud(rng, c),
        "Chirp" => chirps::chirp(rng, c),
        "Paired_Doves" => chirps::paired_doves(rng, c),
        "Scattered_Light" => scattering::scattered_light(rng, c),
        "Power_Line" => lines::power_line(rng, c),
        "Violin_Mode" => lines::violin_mode(rng, c),
        "1080Lines" => lines::lines_1080(rng, c),
        "1400Ripples" => lines::ripples_1400(rng, c),
        "Air_Compressor" => lines::air_compressor(rng, c),
        "Low_Frequency_Lines" => lines::low_frequency_lines(rng, c),
        "Wandering_Line" => lines::wandering_line(rng, c),
        "Whistle" => rf::whistle(rng, c),
        "Light_Modulation" => rf::light_modulation(rng, c),
        "Scratchy" => rf::scratchy(rng, c),
        "No_Glitch" => other::no_glitch(rng, c),
        _ => other::none_of_the_above(rng, c),
    }
}

/// (stream index, share of H1) of a class, or None if unknown: an O1 class's index in O1_CLASSES and its share
/// among the O1 training examples; a later class ([`later::LATER_CLASSES`]) numbered from 22 on.
fn class_info(class: &str) -> Option<(usize, f64)> {
    if let Some(i) = later::LATER_CLASSES.iter().position(|(c, _)| *c == class) {
        return Some((glitchscope::labels::NUM_O1_CLASSES + i, later::LATER_CLASSES[i].1));
    }
    // H1/L1 counts from the O1 training set (docs/gravity-spy.md); add-one smoothing keeps both detectors possible.
    const H1_L1: [(&str, f64, f64); 22] = [
        ("1080Lines", 327.0, 1.0),
        ("1400Ripples", 0.0, 81.0),
        ("Air_Compressor", 55.0, 3.0),
        ("Blip", 1453.0, 368.0),
        ("Chirp", 28.0, 32.0),
        ("Extremely_Loud", 266.0, 181.0),
        ("Helix", 3.0, 276.0),
        ("Koi_Fish", 517.0, 189.0),
        ("Light_Modulation", 511.0, 1.0),
        ("Low_Frequency_Burst", 166.0, 455.0),
        ("Low_Frequency_Lines", 79.0, 368.0),
        ("No_Glitch", 91.0, 59.0),
        ("None_of_the_Above", 51.0, 30.0),
        ("Paired_Doves", 27.0, 0.0),
        ("Power_Line", 273.0, 176.0),
        ("Repeating_Blips", 230.0, 33.0),
        ("Scattered_Light", 385.0, 58.0),
        ("Scratchy", 90.0, 247.0),
        ("Tomte", 61.0, 42.0),
        ("Violin_Mode", 141.0, 271.0),
        ("Wandering_Line", 42.0, 0.0),
        ("Whistle", 2.0, 297.0),
    ];
    let index = glitchscope::labels::O1_CLASSES.iter().position(|c| *c == class)?;
    let (_, h1, l1) = H1_L1.iter().find(|(name, _, _)| *name == class)?;
    Some((index, (h1 + 1.0) / (h1 + l1 + 2.0)))
}

/// 32-byte seed of the glitch's random stream: SHA-256 over (seed, class index, index).
fn stream_digest(seed: u64, class_index: usize, index: u64) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"glitchscope-synth-v1");
    h.update(seed.to_le_bytes());
    h.update((class_index as u64).to_le_bytes());
    h.update(index.to_le_bytes());
    h.finalize().into()
}

/// Gravity-Spy-style id: 10 characters from [0-9A-Za-z].
fn short_id(digest: &[u8; 32]) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    digest.iter().rev().take(10).map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char).collect()
}

/// Uniform in [lo, hi).
pub(crate) fn uniform(rng: &mut ChaCha8Rng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.random::<f64>()
}

/// Log-uniform in [lo, hi): scale parameters (frequencies, SNRs, durations) spread evenly per octave.
pub(crate) fn log_uniform(rng: &mut ChaCha8Rng, lo: f64, hi: f64) -> f64 {
    (lo.ln() + (hi.ln() - lo.ln()) * rng.random::<f64>()).exp()
}

/// Total SNR of a tone of duration `dur` at frequency `f` whose every Q-transform tile has SNR `per_tile`.
/// A long tone is spread over about dur / (tile length) tiles of the highest-Q plane (Q = 64, tile length
/// ~ Q / (√11 f)), and what makes it visible is the SNR per tile, not the total.
pub(crate) fn tone_snr(per_tile: f64, f: f64, dur: f64) -> f64 {
    per_tile * (dur * f * 11f64.sqrt() / 64.0).max(1.0).sqrt()
}

/// Random phase in [0, 2π).
pub(crate) fn phase(rng: &mut ChaCha8Rng) -> f64 {
    uniform(rng, 0.0, std::f64::consts::TAU)
}
