//! `fhir-bundle.json`: the report as an HL7 FHIR R4 Bundle (type `collection`) to attach to the
//! patient record.
//!
//! Contents, per view and per measured session after the baseline:
//! - one `DiagnosticReport` ("skin texture comparison"), its `conclusion` the plain sentences of the
//!   HTML report, its `result` the Observations and its `media` the aligned photos; the latest
//!   comparison carries the whole HTML report in `presentedForm` (it covers the whole series, so it is
//!   attached once rather than to every comparison);
//! - one `Observation` per metric: `valueQuantity` with a UCUM unit, `code` from skintex's local code
//!   system ([`METRIC_SYSTEM`], codes are the report keys such as `roughness.sq`), `method` naming the
//!   algorithm and the skintex version, and components for the change from baseline (delta, percent,
//!   its 95 % interval as a range, and whether it is beyond the noise floor);
//! - one `Media` per aligned photo (baseline and session), the JPEG inline.
//!
//! The patient is a `Patient` resource identified only by the folder key; the clinic's system links it
//! to the real record. Resource ids are name-based UUIDs (v5) of patient/view/session/metric, so the
//! bundle is byte-identical across runs. The FHIR crates on crates.io are large, stale or R4B/R5-only
//! (see CRATES.md), so these few resources are built as JSON here and validated by an independent
//! implementation in CI (`tests/fhir_validate.py`, the `fhir.resources` package).

use base64::Engine as _;
use serde_json::{Value, json};
use uuid::Uuid;

use super::html::sentence;
use super::{OutputImage, PatientReport, SessionEntry};
use crate::metrics::tiles::{MetricDef, metrics_for};

/// Code system of the metric codes (`roughness.sq`, `pores.count`…).
pub const METRIC_SYSTEM: &str = "urn:skintex:metric";
/// Code system of skintex's own component and report codes.
pub const SKINTEX_SYSTEM: &str = "urn:skintex:code";
/// Identifier system of the patient key (the folder name).
pub const PATIENT_KEY_SYSTEM: &str = "urn:skintex:patient-key";
const UCUM: &str = "http://unitsofmeasure.org";

/// Namespace of the resource ids (a v5 UUID of the name "skintex").
fn namespace() -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_URL, b"urn:skintex")
}

fn id(parts: &[&str]) -> String {
    Uuid::new_v5(&namespace(), parts.join("\u{1f}").as_bytes()).to_string()
}

fn reference(id: &str) -> Value {
    json!({ "reference": format!("urn:uuid:{id}") })
}

fn entry(id: &str, resource: Value) -> Value {
    json!({ "fullUrl": format!("urn:uuid:{id}"), "resource": resource })
}

fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn quantity(value: f64, unit: &str) -> Value {
    json!({ "value": value, "unit": unit, "system": UCUM, "code": unit })
}

/// Builds the bundle. `html` is the patient's `report.html`; `images` the files the report names.
#[must_use]
pub fn bundle(report: &PatientReport, images: &[OutputImage], html: &str) -> Value {
    let patient_id = id(&["patient", &report.patient]);
    let subject = reference(&patient_id);
    let mut entries = vec![entry(
        &patient_id,
        json!({
            "resourceType": "Patient",
            "id": patient_id,
            "identifier": [{ "system": PATIENT_KEY_SYSTEM, "value": report.patient }],
        }),
    )];
    let defs = metrics_for(report.calibration.mm_per_px.is_some());
    let method = json!({
        "coding": [{ "system": SKINTEX_SYSTEM, "code": "skintex", "display":
            format!("skintex {} image analysis", report.tool.version) }],
        "text": format!(
            "skintex {}: registration to the baseline photo, ISO 25178-2 field parameters of the \
             log-luminance pseudo-height (ISO 16610-21 Gaussian S/L filters), multi-scale \
             Laplacian-of-Gaussian depression detection for pores and scars",
            report.tool.version
        ),
    });
    let comparisons: Vec<(&str, &SessionEntry, Option<&SessionEntry>)> = report
        .views
        .iter()
        .flat_map(|v| {
            let baseline = v.sessions.iter().find(|s| s.baseline);
            v.sessions
                .iter()
                .filter(|s| !s.change.is_empty())
                .map(move |s| (v.view.as_str(), s, baseline))
        })
        .collect();
    let latest = comparisons
        .iter()
        .enumerate()
        .max_by_key(|(_, (_, s, _))| s.days_from_baseline)
        .map(|(i, _)| i);
    for (k, (view, session, baseline)) in comparisons.iter().enumerate() {
        let mut media_refs = Vec::new();
        for s in baseline.iter().copied().chain([*session]) {
            let Some(image) = s
                .alignment
                .as_ref()
                .and_then(|a| a.preview.as_ref())
                .and_then(|p| images.iter().find(|i| &i.path == p))
            else {
                continue;
            };
            let media_id = id(&["media", &report.patient, view, &s.session]);
            if !entries
                .iter()
                .any(|e| e["resource"]["id"] == media_id.as_str())
            {
                entries.push(entry(
                    &media_id,
                    json!({
                        "resourceType": "Media",
                        "id": media_id,
                        "status": "completed",
                        "type": { "coding": [{
                            "system": "http://terminology.hl7.org/CodeSystem/media-type",
                            "code": "image", "display": "Image" }] },
                        "subject": subject,
                        "createdDateTime": s.date,
                        "content": {
                            "contentType": image.mime(),
                            "data": base64(&image.bytes),
                            "title": format!("{view}, session {}, aligned to the baseline", s.session),
                        },
                    }),
                ));
            }
            media_refs.push(json!({ "link": reference(&media_id) }));
        }
        let mut results = Vec::new();
        let mut sentences = Vec::new();
        for d in &defs {
            let Some(change) = session.change.get(d.key) else {
                continue;
            };
            let obs_id = id(&[
                "observation",
                &report.patient,
                view,
                &session.session,
                d.key,
            ]);
            results.push(reference(&obs_id));
            sentences.push(sentence(d, change));
            entries.push(entry(
                &obs_id,
                observation(&obs_id, d, change, session, &subject, &method),
            ));
        }
        let report_id = id(&["report", &report.patient, view, &session.session]);
        let mut diagnostic = json!({
            "resourceType": "DiagnosticReport",
            "id": report_id,
            "status": "final",
            "code": {
                "coding": [{ "system": SKINTEX_SYSTEM, "code": "skin-texture-comparison",
                             "display": "Skin texture, pore and scar comparison with baseline" }],
                "text": format!("Skin texture comparison, view {view}: {} vs baseline", session.session),
            },
            "subject": subject,
            "effectiveDateTime": session.date,
            "conclusion": sentences.join(" "),
        });
        // FHIR JSON has no empty arrays: leave a list out when it would be empty.
        if !results.is_empty() {
            diagnostic["result"] = Value::from(results);
        }
        if !media_refs.is_empty() {
            diagnostic["media"] = Value::from(media_refs);
        }
        if Some(k) == latest {
            diagnostic["presentedForm"] = json!([{
                "contentType": "text/html",
                "data": base64(html.as_bytes()),
                "title": "skintex report (report.html)",
            }]);
        }
        entries.push(entry(&report_id, diagnostic));
    }
    json!({
        "resourceType": "Bundle",
        "id": id(&["bundle", &report.patient]),
        "identifier": { "system": PATIENT_KEY_SYSTEM, "value": report.patient },
        "type": "collection",
        "entry": entries,
    })
}

fn observation(
    obs_id: &str,
    d: &MetricDef,
    change: &super::Change,
    session: &SessionEntry,
    subject: &Value,
    method: &Value,
) -> Value {
    let component = |code: &str, display: &str, value: Value| {
        let mut c = json!({ "code": { "coding": [{ "system": SKINTEX_SYSTEM, "code": code,
                                                    "display": display }] } });
        if let Value::Object(fields) = value {
            for (k, v) in fields {
                c[k] = v;
            }
        }
        c
    };
    let mut components = vec![
        component(
            "baseline-value",
            "Value at baseline",
            json!({ "valueQuantity": quantity(change.from, d.unit) }),
        ),
        component(
            "change-from-baseline",
            "Change from baseline",
            json!({ "valueQuantity": quantity(change.delta, d.unit) }),
        ),
        component(
            "beyond-noise-floor",
            "Change beyond the noise floor and its 95 % interval",
            json!({ "valueBoolean": change.beyond_noise }),
        ),
    ];
    if let Some(p) = change.percent {
        components.push(component(
            "percent-change-from-baseline",
            "Relative change from baseline",
            json!({ "valueQuantity": quantity(p, "%") }),
        ));
    }
    if let Some([lo, hi]) = change.ci95 {
        components.push(component(
            "percent-change-ci95",
            "95 % confidence interval of the relative change (paired bootstrap)",
            json!({ "valueRange": { "low": quantity(lo, "%"), "high": quantity(hi, "%") } }),
        ));
    }
    json!({
        "resourceType": "Observation",
        "id": obs_id,
        "status": "final",
        "category": [{ "coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "imaging", "display": "Imaging" }] }],
        "code": {
            "coding": [{ "system": METRIC_SYSTEM, "code": d.key, "display": d.label }],
            "text": d.label,
        },
        "subject": subject,
        "effectiveDateTime": session.date,
        "valueQuantity": quantity(change.to, d.unit),
        "method": method,
        "note": [{ "text": "An image index computed from a photograph, not a physical measurement \
                            of skin relief." }],
        "component": components,
    })
}
