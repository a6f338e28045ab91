//! Downscaled, registered, colour-matched previews for people to look at (the report's image strip).
//! Never measured: interpolation smooths texture (see the module header of [`crate::align`]).

use image::RgbImage;
use ndarray::Array2;
use rayon::prelude::*;

use super::geometry::Affine;
use super::photometric::PhotometricMap;
use crate::io::colour::linear_to_srgb8;
use crate::kernels::warp::{Interpolation, downsample_area, warp};

/// Renders `rgb` (linear planes of a session photo) in the frame of the baseline
/// (`baseline_width × baseline_height`), reduced by a whole factor so the long side is at most
/// `max_side`, after `photometric`. `to_baseline` maps a session pixel to a baseline pixel. Pixels the
/// session does not cover are black.
#[must_use]
pub fn aligned_preview(
    rgb: &[Array2<f32>; 3],
    to_baseline: &Affine,
    photometric: &PhotometricMap,
    (baseline_width, baseline_height): (usize, usize),
    max_side: usize,
) -> Option<RgbImage> {
    let factor = baseline_width
        .max(baseline_height)
        .div_ceil(max_side.max(1))
        .max(1);
    // Thumbnail pixel → full-resolution pixel of the same photo, and back.
    let up = Affine::block_to_full(factor);
    let down = up.inverse()?;
    let to_session = to_baseline.inverse()?;
    let sample = down.after(&to_session.after(&up));
    let (out_w, out_h) = (
        baseline_width.div_ceil(factor),
        baseline_height.div_ceil(factor),
    );
    let planes: Vec<Array2<f32>> = (0..3)
        .map(|c| {
            let small = downsample_area(rgb[c].view(), factor);
            let mut out = warp(
                small.view(),
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
            &rgb,
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
}
