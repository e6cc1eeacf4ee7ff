//! `classify|embed --strain FILES --triggers LIST` on HDF5 files written by h5py in GWOSC's layout (gzip-chunked,
//! 4 kHz and 16 kHz; tests/fixtures/make_gwosc_h5.py): every trigger in every file holding it gets a row, its
//! answer is the answer for its views saved as PNGs and classified as pictures, `--shard` splits the rows, and
//! every bad input gets an error naming the file (and the trigger) while the other triggers go on. The S6 test
//! file of ../shared (gwpy's HDF5 layout) and its LIGO_LW XML triggers are read too.

mod train_support;
#[path = "../../tests/support/skip.rs"]
mod skip;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use train_support::*;

fn model() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/default.json").display().to_string()
}

/// A Python with h5py: $GLITCHSCOPE_PYTHON, the venv scripts/setup.sh makes, or python3.
fn h5py_python() -> Option<PathBuf> {
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
    let candidates = [
        std::env::var_os("GLITCHSCOPE_PYTHON").map(PathBuf::from),
        Some(home.join(".cache/glitchscope/h5py-venv/bin/python")),
        Some(PathBuf::from("python3")),
    ];
    candidates.into_iter().flatten().find(|p| Command::new(p).args(["-c", "import h5py"]).output().is_ok_and(|o| o.status.success()))
}

/// Write a GWOSC-layout file with the fixture script.
fn gwosc(py: &Path, out: &Path, args: &[&str]) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/make_gwosc_h5.py");
    let o = Command::new(py).arg(script).arg(out).args(args).output().unwrap();
    assert!(o.status.success(), "make_gwosc_h5.py {args:?}: {}", String::from_utf8_lossy(&o.stderr));
}

fn run(args: &[String]) -> Output {
    Command::new(bin()).args(args).output().unwrap()
}

fn strings(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

fn p(path: &Path) -> String {
    path.display().to_string()
}

/// Rows of a catalogue CSV as maps from column to value.
fn rows(path: &Path) -> Vec<std::collections::HashMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header = r.headers().unwrap().clone();
    r.records().map(|rec| header.iter().zip(rec.unwrap().iter()).map(|(h, v)| (h.to_string(), v.to_string())).collect()).collect()
}

#[test]
fn triggers_in_gwosc_hdf5_are_classified_like_their_pngs() {
    let Some(py) = h5py_python() else {
        skip::skip("python3 with h5py (scripts/setup.sh installs it in ~/.cache/glitchscope/h5py-venv)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (h1, l1) = (dir.path().join("H-H1_GWOSC_4KHZ_R1-1126259400-64.hdf5"), dir.path().join("L-L1_GWOSC_16KHZ_R1-1126259400-64.hdf5"));
    gwosc(&py, &h1, &["--glitch", "20", "--glitch", "40"]);
    gwosc(&py, &l1, &["--rate", "16384", "--detector", "L1", "--glitch", "20", "--seed", "2"]);
    // Two kept in both detectors, one for L1 only, one below the SNR cut, one above the band.
    let list = dir.path().join("omicron.csv");
    std::fs::write(&list, "time,frequency,snr,ifo\n1126259420.0,200,20,\n1126259440.0,150,12,\n1126259430.5,100,9,L1\n1126259425,100,5,\n1126259426,3000,50,\n").unwrap();
    let (out, views) = (dir.path().join("catalogue.csv"), dir.path().join("views"));
    let o = run_ok(&[
        strings(&["classify", "--model", &model(), "--strain", &p(&h1), &p(&l1), "--triggers", &p(&list), "--out", &p(&out), "--save-views", &p(&views)]),
    ].concat());
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("3 of 5 triggers pass the cuts"), "{stderr}");
    let cat = rows(&out);
    let keys: Vec<&str> = cat.iter().map(|r| r["key"].as_str()).collect();
    assert_eq!(keys, ["H1_1126259420.000", "L1_1126259420.000", "L1_1126259430.500", "H1_1126259440.000", "L1_1126259440.000"]);
    for r in &cat {
        assert_eq!(r["views"], "0.5;1;2;4", "{r:?}");
        assert!(r["error"].is_empty() && !r["top1"].is_empty(), "{r:?}");
        assert_eq!(r["ifo"], &r["key"][..2]);
        assert!(r["files"].ends_with(if r["ifo"] == "H1" { "4KHZ_R1-1126259400-64.hdf5" } else { "16KHZ_R1-1126259400-64.hdf5" }));
    }
    assert_eq!((cat[2]["gps"].as_str(), cat[2]["snr"].as_str(), cat[2]["frequency"].as_str()), ("1126259430.5000", "9", "100"));

    // The saved PNGs classified as pictures give the same answer, number for number.
    let pngs = dir.path().join("pngs.csv");
    run_ok(&strings(&["classify", "--model", &model(), &p(&views), "--out", &p(&pngs)]));
    let pictures = rows(&pngs);
    assert_eq!(pictures.len(), 5);
    for r in &cat {
        let q = pictures.iter().find(|q| q["key"] == r["key"]).unwrap_or_else(|| panic!("{} among the PNGs", r["key"]));
        for (column, value) in r.iter().filter(|(c, _)| c.starts_with('p') || c.starts_with("top")) {
            assert_eq!(value, &q[column], "{} {column}", r["key"]);
        }
    }

    // Shards: 0/2 and 1/2 are the rows of the whole, in order.
    let mut joined = Vec::new();
    for i in 0..2 {
        let shard = dir.path().join(format!("shard{i}.csv"));
        run_ok(&strings(&["classify", "--model", &model(), "--strain", &p(&h1), &p(&l1), "--triggers", &p(&list), "--shard", &format!("{i}/2"), "--out", &p(&shard)]));
        joined.extend(rows(&shard));
    }
    // (numbers may differ in the last digit: a batch of another size rounds differently)
    let brief = |rows: &[std::collections::HashMap<String, String>]| rows.iter().map(|r| (r["key"].clone(), r["top1"].clone(), r["gps"].clone())).collect::<Vec<_>>();
    assert_eq!(brief(&joined), brief(&cat));

    // catalogue sbatch --strain: the same triggers as a job array of 2 (array tasks run as Slurm would, one after
    // the other), merged: the rows of the whole run.
    let cat_dir = dir.path().join("catalogue");
    let o = run_ok(&[
        strings(&["catalogue", "sbatch", "--dir", &p(&cat_dir), "--shards", "2", "--model", &model(), "--strain", &p(&h1), &p(&l1), "--triggers", &p(&list)]),
    ].concat());
    assert!(String::from_utf8_lossy(&o.stdout).contains("2 files, 5 glitches in 2 shards"), "{}", String::from_utf8_lossy(&o.stdout));
    for i in 0..2 {
        let o = Command::new("bash").arg(cat_dir.join("job.sbatch")).env("SLURM_ARRAY_TASK_ID", i.to_string()).output().unwrap();
        assert!(o.status.success(), "array task {i}: {}", String::from_utf8_lossy(&o.stderr));
    }
    let merged = dir.path().join("merged.csv");
    run_ok(&strings(&["catalogue", "merge", "--dir", &p(&cat_dir), "--out", &p(&merged)]));
    assert_eq!(brief(&rows(&merged)), brief(&cat));

    // embed: the same glitches (here plain --gps times), one embedding row each.
    let emb = dir.path().join("emb.csv");
    run_ok(&strings(&["embed", "--model", &model(), "--strain", &p(&h1), "--gps", "1126259420", "1126259440", "--out", &p(&emb)]));
    let e = rows(&emb);
    assert_eq!(e.iter().map(|r| r["key"].as_str()).collect::<Vec<_>>(), ["H1_1126259420.000", "H1_1126259440.000"]);
    assert_eq!(e[0]["predicted"], cat[0]["top1"]);

    // --json carries the CSV's trigger fields (gps, snr, frequency, ifo, file) beside the prediction.
    let o = run_ok(&strings(&["classify", "--model", &model(), "--strain", &p(&h1), "--triggers", &p(&list), "--json"]));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let g = &doc["glitches"][0];
    assert_eq!(
        (g["key"].as_str(), g["gps"].as_f64(), g["snr"].as_f64(), g["frequency"].as_f64(), g["ifo"].as_str()),
        (Some("H1_1126259420.000"), Some(1126259420.0), Some(20.0), Some(200.0), Some("H1"))
    );
    assert!(g["file"].as_str().unwrap().ends_with("4KHZ_R1-1126259400-64.hdf5"), "{g}");
    assert_eq!(g["prediction"]["top5"][0]["label"].as_str(), Some(cat[0]["top1"].as_str()));
}

#[test]
fn bad_strain_and_trigger_inputs_are_named_and_the_rest_goes_on() {
    let Some(py) = h5py_python() else {
        skip::skip("python3 with h5py (scripts/setup.sh installs it in ~/.cache/glitchscope/h5py-venv)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = |n: &str| dir.path().join(n);
    gwosc(&py, &d("good.h5"), &["--glitch", "20", "--gap", "50:2"]);
    for variant in ["truncated", "no-strain", "2d", "rate-3000", "no-xspacing"] {
        gwosc(&py, &d(&format!("{variant}.h5")), &["--variant", variant]);
    }
    // NaN without a DQ mask (a file that lacks /quality): the finite run around the trigger is used.
    gwosc(&py, &d("nan.h5"), &["--detector", "L1", "--gap", "30:2"]);
    let o = Command::new(&py).args(["-c", "import h5py,sys; f=h5py.File(sys.argv[1],'r+'); del f['quality']"]).arg(d("nan.h5")).output().unwrap();
    assert!(o.status.success());
    let mut strain = vec!["--strain".to_string()];
    strain.extend(["good.h5", "truncated.h5", "no-strain.h5", "2d.h5", "rate-3000.h5", "no-xspacing.h5", "nan.h5"].map(|n| p(&d(n))));
    let list = d("t.txt");
    // good; in the gap; next to the gap; too near the start; outside every file; NaN at the time; next to NaN.
    std::fs::write(&list, "# GPS times\n1126259420\n1126259450.5\n1126259453\n1126259401\n1126259999\n1126259431\n1126259433\n").unwrap();
    let out = d("cat.csv");
    let o = run(&[strings(&["classify", "--model", &model(), "--triggers", &p(&list), "--out", &p(&out)]), strain.clone()].concat());
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    for (file, message) in [
        ("truncated.h5", "truncated"),
        ("no-strain.h5", "no strain in this HDF5 file"),
        ("2d.h5", "is not a 1-d time series"),
        ("rate-3000.h5", "sample rate 3000 Hz is not a power of two"),
        ("no-xspacing.h5", "no Xspacing attribute"),
    ] {
        let line = stderr.lines().find(|l| l.contains(file)).unwrap_or_else(|| panic!("no error for {file}:\n{stderr}"));
        assert!(line.contains(message), "{file}: {line}");
    }
    let cat = rows(&out);
    let row = |key: &str| cat.iter().find(|r| r["key"] == key).unwrap_or_else(|| panic!("no row {key}: {cat:?}"));
    assert!(!row("H1_1126259420.000")["top1"].is_empty(), "the good trigger is classified");
    assert!(!row("L1_1126259420.000")["top1"].is_empty(), "and in the NaN file, away from the NaN");
    let error = |key: &str| row(key)["error"].clone();
    let e = error("H1_1126259450.500");
    assert!(e.contains("good.h5") && e.contains("GPS 1126259450.5") && e.contains("in a gap"), "{e}");
    let e = error("H1_1126259453.000");
    assert!(e.contains("too close") && e.contains("gap (DQ mask zero)"), "{e}");
    let e = error("H1_1126259401.000");
    assert!(e.contains("too close") && e.contains("start of the file") && e.contains("list line 5"), "{e}");
    let e = error("X1_1126259999.000");
    assert!(e.contains("outside every strain file"), "{e}");
    let e = error("L1_1126259431.000");
    assert!(e.contains("nan.h5") && e.contains("NaN"), "{e}");
    let e = error("L1_1126259433.000");
    assert!(e.contains("too close") && e.contains("NaN samples"), "{e}");

    // Lists: an Omicron table without a time column, an empty list, a number that is not one.
    for (content, message) in [
        ("frequency,snr\n100,8\n", "no time column"),
        ("# nothing here\n", "no triggers"),
        ("time,snr\n1126259420,abc\n", "line 2: snr \"abc\" is not a number"),
    ] {
        std::fs::write(&list, content).unwrap();
        let o = run(&strings(&["classify", "--model", &model(), "--strain", &p(&d("good.h5")), "--triggers", &p(&list), "--out", &p(&out)]));
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && stderr.contains("t.txt") && stderr.contains(message), "{content:?}: {stderr}");
    }
    // No strain file readable at all.
    let o = run(&strings(&["classify", "--model", &model(), "--strain", &p(&d("2d.h5")), "--gps", "1", "--out", &p(&out)]));
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("no strain could be read"));
}

#[test]
fn s6_gwpy_hdf5_test_file_and_its_ligolw_triggers() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/strain/s6_gwpy_testdata");
    let (hdf, xml) = (data.join("HLV-HW100916-968654552-1.hdf"), data.join("H1-LDAS_STRAIN-968654552-10.xml.gz"));
    if !hdf.exists() {
        skip::skip(&format!("{} (the shared S6 test data)", hdf.display()));
        return;
    }
    // Three detectors at 16384 Hz, 1 s from GPS 968654552, read lazily; values as h5py reads them.
    let series = glitchscope::strain_hdf5::open_hdf5_path(&hdf).unwrap();
    let summary: Vec<(Option<&str>, f64, f64, u64)> = series.iter().map(|s| (s.ifo.as_deref(), s.gps_start, s.sample_rate, s.len)).collect();
    assert_eq!(summary, [(Some("H1"), 968654552.0, 16384.0, 16384), (Some("L1"), 968654552.0, 16384.0, 16384), (Some("V1"), 968654552.0, 16384.0, 16384)]);
    let window = series[0].read(1000, 3).unwrap();
    if let Some(py) = h5py_python() {
        let o = Command::new(&py).args(["-c", "import h5py,sys; print(repr(list(h5py.File(sys.argv[1])['H1:LDAS-STRAIN'][1000:1003])))"]).arg(&hdf).output().unwrap();
        let text = String::from_utf8_lossy(&o.stdout).replace("np.float64(", "").replace(')', "");
        let expected: Vec<f64> = text.trim().trim_matches(['[', ']']).split(',').map(|v| v.trim().parse().unwrap()).collect();
        assert_eq!(window, expected);
    }
    // The ExcessPower LIGO_LW triggers of the same stretch: read, cut, and each one too close to the file's edges
    // (1 s of strain cannot hold a 4 s view), with the error naming the file and the trigger.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s6.csv");
    let o = run_ok(&strings(&["classify", "--model", &model(), "--strain", &p(&hdf), "--triggers", &p(&xml), "--snr-min", "0", "--gps", "968654552.5", "--out", &p(&out)]));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("2053 of 2053 triggers pass the cuts"), "{stderr}");
    assert_eq!(rows(&out).len(), 2052 + 3, "the H1 triggers are looked up in H1 only, the GPS time in all three");
    let cat = rows(&out);
    let centre: Vec<_> = cat.iter().filter(|r| r["gps"] == "968654552.5000").collect();
    assert_eq!(centre.len(), 3, "one row per detector");
    assert!(centre.iter().all(|r| r["error"].contains("HLV-HW100916-968654552-1.hdf") && r["error"].contains("too close")));
    assert!(cat.iter().all(|r| r["top1"].is_empty()));
    // With Gravity Spy's SNR cut none of these weak ExcessPower triggers is left: an error naming the list.
    let o = run(&strings(&["classify", "--model", &model(), "--strain", &p(&hdf), "--triggers", &p(&xml), "--out", &p(&out)]));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && stderr.contains("H1-LDAS_STRAIN-968654552-10.xml.gz: none of the 2052 triggers passes the cuts"), "{stderr}");
}
