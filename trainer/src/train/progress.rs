//! Live progress for Burn's Learner: a progress bar per split (on a terminal) and one line per epoch with loss
//! and top-1 on training and validation (always, so logs and tests see it too).
//!
//! Burn's own terminal dashboard needs the `tui` feature and a full-screen terminal; this renderer works in a
//! plain terminal, a log file or a CI job.

use std::collections::HashMap;
use std::time::Instant;

use burn::train::logger::{EvaluationProgressLogger, TrainingProgressLogger};
use burn::train::metric::{MetricDefinition, MetricId, NumericEntry};
use burn::train::renderer::{
    EvaluationName, MetricState, MetricsRenderer, MetricsRendererEvaluation, MetricsRendererTraining,
};
use indicatif::{ProgressBar, ProgressStyle};

use super::history::{ACCURACY, LOSS};

pub struct LineRenderer {
    names: HashMap<MetricId, String>,
    bar: Option<ProgressBar>,
    split: String,
    epoch: usize,
    total_epochs: usize,
    /// (split, metric) -> last value; the final epoch values overwrite the running ones.
    values: HashMap<(String, String), f64>,
    epoch_started: Instant,
}

impl LineRenderer {
    pub fn new() -> Self {
        LineRenderer {
            names: HashMap::new(),
            bar: None,
            split: String::new(),
            epoch: 0,
            total_epochs: 0,
            values: HashMap::new(),
            epoch_started: Instant::now(),
        }
    }

    fn record(&mut self, split: &str, state: MetricState) {
        let MetricState::Numeric(entry, Some(value)) = state else { return };
        let Some(name) = self.names.get(&entry.metric_id) else { return };
        let v = match value {
            NumericEntry::Value(v) | NumericEntry::Final(v) => v,
            NumericEntry::Aggregated { aggregated_value, .. } => aggregated_value,
        };
        self.values.insert((split.to_string(), name.clone()), v);
        if let Some(bar) = &self.bar {
            let get = |m: &str| self.values.get(&(split.to_string(), m.to_string())).copied();
            if let (Some(loss), Some(acc)) = (get(LOSS), get(ACCURACY)) {
                bar.set_message(format!("loss {loss:.4}  top-1 {acc:.1}%"));
            }
        }
    }

    fn value(&self, split: &str, metric: &str) -> String {
        match self.values.get(&(split.to_string(), metric.to_string())) {
            Some(v) if metric == ACCURACY => format!("{v:5.1}%"),
            Some(v) => format!("{v:.4}"),
            None => "-".into(),
        }
    }
}

impl Default for LineRenderer {
    fn default() -> Self {
        Self::new()
    }
}

impl MetricsRendererTraining for LineRenderer {
    fn update_train(&mut self, state: MetricState) {
        self.record("train", state);
    }

    fn update_valid(&mut self, state: MetricState) {
        self.record("valid", state);
    }
}

impl MetricsRendererEvaluation for LineRenderer {
    fn update_test(&mut self, _name: EvaluationName, _state: MetricState) {}
}

impl TrainingProgressLogger for LineRenderer {
    fn start(&mut self, total_epochs: usize, starting_epoch: usize, _items: Option<usize>, _label: Option<&str>) {
        self.total_epochs = total_epochs;
        self.epoch = starting_epoch;
        self.epoch_started = Instant::now();
    }

    fn update_epoch(&mut self, epoch: usize) {
        println!(
            "epoch {epoch:>3}/{}  train loss {} top-1 {}  |  valid loss {} top-1 {}  ({:.1} s)",
            self.total_epochs,
            self.value("train", LOSS),
            self.value("train", ACCURACY),
            self.value("valid", LOSS),
            self.value("valid", ACCURACY),
            self.epoch_started.elapsed().as_secs_f64()
        );
        self.epoch = epoch + 1;
        self.epoch_started = Instant::now();
    }

    fn start_split(&mut self, split: &str, total_items: usize) {
        self.split = split.to_string();
        let bar = ProgressBar::new(total_items as u64);
        bar.set_style(
            ProgressStyle::with_template("{prefix:>18} [{bar:30}] {pos}/{len} glitches  {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_prefix(format!("epoch {}/{} {split}", self.epoch, self.total_epochs));
        self.bar = Some(bar);
    }

    fn update_split(&mut self, items_processed: usize) {
        if let Some(bar) = &self.bar {
            bar.set_position(items_processed as u64);
        }
    }

    fn end_split(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }

    fn end(&mut self) {}

    fn log_event_training(&mut self, _event: String) {}
}

impl EvaluationProgressLogger for LineRenderer {
    fn start_global_progress(&mut self, _total_tests: usize) {}
    fn start_test(&mut self, _name: &str, _total_items: usize) {}
    fn update_test_progress(&mut self, _items_processed: usize) {}
    fn end_test(&mut self) {}
    fn end_global_progress(&mut self) {}
    fn log_event_evaluation(&mut self, _event: String) {}
}

impl MetricsRenderer for LineRenderer {
    fn manual_close(&mut self) {}

    fn register_metric(&mut self, definition: MetricDefinition) {
        self.names.insert(definition.metric_id.clone(), definition.name.to_string());
    }
}

/// A progress bar for the steps before training (reading files, computing features).
pub fn bar(len: usize, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len as u64);
    bar.set_style(
        ProgressStyle::with_template("{prefix:>18} [{bar:30}] {pos}/{len} {per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_prefix(what.to_string());
    bar
}
