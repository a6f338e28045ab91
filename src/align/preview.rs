//! Downscaled, registered, colour-matched previews for people to look at (the report's image strip).
//! Never measured: interpolation smooths texture (see the module header of [`crate::align`]).

use image::RgbImage;
use ndarray::Array2;
use rayon::prelude::*;

use super::geometry::Affine;
use super::photometric::PhotometricMap;
use crate::io::colour::linear_to_srgb8;
use crate::kernels::warp::{Interpolation, downsample_area, warp};

/// A photo's linear colour planes block-averaged by a whole factor, so that its long side is at most
/// the preview's: all a preview needs of the photo. Made as soon as the photo is decoded, so the
/// full-resolution colour planes (144 MB at 12 MP) need not wait for the registration.
#[derive(Debug, Clone)]
pub struct PreviewSource {
    planes: [Array2<f32>; 3],
    factor: usize,
}

impl PreviewSource {
    /// Reduces `rgb` for previews whose long side is at most `max_side`.
    #[must_use]
    pub fn new(rgb: &[Array2<f32>; 3], max_side: usize) -> Self {
        let (h, w) = rgb[0].dim();
        let factor = reduction(w, h, max_side);
        Self {
            planes: std::array::from_fn(|c| downsample_area(rgb[c].view(), factor)),
            factor,
        }
    }
}

/// The whole factor that brings a `width × height` photo's long side to at most `max_side`.
fn reduction(width: usize, height: usize, max_side: usize) -> usize {
    width.max(height).div_ceil(max_side.max(1)).max(1)
}

/// Renders `source` (a session photo, reduced) in the frame of the baseline (`baseline_width ×
/// baseline_height`), reduced by a whole factor so the long side is at most `max_side`, after
/// `photometric`. `to_baseline` maps a session pixel to a baseline pixel (full resolution). Pixels the
/// session does not cover are black.
#[must_use]
pub fn aligned_preview(
    source: &PreviewSource,
    to_baseline: &Affine,
    photometric: &PhotometricMap,
    (baseline_width, baseline_height): (usize, usize),
    max_side: usize,
) -> Option<RgbImage> {
    let factor = reduction(baseline_width, baseline_height, max_side);
    // Preview pixel → full-resolution baseline pixel → session pixel → pixel of the reduced session
    // (whose factor is the baseline's whenever the two photos are the same size).
    let up = Affine::block_to_full(factor);
    let down = Affine::block_to_full(source.factor).inverse()?;
    let to_session = to_baseline.inverse()?;
    let sample = down.after(&to_session.after(&up));
    let (out_w, out_h) = (
        baseline_width.div_ceil(factor),
        baseline_height.div_ceil(factor),
    );
    let planes: Vec<Array2<f32>> = (0..3)
        .map(|c| {
            let mut out = warp(
                source.planes[c].view(),
                &sample.to_matrix3(),
                out_h,
                out_w,
                Interpolation::Bilinear,
                0.0,
            );
            photometric.apply_plane(c, &mut out);
            out
        })
        .collect();
    let mut bytes = vec![0u8; out_w * out_h * 3];
    bytes
        .par_chunks_mut(out_w * 3)
        .enumerate()
        .for_each(|(y, row)| {
            for (x, pixel) in row.chunks_exact_mut(3).enumerate() {
                for (byte, plane) in pixel.iter_mut().zip(&planes) {
                    *byte = linear_to_srgb8(plane[[y, x]]);
                }
            }
        });
    RgbImage::from_raw(out_w as u32, out_h as u32, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::colour::linear_to_srgb;

    #[test]
    fn identity_preview_is_the_downscaled_photo() {
        let rgb: [Array2<f32>; 3] =
            std::array::from_fn(|c| Array2::from_elem((40, 60), 0.2 * (c + 1) as f32));
        let img = aligned_preview(
            &PreviewSource::new(&rgb, 30),
            &Affine::IDENTITY,
            &PhotometricMap::IDENTITY,
            (60, 40),
            30,
        )
        .unwrap();
        assert_eq!(img.dimensions(), (30, 20));
        let expected: Vec<u8> = (0..3)
            .map(|c| (linear_to_srgb(0.2 * (c + 1) as f64) * 255.0).round() as u8)
            .collect();
        assert_eq!(img.get_pixel(10, 10).0.to_vec(), expected);
    }

    /// A session photographed at twice the baseline's resolution is reduced by twice the factor, and
    /// its preview in the baseline's frame matches the baseline's own: on linear ramps (which area
    /// averaging and bilinear sampling both reproduce exactly) to within the 8-bit rounding.
    #[test]
    fn a_larger_session_previews_like_the_baseline() {
        let ramp = |c: usize, x: f64, y: f64| (0.05 + 0.004 * x + 0.002 * y) * (c + 1) as f64 / 3.0;
        let baseline: [Array2<f32>; 3] = std::array::from_fn(|c| {
            Array2::from_shape_fn((60, 80), |(y, x)| ramp(c, x as f64, y as f64) as f32)
        });
        // Session pixel → baseline pixel: the session's 2 × 2 blocks are the baseline's pixels.
        let to_baseline = Affine::block_to_full(2).inverse().unwrap();
        let session: [Array2<f32>; 3] = std::array::from_fn(|c| {
            Array2::from_shape_fn((120, 160), |(y, x)| {
                let (bx, by) = to_baseline.apply(x as f64, y as f64);
                ramp(c, bx, by) as f32
            })
        });
        let max_side = 40;
        let source = PreviewSource::new(&session, max_side);
        assert_eq!(source.factor, 4);
        let own = aligned_preview(
            &PreviewSource::new(&baseline, max_side),
            &Affine::IDENTITY,
            &PhotometricMap::IDENTITY,
            (80, 60),
            max_side,
        )
        .unwrap();
        let seen = aligned_preview(
            &source,
            &to_baseline,
            &PhotometricMap::IDENTITY,
            (80, 60),
            max_side,
        )
        .unwrap();
        assert_eq!(seen.dimensions(), (40, 30));
        for y in 0..30 {
            for x in 0..40 {
                for c in 0..3 {
                    let (a, b) = (own.get_pixel(x, y).0[c], seen.get_pixel(x, y).0[c]);
                    assert!(a.abs_diff(b) <= 1, "({x}, {y}) channel {c}: {a} vs {b}");
                }
            }
        }
    }
}
