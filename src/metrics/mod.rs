//! Skin metrics: roughness, pores and scars over one region shared by every session of a view.
//!
//! How a view is measured (DESIGN.md's `metrics` stage):
//! 1. the baseline's skin mask ∩ ROI, eroded by the filters' reach, is the candidate region
//!    ([`region::Frame`]);
//! 2. every photo — the baseline and each registered session — is measured once in its own pixel grid
//!    ([`measure::measure`]): pseudo-height ln Y times the photometric slope, the ISO S- and L-filters
//!    ([`surface`]), roughness sums per block ([`roughness::SurfaceSums`]), and round depressions
//!    ([`blobs`]) split by size into pores and scars;
//! 3. once all are measured, the region is cut to what every session saw, and each session's metrics
//!    are summed over exactly that region ([`summarise_view`]).
//!
//! Lengths are in millimetres when `series.toml` gives `mm_per_px`; without it, the defaults below are
//! applied as if a pixel were [`NOMINAL_MM_PER_PX`] (a 12 MP photo framing a face), and every reported
//! length is in baseline pixels (`_px` fields; `_mm` and `_per_cm2` are null).

pub mod blobs;
pub mod face;
pub mod measure;
pub mod pigment;
pub mod pores;
pub mod region;
pub mod roughness;
pub mod scars;
pub mod skin;
pub mod surface;
pub mod tiles;

use ndarray::Array2;
use serde::{Deserialize, Serialize};

pub use measure::{Depression, Measurement, measure};
pub use pores::PoreMetrics;
pub use region::{Frame, MappedSkin, Region};
pub use scars::ScarMetrics;

/// The pixel size assumed for the default cut-offs when a series has no calibration: a 4000-px-wide
/// photo of a 200 mm wide field (a face with margin).
pub const NOMINAL_MM_PER_PX: f64 = 0.05;

/// Parameters of the metrics; the defaults are what the reports use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricOptions {
    /// S-filter cut-off (ISO 16610-21 Gaussian), mm: removes sensor noise, JPEG and interpolation
    /// differences (5 px at the nominal scale).
    pub s_filter_mm: f64,
    /// L-filter cut-off, mm: separates skin texture from facial form and lighting (40 px nominal).
    pub l_filter_mm: f64,
    /// Smallest half-depth diameter of a pore, mm. A floor in mm, not the detector's resolution limit
    /// (about 2.2 px): that limit is in each photo's own pixels, so a session taken a little closer
    /// would resolve, and count, pores the baseline could not.
    pub pore_min_diameter_mm: f64,
    /// Largest half-depth diameter of a pore, mm; larger depressions are scars. Enlarged pores reach
    /// about 0.6 mm.
    pub pore_max_diameter_mm: f64,
    /// Smallest pore contrast (1 − darkest/around) counted.
    pub pore_min_contrast: f64,
    /// Smallest pore response over the local spread of its scale.
    pub pore_min_snr: f64,
    /// Largest scar diameter, mm.
    pub scar_max_diameter_mm: f64,
    /// Smallest scar depth, log-luminance.
    pub scar_min_depth: f64,
    /// Smallest scar response over the local spread of its scale.
    pub scar_min_snr: f64,
    /// Elongation limit r of a pore (Hessian trace²/det < (r + 1)²/r; 1 = perfectly round): pores are
    /// round, wrinkles, hairs and follicle shadows are not.
    pub pore_max_elongation: f64,
    /// Elongation limit of a scar (rolling and boxcar scars are less regular than pores).
    pub scar_max_elongation: f64,
    /// Smallest measured region, baseline px: below it there is too little skin to measure.
    pub min_region_px: f64,
    /// The blob detector's inner scale, mm: every photo's pseudo-height is blurred by a Gaussian of this
    /// σ before pores and scars are sought. Without it, the finest blobs a photo shows are set by its
    /// pixel grid — demosaicing, JPEG's quantisation, an interpolation — and those differ between
    /// sessions: on real portraits, a 3° rotation with bicubic resampling alone raised the pore count
    /// by 30 %, nearly all of it blobs under 1.25 px of scale whose local spread the resampling had
    /// lowered. In mm, not px, so a session taken closer or farther is blurred over the same skin.
    pub detector_inner_sigma_mm: f64,
}

impl Default for MetricOptions {
    fn default() -> Self {
        Self {
            s_filter_mm: 0.25,
            l_filter_mm: 2.0,
            pore_min_diameter_mm: 0.12,
            pore_max_diameter_mm: 0.75,
            pore_min_contrast: 0.085,
            pore_min_snr: 2.5,
            scar_max_diameter_mm: 8.0,
            scar_min_depth: 0.12,
            scar_min_snr: 4.5,
            pore_max_elongation: 2.0,
            scar_max_elongation: 3.0,
            min_region_px: 50_000.0,
            detector_inner_sigma_mm: 0.045,
        }
    }
}

impl MetricOptions {
    /// The smallest pore depth in log-luminance: contrast c darkens by a factor 1 − c.
    #[must_use]
    pub fn pore_min_depth(&self) -> f64 {
        -(1.0 - self.pore_min_contrast).ln()
    }

    /// The blob detector's settings for a photo of `px_per_mm` input pixels per mm: depressions up to
    /// the largest scar, the loosest of the pore and scar thresholds (each class applies its own
    /// afterwards), and the inner scale in this photo's pixels.
    #[must_use]
    pub fn detect_options(&self, px_per_mm: f64) -> blobs::DetectOptions {
        let max_radius_px = 0.5 * self.scar_max_diameter_mm * px_per_mm;
        // Rounded to 1/32 px (under 5 % of any inner scale worth applying): each distinct value needs
        // a calibration of its own, and a batch's photos then share a handful.
        let inner = (self.detector_inner_sigma_mm * px_per_mm * 32.0).round() / 32.0;
        blobs::DetectOptions {
            octaves: blobs::octaves_for(max_radius_px),
            min_snr: self.pore_min_snr.min(self.scar_min_snr),
            max_elongation: self.pore_max_elongation.max(self.scar_max_elongation),
            min_depth: self.pore_min_depth().min(self.scar_min_depth),
            inner_sigma: if inner.is_finite() && inner > 0.0 {
                inner.min(64.0) as f32
            } else {
                0.0
            },
        }
    }

    /// How far (baseline px) measured pixels keep from the edge of the skin: three σ of the L-filter,
    /// beyond which its weights are below 1 %.
    #[must_use]
    pub fn filter_margin_px(&self, scale: &Scale) -> f64 {
        3.0 * surface::SIGMA_PER_CUTOFF * self.l_filter_mm / scale.mm_per_px() + 2.0
    }
}

/// The baseline's pixel size: calibrated, or the nominal one standing in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    calibrated: Option<f64>,
}

impl Scale {
    /// From `series.toml`'s `mm_per_px`.
    #[must_use]
    pub fn new(mm_per_px: Option<f64>) -> Self {
        Self {
            calibrated: mm_per_px.filter(|v| v.is_finite() && *v > 0.0),
        }
    }

    /// Whether lengths are known in mm.
    #[must_use]
    pub fn calibrated(&self) -> bool {
        self.calibrated.is_some()
    }

    /// mm per baseline px (the nominal value when uncalibrated).
    #[must_use]
    pub fn mm_per_px(&self) -> f64 {
        self.calibrated.unwrap_or(NOMINAL_MM_PER_PX)
    }

    /// An area of baseline px in mm², when calibrated.
    #[must_use]
    pub fn area_mm2(&self, px: f64) -> Option<f64> {
        self.calibrated.map(|m| px * m * m)
    }
}

/// `metrics.mask` of the report: the region every session of the view was measured on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MaskSummary {
    /// Area, baseline px.
    pub area_px: f64,
    /// Area, mm² (`null` when uncalibrated).
    pub area_mm2: Option<f64>,
    /// Share of the baseline photo.
    pub fraction: f64,
}

/// `metrics.roughness` of the report: ISO 25178-2 field parameters of the scale-limited pseudo-height.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RoughnessMetrics {
    /// Arithmetic mean height, log-luminance.
    pub sa: f64,
    /// Root-mean-square height, log-luminance.
    pub sq: f64,
    /// Skewness.
    pub ssk: f64,
    /// Kurtosis (ISO: 3 for a Gaussian surface).
    pub sku: f64,
    /// Root-mean-square gradient, log-luminance per `lateral_unit`.
    pub sdq: f64,
    /// Developed interfacial area ratio (fraction), with lateral lengths in `lateral_unit`.
    pub sdr: f64,
    /// "mm" when calibrated, else "px" (baseline pixels).
    pub lateral_unit: String,
    /// S-filter cut-off, baseline px.
    pub s_filter_px: f64,
    /// L-filter cut-off, baseline px.
    pub l_filter_px: f64,
}

/// `metrics` of one session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SessionMetrics {
    /// The region measured.
    pub mask: MaskSummary,
    /// Texture roughness.
    pub roughness: RoughnessMetrics,
    /// Pores.
    pub pores: PoreMetrics,
    /// Atrophic scars.
    pub scars: ScarMetrics,
}

/// One measured photo of a view, summed over the region every session saw.
#[derive(Debug, Clone)]
pub struct SessionSummary {
    /// What `report.json` shows.
    pub metrics: SessionMetrics,
    /// The same sums per tile of the region, for the paired bootstrap of the change statistics
    /// (tile i is the same skin in every session of the view).
    pub tiles: Vec<tiles::TileSums>,
    /// Local Sq per cell of the frame (NaN outside the region), for the roughness-change heat map.
    pub local_sq: Array2<f32>,
}

/// Metrics of every measured photo of a view over the region they all saw, in input order, each an
/// error of its own when that photo has no texture to measure (blank or saturated); an error for the
/// whole view (a sentence for the report) when the common region is too small to measure.
///
/// # Errors
/// When the common region has less than [`MetricOptions::min_region_px`] baseline pixels.
pub fn summarise_view(
    frame: &Frame,
    scale: &Scale,
    measurements: &[&Measurement],
    options: &MetricOptions,
) -> Result<Vec<Result<SessionSummary, String>>, String> {
    let sessions: Vec<_> = measurements
        .iter()
        .map(|m| (m.to_baseline, m.size, m.margin_px))
        .collect();
    let common = frame.common_cells(&sessions);
    let cell_area = (frame.cell() * frame.cell()) as f64;
    let area_px = common.iter().filter(|&&c| c).count() as f64 * cell_area;
    if area_px < options.min_region_px {
        return Err(format!(
            "too little skin to measure: {area_px:.0} px of skin lie inside every session's photo \
             (at least {:.0} px are needed); check the framing, the lighting or the ROI in \
             series.toml",
            options.min_region_px
        ));
    }
    let (w, h) = frame.size();
    let mask = MaskSummary {
        area_px,
        area_mm2: scale.area_mm2(area_px),
        fraction: area_px / (w * h) as f64,
    };
    let tiling = tiles::Tiling::new(frame, &common, scale);
    let cell_mm = frame.cell() as f64 * scale.mm_per_px();
    // Two passes of this radius: a tent about one L-filter cut-off wide.
    // (Bounded by the grid: a nonsensical scale must not overflow the window arithmetic.)
    let (rows, cols) = frame.dim();
    let radius = ((options.l_filter_mm / 4.0 / cell_mm).round() as usize).clamp(1, rows.max(cols));
    Ok(measurements
        .iter()
        .map(|m| {
            Ok(SessionSummary {
                metrics: summarise_session(frame, scale, &common, m, mask.clone(), options)?,
                tiles: tiling.sums(frame, m),
                local_sq: tiles::local_sq(frame, &common, m, radius),
            })
        })
        .collect())
}

fn summarise_session(
    frame: &Frame,
    scale: &Scale,
    common: &Array2<bool>,
    m: &Measurement,
    mask: MaskSummary,
    options: &MetricOptions,
) -> Result<SessionMetrics, String> {
    let flat = common.as_slice().ok_or("mask layout")?;
    let inside = |c: u32| c != measure::OUTSIDE && flat[c as usize];
    let mut sums = roughness::SurfaceSums::default();
    for (b, &c) in m.blocks.iter().zip(&m.block_cells) {
        if inside(c) {
            sums.merge(b);
        }
    }
    let parameters = sums
        .parameters()
        .ok_or("the measured skin is flat: no texture to measure (a blank or saturated photo?)")?;
    let in_region = |d: &&Depression| frame.in_cells(common, d.x, d.y);
    let pores: Vec<&Depression> = m.pores.iter().filter(in_region).collect();
    let scars: Vec<&Depression> = m.scars.iter().filter(in_region).collect();
    let px_per_mm = 1.0 / scale.mm_per_px();
    Ok(SessionMetrics {
        roughness: RoughnessMetrics {
            sa: parameters.sa,
            sq: parameters.sq,
            ssk: parameters.ssk,
            sku: parameters.sku,
            sdq: parameters.sdq,
            sdr: parameters.sdr,
            lateral_unit: if scale.calibrated() { "mm" } else { "px" }.to_string(),
            s_filter_px: options.s_filter_mm * px_per_mm,
            l_filter_px: options.l_filter_mm * px_per_mm,
        },
        pores: pores::summarise(&pores, mask.area_px, scale),
        scars: scars::summarise(&scars, mask.area_px, scale),
        mask,
    })
}
