//! The pseudo-height and its scale-limited surface: what roughness is measured on.
//!
//! **Pseudo-height.** h = ln(luminance), in linear light. Skin relief shows in a photograph as shading,
//! and shading multiplies the albedo and the illumination, so its logarithm adds: an exposure gain
//! becomes a constant that the filters below remove, and a tone-curve (gamma) change becomes a factor on
//! h that the alignment's photometric fit measures and undoes ([`height_map`]'s `slope`). A white-balance
//! change does not cancel this way (luminance is a sum of channels, so a redder pixel takes more of a
//! red gain): a session's luminance is taken with channel weights that undo the white balance measured
//! on skin (`PhotometricMap::skin_luminance_weights`). The values are an image index in log-luminance
//! units, not micrometres.
//!
//! **Scale-limited surface** (ISO 25178-2 §3.1.10; filters of ISO 16610-21 / -61): the S-filter, a
//! Gaussian with cut-off λs, removes what is finer than skin texture (sensor noise, demosaicing, JPEG
//! blocks, interpolation); the L-filter, a Gaussian with cut-off λc, estimates the reference surface
//! (facial form, lighting falloff), which is subtracted. The ISO Gaussian weighting function has
//! 50 % amplitude transmission at its cut-off wavelength λ, i.e. σ = λ·√(ln 2 / (2π²)) = 0.1874·λ
//! (ISO 16610-21 §4, α = √(ln 2/π)).
//!
//! The L-filter's σ is tens of pixels, so it runs on a block-averaged copy (σ about 2 there) and is
//! brought back by bilinear interpolation; the reduced σ is chosen so that box, Gaussian and tent
//! together have the variance of the requested Gaussian. It is a *normalised* convolution over the
//! skin (Knutsson & Westin, CVPR 1993): weights are the skin mask, so hair, eyes and background at the
//! edge of the skin do not pull the reference surface and show up as false roughness.

use ndarray::{Array2, ArrayView2, Axis, Zip};
use rayon::prelude::*;

use super::region::Region;
use crate::kernels::warp::downsample_area;
use crate::kernels::{gaussian_blur, ln_plane};

/// ISO 16610-21: Gaussian σ = this × cut-off wavelength.
pub const SIGMA_PER_CUTOFF: f64 = 0.187_390_625_129_278_6;
/// Linear luminance below this is treated as this (ln of black is −∞).
const LUMINANCE_FLOOR: f32 = 1e-4;
/// Target σ of the L-filter on its reduced copy, px.
const REDUCED_SIGMA: f64 = 2.0;

/// h = slope · ln(luminance) (the offset of the photometric map is a constant, removed by the
/// L-filter, so it is not applied).
#[must_use]
pub fn height_map(luminance: ArrayView2<'_, f32>, slope: f32) -> Array2<f32> {
    ln_plane(luminance, LUMINANCE_FLOOR, slope)
}

/// The S-filter: Gaussian with cut-off `cutoff_px`.
#[must_use]
pub fn s_filter(height: ArrayView2<'_, f32>, cutoff_px: f64) -> Array2<f32> {
    gaussian_blur(height, (SIGMA_PER_CUTOFF * cutoff_px) as f32)
}

/// The scale-limited surface z = S − L(S), where L is the Gaussian L-filter with cut-off `cutoff_px`,
/// normalised over the pixels `weight` accepts. `weight` is asked about the corners and centres of
/// reduced blocks, in full-resolution pixel coordinates.
#[must_use]
pub fn remove_reference(
    mut smoothed: Array2<f32>,
    cutoff_px: f64,
    weight: impl Region,
) -> Array2<f32> {
    let (h, w) = smoothed.dim();
    let sigma = SIGMA_PER_CUTOFF * cutoff_px;
    let factor = ((sigma / REDUCED_SIGMA).floor() as usize).max(1);
    let f = factor as f64;
    // Variances: block average (f² − 1)/12, tent of the bilinear upsampling f²/6 (full-res px²).
    let reduced_var = (sigma * sigma - (f * f - 1.0) / 12.0 - f * f / 6.0) / (f * f);
    let reduced_sigma = reduced_var.max(0.25).sqrt() as f32;

    let small = downsample_area(smoothed.view(), factor);
    let mask = block_weights(small.dim(), f, &weight);
    let centre = (f - 1.0) / 2.0;
    // The per-value passes below run in parallel (the reduced plane of a 12 MP photo is 1.3 MP).
    let weighted = Zip::from(&small).and(&mask).par_map_collect(|&v, &m| v * m);
    let num = gaussian_blur(weighted.view(), reduced_sigma);
    let den = gaussian_blur(mask.view(), reduced_sigma);
    let mut reference = small;
    Zip::from(&mut reference)
        .and(&num)
        .and(&den)
        .par_for_each(|r, &n, &d| {
            // Far from any skin the plain block mean stands (those pixels are not measured anyway).
            if d > 1e-3 {
                *r = n / d;
            }
        });

    // Bilinear back to full resolution: full x ↔ reduced (x − centre)/f.
    let (rh, rw) = reference.dim();
    let taps = |n: usize, len: usize| -> Vec<(usize, usize, f32)> {
        (0..n)
            .map(|i| {
                let u = ((i as f64 - centre) / f).clamp(0.0, (len - 1) as f64);
                let i0 = u.floor() as usize;
                let i1 = (i0 + 1).min(len - 1);
                (i0, i1, (u - i0 as f64) as f32)
            })
            .collect()
    };
    let cols = taps(w, rw);
    let rows = taps(h, rh);
    // Vertical first, on the reduced row (rw values), then horizontal per pixel: half the per-pixel
    // work of interpolating two rows horizontally and blending them.
    smoothed
        .axis_iter_mut(Axis(0))
        .into_par_iter()
        .enumerate()
        .for_each_init(
            || vec![0f32; rw],
            |line, (y, mut row)| {
                let (y0, y1, ty) = rows[y];
                let (r0, r1) = (reference.row(y0), reference.row(y1));
                for ((l, &a), &b) in line.iter_mut().zip(&r0).zip(&r1) {
                    *l = a + ty * (b - a);
                }
                for (v, &(x0, x1, tx)) in row.iter_mut().zip(&cols) {
                    *v -= line[x0] + tx * (line[x1] - line[x0]);
                }
            },
        );
    smoothed
}

/// The L-filter's weight of each block of `f` × `f` px (`dim`: the reduced plane's rows and
/// columns): 1 if `weight` accepts all of it, tested at its four corners and its centre, else 0. A
/// block straddling the skin's edge would average hair or background into its value. Block rows in
/// parallel; a row's corners and centres are asked of `weight` a row of points at a time (see
/// [`Region`]).
fn block_weights((rows, cols): (usize, usize), f: f64, weight: &impl Region) -> Array2<f32> {
    let centre = (f - 1.0) / 2.0;
    let left: Vec<f64> = (0..cols).map(|x| f * x as f64).collect();
    let right: Vec<f64> = left.iter().map(|&x0| x0 + f - 1.0).collect();
    let middle: Vec<f64> = left.iter().map(|&x0| x0 + centre).collect();
    let mut mask = Array2::zeros((rows, cols));
    mask.axis_iter_mut(Axis(0))
        .into_par_iter()
        .enumerate()
        .for_each_init(
            || (vec![true; cols], vec![false; cols]),
            |(all, inside), (y, mut row)| {
                let top = f * y as f64;
                let bottom = top + f - 1.0;
                all.fill(true);
                for (xs, y) in [
                    (&left, top),
                    (&right, top),
                    (&left, bottom),
                    (&right, bottom),
                    (&middle, top + centre),
                ] {
                    weight.contains_row(xs, y, inside);
                    all.iter_mut().zip(&*inside).for_each(|(a, &i)| *a &= i);
                }
                for (m, &a) in row.iter_mut().zip(&*all) {
                    *m = if a { 1.0 } else { 0.0 };
                }
            },
        );
    mask
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::TAU;

    /// The ISO Gaussian passes half the amplitude of a sinusoid at its cut-off wavelength.
    #[test]
    fn s_filter_transmits_half_at_its_cutoff() {
        for cutoff in [5.0, 12.0] {
            let img =
                Array2::from_shape_fn((8, 400), |(_, x)| (TAU * x as f64 / cutoff).sin() as f32);
            let out = s_filter(img.view(), cutoff);
            let amp = |a: &Array2<f32>| {
                a.row(4)
                    .iter()
                    .skip(100)
                    .take(200)
                    .map(|v| v.abs())
                    .fold(0.0f32, f32::max)
            };
            let gain = f64::from(amp(&out) / amp(&img));
            assert!((gain - 0.5).abs() < 0.02, "λ {cutoff}: {gain}");
        }
    }

    /// The reduced-resolution L-filter behaves as the ISO Gaussian: at the cut-off half of a sinusoid
    /// is in the reference (so half remains in z), a wavelength 4× longer is almost all reference
    /// (transmission e^(−π α² / 16) ≈ 0.96 removed), 4× shorter passes almost entirely.
    #[test]
    fn l_filter_has_the_iso_transmission() {
        let cutoff = 40.0;
        for (lambda, expected_kept) in [
            (40.0, 0.5),
            (
                160.0,
                1.0 - (-std::f64::consts::PI * 0.4697f64.powi(2) / 16.0).exp(),
            ),
            (
                10.0,
                1.0 - (-std::f64::consts::PI * 0.4697f64.powi(2) * 16.0).exp(),
            ),
        ] {
            let img =
                Array2::from_shape_fn((300, 900), |(_, x)| (TAU * x as f64 / lambda).sin() as f32);
            let z = remove_reference(img.clone(), cutoff, |_, _| true);
            let amp = |a: &Array2<f32>| {
                a.row(150)
                    .iter()
                    .skip(300)
                    .take(300)
                    .map(|v| v.abs())
                    .fold(0.0f32, f32::max)
            };
            let kept = f64::from(amp(&z) / amp(&img));
            assert!(
                (kept - expected_kept).abs() < 0.03,
                "λ {lambda}: kept {kept}, ISO {expected_kept}"
            );
        }
    }

    /// Outside the weights the height may be anything (hair, background): the reference over the
    /// weighted half does not see it.
    #[test]
    fn l_filter_ignores_what_the_weights_exclude() {
        let img = Array2::from_shape_fn((200, 400), |(_, x)| if x < 200 { 0.2f32 } else { -3.0 });
        let z = remove_reference(img, 40.0, |x, _| x < 200.0);
        for x in [100usize, 180, 195] {
            assert!(z[[100, x]].abs() < 0.02, "x {x}: {}", z[[100, x]]);
        }
    }

    #[test]
    fn gain_cancels_and_slope_scales() {
        let lum = Array2::from_shape_fn((120, 160), |(y, x)| {
            0.2 + 0.1 * ((x as f32) * 0.3).sin() * ((y as f32) * 0.2).cos()
        });
        let brighter = lum.mapv(|v| 1.3 * v);
        let z = |l: &Array2<f32>, slope: f32| {
            remove_reference(
                s_filter(height_map(l.view(), slope).view(), 5.0),
                40.0,
                |_, _| true,
            )
        };
        let (a, b, c) = (z(&lum, 1.0), z(&brighter, 1.0), z(&lum, 1.1));
        for ((&p, &q), &r) in a.iter().zip(&b).zip(&c) {
            assert!((p - q).abs() < 1e-5);
            assert!((r - 1.1 * p).abs() < 1e-5);
        }
    }
}
