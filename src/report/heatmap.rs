//! The roughness-change heat map: where on the face texture became smoother or rougher.
//!
//! Each pixel is the log₂ ratio of local Sq (session / baseline) over the same patch of skin
//! ([`crate::metrics::tiles::local_sq`]), drawn on a diverging scale — blue smoother, red rougher,
//! saturating at half and at double — and transparent outside the measured region, so the HTML report
//! can lay it over the baseline photo. The PNG covers exactly the baseline frame, one pixel per
//! metric cell (about 8 photo pixels), which is the resolution the local Sq has.

use image::ImageEncoder;
use image::codecs::png::PngEncoder;
use ndarray::Array2;

/// Colour at the smoother end (log₂ ratio −1), sRGB.
pub const SMOOTHER: [u8; 3] = [33, 102, 172];
/// Colour at the rougher end (log₂ ratio +1), sRGB.
pub const ROUGHER: [u8; 3] = [178, 24, 43];

/// The heat map as PNG bytes, or `None` when the maps differ in shape or nothing is measured in both.
///
/// `cell` is the metric grid's cell size and `size` the baseline photo's (width, height), both px.
#[must_use]
pub fn roughness_change_png(
    baseline: &Array2<f32>,
    session: &Array2<f32>,
    cell: usize,
    size: (usize, usize),
) -> Option<Vec<u8>> {
    if baseline.dim() != session.dim() || cell == 0 {
        return None;
    }
    let (rows, cols) = baseline.dim();
    let (w, h) = size;
    let (out_w, out_h) = (w.div_ceil(cell).max(1), h.div_ceil(cell).max(1));
    let mut rgba = vec![0u8; out_w * out_h * 4];
    let mut any = false;
    for oy in 0..out_h {
        // Sample the cell under the centre of each output pixel, so the image spans exactly w × h.
        let y = (oy as f64 + 0.5) * h as f64 / out_h as f64;
        let i = ((y / cell as f64) as usize).min(rows.saturating_sub(1));
        for ox in 0..out_w {
            let x = (ox as f64 + 0.5) * w as f64 / out_w as f64;
            let j = ((x / cell as f64) as usize).min(cols.saturating_sub(1));
            let (b, s) = (baseline[[i, j]], session[[i, j]]);
            if !(b > 0.0 && s > 0.0) {
                continue; // NaN outside the region, or no texture: transparent
            }
            any = true;
            let t = f64::from(s / b).log2().clamp(-1.0, 1.0);
            let end = if t < 0.0 { SMOOTHER } else { ROUGHER };
            let k = t.abs();
            let px = &mut rgba[(oy * out_w + ox) * 4..][..4];
            for c in 0..3 {
                px[c] = (255.0 + (f64::from(end[c]) - 255.0) * k).round() as u8;
            }
            px[3] = 200;
        }
    }
    if !any {
        return None;
    }
    let mut png = Vec::new();
    PngEncoder::new(&mut png)
        .write_image(
            &rgba,
            out_w as u32,
            out_h as u32,
            image::ExtendedColorType::Rgba8,
        )
        .ok()?;
    Some(png)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(png: &[u8]) -> image::RgbaImage {
        image::load_from_memory(png).expect("PNG").to_rgba8()
    }

    #[test]
    fn smoother_is_blue_rougher_is_red_and_outside_is_transparent() {
        let base = Array2::from_elem((4, 6), 0.04f32);
        let mut ses = base.clone();
        for i in 0..4 {
            ses[[i, 0]] = 0.02; // half: full blue
            ses[[i, 5]] = 0.08; // double: full red
            ses[[i, 3]] = f32::NAN; // not measured
        }
        let png = roughness_change_png(&base, &ses, 8, (48, 32)).expect("a map");
        let img = decode(&png);
        assert_eq!(img.dimensions(), (6, 4));
        assert_eq!(
            img.get_pixel(0, 1).0,
            [SMOOTHER[0], SMOOTHER[1], SMOOTHER[2], 200]
        );
        assert_eq!(
            img.get_pixel(5, 2).0,
            [ROUGHER[0], ROUGHER[1], ROUGHER[2], 200]
        );
        assert_eq!(img.get_pixel(3, 0).0[3], 0);
        assert_eq!(img.get_pixel(1, 0).0, [255, 255, 255, 200]);
    }

    #[test]
    fn nothing_in_common_gives_no_map() {
        let nan = Array2::from_elem((2, 2), f32::NAN);
        assert!(roughness_change_png(&nan, &nan, 8, (16, 16)).is_none());
        let other = Array2::from_elem((3, 2), 1.0f32);
        assert!(roughness_change_png(&nan, &other, 8, (16, 16)).is_none());
    }
}
