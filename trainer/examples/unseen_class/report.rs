//! The markdown: one section per unseen class, kept apart in one file so runs for several classes add up.

use std::path::Path;

use anyhow::{Context, Result};

use crate::measure::{ClusterResult, FLAG_PERCENTILE, FewShot, NOVELTY_K, Novelty};

pub struct Facts<'a> {
    pub class: &'a str,
    pub model: &'a Path,
    pub head_outputs: usize,
    pub known_classes: usize,
    pub reference_parts: &'a str,
    pub command: &'a str,
    pub novelty: &'a Novelty,
    pub cluster: &'a ClusterResult,
    /// Top-1 of the model alone: (known test glitches, unseen class).
    pub alone: (f64, f64),
    /// What the model alone calls the unseen glitches.
    pub calls: &'a [(String, usize)],
    pub few_shot: &'a [FewShot],
}

const FILE_HEADER: &str = "# The unseen-class test on synthetic data\n\n\
A model is trained on every synthetic class but one, then the discovery tools (src/discovery) must find that \
class: the unfamiliar score, the HDBSCAN clusters of the map, and few-shot classes. Made by \
`scripts/unseen-class.sh CLASS` (see the script's header for the protocol); each class has a section of its own \
below. The real-data counterpart is `trainer/tests/discovery_real.rs` (O3 Fast_Scattering).\n";

fn pct(x: f64) -> String {
    format!("{:.1} %", 100.0 * x)
}

pub fn section(f: &Facts) -> String {
    let (n, c) = (f.novelty, f.cluster);
    let mut s = format!("## Unseen class: {}\n\n", f.class);
    s += &format!(
        "Model `{}`: frozen ImageNet EfficientNet-Lite0 backbone, head trained on {} known classes (its {} outputs \
         are the fixed Gravity Spy label set; the {} output was never a target). References: the run's {} glitches of \
         part {} (known classes). Test: the run's held-out test part ({} known-class glitches) and all {} {} glitches. \
         Command: `{}`.\n\n",
        f.model.display(),
        f.known_classes,
        f.head_outputs,
        f.class,
        n.references,
        f.reference_parts,
        n.known,
        n.unseen,
        f.class,
        f.command
    );
    s += "| measure | result |\n|---|---|\n";
    s += &format!(
        "| unfamiliar-score AUROC, {} vs known test glitches (k-NN, k = {NOVELTY_K}, calibrated leave-one-out on the references) | {:.3} |\n",
        f.class, n.auroc
    );
    s += &format!(
        "| flagged as new-class candidates (percentile >= {:.0}) | {} {}/{} ({}), known {}/{} ({}) |\n",
        100.0 * FLAG_PERCENTILE,
        f.class,
        n.unseen_flagged,
        n.unseen,
        pct(n.unseen_flagged as f64 / n.unseen as f64),
        n.known_flagged,
        n.known,
        pct(n.known_flagged as f64 / n.known as f64)
    );
    let others = if c.others.is_empty() {
        "none".to_string()
    } else {
        c.others.iter().map(|(l, k)| format!("{k} {l}")).collect::<Vec<_>>().join(", ")
    };
    let purity = if c.size > 0 { c.unseen_in_it as f64 / c.size as f64 } else { 0.0 };
    s += &format!(
        "| HDBSCAN cluster holding most {} ({} test glitches, {} clusters) | {} of its {} glitches are {} (purity {:.2}); \
         it holds {}/{} of {} ({}); others in it: {}; {} of {} called outliers |\n",
        f.class,
        c.glitches,
        c.clusters,
        c.unseen_in_it,
        c.size,
        f.class,
        purity,
        c.unseen_in_it,
        c.unseen,
        f.class,
        pct(c.unseen_in_it as f64 / c.unseen.max(1) as f64),
        others,
        c.unseen_outliers,
        f.class
    );
    let calls = f.calls.iter().map(|(l, k)| format!("{l} {k}")).collect::<Vec<_>>().join(", ");
    s += &format!(
        "| model alone, top-1 | known test glitches {}, {} {} (it calls them: {calls}) |\n\n",
        pct(f.alone.0),
        f.class,
        pct(f.alone.1)
    );
    s += &format!(
        "| few-shot examples of {} | {} top-1 (mean over draws, range) | known-class top-1 with it (model alone {}) | \
         few-shot share of {} probability | {} nearer the few-shot prototype than any known one |\n|---:|---:|---:|---:|---:|\n",
        f.class,
        f.class,
        pct(f.alone.0),
        f.class,
        f.class
    );
    for r in f.few_shot {
        s += &format!(
            "| {} ({} draws) | {} ({} to {}) | {} | {:.2} | {} |\n",
            r.shots,
            r.draws,
            pct(r.unseen_top1),
            pct(r.unseen_min),
            pct(r.unseen_max),
            pct(r.known_top1),
            r.unseen_share,
            pct(r.unseen_nearest)
        );
    }
    s
}

/// Put `section` into `path` in place of an older section of the same class (or at the end).
pub fn write_section(path: &Path, class: &str, section: &str) -> Result<()> {
    let old = std::fs::read_to_string(path).unwrap_or_else(|_| FILE_HEADER.to_string());
    let heading = format!("## Unseen class: {class}\n");
    let mut parts: Vec<String> = Vec::new();
    let mut replaced = false;
    // Split at every "## " heading; keep everything that is not this class's section.
    let mut current = String::new();
    for line in old.split_inclusive('\n') {
        if line.starts_with("## ") && !current.is_empty() {
            parts.push(std::mem::take(&mut current));
        }
        current.push_str(line);
    }
    parts.push(current);
    for part in &mut parts {
        if part.starts_with(&heading) {
            *part = format!("{section}\n");
            replaced = true;
        }
    }
    if !replaced {
        if !parts.last().is_some_and(|p| p.ends_with("\n\n")) {
            parts.push("\n".into());
        }
        parts.push(format!("{section}\n"));
    }
    let text = parts.concat().trim_end().to_string() + "\n";
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::write_section;

    #[test]
    fn a_class_section_is_replaced_and_other_sections_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("unseen.md");
        write_section(&path, "Chirp", "## Unseen class: Chirp\n\nold chirp").unwrap();
        write_section(&path, "Paired_Doves", "## Unseen class: Paired_Doves\n\ndoves").unwrap();
        write_section(&path, "Chirp", "## Unseen class: Chirp\n\nnew chirp").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# The unseen-class test"), "{text}");
        assert!(text.contains("new chirp") && !text.contains("old chirp"), "{text}");
        assert!(text.find("new chirp").unwrap() < text.find("doves").unwrap(), "{text}");
        assert_eq!(text.matches("## Unseen class: Chirp").count(), 1, "{text}");
    }
}
