//! The `skintex` binary: exit codes, per-file errors, untouched inputs, deterministic reports.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use common::*;
use predicates::prelude::*;
use serde_json::Value;
use skintex::synth::{self, SynthConfig};

fn skintex() -> Command {
    Command::cargo_bin("skintex").unwrap()
}

/// `skintex [global…] analyze PHOTOS -o OUT`.
fn analyze(global: &[&str], photos: &Path, out: &Path) -> Command {
    let mut cmd = skintex();
    cmd.args(global)
        .arg("analyze")
        .arg(photos)
        .arg("-o")
        .arg(out);
    cmd
}

fn small_series(root: &Path) {
    // Large enough for the metrics' minimum region (50 000 px of skin inside every session).
    let config = SynthConfig {
        width: 400,
        height: 300,
        ..SynthConfig::default()
    };
    synth::write_series(&config, root, false, &|_| {}).unwrap();
}

/// Every file under `root` with its bytes and modification time.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, (Vec<u8>, std::time::SystemTime)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            if meta.is_dir() {
                stack.push(path);
            } else {
                out.insert(
                    path.clone(),
                    (std::fs::read(&path).unwrap(), meta.modified().unwrap()),
                );
            }
        }
    }
    out
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn analyze_writes_a_valid_report_per_patient() {
    let photos = tempfile::tempdir().unwrap();
    small_series(photos.path());
    let out = tempfile::tempdir().unwrap();
    analyze(&[], photos.path(), out.path())
        .assert()
        .success()
        .code(0);
    for patient in ["P001", "P002"] {
        let report = read_json(&out.path().join(patient).join("report.json"));
        assert_eq!(report["schema_version"], 1);
        assert_eq!(report["tool"]["name"], "skintex");
        assert_eq!(report["patient"], patient);
        assert_eq!(report["calibration"]["mm_per_px"], 0.05);
        assert_eq!(report["baseline"], "2026-01-15_baseline");
        assert_eq!(report["errors"], Value::Array(vec![]));
        let sessions = report["views"][0]["sessions"].as_array().unwrap();
        assert_eq!(report["views"][0]["view"], "front");
        let names: Vec<&str> = sessions
            .iter()
            .map(|s| s["session"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["2026-01-15_baseline", "2026-02-12", "2026-03-12"]);
        assert_eq!(sessions[1]["date"], "2026-02-12");
        assert_eq!(sessions[1]["file"], "2026-02-12/front.jpg");
        assert_eq!(sessions[1]["days_from_baseline"], 28);
        assert_eq!(sessions[2]["photo"]["width"], 400);
        // Registration: the baseline is the reference; each later session is registered within a
        // pixel of the synthetic truth (this series is tiny; tests/align.rs checks accuracy), and its
        // preview exists where the report says.
        let truth: Value = read_json(&photos.path().join("truth.json"));
        let view_truth = truth["patients"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["patient"] == patient)
            .unwrap()["views"][0]
            .clone();
        assert_eq!(sessions[0]["alignment"]["status"], "reference");
        for (k, session) in sessions.iter().enumerate() {
            let alignment = &session["alignment"];
            let preview = alignment["preview"].as_str().unwrap();
            assert!(
                out.path().join(patient).join(preview).is_file(),
                "{preview}"
            );
            if k == 0 {
                continue;
            }
            assert_eq!(alignment["status"], "ok", "{alignment}");
            let m = &alignment["matrix"];
            let t = &view_truth["sessions"][k]["matrix"];
            for (x, y) in [(0.0, 0.0), (159.0, 0.0), (0.0, 119.0), (159.0, 119.0)] {
                let at = |m: &Value, r: usize| {
                    m[r][0].as_f64().unwrap() * x
                        + m[r][1].as_f64().unwrap() * y
                        + m[r][2].as_f64().unwrap()
                };
                let err = (at(m, 0) - at(t, 0)).hypot(at(m, 1) - at(t, 1));
                assert!(err < 1.0, "{patient} session {k}: corner error {err}");
            }
        }
    }
}

#[test]
fn bad_inputs_are_reported_and_the_rest_is_analysed() {
    let photos = tempfile::tempdir().unwrap();
    let p = photos.path();
    small_series(p);
    let jpeg = small_jpeg();
    put(p, "P003/2026-01-15/front.jpg", &jpeg);
    put(p, "P003/2026-01-15/empty.jpg", b"");
    put(p, "P003/2026-01-15/cut.jpg", &jpeg[..jpeg.len() / 2]);
    put(
        p,
        "P003/2026-01-15/letter.jpg",
        b"Dear patient, your next session is on Monday.\n",
    );
    put(
        p,
        "P003/2026-01-15/huge.png",
        &png_declaring(200_000, 200_000),
    );
    put(
        p,
        "P003/2026-01-15/anim.png",
        b"GIF89a\x01\x00\x01\x00\x00\x00\x00;",
    );
    std::os::unix::fs::symlink("missing.jpg", p.join("P003/2026-01-15/gone.jpg")).unwrap();
    put(p, "P003/undated/front.jpg", &jpeg);
    put(p, "P003/2026-02-15/front.jpg", &jpeg);
    let before = snapshot(p);

    let out = tempfile::tempdir().unwrap();
    let assert = analyze(&[], p, out.path()).assert().code(1);
    let stderr = String::from_utf8(assert.get_output().stderr.clone()).unwrap();

    let report = read_json(&out.path().join("P003/report.json"));
    let errors = report_errors(&report);
    let expect = [
        ("2026-01-15/empty.jpg", "empty"),
        ("2026-01-15/cut.jpg", "truncated JPEG"),
        ("2026-01-15/letter.jpg", "not an image"),
        ("2026-01-15/huge.png", "40000.0 MP"),
        ("2026-01-15/anim.png", "unsupported image format GIF"),
        ("2026-01-15/gone.jpg", "cannot read"),
        ("undated", "no date"),
        // The small stand-in photos are a colour gradient, not skin: the view cannot be measured.
        ("2026-01-15/front.jpg", "too little skin"),
    ];
    assert_eq!(errors.len(), expect.len(), "{errors:#?}");
    for (file, needle) in expect {
        let message = errors
            .get(file)
            .unwrap_or_else(|| panic!("no error for {file}: {errors:#?}"));
        assert!(message.contains(needle), "{file}: {message}");
        assert!(
            stderr.contains(&format!("P003/{file}: ")),
            "stderr lacks {file}:\n{stderr}"
        );
    }
    // The good photos of the same patient were still decoded…
    let front = report["views"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["view"] == "front")
        .unwrap();
    assert!(
        front["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["photo"]["width"] == 64)
    );
    // A 64 × 48 gradient has too little detail for keypoints; the same photo a session later is
    // still registered (to the identity), by the direct search. Whether it is `ok` or `poor` depends on
    // how much of so small a photo the local check can verify; it is never `failed`.
    let later = &front["sessions"][1]["alignment"];
    assert_eq!(later["method"], "direct_search", "{later}");
    assert_ne!(later["status"], "failed", "{later}");
    assert!(later["ncc"].as_f64().unwrap() > 0.99, "{later}");
    for (r, row) in later["matrix"].as_array().unwrap().iter().enumerate() {
        for (c, v) in row.as_array().unwrap().iter().enumerate() {
            let expected = if r == c { 1.0 } else { 0.0 };
            assert!((v.as_f64().unwrap() - expected).abs() < 0.01, "{later}");
        }
    }
    // …and so were the other patients.
    for patient in ["P001", "P002"] {
        assert_eq!(
            read_json(&out.path().join(patient).join("report.json"))["errors"],
            Value::Array(vec![])
        );
    }
    assert!(!stderr.contains("panicked"));
    assert_eq!(snapshot(p), before, "input files were modified");
}

#[test]
fn reports_are_byte_identical_whatever_the_thread_count() {
    let photos = tempfile::tempdir().unwrap();
    small_series(photos.path());
    put(photos.path(), "P003/2026-01-15/front.jpg", b"not a photo");
    let mut outputs = Vec::new();
    for threads in ["1", "2", "7"] {
        let out = tempfile::tempdir().unwrap();
        analyze(&["-j", threads], photos.path(), out.path())
            .assert()
            .code(1);
        // Every file: report.json, report.html, metrics.csv, fhir-bundle.json, images, the index.
        let files: BTreeMap<PathBuf, Vec<u8>> = snapshot(out.path())
            .into_iter()
            .map(|(path, (bytes, _))| (path.strip_prefix(out.path()).unwrap().to_path_buf(), bytes))
            .collect();
        assert!(files.len() > 20, "{} files", files.len());
        outputs.push(files);
    }
    for (path, bytes) in &outputs[0] {
        for other in &outputs[1..] {
            assert!(
                other.get(path) == Some(bytes),
                "{} differs between thread counts",
                path.display()
            );
        }
    }
    assert!(outputs[0].len() == outputs[1].len() && outputs[1].len() == outputs[2].len());
}

#[test]
fn check_decodes_everything_reports_problems_and_writes_nothing() {
    let photos = tempfile::tempdir().unwrap();
    let p = photos.path();
    small_series(p);
    let assert = skintex().arg("check").arg(p).assert().code(0);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(
        stderr.contains("checked 6 photos of 2 patients"),
        "{stderr}"
    );
    assert!(stderr.contains(": 0 problems"), "{stderr}");

    put(p, "P002/2026-03-12/front.jpg", &small_jpeg()[..100]);
    put(p, "P003/2026-01-15/front.png", b"not a photo");
    put(
        p,
        "P003/undated/front.jpg",
        &jpeg_rgb8(&gradient_rgb(64, 48), None),
    );
    let before = snapshot(p);
    let assert = skintex().arg("check").arg(p).assert().code(1);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    for problem in [
        "P002/2026-03-12/front.jpg: truncated JPEG",
        "P003/2026-01-15/front.png: not an image",
        "P003/undated: session folder has no date",
    ] {
        assert!(stderr.contains(problem), "{problem} missing:\n{stderr}");
    }
    assert!(stderr.contains(": 3 problems"), "{stderr}");
    // Only read: nothing is added to the photo folder, nothing in it changes.
    assert_eq!(snapshot(p), before);
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    skintex()
        .arg("analyze")
        .arg(dir.path().join("missing"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot read the photo folder"));
    small_series(dir.path());
    analyze(&[], dir.path(), &dir.path().join("P001/out"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("inside the photo folder"));
    assert!(!dir.path().join("P001/out").exists());
    skintex()
        .args(["analyze", "--max-megapixels", "-3", "x"])
        .assert()
        .code(2);
    skintex().args(["-j", "0", "analyze", "x"]).assert().code(2);
    skintex().args(["frobnicate"]).assert().code(2);
}

#[test]
fn help_shows_examples_for_every_verb() {
    for args in [
        vec!["--help"],
        vec!["analyze", "--help"],
        vec!["synth", "--help"],
    ] {
        skintex()
            .args(&args)
            .assert()
            .success()
            .stdout(predicate::str::contains("Examples:"));
    }
}

#[test]
fn synth_refuses_a_non_empty_folder_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "synth",
        "--width",
        "64",
        "--height",
        "48",
        "--patients",
        "1",
        "--sessions",
        "2",
    ];
    skintex().args(args).arg(dir.path()).assert().success();
    let truth: synth::Truth =
        serde_json::from_slice(&std::fs::read(dir.path().join("truth.json")).unwrap()).unwrap();
    assert_eq!(truth.patients.len(), 1);
    assert_eq!(truth.patients[0].views[0].sessions.len(), 2);
    skintex()
        .args(args)
        .arg(dir.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--force"));
    skintex()
        .args(args)
        .arg(dir.path())
        .arg("--force")
        .assert()
        .success();
    skintex()
        .args(["synth", "--quality", "0"])
        .arg(dir.path().join("new"))
        .assert()
        .code(2);
}

#[test]
fn progress_bar_stays_off_a_non_terminal_stderr_and_quiet_drops_the_summary() {
    let photos = tempfile::tempdir().unwrap();
    small_series(photos.path());
    let out = tempfile::tempdir().unwrap();
    // assert_cmd captures stderr through a pipe: no bar may be drawn there, only the summary line.
    let loud = analyze(&[], photos.path(), out.path()).assert().success();
    let stderr = String::from_utf8(loud.get_output().stderr.clone()).unwrap();
    assert!(
        !stderr.contains("photos ·") && !stderr.contains('\r'),
        "bar drawn on a pipe: {stderr:?}"
    );
    assert!(
        stderr.starts_with("analysed 6 of 6 photos of 2 patients"),
        "{stderr:?}"
    );
    let quiet = analyze(&["-q"], photos.path(), out.path())
        .assert()
        .success();
    assert!(quiet.get_output().stderr.is_empty());
}
