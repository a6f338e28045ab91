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

/// Encodes linear light to an 8-bit sRGB code: exactly `round(255 · linear_to_srgb(v))` for every
/// `f32` (NaN gives 0), by a binary search over the 255 code boundaries instead of a `powf` per
/// value. Previews call it for every pixel of every channel (2.4 million times per photo at the
/// default 1024 px side), where `powf` was about a tenth of a session's time on one thread.
#[must_use]
pub fn linear_to_srgb8(linear: f32) -> u8 {
    if linear.is_nan() || linear <= 0.0 {
        return 0; // zero, negatives and NaN: the clamped curve gives code 0 there
    }
    let bits = linear.min(1.0).to_bits();
    // Codes are non-decreasing in the input, so the code is the number of boundaries at or below it.
    srgb8_boundaries().partition_point(|&b| b <= bits) as u8
}

/// `boundaries[k − 1]` is the bit pattern of the smallest positive `f32` in `(0, 1]` whose code is at
/// least `k`, for k = 1 … 255 (positive floats order like their bit patterns).
fn srgb8_boundaries() -> &'static [u32; 255] {
    static TABLE: OnceLock<[u32; 255]> = OnceLock::new();
    TABLE.get_or_init(|| {
        let code = |bits: u32| (linear_to_srgb(f64::from(f32::from_bits(bits))) * 255.0).round();
        let one = 1f32.to_bits();
        std::array::from_fn(|i| {
            let k = (i + 1) as f64;
            // Smallest bits in [1, one] with code ≥ k (code(one) = 255 ≥ k).
            let (mut lo, mut hi) = (1u32, one);
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                if code(mid) >= k {
                    hi = mid;
                } else {
                    lo = mid + 1;
                }
            }
            lo
        })
    })
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

    /// The table-driven 8-bit encoder against the formula it replaces: every boundary and its
    /// neighbours, a dense sweep, and the special values.
    #[test]
    fn srgb8_matches_the_formula_for_every_tested_f32() {
        let direct = |v: f32| (linear_to_srgb(f64::from(v)) * 255.0).round() as u8;
        let mut values: Vec<f32> = vec![0.0, -0.0, -1.0, 1.0, 2.0, f32::NAN, f32::INFINITY];
        values.extend((0..=200_000).map(|i| i as f32 / 200_000.0));
        for &b in srgb8_boundaries() {
            for d in [-2i64, -1, 0, 1, 2] {
                values.push(f32::from_bits((i64::from(b) + d).max(0) as u32));
            }
        }
        for v in values {
            assert_eq!(linear_to_srgb8(v), direct(v), "{v:e} ({:#x})", v.to_bits());
        }
    }

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
