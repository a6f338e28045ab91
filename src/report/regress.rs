//! Regression checks against golden results (`skintex regress`, `fixtures/expected.json`).
//!
//! The golden file holds every metric of every session of a photo folder, the files that were
//! reported as errors, and a tolerance per metric. Tolerances exist because floating-point results
//! may differ in the last bits between CPUs (the kernels dispatch to AVX2/FMA where present), and a
//! detection count can flip by one when a blob sits exactly at a threshold; they are stated in the
//! file, next to the values they govern, so widening one is a visible change in review.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::table::MetricRow;

/// Allowed difference: `|actual − expected| ≤ absolute + relative · |expected|`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Tolerance {
    /// Fraction of the expected value.
    #[serde(default)]
    pub relative: f64,
    /// In the metric's unit.
    #[serde(default)]
    pub absolute: f64,
}

impl Tolerance {
    /// Whether `actual` is within the tolerance of `expected`.
    #[must_use]
    pub fn admits(&self, expected: f64, actual: f64) -> bool {
        (actual - expected).abs() <= self.absolute + self.relative * expected.abs()
    }
}

/// One golden value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GoldenValue {
    /// Patient key.
    pub patient: String,
    /// View.
    pub view: String,
    /// Session folder name.
    pub session: String,
    /// Metric key.
    pub metric: String,
    /// Value.
    pub value: f64,
}

/// A reported input problem that is expected (the fixtures include bad inputs on purpose).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct GoldenError {
    /// Patient key.
    pub patient: String,
    /// File, relative to the patient folder.
    pub file: String,
}

/// The golden file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Goldens {
    /// How to regenerate this file.
    pub regenerate: String,
    /// Tolerance by metric key, by group (`roughness`) or `default`, most specific first.
    pub tolerances: BTreeMap<String, Tolerance>,
    /// Every metric of every measured session.
    pub results: Vec<GoldenValue>,
    /// Every file reported as an error.
    pub errors: Vec<GoldenError>,
}

/// Tolerances for a new golden file: tight enough that any change of method shows, loose enough for
/// last-bit differences between CPUs (roughness), and one detection either way in a count of
/// hundreds (pores); scar counts are small and must match exactly.
#[must_use]
pub fn default_tolerances() -> BTreeMap<String, Tolerance> {
    let t = |relative, absolute| Tolerance { relative, absolute };
    BTreeMap::from([
        ("default".to_string(), t(1e-6, 1e-12)),
        ("roughness".to_string(), t(1e-5, 1e-12)),
        ("pores".to_string(), t(0.005, 1e-12)),
        ("pores.count".to_string(), t(0.0, 1.0)),
        ("scars".to_string(), t(0.01, 1e-12)),
        ("scars.count".to_string(), t(0.0, 0.0)),
    ])
}

impl Goldens {
    /// Goldens of the current results, keeping `tolerances`.
    #[must_use]
    pub fn from_results(
        rows: &[MetricRow],
        errors: Vec<GoldenError>,
        tolerances: BTreeMap<String, Tolerance>,
        regenerate: String,
    ) -> Self {
        Self {
            regenerate,
            tolerances,
            results: rows
                .iter()
                .map(|r| GoldenValue {
                    patient: r.patient.clone(),
                    view: r.view.clone(),
                    session: r.session.clone(),
                    metric: r.metric.clone(),
                    value: r.value,
                })
                .collect(),
            errors,
        }
    }

    /// The tolerance of `metric`.
    #[must_use]
    pub fn tolerance(&self, metric: &str) -> Tolerance {
        let group = metric.split('.').next().unwrap_or(metric);
        self.tolerances
            .get(metric)
            .or_else(|| self.tolerances.get(group))
            .or_else(|| self.tolerances.get("default"))
            .copied()
            .unwrap_or(Tolerance {
                relative: 0.0,
                absolute: 0.0,
            })
    }
}

/// One difference from the goldens.
#[derive(Debug, Clone, PartialEq)]
pub struct Drift {
    /// `patient/view/session` or `patient/file`.
    pub place: String,
    /// Metric key, or `error` for an input problem.
    pub metric: String,
    /// Golden value (`None`: not in the goldens).
    pub expected: Option<f64>,
    /// Current value (`None`: no longer produced).
    pub actual: Option<f64>,
    /// The tolerance that was exceeded.
    pub tolerance: Option<Tolerance>,
}

/// Every difference between the current results and the goldens, in golden order then new ones.
#[must_use]
pub fn check(goldens: &Goldens, rows: &[MetricRow], errors: &[GoldenError]) -> Vec<Drift> {
    let key = |p: &str, v: &str, s: &str, m: &str| format!("{p}/{v}/{s}\u{1f}{m}");
    let current: BTreeMap<String, f64> = rows
        .iter()
        .map(|r| (key(&r.patient, &r.view, &r.session, &r.metric), r.value))
        .collect();
    let mut drifts = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for g in &goldens.results {
        let k = key(&g.patient, &g.view, &g.session, &g.metric);
        seen.insert(k.clone());
        let tolerance = goldens.tolerance(&g.metric);
        let actual = current.get(&k).copied();
        if actual.is_none_or(|a| !tolerance.admits(g.value, a)) {
            drifts.push(Drift {
                place: format!("{}/{}/{}", g.patient, g.view, g.session),
                metric: g.metric.clone(),
                expected: Some(g.value),
                actual,
                tolerance: Some(tolerance),
            });
        }
    }
    for r in rows {
        if !seen.contains(&key(&r.patient, &r.view, &r.session, &r.metric)) {
            drifts.push(Drift {
                place: format!("{}/{}/{}", r.patient, r.view, r.session),
                metric: r.metric.clone(),
                expected: None,
                actual: Some(r.value),
                tolerance: None,
            });
        }
    }
    let expected: std::collections::BTreeSet<&GoldenError> = goldens.errors.iter().collect();
    let actual: std::collections::BTreeSet<&GoldenError> = errors.iter().collect();
    for e in expected.symmetric_difference(&actual) {
        let was = expected.contains(e);
        drifts.push(Drift {
            place: format!("{}/{}", e.patient, e.file),
            metric: "error".into(),
            expected: Some(f64::from(u8::from(was))),
            actual: Some(f64::from(u8::from(!was))),
            tolerance: None,
        });
    }
    drifts
}

/// The drift table as text for the terminal.
#[must_use]
pub fn table(drifts: &[Drift]) -> String {
    let show = |v: Option<f64>| v.map_or_else(|| "missing".to_string(), |v| format!("{v:.6e}"));
    let mut out = format!(
        "{:<44} {:<24} {:>14} {:>14} {:>10}\n",
        "where", "metric", "expected", "actual", "change"
    );
    for d in drifts {
        let change = match (d.expected, d.actual) {
            (Some(e), Some(a)) if e != 0.0 => format!("{:+.3} %", 100.0 * (a - e) / e),
            _ => String::new(),
        };
        out.push_str(&format!(
            "{:<44} {:<24} {:>14} {:>14} {:>10}\n",
            d.place,
            d.metric,
            show(d.expected),
            show(d.actual),
            change
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(metric: &str, value: f64) -> MetricRow {
        MetricRow {
            patient: "P1".into(),
            view: "front".into(),
            session: "2026-01-01".into(),
            date: "2026-01-01".into(),
            metric: metric.into(),
            value,
            unit: "1".into(),
            delta: None,
            percent: None,
            ci_low: None,
            ci_high: None,
            beyond_noise: None,
            improved: None,
        }
    }

    #[test]
    fn drift_beyond_the_stated_tolerance_is_caught_and_within_is_not() {
        let rows = vec![row("roughness.sq", 0.05), row("pores.count", 900.0)];
        let goldens = Goldens::from_results(&rows, vec![], default_tolerances(), String::new());
        assert!(check(&goldens, &rows, &[]).is_empty());
        // One pore more is within the count's tolerance; two are not.
        assert!(
            check(
                &goldens,
                &[row("roughness.sq", 0.05), row("pores.count", 901.0)],
                &[]
            )
            .is_empty()
        );
        let drifted = check(
            &goldens,
            &[row("roughness.sq", 0.0501), row("pores.count", 902.0)],
            &[],
        );
        assert_eq!(drifted.len(), 2);
        assert_eq!(drifted[0].metric, "roughness.sq");
        // A metric that disappears, a new one, and a new input error are drifts too.
        let errors = [GoldenError {
            patient: "P1".into(),
            file: "x.jpg".into(),
        }];
        let drifted = check(
            &goldens,
            &[row("roughness.sq", 0.05), row("scars.count", 1.0)],
            &errors,
        );
        let metrics: Vec<&str> = drifted.iter().map(|d| d.metric.as_str()).collect();
        assert_eq!(metrics, ["pores.count", "scars.count", "error"]);
        assert!(table(&drifted).contains("missing"));
    }

    #[test]
    fn tolerance_lookup_goes_from_metric_to_group_to_default() {
        let g = Goldens::from_results(&[], vec![], default_tolerances(), String::new());
        assert_eq!(g.tolerance("pores.count").absolute, 1.0);
        assert_eq!(g.tolerance("pores.area_fraction").relative, 0.005);
        assert_eq!(g.tolerance("mask.area_px").relative, 1e-6);
    }
}
