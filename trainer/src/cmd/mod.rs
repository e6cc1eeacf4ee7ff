//! Subcommands of the CLI, one per file.

pub mod catalogue;
pub mod classify;
pub mod cluster;
pub mod cv;
pub mod embed;
pub mod eval;
pub mod gallery;
pub mod init;
pub mod qtransform;
pub mod realism;
pub mod similar;
pub mod synth;
pub mod synth_picture;
pub mod train;
pub mod unseen;
pub mod vote;
