//! `metrics.csv` and `summary.csv`: every metric of every session in tidy long format, one row per
//! (patient, view, session, metric), so a spreadsheet or R/pandas can pivot it any way.
//!
//! Columns: patient, view, session, date, metric, value, unit, delta, percent, ci_low, ci_high,
//! beyond_noise, improved. `delta`…`improved` compare with the baseline and are empty on the baseline
//! row and wherever a change is undefined; `ci_low`/`ci_high` bound `percent` (95 %, paired bootstrap).
//! Numbers are written in Rust's shortest round-trip form, so the files are byte-stable.

use serde::Serialize;

use super::PatientReport;
use crate::metrics::tiles::metrics_for;

/// One row of the long table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricRow {
    /// Patient key.
    pub patient: String,
    /// View name.
    pub view: String,
    /// Session folder name.
    pub session: String,
    /// Session date.
    pub date: String,
    /// Metric key (`roughness.sq`…).
    pub metric: String,
    /// Value in this session.
    pub value: f64,
    /// UCUM unit.
    pub unit: String,
    /// Change from the baseline, metric unit.
    pub delta: Option<f64>,
    /// Change from the baseline, percent.
    pub percent: Option<f64>,
    /// Lower 95 % bound of `percent`.
    pub ci_low: Option<f64>,
    /// Upper 95 % bound of `percent`.
    pub ci_high: Option<f64>,
    /// Beyond the noise floor.
    pub beyond_noise: Option<bool>,
    /// An improvement beyond the noise floor.
    pub improved: Option<bool>,
}

/// The rows of one patient's report, in report order (views, sessions, then the metric catalogue).
#[must_use]
pub fn rows(report: &PatientReport) -> Vec<MetricRow> {
    let defs = metrics_for(report.calibration.mm_per_px.is_some());
    let mut rows = Vec::new();
    for view in &report.views {
        for session in &view.sessions {
            let Some(metrics) = &session.metrics else {
                continue;
            };
            let values = serde_json::to_value(metrics).unwrap_or_default();
            for d in &defs {
                let Some(value) = lookup(&values, d.key) else {
                    continue;
                };
                let change = session.change.get(d.key);
                rows.push(MetricRow {
                    patient: cell_text(&report.patient),
                    view: cell_text(&view.view),
                    session: cell_text(&session.session),
                    date: session.date.clone(),
                    metric: d.key.to_string(),
                    value,
                    unit: d.unit.to_string(),
                    delta: change.map(|c| c.delta),
                    percent: change.and_then(|c| c.percent),
                    ci_low: change.and_then(|c| c.ci95).map(|c| c[0]),
                    ci_high: change.and_then(|c| c.ci95).map(|c| c[1]),
                    beyond_noise: change.map(|c| c.beyond_noise),
                    improved: change.and_then(|c| c.improved),
                });
            }
        }
    }
    rows
}

/// A name from the file system as a CSV cell: spreadsheets run a cell starting with `=`, `+`, `-` or
/// `@` as a formula (CSV injection, OWASP), so such a name gets a leading `'`, which they show as text.
#[must_use]
pub fn cell_text(name: &str) -> String {
    if name.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{name}")
    } else {
        name.to_string()
    }
}

/// The value of `group.field` in a session's serialised metrics (`None` when null or absent).
#[must_use]
pub fn lookup(metrics: &serde_json::Value, key: &str) -> Option<f64> {
    let (group, field) = key.split_once('.')?;
    metrics.get(group)?.get(field)?.as_f64()
}

/// `rows` as CSV bytes with a header line.
///
/// # Errors
/// Never in practice (writing to memory); kept as a `Result` because the CSV writer's API is.
pub fn to_csv(rows: &[MetricRow]) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for row in rows {
        writer.serialize(row)?;
    }
    if rows.is_empty() {
        writer.write_record([
            "patient",
            "view",
            "session",
            "date",
            "metric",
            "value",
            "unit",
            "delta",
            "percent",
            "ci_low",
            "ci_high",
            "beyond_noise",
            "improved",
        ])?;
    }
    writer
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_with_commas_and_quotes_are_quoted() {
        let row = MetricRow {
            patient: "Doe, \"J\"".into(),
            view: "front".into(),
            session: "2026-01-15".into(),
            date: "2026-01-15".into(),
            metric: "roughness.sq".into(),
            value: 0.25,
            unit: "1".into(),
            delta: None,
            percent: Some(-12.5),
            ci_low: None,
            ci_high: None,
            beyond_noise: Some(true),
            improved: None,
        };
        let text = String::from_utf8(to_csv(&[row]).unwrap()).unwrap();
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some(
                "patient,view,session,date,metric,value,unit,delta,percent,ci_low,ci_high,beyond_noise,improved"
            )
        );
        assert_eq!(
            lines.next(),
            Some(
                "\"Doe, \"\"J\"\"\",front,2026-01-15,2026-01-15,roughness.sq,0.25,1,,-12.5,,,true,"
            )
        );
        assert_eq!(cell_text("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(cell_text("P001"), "P001");
        let empty = String::from_utf8(to_csv(&[]).unwrap()).unwrap();
        assert!(empty.starts_with("patient,view,"));
    }
}
