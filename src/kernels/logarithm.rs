//! The natural logarithm of a whole plane, vectorised: the pseudo-height h = ln(luminance) of every
//! photo's every pixel.
//!
//! Why by hand: Rust's `f32::ln` calls the C library's `logf` one value at a time, which the compiler
//! cannot vectorise; at 12 MP that was 21–29 ms of a photo's metrics on two threads (more than the
//! S-filter's blur). SIMD crates (`wide`) fix their instruction set when the crate is compiled, so
//! inside our `multiversion` dispatch they would run as baseline SSE2. Written here instead as plain
//! arithmetic on `f32` bits that the compiler vectorises for each target.
//!
//! The method is Cephes' `logf` (S. L. Moshier, Cephes Math Library, `single/logf.c`): split
//! x = 2^e · m with m in [√½, √2), then ln m = t − t²/2 + t³·P(t) with t = m − 1 and P a degree-8
//! minimax polynomial, and e·ln 2 added in two parts (0.693359375 exactly, then −2.12194440e−4) so that
//! the large term is exact. Largest error found against `f64::ln` over every binade (tests): 0.65 ×
//! `f32::EPSILON` relative (at x ≈ 0.364), absolute where |ln x| < ½.

use ndarray::{Array2, ArrayView2};

use super::{plane, row_major};

/// Values per parallel task (256 KiB of output).
const CHUNK: usize = 1 << 16;

/// √½ as `f32` bits: values whose bits are at or above this (within one binade) keep exponent e.
const SQRT_HALF_BITS: u32 = 0x3f35_04f3;

/// `scale · ln(max(v, floor))` for every value of `src` (row-major result, same shape). `floor` should
/// be a positive normal number; any other is replaced by `f32::MIN_POSITIVE`. A NaN value is taken as
/// `floor` (as `f32::max` does), and +∞ as `f32::MAX`, so with a finite `scale` every result is
/// finite.
#[must_use]
pub fn ln_plane(src: ArrayView2<'_, f32>, floor: f32, scale: f32) -> Array2<f32> {
    let (h, w) = src.dim();
    let floor = if floor.is_normal() && floor > 0.0 {
        floor
    } else {
        f32::MIN_POSITIVE
    };
    let data = row_major(&src);
    let out = super::buffer::banded(h * w, CHUNK, |chunk, out: &mut [f32]| {
        let start = chunk * CHUNK;
        ln_slice(&data[start..start + out.len()], floor, scale, out);
    });
    plane(h, w, out)
}

/// `out[i] = scale · ln(max(src[i], floor))` (clamped as [`ln_plane`] says; `floor` must be a
/// positive normal number), for callers that take the logarithm a row at a time.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "x86_64+sse4.1"
))]
pub(crate) fn ln_slice(src: &[f32], floor: f32, scale: f32, out: &mut [f32]) {
    for (o, &v) in out.iter_mut().zip(src) {
        *o = scale * ln_normal(v.max(floor).min(f32::MAX));
    }
}

/// ln x for a positive, normal, finite `x` (see the module header for the method).
#[inline(always)]
fn ln_normal(x: f32) -> f32 {
    let bits = x.to_bits();
    // Exponent e such that m = x / 2^e lies in [√½, √2): the bits' distance from √½'s, in binades.
    let e = (bits.wrapping_sub(SQRT_HALF_BITS) as i32) >> 23;
    let m = f32::from_bits(bits.wrapping_sub((e as u32) << 23));
    let t = m - 1.0;
    let z = t * t;
    let mut p = 7.037_683_6e-2_f32;
    p = p * t - 1.151_461e-1;
    p = p * t + 1.167_699_87e-1;
    p = p * t - 1.242_014_1e-1;
    p = p * t + 1.424_932_3e-1;
    p = p * t - 1.666_805_8e-1;
    p = p * t + 2.000_071_4e-1;
    p = p * t - 2.499_999_4e-1;
    p = p * t + 3.333_333e-1;
    let fe = e as f32;
    let mut y = p * t * z;
    y += -2.121_944_4e-4 * fe;
    y += -0.5 * z;
    (t + y) + 0.693_359_4 * fe
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::testutil::{assert_thread_independent, textured};
    use proptest::prelude::*;

    /// Error of `ln_normal(x)` against `f64::ln`, relative to f32::EPSILON · |ln x| (at least to
    /// f32::EPSILON / 2, so near x = 1, where ln x → 0, the error is measured in absolute terms).
    fn relative_error_in_epsilons(x: f32) -> f64 {
        let exact = f64::from(x).ln();
        let got = f64::from(ln_normal(x));
        let ulp = f64::from(f32::EPSILON) * exact.abs().max(0.5);
        (got - exact).abs() / ulp
    }

    /// Every binade from the smallest normal to the largest finite value, 20 000 mantissas each, and
    /// the 400 000 values around 1 (where ln x → 0) one by one: relative error at most f32::EPSILON
    /// (absolute at most f32::EPSILON / 2 where |ln x| < ½).
    #[test]
    fn within_f32_epsilon_of_the_exact_logarithm() {
        let mut worst = (0.0f64, 0.0f32);
        let mut check = |x: f32| {
            let e = relative_error_in_epsilons(x);
            if e > worst.0 {
                worst = (e, x);
            }
        };
        for exponent in 1u32..255 {
            for k in 0..20_000u32 {
                let mantissa = (u64::from(k) * 0x7f_ffff / 19_999) as u32;
                check(f32::from_bits((exponent << 23) | mantissa));
            }
        }
        let one = 1.0f32.to_bits();
        for d in 0..200_000u32 {
            check(f32::from_bits(one + d));
            check(f32::from_bits(one - d));
        }
        assert!(worst.0 <= 1.0, "{} × EPSILON at {}", worst.0, worst.1);
    }

    #[test]
    fn exact_at_powers_of_two_and_one() {
        assert_eq!(ln_normal(1.0), 0.0);
        for e in -126i32..=127 {
            let x = 2f32.powi(e);
            let exact = f64::from(e) * std::f64::consts::LN_2;
            assert!(
                (f64::from(ln_normal(x)) - exact).abs() <= f64::from(f32::EPSILON) * exact.abs(),
                "2^{e}"
            );
        }
    }

    #[test]
    fn floor_nan_and_infinity_give_finite_values() {
        let src = Array2::from_shape_vec(
            (1, 5),
            vec![0.0, -3.0, f32::NAN, f32::INFINITY, f32::MIN_POSITIVE / 4.0],
        )
        .unwrap();
        let out = ln_plane(src.view(), 1e-4, 2.0);
        let floor = 2.0 * ln_normal(1e-4);
        assert_eq!(out[[0, 0]], floor);
        assert_eq!(out[[0, 1]], floor);
        assert_eq!(out[[0, 2]], floor);
        assert!((f64::from(out[[0, 3]]) - 2.0 * f64::from(f32::MAX).ln()).abs() < 1e-4);
        assert_eq!(out[[0, 4]], floor);
        assert!(out.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn thread_independent() {
        let src = textured(301, 257, 5);
        assert_thread_independent(|| ln_plane(src.view(), 1e-4, 1.3));
    }

    proptest! {
        /// Any shape, empty and strided views included: the plane is `scale · ln(max(v, floor))`
        /// value by value, within 2 × f32::EPSILON of the result (at least of ½): the logarithm's
        /// own error plus the rounding of the product by `scale`.
        #[test]
        fn plane_matches_scalar_logarithm(
            h in 0usize..40,
            w in 0usize..70,
            seed in 0u64..1000,
            transpose in any::<bool>(),
            scale in 0.5f32..2.0,
        ) {
            let src = textured(h, w, seed);
            let view = if transpose { src.t() } else { src.view() };
            let out = ln_plane(view, 1e-4, scale);
            prop_assert_eq!(out.dim(), view.dim());
            for (&o, &v) in out.iter().zip(view.iter()) {
                let exact = f64::from(scale) * f64::from(v.max(1e-4)).ln();
                let bound = 2.0 * f64::from(f32::EPSILON) * exact.abs().max(0.5);
                prop_assert!((f64::from(o) - exact).abs() <= bound, "{} vs {}", o, exact);
            }
        }
    }
}
