//! Writing a patient's outputs and the archive's index, every file atomically.
//!
//! Order matters for readers that watch the folder: images first, then the documents that refer to
//! them, and `report.json` last, so a `report.json` never names a file that is not there yet.

use std::path::Path;

use super::html::{IndexEntry, index_page, patient_page};
use super::table::{MetricRow, rows, to_csv};
use super::{
    OutputImage, PatientReport, fhir, remove_stale_temporaries, write_atomic, write_json_atomic,
};

/// Writes `images`, `metrics.csv`, `report.html`, `fhir-bundle.json` and `report.json` into `dir`
/// (created if missing); returns the patient's rows for `summary.csv`.
///
/// # Errors
/// The first I/O error, naming the file.
pub fn write_patient(
    dir: &Path,
    report: &PatientReport,
    images: &[OutputImage],
) -> std::io::Result<Vec<MetricRow>> {
    std::fs::create_dir_all(dir).map_err(context(dir))?;
    // images/<view>/ is two levels down.
    remove_stale_temporaries(dir, 2).map_err(context(dir))?;
    for image in images {
        let path = dir.join(&image.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(context(parent))?;
        }
        write_atomic(&path, &image.bytes).map_err(context(&path))?;
    }
    let table = rows(report);
    let path = dir.join("metrics.csv");
    let csv = to_csv(&table).map_err(std::io::Error::other)?;
    write_atomic(&path, &csv).map_err(context(&path))?;
    let html = patient_page(report, images);
    let path = dir.join("report.html");
    write_atomic(&path, html.as_bytes()).map_err(context(&path))?;
    let path = dir.join("fhir-bundle.json");
    write_json_atomic(&path, &fhir::bundle(report, images, &html)).map_err(context(&path))?;
    let path = dir.join("report.json");
    write_json_atomic(&path, report).map_err(context(&path))?;
    Ok(table)
}

/// Writes `summary.csv` (every patient's rows) and `index.html` into `out`.
///
/// # Errors
/// The first I/O error, naming the file.
pub fn write_index(out: &Path, entries: &[IndexEntry], rows: &[MetricRow]) -> std::io::Result<()> {
    remove_stale_temporaries(out, 0).map_err(context(out))?;
    let path = out.join("summary.csv");
    let csv = to_csv(rows).map_err(std::io::Error::other)?;
    write_atomic(&path, &csv).map_err(context(&path))?;
    let path = out.join("index.html");
    let page = index_page(entries, env!("CARGO_PKG_VERSION"));
    write_atomic(&path, page.as_bytes()).map_err(context(&path))
}

/// Turns an I/O error into one that names the file it was about.
fn context(path: &Path) -> impl FnOnce(std::io::Error) -> std::io::Error {
    let path = path.display().to_string();
    move |e| std::io::Error::new(e.kind(), format!("cannot write {path}: {e}"))
}
