//! `report.html` per patient and `index.html` for all: what a clinician reads and files.
//!
//! One self-contained file per patient: inline CSS, images as `data:` URLs, charts as inline SVG, a
//! few lines of inline script for the before/after slider; nothing is fetched from a network. Every
//! string that comes from the file system (patient, view, session and file names, error messages) is
//! interpolated through `maud`, which escapes it; only the constant CSS and script below are inserted
//! raw. The page prints on A4: interactive parts hide, side-by-side photos and charts stay.
//!
//! Charts are drawn as hand-written SVG (a polyline, points and interval bars): a charting crate would
//! add a large dependency for a dozen lines of geometry, and its output is harder to keep byte-stable.

use std::fmt::Write as _;

use base64::Engine as _;
use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::change::Change;
use super::heatmap::{ROUGHER, SMOOTHER};
use super::table::lookup;
use super::{OutputImage, PatientReport, SessionEntry, ViewReport};
use crate::align::AlignStatus;
use crate::metrics::tiles::{Better, MetricDef, metrics_for};

const CSS: &str = r#"
:root { --ink:#1d2731; --muted:#5b6875; --line:#d5dbe1; --good:#1a7f4b; --bad:#b3261e; --accent:#21669c; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
       max-width: 1100px; margin: 0 auto; padding: 24px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 2px solid var(--line); }
h3 { font-size: 15px; margin: 18px 0 6px; }
.muted { color: var(--muted); } .small { font-size: 12px; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 12px; }
th, td { text-align: left; padding: 4px 6px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; background: #f3f5f7; } td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.improved { color: var(--good); font-weight: 600; } .worse { color: var(--bad); font-weight: 600; }
.box { border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px; margin: 10px 0; background: #fafbfc; }
.errors { border-color: #e4b4b0; background: #fdf3f2; }
.pair { display: grid; grid-template-columns: 1fr 1fr; gap: 8px; }
figure { margin: 0; } figure img, figure svg { width: 100%; height: auto; display: block; border-radius: 4px; }
figcaption { font-size: 12px; color: var(--muted); margin-top: 2px; }
.slider { position: relative; margin-top: 8px; max-width: 540px; } .slider img { width: 100%; display: block; border-radius: 4px; }
.slider .after { position: absolute; inset: 0; clip-path: inset(0 0 0 50%); }
.slider input { width: 100%; }
.flick:checked ~ .slider .after { clip-path: none; animation: flick 1.2s steps(1) infinite; }
@keyframes flick { 50% { opacity: 0; } }
.overlay { position: relative; } .overlay .heat { position: absolute; inset: 0; width: 100%; height: 100%; }
.legend { display: inline-block; width: 160px; height: 10px; vertical-align: middle;
          background: linear-gradient(90deg, rgb(SMOOTHER), #fff, rgb(ROUGHER)); border: 1px solid var(--line); }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(240px, 1fr)); gap: 10px; }
.chart svg { width: 100%; height: auto; } .chart text { font: 10px system-ui, sans-serif; fill: var(--muted); }
.session { break-inside: avoid; }
@media print {
  @page { size: A4; margin: 12mm; }
  body { max-width: none; padding: 0; font-size: 11px; }
  .screen { display: none !important; }
  h2 { break-after: avoid; } .session, .chart, table { break-inside: avoid; }
  .charts { grid-template-columns: repeat(4, 1fr); }
}
"#;

const SCRIPT: &str = r#"
document.querySelectorAll('.slider').forEach(function (s) {
  var after = s.querySelector('.after'), input = s.querySelector('input');
  input.addEventListener('input', function () {
    after.style.clipPath = 'inset(0 0 0 ' + input.value + '%)';
  });
});
"#;

/// The CSS with the heat map's colours filled in (one source for the PNG and its legend).
fn css() -> String {
    let rgb = |c: [u8; 3]| format!("{},{},{}", c[0], c[1], c[2]);
    CSS.replace("rgb(SMOOTHER)", &format!("rgb({})", rgb(SMOOTHER)))
        .replace("rgb(ROUGHER)", &format!("rgb({})", rgb(ROUGHER)))
}

fn data_url(image: &OutputImage) -> String {
    format!(
        "data:{};base64,{}",
        image.mime(),
        base64::engine::general_purpose::STANDARD.encode(&image.bytes)
    )
}

/// `v` with `digits` significant digits, a true minus sign, no exponent for everyday magnitudes.
#[must_use]
pub fn number(v: f64, digits: usize) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    if v == 0.0 {
        return "0".into();
    }
    if v.fract() == 0.0 && v.abs() < 1e15 {
        // Counts (and any whole number) read as integers: "4", not "4.00".
        return format!("{v:.0}").replacen('-', "−", 1);
    }
    let magnitude = v.abs().log10().floor() as i32;
    let decimals = (digits as i32 - 1 - magnitude).max(0) as usize;
    let text = format!("{v:.decimals$}");
    text.replacen('-', "−", 1)
}

fn signed_percent(p: f64) -> String {
    let text = number(p, 2);
    if p > 0.0 {
        format!("+{text} %")
    } else {
        format!("{text} %")
    }
}

/// One plain sentence for a change, e.g. "Texture roughness Sq −18 % (95 % CI −22 to −14 %), beyond
/// the 2 % noise floor: an improvement."
#[must_use]
pub fn sentence(def: &MetricDef, change: &Change) -> String {
    let Some(percent) = change.percent else {
        return format!(
            "{} went from {} to {}; no relative change can be given from zero.",
            def.label,
            number(change.from, 3),
            number(change.to, 3)
        );
    };
    let mut s = format!("{} {}", def.label, signed_percent(percent));
    if let Some([lo, hi]) = change.ci95 {
        let _ = write!(s, " (95 % CI {} to {} %)", number(lo, 2), number(hi, 2));
    }
    // Floors are settings (2, 4, 6 or what the user gave): shown as given, without padding zeros.
    let floor = change.noise_floor_percent;
    if change.beyond_noise {
        let _ = write!(s, ", beyond the {floor} % noise floor");
        match (def.better, change.improved) {
            (Better::Lower, Some(true)) => s.push_str(": an improvement."),
            (Better::Lower, _) => s.push_str(": a worsening."),
            (Better::Neither, _) => s.push_str(" (a change of shape, neither better nor worse)."),
        }
    } else if change.ci95.is_none() {
        s.push_str(", without a confidence interval (too few measured patches): not judged.");
    } else if percent.abs() > change.noise_floor_percent {
        s.push_str(", but its interval includes no change: not a measurable change.");
    } else {
        let _ = write!(
            s,
            ", within the {floor} % noise floor: no measurable change."
        );
    }
    s
}

fn change_class(change: &Change, def: &MetricDef) -> &'static str {
    match (change.beyond_noise, def.better, change.improved) {
        (true, Better::Lower, Some(true)) => "improved",
        (true, Better::Lower, _) => "worse",
        _ => "",
    }
}

/// The patient's report page. `images` are the files the report refers to (previews, heat maps).
#[must_use]
pub fn patient_page(report: &PatientReport, images: &[OutputImage]) -> String {
    let find = |path: &Option<String>| {
        path.as_ref()
            .and_then(|p| images.iter().find(|i| &i.path == p))
            .map(data_url)
    };
    let defs = metrics_for(report.calibration.mm_per_px.is_some());
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "skintex report — " (report.patient) }
                style { (PreEscaped(css())) }
            }
            body {
                h1 { "Skin texture report — " (report.patient) }
                p.muted {
                    (report.tool.name) " " (report.tool.version) " · baseline "
                    (report.baseline.as_deref().unwrap_or("none")) " · scale "
                    @match report.calibration.mm_per_px {
                        Some(mm) => { (number(mm, 4)) " mm per pixel" }
                        None => { "uncalibrated (lengths in baseline pixels)" }
                    }
                }
                (about())
                @if !report.errors.is_empty() {
                    div.box.errors {
                        h3 { "Problems with the inputs (" (report.errors.len()) ")" }
                        table {
                            tr { th { "File" } th { "What is wrong" } }
                            @for e in &report.errors { tr { td { (e.file) } td { (e.error) } } }
                        }
                    }
                }
                @if !report.notes.is_empty() {
                    div.box { h3 { "Notes" } ul { @for n in &report.notes { li { (n) } } } }
                }
                @for (v, view) in report.views.iter().enumerate() {
                    (view_section(v, view, &defs, &find))
                }
                p.muted.small {
                    "Generated by skintex " (report.tool.version)
                    ". The same photos give the same report, byte for byte."
                }
                script { (PreEscaped(SCRIPT)) }
            }
        }
    };
    page.into_string()
}

fn about() -> Markup {
    html! {
        div.box.small {
            strong { "What these numbers are. " }
            "Roughness (Sa, Sq, Sdq, Sdr, Ssk, Sku) is computed as in ISO 25178-2 on a pseudo-height: the "
            "logarithm of the photo's luminance, with lighting and facial form removed by a 2 mm Gaussian "
            "filter. They are image roughness indices, not micrometres of skin relief: compare them between "
            "sessions of the same patient, taken the same way. Pores and scars are round dark depressions "
            "found at their size; the depth index is their contrast. Every session is aligned to the "
            "baseline and measured on the same skin region. A change counts only when it exceeds the noise "
            "floor of repeated imaging and its 95 % confidence interval (paired bootstrap over patches of "
            "skin) excludes no change."
        }
    }
}

fn view_section(
    view_index: usize,
    view: &ViewReport,
    defs: &[&MetricDef],
    find: &dyn Fn(&Option<String>) -> Option<String>,
) -> Markup {
    let baseline = view.sessions.iter().find(|s| s.baseline);
    let baseline_image = baseline
        .and_then(|b| b.alignment.as_ref())
        .and_then(|a| find(&a.preview));
    let size = baseline
        .and_then(|b| b.photo.as_ref())
        .map(|p| (p.width, p.height));
    html! {
        h2 { "View: " (view.view) }
        @if let Some(floors) = &view.noise_floors {
            p.muted.small {
                "Noise floors: texture " (floors.texture) " %, pores "
                (floors.pores) " %, scars " (floors.scars) " %."
            }
            p.muted.small {
                @if let Some(face) = &view.face {
                    "Measured region: the skin within the face found in the baseline photo "
                    "(detector score " (format!("{:.1}", face.score)) ")."
                } @else {
                    "No face limits the measured region: none was found in the baseline photo (a "
                    "close-up, a view from the side), too little skin lay within it (see the "
                    "notes), or series.toml gives an roi, which is measured as given. The region "
                    "is the photo's skin-coloured surface, within the roi if there is one."
                }
            }
        }
        (alignment_table(view))
        (charts(view, defs))
        @for (k, s) in view.sessions.iter().enumerate().filter(|(_, s)| !s.baseline) {
            (session_section(&format!("v{view_index}s{k}"), s, baseline, baseline_image.as_deref(), size, defs, find))
        }
    }
}

fn alignment_table(view: &ViewReport) -> Markup {
    html! {
        h3 { "Sessions and alignment quality" }
        table {
            tr {
                th { "Session" } th { "Date" } th { "Alignment" } th.num { "NCC" }
                th.num { "Residual, px" } th.num { "Overlap" } th { "Remark" }
            }
            @for s in &view.sessions {
                tr {
                    td { (s.session) }
                    td { (s.date) }
                    @if let Some(a) = &s.alignment {
                        td { (status_word(a.status)) }
                        td.num { (a.ncc.map_or("–".into(), |v| number(v, 3))) }
                        td.num { (a.residual_px.map_or("–".into(), |v| number(v, 2))) }
                        td.num { (a.overlap.map_or("–".into(), |v| format!("{} %", number(100.0 * v, 3)))) }
                        td { (a.message.as_deref().or(s.error.as_deref()).unwrap_or("")) }
                    } @else {
                        td { "not decoded" } td {} td {} td {}
                        td { (s.error.as_deref().unwrap_or("")) }
                    }
                }
            }
        }
    }
}

fn status_word(status: AlignStatus) -> &'static str {
    match status {
        AlignStatus::Reference => "baseline",
        AlignStatus::Ok => "ok",
        AlignStatus::Poor => "poor — not measured",
        AlignStatus::Failed => "failed — not measured",
    }
}

fn session_section(
    // A unique, markup-safe id for this session's controls (names may hold anything).
    anchor: &str,
    s: &SessionEntry,
    baseline: Option<&SessionEntry>,
    baseline_image: Option<&str>,
    size: Option<(usize, usize)>,
    defs: &[&MetricDef],
    find: &dyn Fn(&Option<String>) -> Option<String>,
) -> Markup {
    let image = s.alignment.as_ref().and_then(|a| find(&a.preview));
    let heat = find(&s.roughness_change_map);
    let base_name = baseline.map_or("baseline", |b| b.session.as_str());
    html! {
        div.session {
            h3 { (s.session) " vs " (base_name) " — " (s.days_from_baseline) " days" }
            @if let (Some(before), Some(after)) = (baseline_image, image.as_deref()) {
                div.pair {
                    figure { img src=(before) alt="baseline, aligned"; figcaption { "Baseline " (base_name) } }
                    figure { img src=(after) alt="session, aligned to the baseline"; figcaption { (s.session) ", aligned and colour-matched" } }
                }
                div.screen {
                    input.flick type="checkbox" id=(format!("flick-{anchor}"));
                    label for=(format!("flick-{anchor}")) { " flicker" }
                    span.muted.small { " — or drag the slider to wipe between the two" }
                    div.slider {
                        img src=(before) alt="baseline";
                        img.after src=(after) alt="session";
                        input type="range" min="0" max="100" value="50" aria-label="before/after position";
                    }
                }
            }
            div.pair {
                @if let (Some(before), Some(heat)) = (baseline_image, heat) {
                    figure {
                        div.overlay { img src=(before) alt="baseline"; img.heat src=(heat) alt="local roughness change"; }
                        figcaption {
                            "Local roughness change: " span.legend {} " smoother · unchanged · rougher (½× to 2×)"
                        }
                    }
                }
                @if let (Some(after), Some((w, h)), Some(m)) = (image.as_deref(), size, &s.metrics) {
                    figure {
                        svg viewBox=(format!("0 0 {w} {h}")) xmlns="http://www.w3.org/2000/svg" role="img" {
                            image href=(after) x="0" y="0" width=(w) height=(h) {}
                            @for p in &m.pores.positions {
                                circle cx=(p[0]) cy=(p[1]) r=((p[2] / 2.0).max(1.5)) fill="none" stroke="#ffd400" stroke-width=((w as f64 / 800.0).max(1.0)) {}
                            }
                            @for sc in &m.scars.scars {
                                circle cx=(sc.x) cy=(sc.y) r=(sc.diameter_px / 2.0) fill="none" stroke="#ff3b30" stroke-width=((w as f64 / 500.0).max(1.5)) {}
                            }
                        }
                        figcaption { (m.pores.count) " pores (yellow) and " (m.scars.count) " scars (red) found in this session" }
                    }
                }
            }
            @if s.change.is_empty() {
                p.muted { "Not measured: " (s.error.as_deref().or(s.alignment.as_ref().and_then(|a| a.message.as_deref())).unwrap_or("no common skin region with the baseline")) }
            } @else {
                table {
                    tr { th { "Metric" } th.num { "Baseline" } th.num { "This session" } th.num { "Change" } th { "In words" } }
                    @for d in defs {
                        @if let Some(c) = s.change.get(d.key) {
                            tr {
                                td { (d.label) }
                                td.num { (number(c.from, 3)) }
                                td.num { (number(c.to, 3)) }
                                td.num class=(change_class(c, d)) { (c.percent.map_or("–".into(), signed_percent)) }
                                td.small { (sentence(d, c)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// One small line chart per metric: value per session over the dates, with the 95 % interval of the
/// session's value (the baseline value plus the interval of the change) as a bar.
fn charts(view: &ViewReport, defs: &[&MetricDef]) -> Markup {
    // Each session's metrics as JSON once: `lookup` reads a metric by its report key.
    let measured: Vec<(&SessionEntry, serde_json::Value)> = view
        .sessions
        .iter()
        .filter_map(|s| Some((s, serde_json::to_value(s.metrics.as_ref()?).ok()?)))
        .collect();
    if measured.len() < 2 {
        return html! {};
    }
    html! {
        h3 { "Metrics over time" }
        div.charts {
            @for d in defs {
                @if let Some(svg) = chart(&measured, d) { div.chart { (svg) } }
            }
        }
    }
}

fn chart(sessions: &[(&SessionEntry, serde_json::Value)], def: &MetricDef) -> Option<Markup> {
    struct Point {
        day: f64,
        value: f64,
        interval: Option<[f64; 2]>,
    }
    let mut points: Vec<Point> = sessions
        .iter()
        .filter_map(|(s, values)| {
            let value = lookup(values, def.key)?;
            let interval = s
                .change
                .get(def.key)
                .and_then(|c| c.ci95_delta.map(|[lo, hi]| [c.from + lo, c.from + hi]));
            Some(Point {
                day: f64::from(s.days_from_baseline),
                value,
                interval,
            })
        })
        .collect();
    if points.len() < 2 {
        return None;
    }
    // Sessions before a later-chosen baseline have negative days; the axis spans whatever there is.
    points.sort_by(|a, b| a.day.total_cmp(&b.day));
    let (w, h, left, right, top, bottom) = (260.0, 140.0, 44.0, 8.0, 22.0, 22.0);
    let lows = points.iter().map(|p| p.interval.map_or(p.value, |i| i[0]));
    let highs = points.iter().map(|p| p.interval.map_or(p.value, |i| i[1]));
    let (mut lo, mut hi) = (
        lows.fold(f64::INFINITY, f64::min),
        highs.fold(f64::NEG_INFINITY, f64::max),
    );
    if hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater) {
        let pad = lo.abs().max(1e-9) * 0.05;
        (lo, hi) = (lo - pad, hi + pad);
    }
    let pad = (hi - lo) * 0.08;
    let (lo, hi) = (lo - pad, hi + pad);
    let (d0, d1) = (
        points[0].day,
        points[points.len() - 1].day.max(points[0].day + 1.0),
    );
    let x = |d: f64| left + (w - left - right) * (d - d0) / (d1 - d0);
    let y = |v: f64| top + (h - top - bottom) * (hi - v) / (hi - lo);
    let line: String = points
        .iter()
        .map(|p| format!("{:.1},{:.1}", x(p.day), y(p.value)))
        .collect::<Vec<_>>()
        .join(" ");
    let (first, last) = (points[0].day, points[points.len() - 1].day);
    Some(html! {
        svg viewBox=(format!("0 0 {w} {h}")) xmlns="http://www.w3.org/2000/svg" role="img" aria-label=(def.label) {
            text x="4" y="13" style="font-weight:600;fill:#1d2731" { (def.label) }
            line x1=(left) y1=(top) x2=(left) y2=(h - bottom) stroke="#d5dbe1" {}
            line x1=(left) y1=(h - bottom) x2=(w - right) y2=(h - bottom) stroke="#d5dbe1" {}
            text x=(left - 3.0) y=(y(hi - pad) + 3.0) text-anchor="end" { (number(hi - pad, 3)) }
            text x=(left - 3.0) y=(y(lo + pad) + 3.0) text-anchor="end" { (number(lo + pad, 3)) }
            text x=(left) y=(h - 6.0) { "day " (first) }
            text x=(w - right) y=(h - 6.0) text-anchor="end" { "day " (last) }
            @for p in &points {
                @if let Some([a, b]) = p.interval {
                    line x1=(format!("{:.1}", x(p.day))) y1=(format!("{:.1}", y(a))) x2=(format!("{:.1}", x(p.day))) y2=(format!("{:.1}", y(b))) stroke="#8aa9c4" stroke-width="3" {}
                }
            }
            polyline points=(line) fill="none" stroke="#21669c" stroke-width="1.5" {}
            @for p in &points {
                circle cx=(format!("{:.1}", x(p.day))) cy=(format!("{:.1}", y(p.value))) r="2.5" fill="#21669c" {}
            }
        }
    })
}

/// One line of `index.html`.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexEntry {
    /// Patient key.
    pub patient: String,
    /// The patient's output folder name (safe, see [`super::output_dir_name`]).
    pub dir: String,
    /// Views analysed.
    pub views: usize,
    /// Sessions with a photo, over all views.
    pub photos: usize,
    /// Problems listed in the report.
    pub errors: usize,
    /// The latest session's roughness Sq change vs baseline, first view, as a sentence.
    pub headline: Option<String>,
}

impl IndexEntry {
    /// The index line for a patient's report, whose folder is `dir`.
    #[must_use]
    pub fn new(report: &PatientReport, dir: String) -> Self {
        let defs = metrics_for(report.calibration.mm_per_px.is_some());
        let sq = defs.iter().find(|d| d.key == "roughness.sq");
        let headline = report.views.first().and_then(|v| {
            let latest = v.sessions.iter().rev().find(|s| !s.change.is_empty())?;
            let c = latest.change.get("roughness.sq")?;
            Some(format!(
                "{} ({}): {}",
                v.view,
                latest.session,
                sentence(sq?, c)
            ))
        });
        Self {
            patient: report.patient.clone(),
            dir,
            views: report.views.len(),
            photos: report.views.iter().map(|v| v.sessions.len()).sum(),
            errors: report.errors.len(),
            headline,
        }
    }
}

/// A link to a patient's page: the folder name may hold `%XX` escapes, which a URL must carry as
/// `%25XX` to reach the folder of that literal name.
fn href(dir: &str) -> String {
    format!("{}/report.html", dir.replace('%', "%25"))
}

/// `index.html`: every patient with a link to their report.
#[must_use]
pub fn index_page(entries: &[IndexEntry], version: &str) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "skintex reports" }
                style { (PreEscaped(css())) }
            }
            body {
                h1 { "skintex reports" }
                p.muted { (entries.len()) " patients · skintex " (version) " · metrics for all: "
                    a href="summary.csv" { "summary.csv" } }
                table {
                    tr { th { "Patient" } th.num { "Views" } th.num { "Photos" } th.num { "Problems" } th { "Latest texture change" } }
                    @for e in entries {
                        tr {
                            td { a href=(href(&e.dir)) { (e.patient) } }
                            td.num { (e.views) } td.num { (e.photos) }
                            td.num class=(if e.errors > 0 { "worse" } else { "" }) { (e.errors) }
                            td.small { (e.headline.as_deref().unwrap_or("–")) }
                        }
                    }
                }
                (about())
            }
        }
    }
    .into_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::tiles::METRICS;

    fn change(percent: f64, ci: [f64; 2], beyond: bool, improved: Option<bool>) -> Change {
        Change {
            from: 1.0,
            to: 1.0 + percent / 100.0,
            delta: percent / 100.0,
            percent: Some(percent),
            ci95: Some(ci),
            ci95_delta: Some([ci[0] / 100.0, ci[1] / 100.0]),
            noise_floor_percent: 2.0,
            beyond_noise: beyond,
            improved,
        }
    }

    #[test]
    fn sentences_say_size_interval_floor_and_direction() {
        let sq = &METRICS[1];
        assert_eq!(
            sentence(sq, &change(-18.0, [-22.0, -14.0], true, Some(true))),
            "Texture roughness Sq −18 % (95 % CI −22 to −14 %), beyond the 2 % noise floor: an improvement."
        );
        assert_eq!(
            sentence(sq, &change(1.2, [-0.5, 3.0], false, Some(false))),
            "Texture roughness Sq +1.2 % (95 % CI −0.50 to 3 %), within the 2 % noise floor: no measurable change."
        );
        assert!(
            sentence(sq, &change(5.0, [-1.0, 9.0], false, Some(false)))
                .contains("includes no change")
        );
        assert!(
            sentence(sq, &change(9.0, [5.0, 13.0], true, Some(false))).ends_with("a worsening.")
        );
    }

    #[test]
    fn numbers_have_significant_digits_and_a_true_minus() {
        assert_eq!(number(-18.04, 2), "−18");
        assert_eq!(number(0.012345, 3), "0.0123");
        assert_eq!(number(1234.4, 3), "1234");
        assert_eq!(number(0.0, 3), "0");
        assert_eq!(number(4.0, 3), "4");
        assert_eq!(number(-906.0, 2), "−906");
    }

    #[test]
    fn links_to_escaped_folder_names_reach_the_literal_folder() {
        assert_eq!(href("P%2E%2E"), "P%252E%252E/report.html");
        let entry = IndexEntry {
            patient: "<script>alert(1)</script>".into(),
            dir: "%3Cscript%3E".into(),
            views: 1,
            photos: 2,
            errors: 0,
            headline: None,
        };
        let page = index_page(&[entry], "0");
        assert!(!page.contains("<script>alert"));
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    }
}
