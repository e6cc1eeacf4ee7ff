//! `glitchscope qtransform`: the Gravity Spy Q-transform of a strain `.npy`,
//! written as a `[time, frequency]` float32 `.npy` exactly like gwpy's
//! `TimeSeries.q_transform(qrange=(4, 64), frange=(10, 2048), whiten=True,
//! gps=center, search=0.5, tres=, fres=, outseg=(center - h, center + h))`,
//! optionally with the Gravity Spy picture of the same window.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use glitchscope::npy::{read_npy_file, write_npy_f32_file};
use glitchscope::spectrogram::render::{RenderOptions, render_full_figure};
use glitchscope::spectrogram::{QParams, q_transform};

#[derive(Args)]
pub struct QTransformArgs {
    /// Strain time series, a 1-d `.npy` of floats (first sample at t = 0).
    #[arg(long)]
    pub strain: PathBuf,
    /// Sample rate of the strain, Hz.
    #[arg(long)]
    pub sample_rate: f64,
    /// Centre time (the glitch), seconds from the first sample.
    #[arg(long)]
    pub center: f64,
    /// Time resolution of the output grid, seconds (Gravity Spy: 0.002).
    #[arg(long, default_value_t = 0.002)]
    pub tres: f64,
    /// Frequency resolution of the output grid, Hz (Gravity Spy: 0.5).
    #[arg(long, default_value_t = 0.5)]
    pub fres: f64,
    /// Half width of the output window around the centre, seconds.
    #[arg(long, default_value_t = 2.0)]
    pub half_window: f64,
    /// Output `.npy`: float32 normalised energy, shape [time, frequency].
    #[arg(long)]
    pub out: PathBuf,
    /// Also write the 800x600 Gravity Spy figure of the window to this PNG.
    #[arg(long)]
    pub png: Option<PathBuf>,
}

pub fn run(args: QTransformArgs) -> Result<()> {
    let strain = read_npy_file(&args.strain)?;
    let long_axes = strain.shape.iter().filter(|&&d| d > 1).count();
    if long_axes > 1 {
        bail!(
            "{}: expected a 1-d strain time series, got shape {:?}",
            args.strain.display(),
            strain.shape
        );
    }
    let start = Instant::now();
    let scan = q_transform(
        &strain.data,
        args.sample_rate,
        args.center,
        &QParams::default(),
    )
    .with_context(|| format!("Q-transform of {}", args.strain.display()))?;
    let (t0, t1) = (
        args.center - args.half_window,
        args.center + args.half_window,
    );
    let spec = scan
        .grid(t0, t1, args.tres, args.fres)
        .context("output grid")?;
    let elapsed = start.elapsed();
    let shape = [spec.n_times() as u64, spec.n_freqs() as u64];
    write_npy_f32_file(&args.out, &shape, &spec.data)?;
    let peak = scan.peak();
    println!(
        "wrote {} [time {} x frequency {}]: times {:.4}..{:.4} s, frequencies {}..{} Hz, Q = {:.2}, \
         loudest tile {:.1} at {:.4} s, {:.1} Hz ({:.1} ms)",
        args.out.display(),
        shape[0],
        shape[1],
        spec.times.first().copied().unwrap_or(t0),
        spec.times.last().copied().unwrap_or(t1),
        spec.freqs.first().copied().unwrap_or(0.0),
        spec.freqs.last().copied().unwrap_or(0.0),
        scan.q(),
        peak.energy,
        peak.time,
        peak.frequency,
        elapsed.as_secs_f64() * 1e3,
    );
    if let Some(png) = &args.png {
        let figure = render_full_figure(
            &scan,
            args.center,
            2.0 * args.half_window,
            &RenderOptions::default(),
        )
        .context("rendering the figure")?;
        figure
            .save(png)
            .with_context(|| format!("writing {}", png.display()))?;
        println!("wrote {}", png.display());
    }
    Ok(())
}
