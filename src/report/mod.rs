//! The report contract (`report.json`, schema_version 1) and how reports reach the disk.
//!
//! Field names here are read by other tools (see DESIGN.md): add fields freely, never rename one.
//! Stages that have not run leave their fields out (`alignment`, `metrics` and `change` appear as the
//! alignment, metrics and change-statistics stages fill them).
//!
//! Every file is written atomically ([`write_atomic`]): a killed run leaves either the previous
//! report or the new one, never half of one.

pub mod change;
pub mod fhir;
pub mod heatmap;
pub mod html;
pub mod merge;
pub mod output;
pub mod regress;
pub mod table;
pub mod write;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use change::{Change, ChangeOptions, NoiseFloors, Trend};
pub use output::{
    input_name_bytes, output_dir_name, remove_stale_temporaries, write_atomic, write_json_atomic,
};

use crate::align::photometric::PhotometricMap;
use crate::align::{AlignStatus, CoarseMethod};
use crate::series::{DateSource, InputIssue};

/// An image the report refers to, written beside `report.json` and embedded in `report.html`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputImage {
    /// Path relative to the patient's report folder, `/`-separated, made of safe names only.
    pub path: String,
    /// The encoded file (JPEG or PNG, as the path's extension says).
    pub bytes: Vec<u8>,
}

impl OutputImage {
    /// The MIME type its extension names.
    #[must_use]
    pub fn mime(&self) -> &'static str {
        if self.path.ends_with(".png") {
            "image/png"
        } else {
            "image/jpeg"
        }
    }
}

/// Version of the `report.json` layout; bumped only if a field changes meaning.
pub const SCHEMA_VERSION: u32 = 1;

/// The program that wrote a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ToolInfo {
    /// Always `skintex`.
    pub name: String,
    /// The crate version.
    pub version: String,
}

impl ToolInfo {
    /// This build of skintex.
    #[must_use]
    pub fn current() -> Self {
        Self {
            name: env!("CARGO_PKG_NAME").into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

/// Physical scale of the photos.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Calibration {
    /// Millimetres per baseline pixel, or `null` when `series.toml` gives none.
    pub mm_per_px: Option<f64>,
}

/// What was decoded from a photo file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PhotoSummary {
    /// Width after EXIF orientation, px.
    pub width: usize,
    /// Height after EXIF orientation, px.
    pub height: usize,
    /// Container format (`jpeg`, `png`, `tiff`).
    pub format: crate::io::PhotoFormat,
    /// Bits per stored sample.
    pub bits_per_sample: u8,
    /// EXIF orientation code that was applied (1 = none).
    pub orientation: u8,
    /// EXIF capture date-time (`YYYY-MM-DDTHH:MM:SS`), when present and valid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub taken: Option<String>,
}

/// One session's photo of one view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SessionEntry {
    /// Session folder name.
    pub session: String,
    /// Session date, `YYYY-MM-DD`.
    pub date: String,
    /// Where the date came from (`folder_name` or `exif`).
    pub date_source: DateSource,
    /// Photo path relative to the patient folder.
    pub file: String,
    /// True for the baseline session.
    pub baseline: bool,
    /// Days since the baseline session (negative before it).
    pub days_from_baseline: i32,
    /// The decoded photo, when it could be decoded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub photo: Option<PhotoSummary>,
    /// Why this photo could not be used, when it could not (also listed in the patient's `errors`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Registration to the baseline photo of this view, when the photo was decoded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alignment: Option<AlignmentReport>,
    /// Skin metrics over the view's common region (absent when the photo was not measured: unreadable,
    /// not aligned well enough, or too little skin in common).
    pub metrics: Option<crate::metrics::SessionMetrics>,
    /// Change of every scalar metric against the baseline, keyed `<group>.<field>` (absent for the
    /// baseline and for sessions not measured).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub change: BTreeMap<String, Change>,
    /// The measured session before this one that `change_from_previous` compares with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_session: Option<String>,
    /// Change against `previous_session`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub change_from_previous: BTreeMap<String, Change>,
    /// Heat map of the local roughness change against the baseline (PNG over the baseline preview's
    /// frame), relative to the patient's report folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roughness_change_map: Option<String>,
}

/// Registration of one session photo to the baseline (contract fields first, then extras).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AlignmentReport {
    /// `reference` (the baseline), `ok`, `poor` (not measured) or `failed` (not measured).
    pub status: AlignStatus,
    /// Session pixel `(x, y, 1)` → baseline pixel; pixel centres, origin at the top-left pixel centre.
    pub matrix: [[f64; 3]; 3],
    /// Normalised cross-correlation of the band-passed log-luminance over the overlap.
    pub ncc: Option<f64>,
    /// RMS local misregistration left after the fit, baseline pixels.
    pub residual_px: Option<f64>,
    /// Why the status is not `ok`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Fraction of the baseline frame the session photo covers.
    pub overlap: Option<f64>,
    /// How the coarse estimate was found (`features`; `none` for the baseline).
    pub method: CoarseMethod,
    /// Mutual keypoint matches found.
    pub matches: usize,
    /// Matches consistent with the coarse transform.
    pub inliers: usize,
    /// Per-channel gain (`exp(log_offset)`) and gamma (`log_slope`) applied to bring the session's
    /// linear values onto the baseline's, when fitted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub photometric: Option<PhotometricMap>,
    /// The registered, colour-matched preview, relative to the patient's report folder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preview: Option<String>,
}

/// All sessions of one view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ViewReport {
    /// View name (lower-case file stem).
    pub view: String,
    /// The frontal face found in the baseline photo (baseline px); the measured region is the skin
    /// within an ellipse around it. Absent when none was found (a close-up, a profile view), when too
    /// little skin lay within it (a note says so), or when `series.toml` gives an roi (measured as
    /// given): the region is then the photo's skin-coloured surface, within the roi if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub face: Option<crate::metrics::face::FaceBox>,
    /// Sessions with a photo of this view, in date order.
    pub sessions: Vec<SessionEntry>,
    /// Least-squares trend of each metric over the measured sessions' dates.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub trends: BTreeMap<String, Trend>,
    /// Noise floors the `change` entries were judged against, percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise_floors: Option<NoiseFloors>,
}

/// `report.json`: everything measured for one patient.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PatientReport {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Which program wrote this.
    pub tool: ToolInfo,
    /// The patient key (folder name).
    pub patient: String,
    /// Physical scale.
    pub calibration: Calibration,
    /// Baseline session folder name, when there is one.
    pub baseline: Option<String>,
    /// One entry per view.
    pub views: Vec<ViewReport>,
    /// Remarks that are not errors.
    pub notes: Vec<String>,
    /// Every problem with this patient's inputs: file and message.
    pub errors: Vec<InputIssue>,
}
