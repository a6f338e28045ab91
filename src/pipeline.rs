//! Orchestration: from a discovered patient to its report.
//!
//! Per view, the baseline photo is decoded and reduced to what registration needs (its pyramid and
//! keypoints, a low-passed copy for colour matching, its preview, a half-resolution copy of its colour
//! that tells scars from pigment spots); the full-resolution planes are then dropped. Beside it, the first other session is decoded and reduced to its colour planes, pyramid,
//! low-passed colour and preview source, none of which needs the baseline, so that the serial
//! stretches of decoding use the core the baseline's work leaves idle. The other sessions are then
//! decoded, registered and measured in parallel, each dropped as soon as it is done, so memory is
//! bounded by the photos in flight (one per worker thread, plus the head start) and one reference,
//! not by the size of the archive. The report is assembled in session order, so its bytes do not
//! depend on the thread count or on which photo finished first.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::Path;

use image::ImageEncoder;
use image::codecs::jpeg::JpegEncoder;
use ndarray::Array2;
use rayon::prelude::*;

use crate::align::geometry::Affine;
use crate::align::photometric::{self, PhotometricMap, Shading};
use crate::align::preview::{PreviewSource, aligned_preview};
use crate::align::{self, AlignOptions, AlignStatus, Alignment, Prepared, Reference};
use crate::io::{self, CaptureDate, LoadOptions, Photo};
use crate::metrics::face::FaceBox;
use crate::metrics::pigment::HalfColour;
use crate::metrics::region::BaselineRegion;
use crate::metrics::tiles::{self, TileSums, metrics_for};
use crate::metrics::{Frame, Measurement, MetricOptions, Scale, measure, summarise_view};
use crate::report::change::{Change, compare, trends};
use crate::report::heatmap::roughness_change_png;
use crate::report::{
    AlignmentReport, Calibration, ChangeOptions, OutputImage, PatientReport, PhotoSummary,
    SessionEntry, ToolInfo, Trend, ViewReport, output_dir_name,
};
use crate::series::{self, InputIssue, Patient, Roi};

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
    /// The face the measured region is limited to (none without a face found, with an roi, or
    /// with too little skin within the face: [`BaselineRegion::new`]).
    face: Option<FaceBox>,
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

impl Processed {
    /// A session that produced no image and no measurement (its entry says why).
    fn unmeasured(index: usize, entry: SessionEntry) -> Self {
        Self {
            index,
            entry,
            image: None,
            change_map: None,
            measurement: None,
        }
    }
}

/// The baseline photo of a view, once processed.
struct BaselineOutcome {
    processed: Processed,
    /// What the other sessions are registered to and measured on, or why there is nothing.
    frame: Result<BaselineFrame, String>,
    /// A problem with the patient's `series.toml` that only the baseline photo reveals (an ROI
    /// outside it), reported against `series.toml` rather than the photo.
    config_issue: Option<String>,
    /// Remarks for the report's notes.
    notes: Vec<String>,
}

/// Runs one step of the analysis, turning a panic into an error message.
///
/// Nothing here panics on input data by design (and the fuzz targets check the decoders); this is
/// the second line of defence, so that if a bug does slip through, the photo it hit is reported as an
/// error and the rest of the batch is still analysed.
fn guarded<T>(what: &str, step: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(step)).map_err(|payload| {
        let detail = payload
            .downcast_ref::<&str>()
            .map(ToString::to_string)
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".into());
        format!(
            "internal error while {what} ({detail}); this is a bug in skintex: please report it, \
             with the photo if you can share it"
        )
    })
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
            let others: Vec<(usize, &Path)> = jobs
                .iter()
                .filter(|(i, _)| Some(*i) != patient.baseline)
                .copied()
                .collect();
            // The first other session is decoded and its pyramid built beside the baseline's work
            // (which needs neither): decoding is mostly serial, and the baseline's own serial stretches
            // left a core idle (a 12 MP `compare` ran at 1.35–1.8 cores of 2 before the session's
            // turn). It costs one more photo in flight per patient.
            let (baseline_outcome, head_start) = rayon::join(
                || {
                    baseline_job.map(|&(index, path)| {
                        let outcome = guarded("analysing the baseline photo", || {
                            process_baseline(patient, &view, index, path, options, on_photo)
                        });
                        (index, path, outcome)
                    })
                },
                || {
                    // Without a baseline photo there is nothing to register to: no head start.
                    let &(index, path) = others.first().filter(|_| baseline_job.is_some())?;
                    Some(guarded("analysing this photo", || {
                        load_session(patient, index, path, true, options, on_photo)
                    }))
                },
            );
            let (baseline, baseline_frame) = match baseline_outcome {
                Some((index, path, outcome)) => {
                    let outcome = outcome.unwrap_or_else(|why| {
                        let mut failed = entry(patient, index, path);
                        failed.error = Some(why.clone());
                        BaselineOutcome {
                            processed: Processed::unmeasured(index, failed),
                            frame: Err(format!(
                                "the baseline photo of this view is unusable: {why}"
                            )),
                            config_issue: None,
                            notes: Vec::new(),
                        }
                    });
                    if let Some(problem) = outcome.config_issue {
                        errors.push(InputIssue {
                            file: series::config::CONFIG_FILE_NAME.into(),
                            error: problem,
                        });
                    }
                    notes.extend(outcome.notes);
                    (Some(outcome.processed), outcome.frame)
                }
                None => {
                    let why = format!(
                        "the baseline session has no '{view}' photo, so this view has nothing to be \
                         compared with; add one, or choose another baseline in series.toml"
                    );
                    // One entry for the view, against its earliest photo (not one per session).
                    if let Some(&(_, first)) = jobs.first() {
                        errors.push(InputIssue {
                            file: patient.relative(first),
                            error: why.clone(),
                        });
                    }
                    (None, Err(why))
                }
            };
            let finish = |index: usize, path: &Path, loaded: Result<Loaded, String>| {
                loaded
                    .and_then(|loaded| {
                        guarded("analysing this photo", || {
                            process_session(&view, loaded, baseline_frame.as_ref(), options)
                        })
                    })
                    .unwrap_or_else(|why| {
                        let mut failed = entry(patient, index, path);
                        failed.error = Some(why);
                        Processed::unmeasured(index, failed)
                    })
            };
            // The head-started session finishes beside the others, which go as before: decoded,
            // registered and measured in parallel, one per free worker.
            let head_started = usize::from(head_start.is_some());
            let (first, rest) = rayon::join(
                || {
                    others
                        .first()
                        .zip(head_start)
                        .map(|(&(index, path), loaded)| finish(index, path, loaded))
                },
                || {
                    others
                        .get(head_started..)
                        .unwrap_or_default()
                        .par_iter()
                        .map(|&(index, path)| {
                            let loaded = guarded("analysing this photo", || {
                                load_session(
                                    patient,
                                    index,
                                    path,
                                    baseline_frame.is_ok(),
                                    options,
                                    on_photo,
                                )
                            });
                            finish(index, path, loaded)
                        })
                        .collect::<Vec<Processed>>()
                },
            );
            let mut processed: Vec<Processed> =
                baseline.into_iter().chain(first).chain(rest).collect();
            processed.sort_by_key(|p| p.index);
            let mut trends = BTreeMap::new();
            if let Ok(base) = &baseline_frame {
                let measured = guarded("measuring this view", || {
                    measure_view(base, &view, &mut processed, options, &mut errors)
                });
                match measured {
                    Ok(t) => trends = t,
                    Err(why) => {
                        for p in &mut processed {
                            p.entry.metrics = None;
                            p.entry.change.clear();
                            p.entry.change_from_previous.clear();
                            p.entry.roughness_change_map = None;
                            p.change_map = None;
                        }
                        let file = processed
                            .iter()
                            .find(|p| p.entry.baseline)
                            .map_or_else(String::new, |p| p.entry.file.clone());
                        errors.push(InputIssue { file, error: why });
                    }
                }
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
                        // Without a usable baseline the view's one problem is already reported.
                        AlignStatus::Failed if baseline_frame.is_err() => {}
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
                face: baseline_frame.as_ref().ok().and_then(|f| f.face),
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

/// Photos smaller than this on either side are refused after decoding: registration needs a pyramid
/// of several levels and the metrics need room for their filters, so a thumbnail, a 1×N strip or a
/// sliver of extreme aspect ratio gets one clear error instead of a failure deep inside a later stage.
pub const MIN_PHOTO_SIDE: usize = 32;

/// Decodes a photo as the analysis does, with the same checks and messages: what `skintex check`
/// runs on every photo, and the first step of analysing one.
///
/// # Errors
/// Why the photo cannot be used, as the report states it.
pub fn load_checked(path: &Path, options: &LoadOptions) -> Result<Photo, String> {
    let photo = io::load_photo(path, options).map_err(|e| e.to_string())?;
    let (w, h) = (photo.width(), photo.height());
    if w < MIN_PHOTO_SIDE || h < MIN_PHOTO_SIDE {
        return Err(format!(
            "the photo is only {w}×{h} px, too small to register or measure: skintex needs at least \
             {MIN_PHOTO_SIDE} px on each side (is it a thumbnail? use the original)"
        ));
    }
    Ok(photo)
}

fn load(
    patient: &Patient,
    path: &Path,
    entry: &mut SessionEntry,
    options: &AnalyzeOptions,
    on_photo: &(dyn Fn(&PhotoEvent<'_>) + Sync),
) -> Option<Photo> {
    let outcome = load_checked(path, &options.load);
    let error = outcome.as_ref().err().cloned();
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
) -> BaselineOutcome {
    let mut entry = entry(patient, index, path);
    let Some(photo) = load(patient, path, &mut entry, options, on_photo) else {
        let why = format!(
            "the baseline photo of this view is unusable: {}",
            entry.error.as_deref().unwrap_or("")
        );
        return BaselineOutcome {
            processed: Processed::unmeasured(index, entry),
            frame: Err(why),
            config_issue: None,
            notes: Vec::new(),
        };
    };
    let size = (photo.width(), photo.height());
    let roi = patient.config.roi_for(view);
    let (roi_problem, note) = check_roi(roi, view, size);
    if let Some(problem) = roi_problem {
        return BaselineOutcome {
            processed: Processed::unmeasured(index, entry),
            frame: Err(format!("not measured: {problem}")),
            config_issue: Some(problem),
            notes: Vec::new(),
        };
    }
    let image = preview_image(
        &PreviewSource::new(&photo.rgb, options.preview_side),
        view,
        &entry.session,
        &Affine::IDENTITY,
        &PhotometricMap::IDENTITY,
        size,
        options,
    );
    let reference = Alignment::reference();
    entry.alignment = Some(alignment_report(&reference, None, image.as_ref()));
    let scale = Scale::new(patient.config.mm_per_px);
    // Skin colour minus what is skin-coloured but not skin surface (brows, lashes, hair, nostrils:
    // every strand would read as a pore), within the face.
    let BaselineRegion {
        skin,
        frame: region,
        face,
        note: face_note,
    } = BaselineRegion::new(
        &photo.rgb,
        photo.luminance.view(),
        &scale,
        roi,
        &options.metrics,
    );
    let shading = Shading::new(&photo.rgb);
    // Scars are told from pigment spots by their colour; half resolution does for that, and the
    // full-resolution planes go before the metrics' temporaries are allocated (144 MB at 12 MP; the
    // peak sets how much fresh memory must be faulted in).
    let colour = HalfColour::new(&photo.rgb);
    let Photo { rgb, luminance, .. } = photo;
    drop(rgb);
    let measurement = measure(
        luminance.view(),
        &colour,
        &region,
        &scale,
        &Affine::IDENTITY,
        1.0,
        &options.metrics,
    );
    drop(colour);
    let frame = BaselineFrame {
        reference: Reference::new(luminance.view(), Some(&skin), &options.align),
        shading,
        size,
        frame: region,
        scale,
        face,
    };
    BaselineOutcome {
        processed: Processed {
            index,
            entry,
            image,
            change_map: None,
            measurement: Some(measurement),
        },
        frame: Ok(frame),
        config_issue: None,
        notes: note
            .into_iter()
            .chain(face_note.map(|n| format!("{view}: {n}")))
            .collect(),
    }
}

/// Checks a view's region of interest against its baseline photo: one wholly outside the photo is an
/// error (the view would be measured on nothing); one reaching past an edge is clipped, with a note.
fn check_roi(
    roi: Option<Roi>,
    view: &str,
    (width, height): (usize, usize),
) -> (Option<String>, Option<String>) {
    let Some(r) = roi else {
        return (None, None);
    };
    let (x, y) = (r.x as usize, r.y as usize);
    let (right, bottom) = (
        x.saturating_add(r.width as usize),
        y.saturating_add(r.height as usize),
    );
    let described = format!("[{}, {}, {}, {}]", r.x, r.y, r.width, r.height);
    if x >= width || y >= height {
        return (
            Some(format!(
                "the roi {described} of view '{view}' lies outside its {width}×{height} px baseline \
                 photo; give [x, y, w, h] in that photo's pixels"
            )),
            None,
        );
    }
    if right > width || bottom > height {
        return (
            None,
            Some(format!(
                "series.toml: the roi {described} of view '{view}' reaches past the edge of its \
                 {width}×{height} px baseline photo; only the part inside it is measured"
            )),
        );
    }
    (None, None)
}

/// A session's photo reduced to what registering, colour-matching, previewing and measuring it need:
/// the part of a session's work that does not need the baseline. It keeps the full-resolution colour
/// planes (144 MB at 12 MP, 96 MB more than its luminance alone): the luminance the metrics measure
/// depends on the white balance that only the fit against the baseline gives.
struct SessionInput {
    /// Linear R, G, B: the luminance the metrics measure is taken from them once the photometric fit
    /// gives the white balance between this photo and the baseline (see
    /// [`PhotometricMap::skin_luminance_weights`]).
    rgb: [Array2<f32>; 3],
    prepared: Prepared,
    shading: Shading,
    preview: PreviewSource,
}

/// A session photo once loaded: `input` is `None` when it could not be used (`entry.error` says
/// why) or was only checked, there being no baseline to register it to.
struct Loaded {
    index: usize,
    entry: SessionEntry,
    input: Option<SessionInput>,
}

/// Decodes a session photo and, if `prepare` (the view has a usable baseline, or may have), reduces it
/// to its [`SessionInput`].
fn load_session(
    patient: &Patient,
    index: usize,
    path: &Path,
    prepare: bool,
    options: &AnalyzeOptions,
    on_photo: &(dyn Fn(&PhotoEvent<'_>) + Sync),
) -> Loaded {
    let mut entry = entry(patient, index, path);
    let photo = load(patient, path, &mut entry, options, on_photo);
    let input = photo.filter(|_| prepare).map(|photo| {
        let Photo { rgb, luminance, .. } = photo;
        let shading = Shading::new(&rgb);
        let preview = PreviewSource::new(&rgb, options.preview_side);
        let prepared = Prepared::new(luminance.view(), &options.align);
        drop(luminance);
        SessionInput {
            rgb,
            prepared,
            shading,
            preview,
        }
    });
    Loaded {
        index,
        entry,
        input,
    }
}

fn process_session(
    view: &str,
    loaded: Loaded,
    baseline: Result<&BaselineFrame, &String>,
    options: &AnalyzeOptions,
) -> Processed {
    let Loaded {
        index,
        mut entry,
        input,
    } = loaded;
    if entry.error.is_some() {
        return Processed::unmeasured(index, entry);
    }
    let base = match baseline {
        Ok(b) => b,
        Err(why) => {
            entry.alignment = Some(alignment_report(
                &Alignment::failed(why.clone()),
                None,
                None,
            ));
            return Processed::unmeasured(index, entry);
        }
    };
    // Not reached: with a usable baseline every readable session is prepared.
    let Some(SessionInput {
        rgb,
        prepared,
        shading,
        preview,
    }) = input
    else {
        return Processed::unmeasured(index, entry);
    };
    let alignment = align::align(&base.reference, &prepared, &options.align);
    drop(prepared);
    let (photometric, image) = match alignment.status {
        AlignStatus::Ok | AlignStatus::Poor => {
            let skin = |x: f64, y: f64| base.frame.is_skin(x, y);
            let map = photometric::fit(&base.shading, &shading, &alignment.matrix, &skin);
            let image = preview_image(
                &preview,
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
        let map = photometric.unwrap_or(PhotometricMap::IDENTITY);
        let luminance = weighted_luminance(&rgb, map.skin_luminance_weights());
        let colour = HalfColour::new(&rgb);
        drop(rgb);
        let slope = map.luminance_log_slope;
        measure(
            luminance.view(),
            &colour,
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

/// `Σ weights[c] · rgb[c]` per pixel, in parallel over rows.
fn weighted_luminance(rgb: &[Array2<f32>; 3], weights: [f32; 3]) -> Array2<f32> {
    let mut out = Array2::zeros(rgb[0].dim());
    ndarray::Zip::from(&mut out)
        .and(&rgb[0])
        .and(&rgb[1])
        .and(&rgb[2])
        .par_for_each(|y, &r, &g, &b| *y = weights[0] * r + weights[1] * g + weights[2] * b);
    out
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
    // Every comparison (against the baseline, and against the previous measured session) is a 2000-
    // replicate bootstrap on one thread, about 25 ms at 12 MP: they are independent, so they run in
    // parallel (each has its own bootstrap stream, fixed by its place in the report, so the result
    // does not depend on threads). Task (k, false) compares session k with the baseline, (k, true)
    // with session k − 1.
    let tasks: Vec<(usize, bool)> = (0..measured.len())
        .filter(|&k| baseline.is_some() && !processed[measured[k]].entry.baseline)
        .flat_map(|k| std::iter::once((k, false)).chain((k > 0).then_some((k, true))))
        .collect();
    let mut comparisons: BTreeMap<(usize, bool), BTreeMap<String, Change>> = tasks
        .par_iter()
        .filter_map(|&(k, previous)| {
            let reference = if previous {
                &summaries[k - 1]
            } else {
                baseline?
            };
            let stream = ((processed[measured[k]].index as u64) << 1) | u64::from(previous);
            let change = compare(
                &reference.tiles,
                &summaries[k].tiles,
                &base.scale,
                &defs,
                &options.change,
                stream,
            );
            Some(((k, previous), change))
        })
        .collect();
    for (k, (&i, summary)) in measured.iter().zip(&summaries).enumerate() {
        let entry = &mut processed[i].entry;
        entry.metrics = Some(summary.metrics.clone());
        let Some(reference) = baseline.filter(|_| !entry.baseline) else {
            continue;
        };
        entry.change = comparisons.remove(&(k, false)).unwrap_or_default();
        if let Some(prev) = k.checked_sub(1).map(|p| measured[p]) {
            let previous = processed[prev].entry.session.clone();
            let entry = &mut processed[i].entry;
            entry.previous_session = Some(previous);
            entry.change_from_previous = comparisons.remove(&(k, true)).unwrap_or_default();
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
    source: &PreviewSource,
    view: &str,
    session: &str,
    to_baseline: &Affine,
    photometric: &PhotometricMap,
    baseline_size: (usize, usize),
    options: &AnalyzeOptions,
) -> Option<OutputImage> {
    let img = aligned_preview(
        source,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_in_a_step_becomes_that_step_s_error() {
        let outcome: Result<(), String> = guarded("measuring this view", || panic!("index 7 of 3"));
        let message = outcome.unwrap_err();
        assert!(message.contains("measuring this view"), "{message}");
        assert!(message.contains("index 7 of 3"), "{message}");
        assert_eq!(guarded("adding", || 2 + 2), Ok(4));
    }

    #[test]
    fn roi_outside_the_photo_is_an_error_and_past_an_edge_a_note() {
        let roi = |x, y, w, h| Some(Roi::from([x, y, w, h]));
        assert_eq!(check_roi(None, "front", (400, 300)), (None, None));
        assert_eq!(
            check_roi(roi(0, 0, 400, 300), "front", (400, 300)),
            (None, None)
        );
        let (error, note) = check_roi(roi(400, 0, 10, 10), "front", (400, 300));
        assert!(error.unwrap().contains("lies outside its 400×300 px"));
        assert!(note.is_none());
        let (error, note) = check_roi(roi(390, 290, 20, 20), "front", (400, 300));
        assert!(error.is_none());
        assert!(note.unwrap().contains("reaches past the edge"));
    }
}
