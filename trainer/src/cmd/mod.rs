//! Subcommands of the CLI, one per file.

pub mod classify;
pub mod init;
