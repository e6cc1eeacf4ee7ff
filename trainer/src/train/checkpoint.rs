//! Checkpoints that survive `kill -9`: every record is written to a temporary file and renamed into place, so
//! a checkpoint file that exists is complete. A run can resume from an epoch when its model, optimiser and
//! scheduler files all exist.

use std::path::{Path, PathBuf};

use burn::train::checkpoint::{Checkpoint, Checkpointer, CheckpointerError};

/// Sub-folder of the run directory.
pub const DIR: &str = "checkpoint";
/// The three records of a checkpoint, as Burn's learner saves them.
pub const RECORDS: [&str; 3] = ["model", "optim", "scheduler"];

/// Path of one record of one epoch.
pub fn record_path(dir: &Path, name: &str, epoch: usize) -> PathBuf {
    dir.join(format!("{name}-{epoch}.bpk"))
}

/// A file checkpointer with atomic writes (Burn's `FileCheckpointer` writes in place).
pub struct AtomicFileCheckpointer {
    dir: PathBuf,
    name: &'static str,
}

impl AtomicFileCheckpointer {
    pub fn new(dir: &Path, name: &'static str) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        Ok(AtomicFileCheckpointer { dir: dir.to_path_buf(), name })
    }
}

impl<R: Checkpoint> Checkpointer<R> for AtomicFileCheckpointer {
    fn save(&self, epoch: usize, record: R) -> Result<(), CheckpointerError> {
        let path = record_path(&self.dir, self.name, epoch);
        let tmp = path.with_extension("bpk.tmp");
        // A leftover from a killed run would make the burnpack writer refuse to overwrite.
        if tmp.exists() {
            std::fs::remove_file(&tmp).map_err(CheckpointerError::IOError)?;
        }
        record.save(tmp.clone())?;
        std::fs::rename(&tmp, &path).map_err(CheckpointerError::IOError)
    }

    fn delete(&self, epoch: usize) -> Result<(), CheckpointerError> {
        let path = record_path(&self.dir, self.name, epoch);
        if path.exists() {
            std::fs::remove_file(path).map_err(CheckpointerError::IOError)?;
        }
        Ok(())
    }

    fn restore(&self, epoch: usize) -> Result<R, CheckpointerError> {
        R::load(record_path(&self.dir, self.name, epoch))
    }
}

/// Epochs with a complete checkpoint (all three records), ascending.
pub fn complete_epochs(dir: &Path) -> Vec<usize> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut epochs: Vec<usize> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            name.strip_prefix("model-")?.strip_suffix(".bpk")?.parse().ok()
        })
        .filter(|&epoch| RECORDS.iter().all(|r| record_path(dir, r, epoch).is_file()))
        .collect();
    epochs.sort_unstable();
    epochs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_epochs_with_all_three_records_count() {
        let dir = tempfile::tempdir().unwrap();
        for (name, epoch) in [("model", 1), ("optim", 1), ("scheduler", 1), ("model", 2), ("optim", 2), ("model", 3)] {
            std::fs::write(record_path(dir.path(), name, epoch), b"x").unwrap();
        }
        std::fs::write(dir.path().join("model-4.bpk.tmp"), b"partial").unwrap();
        assert_eq!(complete_epochs(dir.path()), vec![1]);
        assert!(complete_epochs(&dir.path().join("missing")).is_empty());
    }
}
