//! Pore metrics of one session over the measured region: count, density, size, area and positions.
//!
//! Pores are the small dark round blobs of [`super::blobs`] (half-depth diameter from
//! [`super::MetricOptions::pore_min_diameter_mm`] to [`super::MetricOptions::pore_max_diameter_mm`],
//! contrast and signal-to-noise above the options' thresholds, not elongated). The diameter is the
//! calibrated half-depth diameter, not the detector's scale; densities are per megapixel of baseline
//! pixels always, per cm² when calibrated.

use serde::{Deserialize, Serialize};

use super::Scale;
use super::measure::Depression;

/// Upper edges of the size histogram's bins, mm of diameter (px through the scale when uncalibrated).
const HISTOGRAM_EDGES_MM: [f64; 7] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.75];

/// One bin of the size histogram: diameters in `[from, to)`; the last bin has no upper edge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SizeBin {
    /// Lower edge, baseline px.
    pub from_px: f64,
    /// Upper edge, baseline px (`null`: open-ended).
    pub to_px: Option<f64>,
    /// Lower edge, mm (`null` when uncalibrated).
    pub from_mm: Option<f64>,
    /// Upper edge, mm (`null` when uncalibrated or open-ended).
    pub to_mm: Option<f64>,
    /// Pores in the bin.
    pub count: usize,
}

/// `metrics.pores` of the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PoreMetrics {
    /// Pores in the measured region.
    pub count: usize,
    /// Per cm² of skin (`null` when uncalibrated).
    pub density_per_cm2: Option<f64>,
    /// Per megapixel of baseline skin pixels.
    pub density_per_mpx: f64,
    /// Mean half-depth diameter, mm (`null` when uncalibrated or no pores).
    pub mean_diameter_mm: Option<f64>,
    /// Mean half-depth diameter, baseline px (0 when no pores).
    pub mean_diameter_px: f64,
    /// Σ pore disk areas / region area.
    pub area_fraction: f64,
    /// Mean contrast (1 − e^(−depth)).
    pub mean_contrast: f64,
    /// Counts by diameter.
    pub size_histogram: Vec<SizeBin>,
    /// `[x, y, diameter]` of each pore, baseline px, for overlays.
    pub positions: Vec<[f64; 3]>,
}

/// Rounds to 1/100 px: positions are for drawing, and shorter numbers keep the report readable.
pub(crate) fn centi(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// Summarises `pores` (already restricted to the region) over a region of `area_px` baseline pixels.
#[must_use]
pub fn summarise(pores: &[&Depression], area_px: f64, scale: &Scale) -> PoreMetrics {
    let count = pores.len();
    let n = count.max(1) as f64;
    let mean_diameter_px = pores.iter().map(|p| p.diameter_px).sum::<f64>() / n;
    let disk_area: f64 = pores
        .iter()
        .map(|p| std::f64::consts::FRAC_PI_4 * p.diameter_px * p.diameter_px)
        .sum();
    let mean_contrast = pores.iter().map(|p| 1.0 - (-p.depth).exp()).sum::<f64>() / n;
    let px_per_mm = 1.0 / scale.mm_per_px();
    let calibrated = scale.calibrated();
    let size_histogram = HISTOGRAM_EDGES_MM
        .iter()
        .enumerate()
        .map(|(i, &upper_mm)| {
            let from_mm = if i == 0 {
                0.0
            } else {
                HISTOGRAM_EDGES_MM[i - 1]
            };
            // The last bin is open-ended: everything the pore class admits.
            let to_mm = (i + 1 < HISTOGRAM_EDGES_MM.len()).then_some(upper_mm);
            let from_px = from_mm * px_per_mm;
            let to_px = to_mm.map(|m| m * px_per_mm);
            let count = pores
                .iter()
                .filter(|p| p.diameter_px >= from_px && to_px.is_none_or(|t| p.diameter_px < t))
                .count();
            SizeBin {
                from_px: centi(from_px),
                to_px: to_px.map(centi),
                from_mm: calibrated.then_some(from_mm),
                to_mm: if calibrated { to_mm } else { None },
                count,
            }
        })
        .collect();
    let area_cm2 = scale.area_mm2(area_px).map(|a| a / 100.0);
    PoreMetrics {
        count,
        density_per_cm2: area_cm2.map(|a| count as f64 / a),
        density_per_mpx: count as f64 / (area_px / 1e6),
        mean_diameter_mm: (scale.calibrated() && count > 0)
            .then(|| mean_diameter_px * scale.mm_per_px()),
        mean_diameter_px,
        area_fraction: disk_area / area_px,
        mean_contrast,
        size_histogram,
        positions: pores
            .iter()
            .map(|p| [centi(p.x), centi(p.y), centi(p.diameter_px)])
            .collect(),
    }
}
