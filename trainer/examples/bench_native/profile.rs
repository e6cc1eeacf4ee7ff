//! Where one inference pass spends its time, operation by operation (issue 13; docs/profile.md): the backbone
//! run by `EfficientNet::profile` (the same code the browser's `GlitchClassifier.profileBackbone` runs), on a
//! batch of B glitches (4B images), the median of each operation over the timed runs after one warm-up.

use std::time::Instant;

use anyhow::Result;
use glitchscope::inference::Classifier;
use glitchscope::model::efficientnet::{LayerTime, by_op};

use crate::timing;

/// JSON line: each operation's median ms and multiply-accumulates, and the totals by kind of operation.
pub fn run(classifier: &Classifier, glitches: usize, runs: usize) -> Result<String> {
    let input = timing::batch(classifier, glitches)?;
    let clock = Instant::now();
    let mut now = || clock.elapsed().as_secs_f64() * 1e3;
    let backbone = &classifier.model.backbone;
    let mut passes: Vec<Vec<LayerTime>> = Vec::new();
    for i in 0..=runs {
        let rows = backbone.profile(input.images.clone(), &mut now);
        let total: f64 = rows.iter().map(|r| r.ms).sum();
        eprintln!("[bench_native] profile pass {i}/{runs}: {total:.0} ms{}", if i == 0 { " (warm-up)" } else { "" });
        if i > 0 {
            passes.push(rows);
        }
    }
    let mut rows = passes[0].clone();
    for (j, row) in rows.iter_mut().enumerate() {
        row.ms = timing::median(passes.iter().map(|p| p[j].ms).collect());
    }
    let totals: Vec<_> = by_op(&rows)
        .into_iter()
        .map(|(op, calls, ms, macs)| serde_json::json!({ "op": op, "calls": calls, "ms": ms, "gmacs": macs / 1e9 }))
        .collect();
    Ok(serde_json::json!({
        "batch": glitches,
        "images": input.images.dims()[0],
        "threads": rayon_threads(),
        "folded": backbone.is_folded(),
        "total_ms": rows.iter().map(|r| r.ms).sum::<f64>(),
        "by_op": totals,
        "rows": rows,
    })
    .to_string())
}

fn rayon_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS").ok().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    })
}
