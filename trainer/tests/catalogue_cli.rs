//! `glitchscope catalogue`: a catalogue cut into shards, run by its job script (as Slurm runs it: one process per
//! array task), merges into exactly what one unsharded `classify --out` writes; a lost shard is named by
//! `status`, blocks the merge, and is the only one a resubmission recomputes. The second test runs the same on a
//! real one-node Slurm cluster (slurmctld + slurmd + munged on localhost, scripts/slurm-local.sh), and skips with
//! the reason where one cannot start.

mod train_support;
#[path = "../../tests/support/skip.rs"]
mod skip;

use std::path::{Path, PathBuf};
use std::process::Command;

use train_support::*;

fn model() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/default.json")
}

/// Pictures of 4 x 5 glitches (two views each) and one broken file, which keeps its glitch's row with an error.
fn pictures(dir: &Path) {
    make_dataset(dir, 5, 11);
    std::fs::write(dir.join("Blip").join("H1_broken_spectrogram_1.0.png"), b"\x89PNG\r\n\x1a\nnot really").unwrap();
}

fn stdout(args: &[String]) -> String {
    String::from_utf8_lossy(&run_ok(args).stdout).into_owned()
}

fn s(x: &str) -> String {
    x.to_string()
}

fn plan(data: &Path, cat: &Path, shards: usize) {
    let out = stdout(&[
        s("catalogue"), s("sbatch"), data.display().to_string(), s("--dir"), cat.display().to_string(),
        s("--shards"), shards.to_string(), s("--model"), model().display().to_string(), s("--cpus-per-task"), s("1"),
    ]);
    assert!(out.contains("41 files, 21 glitches in "), "{out}");
}

/// Run array task `i` of the job script outside Slurm, as an array task would.
fn run_task(cat: &Path, i: usize) -> String {
    let out = Command::new("bash").arg(cat.join("job.sbatch")).env("SLURM_ARRAY_TASK_ID", i.to_string()).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "array task {i} failed:\n{text}");
    text
}

fn shard(cat: &Path, i: usize, n: usize) -> PathBuf {
    cat.join("shards").join(format!("shard-{i:05}-of-{n:05}.csv"))
}

/// Two catalogues are the same: same rows, same text in every field, numbers within 1e-5 (a batch of another
/// size rounds the last digit differently).
fn assert_same(a: &str, b: &str, what: &str) {
    let (la, lb): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    assert_eq!(la.len(), lb.len(), "{what}: row count");
    for (ra, rb) in la.iter().zip(&lb) {
        let (fa, fb): (Vec<&str>, Vec<&str>) = (ra.split(',').collect(), rb.split(',').collect());
        let same = fa.len() == fb.len()
            && fa.iter().zip(&fb).all(|(x, y)| match (x.parse::<f64>(), y.parse::<f64>()) {
                (Ok(x), Ok(y)) => (x - y).abs() <= 1e-5,
                _ => x == y,
            });
        assert!(same, "{what}:\n{ra}\n{rb}");
    }
}

fn reference(data: &Path, tmp: &Path) -> String {
    let all = tmp.join("all.csv");
    stdout(&[s("classify"), data.display().to_string(), s("--model"), model().display().to_string(), s("--out"), all.display().to_string()]);
    std::fs::read_to_string(all).unwrap()
}

#[test]
fn shards_merge_into_the_unsharded_catalogue_and_lost_shards_rerun_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    pictures(&data);
    let cat = tmp.path().join("cat");
    plan(&data, &cat, 4);
    for i in 0..4 {
        assert!(run_task(&cat, i).contains(&format!("shard {i}/4: glitches")));
    }
    let merged = cat.join("catalogue.csv");
    let out = stdout(&[s("catalogue"), s("merge"), s("--dir"), cat.display().to_string()]);
    assert!(out.contains("merged 4 shards, 21 rows"), "{out}");
    let expected = reference(&data, tmp.path());
    assert_same(&std::fs::read_to_string(&merged).unwrap(), &expected, "sharded = unsharded, row for row");
    assert_eq!(expected.lines().count(), 22, "a header and one row per glitch");
    let broken = expected.lines().find(|l| l.starts_with("H1_broken,")).expect("the broken file keeps its glitch's row");
    assert!(broken.contains("H1_broken_spectrogram_1.0.png: the image data is corrupt or truncated"), "{broken}");

    // Shard 2 is lost (a node died after the rename, or someone deleted it); a killed run's partial file is
    // left behind too. Status names it, the merge refuses, and a resubmission of the whole array redoes it alone.
    let finished: Vec<_> = [0, 1, 3].iter().map(|&i| std::fs::metadata(shard(&cat, i, 4)).unwrap().modified().unwrap()).collect();
    std::fs::remove_file(shard(&cat, 2, 4)).unwrap();
    std::fs::write(cat.join("shards").join(".shard-00002-of-00004.999.partial.csv"), "key,ifo\nhalf").unwrap();
    let out = stdout(&[s("catalogue"), s("status"), s("--dir"), cat.display().to_string()]);
    assert!(out.contains("3 of 4 shards finished") && out.contains("sbatch --array=2 "), "{out}");
    let err = Command::new(bin()).args([s("catalogue"), s("merge"), s("--dir"), cat.display().to_string()]).output().unwrap();
    assert!(!err.status.success());
    assert!(String::from_utf8_lossy(&err.stderr).contains("1 of 4 shards are not finished (2)"), "{}", String::from_utf8_lossy(&err.stderr));
    for i in 0..4 {
        let text = run_task(&cat, i);
        assert_eq!(text.contains("already done"), i != 2, "task {i}: {text}");
    }
    let again: Vec<_> = [0, 1, 3].iter().map(|&i| std::fs::metadata(shard(&cat, i, 4)).unwrap().modified().unwrap()).collect();
    assert_eq!(finished, again, "finished shards are not rewritten");
    stdout(&[s("catalogue"), s("merge"), s("--dir"), cat.display().to_string()]);
    assert_same(&std::fs::read_to_string(&merged).unwrap(), &expected, "after the rerun");

    // More shards than glitches: the empty ones are finished shards with a header only.
    let many = tmp.path().join("many");
    plan(&data, &many, 25);
    for i in 0..25 {
        run_task(&many, i);
    }
    stdout(&[s("catalogue"), s("merge"), s("--dir"), many.display().to_string()]);
    assert_same(&std::fs::read_to_string(many.join("catalogue.csv")).unwrap(), &expected, "25 shards");
}

/// Stops the local cluster however the test ends.
struct Cluster(PathBuf);

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("bash").arg(script()).arg("stop").arg(&self.0).output();
    }
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/slurm-local.sh")
}

#[test]
fn a_slurm_job_array_makes_the_catalogue_and_a_resubmission_redoes_only_lost_shards() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("slurm");
    let start = Command::new("bash").arg(script()).arg("start").arg(&state).output().unwrap();
    // scripts/slurm-local.sh exits 3 when a cluster cannot start on this machine (no Slurm or munge, no
    // permission): only that skips. Any other failure is a broken script and fails the test. Under CI, where
    // setup installs Slurm and munge, a missing tool fails; a daemon that may not start there is logged only.
    match start.status.code() {
        Some(0) => {}
        Some(3) => {
            let reason = String::from_utf8_lossy(&start.stderr).trim().to_string();
            if reason.contains("not installed") { skip::skip(&reason) } else { skip::skip_on_this_machine(&reason) }
            return;
        }
        other => panic!(
            "scripts/slurm-local.sh start failed with {other:?}:\n{}{}",
            String::from_utf8_lossy(&start.stdout),
            String::from_utf8_lossy(&start.stderr)
        ),
    }
    let _cluster = Cluster(state.clone());
    let conf = state.join("slurm.conf");
    let sbatch = |cat: &Path| {
        let out = Command::new("sbatch").arg("--wait").arg(cat.join("job.sbatch")).env("SLURM_CONF", &conf).output().unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "sbatch --wait failed:\n{text}");
    };

    let data = tmp.path().join("data");
    pictures(&data);
    let cat = tmp.path().join("cat");
    plan(&data, &cat, 3);
    sbatch(&cat);
    for i in 0..3 {
        assert!(shard(&cat, i, 3).is_file(), "shard {i} finished under Slurm");
        let log = std::fs::read_to_string(cat.join("logs").join(format!("shard-{i}.out"))).unwrap();
        assert!(log.contains(&format!("shard {i}/3: glitches")), "{log}");
    }
    std::fs::remove_file(shard(&cat, 1, 3)).unwrap();
    sbatch(&cat);
    for i in 0..3 {
        let log = std::fs::read_to_string(cat.join("logs").join(format!("shard-{i}.out"))).unwrap();
        assert_eq!(log.contains("already done"), i != 1, "shard {i}: {log}");
    }
    stdout(&[s("catalogue"), s("merge"), s("--dir"), cat.display().to_string()]);
    assert_same(&std::fs::read_to_string(cat.join("catalogue.csv")).unwrap(), &reference(&data, tmp.path()), "under Slurm");
}
