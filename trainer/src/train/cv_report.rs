//! The report of a cross-validation: top-k, macro recall and F1, per class and per source, the confusion
//! matrix, and calibration (the temperature fitted on all out-of-fold predictions, and the ECE before and after
//! the cross-fitted temperatures), as markdown, JSON and plots.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;
use glitchscope::labels::{O1_CLASSES, class_index};
use serde_json::json;

use super::config::TrainConfig;
use super::cv::{CvOptions, OutOfFold};
use crate::report::calibration::{self, Reliability};
use crate::report::metrics::{Outcome, summarise};
use crate::report::plots;

/// Fewest glitches a temperature is fitted on: below this for either kind, one temperature serves all.
const MIN_PER_TEMPERATURE: usize = 20;

/// Everything the cross-validation reports.
pub struct Report {
    pub n: usize,
    pub folds: usize,
    pub top: [f64; 5],
    pub macro_recall: f64,
    pub macro_f1: f64,
    /// (class, glitches, right, recall %, what the wrong ones were called)
    pub per_class: Vec<(String, usize, usize, f64, BTreeMap<String, usize>)>,
    /// (source, glitches, top-1 %)
    pub per_source: Vec<(String, usize, f64)>,
    pub confusion: Vec<Vec<usize>>,
    /// The temperature fitted on all out-of-fold predictions (on all but the single pictures when they have
    /// their own).
    pub temperature: f64,
    /// The single pictures' own temperature, when there were enough of both kinds to fit two.
    pub single_picture_temperature: Option<f64>,
    /// ECE (percent) after one cross-fitted temperature for every glitch, for comparison.
    pub ece_after_one_temperature: f64,
    pub reliability_before: Reliability,
    /// With the cross-fitted temperatures.
    pub reliability_after: Reliability,
    /// Mean top-1 probability of the wrong predictions, before and after.
    pub wrong_confidence: (f64, f64),
}

impl Report {
    pub fn new(predictions: &[OutOfFold], folds: usize) -> Report {
        let labels: Vec<String> = O1_CLASSES.iter().map(|s| s.to_string()).collect();
        let targets: Vec<usize> = predictions.iter().map(|p| class_index(&p.class).unwrap_or(0)).collect();
        let outcomes: Vec<Outcome> = predictions
            .iter()
            .zip(&targets)
            .map(|(p, &t)| Outcome { target: t, probabilities: calibration::softmax_t(&p.logits, 1.0) })
            .collect();
        let summary = summarise(&outcomes, &labels);
        // Temperatures: one for single pictures in the unknown-duration slot and one for the rest when both
        // kinds have enough glitches to fit on (the network is over-confident on four views and under-confident
        // on one: a shared temperature fits neither), else one for all. Each fold's predictions are scaled by
        // temperatures fitted on the other folds (cross-fitted); the card gets those fitted on everything.
        let split = {
            let singles = predictions.iter().filter(|p| p.single_picture).count();
            singles >= MIN_PER_TEMPERATURE && predictions.len() - singles >= MIN_PER_TEMPERATURE
        };
        let kind_of = |p: &OutOfFold| split && p.single_picture;
        let fit = |keep: &dyn Fn(&OutOfFold) -> bool| -> f64 {
            let (l, t): (Vec<Vec<f32>>, Vec<usize>) =
                predictions.iter().zip(&targets).filter(|(p, _)| keep(p)).map(|(p, &t)| (p.logits.clone(), t)).unzip();
            calibration::fit_temperature(&l, &t)
        };
        let temperature = fit(&|p| !kind_of(p));
        let single_picture_temperature = split.then(|| fit(&|p| kind_of(p)));
        // [fold][kind]: kind 1 = single picture.
        let fold_t: Vec<[f64; 2]> = (0..folds)
            .map(|f| {
                let other = fit(&|p| p.fold != f && !kind_of(p));
                let single = if split { fit(&|p| p.fold != f && kind_of(p)) } else { other };
                [other, single]
            })
            .collect();
        let one_t: Vec<f64> = (0..folds).map(|f| fit(&|p| p.fold != f)).collect();
        let top1 = |probs: &[f32], target: usize| -> (f32, bool) {
            let o = Outcome { target, probabilities: probs.to_vec() };
            (probs[o.predicted()], o.predicted() == target)
        };
        let before: Vec<(f32, bool)> = outcomes.iter().map(|o| top1(&o.probabilities, o.target)).collect();
        let after: Vec<(f32, bool)> = predictions
            .iter()
            .zip(&targets)
            .map(|(p, &t)| top1(&calibration::softmax_t(&p.logits, fold_t.get(p.fold).map_or(1.0, |k| k[usize::from(kind_of(p))])), t))
            .collect();
        let after_one: Vec<(f32, bool)> =
            predictions.iter().zip(&targets).map(|(p, &t)| top1(&calibration::softmax_t(&p.logits, one_t.get(p.fold).copied().unwrap_or(1.0)), t)).collect();
        let mean_wrong = |v: &[(f32, bool)]| {
            let w: Vec<f64> = v.iter().filter(|x| !x.1).map(|x| f64::from(x.0)).collect();
            if w.is_empty() { 0.0 } else { 100.0 * w.iter().sum::<f64>() / w.len() as f64 }
        };
        let mut per_class = Vec::new();
        for (c, label) in labels.iter().enumerate() {
            let n = summary.confusion[c].iter().sum::<usize>();
            if n == 0 {
                continue;
            }
            let right = summary.confusion[c][c];
            let wrong: BTreeMap<String, usize> = summary.confusion[c]
                .iter()
                .enumerate()
                .filter(|&(p, &count)| p != c && count > 0)
                .map(|(p, &count)| (labels[p].clone(), count))
                .collect();
            per_class.push((label.clone(), n, right, 100.0 * right as f64 / n as f64, wrong));
        }
        let macro_recall = per_class.iter().map(|c| c.3).sum::<f64>() / per_class.len().max(1) as f64;
        let mut sources: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
        for (p, o) in predictions.iter().zip(&outcomes) {
            let e = sources.entry(p.source.as_str()).or_default();
            e.0 += 1;
            e.1 += usize::from(o.predicted() == o.target);
        }
        let per_source = sources.into_iter().map(|(s, (n, r))| (s.to_string(), n, 100.0 * r as f64 / n as f64)).collect();
        Report {
            n: predictions.len(),
            folds,
            top: summary.top,
            macro_recall,
            macro_f1: summary.macro_f1,
            per_class,
            per_source,
            confusion: summary.confusion,
            temperature,
            single_picture_temperature,
            ece_after_one_temperature: calibration::reliability(&after_one).ece,
            reliability_before: calibration::reliability(&before),
            reliability_after: calibration::reliability(&after),
            wrong_confidence: (mean_wrong(&before), mean_wrong(&after)),
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "glitches": self.n,
            "folds": self.folds,
            "top1": self.top[0], "top2": self.top[1], "top3": self.top[2], "top4": self.top[3], "top5": self.top[4],
            "macro_recall": self.macro_recall,
            "macro_f1": self.macro_f1,
            "classes": self.per_class.len(),
            "per_class": self.per_class.iter().map(|(c, n, r, rec, wrong)| json!({ "class": c, "glitches": n, "right": r, "recall": rec, "called": wrong })).collect::<Vec<_>>(),
            "per_source": self.per_source.iter().map(|(s, n, t)| json!({ "source": s, "glitches": n, "top1": t })).collect::<Vec<_>>(),
            "temperature": self.temperature,
            "single_picture_temperature": self.single_picture_temperature,
            "ece_after_one_temperature": self.ece_after_one_temperature,
            "ece_before": self.reliability_before.ece,
            "ece_after_cross_fitted": self.reliability_after.ece,
            "mce_before": self.reliability_before.mce,
            "mce_after_cross_fitted": self.reliability_after.mce,
            "wrong_mean_confidence_before": self.wrong_confidence.0,
            "wrong_mean_confidence_after": self.wrong_confidence.1,
            "reliability_before": self.reliability_before.bins,
            "reliability_after": self.reliability_after.bins,
            "unit": "percent",
        })
    }

    /// confusion.png, confusion.csv, reliability.png.
    pub fn write_files(&self, out: &Path) -> Result<()> {
        let labels: Vec<String> = O1_CLASSES.iter().map(|s| s.to_string()).collect();
        let shown: Vec<usize> = (0..labels.len()).filter(|&c| self.confusion[c].iter().sum::<usize>() > 0 || self.confusion.iter().any(|r| r[c] > 0)).collect();
        let title = format!("{}-fold cross-validation on {} real glitches: top-1 {:.1} %, macro recall {:.1} %", self.folds, self.n, self.top[0], self.macro_recall);
        plots::confusion_png(&out.join("confusion.png"), &labels, &self.confusion, &shown, &title)?;
        let mut w = csv::Writer::from_path(out.join("confusion.csv"))?;
        let mut header = vec!["true \\ predicted".to_string()];
        header.extend(shown.iter().map(|&c| labels[c].clone()));
        w.write_record(&header)?;
        for &t in &shown {
            let mut row = vec![labels[t].clone()];
            row.extend(shown.iter().map(|&p| self.confusion[t][p].to_string()));
            w.write_record(&row)?;
        }
        w.flush()?;
        let after = match self.single_picture_temperature {
            Some(single) => format!("after temperature scaling (cross-fitted; T = {:.2}, single pictures {single:.2})", self.temperature),
            None => format!("after temperature scaling (cross-fitted; T = {:.2} on all)", self.temperature),
        };
        plots::reliability_png(
            &out.join("reliability.png"),
            &[("before", &self.reliability_before), (after.as_str(), &self.reliability_after)],
            &format!("reliability of the out-of-fold predictions ({} real glitches)", self.n),
        )
    }

    pub fn markdown(&self, config: &TrainConfig, options: &CvOptions) -> String {
        let mut s = String::new();
        s += &format!(
            "{}-fold cross-validation over {} real glitches of {} classes (mode {}, {}x{}, views {:?}, {} epochs, lr {}, copies {}, real weight {}, label smoothing {})\n\n",
            options.folds, self.n, self.per_class.len(), config.mode, config.height, config.width, config.views, config.epochs, config.lr, config.copies, config.real_weight, config.label_smoothing
        );
        s += "| top-1 | top-2 | top-3 | top-4 | top-5 | macro recall | macro F1 | ECE before | ECE after (T cross-fitted) | ECE after, one T for all | T (all folds) | T single pictures |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
        s += &format!(
            "| {:.1} % | {:.1} % | {:.1} % | {:.1} % | {:.1} % | {:.1} % | {:.1} % | {:.1} % | {:.1} % | {:.1} % | {:.2} | {} |\n\n",
            self.top[0], self.top[1], self.top[2], self.top[3], self.top[4], self.macro_recall, self.macro_f1,
            self.reliability_before.ece, self.reliability_after.ece, self.ece_after_one_temperature, self.temperature,
            self.single_picture_temperature.map_or("–".to_string(), |t| format!("{t:.2}"))
        );
        s += "| class | real glitches | right | recall | wrong ones called |\n|---|---:|---:|---:|---|\n";
        for (c, n, r, rec, wrong) in &self.per_class {
            let w: Vec<String> = wrong.iter().map(|(k, v)| format!("{k} {v}")).collect();
            s += &format!("| {c} | {n} | {r} | {rec:.0} % | {} |\n", w.join(", "));
        }
        s += "\n| source | glitches | top-1 |\n|---|---:|---:|\n";
        for (src, n, t) in &self.per_source {
            s += &format!("| {src} | {n} | {t:.1} % |\n");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_counts_recall_per_class_and_calibrates() {
        let p = |class: &str, fold, hot: usize| {
            let mut logits = vec![0.0; O1_CLASSES.len()];
            logits[hot] = 8.0;
            OutOfFold { key: format!("{class}{hot}{fold}"), class: class.into(), source: "s".into(), fold, logits, single_picture: false }
        };
        let blip = class_index("Blip").unwrap();
        let whistle = class_index("Whistle").unwrap();
        let preds = vec![p("Blip", 0, blip), p("Blip", 1, whistle), p("Whistle", 0, whistle), p("Whistle", 1, whistle)];
        let r = Report::new(&preds, 2);
        assert_eq!(r.n, 4);
        assert!((r.top[0] - 75.0).abs() < 1e-9);
        assert!((r.macro_recall - 75.0).abs() < 1e-9, "(50 + 100) / 2");
        let blip_row = r.per_class.iter().find(|c| c.0 == "Blip").unwrap();
        assert_eq!((blip_row.1, blip_row.2), (2, 1));
        assert_eq!(blip_row.4.get("Whistle"), Some(&1));
        assert!(r.temperature > 1.0, "one confident error in four: cool down, got {}", r.temperature);
        assert!(r.reliability_before.ece > 20.0);
        assert_eq!(r.single_picture_temperature, None, "too few glitches for two temperatures");
    }

    /// Four-view glitches over-confident and single pictures under-confident: each kind gets its own
    /// temperature (above and below 1), and the two calibrate better than one.
    #[test]
    fn single_pictures_get_their_own_temperature() {
        let blip = class_index("Blip").unwrap();
        let whistle = class_index("Whistle").unwrap();
        let mut preds = Vec::new();
        for i in 0..80 {
            let single = i % 2 == 0;
            // Four views: logit 6 on the top class, wrong one time in four; single pictures: logit 2, always right.
            let (hot, top) = if single { (2.0, blip) } else { (6.0, if i % 8 == 1 { whistle } else { blip }) };
            let mut logits = vec![0.0; O1_CLASSES.len()];
            logits[top] = hot;
            preds.push(OutOfFold { key: format!("g{i}"), class: "Blip".into(), source: "s".into(), fold: i % 2, logits, single_picture: single });
        }
        // Alternate the folds within each kind too.
        for (n, p) in preds.iter_mut().enumerate() {
            p.fold = (n / 2) % 2;
        }
        let r = Report::new(&preds, 2);
        let single = r.single_picture_temperature.expect("40 of each kind");
        assert!(single < 1.0 && r.temperature > 1.0, "single pictures sharpened ({single}), four views softened ({})", r.temperature);
        assert!(r.reliability_after.ece < r.ece_after_one_temperature, "{} vs {}", r.reliability_after.ece, r.ece_after_one_temperature);
    }
}
