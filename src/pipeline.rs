//! Orchestration: from a discovered patient to its report.
//!
//! Per view, the baseline photo is decoded first and reduced to what registration needs (its pyramid
//! and keypoints, a low-passed copy for colour matching, its preview); the full-resolution planes are
//! then dropped. The other sessions of the view are decoded and registered in parallel, each dropped
//! as soon as it is done, so memory is bounded by the photos in flight (one per worker thread) plus
//! one reference, not by the size of the archive. The report is assembled in session order, so its
//! bytes do not depend on the thread count or on which photo finished first.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::Path;

use image::ImageEncoder;
use image::codecs::jpeg::JpegEncoder;
use rayon::prelude::*;

use crate::align::geometry::Affine;
use crate::align::photometric::{self, PhotometricMap, Shading};
use crate::align::preview::aligned_preview;
use crate::align::{self, AlignOptions, AlignStatus, Alignment, Prepared, Reference};
use crate::io::{self, CaptureDate, LoadOptions, Photo};
use crate::metrics::skin::SkinMask;
use crate::metrics::tiles::{self, TileSums, metrics_for};
use crate::metrics::{Frame, Measurement, MetricOptions, Scale, measure, summarise_view};
use crate::report::change::{compare, trends};
use crate::report::heatmap::roughness_change_png;
use crate::report::{
    AlignmentReport, Calibration, ChangeOptions, OutputImage, PatientReport, PhotoSummary,
    SessionEntry, ToolInfo, Trend, ViewReport, output_dir_name,
};
use crate::series::{InputIssue, Patient};

/// Settings for [`analyze_patient`].
#[derive(Debug, Clone)]
pub struct AnalyzeOptions {
    /// Decoding limits.
    pub load: LoadOptions,
    /// Registration settings.
    pub align: AlignOptions,
    /// Long side of the registered previews, px.
    pub preview_side: usize,
    /// Metric parameters.
    pub metrics: MetricOptions,
    /// Change statistics (bootstrap, noise floors).
    pub change: ChangeOptions,
}

impl Default for AnalyzeOptions {
    fn default() -> Self {
        Self {
            load: LoadOptions::default(),
            align: AlignOptions::default(),
            preview_side: 1024,
            metrics: MetricOptions::default(),
            change: ChangeOptions::default(),
        }
    }
}

/// What happened to one photo, for progress display.
#[derive(Debug, Clone)]
pub struct PhotoEvent<'a> {
    /// The patient key.
    pub patient: &'a str,
    /// The photo's path relative to the patient folder.
    pub file: &'a str,
    /// The error, if the photo could not be used.
    pub error: Option<&'a str>,
}

/// Everything [`analyze_patient`] produces for one patient.
#[derive(Debug, Clone)]
pub struct PatientOutput {
    /// `report.json`'s content.
    pub report: PatientReport,
    /// The previews the report refers to.
    pub images: Vec<OutputImage>,
}

/// The number of photos [`analyze_patient`] will report events for.
#[must_use]
pub fn photo_count(patient: &Patient) -> usize {
    if patient.config_error.is_some() {
        return 0;
    }
    patient.sessions.iter().map(|s| s.photos.len()).sum()
}

/// The baseline of one view, reduced to what registering and measuring the other sessions needs.
struct BaselineFrame {
    reference: Reference,
    shading: Shading,
    size: (usize, usize),
    frame: Frame,
    scale: Scale,
}

/// One session's outcome before it becomes a report entry.
struct Processed {
    /// Index into the patient's sessions (report order).
    index: usize,
    entry: SessionEntry,
    image: Option<OutputImage>,
    /// The roughness-change heat map, once the view is summarised.
    change_map: Option<OutputImage>,
    measurement: Option<Measurement>,
}

/// Analyses one patient: every photo of every view, in session order.
///
/// `on_photo` is called once per photo as it completes (from worker threads, in any order).
#[must_use]
pub fn analyze_patient(
    patient: &Patient,
    options: &AnalyzeOptions,
    on_photo: &(dyn Fn(&PhotoEvent<'_>) + Sync),
) -> PatientOutput {
    let mut errors = patient.issues.clone();
    let mut notes = patient.notes.clone();
    let mut views = Vec::new();
    let mut images = Vec::new();

    if patient.config_error.is_none() {
        for view in patient.views() {
            let jobs: Vec<(usize, &Path)> = patient
                .sessions
                .iter()
                .enumerate()
                .filter_map(|(i, s)| s.photos.get(&view).map(|p| (i, p.as_path())))
                .collect();
            let baseline_job = jobs.iter().find(|(i, _)| Some(*i) == patient.baseline);
            let (baseline, baseline_frame) = match baseline_job {
                Some(&(index, path)) => {
                    let (processed, frame) =
                        process_baseline(patient, &view, index, path, options, on_photo);
                    let why = processed
                        .entry
                        .error
                        .as_ref()
                        .map(|e| format!("the baseline photo of this view is unusable: {e}"));
                    (
                        Some(processed),
                        frame.ok_or_else(|| why.unwrap_or_default()),
                    )
                }
                None => (
                    None,
                    Err(format!(
                        "the baseline session has no '{view}' photo, so this view has nothing to be \
                         compared with"
                    )),
                ),
            };
            let others: Vec<Processed> = jobs
                .par_iter()
                .filter(|(i, _)| Some(*i) != patient.baseline)
                .map(|&(index, path)| {
                    process_session(
                        patient,
                        &view,
                        index,
                        path,
                        baseline_frame.as_ref(),
                        options,
                        on_photo,
                    )
                })
                .collect();
            let mut processed: Vec<Processed> = baseline.into_iter().chain(others).collect();
            processed.sort_by_key(|p| p.index);
            let mut trends = BTreeMap::new();
            if let Ok(base) = &baseline_frame {
                trends = measure_view(base, &view, &mut processed, options, &mut errors);
            }
            let mut entries = Vec::with_capacity(processed.len());
            for p in processed {
                let e = &p.entry;
                if let Some(err) = &e.error {
                    errors.push(InputIssue {
                        file: e.file.clone(),
                        error: err.clone(),
                    });
                } else if let Some(a) = &e.alignment {
                    let why = a.message.as_deref().unwrap_or("");
                    match a.status {
                        AlignStatus::Failed => errors.push(InputIssue {
                            file: e.file.clone(),
                            error: format!("alignment to the baseline failed: {why}"),
                        }),
                        AlignStatus::Poor => notes.push(format!(
                            "{}: alignment to the baseline is poor, not measured: {why}",
                            e.file
                        )),
                        AlignStatus::Ok | AlignStatus::Reference => {}
                    }
                }
                images.extend(p.image);
                images.extend(p.change_map);
                entries.push(p.entry);
            }
            let measured = entries.iter().any(|e| e.metrics.is_some());
            views.push(ViewReport {
                view,
                sessions: entries,
                trends,
                noise_floors: measured.then_some(options.change.noise),
            });
        }
    }

    let report = PatientReport {
        schema_version: crate::report::SCHEMA_VERSION,
        tool: ToolInfo::current(),
        patient: patient.key.clone(),
        calibration: Calibration {
            mm_per_px: patient.config.mm_per_px,
        },
        baseline: patient.baseline.map(|i| patient.sessions[i].name.clone()),
        views,
        notes,
        errors,
    };
    PatientOutput { report, images }
}

fn entry(patient: &Patient, index: usize, path: &Path) -> SessionEntry {
    let session = &patient.sessions[index];
    let baseline_date = patient.baseline.map(|i| patient.sessions[i].date);
    SessionEntry {
        session: session.name.clone(),
        date: session.date.to_string(),
        date_source: session.date_source,
        file: patient.relative(path),
        baseline: patient.baseline == Some(index),
        days_from_baseline: baseline_date.map_or(0, |b| (session.date - b).get_days()),
        photo: None,
        error: None,
        alignment: None,
        metrics: None,
        change: BTreeMap::new(),
        previous_session: None,
        change_from_previous: BTreeMap::new(),
        roughness_change_map: None,
    }
}

fn load(
    patient: &Patient,
    path: &Path,
    entry: &mut SessionEntry,
    options: &AnalyzeOptions,
    on_photo: &(dyn Fn(&PhotoEvent<'_>) + Sync),
) -> Option<Photo> {
    let outcome = io::load_photo(path, &options.load);
    let error = outcome.as_ref().err().map(ToString::to_string);
    on_photo(&PhotoEvent {
        patient: &patient.key,
        file: &entry.file,
        error: error.as_deref(),
    });
    entry.error = error;
    let photo = outcome.ok()?;
    entry.photo = Some(summarise(&photo));
    Some(photo)
}

fn process_baseline(
    patient: &Patient,
    view: &str,
    index: usize,
    path: &Path,
    options: &AnalyzeOptions,
    on_photo: &(dyn Fn(&PhotoEvent<'_>) + Sync),
) -> (Processed, Option<BaselineFrame>) {
    let mut entry = entry(patient, index, path);
    let Some(photo) = load(patient, path, &mut entry, options, on_photo) else {
        return (
            Processed {
                index,
                entry,
                image: None,
                change_map: None,
                measurement: None,
            },
            None,
        );
    };
    let size = (photo.width(), photo.height());
    let image = preview_image(
        &photo,
        view,
        &entry.session,
        &Affine::IDENTITY,
        &PhotometricMap::IDENTITY,
        size,
        options,
    );
    let reference = Alignment::reference();
    entry.alignment = Some(alignment_report(&reference, None, image.as_ref()));
    let skin = SkinMask::detect(&photo.rgb);
    let scale = Scale::new(patient.config.mm_per_px);
    let region = Frame::new(
        &skin,
        patient.config.roi_for(view),
        options.metrics.filter_margin_px(&scale),
        size,
    );
    let measurement = measure(
        photo.luminance.view(),
        &region,
        &scale,
        &Affine::IDENTITY,
        1.0,
        &options.metrics,
    );
    let frame = BaselineFrame {
        reference: Reference::new(photo.luminance.view(), Some(&skin), &options.align),
        shading: Shading::new(&photo.rgb),
        size,
        frame: region,
        scale,
    };
    (
        Processed {
            index,
            entry,
            image,
            change_map: None,
            measurement: Some(measurement),
        },
        Some(frame),
    )
}

fn process_session(
    patient: &Patient,
    view: &str,
    index: usize,
    path: &Path,
    baseline: Result<&BaselineFrame, &String>,
    options: &AnalyzeOptions,
    on_photo: &(dyn Fn(&PhotoEvent<'_>) + Sync),
) -> Processed {
    let mut entry = entry(patient, index, path);
    let Some(photo) = load(patient, path, &mut entry, options, on_photo) else {
        return Processed {
            index,
            entry,
            image: None,
            change_map: None,
            measurement: None,
        };
    };
    let base = match baseline {
        Ok(b) => b,
        Err(why) => {
            entry.alignment = Some(alignment_report(
                &Alignment::failed(why.clone()),
                None,
                None,
            ));
            return Processed {
                index,
                entry,
                image: None,
                change_map: None,
                measurement: None,
            };
        }
    };
    let session = Prepared::new(photo.luminance.view(), &options.align);
    let alignment = align::align(&base.reference, &session, &options.align);
    drop(session);
    let (photometric, image) = match alignment.status {
        AlignStatus::Ok | AlignStatus::Poor => {
            let map = photometric::fit(&base.shading, &Shading::new(&photo.rgb), &alignment.matrix);
            let image = preview_image(
                &photo,
                view,
                &entry.session,
                &alignment.matrix,
                &map.unwrap_or(PhotometricMap::IDENTITY),
                base.size,
                options,
            );
            (map, image)
        }
        AlignStatus::Failed | AlignStatus::Reference => (None, None),
    };
    entry.alignment = Some(alignment_report(&alignment, photometric, image.as_ref()));
    // Poorly aligned photos are not measured: their pixels would not be the baseline's skin.
    let measurement = (alignment.status == AlignStatus::Ok).then(|| {
        let slope = photometric.map_or(1.0, |m| m.luminance_log_slope);
        measure(
            photo.luminance.view(),
            &base.frame,
            &base.scale,
            &alignment.matrix,
            slope,
            &options.metrics,
        )
    });
    Processed {
        index,
        entry,
        image,
        change_map: None,
        measurement,
    }
}

/// Sums every measured photo of a view over the region they all saw and fills in their metrics, their
/// changes (against the baseline and the previous measured session) and roughness-change maps; returns
/// the view's trends. A view with too little skin in common gets one error instead of numbers.
fn measure_view(
    base: &BaselineFrame,
    view: &str,
    processed: &mut [Processed],
    options: &AnalyzeOptions,
    errors: &mut Vec<InputIssue>,
) -> BTreeMap<String, Trend> {
    let measured: Vec<usize> = processed
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.measurement.is_some().then_some(i))
        .collect();
    let measurements: Vec<&Measurement> = measured
        .iter()
        .filter_map(|&i| processed[i].measurement.as_ref())
        .collect();
    if measurements.is_empty() {
        return BTreeMap::new();
    }
    let summaries = summarise_view(&base.frame, &base.scale, &measurements, &options.metrics);
    for p in processed.iter_mut() {
        p.measurement = None;
    }
    let summaries = match summaries {
        Ok(s) => s,
        Err(why) => {
            let file = processed
                .iter()
                .find(|p| p.entry.baseline)
                .map_or_else(String::new, |p| p.entry.file.clone());
            errors.push(InputIssue { file, error: why });
            return BTreeMap::new();
        }
    };
    // A photo without texture (blank, saturated) is an error of its own; the others go on.
    let mut kept = Vec::new();
    let mut kept_summaries = Vec::new();
    for (&i, summary) in measured.iter().zip(summaries) {
        match summary {
            Ok(s) => {
                kept.push(i);
                kept_summaries.push(s);
            }
            Err(why) => errors.push(InputIssue {
                file: processed[i].entry.file.clone(),
                error: why,
            }),
        }
    }
    let (measured, summaries) = (kept, kept_summaries);
    let defs = metrics_for(base.scale.calibrated());
    let baseline_k = measured.iter().position(|&i| processed[i].entry.baseline);
    let baseline = baseline_k.map(|k| &summaries[k]);
    for (k, (&i, summary)) in measured.iter().zip(&summaries).enumerate() {
        let entry = &mut processed[i].entry;
        entry.metrics = Some(summary.metrics.clone());
        let Some(reference) = baseline.filter(|_| !entry.baseline) else {
            continue;
        };
        // Each comparison has its own bootstrap stream, fixed by its place in the report.
        let stream = (processed[i].index as u64) << 1;
        entry.change = compare(
            &reference.tiles,
            &summary.tiles,
            &base.scale,
            &defs,
            &options.change,
            stream,
        );
        if let Some(prev) = k.checked_sub(1).map(|p| (measured[p], &summaries[p])) {
            let previous = processed[prev.0].entry.session.clone();
            let entry = &mut processed[i].entry;
            entry.previous_session = Some(previous);
            entry.change_from_previous = compare(
                &prev.1.tiles,
                &summary.tiles,
                &base.scale,
                &defs,
                &options.change,
                stream | 1,
            );
        }
        if let Some(png) = roughness_change_png(
            &reference.local_sq,
            &summary.local_sq,
            base.frame.cell(),
            base.size,
        ) {
            let path = format!(
                "images/{}/{}-roughness-change.png",
                output_dir_name(OsStr::new(view)),
                output_dir_name(OsStr::new(&processed[i].entry.session))
            );
            processed[i].entry.roughness_change_map = Some(path.clone());
            processed[i].change_map = Some(OutputImage { path, bytes: png });
        }
    }
    let series: Vec<(i32, TileSums)> = measured
        .iter()
        .zip(&summaries)
        .map(|(&i, s)| {
            let all = vec![1; s.tiles.len()];
            (
                processed[i].entry.days_from_baseline,
                tiles::total(&s.tiles, &all),
            )
        })
        .collect();
    let points: Vec<(i32, &TileSums)> = series.iter().map(|(d, t)| (*d, t)).collect();
    let baseline_sums = baseline_k.map(|k| &series[k].1);
    trends(&points, baseline_sums, &base.scale, &defs)
}

fn preview_image(
    photo: &Photo,
    view: &str,
    session: &str,
    to_baseline: &Affine,
    photometric: &PhotometricMap,
    baseline_size: (usize, usize),
    options: &AnalyzeOptions,
) -> Option<OutputImage> {
    let img = aligned_preview(
        &photo.rgb,
        to_baseline,
        photometric,
        baseline_size,
        options.preview_side,
    )?;
    let mut jpeg = Vec::new();
    JpegEncoder::new_with_quality(&mut jpeg, 85)
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::Rgb8,
        )
        .ok()?;
    Some(OutputImage {
        path: format!(
            "images/{}/{}.jpg",
            output_dir_name(OsStr::new(view)),
            output_dir_name(OsStr::new(session))
        ),
        bytes: jpeg,
    })
}

fn alignment_report(
    a: &Alignment,
    photometric: Option<PhotometricMap>,
    image: Option<&OutputImage>,
) -> AlignmentReport {
    AlignmentReport {
        status: a.status,
        matrix: a.matrix.to_matrix3(),
        ncc: a.ncc,
        residual_px: a.residual_px,
        message: a.message.clone(),
        overlap: a.overlap,
        method: a.method,
        matches: a.matches,
        inliers: a.inliers,
        photometric,
        preview: image.map(|i| i.path.clone()),
    }
}

fn summarise(photo: &Photo) -> PhotoSummary {
    PhotoSummary {
        width: photo.width(),
        height: photo.height(),
        format: photo.meta.format,
        bits_per_sample: photo.meta.bits_per_sample,
        orientation: photo.meta.orientation,
        taken: match &photo.meta.capture_date {
            CaptureDate::Taken(dt) => Some(dt.to_string()),
            _ => None,
        },
    }
}
