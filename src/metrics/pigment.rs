//! How much of a dark spot is a depression: its darkening split into shading and pigment by colour.
//!
//! The detector sees log-luminance only, and to it a freckle, a mole or a red papule is as dark and as
//! round as an atrophic scar. On the four real portraits of the slow suite (faces without acne scars)
//! every "scar" the luminance found was such a spot: freckled cheeks gave 257 of them. Their colour
//! says what they are. Relative to the skin around it, a spot's linear R, G, B each change by a factor,
//! and in logs (Beer–Lambert, as in Tsumura et al., "Image-based skin color and texture
//! analysis/synthesis by extracting hemoglobin and melanin information in the skin", SIGGRAPH 2003):
//!
//! Δ ln C = −s·(1, 1, 1) − m·μ_melanin − h·μ_haemoglobin
//!
//! where `s` is shading — light a depression's walls and floor do not receive, the same in every
//! channel — and `m`, `h` are extra melanin and blood. Three channels give the three amounts; the
//! part of the spot's darkening a depression explains is `s`. Measured on those portraits, the spots'
//! Δ ln RGB pointed along (0.27–0.37, 0.52–0.57, 0.72–0.78) (unit vectors, means per portrait): the
//! melanin model's own direction below is (0.32, 0.46, 0.83), and a shadow's is (0.58, 0.58, 0.58).
//!
//! The absorption spectra are read at the dominant wavelengths of the sRGB primaries (611, 549 and
//! 464 nm): melanin as μ ∝ λ^−3.5 (Jacques, "Optical properties of biological tissues: a review",
//! Phys. Med. Biol. 58, 2013), oxy-haemoglobin from Prahl's compilation of its molar extinction
//! (about 1.5, 43 and 33 × 10³ cm⁻¹/M). They are approximations: a camera's channels are broad and a
//! photon's path in skin is longer in red. That is why the split only *removes* pigment (negative
//! amounts, which these errors produce on a shadow, are not credited as extra depth) and why it is
//! applied to scars, not pores: a pore is a few pixels across, too few for a colour contrast.
//!
//! **Fixed spectra, not a per-photo fit.** Fitting the same split per photo was tried: regress the
//! neutral part of the skin's fine colour variation (4 × 4 px blocks, minus their surroundings) on its
//! chroma, as Tsumura et al. separate chromophores per image. JPEG's chroma noise biases such a slope
//! towards zero (an errors-in-variables fit), the coefficients moved with the block size (4, 8 or
//! 16 px gave opposite signs on one portrait), and it left 97, 34, 9 and 12 "scars" on the four
//! portraits against 113, 23, 7 and 6 with the spectra below. Not kept.
//!
//! Written here because no crate does skin chromophore separation.

use ndarray::Array2;

/// Melanin's absorption at the sRGB primaries' dominant wavelengths, ∝ λ^−3.5 (any scale).
pub(crate) fn melanin() -> [f64; 3] {
    DOMINANT_NM.map(|nm| (nm / 500.0).powf(-3.5))
}

/// Dominant wavelengths of the sRGB red, green and blue primaries, nm.
const DOMINANT_NM: [f64; 3] = [611.0, 549.0, 464.0];

/// Oxy-haemoglobin's molar extinction at the same wavelengths, 10³ cm⁻¹/M (approximate).
const HAEMOGLOBIN: [f64; 3] = [1.5, 43.0, 33.0];

/// The share of a spot's darkening that shading explains, from `darkening` = ln(around) − ln(spot)
/// per linear channel R, G, B (positive when the spot is darker): `s / mean(darkening)`, in [0, 1].
/// 1 for a spot as dark in every channel (a shadow), 0 for a spot that pigment alone explains; 1 when
/// the spot is not darker on average (no share to split).
#[must_use]
pub fn shading_share(darkening: [f64; 3]) -> f64 {
    let mean = darkening.iter().sum::<f64>() / 3.0;
    if mean.is_nan() || mean <= 0.0 {
        return 1.0;
    }
    let shading = shading_amount(darkening);
    (shading / mean).clamp(0.0, 1.0)
}

/// `s` of the decomposition `darkening = s·1 + m·melanin + h·haemoglobin` with `m, h ≥ 0`: the exact
/// solve when both pigments come out non-negative, otherwise the least-squares fit without the
/// pigment(s) that came out negative (the smaller residual when either alone would do).
fn shading_amount(darkening: [f64; 3]) -> f64 {
    let ones = [1.0; 3];
    let melanin = melanin();
    if let Some([s, m, h]) = solve3([ones, melanin, HAEMOGLOBIN], darkening)
        && m >= 0.0
        && h >= 0.0
    {
        return s;
    }
    let pairs = [melanin, HAEMOGLOBIN]
        .into_iter()
        .filter_map(|pigment| {
            let (s, p, residual) = fit_pair(pigment, darkening)?;
            (p >= 0.0).then_some((residual, s))
        })
        .min_by(|a, b| a.0.total_cmp(&b.0));
    pairs.map_or_else(|| darkening.iter().sum::<f64>() / 3.0, |(_, s)| s)
}

/// Least squares of `darkening ≈ s·1 + p·pigment`: `(s, p, squared residual)`.
fn fit_pair(pigment: [f64; 3], darkening: [f64; 3]) -> Option<(f64, f64, f64)> {
    let n = 3.0;
    let sum_p: f64 = pigment.iter().sum();
    let sum_pp: f64 = pigment.iter().map(|p| p * p).sum();
    let sum_d: f64 = darkening.iter().sum();
    let sum_pd: f64 = pigment.iter().zip(&darkening).map(|(p, d)| p * d).sum();
    let det = n * sum_pp - sum_p * sum_p;
    if det.abs() < 1e-12 {
        return None;
    }
    let s = (sum_pp * sum_d - sum_p * sum_pd) / det;
    let p = (n * sum_pd - sum_p * sum_d) / det;
    let residual = (0..3)
        .map(|c| (darkening[c] - s - p * pigment[c]).powi(2))
        .sum();
    Some((s, p, residual))
}

/// Solves `Σ_j columns[j][c]·x[j] = rhs[c]` by Cramer's rule; `None` when singular.
fn solve3(columns: [[f64; 3]; 3], rhs: [f64; 3]) -> Option<[f64; 3]> {
    let det = |c: [[f64; 3]; 3]| {
        c[0][0] * (c[1][1] * c[2][2] - c[2][1] * c[1][2])
            - c[1][0] * (c[0][1] * c[2][2] - c[2][1] * c[0][2])
            + c[2][0] * (c[0][1] * c[1][2] - c[1][1] * c[0][2])
    };
    let d = det(columns);
    if d.abs() < 1e-12 {
        return None;
    }
    Some(std::array::from_fn(|j| {
        let mut replaced = columns;
        replaced[j] = rhs;
        det(replaced) / d
    }))
}

/// `ln(around) − ln(spot)` per channel of linear `rgb` for a spot of half-depth radius `radius` at
/// `(x, y)` (pixels of `rgb`): the spot is the mean within 0.7 × radius (a depression's floor, see
/// [`super::blobs::soft_disk`]), around it the mean between 1.5 and 2.5 radii. `None` when either
/// has no pixel inside the photo or no light.
#[must_use]
pub fn darkening(rgb: &[Array2<f32>; 3], x: f64, y: f64, radius: f64) -> Option<[f64; 3]> {
    let (h, w) = rgb[0].dim();
    let reach = 2.5 * radius;
    let (x0, x1) = ((x - reach).floor().max(0.0), (x + reach).ceil());
    let (y0, y1) = ((y - reach).floor().max(0.0), (y + reach).ceil());
    if !(x0 <= x1 && y0 <= y1) || x1 < 0.0 || y1 < 0.0 {
        return None;
    }
    let (x1, y1) = (
        (x1 as usize).min(w.checked_sub(1)?),
        (y1 as usize).min(h.checked_sub(1)?),
    );
    let (inner2, ring_in2, ring_out2) = (
        (0.7 * radius).powi(2),
        (1.5 * radius).powi(2),
        reach * reach,
    );
    let (mut spot, mut around) = ([0f64; 3], [0f64; 3]);
    let (mut n_spot, mut n_around) = (0usize, 0usize);
    for py in y0 as usize..=y1 {
        for px in x0 as usize..=x1 {
            let d2 = (px as f64 - x).powi(2) + (py as f64 - y).powi(2);
            let target = if d2 <= inner2 {
                n_spot += 1;
                &mut spot
            } else if (ring_in2..=ring_out2).contains(&d2) {
                n_around += 1;
                &mut around
            } else {
                continue;
            };
            for (sum, plane) in target.iter_mut().zip(rgb) {
                *sum += f64::from(plane[[py, px]]);
            }
        }
    }
    if n_spot == 0 || n_around == 0 {
        return None;
    }
    let mut out = [0f64; 3];
    for c in 0..3 {
        let (a, s) = (around[c] / n_around as f64, spot[c] / n_spot as f64);
        if a <= 0.0 || s <= 0.0 {
            return None;
        }
        out[c] = a.ln() - s.ln();
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Darkening by `s` of shading, `m` of melanin and `h` of haemoglobin.
    fn mix(s: f64, m: f64, h: f64) -> [f64; 3] {
        let mel = melanin();
        std::array::from_fn(|c| s + m * mel[c] + h * HAEMOGLOBIN[c])
    }

    #[test]
    fn a_shadow_is_all_shading_and_a_pigment_spot_none() {
        assert!((shading_share(mix(0.3, 0.0, 0.0)) - 1.0).abs() < 1e-12);
        assert!(shading_share(mix(0.0, 0.2, 0.0)) < 1e-12);
        assert!(shading_share(mix(0.0, 0.0, 0.005)) < 1e-12);
        assert!(shading_share(mix(0.0, 0.1, 0.003)) < 1e-12);
    }

    /// A pigmented depression keeps its shading: the share is s over the mean darkening.
    #[test]
    fn a_pigmented_depression_keeps_its_shading() {
        let d = mix(0.2, 0.15, 0.002);
        let mean = d.iter().sum::<f64>() / 3.0;
        assert!((shading_share(d) - 0.2 / mean).abs() < 1e-9);
    }

    /// Pigment is only ever removed: a spot with less melanin than its surroundings but the same
    /// luminance drop is not credited with extra depth (share at most 1), and a lighter spot has no
    /// share to split.
    #[test]
    fn pigment_is_removed_never_added() {
        let share = shading_share(mix(0.3, -0.05, 0.0));
        assert!(share <= 1.0 && share > 0.5, "{share}");
        assert!((shading_share([-0.1, -0.1, -0.1]) - 1.0).abs() < 1e-12);
    }

    /// The melanin direction is the λ^−3.5 law at the primaries' dominant wavelengths.
    #[test]
    fn melanin_absorbs_more_towards_blue() {
        let m = melanin();
        assert!(m[0] < m[1] && m[1] < m[2]);
        assert!(((m[2] / m[0]).ln() - 3.5 * (611f64 / 464.0).ln()).abs() < 1e-12);
    }

    /// The colour contrast of a disk of known darkening on a flat background is that darkening.
    #[test]
    fn darkening_reads_a_drawn_spot() {
        let (h, w) = (80usize, 90usize);
        let factors = [0.9f32, 0.8, 0.7];
        let rgb: [Array2<f32>; 3] = std::array::from_fn(|c| {
            Array2::from_shape_fn((h, w), |(y, x)| {
                let d = (x as f64 - 40.0).hypot(y as f64 - 35.0);
                0.4 * if d <= 6.0 { factors[c] } else { 1.0 }
            })
        });
        let d = darkening(&rgb, 40.0, 35.0, 8.0).expect("inside");
        for c in 0..3 {
            assert!((d[c] + f64::from(factors[c]).ln()).abs() < 1e-6, "{d:?}");
        }
        assert!(darkening(&rgb, -100.0, -100.0, 5.0).is_none());
        assert!(darkening(&rgb, 1000.0, 35.0, 5.0).is_none());
    }
}
