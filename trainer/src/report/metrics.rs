//! Classification metrics over glitches: top-1..top-5 accuracy (the paper's Table 1), per-class precision,
//! recall and F1, and the confusion matrix. Pure arithmetic on probabilities; accuracies in percent.

use serde::Serialize;

/// One classified glitch whose true class the model knows.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Index of the true class in the model's labels.
    pub target: usize,
    /// Probability of every class, in label order.
    pub probabilities: Vec<f32>,
}

impl Outcome {
    /// The predicted class (first of equal maxima).
    pub fn predicted(&self) -> usize {
        let mut best = 0;
        for (i, &p) in self.probabilities.iter().enumerate() {
            if p > self.probabilities[best] {
                best = i;
            }
        }
        best
    }

    /// 0-based rank of the true class: how many classes come before it (more probable, or equally probable
    /// with a lower index, the order `predicted` and a stable sort use).
    pub fn rank(&self) -> usize {
        let t = self.probabilities[self.target];
        self.probabilities
            .iter()
            .enumerate()
            .filter(|&(i, &p)| p > t || (p == t && i < self.target))
            .count()
    }
}

/// Precision, recall and F1 of one class, in percent.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ClassStats {
    pub label: String,
    /// Glitches of this class in the data.
    pub support: usize,
    /// Glitches predicted as this class.
    pub predicted: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

/// Everything computed from a list of outcomes.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub n: usize,
    /// top-1 .. top-5 accuracy, percent.
    pub top: [f64; 5],
    /// Classes that occur in the data or in the predictions, in label order.
    pub per_class: Vec<ClassStats>,
    /// Mean F1 over the classes present in the data.
    pub macro_f1: f64,
    /// `confusion[true][predicted]` over all labels.
    pub confusion: Vec<Vec<usize>>,
}

fn percent(part: usize, whole: usize) -> f64 {
    if whole == 0 { 0.0 } else { 100.0 * part as f64 / whole as f64 }
}

pub fn summarise(outcomes: &[Outcome], labels: &[String]) -> Summary {
    let k = labels.len();
    let mut confusion = vec![vec![0usize; k]; k];
    let mut within = [0usize; 5];
    for o in outcomes {
        confusion[o.target][o.predicted()] += 1;
        let rank = o.rank();
        for (j, hits) in within.iter_mut().enumerate() {
            if rank <= j {
                *hits += 1;
            }
        }
    }
    let n = outcomes.len();
    let top = within.map(|hits| percent(hits, n));
    let mut per_class = Vec::new();
    for c in 0..k {
        let support: usize = confusion[c].iter().sum();
        let predicted: usize = confusion.iter().map(|row| row[c]).sum();
        if support == 0 && predicted == 0 {
            continue;
        }
        let correct = confusion[c][c];
        let precision = percent(correct, predicted);
        let recall = percent(correct, support);
        let f1 = if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
        per_class.push(ClassStats { label: labels[c].clone(), support, predicted, precision, recall, f1 });
    }
    let present: Vec<&ClassStats> = per_class.iter().filter(|c| c.support > 0).collect();
    let macro_f1 = if present.is_empty() { 0.0 } else { present.iter().map(|c| c.f1).sum::<f64>() / present.len() as f64 };
    Summary { n, top, per_class, macro_f1, confusion }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("c{i}")).collect()
    }

    #[test]
    fn top_k_counts_the_rank_of_the_true_class() {
        let outcomes = vec![
            Outcome { target: 0, probabilities: vec![0.7, 0.2, 0.1] },       // rank 0
            Outcome { target: 1, probabilities: vec![0.5, 0.3, 0.2] },       // rank 1
            Outcome { target: 2, probabilities: vec![0.5, 0.3, 0.2] },       // rank 2
            Outcome { target: 2, probabilities: vec![0.4, 0.2, 0.4] },       // tie with class 0, lower index first: rank 1
        ];
        let s = summarise(&outcomes, &labels(3));
        assert_eq!(s.n, 4);
        assert_eq!(s.top, [25.0, 75.0, 100.0, 100.0, 100.0]);
        assert_eq!(s.confusion, vec![vec![1, 0, 0], vec![1, 0, 0], vec![2, 0, 0]]);
    }

    #[test]
    fn precision_recall_f1_per_class() {
        // class 0: 3 true, predicted 0,0,1; class 1: 1 true, predicted 1.
        let p = |t: usize, pred: usize| {
            let mut probabilities = vec![0.1; 3];
            probabilities[pred] = 0.8;
            Outcome { target: t, probabilities }
        };
        let s = summarise(&[p(0, 0), p(0, 0), p(0, 1), p(1, 1)], &labels(3));
        assert_eq!(s.per_class.len(), 2, "class 2 neither occurs nor is predicted");
        let c0 = &s.per_class[0];
        assert_eq!((c0.support, c0.predicted, c0.precision), (3, 2, 100.0));
        assert!((c0.recall - 200.0 / 3.0).abs() < 1e-9);
        assert!((c0.f1 - 80.0).abs() < 1e-9);
        let c1 = &s.per_class[1];
        assert_eq!((c1.precision, c1.recall), (50.0, 100.0));
        assert!((s.macro_f1 - (80.0 + 200.0 / 3.0) / 2.0).abs() < 1e-9);
    }

    #[test]
    fn empty_input_gives_zeros_not_nan() {
        let s = summarise(&[], &labels(2));
        assert_eq!((s.n, s.top[0], s.macro_f1), (0, 0.0, 0.0));
    }
}
