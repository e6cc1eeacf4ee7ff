//! Evaluation results: metrics (top-k, per-class precision/recall/F1, confusion) and their plots.

pub mod calibration;
pub mod metrics;
pub mod plots;
pub mod realism;
