//! `--resume` after `kill -9`: the run continues after its last complete checkpoint, no epoch is lost or
//! repeated in the history, and the result is exactly that of an uninterrupted run with the same seed.

mod train_support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use train_support::*;

fn args(data: &std::path::Path, run: &std::path::Path) -> Vec<String> {
    let mut args = small_run_args(data, run);
    // last-N trains blocks with batch norm and dropout in the head: every source of randomness takes part.
    args.extend(["--mode", "last-4", "--epochs", "5", "--lr", "0.003", "--patience", "0"].map(String::from));
    args
}

#[test]
fn a_killed_run_resumes_and_ends_as_an_uninterrupted_one() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    make_dataset(&data, 8, 2);

    // The reference: one uninterrupted run.
    let reference = tmp.path().join("reference");
    run_ok(&args(&data, &reference));

    // The same run, killed with SIGKILL as soon as epoch 1 has a complete checkpoint.
    let run = tmp.path().join("killed");
    let mut child = Command::new(bin())
        .args(args(&data, &run))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let ckpt = run.join("checkpoint");
    let complete = |epoch: usize| {
        ["model", "optim", "scheduler"].iter().all(|n| ckpt.join(format!("{n}-{epoch}.bpk")).is_file())
    };
    let start = Instant::now();
    while !complete(1) {
        assert!(child.try_wait().unwrap().is_none(), "the run ended before it could be killed");
        assert!(start.elapsed() < Duration::from_secs(90), "no checkpoint after 90 s");
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    assert!(!run.join("model.json").exists(), "the kill came too late to interrupt anything");
    let done_before = history(&run).len();
    assert!(done_before < 5, "killed after {done_before} epochs");

    let mut resume = vec!["train".to_string(), "--resume".into(), "--out".into(), run.display().to_string()];
    let output = run_ok(&resume);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let resumed_after: usize = stdout
        .lines()
        .find_map(|l| l.strip_prefix("resuming after epoch ")?.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no 'resuming after epoch' line:\n{stdout}"));
    assert!(resumed_after >= 1, "{stdout}");
    // The epoch count continues: this process trained exactly the epochs after the checkpoint.
    for epoch in 1..=5 {
        let printed = stdout.contains(&format!("epoch {epoch:>3}/5"));
        assert_eq!(printed, epoch > resumed_after, "epoch {epoch} after resuming at {resumed_after}:\n{stdout}");
    }

    let rows = history(&run);
    assert_eq!(rows.iter().map(|r| r.epoch).collect::<Vec<_>>(), vec![1, 2, 3, 4, 5], "no lost or repeated epoch");
    assert_eq!(rows, history(&reference), "every epoch's metrics equal the uninterrupted run's");
    let (a, b) = (card(&run), card(&reference));
    assert_eq!(a["metrics"], b["metrics"]);
    // The weights file embeds Burn's per-process random parameter ids, so its checksum differs between any
    // two runs; the digest of the tensor values does not.
    let content = |c: &serde_json::Value| c["training"]["weights_content_sha256"].as_str().unwrap().to_string();
    assert_eq!(content(&a), content(&b), "the trained weights are identical");

    // Resuming a finished run only re-exports it.
    resume.truncate(4);
    let again = run_ok(&resume);
    assert!(String::from_utf8_lossy(&again.stdout).contains("training already finished"));
    assert_eq!(content(&card(&run)), content(&b));
}
