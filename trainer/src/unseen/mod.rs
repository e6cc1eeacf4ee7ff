//! The unseen-class benchmark on real glitches (`glitchscope unseen`): leave one class out, then measure how
//! the discovery tools find its real glitches among real glitches of the known classes.

pub mod clusters;
pub mod cv_flag;
pub mod mahalanobis;
pub mod measure;
pub mod real_set;
pub mod report;
pub mod scores;
pub mod shipped_calibration;
