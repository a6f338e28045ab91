//! ISO 25178-2 areal field parameters of a height map over a mask: Sa, Sq, Ssk, Sku, Sdq, Sdr.
//!
//! The arithmetic only; which height map (the filtered log-luminance pseudo-height) and which region
//! are the metrics stage's choice. Definitions (ISO 25178-2:2012, §4.1–4.3), with z the height minus
//! its mean over the region:
//! - Sa = mean |z|, Sq = √(mean z²);
//! - Ssk = mean z³ / Sq³, Sku = mean z⁴ / Sq⁴ (3 for a Gaussian surface: *not* excess kurtosis);
//! - Sdq = √(mean |∇z|²), the root-mean-square gradient, in height units per `spacing` unit;
//! - Sdr = mean(√(1 + |∇z|²)) − 1, the developed interfacial area ratio, as a fraction (× 100 for %).
//!
//! Gradients are central differences, taken only where both neighbours on an axis are in the region.
//! Sums run in `f64`, row by row in a fixed order, so results do not depend on the thread count.

use ndarray::ArrayView2;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// The areal parameters of one region.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SurfaceParameters {
    /// Arithmetic mean height.
    pub sa: f64,
    /// Root-mean-square height.
    pub sq: f64,
    /// Skewness.
    pub ssk: f64,
    /// Kurtosis (3 for a Gaussian surface).
    pub sku: f64,
    /// Root-mean-square gradient, height units per spacing unit.
    pub sdq: f64,
    /// Developed interfacial area ratio (fraction; × 100 for %).
    pub sdr: f64,
    /// Pixels in the region.
    pub pixels: usize,
}

/// Running sums from which the parameters follow: heights are added one by one (and gradients where
/// they exist), sums of regions are added together, and [`SurfaceSums::parameters`] finishes them.
/// This is how the metrics stage computes the parameters over any union of cells of a photo (the mask
/// common to all sessions, or a bootstrap resample of tiles) from one pass over its pixels.
/// Heights are taken as given, measured from the reference surface (ISO 25178-2 §3.1.8): the
/// caller removes the mean or the L-filtered form first.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SurfaceSums {
    /// Heights added.
    pub n: f64,
    /// Σ|z|.
    pub abs: f64,
    /// Σz².
    pub z2: f64,
    /// Σz³.
    pub z3: f64,
    /// Σz⁴.
    pub z4: f64,
    /// Gradients added.
    pub gradients: f64,
    /// Σ|∇z|².
    pub g2: f64,
    /// Σ(√(1 + |∇z|²) − 1).
    pub developed: f64,
}

impl SurfaceSums {
    /// Adds one height.
    #[inline]
    pub fn add_height(&mut self, z: f64) {
        let z2 = z * z;
        self.n += 1.0;
        self.abs += z.abs();
        self.z2 += z2;
        self.z3 += z2 * z;
        self.z4 += z2 * z2;
    }

    /// Adds one gradient, components in height units per lateral unit.
    #[inline]
    pub fn add_gradient(&mut self, gx: f64, gy: f64) {
        let g2 = gx * gx + gy * gy;
        self.gradients += 1.0;
        self.g2 += g2;
        self.developed += (1.0 + g2).sqrt() - 1.0;
    }

    /// Adds another region's sums.
    pub fn merge(&mut self, other: &Self) {
        self.merge_times(other, 1.0);
    }

    /// Adds another region's sums `times` times (a bootstrap draws a region more than once).
    pub fn merge_times(&mut self, other: &Self, times: f64) {
        self.n += times * other.n;
        self.abs += times * other.abs;
        self.z2 += times * other.z2;
        self.z3 += times * other.z3;
        self.z4 += times * other.z4;
        self.gradients += times * other.gradients;
        self.g2 += times * other.g2;
        self.developed += times * other.developed;
    }

    /// The parameters; `None` with fewer than 16 heights, no gradient, or a flat surface.
    #[must_use]
    pub fn parameters(&self) -> Option<SurfaceParameters> {
        let n = self.n;
        if n < 16.0 || self.gradients <= 0.0 {
            return None;
        }
        let sq = (self.z2 / n).sqrt();
        if !(sq > 0.0 && sq.is_finite()) {
            return None;
        }
        Some(SurfaceParameters {
            sa: self.abs / n,
            sq,
            ssk: self.z3 / n / sq.powi(3),
            sku: self.z4 / n / sq.powi(4),
            sdq: (self.g2 / self.gradients).sqrt(),
            sdr: self.developed / self.gradients,
            pixels: n as usize,
        })
    }
}

/// Computes the parameters of `height` over the pixels where `mask` is true (all pixels when `None`),
/// heights measured from their mean over the region; `spacing` is the lateral size of a pixel in the
/// unit Sdq and Sdr use. `None` when `spacing` is not a positive number, the region has fewer than 16
/// pixels or no gradient pairs, or the height does not vary (Ssk and Sku are then undefined).
#[must_use]
pub fn surface_parameters(
    height: ArrayView2<'_, f32>,
    mask: Option<ArrayView2<'_, bool>>,
    spacing: f64,
) -> Option<SurfaceParameters> {
    let (h, w) = height.dim();
    if mask.is_some_and(|m| m.dim() != (h, w)) || !spacing.is_finite() || spacing <= 0.0 {
        return None;
    }
    let inside = |y: usize, x: usize| mask.is_none_or(|m| m[[y, x]]);
    // Pass 1: the mean height.
    let rows: Vec<(f64, usize)> = (0..h)
        .into_par_iter()
        .map(|y| {
            let (mut sum, mut n) = (0.0f64, 0usize);
            for x in 0..w {
                if inside(y, x) {
                    sum += f64::from(height[[y, x]]);
                    n += 1;
                }
            }
            (sum, n)
        })
        .collect();
    let (sum, pixels) = rows
        .iter()
        .fold((0.0, 0), |(s, n), &(rs, rn)| (s + rs, n + rn));
    if pixels < 16 {
        return None;
    }
    let mean = sum / pixels as f64;
    // Pass 2: moments about the mean, and gradients.
    let per_row: Vec<SurfaceSums> = (0..h)
        .into_par_iter()
        .map(|y| {
            let mut acc = SurfaceSums::default();
            for x in 0..w {
                if !inside(y, x) {
                    continue;
                }
                acc.add_height(f64::from(height[[y, x]]) - mean);
                let gx = (x > 0 && x + 1 < w && inside(y, x - 1) && inside(y, x + 1)).then(|| {
                    (f64::from(height[[y, x + 1]]) - f64::from(height[[y, x - 1]]))
                        / (2.0 * spacing)
                });
                let gy = (y > 0 && y + 1 < h && inside(y - 1, x) && inside(y + 1, x)).then(|| {
                    (f64::from(height[[y + 1, x]]) - f64::from(height[[y - 1, x]]))
                        / (2.0 * spacing)
                });
                if let (Some(gx), Some(gy)) = (gx, gy) {
                    acc.add_gradient(gx, gy);
                }
            }
            acc
        })
        .collect();
    let mut total = SurfaceSums::default();
    per_row.iter().for_each(|r| total.merge(r));
    total.parameters()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;
    use std::f64::consts::{PI, TAU};

    /// z = A sin(2πx/λ) sampled N = λ times per period, over whole periods: Sq = A/√2, Ssk = 0 and
    /// Sku = 1.5 hold exactly for the samples (N > 4); Sa = A · 2 cot(π/N)/N, the sampled mean of |sin|,
    /// which tends to the continuum 2A/π. The central difference of a sinusoid is its derivative times
    /// sin(kΔ)/(kΔ), which gives Sdq and Sdr exactly.
    #[test]
    fn sinusoid_matches_the_analytic_values() {
        let (a, lambda, spacing) = (0.3f64, 16.0f64, 0.05f64);
        let (h, w) = (8, 160);
        let z = Array2::from_shape_fn((h, w), |(_, x)| {
            (a * (TAU * x as f64 / lambda).sin()) as f32
        });
        // Interior rows/columns only carry gradients; heights use every pixel (10 whole periods).
        let p = surface_parameters(z.view(), None, spacing).unwrap();
        let tol = 1e-6;
        let samples = lambda;
        let sa = a * 2.0 / (samples * (PI / samples).tan());
        assert!((p.sa - sa).abs() < tol, "{p:?}");
        assert!((sa - 2.0 * a / PI).abs() < 0.01 * a);
        assert!((p.sq - a / 2f64.sqrt()).abs() < tol, "{p:?}");
        assert!(p.ssk.abs() < tol, "{p:?}");
        assert!((p.sku - 1.5).abs() < tol, "{p:?}");
        // Gradient of the discrete surface: A k' cos(kx) with k' = sin(kΔ)/Δ, Δ = 1 px.
        let k = TAU / lambda;
        let amplitude = a * k.sin() / spacing;
        let xs = 1..w - 1;
        let count = xs.len() as f64;
        let (mut g2, mut dr) = (0.0, 0.0);
        for x in xs {
            let g = amplitude * (k * x as f64).cos();
            g2 += g * g;
            dr += (1.0 + g * g).sqrt() - 1.0;
        }
        assert!((p.sdq - (g2 / count).sqrt()).abs() < tol, "{p:?}");
        assert!((p.sdr - dr / count).abs() < tol, "{p:?}");
        // The continuum value A k / (√2 Δ) is within the discretisation factor sin(k)/k.
        assert!((p.sdq / (a * k / spacing / 2f64.sqrt()) - k.sin() / k).abs() < 0.01);
    }

    /// A two-level surface (z = 0 on a fraction p of pixels, 1 elsewhere) has known moments:
    /// Ssk = (1 − 2q)/√(q(1 − q)), Sku = (1 − 3q(1 − q))/(q(1 − q)) with q = 1 − p.
    #[test]
    fn skewed_surface_has_the_binomial_moments() {
        let (h, w) = (50, 40);
        // q = 0.2 of the pixels are high.
        let z = Array2::from_shape_fn(
            (h, w),
            |(y, x)| if (y * w + x) % 5 == 0 { 1.0f32 } else { 0.0 },
        );
        let p = surface_parameters(z.view(), None, 1.0).unwrap();
        let q = 0.2f64;
        let ssk = (1.0 - 2.0 * q) / (q * (1.0 - q)).sqrt();
        let sku = (1.0 - 3.0 * q * (1.0 - q)) / (q * (1.0 - q));
        assert!((p.ssk - ssk).abs() < 1e-9, "{p:?}");
        assert!((p.sku - sku).abs() < 1e-9, "{p:?}");
        assert!((p.sq - (q * (1.0 - q)).sqrt()).abs() < 1e-9);
    }

    #[test]
    fn result_does_not_depend_on_thread_count() {
        let z = crate::kernels::testutil::textured(300, 200, 5);
        crate::kernels::testutil::assert_thread_independent(|| {
            surface_parameters(z.view(), None, 0.05)
        });
    }

    #[test]
    fn mask_limits_the_region_and_degenerate_regions_give_none() {
        let z = Array2::from_shape_fn(
            (20, 20),
            |(y, x)| if x < 10 { 0.0f32 } else { (y % 2) as f32 },
        );
        let left = Array2::from_shape_fn((20, 20), |(_, x)| x < 10);
        // The left half is flat: no variation, no parameters.
        assert!(surface_parameters(z.view(), Some(left.view()), 1.0).is_none());
        let right = left.mapv(|v| !v);
        let p = surface_parameters(z.view(), Some(right.view()), 1.0).unwrap();
        assert_eq!(p.pixels, 200);
        assert!((p.sq - 0.5).abs() < 1e-12);
        assert!(surface_parameters(z.view(), None, 0.0).is_none());
        let tiny = Array2::<f32>::zeros((3, 3));
        assert!(surface_parameters(tiny.view(), None, 1.0).is_none());
    }
}
