//! Where the skin is: a colour-based skin mask of a photo, cleaned by morphology.
//!
//! Skin of every tone occupies a compact region of the chroma plane: the classic explicit rule in
//! YCbCr (Chai & Ngan, IEEE TCSVT 9(4), 1999: Cb ∈ [77, 127], Cr ∈ [133, 173] on 8-bit values) keeps
//! skin from fair to dark and drops most hair, eyes, clothing and backdrops, whose chroma differs.
//! Near-black pixels (no usable chroma) and near-white ones (specular glare, clipped) are excluded.
//! The rule runs on a block-averaged copy (long side ~512 px): skin is a region, not a pixel property,
//! and the averaging suppresses sensor and JPEG chroma noise. An opening removes isolated specks
//! (skin-coloured wood, a lit strand of hair), a closing fills pores and freckles back in.
//!
//! Chroma alone lets in what has skin's colour but is not skin surface: brown brows and lashes, hair
//! falling over the face, nostrils, shadowed creases. The alignment keeps those (they are good
//! landmarks); the metrics must not, since every strand and lash reads as a pore or a scar. For them,
//! [`SkinMask::without_features`] also drops the cells that are much darker than the skin around
//! them or much rougher at the scale of a hair than the face's skin as a whole.

use ndarray::{Array2, ArrayView2, Zip};

use crate::io::colour::linear_to_srgb;
use crate::kernels::gaussian_blur;
use crate::kernels::morphology::{close, open};
use crate::kernels::warp::downsample_area;

/// Long side of the copy the rule runs on.
const MASK_SIDE: usize = 512;
/// Chai & Ngan's chroma box, 8-bit Cb and Cr.
const CB: (f64, f64) = (77.0, 127.0);
const CR: (f64, f64) = (133.0, 173.0);
/// Luma (8-bit) below which chroma is noise, and above which the pixel is glare or clipped.
const LUMA: (f64, f64) = (40.0, 245.0);
/// σ of the "skin around" a cell is compared with, mm: wider than a brow or an eye (about 10 mm), so
/// the skin around them outweighs them.
const SURROUNDINGS_MM: f64 = 10.0;
/// How much darker (log-luminance) than the skin around it a cell may be and still be skin: 0.6 is
/// 45 % darker. Brows, lashes, dark hair and nostrils are two to four times darker than the skin
/// beside them (0.7–1.4); the deepest atrophic scars read about 0.3 and must stay.
const MAX_DARKER: f32 = 0.6;
/// σ of the neighbourhood over which a cell's darkness and roughness are averaged, mm: wide enough
/// that pores (≤ 0.6 mm) are diluted in it, narrow beside a brow, a lock of hair or an eye.
const FEATURE_MM: f64 = 0.75;
/// σ of the blur whose residual is a cell's hair-scale detail, mm: a hair is 0.05–0.1 mm wide.
const HAIR_SCALE_MM: f64 = 0.05;
/// How many times the skin's median hair-scale detail (RMS) a cell may carry and still be skin.
const MAX_ROUGHER: f32 = 3.0;
/// The floor of the logarithm (linear luminance), as in the metrics' pseudo-height.
const LUMINANCE_FLOOR: f32 = 1e-4;

/// Whether a linear-light colour (averaged over a region, not one noisy pixel) is skin by the chroma
/// rule above.
#[must_use]
pub fn is_skin_colour(rgb: [f32; 3]) -> bool {
    let [r, g, b] = rgb.map(|v| 255.0 * linear_to_srgb(f64::from(v)));
    // ITU-R BT.601 YCbCr (JPEG's), on the encoded values.
    let luma = 0.299 * r + 0.587 * g + 0.114 * b;
    let cb = 128.0 - 0.168_736 * r - 0.331_264 * g + 0.5 * b;
    let cr = 128.0 + 0.5 * r - 0.418_688 * g - 0.081_312 * b;
    (CB.0..=CB.1).contains(&cb) && (CR.0..=CR.1).contains(&cr) && (LUMA.0..=LUMA.1).contains(&luma)
}

/// A skin mask at reduced resolution, addressed in full-resolution pixels.
#[derive(Debug, Clone)]
pub struct SkinMask {
    mask: Array2<bool>,
    factor: usize,
}

impl SkinMask {
    /// Detects skin in linear R, G, B planes.
    #[must_use]
    pub fn detect(rgb: &[Array2<f32>; 3]) -> Self {
        let (h, w) = rgb[0].dim();
        let factor = w.max(h).div_ceil(MASK_SIDE).max(1);
        let small: Vec<Array2<f32>> = rgb
            .iter()
            .map(|p| downsample_area(p.view(), factor))
            .collect();
        let raw = Array2::from_shape_fn(small[0].dim(), |(y, x)| {
            let skin = is_skin_colour([0, 1, 2].map(|c| small[c][[y, x]]));
            if skin { 1.0f32 } else { 0.0 }
        });
        let cleaned = close(open(raw.view(), 2).view(), 3);
        let mask = cleaned.mapv(|v| v > 0.5);
        Self { mask, factor }
    }

    /// The mask without the cells that have skin's colour but are not skin surface: much darker than
    /// the skin around them ([`MAX_DARKER`] in log-luminance below the skin's mean within
    /// [`SURROUNDINGS_MM`]) or much rougher at the scale of a hair ([`MAX_ROUGHER`] times the mask's
    /// median RMS of the log-luminance's detail finer than [`HAIR_SCALE_MM`]). `luminance` is the
    /// photo's linear luminance; `px_per_mm` its pixels per mm (the nominal scale when uncalibrated).
    /// The surroundings are skin cells only, and are measured again once the first pass has dropped
    /// the darkest features, so a wide brow does not darken its own reference.
    #[must_use]
    pub fn without_features(&self, luminance: ArrayView2<'_, f32>, px_per_mm: f64) -> Self {
        self.without_features_by(&FeatureStats::new(luminance, px_per_mm, self.factor))
    }

    /// [`Self::without_features`] with the photo's statistics measured already: one photo's masks
    /// (the whole skin for the alignment, the face's for the metrics) share them, and the medians
    /// and surroundings are taken over each mask's own cells.
    #[must_use]
    pub fn without_features_by(&self, stats: &FeatureStats) -> Self {
        let f = self.factor;
        let (level, roughness, px_per_mm) = (&stats.level, &stats.roughness, stats.px_per_mm);
        if stats.factor != f || level.dim() != self.mask.dim() {
            // Statistics of another photo or grid: a caller's mistake, not the photo's. The mask
            // is given back as it is rather than judged on cells it does not have.
            debug_assert!(false, "feature statistics of another grid");
            return self.clone();
        }
        let mut kept = self.mask.clone();
        let mut skin_roughness: Vec<f32> = roughness
            .iter()
            .zip(&self.mask)
            .filter_map(|(&r, &m)| m.then_some(r))
            .collect();
        let Some(typical) = median(&mut skin_roughness) else {
            return self.clone();
        };
        Zip::from(&mut kept)
            .and(roughness)
            .for_each(|k, &r| *k = *k && r <= MAX_ROUGHER * typical);
        let sigma_cells = ((SURROUNDINGS_MM * px_per_mm) / f as f64).clamp(1.0, 256.0) as f32;
        for _ in 0..2 {
            let around = masked_mean(level, &kept, sigma_cells);
            Zip::from(&mut kept)
                .and(&self.mask)
                .and(level)
                .and(&around)
                .and(roughness)
                .for_each(|k, &m, &l, &a, &r| {
                    // NaN surroundings (no skin near) leave the cell to the other tests.
                    *k = m && r <= MAX_ROUGHER * typical && (a.is_nan() || l >= a - MAX_DARKER);
                });
        }
        // A lone cell between features is no place to measure, nor a speck of skin colour on hair.
        let as_float = kept.mapv(|m| if m { 1.0f32 } else { 0.0 });
        let mask = open(as_float.view(), 1).mapv(|v| v > 0.5);
        Self { mask, factor: f }
    }

    /// The mask without the cells whose centre (full-resolution px) `keep` refuses: the measured skin
    /// limited to the face ([`super::face::FaceBox::contains`]).
    #[must_use]
    pub fn within(&self, keep: impl Fn(f64, f64) -> bool) -> Self {
        let f = self.factor;
        let centre = |i: usize| (i * f) as f64 + 0.5 * (f as f64 - 1.0);
        let mask = Array2::from_shape_fn(self.mask.dim(), |(i, j)| {
            self.mask[[i, j]] && keep(centre(j), centre(i))
        });
        Self { mask, factor: f }
    }

    /// Whether full-resolution pixel `(x, y)` is skin (false outside the photo).
    #[must_use]
    pub fn contains(&self, x: f64, y: f64) -> bool {
        let f = self.factor as f64;
        let (i, j) = ((y / f).floor(), (x / f).floor());
        if i < 0.0 || j < 0.0 {
            return false;
        }
        self.mask
            .get((i as usize, j as usize))
            .copied()
            .unwrap_or(false)
    }

    /// Fraction of the photo that is skin.
    #[must_use]
    pub fn fraction(&self) -> f64 {
        self.mask.iter().filter(|&&m| m).count() as f64 / self.mask.len().max(1) as f64
    }

    /// The reduced grid: cell `[i, j]` covers full-resolution pixels `factor·j ..` and `factor·i ..`.
    #[must_use]
    pub fn grid(&self) -> &Array2<bool> {
        &self.mask
    }

    /// Side of a grid cell in full-resolution pixels.
    #[must_use]
    pub fn factor(&self) -> usize {
        self.factor
    }
}

/// What [`SkinMask::without_features`] reads of a photo, per cell of its mask's grid: the mean
/// log-luminance and the RMS of its hair-scale detail, each averaged over [`FEATURE_MM`]. Both
/// statistics are averaged over a neighbourhood, not taken per cell: a cell is a few pixels, and one
/// pore's rim would make it "rough" and one pore's floor "dark"; what must go (a brow, a lock of
/// hair, an eye) is millimetres across.
#[derive(Debug, Clone)]
pub struct FeatureStats {
    level: Array2<f32>,
    roughness: Array2<f32>,
    factor: usize,
    px_per_mm: f64,
}

impl FeatureStats {
    /// Measures `luminance` (linear) at `px_per_mm` on the grid of cells of side `factor` px (a
    /// [`SkinMask::factor`]).
    #[must_use]
    pub fn new(luminance: ArrayView2<'_, f32>, px_per_mm: f64, factor: usize) -> Self {
        let f = factor.max(1);
        let log = Zip::from(&luminance).par_map_collect(|&v| v.max(LUMINANCE_FLOOR).ln());
        let feature_cells = ((FEATURE_MM * px_per_mm) / f as f64).clamp(0.5, 256.0) as f32;
        let level = gaussian_blur(downsample_area(log.view(), f).view(), feature_cells);
        let hair_sigma = (HAIR_SCALE_MM * px_per_mm).clamp(0.5, 64.0) as f32;
        let mut detail = gaussian_blur(log.view(), hair_sigma);
        Zip::from(&mut detail)
            .and(&log)
            .par_for_each(|d, &l| *d = (l - *d) * (l - *d));
        drop(log);
        let roughness =
            gaussian_blur(downsample_area(detail.view(), f).view(), feature_cells).mapv(f32::sqrt);
        Self {
            level,
            roughness,
            factor: f,
            px_per_mm,
        }
    }
}

/// The median of `values` (`None` when empty).
fn median(values: &mut [f32]) -> Option<f32> {
    if values.is_empty() {
        return None;
    }
    let mid = values.len() / 2;
    Some(*values.select_nth_unstable_by(mid, f32::total_cmp).1)
}

/// The Gaussian-weighted mean of `values` over the cells `weights` marks (a normalised convolution);
/// NaN where no marked cell is near.
fn masked_mean(values: &Array2<f32>, weights: &Array2<bool>, sigma: f32) -> Array2<f32> {
    let w = weights.mapv(|m| if m { 1.0f32 } else { 0.0 });
    let vw = Zip::from(values).and(&w).map_collect(|&v, &w| v * w);
    let num = gaussian_blur(vw.view(), sigma);
    let den = gaussian_blur(w.view(), sigma);
    Zip::from(&num)
        .and(&den)
        .map_collect(|&n, &d| if d > 1e-6 { n / d } else { f32::NAN })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::colour::srgb_to_linear;

    fn patch(rgb8: [u8; 3], h: usize, w: usize) -> [Array2<f32>; 3] {
        std::array::from_fn(|c| {
            Array2::from_elem((h, w), srgb_to_linear(f64::from(rgb8[c]) / 255.0) as f32)
        })
    }

    /// Skin tones from fair to dark are skin; a blue backdrop, dark hair, white glare and green
    /// foliage are not.
    #[test]
    fn classifies_skin_tones_and_rejects_other_colours() {
        for tone in [
            [224, 172, 150],
            [198, 150, 120],
            [141, 97, 70],
            [90, 60, 45],
        ] {
            let m = SkinMask::detect(&patch(tone, 40, 60));
            assert!(m.fraction() > 0.99, "{tone:?}");
            assert!(m.contains(30.0, 20.0));
        }
        for other in [[60, 90, 160], [30, 25, 22], [252, 250, 248], [70, 130, 60]] {
            let m = SkinMask::detect(&patch(other, 40, 60));
            assert_eq!(m.fraction(), 0.0, "{other:?}");
        }
    }

    /// A face-coloured disc on a blue backdrop: the mask follows the disc, and a single skin-coloured
    /// speck on the backdrop is removed by the opening.
    #[test]
    fn mask_follows_the_skin_region_and_drops_specks() {
        let (h, w) = (200, 300);
        let skin = [198, 150, 120].map(|v| srgb_to_linear(f64::from(v) / 255.0) as f32);
        let blue = [60, 90, 160].map(|v| srgb_to_linear(f64::from(v) / 255.0) as f32);
        let rgb: [Array2<f32>; 3] = std::array::from_fn(|c| {
            Array2::from_shape_fn((h, w), |(y, x)| {
                let in_disc = (x as f64 - 150.0).hypot(y as f64 - 100.0) < 60.0;
                let speck = (20..22).contains(&x) && (20..22).contains(&y);
                if in_disc || speck { skin[c] } else { blue[c] }
            })
        });
        let m = SkinMask::detect(&rgb);
        assert!(m.contains(150.0, 100.0));
        assert!(!m.contains(20.0, 20.0));
        assert!(!m.contains(280.0, 190.0));
        let disc = std::f64::consts::PI * 60.0 * 60.0 / (h * w) as f64;
        assert!(
            (m.fraction() - disc).abs() < 0.02,
            "{} vs {disc}",
            m.fraction()
        );
    }

    /// A skin-coloured photo at 0.05 mm/px whose luminance is `shade(x, y)` times a fixed fine
    /// texture: its colour planes and luminance.
    fn shaded_skin(
        (h, w): (usize, usize),
        shade: impl Fn(usize, usize) -> f32,
    ) -> ([Array2<f32>; 3], Array2<f32>) {
        let skin = [198u8, 150, 120].map(|v| srgb_to_linear(f64::from(v) / 255.0) as f32);
        let texture = |x: usize, y: usize| {
            let hash = crate::synth::noise::hash2(11, x as i64, y as i64);
            1.0 + 0.04 * (crate::synth::noise::unit_from_hash(hash) as f32 - 0.5)
        };
        let rgb: [Array2<f32>; 3] = std::array::from_fn(|c| {
            Array2::from_shape_fn((h, w), |(y, x)| skin[c] * shade(x, y) * texture(x, y))
        });
        let luminance = Array2::from_shape_fn((h, w), |(y, x)| {
            crate::io::colour::luminance(rgb[0][[y, x]], rgb[1][[y, x]], rgb[2][[y, x]])
        });
        (rgb, luminance)
    }

    /// Skin-coloured but not skin: a "brow" band three times darker than the face, and a patch of
    /// dark strands (hair over the cheek, skin-coloured between the strands) are dropped; the rest of
    /// the face stays, including a broad lighting gradient (the right side 55 % darker than the left)
    /// and a soft-walled atrophic scar 4 mm across at depth 0.3 (26 % darker), which the metrics must
    /// measure.
    #[test]
    fn features_that_are_not_skin_surface_are_dropped() {
        let (h, w) = (1200usize, 1600usize);
        let brow = |x: usize, y: usize| (300..500).contains(&x) && (300..400).contains(&y);
        let strands = |x: usize, y: usize| (1000..1300).contains(&x) && (700..1000).contains(&y);
        let (rgb, luminance) = shaded_skin((h, w), |x, y| {
            let light = (-0.8 * x as f32 / w as f32).exp();
            let feature = if brow(x, y) {
                1.0 / 3.0
            } else if strands(x, y) && (x + y / 3) % 6 < 3 {
                0.35
            } else {
                let r = (x as f64 - 700.0).hypot(y as f64 - 800.0);
                (-0.3 * crate::metrics::blobs::soft_disk(r, 40.0) as f32).exp()
            };
            light * feature
        });
        let colour = SkinMask::detect(&rgb);
        // The colour rule alone keeps all of it.
        for (x, y) in [(400.0, 350.0), (1150.0, 850.0), (700.0, 800.0)] {
            assert!(colour.contains(x, y), "colour mask at ({x}, {y})");
        }
        let m = colour.without_features(luminance.view(), 20.0);
        assert!(!m.contains(400.0, 350.0), "brow kept");
        assert!(!m.contains(1150.0, 850.0), "strands kept");
        for (x, y) in [
            (700.0, 800.0),
            (100.0, 600.0),
            (1500.0, 300.0),
            (800.0, 200.0),
        ] {
            assert!(m.contains(x, y), "skin at ({x}, {y}) dropped");
        }
        // Only the features go (1 % and 4.7 % of the photo), with a band of about 2 mm around them
        // where the neighbourhood the statistics are averaged over (σ = 0.75 mm) still reaches them:
        // 0.09 measured; a band twice as wide would be 0.13.
        let dropped = colour.fraction() - m.fraction();
        assert!((0.057..0.11).contains(&dropped), "dropped {dropped}");
    }
}
