//! Checks of the reports by independent programs: a real headless Chromium renders `report.html` and
//! `index.html` without console errors and prints them on A4; the FHIR bundle parses as FHIR R4 and
//! `report.json` validates against the shipped JSON Schema in Python (`fhir.resources`, `jsonschema`).
//!
//! The tools are not Rust crates: `.ci/run` installs them (Debian's `chromium`; a Python venv in
//! `target/validators`). Where one is missing, its test says SKIPPED on stderr and passes — unless
//! `SKINTEX_REQUIRE_EXTERNAL=1` (set by `.ci/run`), where a missing tool fails the test.
#![allow(clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn required() -> bool {
    std::env::var("SKINTEX_REQUIRE_EXTERNAL").is_ok_and(|v| v == "1")
}

/// Says why a check cannot run; fails when the tools are required.
fn skip(why: &str) {
    assert!(!required(), "SKINTEX_REQUIRE_EXTERNAL=1 but {why}");
    eprintln!("SKIPPED: {why}");
}

fn analyze_fixtures(out: &Path) {
    let status = Command::new(env!("CARGO_BIN_EXE_skintex"))
        .args(["-q", "analyze"])
        .arg(root().join("fixtures/photos"))
        .arg("-o")
        .arg(out)
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
}

fn chromium() -> Option<PathBuf> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

/// Runs headless Chromium on `page` with `extra` arguments; returns (stdout, stderr).
fn run_chromium(chromium: &Path, profile: &Path, page: &Path, extra: &[&str]) -> (String, String) {
    // The flags that keep a headless Chromium from reaching for the network (closed here) at start.
    let output = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Console output of the page (errors, uncaught exceptions, failed loads) as Chromium logs it.
fn console_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught") || l.contains("net::ERR_"))
        .collect()
}

#[test]
fn html_reports_render_in_chromium_without_console_errors_and_print_on_a4() {
    let Some(chromium) = chromium() else {
        return skip("Chromium is not installed (Debian package `chromium`)");
    };
    let work = tempfile::tempdir().unwrap();
    let profile = work.path().join("profile");
    // Control: the detector must see a console error and an uncaught exception when there are some.
    let control = work.path().join("control.html");
    std::fs::write(
        &control,
        "<!DOCTYPE html><p>x</p><script>console.error('control'); missingFunction();</script>",
    )
    .unwrap();
    let (_, stderr) = run_chromium(&chromium, &profile, &control, &["--dump-dom"]);
    assert_eq!(
        console_lines(&stderr).len(),
        2,
        "control not detected:\n{stderr}"
    );

    let out = work.path().join("out");
    analyze_fixtures(&out);
    for page in [out.join("index.html"), out.join("P001/report.html")] {
        let (dom, stderr) = run_chromium(&chromium, &profile, &page, &["--dump-dom"]);
        let console = console_lines(&stderr);
        assert!(console.is_empty(), "{}: {console:#?}", page.display());
        assert!(dom.contains("<h1>"), "{} did not render", page.display());
    }
    let (dom, _) = run_chromium(
        &chromium,
        &profile,
        &out.join("P001/report.html"),
        &["--dump-dom"],
    );
    // 13 metric charts, 2 pore overlays; the slider's script ran without error (checked above).
    assert_eq!(dom.matches("class=\"chart\"").count(), 13);
    assert!(dom.contains("pores (yellow)"));

    let pdf = work.path().join("report.pdf");
    let arg = format!("--print-to-pdf={}", pdf.display());
    run_chromium(
        &chromium,
        &profile,
        &out.join("P001/report.html"),
        &["--no-pdf-header-footer", &arg],
    );
    let bytes = std::fs::read(&pdf).expect("Chromium printed no PDF");
    let text = String::from_utf8_lossy(&bytes);
    let pages = text.matches("/MediaBox [0 0 594.95996 841.91998]").count();
    let other = text.matches("/MediaBox").count() - pages;
    eprintln!("report.html printed on {pages} A4 pages");
    assert!(
        pages >= 2 && other == 0,
        "{pages} A4 pages, {other} of another size"
    );
}

fn validator_python() -> Option<PathBuf> {
    std::env::var_os("SKINTEX_VALIDATOR_PYTHON")
        .map(PathBuf::from)
        .or_else(|| Some(root().join("target/validators/bin/python")))
        .filter(|p| p.is_file())
}

#[test]
fn fhir_bundles_and_reports_validate_with_independent_implementations() {
    let Some(python) = validator_python() else {
        return skip(
            "no validator venv: python3 -m venv target/validators && target/validators/bin/pip \
             install 'fhir.resources==6.4.0' 'pydantic<2' jsonschema",
        );
    };
    let script = root().join("tests/external/validate_outputs.py");
    let schema = root().join("schema/report.schema.json");
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("out");
    analyze_fixtures(&out);
    let run = |dir: &Path| {
        let o = Command::new(&python)
            .arg(&script)
            .arg(&schema)
            .arg(dir)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        (o.status.success(), text)
    };
    let (ok, text) = run(&out);
    eprint!("{text}");
    assert!(ok, "{text}");
    assert_eq!(text.matches("valid FHIR R4 Bundle").count(), 2);
    assert_eq!(text.matches("valid against the schema").count(), 2);

    // Control: an Observation without its required status must be refused.
    let bad = work.path().join("bad/P");
    std::fs::create_dir_all(&bad).unwrap();
    let mut bundle: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("P001/fhir-bundle.json")).unwrap()).unwrap();
    let observation = bundle["entry"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|e| e["resource"]["resourceType"] == "Observation")
        .unwrap();
    observation["resource"]
        .as_object_mut()
        .unwrap()
        .remove("status");
    std::fs::write(bad.join("fhir-bundle.json"), bundle.to_string()).unwrap();
    std::fs::copy(out.join("P001/report.json"), bad.join("report.json")).unwrap();
    let (ok, text) = run(bad.parent().unwrap());
    assert!(!ok, "an invalid bundle passed:\n{text}");
}
