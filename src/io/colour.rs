//! The colour transfer function: sRGB-encoded samples ↔ linear light.
//!
//! Every photo is assumed to be sRGB-encoded (IEC 61966-2-1), which is what phone and clinic cameras
//! write when no other profile is attached; embedded ICC profiles are not interpreted. Decoding uses the
//! exact piecewise sRGB curve, not a pure 2.2 power: the two differ by up to 9 % in deep shadows, which
//! is where pores and scars live.
//!
//! 8- and 16-bit samples go through lookup tables built once, so conversion costs one table read per
//! sample.

use std::sync::OnceLock;

/// Rec. 709 / sRGB luminance weights for linear R, G, B (ITU-R BT.709-6, item 3.3).
pub const LUMA_WEIGHTS: [f32; 3] = [0.2126, 0.7152, 0.0722];

/// Decodes one sRGB-encoded value in `[0, 1]` to linear light in `[0, 1]` (IEC 61966-2-1 EOTF).
#[must_use]
pub fn srgb_to_linear(encoded: f64) -> f64 {
    if encoded <= 0.04045 {
        encoded / 12.92
    } else {
        ((encoded + 0.055) / 1.055).powf(2.4)
    }
}

/// Encodes linear light in `[0, 1]` to an sRGB value in `[0, 1]` (inverse of [`srgb_to_linear`]).
/// Values outside `[0, 1]` are clamped first.
#[must_use]
pub fn linear_to_srgb(linear: f64) -> f64 {
    let v = linear.clamp(0.0, 1.0);
    if v <= 0.003_130_8 {
        v * 12.92
    } else {
        1.055 * v.powf(1.0 / 2.4) - 0.055
    }
}

/// Linear luminance of one linear-light RGB triple.
#[must_use]
#[inline]
pub fn luminance(r: f32, g: f32, b: f32) -> f32 {
    LUMA_WEIGHTS[0] * r + LUMA_WEIGHTS[1] * g + LUMA_WEIGHTS[2] * b
}

/// Table from an 8-bit sRGB code to linear light.
pub fn srgb8_table() -> &'static [f32; 256] {
    static TABLE: OnceLock<[f32; 256]> = OnceLock::new();
    TABLE.get_or_init(|| std::array::from_fn(|code| srgb_to_linear(code as f64 / 255.0) as f32))
}

/// Table from a 16-bit sRGB code to linear light (65 536 entries, 256 KiB).
pub fn srgb16_table() -> &'static [f32] {
    static TABLE: OnceLock<Vec<f32>> = OnceLock::new();
    TABLE.get_or_init(|| {
        (0..=u16::MAX)
            .map(|code| srgb_to_linear(f64::from(code) / 65535.0) as f32)
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transfer_function_round_trips_and_matches_known_points() {
        // Known points of the standard curve: mid-grey code 128 is about 21.6 % linear light.
        assert!((srgb_to_linear(128.0 / 255.0) - 0.215_861).abs() < 1e-5);
        assert_eq!(srgb_to_linear(0.0), 0.0);
        assert!((srgb_to_linear(1.0) - 1.0).abs() < 1e-12);
        for i in 0..=1000 {
            let v = f64::from(i) / 1000.0;
            assert!((linear_to_srgb(srgb_to_linear(v)) - v).abs() < 1e-9, "{v}");
        }
    }

    #[test]
    fn tables_agree_with_the_formula() {
        let t8 = srgb8_table();
        let t16 = srgb16_table();
        for code in 0..=255u16 {
            let exact = srgb_to_linear(f64::from(code) / 255.0) as f32;
            assert_eq!(t8[code as usize], exact);
            // 8-bit code c equals 16-bit code c * 257 exactly.
            assert!((t16[usize::from(code) * 257] - exact).abs() < 1e-7);
        }
    }

    #[test]
    fn luminance_weights_sum_to_one() {
        assert!((luminance(1.0, 1.0, 1.0) - 1.0).abs() < 1e-6);
    }
}
