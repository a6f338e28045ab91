//! The synthetic skin scene and how a session photo of it is rendered.
//!
//! A scene is a continuous function over baseline pixel coordinates: albedo × smooth shading ×
//! exp(texture + pores + scars). A session photo is rendered by mapping each of its pixels through the
//! session's known matrix into the baseline frame and evaluating the scene there (2 × 2 supersampled,
//! which stands in for the sensor's pixel area), so geometry is exact by construction: no image is
//! ever resampled. The session's photometric change (white balance, gain, gamma) and sensor noise are
//! applied after, in that order.
//!
//! Profiles: a pore or scar of radius `R` darkens with a flat core and a raised-cosine edge from 0.7 R
//! to 1.3 R, so it reaches half its contrast exactly at `R`. Its integral (the area of the disk that
//! would hold the same total darkening) is π (R² + (0.3 R)² (1 − 8/π²)) = 1.017 π R².

use std::f64::consts::PI;

use rayon::prelude::*;

use super::noise::{Fbm, hash2, unit_from_hash};
use super::{PoreTruth, ScarTruth, SessionTruth};
use crate::io::colour;

/// The fraction of a feature's contrast at distance `r` from its centre, for radius `radius`: the
/// soft disk the metrics' size calibration models ([`crate::metrics::blobs::soft_disk`]).
#[must_use]
pub fn profile(r: f64, radius: f64) -> f64 {
    crate::metrics::blobs::soft_disk(r, radius)
}

/// d(profile)/dr.
fn profile_slope(r: f64, radius: f64) -> f64 {
    let inner = 0.7 * radius;
    let outer = 1.3 * radius;
    if r <= inner || r >= outer {
        0.0
    } else {
        let span = outer - inner;
        -0.5 * PI / span * (PI * (r - inner) / span).sin()
    }
}

/// Fixed light direction (unit vector, image plane) that gives scar walls their bright and dark rims.
const LIGHT: (f64, f64) = (-0.6, -0.8);

/// Uniform-grid index of pores for fast lookup.
#[derive(Debug, Clone)]
struct PoreGrid {
    origin: (f64, f64),
    cell: f64,
    cols: usize,
    rows: usize,
    cells: Vec<Vec<u32>>,
}

impl PoreGrid {
    fn new(pores: &[PoreTruth], bounds: (f64, f64, f64, f64), cell: f64) -> Self {
        let (x0, y0, x1, y1) = bounds;
        let cols = (((x1 - x0) / cell).ceil() as usize).max(1);
        let rows = (((y1 - y0) / cell).ceil() as usize).max(1);
        let mut cells = vec![Vec::new(); cols * rows];
        let mut grid = Self {
            origin: (x0, y0),
            cell,
            cols,
            rows,
            cells: Vec::new(),
        };
        for (i, p) in pores.iter().enumerate() {
            if let Some(c) = grid.cell_of(p.x, p.y) {
                cells[c].push(i as u32);
            }
        }
        grid.cells = cells;
        grid
    }

    fn cell_of(&self, x: f64, y: f64) -> Option<usize> {
        let cx = ((x - self.origin.0) / self.cell).floor();
        let cy = ((y - self.origin.1) / self.cell).floor();
        (cx >= 0.0 && cy >= 0.0 && (cx as usize) < self.cols && (cy as usize) < self.rows)
            .then(|| cy as usize * self.cols + cx as usize)
    }

    /// Pores whose cell is the one containing (x, y) or a neighbour of it.
    fn near(&self, x: f64, y: f64) -> impl Iterator<Item = u32> + '_ {
        let cx = ((x - self.origin.0) / self.cell).floor() as i64;
        let cy = ((y - self.origin.1) / self.cell).floor() as i64;
        (-1..=1).flat_map(move |dy| {
            (-1..=1).flat_map(move |dx| {
                let (gx, gy) = (cx + dx, cy + dy);
                let inside =
                    gx >= 0 && gy >= 0 && (gx as usize) < self.cols && (gy as usize) < self.rows;
                let cell: &[u32] = if inside {
                    &self.cells[gy as usize * self.cols + gx as usize]
                } else {
                    &[]
                };
                cell.iter().copied()
            })
        })
    }
}

/// Everything needed to render any session of one view.
#[derive(Debug, Clone)]
pub struct Scene {
    /// Linear-light skin albedo.
    pub albedo: [f64; 3],
    /// Unit-RMS texture field (log-luminance), scaled per session by its texture amplitude.
    pub texture: Fbm,
    /// Pores, baseline coordinates.
    pub pores: Vec<PoreTruth>,
    /// Scars, baseline coordinates.
    pub scars: Vec<ScarTruth>,
    /// Baseline frame size (shading is centred on it).
    pub size: (usize, usize),
    /// Seed of the sensor noise.
    pub noise_seed: u64,
    grid: PoreGrid,
}

impl Scene {
    /// Assembles a scene and indexes its pores.
    #[must_use]
    pub fn new(
        albedo: [f64; 3],
        texture: Fbm,
        pores: Vec<PoreTruth>,
        scars: Vec<ScarTruth>,
        size: (usize, usize),
        noise_seed: u64,
    ) -> Self {
        let max_r = pores.iter().map(|p| p.radius_px).fold(1.0, f64::max);
        let (mut x0, mut y0, mut x1, mut y1) = (0.0f64, 0.0f64, size.0 as f64, size.1 as f64);
        for p in &pores {
            (x0, y0, x1, y1) = (
                x0.min(p.x),
                y0.min(p.y),
                x1.max(p.x + 1.0),
                y1.max(p.y + 1.0),
            );
        }
        let grid = PoreGrid::new(&pores, (x0, y0, x1, y1), 1.3 * max_r + 1.0);
        Self {
            albedo,
            texture,
            pores,
            scars,
            size,
            noise_seed,
            grid,
        }
    }

    /// Smooth illumination: a broad bump brighter towards the upper left, like a cheek under a
    /// key light. Attached to the scene, so it moves with the skin.
    fn shading(&self, x: f64, y: f64) -> f64 {
        let (w, h) = (self.size.0 as f64, self.size.1 as f64);
        let u = 2.0 * x / w - 1.0;
        let v = 2.0 * y / h - 1.0;
        (-0.08 * u - 0.06 * v - 0.12 * (u * u + v * v)).exp()
    }

    /// Log-reflectance of the skin relief (texture, pores, scars) at a baseline point for a session.
    #[must_use]
    pub fn log_relief(&self, x: f64, y: f64, session: &SessionTruth, session_index: usize) -> f64 {
        let mut log = session.texture_amplitude * self.texture.sample(x, y);
        for i in self.grid.near(x, y) {
            let p = &self.pores[i as usize];
            if p.last_session < session_index {
                continue;
            }
            let r = (x - p.x).hypot(y - p.y);
            let f = profile(r, p.radius_px);
            if f > 0.0 {
                log += (1.0 - p.contrast * f).ln();
            }
        }
        for s in &self.scars {
            let (dx, dy) = (x - s.x, y - s.y);
            let r = dx.hypot(dy);
            if r >= 1.3 * s.radius_px {
                continue;
            }
            let depth = s.depth * session.scar_depth_factor;
            log -= depth * profile(r, s.radius_px);
            if r > 0.0 {
                // Walls: the slope of the bowl seen under the fixed light, at a quarter of the depth.
                let facing = (dx * LIGHT.0 + dy * LIGHT.1) / r;
                log += 0.25 * depth * s.radius_px * profile_slope(r, s.radius_px) * facing;
            }
        }
        log
    }

    /// Linear-light RGB of the scene at a baseline point, before the session's photometric change.
    fn radiance(&self, x: f64, y: f64, session: &SessionTruth, session_index: usize) -> [f64; 3] {
        let k = self.shading(x, y) * self.log_relief(x, y, session, session_index).exp();
        [self.albedo[0] * k, self.albedo[1] * k, self.albedo[2] * k]
    }

    /// Renders session `session_index` as sRGB-encoded samples in `[0, 1]`, row-major RGB.
    /// `noise_codes` is the sensor noise σ in 8-bit code values.
    #[must_use]
    pub fn render(
        &self,
        session: &SessionTruth,
        session_index: usize,
        noise_codes: f64,
    ) -> Vec<f32> {
        let (w, h) = self.size;
        let m = session.matrix;
        let mut out = vec![0f32; w * h * 3];
        let sigma = noise_codes / 255.0;
        let noise_seed =
            self.noise_seed ^ (session_index as u64).wrapping_mul(0xA24B_AED4_963E_E407);
        out.par_chunks_mut(w * 3).enumerate().for_each(|(row, px)| {
            for (col, rgb) in px.chunks_exact_mut(3).enumerate() {
                let mut acc = [0.0f64; 3];
                for (ox, oy) in [(-0.25, -0.25), (0.25, -0.25), (-0.25, 0.25), (0.25, 0.25)] {
                    let (qx, qy) = (col as f64 + ox, row as f64 + oy);
                    let bx = m[0][0] * qx + m[0][1] * qy + m[0][2];
                    let by = m[1][0] * qx + m[1][1] * qy + m[1][2];
                    let v = self.radiance(bx, by, session, session_index);
                    for c in 0..3 {
                        acc[c] += 0.25 * v[c];
                    }
                }
                for c in 0..3 {
                    let exposed = acc[c] * session.white_balance[c] * session.gain;
                    let encoded = colour::linear_to_srgb(exposed).powf(session.gamma);
                    let h1 = hash2(noise_seed, (row * w + col) as i64, c as i64);
                    let noise = sigma * gaussian(h1);
                    rgb[c] = (encoded + noise).clamp(0.0, 1.0) as f32;
                }
            }
        });
        out
    }
}

/// A standard normal deviate from one 64-bit hash (Box–Muller on its two 32-bit halves).
fn gaussian(h: u64) -> f64 {
    let u1 = unit_from_hash(h).max(1e-300);
    let u2 = unit_from_hash(super::noise::mix64(h));
    (-2.0 * u1.ln()).sqrt() * (2.0 * PI * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_is_half_at_the_radius() {
        for r in [1.0, 2.5, 10.0] {
            assert!((profile(r, r) - 0.5).abs() < 1e-12);
            assert_eq!(profile(0.69 * r, r), 1.0);
            assert_eq!(profile(1.31 * r, r), 0.0);
        }
    }

    #[test]
    fn profile_slope_matches_finite_difference() {
        let (r, radius) = (3.3, 3.0);
        let fd = (profile(r + 1e-6, radius) - profile(r - 1e-6, radius)) / 2e-6;
        assert!((fd - profile_slope(r, radius)).abs() < 1e-6);
    }

    #[test]
    fn equivalent_disk_area_matches_the_closed_form() {
        // ∫ profile dA = π (R² + σ²), σ² = w² (1 − 8/π²) the variance of the raised-cosine edge of
        // half-width w = 0.3 R.
        let radius = 5.0;
        let steps = 200_000;
        let dr = 2.0 * radius / f64::from(steps);
        let area: f64 = (0..steps)
            .map(|i| {
                let r = (f64::from(i) + 0.5) * dr;
                2.0 * PI * r * profile(r, radius) * dr
            })
            .sum();
        let expected = PI * radius * radius * (1.0 + 0.3f64.powi(2) * (1.0 - 8.0 / PI.powi(2)));
        assert!(
            (area - expected).abs() / expected < 1e-3,
            "{area} vs {expected}"
        );
    }
}
