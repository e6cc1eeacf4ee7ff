//! `glitchscope realism`: per class, how far the synthetic glitches are from the real ones (Fréchet distance,
//! nearest-neighbour ratio, real-vs-synthetic AUROC on ImageNet features; `report::realism`), with the
//! sim-to-real recall of a model trained on synthetic data only when its `eval --json` is given.
//! `scripts/realism.sh` makes all the inputs.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use glitchscope::labels::O1_CLASSES;
use serde_json::json;

use super::embed::EmbeddingTable;
use crate::report::realism::{self, ClassRealism, MIN_REAL_FOR_FRECHET};

#[derive(Args)]
pub struct RealismArgs {
    /// Labelled embeddings of the synthetic glitches (`glitchscope embed --label-from-folder`, ImageNet card).
    #[arg(long)]
    pub synthetic: PathBuf,
    /// Labelled embeddings of the real glitches, made with the same card.
    #[arg(long)]
    pub real: PathBuf,
    /// `glitchscope eval --json` of a model trained on the synthetic glitches alone, on the real ones: adds
    /// each class's sim-to-real recall.
    #[arg(long)]
    pub sim_to_real: Option<PathBuf>,
    /// An earlier `realism.json` (another generator version) to print beside this one.
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// Principal components of the real features that all distances are measured in.
    #[arg(long, default_value_t = 16)]
    pub components: usize,
    /// Output folder for realism.md and realism.json.
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

fn read_json(path: &std::path::Path) -> Result<serde_json::Value> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
}

pub fn run(args: RealismArgs) -> Result<()> {
    let synthetic = EmbeddingTable::read(&args.synthetic)?;
    let real = EmbeddingTable::read(&args.real)?;
    for (t, p) in [(&synthetic, &args.synthetic), (&real, &args.real)] {
        if !t.has_labels() {
            bail!("{} has no labels: make it with `glitchscope embed --label-from-folder`", p.display());
        }
    }
    // Only the O1 classes, on both sides (the real folders also hold Fast_Scattering and Unlabeled).
    let keep = |t: &EmbeddingTable| -> Result<(glitchscope::discovery::Embeddings, Vec<String>)> {
        let rows: Vec<usize> = (0..t.len()).filter(|&i| O1_CLASSES.contains(&t.labels[i].as_str())).collect();
        Ok((t.embeddings.select(&rows)?, rows.iter().map(|&i| t.labels[i].clone()).collect()))
    };
    let (se, sl) = keep(&synthetic)?;
    let (re, rl) = keep(&real)?;
    if se.is_empty() || re.is_empty() {
        bail!("no glitch of an O1 class in {} or {}", args.synthetic.display(), args.real.display());
    }
    let measured = realism::measure(&se, &sl, &re, &rl, args.components, args.seed)?;

    let recall: BTreeMap<String, f64> = match &args.sim_to_real {
        Some(path) => {
            let v = read_json(path)?;
            let Some(per_class) = v["per_class"].as_object() else {
                bail!("{} has no per_class object: give the output of `glitchscope eval --json`", path.display());
            };
            per_class.iter().filter_map(|(c, m)| m["recall"].as_f64().map(|r| (c.clone(), r))).collect()
        }
        None => BTreeMap::new(),
    };
    let baseline: BTreeMap<String, serde_json::Value> = match &args.baseline {
        Some(path) => {
            let v = read_json(path)?;
            v["classes"].as_array().into_iter().flatten().filter_map(|c| Some((c["class"].as_str()?.to_string(), c.clone()))).collect()
        }
        None => BTreeMap::new(),
    };

    // Worst first: by Fréchet distance where there is one, then by nearest-neighbour ratio.
    let mut rows: Vec<&ClassRealism> = measured.classes.iter().collect();
    rows.sort_by(|a, b| {
        let key = |c: &ClassRealism| (c.frechet.is_some(), c.frechet.unwrap_or(0.0), c.nn_ratio);
        key(b).partial_cmp(&key(a)).unwrap_or(std::cmp::Ordering::Equal)
    });
    let was = |class: &str, field: &str| -> Option<f64> { baseline.get(class).and_then(|c| c[field].as_f64()) };
    let cell = |now: Option<f64>, before: Option<f64>, digits: usize| -> String {
        match (before, now) {
            (Some(b), Some(n)) => format!("{b:.digits$} → {n:.digits$}"),
            (None, Some(n)) => format!("{n:.digits$}"),
            (Some(b), None) => format!("{b:.digits$} → –"),
            (None, None) => "–".into(),
        }
    };
    let mut md = format!(
        "Realism of the synthetic glitches, class by class ({} ImageNet-feature principal components of the real \
         glitches; synthetic {}, real {}).\n\n\
         | class | real | synthetic | Fréchet distance | NN ratio | real-vs-synthetic AUROC | sim-to-real recall |\n\
         |---|---:|---:|---:|---:|---:|---:|\n",
        measured.components,
        args.synthetic.display(),
        args.real.display()
    );
    for c in &rows {
        let recall_now = recall.get(&c.class).copied();
        md += &format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            c.class,
            c.real,
            c.synthetic,
            cell(c.frechet, was(&c.class, "frechet"), 1),
            cell(Some(c.nn_ratio), was(&c.class, "nn_ratio"), 2),
            cell(c.auroc, was(&c.class, "auroc"), 2),
            if recall.is_empty() && !baseline.values().any(|b| b["sim_to_real_recall"].is_number()) {
                "–".into()
            } else {
                cell(recall_now, was(&c.class, "sim_to_real_recall"), 0) + " %"
            },
        );
    }
    md += &format!(
        "\nReal-vs-synthetic AUROC over all classes together: {:.3}. Fréchet distance only for classes with at \
         least {MIN_REAL_FOR_FRECHET} real glitches; NN ratio = mean distance of a real glitch to its nearest \
         synthetic one of the class / median nearest-neighbour distance among the synthetic ones (1 = as close as \
         they are to each other). AUROC 0.5 = a linear model cannot tell real from synthetic, 1 = always can.\n",
        measured.auroc_all
    );
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let mut classes = serde_json::to_value(&measured.classes)?;
    for c in classes.as_array_mut().into_iter().flatten() {
        let name = c["class"].as_str().unwrap_or_default().to_string();
        c["sim_to_real_recall"] = json!(recall.get(&name));
    }
    let out_json = json!({
        "synthetic": args.synthetic,
        "real": args.real,
        "sim_to_real": args.sim_to_real,
        "components": measured.components,
        "auroc_all": measured.auroc_all,
        "classes": classes,
    });
    std::fs::write(args.out.join("realism.json"), serde_json::to_string_pretty(&out_json)? + "\n")?;
    std::fs::write(args.out.join("realism.md"), &md)?;
    println!("{md}");
    println!("wrote {} (realism.md, realism.json)", args.out.display());
    Ok(())
}
