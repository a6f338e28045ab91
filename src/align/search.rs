//! The fallback coarse stage: when keypoints are too few to agree on a transform (a blurred, small or
//! low-detail photo), search rotation and scale exhaustively on the coarsest pyramid level and find the
//! shift of each candidate by phase correlation (Kuglin & Hines, 1975).
//!
//! 11 rotations (±15°, 3° apart) × 7 scales (±15 %, 5 % apart) cover the promised range with at most
//! 1.5° and 2.5 % to spare, which Lucas–Kanade at the next levels absorbs. Phase correlation whitens the
//! spectrum, so the peak measures structural agreement whatever the exposure; the best peak seeds the
//! refinement, and the quality gate still decides whether the result is trusted.

use std::sync::Arc;

use ndarray::ArrayView2;
use rayon::prelude::*;
use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};

use super::geometry::Affine;
use crate::kernels::warp::sample_bilinear;

/// Rotations tried, degrees.
const ROTATIONS: [f64; 11] = [
    -15.0, -12.0, -9.0, -6.0, -3.0, 0.0, 3.0, 6.0, 9.0, 12.0, 15.0,
];
/// Scales tried.
const SCALES: [f64; 7] = [0.85, 0.9, 0.95, 1.0, 1.05, 1.1, 1.15];

/// A candidate and how strongly its phase correlation peaks (0–1).
#[derive(Debug, Clone, Copy)]
pub struct SearchResult {
    /// Baseline pixel → session pixel at the searched level.
    pub warp: Affine,
    /// Height of the phase-correlation peak.
    pub peak: f64,
}

/// Searches for the similarity taking `baseline` pixels to `session` pixels (both log-luminance, same
/// pyramid level). `None` for empty images.
#[must_use]
pub fn search(baseline: ArrayView2<'_, f32>, session: ArrayView2<'_, f32>) -> Option<SearchResult> {
    let (h, w) = baseline.dim();
    let (sh, sw) = session.dim();
    if h < 8 || w < 8 || sh < 8 || sw < 8 {
        return None;
    }
    // Zero padding to twice the size keeps circular wrap-around away from real shifts.
    let n = (2 * w.max(h)).next_power_of_two();
    let mut planner = FftPlanner::<f32>::new();
    let fft = planner.plan_fft_forward(n);
    let ifft = planner.plan_fft_inverse(n);
    let window = hann_window(h, w);
    let base_spectrum = {
        let mut buf = windowed(h, w, n, &window, |y, x| Some(baseline[[y, x]]));
        fft2d(&mut buf, n, &fft);
        buf
    };
    let (cb, cs) = (
        ((w as f64 - 1.0) / 2.0, (h as f64 - 1.0) / 2.0),
        ((sw as f64 - 1.0) / 2.0, (sh as f64 - 1.0) / 2.0),
    );
    let hypotheses: Vec<(f64, f64)> = ROTATIONS
        .iter()
        .flat_map(|&r| SCALES.iter().map(move |&s| (r, s)))
        .collect();
    let results: Vec<SearchResult> = hypotheses
        .par_iter()
        .map(|&(rotation, scale)| {
            // Baseline pixel p → session pixel: centre to centre, rotated and scaled.
            let g0 = Affine::similarity(1.0, 0.0, cs.0, cs.1)
                .after(&Affine::similarity(scale, rotation.to_radians(), 0.0, 0.0))
                .after(&Affine::similarity(1.0, 0.0, -cb.0, -cb.1));
            let mut buf = windowed(h, w, n, &window, |y, x| {
                let (u, v) = g0.apply(x as f64, y as f64);
                sample_bilinear(session, u, v)
            });
            fft2d(&mut buf, n, &fft);
            // Normalised cross-power spectrum; its inverse peaks at the shift d with
            // baseline(p) ≈ resampled(p + d).
            for (r, b) in buf.iter_mut().zip(&base_spectrum) {
                let c = b * r.conj();
                let m = c.norm();
                *r = if m > 1e-20 {
                    c / m
                } else {
                    Complex::new(0.0, 0.0)
                };
            }
            fft2d(&mut buf, n, &ifft);
            let norm = (n * n) as f32;
            let (mut best, mut at) = (f32::MIN, 0usize);
            for (i, v) in buf.iter().enumerate() {
                if v.re > best {
                    best = v.re;
                    at = i;
                }
            }
            let wrap = |k: usize| -> f64 {
                if k > n / 2 {
                    k as f64 - n as f64
                } else {
                    k as f64
                }
            };
            let (dy, dx) = (wrap(at / n), wrap(at % n));
            // The peak at +d says baseline(p) = resampled(p − d): baseline p shows session g0(p − d).
            let warp = g0.after(&Affine::similarity(1.0, 0.0, -dx, -dy));
            SearchResult {
                warp,
                peak: f64::from(best / norm),
            }
        })
        .collect();
    results
        .into_iter()
        .reduce(|a, b| if b.peak > a.peak { b } else { a })
}

fn hann_window(h: usize, w: usize) -> Vec<f32> {
    let hann = |i: usize, n: usize| -> f32 {
        (0.5 - 0.5 * (std::f64::consts::TAU * (i as f64 + 0.5) / n as f64).cos()) as f32
    };
    let mut out = Vec::with_capacity(h * w);
    for y in 0..h {
        for x in 0..w {
            out.push(hann(y, h) * hann(x, w));
        }
    }
    out
}

/// The `h × w` image (values from `value`, `None` outside the photo) with its mean removed and the
/// window applied, in the top-left corner of an `n × n` zero buffer.
fn windowed(
    h: usize,
    w: usize,
    n: usize,
    window: &[f32],
    value: impl Fn(usize, usize) -> Option<f32>,
) -> Vec<Complex<f32>> {
    let mut values = Vec::with_capacity(h * w);
    let (mut sum, mut count) = (0.0f64, 0usize);
    for y in 0..h {
        for x in 0..w {
            let v = value(y, x);
            if let Some(v) = v {
                sum += f64::from(v);
                count += 1;
            }
            values.push(v);
        }
    }
    let mean = if count > 0 {
        (sum / count as f64) as f32
    } else {
        0.0
    };
    let mut buf = vec![Complex::new(0.0f32, 0.0); n * n];
    for y in 0..h {
        for x in 0..w {
            let v = values[y * w + x].map_or(0.0, |v| v - mean);
            buf[y * n + x] = Complex::new(v * window[y * w + x], 0.0);
        }
    }
    buf
}

/// In-place 2-D FFT of an `n × n` row-major buffer: rows, then columns through a scratch column.
fn fft2d(buf: &mut [Complex<f32>], n: usize, fft: &Arc<dyn Fft<f32>>) {
    for row in buf.chunks_exact_mut(n) {
        fft.process(row);
    }
    let mut column = vec![Complex::new(0.0f32, 0.0); n];
    for x in 0..n {
        for (y, c) in column.iter_mut().enumerate() {
            *c = buf[y * n + x];
        }
        fft.process(&mut column);
        for (y, c) in column.iter().enumerate() {
            buf[y * n + x] = *c;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::gaussian_blur;
    use crate::kernels::testutil::textured;
    use crate::kernels::warp::{Interpolation, warp};

    /// A textured image seen rotated by 10°, scaled by 1.08 and shifted: the search must land on the
    /// nearest grid hypothesis (within half a step: 1.5°, 2.5 %), with the image centre placed to the
    /// pixel — what the refinement needs to take over.
    #[test]
    fn finds_rotation_scale_and_shift_within_reach() {
        let base = gaussian_blur(textured(120, 160, 4).view(), 1.5);
        let cx = 79.5;
        let cy = 59.5;
        // Truth: baseline pixel → session pixel.
        let truth = Affine::similarity(1.0, 0.0, cx + 6.0, cy - 4.0)
            .after(&Affine::similarity(1.08, 10f64.to_radians(), 0.0, 0.0))
            .after(&Affine::similarity(1.0, 0.0, -cx, -cy));
        let session = warp(
            base.view(),
            &truth.inverse().unwrap().to_matrix3(),
            120,
            160,
            Interpolation::Bicubic,
            0.3,
        );
        let found = search(base.view(), session.view()).unwrap();
        let w = &found.warp;
        assert!((w.rotation().to_degrees() - 10.0).abs() <= 1.5, "{found:?}");
        assert!((w.scale() - 1.08).abs() <= 0.025 + 1e-9, "{found:?}");
        let (u, v) = w.apply(cx, cy);
        let (tu, tv) = truth.apply(cx, cy);
        assert!(
            (u - tu).hypot(v - tv) <= 1.5,
            "centre off by {:?}",
            (u - tu, v - tv)
        );
    }
}
