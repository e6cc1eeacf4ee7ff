//! The benchmark's tables, as markdown.

use std::fmt::Write;

use super::clusters::{GridRow, MapClusters};
use super::measure::{FewShot, LeftOut, score_names};

pub struct Context<'a> {
    pub command: &'a str,
    pub model: &'a str,
    /// Classes the model's network was trained on (its labels): for them the protocol is not honest.
    pub trained: &'a [String],
    pub folds: usize,
    pub false_alarm_rate: f64,
    /// Real glitches the network trained on (`--trained-on`): references only, never scored.
    pub trained_on: usize,
}

pub(super) fn median_of(v: Vec<f64>) -> f64 {
    median(v)
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 { v[m] } else { 0.5 * (v[m - 1] + v[m]) }
}

fn pct(x: f64) -> String {
    if x.is_nan() { "–".into() } else { format!("{:.0} %", 100.0 * x) }
}

/// The few-shot example counts measured in any row, ascending.
fn shot_counts(results: &[LeftOut]) -> Vec<usize> {
    let mut v: Vec<usize> = results.iter().flat_map(|r| r.few_shot.iter().map(|f| f.shots)).collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// One table cell per example count: `f` of that row's few-shot result, or a dash where it was not measured.
fn few_shot_cells(r: &LeftOut, shots: &[usize], f: &dyn Fn(&FewShot) -> f64) -> String {
    shots.iter().map(|k| r.few_shot.iter().find(|x| x.shots == *k).map_or(" – |".to_string(), |x| format!(" {} |", pct(f(x))))).collect()
}

/// The index of the score with the highest median AUROC over the honest rows (all rows when none is honest).
pub fn best_score(results: &[LeftOut], trained: &[String]) -> usize {
    let honest: Vec<&LeftOut> = results.iter().filter(|r| !trained.contains(&r.class)).collect();
    let rows: Vec<&LeftOut> = if honest.is_empty() { results.iter().collect() } else { honest };
    (0..score_names().len())
        .max_by(|&a, &b| median(rows.iter().map(|r| r.auroc[a]).collect()).total_cmp(&median(rows.iter().map(|r| r.auroc[b]).collect())))
        .unwrap_or(0)
}

pub fn markdown(ctx: &Context, results: &[LeftOut], clusters: &MapClusters, chosen: usize) -> String {
    let names = score_names();
    let honest = |r: &LeftOut| !ctx.trained.contains(&r.class);
    let mut s = String::new();
    let _ = writeln!(s, "Model `{}`; {}-fold cross-validation over the real glitches of the known classes; flag threshold: the {:.0}th percentile of the other folds' known glitches (false-alarm rate {:.0} %). Command: `{}`\n", ctx.model, ctx.folds, 100.0 * (1.0 - ctx.false_alarm_rate), 100.0 * ctx.false_alarm_rate, ctx.command);
    if ctx.trained_on > 0 {
        let _ = writeln!(s, "The network trained on {} of these real glitches (`--trained-on`): they are references in every fold and never scored; the known glitches scored are the others.\n", ctx.trained_on);
    }
    let _ = writeln!(s, "Rows marked * are classes the model's network was trained on: their figures are optimistic (the class shaped the embedding); the honest rows are the others.\n");

    let _ = writeln!(s, "| score | median AUROC, honest rows | median AUROC, all rows | mean recall at the threshold | mean false alarms |");
    let _ = writeln!(s, "|---|---:|---:|---:|---:|");
    for (i, name) in names.iter().enumerate() {
        let h: Vec<f64> = results.iter().filter(|r| honest(r)).map(|r| r.auroc[i]).collect();
        let all: Vec<f64> = results.iter().map(|r| r.auroc[i]).collect();
        let rec = results.iter().map(|r| r.recall[i]).sum::<f64>() / results.len().max(1) as f64;
        let far = results.iter().map(|r| r.false_alarms[i]).sum::<f64>() / results.len().max(1) as f64;
        let mark = if i == chosen { " (chosen)" } else { "" };
        let _ = writeln!(s, "| {name}{mark} | {:.3} | {:.3} | {} | {} |", median(h), median(all), pct(rec), pct(far));
    }

    let shots = shot_counts(results);
    let _ = writeln!(s, "\nPer left-out class, score `{}`; few-shot: share of the class's other real glitches whose top class becomes the few-shot class (prototypes: `rescore_with_few_shot`, the model's head and the references' class prototypes; centred: nearest prototype after centring; page: what the page does, the reference head refitted with the examples as a class of their own, `rescore_with_few_shot_head`, from 3 examples on, the prototypes below), from 1/3/5 examples, with the share of known glitches wrongly put in it.\n", names[chosen]);
    let cols = |name: &str| shots.iter().map(|k| format!(" {name} {k} |")).collect::<String>();
    let _ = writeln!(s, "| left-out class | real glitches | AUROC | recall at threshold | false alarms | map cluster: purity / recall / clusters |{}{}{} known wrongly in it (prototypes, centred, page) |", cols("prototypes"), cols("centred"), cols("page"));
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---|{}---|", "---:|".repeat(3 * shots.len()));
    for r in results {
        let c = clusters.per_class.iter().find(|c| c.class == r.class);
        let cl = c.map_or("–".into(), |c| format!("{:.2} / {:.2} / {}", c.purity, c.recall, c.clusters));
        let fs = |f: &dyn Fn(&FewShot) -> f64| few_shot_cells(r, &shots, f);
        let worst = r.few_shot.iter().map(|x| [x.false_page, x.false_centred, x.false_head]).fold([0.0f64; 3], |a, b| [0, 1, 2].map(|i| a[i].max(b[i])));
        let star = if honest(r) { "" } else { " *" };
        let _ = writeln!(
            s,
            "| {}{star} | {} | {:.3} | {} | {} | {cl} |{}{}{} {} / {} / {} |",
            r.class,
            r.n,
            r.auroc[chosen],
            pct(r.recall[chosen]),
            pct(r.false_alarms[chosen]),
            fs(&|x| x.recall_page),
            fs(&|x| x.recall_centred),
            fs(&|x| x.recall_head),
            pct(worst[0]),
            pct(worst[1]),
            pct(worst[2])
        );
    }

    let _ = writeln!(s, "\nKnown real glitches per left-out class: {}.", results.first().map_or(0, |r| r.known));
    let honest_rows: Vec<&LeftOut> = results.iter().filter(|r| honest(r)).collect();
    for k in &shots {
        let med = |f: &dyn Fn(&FewShot) -> f64| median(honest_rows.iter().filter_map(|r| r.few_shot.iter().find(|x| x.shots == *k)).map(f).collect());
        let _ = writeln!(
            s,
            "\nFew-shot from {k}, median over the honest rows measured: prototypes {}, centred {}, page {} (known wrongly in it, median: {} / {} / {}).",
            pct(med(&|x| x.recall_page)),
            pct(med(&|x| x.recall_centred)),
            pct(med(&|x| x.recall_head)),
            pct(med(&|x| x.false_page)),
            pct(med(&|x| x.false_centred)),
            pct(med(&|x| x.false_head))
        );
    }
    let _ = writeln!(s, "\nThe map's clusters over every real glitch (HDBSCAN as in the page): {} clusters, glitch-weighted purity {:.1} %.\n", clusters.n_clusters, 100.0 * clusters.overall_purity);
    let _ = writeln!(s, "| class | real glitches | purity of its main cluster | share in it | clusters it spans | called noise |");
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|");
    for c in &clusters.per_class {
        let _ = writeln!(s, "| {} | {} | {:.2} | {:.2} | {} | {} |", c.class, c.n, c.purity, c.recall, c.clusters, c.noise);
    }
    s
}

/// The shipped calibration made from the glitches the network trained on, measured on the ones it did not.
pub fn shipped_markdown(c: &super::shipped_calibration::ShippedCheck) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\nThe calibration of the page's score (nearest reference glitch + reference head) with its flag at the references' own 95th percentile (the page's flag is set on held-out glitches instead: `embed --flag-from-cv`), made from the {} real glitches this network trained on, then measured on the real glitches it never saw: false alarms on the {} glitches of its own classes {}; flagged per class it never saw: {}.",
        c.references,
        c.known,
        pct(c.false_alarms),
        c.unseen.iter().map(|(class, n, f)| format!("{class} {} of {n}", pct(*f))).collect::<Vec<_>>().join(", ")
    );
    s
}

/// The synthetic later classes' table (`glitchscope unseen --synthetic`), under the same score.
pub fn synthetic_markdown(results: &[LeftOut], chosen: usize, dir: &std::path::Path) -> String {
    let names = score_names();
    let mut s = String::new();
    let _ = writeln!(s, "\n### Synthetic later classes (never trained on)\n");
    let _ = writeln!(s, "Glitches of `{}`: the generator's later Gravity Spy classes (`trainer/src/synth/later.rs`), each measured against synthetic glitches of the known classes from the same run, so both sides carry the synthetic-to-real gap. References, head, null and flag threshold are the real known glitches', as shipped; the false alarms are on the synthetic known glitches. Score `{}`; few-shot as above, on synthetic glitches.\n", dir.display(), names[chosen]);
    let shots = shot_counts(results);
    let cols = |name: &str| shots.iter().map(|k| format!(" {name} {k} |")).collect::<String>();
    let _ = writeln!(s, "| later class | synthetic glitches | synthetic known | AUROC | best score's AUROC | recall at threshold | false alarms (synthetic known) |{}{}{}", cols("prototypes"), cols("centred"), cols("page"));
    let _ = writeln!(s, "|---|---:|---:|---:|---|---:|---:|{}", "---:|".repeat(3 * shots.len()));
    for r in results {
        let best = (0..names.len()).max_by(|&a, &b| r.auroc[a].total_cmp(&r.auroc[b])).unwrap_or(0);
        let fs = |f: &dyn Fn(&FewShot) -> f64| few_shot_cells(r, &shots, f);
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.3} | {:.3} ({}) | {} | {} |{}{}{}",
            r.class,
            r.n,
            r.known,
            r.auroc[chosen],
            r.auroc[best],
            names[best],
            pct(r.recall[chosen]),
            pct(r.false_alarms[chosen]),
            fs(&|x| x.recall_page),
            fs(&|x| x.recall_centred),
            fs(&|x| x.recall_head)
        );
    }
    let med = median(results.iter().map(|r| r.auroc[chosen]).collect());
    let _ = writeln!(s, "\nMedian AUROC over the synthetic later classes, `{}`: {:.3}.", names[chosen], med);
    s
}

/// The map's clustering under other HDBSCAN settings than the page's (`unseen --map-grid`).
pub fn grid_markdown(rows: &[GridRow]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "\nHDBSCAN settings on the same prepared embeddings (F1 of a class: of its main cluster, 2PR/(P+R); the classes the network never saw are the honest ones; None_of_the_Above left out of the F1s):\n");
    let _ = writeln!(s, "| setting | clusters | clustered | purity | ARI | median F1, never-seen classes | median F1, trained classes | clusters per trained class |");
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        let num = |x: f64| if x.is_nan() { "–".to_string() } else { format!("{x:.2}") };
        let _ = writeln!(s, "| {} | {} | {} | {:.1} % | {:.3} | {} | {} | {} |", r.setting, r.n_clusters, pct(r.clustered), 100.0 * r.overall_purity, r.ari, num(r.f1_unseen), num(r.f1_trained), num(r.spans_trained));
    }
    s
}
