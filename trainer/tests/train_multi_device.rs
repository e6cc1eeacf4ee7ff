//! `glitchscope train --devices cpu,cpu`: Burn's multi-device strategy with two CPU workers, each stepping half of
//! every batch, gives the run that one device gives with the same batch (to float rounding): same history, same
//! validation, same exported probabilities. The head-only mode (no batch norm, dropout off) leaves nothing that
//! may legitimately differ between the two, so the tolerance is tight.

mod train_support;

use train_support::*;

fn args(data: &std::path::Path, run: &std::path::Path, devices: Option<&str>) -> Vec<String> {
    let mut args = small_run_args(data, run);
    args.extend(["--mode", "frozen", "--epochs", "4", "--lr", "0.01", "--patience", "0", "--dropout", "0"].map(String::from));
    if let Some(devices) = devices {
        args.extend(["--devices".to_string(), devices.to_string()]);
    }
    args
}

fn close(a: Option<f64>, b: Option<f64>, tol: f64) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() <= tol * (1.0 + a.abs()),
        (None, None) => true,
        _ => false,
    }
}

#[test]
fn two_devices_train_as_one_with_the_same_batch() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    make_dataset(&data, 10, 4);

    let one = tmp.path().join("one");
    run_ok(&args(&data, &one, None));
    let two = tmp.path().join("two");
    let output = run_ok(&args(&data, &two, Some("cpu,cpu")));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("data-parallel on 2 devices (cpu, cpu): 8 glitches per step, 4 on each"), "{stdout}");

    let (h1, h2) = (history(&one), history(&two));
    assert_eq!(h1.len(), 4);
    assert_eq!(h2.len(), 4);
    for (a, b) in h1.iter().zip(&h2) {
        assert_eq!(a.epoch, b.epoch);
        assert!(close(a.train_loss, b.train_loss, 1e-4), "train loss, epoch {}: {a:?} vs {b:?}", a.epoch);
        assert!(close(a.valid_loss, b.valid_loss, 1e-4), "valid loss, epoch {}: {a:?} vs {b:?}", a.epoch);
        assert!(close(a.train_top1, b.train_top1, 1e-9), "train top-1, epoch {}: {a:?} vs {b:?}", a.epoch);
        assert!(close(a.valid_top1, b.valid_top1, 1e-9), "valid top-1, epoch {}: {a:?} vs {b:?}", a.epoch);
    }
    // Training moved the weights (the comparison is not between two untrained heads).
    let first = h1[0].train_loss.unwrap();
    let last = h1[3].train_loss.unwrap();
    assert!(last < first, "the loss goes down: {first} -> {last}");
    assert_eq!(card(&two)["training"]["config"]["devices"], serde_json::json!(["cpu", "cpu"]));
    assert_eq!(card(&one)["training"]["config"]["devices"], serde_json::json!([]));

    // The exported models classify the training pictures alike.
    let classify = |run: &std::path::Path| -> serde_json::Value {
        let out = run_ok(&[
            "classify".into(),
            "--model".into(),
            run.join("model.json").display().to_string(),
            "--json".into(),
            data.join("Whistle").display().to_string(),
        ]);
        serde_json::from_slice(&out.stdout).expect("classify --json prints JSON")
    };
    let (p1, p2) = (classify(&one), classify(&two));
    let probs = |v: &serde_json::Value| -> Vec<f64> {
        let mut out = Vec::new();
        for g in v["glitches"].as_array().expect("a glitches list") {
            for p in g["prediction"]["probabilities"].as_array().expect("probabilities") {
                out.push(p.as_f64().unwrap());
            }
        }
        out
    };
    let (a, b) = (probs(&p1), probs(&p2));
    assert!(!a.is_empty() && a.len() == b.len());
    let max = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
    assert!(max < 1e-4, "max |dp| {max} between the one- and two-device models");
}

/// All layers through the convolutions' backward pass on two devices (batch norms on running statistics, as in
/// every ImageNet fine-tune: `batch_norm auto`; augmentation off, since each device draws its own).
#[test]
fn two_devices_fine_tune_all_layers_as_one() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    make_dataset(&data, 6, 5);
    let run = |name: &str, devices: Option<&str>| {
        let out = tmp.path().join(name);
        let mut a = small_run_args(&data, &out);
        a.extend(
            ["--mode", "all", "--batch-norm", "frozen", "--no-augment", "--dropout", "0", "--epochs", "2", "--lr", "0.003", "--patience", "0"]
                .map(String::from),
        );
        if let Some(d) = devices {
            a.extend(["--devices".to_string(), d.to_string()]);
        }
        run_ok(&a);
        history(&out)
    };
    let (h1, h2) = (run("one", None), run("two", Some("cpu,cpu")));
    for (a, b) in h1.iter().zip(&h2) {
        assert!(close(a.train_loss, b.train_loss, 1e-3), "train loss, epoch {}: {a:?} vs {b:?}", a.epoch);
        assert!(close(a.valid_loss, b.valid_loss, 1e-3), "valid loss, epoch {}: {a:?} vs {b:?}", a.epoch);
    }
    assert_ne!(h1[0].valid_loss, h1[1].valid_loss, "the weights moved");
}
