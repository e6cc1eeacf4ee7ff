//! Skipping a test for a reason outside the code under test (the shared data `../shared` or a tool is absent),
//! visibly: the reason goes to stderr and to the skip log that `scripts/test.sh` prints at its end
//! (`GLITCHSCOPE_SKIP_LOG`). Under CI (`CI=true`), where `../shared` is always beside the clone and setup installs
//! every tool, such a skip is a failure instead: a green CI must mean the check ran.
//!
//! Included by path from the native test files of both crates (`#[path = ".../tests/support/skip.rs"] mod skip;`).
#![allow(dead_code)]

use std::io::Write;

/// True under CI (`CI=true` or `CI=1`, as GitHub Actions, GitLab CI and `.ci/run`'s callers set it).
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Skip the running test because `reason` (name the missing file or tool): logged, or a panic under CI.
/// The caller returns right after.
pub fn skip(reason: &str) {
    let who = running_test();
    if under_ci() {
        panic!("{who}: would skip under CI=true, where it must run: {reason}");
    }
    log(&who, reason);
}

/// Skip because this machine cannot do what the test needs although everything is installed (documented cases
/// only, such as a container where Slurm's daemons may not start): logged, and not a failure under CI either.
pub fn skip_on_this_machine(reason: &str) {
    log(&running_test(), reason);
}

/// `crate::test`: libtest names each test's thread after the test; the crate name says which test binary it was.
fn running_test() -> String {
    format!("{}::{}", env!("CARGO_CRATE_NAME"), std::thread::current().name().unwrap_or("?"))
}

fn log(who: &str, reason: &str) {
    eprintln!("SKIPPED {who}: {reason}");
    if let Some(log) = std::env::var_os("GLITCHSCOPE_SKIP_LOG") {
        // One short append per line: lines from parallel tests do not interleave.
        if let Ok(mut file) = std::fs::OpenOptions::new().create(true).append(true).open(log) {
            let _ = file.write_all(format!("cargo test  {who}: {reason}\n").as_bytes());
        }
    }
}
