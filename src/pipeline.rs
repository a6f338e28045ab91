//! Orchestration: from a discovered patient to its report.
//!
//! Each photo is decoded once and dropped as soon as it has been summarised, so memory is bounded by
//! the photos in flight (one per worker thread), not by the size of the archive. Photos of one patient
//! are processed in parallel; the report is assembled in a fixed order, so its bytes do not depend on
//! the thread count or on which photo finished first.

use std::path::Path;

use rayon::prelude::*;

use crate::io::{self, CaptureDate, LoadOptions};
use crate::report::{Calibration, PatientReport, PhotoSummary, SessionEntry, ToolInfo, ViewReport};
use crate::series::{InputIssue, Patient};

/// Settings for [`analyze_patient`].
#[derive(Debug, Clone, Default)]
pub struct AnalyzeOptions {
    /// Decoding limits.
    pub load: LoadOptions,
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

/// The number of photos [`analyze_patient`] will report events for.
#[must_use]
pub fn photo_count(patient: &Patient) -> usize {
    if patient.config_error.is_some() {
        return 0;
    }
    patient.sessions.iter().map(|s| s.photos.len()).sum()
}

/// Analyses one patient: every photo of every view, in session order.
///
/// `on_photo` is called once per photo as it completes (from worker threads, in any order).
#[must_use]
pub fn analyze_patient(
    patient: &Patient,
    options: &AnalyzeOptions,
    on_photo: &(dyn Fn(&PhotoEvent<'_>) + Sync),
) -> PatientReport {
    let baseline_date = patient.baseline.map(|i| patient.sessions[i].date);
    let mut errors = patient.issues.clone();
    let mut views = Vec::new();

    if patient.config_error.is_none() {
        for view in patient.views() {
            let jobs: Vec<(usize, &Path)> = patient
                .sessions
                .iter()
                .enumerate()
                .filter_map(|(i, s)| s.photos.get(&view).map(|p| (i, p.as_path())))
                .collect();
            let entries: Vec<SessionEntry> = jobs
                .par_iter()
                .map(|&(index, path)| {
                    let session = &patient.sessions[index];
                    let file = patient.relative(path);
                    let outcome = io::load_photo(path, &options.load);
                    let error = outcome.as_ref().err().map(ToString::to_string);
                    on_photo(&PhotoEvent {
                        patient: &patient.key,
                        file: &file,
                        error: error.as_deref(),
                    });
                    SessionEntry {
                        session: session.name.clone(),
                        date: session.date.to_string(),
                        date_source: session.date_source,
                        file,
                        baseline: patient.baseline == Some(index),
                        days_from_baseline: baseline_date
                            .map_or(0, |b| (session.date - b).get_days()),
                        photo: outcome.ok().map(|photo| summarise(&photo)),
                        error,
                    }
                })
                .collect();
            errors.extend(entries.iter().filter_map(|e| {
                e.error.as_ref().map(|err| InputIssue {
                    file: e.file.clone(),
                    error: err.clone(),
                })
            }));
            views.push(ViewReport {
                view,
                sessions: entries,
            });
        }
    }

    PatientReport {
        schema_version: crate::report::SCHEMA_VERSION,
        tool: ToolInfo::current(),
        patient: patient.key.clone(),
        calibration: Calibration {
            mm_per_px: patient.config.mm_per_px,
        },
        baseline: patient.baseline.map(|i| patient.sessions[i].name.clone()),
        views,
        notes: patient.notes.clone(),
        errors,
    }
}

fn summarise(photo: &io::Photo) -> PhotoSummary {
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
