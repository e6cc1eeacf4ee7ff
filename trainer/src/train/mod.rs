//! Training GlitchNet with Burn's Learner: data, split, augmentation, cached features, the training loop's
//! pieces (loader, logger, checkpoints, progress), and the one path from options to an exported model that
//! `train` (`run.rs`) and `cv` (`cv.rs`) share: `config` -> `setup` -> `prepare` -> `fit` -> `export`.

pub mod augment;
pub mod checkpoint;
pub mod config;
pub mod cv;
pub mod cv_report;
pub mod dataset;
pub mod domain;
pub mod export;
pub mod features;
pub mod fit;
pub mod history;
pub mod loader;
pub mod model;
pub mod prepare;
pub mod progress;
pub mod run;
pub mod sampler;
pub mod setup;
pub mod split;
