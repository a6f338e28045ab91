//! The quality gate: is this registration good enough to measure change on?
//!
//! Three independent checks, each with a documented threshold ([`QualityThresholds`]):
//! - **overlap**: the fraction of the baseline frame the session photo covers;
//! - **ncc**: zero-mean normalised cross-correlation of the *band-passed* log-luminance (σ 1 minus
//!   σ √5 at the ~1000 px pyramid level) over the overlap. Band-passing removes shading, which any two
//!   faces share; what is left is pores, freckles, hair and skin relief, which only the same skin at the
//!   same place shares. In the test suites unrelated photos score −0.01 to 0.02 and re-photographs
//!   of the same skin 0.56–0.99 (synthetic 0.81–0.95);
//! - **residual_px**: the fit is re-checked locally. The overlap is cut into 4 × 4 tiles and each
//!   textured tile is registered on its own (shift only, from the global fit); the RMS of those local
//!   shifts, in baseline pixels, is the misregistration a measurement in that tile would suffer. It
//!   catches what one global number hides: a face that turned, a bad fit pinned by one region.

use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::geometry::{Affine, overlap_fraction};
use super::refine::{Motion, TemplatePoint, refine};
use super::{AlignStatus, Prepared, Reference};
use crate::kernels::gaussian_blur;
use crate::kernels::warp::{Interpolation, warp as warp_plane};

/// Thresholds of the verdict. A session is `failed` if any "failed" threshold is crossed, else `poor`
/// if any "ok" threshold is missed, else `ok`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct QualityThresholds {
    /// `ncc` at or above this is good.
    pub ncc_ok: f64,
    /// `ncc` below this means the photos do not show the same skin.
    pub ncc_failed: f64,
    /// `residual_px` at or below this is good (half a pixel: a pore of 0.1 mm at 0.05 mm/px stays in its
    /// own footprint).
    pub residual_ok_px: f64,
    /// `residual_px` above this means the global map does not describe the photo.
    pub residual_failed_px: f64,
    /// Overlap at or above this is good.
    pub overlap_ok: f64,
    /// Overlap below this leaves too little to compare.
    pub overlap_failed: f64,
}

impl Default for QualityThresholds {
    fn default() -> Self {
        Self {
            ncc_ok: 0.5,
            ncc_failed: 0.2,
            residual_ok_px: 0.5,
            residual_failed_px: 3.0,
            overlap_ok: 0.5,
            overlap_failed: 0.2,
        }
    }
}

/// The measured quality and the verdict.
#[derive(Debug, Clone)]
pub(crate) struct Verdict {
    pub status: AlignStatus,
    pub ncc: Option<f64>,
    pub residual_px: Option<f64>,
    pub overlap: f64,
    pub message: Option<String>,
}

/// Long side of the pyramid level the `ncc` is computed on.
const NCC_SIDE: usize = 1024;
/// Tiles per side for the residual check.
const TILES: usize = 4;
/// Points a tile needs to be checked.
const MIN_TILE_POINTS: usize = 100;
/// Largest standard error of a tile's shift (px at the fine level) for the tile to count: beyond it
/// the tile's texture cannot tell a real misfit from noise.
const MAX_TILE_STANDARD_ERROR: f64 = 0.05;

/// Measures and judges `warp` (baseline pixel → session pixel, full resolution).
pub(crate) fn assess(
    reference: &Reference,
    session: &Prepared,
    warp: &Affine,
    thresholds: &QualityThresholds,
) -> Verdict {
    let base = &reference.prepared;
    let overlap = overlap_fraction(warp, base.width, base.height, session.width, session.height);
    let ncc = band_passed_ncc(base, session, warp);
    let residual_px = residual_misregistration(reference, session, warp);

    let mut failed = Vec::new();
    let mut poor = Vec::new();
    if overlap < thresholds.overlap_failed {
        failed.push(format!(
            "the photos overlap on only {:.0} % of the baseline",
            100.0 * overlap
        ));
    } else if overlap < thresholds.overlap_ok {
        poor.push(format!(
            "the photos overlap on only {:.0} % of the baseline",
            100.0 * overlap
        ));
    }
    match ncc {
        Some(v) if v < thresholds.ncc_failed => failed.push(format!(
            "fine detail does not correlate (ncc {v:.2} < {}): not the same skin or view",
            thresholds.ncc_failed
        )),
        Some(v) if v < thresholds.ncc_ok => poor.push(format!(
            "fine detail correlates weakly (ncc {v:.2} < {}): blur, noise or a changed view",
            thresholds.ncc_ok
        )),
        Some(_) => {}
        None => failed.push("no overlap to compare".into()),
    }
    match residual_px {
        Some(r) if r > thresholds.residual_failed_px => failed.push(format!(
            "local misregistration {r:.2} px > {} px: one transform does not fit the photo",
            thresholds.residual_failed_px
        )),
        Some(r) if r > thresholds.residual_ok_px => poor.push(format!(
            "local misregistration {r:.2} px > {} px (pose or expression changed?)",
            thresholds.residual_ok_px
        )),
        Some(_) => {}
        None => poor.push("too few textured regions to verify the fit locally".into()),
    }
    let (status, reasons) = if !failed.is_empty() {
        (AlignStatus::Failed, failed)
    } else if !poor.is_empty() {
        (AlignStatus::Poor, poor)
    } else {
        (AlignStatus::Ok, Vec::new())
    };
    Verdict {
        status,
        ncc,
        residual_px,
        overlap,
        message: (!reasons.is_empty()).then(|| reasons.join("; ")),
    }
}

/// The level the `ncc` is computed on: ~1000 px long side, so the figure means the same for every
/// photo size.
fn ncc_level(p: &Prepared) -> u32 {
    let long = p.width.max(p.height);
    let mut level = 0;
    while (long >> level) > NCC_SIDE {
        level += 1;
    }
    level.clamp(p.fine_level, p.top_level())
}

fn band_pass(log: ArrayView2<'_, f32>) -> Array2<f32> {
    // The level is already at σ = 1; subtracting its σ = 2 blur leaves the band between σ 1 and √5.
    let low = gaussian_blur(log, 2.0);
    let mut out = log.to_owned();
    out.zip_mut_with(&low, |a, &b| *a -= b);
    out
}

fn band_passed_ncc(base: &Prepared, session: &Prepared, warp: &Affine) -> Option<f64> {
    let level = ncc_level(base);
    let (b, s) = (base.log(level)?, session.log(level)?);
    let bp_base = band_pass(b);
    // Band-pass in the session's own frame, then resample: the filter never sees the fill.
    let bp_session = band_pass(s);
    let at_level = warp.full_to_level(level);
    let (h, w) = bp_base.dim();
    let (sh, sw) = bp_session.dim();
    let warped = warp_plane(
        bp_session.view(),
        &at_level.to_matrix3(),
        h,
        w,
        Interpolation::Bilinear,
        f32::NAN,
    );
    // Stay 6 px clear of the session's edges, where the band-pass saw reflected pixels.
    const MARGIN: f64 = 6.0;
    let (xmax, ymax) = (sw as f64 - 1.0 - MARGIN, sh as f64 - 1.0 - MARGIN);
    let rows: Vec<[f64; 6]> = (0..h)
        .into_par_iter()
        .map(|y| {
            let mut acc = [0.0f64; 6];
            for x in 0..w {
                let (u, v) = at_level.apply(x as f64, y as f64);
                let t = warped[[y, x]];
                if u < MARGIN || v < MARGIN || u > xmax || v > ymax || t.is_nan() {
                    continue;
                }
                let (a, c) = (f64::from(bp_base[[y, x]]), f64::from(t));
                acc[0] += 1.0;
                acc[1] += a;
                acc[2] += c;
                acc[3] += a * a;
                acc[4] += c * c;
                acc[5] += a * c;
            }
            acc
        })
        .collect();
    let [n, sa, sc, saa, scc, sac] = rows.iter().fold([0.0; 6], |mut acc, r| {
        for (a, b) in acc.iter_mut().zip(r) {
            *a += b;
        }
        acc
    });
    if n < 100.0 {
        return None;
    }
    let cov = sac - sa * sc / n;
    let va = saa - sa * sa / n;
    let vc = scc - sc * sc / n;
    if va <= 0.0 || vc <= 0.0 {
        return Some(0.0);
    }
    Some(cov / (va * vc).sqrt())
}

/// RMS over textured tiles of the shift left after the global fit, in baseline pixels at full
/// resolution; `None` when fewer than four tiles could be checked.
fn residual_misregistration(
    reference: &Reference,
    session: &Prepared,
    warp: &Affine,
) -> Option<f64> {
    let level = reference.prepared.fine_level;
    let template = reference.templates[level as usize].as_ref()?;
    let image = session.log(level)?;
    let (w, h) = template.size;
    let at_level = warp.full_to_level(level);
    let (sh, sw) = image.dim();
    // One pass: each point that lands well inside the session goes to its tile (raster order kept).
    let mut tiles: Vec<Vec<TemplatePoint>> = vec![Vec::new(); TILES * TILES];
    for p in &template.points {
        let (u, v) = at_level.apply(f64::from(p.x), f64::from(p.y));
        if u >= 1.0 && v >= 1.0 && u < sw as f64 - 2.0 && v < sh as f64 - 2.0 {
            let (tx, ty) = (p.x as usize * TILES / w, p.y as usize * TILES / h);
            tiles[ty * TILES + tx].push(*p);
        }
    }
    let shifts: Vec<Option<f64>> = tiles
        .par_iter()
        .map(|points| {
            if points.len() < MIN_TILE_POINTS {
                return None;
            }
            let fit = refine(
                template,
                points,
                image,
                at_level,
                Motion::Translation,
                20,
                1e-3,
            )?;
            // Too little structure to pin a shift (a flat or blurred background): not evidence.
            if fit.shift_standard_error > MAX_TILE_STANDARD_ERROR {
                return None;
            }
            let n = points.len() as f64;
            let (cx, cy) = (
                points.iter().map(|p| f64::from(p.x)).sum::<f64>() / n,
                points.iter().map(|p| f64::from(p.y)).sum::<f64>() / n,
            );
            let (gx, gy) = at_level.apply(cx, cy);
            let (lx, ly) = fit.warp.apply(cx, cy);
            // Session pixels at this level → baseline pixels at full resolution.
            Some((lx - gx).hypot(ly - gy) / at_level.scale() * f64::from(1u32 << level))
        })
        .collect();
    let measured: Vec<f64> = shifts.into_iter().flatten().collect();
    if measured.len() < 4 {
        return None;
    }
    Some((measured.iter().map(|s| s * s).sum::<f64>() / measured.len() as f64).sqrt())
}
