//! Atrophic scar metrics of one session over the measured region: count, area, depth index, type.
//!
//! Scars are the larger round depressions of [`super::blobs`] (half-depth diameter above the pore
//! class up to [`super::MetricOptions::scar_max_diameter_mm`], deeper than
//! [`super::MetricOptions::scar_min_depth`]). Area is the half-depth disk of each; the depth index is
//! the mean contrast 1 − e^(−depth) of the scars' floors against the surrounding skin — an image index
//! that grows with depth under the same lighting, not a depth in millimetres.
//!
//! Type by size, when calibrated, after the clinical classification of Jacob, Dover & Kaminer (J Am
//! Acad Dermatol 45, 2001): ice-pick < 2 mm, boxcar 1.5–4 mm, rolling ≥ 4 mm. Size alone cannot
//! separate the 1.5–2 mm overlap (the published classes differ by wall shape there), so it is split
//! at 1.75 mm. A scar's depth is the part of its darkening that shading explains, by its colour
//! ([`super::pigment`]): a freckle or a red spot darkens the log-luminance as a depression does, but
//! not equally in every channel. The split rests on approximate pigment spectra, so the index is
//! still reported as a change per patient, not a diagnosis.

use serde::{Deserialize, Serialize};

use super::Scale;
use super::measure::Depression;
use super::pores::centi;

/// Diameter (mm) splitting ice-pick from boxcar, and boxcar from rolling.
const ICE_PICK_BELOW_MM: f64 = 1.75;
const ROLLING_FROM_MM: f64 = 4.0;

/// Scar counts by type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ScarTypes {
    /// Half-depth diameter < 1.75 mm.
    pub ice_pick: usize,
    /// 1.75–4 mm.
    pub boxcar: usize,
    /// ≥ 4 mm.
    pub rolling: usize,
}

/// One scar, for overlays and the report's table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ScarReport {
    /// Centre, baseline px.
    pub x: f64,
    /// Centre, baseline px.
    pub y: f64,
    /// Half-depth diameter, baseline px.
    pub diameter_px: f64,
    /// Half-depth diameter, mm (`null` when uncalibrated).
    pub diameter_mm: Option<f64>,
    /// Contrast of the floor, 1 − e^(−depth).
    pub depth_index: f64,
}

/// `metrics.scars` of the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ScarMetrics {
    /// Scars in the measured region.
    pub count: usize,
    /// Σ scar areas / region area.
    pub area_fraction: f64,
    /// Σ scar areas, baseline px.
    pub area_px: f64,
    /// Σ scar areas, mm² (`null` when uncalibrated).
    pub area_mm2: Option<f64>,
    /// Mean depth index of the scars (0 when none).
    pub mean_depth_index: f64,
    /// Counts by type (`null` when uncalibrated: the classes are defined in mm).
    pub types: Option<ScarTypes>,
    /// Each scar.
    pub scars: Vec<ScarReport>,
}

/// Summarises `scars` (already restricted to the region) over `area_px` baseline pixels.
#[must_use]
pub fn summarise(scars: &[&Depression], area_px: f64, scale: &Scale) -> ScarMetrics {
    let count = scars.len();
    let scar_area: f64 = scars
        .iter()
        .map(|s| std::f64::consts::FRAC_PI_4 * s.diameter_px * s.diameter_px)
        .sum();
    let index = |s: &Depression| 1.0 - (-s.depth).exp();
    let types = scale.calibrated().then(|| {
        let mut t = ScarTypes {
            ice_pick: 0,
            boxcar: 0,
            rolling: 0,
        };
        for s in scars {
            let mm = s.diameter_px * scale.mm_per_px();
            if mm < ICE_PICK_BELOW_MM {
                t.ice_pick += 1;
            } else if mm < ROLLING_FROM_MM {
                t.boxcar += 1;
            } else {
                t.rolling += 1;
            }
        }
        t
    });
    ScarMetrics {
        count,
        area_fraction: scar_area / area_px,
        area_px: scar_area,
        area_mm2: scale.area_mm2(scar_area),
        mean_depth_index: scars.iter().map(|s| index(s)).sum::<f64>() / count.max(1) as f64,
        types,
        scars: scars
            .iter()
            .map(|s| ScarReport {
                x: centi(s.x),
                y: centi(s.y),
                diameter_px: centi(s.diameter_px),
                diameter_mm: scale
                    .calibrated()
                    .then(|| (s.diameter_px * scale.mm_per_px() * 1000.0).round() / 1000.0),
                depth_index: index(s),
            })
            .collect(),
    }
}
