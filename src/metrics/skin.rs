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
//! The alignment fits its fine stage to the skin this mask keeps; the metrics will refine it (eyes,
//! brows and lips excluded, the overlap of all sessions intersected).

use ndarray::Array2;

use crate::io::colour::linear_to_srgb;
use crate::kernels::morphology::{close, open};
use crate::kernels::warp::downsample_area;

/// Long side of the copy the rule runs on.
const MASK_SIDE: usize = 512;
/// Chai & Ngan's chroma box, 8-bit Cb and Cr.
const CB: (f64, f64) = (77.0, 127.0);
const CR: (f64, f64) = (133.0, 173.0);
/// Luma (8-bit) below which chroma is noise, and above which the pixel is glare or clipped.
const LUMA: (f64, f64) = (40.0, 245.0);

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
    fraction: f64,
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
        let fraction = mask.iter().filter(|&&m| m).count() as f64 / mask.len().max(1) as f64;
        Self {
            mask,
            factor,
            fraction,
        }
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
        self.fraction
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
}
