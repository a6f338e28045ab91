//! The report stage end to end on the bundled fixtures: change statistics agree with the metrics,
//! every output is written and consistent, names are escaped, `regress` catches drift, `compare`
//! writes the same outputs for one pair, and the shipped JSON Schema is the one the code generates.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

fn skintex() -> Command {
    Command::cargo_bin("skintex").unwrap()
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Copies a folder tree (the fixtures are never written to).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn analyze_fixtures() -> tempfile::TempDir {
    let out = tempfile::tempdir().unwrap();
    skintex()
        .args(["-q", "analyze"])
        .arg(fixtures().join("photos"))
        .arg("-o")
        .arg(out.path())
        .assert()
        .code(0);
    out
}

fn metric(metrics: &Value, key: &str) -> Option<f64> {
    let (group, field) = key.split_once('.').unwrap();
    metrics[group][field].as_f64()
}

/// The bootstrap re-sums tiles of the region; over all tiles once, the sums must give back exactly
/// the values `metrics` reports, for the baseline (`from`) and the session (`to`). And the synthetic
/// fixtures were rendered with less texture and fewer pores at each session, which the change must
/// say beyond noise.
#[test]
fn changes_agree_with_the_metrics_and_find_the_rendered_improvement() {
    let out = analyze_fixtures();
    for patient in ["P001", "P002"] {
        let report = read_json(&out.path().join(patient).join("report.json"));
        let view = &report["views"][0];
        let sessions = view["sessions"].as_array().unwrap();
        let baseline = &sessions[0]["metrics"];
        assert_eq!(sessions[0]["baseline"], true);
        assert!(sessions[0].get("change").is_none());
        for (k, s) in sessions.iter().enumerate().skip(1) {
            let change = s["change"].as_object().unwrap();
            assert!(change.len() >= 12, "{patient}: {} metrics", change.len());
            for (key, c) in change {
                let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * a.abs().max(1e-300);
                let from = metric(baseline, key).unwrap();
                let to = metric(&s["metrics"], key).unwrap();
                assert!(
                    close(c["from"].as_f64().unwrap(), from),
                    "{patient} {key} from"
                );
                assert!(close(c["to"].as_f64().unwrap(), to), "{patient} {key} to");
                if let Some([lo, hi]) = c["ci95"]
                    .as_array()
                    .map(|a| [a[0].as_f64().unwrap(), a[1].as_f64().unwrap()])
                {
                    assert!(lo <= hi, "{patient} {key} interval");
                }
            }
            let sq = &change["roughness.sq"];
            assert_eq!(sq["beyond_noise"], true, "{patient} session {k}: {sq}");
            assert_eq!(sq["improved"], true);
            assert_eq!(
                s["previous_session"],
                sessions[k - 1]["session"],
                "previous of session {k}"
            );
            assert!(s["roughness_change_map"].as_str().is_some());
        }
        let trend = &view["trends"]["roughness.sq"];
        assert!(trend["slope_per_30_days"].as_f64().unwrap() < 0.0);
        assert_eq!(trend["sessions"], 3);
    }
}

#[test]
fn every_output_is_written_and_nothing_temporary_is_left() {
    let out = analyze_fixtures();
    for patient in ["P001", "P002"] {
        let dir = out.path().join(patient);
        for file in [
            "report.json",
            "report.html",
            "metrics.csv",
            "fhir-bundle.json",
        ] {
            assert!(dir.join(file).is_file(), "{patient}/{file}");
        }
        let report = read_json(&dir.join("report.json"));
        // Synthetic skin has no face: the region is all skin, and both reports say so.
        assert!(report["views"][0].get("face").is_none(), "{patient}");
        let page = std::fs::read_to_string(dir.join("report.html")).unwrap();
        assert!(
            page.contains("No face limits the measured region"),
            "{patient}"
        );
        for s in report["views"][0]["sessions"].as_array().unwrap() {
            for path in [&s["alignment"]["preview"], &s["roughness_change_map"]] {
                if let Some(p) = path.as_str() {
                    assert!(dir.join(p).is_file(), "{patient}: {p} named but missing");
                }
            }
        }
        let csv = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
        let mut lines = csv.lines();
        assert_eq!(
            lines.next().unwrap(),
            "patient,view,session,date,metric,value,unit,delta,percent,ci_low,ci_high,beyond_noise,improved"
        );
        // 3 sessions × 13 metrics (calibrated fixtures).
        assert_eq!(lines.count(), 39, "{patient}");
    }
    let summary = std::fs::read_to_string(out.path().join("summary.csv")).unwrap();
    assert_eq!(summary.lines().count(), 1 + 2 * 39);
    let index = std::fs::read_to_string(out.path().join("index.html")).unwrap();
    assert!(index.contains("href=\"P001/report.html\""));
    let mut stack = vec![out.path().to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            assert!(
                !p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with(".skintex-"),
                "temporary file left: {}",
                p.display()
            );
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
}

/// Every reference in the bundle resolves to an entry of the bundle, every Observation has a UCUM
/// quantity and a method, and the latest DiagnosticReport carries the HTML report. (Schema validity
/// is checked by an independent FHIR implementation in `tests/fhir_validate.py`, run by CI.)
#[test]
fn fhir_bundle_is_self_contained_and_complete() {
    let out = analyze_fixtures();
    let bundle = read_json(&out.path().join("P001/fhir-bundle.json"));
    assert_eq!(bundle["resourceType"], "Bundle");
    assert_eq!(bundle["type"], "collection");
    let entries = bundle["entry"].as_array().unwrap();
    let urls: Vec<&str> = entries
        .iter()
        .map(|e| e["fullUrl"].as_str().unwrap())
        .collect();
    let mut references = Vec::new();
    fn collect<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("reference") {
                    out.push(r);
                }
                m.values().for_each(|v| collect(v, out));
            }
            Value::Array(a) => a.iter().for_each(|v| collect(v, out)),
            _ => {}
        }
    }
    collect(&bundle, &mut references);
    assert!(!references.is_empty());
    for r in references {
        assert!(urls.contains(&r), "dangling reference {r}");
    }
    let of = |t: &str| -> Vec<&Value> {
        entries
            .iter()
            .map(|e| &e["resource"])
            .filter(|r| r["resourceType"] == t)
            .collect()
    };
    assert_eq!(of("Patient").len(), 1);
    assert_eq!(of("Media").len(), 3, "baseline + two sessions");
    let reports = of("DiagnosticReport");
    assert_eq!(reports.len(), 2, "one per comparison");
    let observations = of("Observation");
    assert_eq!(observations.len(), 2 * 13);
    for o in &observations {
        assert_eq!(o["valueQuantity"]["system"], "http://unitsofmeasure.org");
        assert!(o["method"]["text"].as_str().unwrap().contains("skintex"));
    }
    let html: Vec<&Value> = reports
        .iter()
        .filter_map(|r| r.get("presentedForm"))
        .collect();
    assert_eq!(html.len(), 1, "the HTML report is attached once");
    assert_eq!(html[0][0]["contentType"], "text/html");
}

/// A patient folder named with markup and quotes: the pages show the name, escaped, and never as
/// markup; the link from the index reaches the folder of that name.
#[test]
fn names_from_the_file_system_are_escaped_in_the_html() {
    let photos = tempfile::tempdir().unwrap();
    let evil = "<img src=x onerror=alert(1)>\"'&";
    copy_tree(&fixtures().join("photos/P001"), &photos.path().join(evil));
    let out = tempfile::tempdir().unwrap();
    skintex()
        .args(["-q", "analyze"])
        .arg(photos.path())
        .arg("-o")
        .arg(out.path())
        .assert()
        .code(0);
    let dir = skintex::report::output_dir_name(std::ffi::OsStr::new(evil));
    let page = std::fs::read_to_string(out.path().join(&dir).join("report.html")).unwrap();
    let index = std::fs::read_to_string(out.path().join("index.html")).unwrap();
    for html in [&page, &index] {
        assert!(
            !html.contains("<img src=x"),
            "raw markup from a folder name"
        );
        assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;&quot;'&amp;"));
    }
    let href = format!("{}/report.html", dir.replace('%', "%25"));
    assert!(index.contains(&format!("href=\"{href}\"")), "{href}");
}

#[test]
fn regress_passes_on_the_fixtures_and_exits_3_on_drift() {
    let expected = fixtures().join("expected.json");
    skintex()
        .args(["-q", "regress"])
        .arg(fixtures().join("photos"))
        .arg("--expected")
        .arg(&expected)
        .assert()
        .code(0);
    // Move one golden value by 1 % (far beyond its tolerance): the run must fail and name it.
    let mut goldens = read_json(&expected);
    let entry = &mut goldens["results"][1];
    let metric = entry["metric"].as_str().unwrap().to_string();
    entry["value"] = Value::from(entry["value"].as_f64().unwrap() * 1.01);
    let drifted = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(drifted.path(), serde_json::to_vec(&goldens).unwrap()).unwrap();
    let assert = skintex()
        .args(["-q", "regress"])
        .arg(fixtures().join("photos"))
        .arg("--expected")
        .arg(drifted.path())
        .assert()
        .code(3);
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).to_string();
    assert!(stdout.contains(&metric), "{stdout}");
    assert_eq!(stdout.lines().count(), 2, "header + one drift: {stdout}");
}

#[test]
fn compare_writes_the_reports_for_one_pair() {
    let photos = fixtures().join("photos/P001");
    let out = tempfile::tempdir().unwrap();
    skintex()
        .args(["-q", "compare"])
        .arg(photos.join("2026-01-15_baseline/front.jpg"))
        .arg(photos.join("2026-03-12/front.jpg"))
        .args(["--mm-per-px", "0.05", "--after-date", "2026-03-12", "-o"])
        .arg(out.path())
        .assert()
        .code(0);
    let report = read_json(&out.path().join("compare/report.json"));
    let sessions = report["views"][0]["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions[1]["date"], "2026-03-12");
    assert_eq!(sessions[1]["date_source"], "argument");
    assert_eq!(sessions[0]["date_source"], "exif");
    assert_eq!(sessions[1]["change"]["roughness.sq"]["improved"], true);
    for file in ["report.html", "metrics.csv", "fhir-bundle.json"] {
        assert!(out.path().join("compare").join(file).is_file());
    }
    assert!(out.path().join("index.html").is_file());
}

/// `schema/report.schema.json` is what `skintex schema` prints: regenerate it with
/// `cargo run --release -- schema > schema/report.schema.json` when the report types change.
#[test]
fn shipped_schema_is_current() {
    let printed = skintex()
        .arg("schema")
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let shipped =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/report.schema.json"))
            .expect("schema/report.schema.json");
    assert!(
        printed == shipped,
        "schema/report.schema.json is stale: regenerate it"
    );
}
