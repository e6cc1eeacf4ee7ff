//! The training history (`history.csv`, one row per epoch) and the decisions taken from it: which epoch is
//! best, when to stop early, which checkpoints to keep.
//!
//! The history is a Burn `MetricLogger`, so the Learner's event store feeds it the epoch-level (final) value
//! of every metric, and early stopping and checkpointing query it through the store. It is also a file,
//! rewritten after every epoch and read back on `--resume`: the decisions are functions of the whole history,
//! never of state held in memory, so a resumed run decides exactly as the uninterrupted one would.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, Result};
use burn::train::checkpoint::{CheckpointingAction, CheckpointingStrategy};
use burn::train::logger::MetricLogger;
use burn::train::metric::store::{Aggregate, EpochSummary, EventStoreClient, MetricsUpdate, Split};
use burn::train::metric::{MetricDefinition, MetricId, NumericEntry};
use burn::train::EarlyStoppingStrategy;
use serde::{Deserialize, Serialize};

use super::loader::EpochThroughput;

/// Names Burn gives the two metrics we register.
pub const LOSS: &str = "Loss";
pub const ACCURACY: &str = "Accuracy";

/// One epoch of the history. Accuracies in percent.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EpochRow {
    pub epoch: usize,
    pub train_loss: Option<f64>,
    pub train_top1: Option<f64>,
    pub valid_loss: Option<f64>,
    pub valid_top1: Option<f64>,
    /// Training throughput (views through forward + backward per second), validation excluded.
    pub train_views_per_s: Option<f64>,
    /// Wall time of the epoch, training and validation.
    pub seconds: Option<f64>,
}

/// The file name in the run directory.
pub const FILE: &str = "history.csv";

/// Read a history file; rows after `up_to` are dropped (they belong to an epoch whose checkpoint was lost).
pub fn read(path: &Path, up_to: usize) -> Result<BTreeMap<usize, EpochRow>> {
    let mut rows = BTreeMap::new();
    if !path.exists() {
        return Ok(rows);
    }
    let mut reader = csv::Reader::from_path(path).with_context(|| format!("reading {}", path.display()))?;
    for row in reader.deserialize::<EpochRow>() {
        let row = row.with_context(|| format!("a row of {} is not a history row", path.display()))?;
        if row.epoch <= up_to {
            rows.insert(row.epoch, row);
        }
    }
    Ok(rows)
}

/// Write the history atomically (a kill while writing leaves the previous file).
pub fn write(path: &Path, rows: &BTreeMap<usize, EpochRow>) -> Result<()> {
    let tmp = path.with_extension("csv.tmp");
    {
        let mut writer = csv::Writer::from_path(&tmp).with_context(|| format!("writing {}", tmp.display()))?;
        for row in rows.values() {
            writer.serialize(row)?;
        }
        writer.flush()?;
    }
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

/// What "best epoch" means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Monitor {
    /// Highest validation top-1, ties broken by lower validation loss.
    Top1,
    /// Lowest validation loss, ties broken by higher top-1 (smoother on small validation sets).
    Loss,
}

/// The best epoch by `monitor`; among equals, the earlier epoch.
pub fn best_epoch(epochs: impl IntoIterator<Item = (usize, f64, f64)>, monitor: Monitor) -> Option<usize> {
    let mut best: Option<(usize, f64, f64)> = None;
    for (epoch, top1, loss) in epochs {
        let better = match (best, monitor) {
            (None, _) => true,
            (Some((_, b_top1, b_loss)), Monitor::Top1) => top1 > b_top1 || (top1 == b_top1 && loss < b_loss),
            (Some((_, b_top1, b_loss)), Monitor::Loss) => loss < b_loss || (loss == b_loss && top1 > b_top1),
        };
        if better {
            best = Some((epoch, top1, loss));
        }
    }
    best.map(|b| b.0)
}

/// Early stopping: stop after `epoch` when the best epoch is `patience` or more epochs back (0 = never).
pub fn should_stop(best: Option<usize>, epoch: usize, patience: usize) -> bool {
    patience > 0 && best.is_some_and(|b| epoch >= b + patience)
}

/// (epoch, valid top-1, valid loss) of the rows that have them.
pub fn validation_points(rows: &BTreeMap<usize, EpochRow>) -> Vec<(usize, f64, f64)> {
    rows.values()
        .filter_map(|r| Some((r.epoch, r.valid_top1?, r.valid_loss.unwrap_or(f64::INFINITY))))
        .collect()
}

/// The history as a Burn metric logger.
pub struct HistoryLogger {
    rows: Arc<Mutex<BTreeMap<usize, EpochRow>>>,
    names: HashMap<MetricId, String>,
    path: PathBuf,
    throughput: Arc<Mutex<Vec<EpochThroughput>>>,
    epoch_started: Instant,
}

impl HistoryLogger {
    pub fn new(
        path: PathBuf,
        rows: Arc<Mutex<BTreeMap<usize, EpochRow>>>,
        throughput: Arc<Mutex<Vec<EpochThroughput>>>,
    ) -> Self {
        HistoryLogger { rows, names: HashMap::new(), path, throughput, epoch_started: Instant::now() }
    }
}

impl MetricLogger for HistoryLogger {
    fn log(&mut self, update: MetricsUpdate, epoch: usize, split: &Split) {
        for numeric in update.entries_numeric {
            let Some(NumericEntry::Final(value)) = numeric.numeric_entry else { continue };
            let Some(name) = self.names.get(&numeric.entry.metric_id) else { continue };
            let Ok(mut rows) = self.rows.lock() else { return };
            let row = rows.entry(epoch).or_insert_with(|| EpochRow { epoch, ..EpochRow::default() });
            match (name.as_str(), split) {
                (LOSS, Split::Train) => row.train_loss = Some(value),
                (ACCURACY, Split::Train) => row.train_top1 = Some(value),
                (LOSS, Split::Valid) => row.valid_loss = Some(value),
                (ACCURACY, Split::Valid) => row.valid_top1 = Some(value),
                _ => {}
            }
        }
    }

    fn read_numeric(&mut self, name: &str, epoch: usize, split: &Split) -> Result<Vec<NumericEntry>, String> {
        let rows = self.rows.lock().map_err(|e| e.to_string())?;
        let value = rows.get(&epoch).and_then(|r| match (name, split) {
            (LOSS, Split::Train) => r.train_loss,
            (ACCURACY, Split::Train) => r.train_top1,
            (LOSS, Split::Valid) => r.valid_loss,
            (ACCURACY, Split::Valid) => r.valid_top1,
            _ => None,
        });
        Ok(value.map(NumericEntry::Final).into_iter().collect())
    }

    fn log_metric_definition(&mut self, definition: MetricDefinition) {
        self.names.insert(definition.metric_id.clone(), definition.name.to_string());
    }

    fn log_epoch_summary(&mut self, summary: EpochSummary) {
        if summary.split != Split::Valid {
            return;
        }
        let epoch = summary.epoch_number;
        let throughput = self
            .throughput
            .lock()
            .ok()
            .and_then(|t| t.iter().rev().find(|t| t.epoch == epoch).copied());
        let Ok(mut rows) = self.rows.lock() else { return };
        let row = rows.entry(epoch).or_insert_with(|| EpochRow { epoch, ..EpochRow::default() });
        row.seconds = Some(self.epoch_started.elapsed().as_secs_f64());
        row.train_views_per_s = throughput.map(|t| t.views as f64 / t.seconds.max(1e-9));
        self.epoch_started = Instant::now();
        if let Err(e) = write(&self.path, &rows) {
            eprintln!("warning: could not write the training history: {e:#}");
        }
    }
}

/// Validation (epoch, top-1, loss) for epochs `1..=epoch`, read through the event store (which also waits for
/// the store to have taken in the current epoch's results).
fn store_points(store: &EventStoreClient, epoch: usize) -> Vec<(usize, f64, f64)> {
    (1..=epoch)
        .filter_map(|e| {
            let top1 = store.find_metric(ACCURACY, e, Aggregate::Mean, &Split::Valid)?;
            let loss = store.find_metric(LOSS, e, Aggregate::Mean, &Split::Valid).unwrap_or(f64::INFINITY);
            Some((e, top1, loss))
        })
        .collect()
}

/// Keep the checkpoints of the last two epochs (a kill while one is written leaves the other) and of the best.
#[derive(Clone)]
pub struct KeepLastAndBest {
    pub monitor: Monitor,
}

impl CheckpointingStrategy for KeepLastAndBest {
    fn checkpointing(&mut self, epoch: usize, store: &EventStoreClient) -> Vec<CheckpointingAction> {
        let best = best_epoch(store_points(store, epoch), self.monitor);
        // Save first, then delete: each record kind is written by its own thread in this order.
        let mut actions = vec![CheckpointingAction::Save];
        for old in 1..epoch.saturating_sub(1) {
            if Some(old) != best {
                actions.push(CheckpointingAction::Delete(old));
            }
        }
        actions
    }
}

/// Stop when the monitored validation metric has not improved for `patience` epochs.
#[derive(Clone)]
pub struct NoImprovement {
    pub patience: usize,
    pub monitor: Monitor,
}

impl EarlyStoppingStrategy for NoImprovement {
    fn should_stop(&mut self, epoch: usize, store: &EventStoreClient) -> bool {
        should_stop(best_epoch(store_points(store, epoch), self.monitor), epoch, self.patience)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn best_epoch_follows_the_monitor_then_the_other_metric_then_earlier() {
        let m = Monitor::Top1;
        assert_eq!(best_epoch(vec![(1, 50.0, 1.0), (2, 60.0, 2.0), (3, 55.0, 0.1)], m), Some(2));
        assert_eq!(best_epoch(vec![(1, 60.0, 1.0), (2, 60.0, 0.5), (3, 60.0, 0.5)], m), Some(2));
        assert_eq!(best_epoch(Vec::new(), m), None);
        let m = Monitor::Loss;
        assert_eq!(best_epoch(vec![(1, 50.0, 1.0), (2, 60.0, 2.0), (3, 55.0, 0.1)], m), Some(3));
        assert_eq!(best_epoch(vec![(1, 50.0, 0.5), (2, 60.0, 0.5), (3, 70.0, 0.6)], m), Some(2));
    }

    #[test]
    fn early_stopping_counts_epochs_since_best() {
        assert!(!should_stop(Some(3), 5, 3));
        assert!(should_stop(Some(3), 6, 3));
        assert!(!should_stop(Some(3), 100, 0), "patience 0 never stops");
        assert!(!should_stop(None, 5, 1));
    }

    #[test]
    fn history_round_trips_and_drops_lost_epochs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        let mut rows = BTreeMap::new();
        for e in 1..=3 {
            rows.insert(e, EpochRow { epoch: e, valid_top1: Some(10.0 * e as f64), train_loss: Some(1.5), ..Default::default() });
        }
        write(&path, &rows).unwrap();
        assert_eq!(read(&path, 10).unwrap(), rows);
        let cut = read(&path, 2).unwrap();
        assert_eq!(cut.keys().copied().collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(validation_points(&cut), vec![(1, 10.0, f64::INFINITY), (2, 20.0, f64::INFINITY)]);
    }
}
