//! Training GlitchNet with Burn's Learner: data, split, augmentation, cached features, the training loop's
//! pieces (loader, logger, checkpoints, progress) and the run that ties them together (`run.rs`).

pub mod augment;
pub mod checkpoint;
pub mod config;
pub mod cv;
pub mod dataset;
pub mod domain;
pub mod features;
pub mod history;
pub mod loader;
pub mod model;
pub mod progress;
pub mod run;
pub mod sampler;
pub mod split;
