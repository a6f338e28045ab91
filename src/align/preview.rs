//! Downscaled, registered, colour-matched previews for people to look at (the report's image strip).
//! Never measured: interpolation smooths texture (see the module header of [`crate::align`]).

use image::RgbImage;
use ndarray::Array2;

use super::geometry::Affine;
use super::photometric::PhotometricMap;
use crate::io::colour::linear_to_srgb;
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
    let mut bytes = Vec::with_capacity(out_w * out_h * 3);
    for y in 0..out_h {
        for x in 0..out_w {
            for plane in &planes {
                bytes.push((linear_to_srgb(f64::from(plane[[y, x]])) * 255.0).round() as u8);
            }
        }
    }
    RgbImage::from_raw(out_w as u32, out_h as u32, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

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
