//! Deterministic 2-D gradient noise and its multi-octave sum, the synthetic skin's micro-relief.
//!
//! Written here rather than taken from a noise crate on purpose: the committed fixtures and golden
//! results must regenerate byte for byte for years, so the field must be a pure function of
//! (seed, x, y) that no dependency update can change. It is small: a hash, a 256-entry gradient table
//! and quintic interpolation (Perlin, "Improving noise", SIGGRAPH 2002).

use std::f64::consts::TAU;
use std::sync::OnceLock;

/// SplitMix64's finaliser (Steele, Lea & Flood 2014): a fast, well-mixed 64-bit hash step.
#[must_use]
#[inline]
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Hash of a seed and two integer coordinates.
#[must_use]
#[inline]
pub fn hash2(seed: u64, a: i64, b: i64) -> u64 {
    mix64(seed ^ mix64((a as u64).wrapping_add(mix64((b as u64) ^ 0x9E37_79B9_7F4A_7C15))))
}

/// A uniform value in `[0, 1)` from a hash.
#[must_use]
#[inline]
pub fn unit_from_hash(h: u64) -> f64 {
    (h >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

fn gradients() -> &'static [(f64, f64); 256] {
    static TABLE: OnceLock<[(f64, f64); 256]> = OnceLock::new();
    TABLE.get_or_init(|| {
        std::array::from_fn(|i| {
            let a = TAU * (i as f64 + 0.5) / 256.0;
            (a.cos(), a.sin())
        })
    })
}

#[inline]
fn fade(t: f64) -> f64 {
    t * t * t * (t * (t * 6.0 - 15.0) + 10.0)
}

/// Gradient noise with unit lattice spacing; values lie roughly in `[-0.7, 0.7]`, zero at lattice points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GradientNoise {
    seed: u64,
}

impl GradientNoise {
    /// Noise field number `seed`.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self { seed }
    }

    /// The field at `(x, y)` (lattice units).
    #[must_use]
    pub fn sample(&self, x: f64, y: f64) -> f64 {
        let table = gradients();
        let (x0, y0) = (x.floor(), y.floor());
        let (fx, fy) = (x - x0, y - y0);
        let (ix, iy) = (x0 as i64, y0 as i64);
        let corner = |dx: i64, dy: i64| {
            let g = table[(hash2(self.seed, ix + dx, iy + dy) & 255) as usize];
            g.0 * (fx - dx as f64) + g.1 * (fy - dy as f64)
        };
        let (u, v) = (fade(fx), fade(fy));
        let bottom = corner(0, 0) + u * (corner(1, 0) - corner(0, 0));
        let top = corner(0, 1) + u * (corner(1, 1) - corner(0, 1));
        bottom + v * (top - bottom)
    }
}

/// One octave: a noise field at a wavelength (px) with a weight.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Octave {
    /// The noise field.
    pub noise: GradientNoise,
    /// Lattice spacing in pixels.
    pub wavelength_px: f64,
    /// Weight in the sum.
    pub weight: f64,
}

/// A weighted sum of octaves, scaled by `1 / norm` so its RMS over the frame it was normalised on is 1.
#[derive(Debug, Clone, PartialEq)]
pub struct Fbm {
    octaves: Vec<Octave>,
    norm: f64,
}

impl Fbm {
    /// Builds the sum and normalises it to unit RMS over pixel centres of a `width × height` frame
    /// (sampled on a 2-px grid, which is far finer than the shortest wavelength's correlation length).
    #[must_use]
    pub fn normalised(octaves: Vec<Octave>, width: usize, height: usize) -> Self {
        let raw = Self { octaves, norm: 1.0 };
        let mut sum_sq = 0.0;
        let mut n = 0usize;
        for y in (0..height).step_by(2) {
            for x in (0..width).step_by(2) {
                let v = raw.sample(x as f64, y as f64);
                sum_sq += v * v;
                n += 1;
            }
        }
        let rms = (sum_sq / n.max(1) as f64).sqrt();
        Self {
            octaves: raw.octaves,
            norm: if rms > 0.0 { rms } else { 1.0 },
        }
    }

    /// The normalised field at pixel coordinates `(x, y)`.
    #[must_use]
    pub fn sample(&self, x: f64, y: f64) -> f64 {
        let sum: f64 = self
            .octaves
            .iter()
            .map(|o| o.weight * o.noise.sample(x / o.wavelength_px, y / o.wavelength_px))
            .sum();
        sum / self.norm
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_is_zero_on_lattice_and_bounded() {
        let n = GradientNoise::new(7);
        assert_eq!(n.sample(3.0, -2.0), 0.0);
        for i in 0..2000 {
            let v = n.sample(f64::from(i) * 0.137, f64::from(i) * 0.291 - 50.0);
            assert!(v.abs() < 1.0, "{v}");
        }
    }

    #[test]
    fn noise_is_continuous() {
        let n = GradientNoise::new(1);
        let a = n.sample(10.5, 3.25);
        let b = n.sample(10.5 + 1e-7, 3.25);
        assert!((a - b).abs() < 1e-5);
    }

    #[test]
    fn fbm_has_unit_rms_on_its_frame() {
        let octaves = [4.0, 8.0, 16.0]
            .iter()
            .enumerate()
            .map(|(i, &w)| Octave {
                noise: GradientNoise::new(i as u64),
                wavelength_px: w,
                weight: 1.0,
            })
            .collect();
        let f = Fbm::normalised(octaves, 200, 150);
        let mut sum_sq = 0.0;
        for y in (0..150).step_by(2) {
            for x in (0..200).step_by(2) {
                sum_sq += f.sample(f64::from(x), f64::from(y)).powi(2);
            }
        }
        let rms = (sum_sq / (100.0 * 75.0)).sqrt();
        assert!((rms - 1.0).abs() < 1e-9, "{rms}");
    }
}
