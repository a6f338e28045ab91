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
//! 16 px gave opposite signs on one portrait), and it left 34, 97, 9 and 12 "scars" on the four
//! portraits (aadil, ike, mateus, simon) against 23, 113, 7 and 6 with the spectra below (as first
//! committed, before the share was weighted as luminance is). Not kept.
//!
//! Written here because no crate does skin chromophore separation.

use ndarray::Array2;

use crate::io::colour::LUMA_WEIGHTS;
use crate::kernels::warp::downsample_area;

/// Melanin's absorption at the sRGB primaries' dominant wavelengths, ∝ λ^−3.5 (any scale).
pub(crate) fn melanin() -> [f64; 3] {
    DOMINANT_NM.map(|nm| (nm / 500.0).powf(-3.5))
}

/// Dominant wavelengths of the sRGB red, green and blue primaries, nm.
const DOMINANT_NM: [f64; 3] = [611.0, 549.0, 464.0];

/// Oxy-haemoglobin's molar extinction at the same wavelengths, 10³ cm⁻¹/M (approximate).
const HAEMOGLOBIN: [f64; 3] = [1.5, 43.0, 33.0];

/// How much darker a spot is than the skin around it: `ln(around) − ln(spot)` per linear channel and
/// for their luminance (positive when the spot is darker).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Darkening {
    /// R, G, B.
    pub channels: [f64; 3],
    /// Rec. 709 luminance of the mean colours: what the detector's depth is read on.
    pub luminance: f64,
}

/// The share of a spot's luminance darkening that shading explains: `s / luminance darkening`, in
/// [0, 1]. Shading lowers every channel, so the luminance, by `s`; the rest is pigment, which darkens
/// the channels unequally (and so the luminance by its own weighting of them, not by their plain
/// mean). 1 for a spot as dark in every channel (a shadow), 0 for a spot that pigment alone explains;
/// 1 when the spot is not darker, or the figures are not finite (no share to split).
#[must_use]
pub fn shading_share(darkening: &Darkening) -> f64 {
    let total = darkening.luminance;
    if !total.is_finite() || total <= 0.0 || darkening.channels.iter().any(|d| !d.is_finite()) {
        return 1.0;
    }
    let share = shading_amount(darkening.channels) / total;
    if share.is_finite() {
        share.clamp(0.0, 1.0)
    } else {
        1.0
    }
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

/// A photo's linear colour planes at half resolution (means of 2 × 2 pixels): what the scars' colour
/// contrasts are read on, so a photo's full-resolution colour need not stay alive through its metrics
/// (144 MB at 12 MP, against 36 MB). Scars are at least 0.75 mm across, 15 px at the nominal
/// 0.05 mm/px, so a scar's floor still covers about 20 half-resolution pixels.
#[derive(Debug, Clone)]
pub struct HalfColour {
    planes: [Array2<f32>; 3],
}

impl HalfColour {
    /// Averages each 2 × 2 block of `rgb` (the last row or column alone when the size is odd).
    #[must_use]
    pub fn new(rgb: &[Array2<f32>; 3]) -> Self {
        Self {
            planes: rgb.each_ref().map(|plane| downsample_area(plane.view(), 2)),
        }
    }

    /// [`darkening`] of a spot at `(x, y)` with half-depth radius `radius`, in full-resolution pixels
    /// (half-resolution pixel `i` is centred on full-resolution `2i + 0.5`, as
    /// [`crate::align::geometry::Affine::block_to_full`] says).
    #[must_use]
    pub fn darkening(&self, x: f64, y: f64, radius: f64) -> Option<Darkening> {
        darkening(&self.planes, (x - 0.5) / 2.0, (y - 0.5) / 2.0, radius / 2.0)
    }
}

/// The [`Darkening`] of a spot of half-depth radius `radius` at `(x, y)` (pixels of `rgb`): the spot
/// is the mean within 0.7 × radius (a depression's floor, see [`super::blobs::soft_disk`]), around it
/// the mean between 1.5 and 2.5 radii. `None` when the planes differ in size, or either part has no
/// pixel inside the photo or no light.
#[must_use]
pub fn darkening(rgb: &[Array2<f32>; 3], x: f64, y: f64, radius: f64) -> Option<Darkening> {
    let (h, w) = rgb[0].dim();
    if rgb.iter().any(|plane| plane.dim() != (h, w)) {
        return None;
    }
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
    let spot = spot.map(|v| v / n_spot as f64);
    let around = around.map(|v| v / n_around as f64);
    let luminance = |c: [f64; 3]| {
        c.iter()
            .zip(LUMA_WEIGHTS)
            .map(|(v, k)| v * f64::from(k))
            .sum::<f64>()
    };
    let mut channels = [0f64; 3];
    for c in 0..3 {
        if around[c] <= 0.0 || spot[c] <= 0.0 {
            return None;
        }
        channels[c] = around[c].ln() - spot[c].ln();
    }
    Some(Darkening {
        channels,
        luminance: luminance(around).ln() - luminance(spot).ln(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Skin around the spots in the tests, linear R, G, B.
    const SKIN: [f64; 3] = [0.74, 0.42, 0.28];

    /// The [`Darkening`] of a spot on [`SKIN`] darkened by `s` of shading, `m` of melanin and `h` of
    /// haemoglobin.
    fn mix(s: f64, m: f64, h: f64) -> Darkening {
        let mel = melanin();
        let channels = std::array::from_fn(|c| s + m * mel[c] + h * HAEMOGLOBIN[c]);
        let y = |d: [f64; 3]| -> f64 {
            (0..3)
                .map(|c| f64::from(LUMA_WEIGHTS[c]) * SKIN[c] * (-d[c]).exp())
                .sum()
        };
        Darkening {
            channels,
            luminance: y([0.0; 3]).ln() - y(channels).ln(),
        }
    }

    #[test]
    fn a_shadow_is_all_shading_and_a_pigment_spot_none() {
        assert!((shading_share(&mix(0.3, 0.0, 0.0)) - 1.0).abs() < 1e-12);
        assert!(shading_share(&mix(0.0, 0.2, 0.0)) < 1e-12);
        assert!(shading_share(&mix(0.0, 0.0, 0.005)) < 1e-12);
        assert!(shading_share(&mix(0.0, 0.1, 0.003)) < 1e-12);
    }

    /// A pigmented depression keeps its shading: the share is s over the luminance darkening, which
    /// weighs the channels as luminance does (not their plain mean).
    #[test]
    fn a_pigmented_depression_keeps_its_shading() {
        for (m, h) in [(0.15, 0.002), (0.3, 0.0), (0.0, 0.004)] {
            let d = mix(0.2, m, h);
            assert!(
                (shading_share(&d) - 0.2 / d.luminance).abs() < 1e-9,
                "m {m} h {h}: {} vs {}",
                shading_share(&d),
                0.2 / d.luminance
            );
        }
    }

    /// When the exact solve needs a negative pigment, the fit keeps the other one: a spot with
    /// melanin and slightly less blood than around it is read as shading plus melanin (least squares
    /// over the three channels), not as its whole luminance drop.
    #[test]
    fn one_pigment_is_kept_when_the_other_comes_out_negative() {
        let d = mix(0.2, 0.1, -0.002);
        let share = shading_share(&d);
        let (s, m, _) = fit_pair(melanin(), d.channels).expect("fit");
        assert!(m > 0.0, "{m}");
        assert!((share - s / d.luminance).abs() < 1e-12, "{share}");
        assert!(share < 0.9 * d.channels.iter().sum::<f64>() / 3.0 / d.luminance);
    }

    /// Pigment is only ever removed: a spot with less melanin than its surroundings but a luminance
    /// drop is not credited extra depth (share 1 at most), and a lighter or non-finite spot has no
    /// share to split.
    #[test]
    fn pigment_is_removed_never_added() {
        let less_melanin = mix(0.3, -0.05, 0.0);
        let share = shading_share(&less_melanin);
        assert!(share <= 1.0 && share > 0.5, "{share}");
        let lighter = Darkening {
            channels: [-0.1; 3],
            luminance: -0.1,
        };
        assert!((shading_share(&lighter) - 1.0).abs() < 1e-12);
        let broken = Darkening {
            channels: [f64::INFINITY, 0.1, f64::NAN],
            luminance: 0.2,
        };
        assert!((shading_share(&broken) - 1.0).abs() < 1e-12);
    }

    /// The melanin direction is the λ^−3.5 law at the primaries' dominant wavelengths.
    #[test]
    fn melanin_absorbs_more_towards_blue() {
        let m = melanin();
        assert!(m[0] < m[1] && m[1] < m[2]);
        assert!(((m[2] / m[0]).ln() - 3.5 * (611f64 / 464.0).ln()).abs() < 1e-12);
    }

    /// The colour contrast of a disk of known darkening on a flat background is that darkening; a spot
    /// at the photo's corner uses the part of its ring inside; bad coordinates, empty or mismatched
    /// planes give `None`.
    #[test]
    fn darkening_reads_a_drawn_spot() {
        let (h, w) = (80usize, 90usize);
        let factors = [0.9f32, 0.8, 0.7];
        let drawn = |cx: f64, cy: f64| -> [Array2<f32>; 3] {
            std::array::from_fn(|c| {
                Array2::from_shape_fn((h, w), |(y, x)| {
                    let d = (x as f64 - cx).hypot(y as f64 - cy);
                    0.4 * if d <= 6.0 { factors[c] } else { 1.0 }
                })
            })
        };
        let rgb = drawn(40.0, 35.0);
        let expected_luminance = -f64::from(crate::io::colour::luminance(
            factors[0], factors[1], factors[2],
        ))
        .ln();
        for (x, y, planes) in [(40.0, 35.0, &rgb), (0.0, 0.0, &drawn(0.0, 0.0))] {
            let d = darkening(planes, x, y, 8.0).expect("inside");
            for (channel, factor) in d.channels.iter().zip(factors) {
                assert!((channel + f64::from(factor).ln()).abs() < 1e-6, "{d:?}");
            }
            assert!((d.luminance - expected_luminance).abs() < 1e-6, "{d:?}");
        }
        assert!(darkening(&rgb, -100.0, -100.0, 5.0).is_none());
        assert!(darkening(&rgb, 1000.0, 35.0, 5.0).is_none());
        assert!(darkening(&rgb, f64::NAN, 35.0, 5.0).is_none());
        assert!(darkening(&rgb, 40.0, 35.0, f64::INFINITY).is_none());
        assert!(darkening(&rgb, 40.0, 35.0, f64::NAN).is_none());
        let empty: [Array2<f32>; 3] = std::array::from_fn(|_| Array2::zeros((0, 0)));
        assert!(darkening(&empty, 0.0, 0.0, 5.0).is_none());
        let mut mismatched = rgb.clone();
        mismatched[2] = Array2::zeros((10, 10));
        assert!(darkening(&mismatched, 40.0, 35.0, 8.0).is_none());
    }
    /// At half resolution a drawn scar-sized spot reads the same darkening (its floor and ring are
    /// whole blocks away from its edge), and odd sizes keep their last row and column.
    #[test]
    fn half_resolution_reads_the_same_spot() {
        let (h, w) = (81usize, 95usize);
        let factors = [0.9f32, 0.8, 0.7];
        let rgb: [Array2<f32>; 3] = std::array::from_fn(|c| {
            Array2::from_shape_fn((h, w), |(y, x)| {
                let d = (x as f64 - 47.0).hypot(y as f64 - 40.0);
                0.4 * if d <= 9.0 { factors[c] } else { 1.0 }
            })
        });
        let half = HalfColour::new(&rgb);
        assert_eq!(half.planes[0].dim(), (41, 48));
        let full = darkening(&rgb, 47.0, 40.0, 10.0).expect("inside");
        let read = half.darkening(47.0, 40.0, 10.0).expect("inside");
        for (a, b) in full.channels.iter().zip(read.channels) {
            assert!((a - b).abs() < 1e-6, "{full:?} {read:?}");
        }
        assert!((full.luminance - read.luminance).abs() < 1e-6);
        assert!(half.darkening(f64::NAN, 40.0, 10.0).is_none());
    }
}
