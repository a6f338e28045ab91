//! Image derivatives: Sobel, Gaussian derivatives, Laplacian of Gaussian and difference of Gaussians,
//! with scale normalisation for detecting blobs across scales.
//!
//! All are separable correlations ([`super::separable`]); nothing here needs its own loop. Derivative
//! kernels are normalised by their moments rather than by their sum, so they are exact on polynomials:
//! a first-derivative kernel returns exactly `a` on the ramp `a·x`, a second-derivative kernel exactly
//! `2a` on `a·x²` (checked by the tests). Scale normalisation follows Lindeberg (1998, "Feature
//! detection with automatic scale selection"): `σ²·∇²G` responds to a Gaussian blob of standard
//! deviation `s` most strongly at `σ = s`, and to a disk of radius `R` at `σ = R/√2`.

use ndarray::{Array2, ArrayView2, Zip};

use super::gaussian::{
    GaussianMethod, MULTIRATE_FROM_SIGMA, clamp_sigma, gaussian_blur_with, gaussian_kernel,
};
use super::separable::{Kernel1d, convolve_separable};

/// Sobel derivatives `(∂/∂x, ∂/∂y)`, scaled by 1/8 so they estimate the derivative per pixel.
#[must_use]
pub fn sobel(src: ArrayView2<'_, f32>) -> (Array2<f32>, Array2<f32>) {
    let diff = Kernel1d::new(vec![-0.5, 0.0, 0.5]).unwrap_or_else(|_| Kernel1d::identity());
    let smooth = Kernel1d::new(vec![0.25, 0.5, 0.25]).unwrap_or_else(|_| Kernel1d::identity());
    (
        convolve_separable(src, &diff, &smooth),
        convolve_separable(src, &smooth, &diff),
    )
}

/// Gradient magnitude `√(gx² + gy²)` of the Sobel derivatives.
#[must_use]
pub fn gradient_magnitude(src: ArrayView2<'_, f32>) -> Array2<f32> {
    let (gx, gy) = sobel(src);
    let mut out = gx;
    // √(x² + y²) rather than `hypot`: hypot guards against overflow of x² (not a concern for
    // image gradients) with a libm call per pixel that does not vectorise. Criterion
    // `sobel/12mp/magnitude` (both Sobel planes and this), one thread: 40.2 ms with `hypot`, 21.7 ms
    // without.
    Zip::from(&mut out)
        .and(&gy)
        .par_for_each(|x, &y| *x = (*x * *x + y * y).sqrt());
    out
}

/// The Gaussian's derivative kernel of `order` 0, 1 or 2 at standard deviation `sigma` (radius ⌈4σ⌉),
/// normalised to be exact on polynomials of that order. Orders above 2 give the order-2 kernel. For
/// σ so small (or ≤ 0) that the Gaussian is a single tap, the plain central differences `[-½, 0, ½]`
/// and `[1, −2, 1]` are returned: still derivatives, never the identity.
#[must_use]
pub fn gaussian_derivative_kernel(sigma: f32, order: u8) -> Kernel1d {
    let g = gaussian_kernel(sigma);
    if order == 0 {
        return g;
    }
    let central = || {
        let taps = if order == 1 {
            vec![-0.5, 0.0, 0.5]
        } else {
            vec![1.0, -2.0, 1.0]
        };
        Kernel1d::new(taps).unwrap_or_else(|_| Kernel1d::identity())
    };
    if g.radius() == 0 || g.taps().iter().filter(|&&t| t > 0.0).count() < 3 {
        return central();
    }
    let r = g.radius() as isize;
    let s2 = f64::from(sigma) * f64::from(sigma);
    let taps: Vec<f64> = g
        .taps()
        .iter()
        .zip(-r..=r)
        .map(|(&t, x)| {
            let x = x as f64;
            if order == 1 {
                x / s2 * f64::from(t)
            } else {
                (x * x / (s2 * s2) - 1.0 / s2) * f64::from(t)
            }
        })
        .collect();
    let positions = (-r..=r).map(|x| x as f64);
    let normalised: Vec<f64> = if order == 1 {
        // Correlation with k gives Σ k[i]·f(x + i); exact slope on f = x needs Σ i·k[i] = 1.
        let m1: f64 = taps.iter().zip(positions).map(|(t, x)| t * x).sum();
        taps.iter().map(|t| t / m1).collect()
    } else {
        // Zero sum (constants vanish), then Σ i²·k[i] = 2 (exact on f = x²).
        let mean = taps.iter().sum::<f64>() / taps.len() as f64;
        let centred: Vec<f64> = taps.iter().map(|t| t - mean).collect();
        let m2: f64 = centred.iter().zip(positions).map(|(t, x)| t * x * x).sum();
        centred.iter().map(|t| 2.0 * t / m2).collect()
    };
    Kernel1d::new(normalised.iter().map(|&t| t as f32).collect()).unwrap_or_else(|_| central())
}

/// `∂^(ox+oy) (G_σ * src) / ∂x^ox ∂y^oy` for orders 0–2 on each axis.
#[must_use]
pub fn gaussian_derivative(
    src: ArrayView2<'_, f32>,
    sigma: f32,
    order_x: u8,
    order_y: u8,
) -> Array2<f32> {
    let (h, w) = src.dim();
    let sigma = clamp_sigma(sigma, h, w);
    convolve_separable(
        src,
        &gaussian_derivative_kernel(sigma, order_x),
        &gaussian_derivative_kernel(sigma, order_y),
    )
}

/// Laplacian of Gaussian `∇²(G_σ * src)`; with `normalised`, multiplied by σ² (Lindeberg's scale
/// normalisation, so responses at different σ compare). Dark blobs give positive responses.
#[must_use]
pub fn laplacian_of_gaussian(
    src: ArrayView2<'_, f32>,
    sigma: f32,
    normalised: bool,
) -> Array2<f32> {
    let mut out = gaussian_derivative(src, sigma, 2, 0);
    let yy = gaussian_derivative(src, sigma, 0, 2);
    let scale = if normalised { sigma * sigma } else { 1.0 };
    Zip::from(&mut out)
        .and(&yy)
        .par_for_each(|a, &b| *a = scale * (*a + b));
    out
}

/// Difference of Gaussians `G_{σ₁} * src − G_{σ₂} * src` (a band-pass for σ₁ < σ₂). Both blurs use the
/// same method — multirate only when both σ reach [`MULTIRATE_FROM_SIGMA`] — because subtracting a
/// sampled blur from a multirate one would turn the multirate filter's small error into a large part
/// of the (small) difference.
#[must_use]
pub fn difference_of_gaussians(
    src: ArrayView2<'_, f32>,
    sigma_1: f32,
    sigma_2: f32,
) -> Array2<f32> {
    let method = if sigma_1.min(sigma_2) >= MULTIRATE_FROM_SIGMA {
        GaussianMethod::Multirate
    } else {
        GaussianMethod::Sampled
    };
    let mut out = gaussian_blur_with(src, sigma_1, method);
    let wide = gaussian_blur_with(src, sigma_2, method);
    Zip::from(&mut out).and(&wide).par_for_each(|a, &b| *a -= b);
    out
}

/// Scale-normalised DoG: `(G_{kσ} − G_σ) * src / (k − 1)`. Since `∂G_s/∂s = s∇²G_s`, this equals
/// `σ·s_m·∇²G_{s_m} * src` at the midpoint scale `s_m = σ(1 + k)/2` up to O((k − 1)²) — Lowe's (2004,
/// eq. 3) `σ²∇²G_σ` is the first-order version of the same. The cheap way to search scales with `k`
/// around 1.2–1.6. `k ≤ 1` gives zeros.
#[must_use]
pub fn normalised_dog(src: ArrayView2<'_, f32>, sigma: f32, k: f32) -> Array2<f32> {
    if k <= 1.0 || !k.is_finite() {
        return Array2::zeros(src.dim());
    }
    let mut out = difference_of_gaussians(src, k * sigma, sigma);
    let inv = 1.0 / (k - 1.0);
    out.par_mapv_inplace(|v| v * inv);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::separable::naive_separable;
    use crate::kernels::testutil::{assert_thread_independent, textured};

    fn interior_max_error(
        a: &Array2<f32>,
        expected: impl Fn(usize, usize) -> f32,
        margin: usize,
    ) -> f32 {
        let (h, w) = a.dim();
        let mut worst = 0f32;
        for y in margin..h - margin {
            for x in margin..w - margin {
                worst = worst.max((a[[y, x]] - expected(y, x)).abs());
            }
        }
        worst
    }

    /// Against the naive f64 Sobel planes combined in f64; and exact on a ramp, where both
    /// derivatives are constant. Tolerance: the f32 sum of squares and root add a few ulps of the
    /// magnitude (≤ 1), far below 1e-5.
    #[test]
    fn gradient_magnitude_matches_the_naive_sobel_planes() {
        let img = textured(37, 53, 4);
        let (diff, smooth) = ([-0.5f32, 0.0, 0.5], [0.25f32, 0.5, 0.25]);
        let gx = naive_separable(&img, &diff, &smooth);
        let gy = naive_separable(&img, &smooth, &diff);
        let got = gradient_magnitude(img.view());
        for ((p, &g), (&x, &y)) in got.indexed_iter().zip(gx.iter().zip(&gy)) {
            let want = f64::from(x).hypot(f64::from(y));
            assert!((f64::from(g) - want).abs() < 1e-5, "{p:?}: {g} vs {want}");
        }
        let ramp = Array2::from_shape_fn((20, 30), |(y, x)| 0.3 * x as f32 - 0.4 * y as f32);
        let err = interior_max_error(&gradient_magnitude(ramp.view()), |_, _| 0.5, 1);
        assert!(err < 1e-5, "ramp: {err}");
    }

    #[test]
    fn derivatives_are_exact_on_polynomials() {
        let (h, w) = (60, 70);
        // f = 0.3·x − 0.2·y + 0.01·x² + 0.02·y² (values stay small so f32 rounding is ~1e-6).
        let f = Array2::from_shape_fn((h, w), |(y, x)| {
            let (x, y) = (x as f32 - 35.0, y as f32 - 30.0);
            0.3 * x - 0.2 * y + 0.01 * x * x + 0.02 * y * y
        });
        for sigma in [1.0f32, 2.5] {
            let m = (4.0 * sigma).ceil() as usize + 1;
            let dx = gaussian_derivative(f.view(), sigma, 1, 0);
            assert!(interior_max_error(&dx, |_, x| 0.3 + 0.02 * (x as f32 - 35.0), m) < 2e-4);
            let dyy = gaussian_derivative(f.view(), sigma, 0, 2);
            assert!(interior_max_error(&dyy, |_, _| 0.04, m) < 2e-4);
            let log = laplacian_of_gaussian(f.view(), sigma, false);
            assert!(interior_max_error(&log, |_, _| 0.06, m) < 2e-4);
        }
        let (gx, gy) = sobel(f.view());
        assert!(interior_max_error(&gx, |_, x| 0.3 + 0.02 * (x as f32 - 35.0), 2) < 2e-4);
        assert!(interior_max_error(&gy, |y, _| -0.2 + 0.04 * (y as f32 - 30.0), 2) < 2e-4);
    }

    #[test]
    fn normalised_log_selects_the_blob_scale() {
        // A dark Gaussian blob of std s: σ²∇²G peaks (positively) at σ = s.
        for s in [2.0f32, 4.0] {
            let n = 121;
            let c = 60.0;
            let img = Array2::from_shape_fn((n, n), |(y, x)| {
                let r2 = (x as f32 - c).powi(2) + (y as f32 - c).powi(2);
                1.0 - 0.5 * (-r2 / (2.0 * s * s)).exp()
            });
            let sigmas: Vec<f32> = (0..=40).map(|i| 1.0 + 0.125 * i as f32).collect();
            let best = sigmas
                .iter()
                .copied()
                .max_by(|&a, &b| {
                    let ra = laplacian_of_gaussian(img.view(), a, true)[[60, 60]];
                    let rb = laplacian_of_gaussian(img.view(), b, true)[[60, 60]];
                    ra.total_cmp(&rb)
                })
                .unwrap_or(0.0);
            assert!(
                (best - s).abs() <= 0.125,
                "blob s = {s}: peak at σ = {best}"
            );
        }
    }

    #[test]
    fn normalised_dog_approximates_normalised_log() {
        let img = textured(90, 80, 2);
        let (sigma, k) = (3.0f32, 1.1f32);
        let mid = sigma * (1.0 + k) / 2.0;
        let mut log = laplacian_of_gaussian(img.view(), mid, true);
        log.mapv_inplace(|v| v * sigma / mid);
        let dog = normalised_dog(img.view(), sigma, k);
        let scale = log.iter().fold(0f32, |m, v| m.max(v.abs()));
        let err = log
            .iter()
            .zip(&dog)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        // Second-order agreement: (k − 1)² = 1 %, so 2 % of the peak response is a fair bound.
        assert!(err < 0.02 * scale, "{err} vs {scale}");
    }

    #[test]
    fn dog_across_the_method_switch_stays_consistent() {
        // σ = 3.5 and 4.2 straddle the sampled/multirate switch: the DoG must agree with the exact
        // (sampled) DoG, not jump by the multirate filter's error.
        let img = textured(80, 90, 5);
        let fast = difference_of_gaussians(img.view(), 3.5, 4.2);
        let k1 = gaussian_kernel(3.5);
        let k2 = gaussian_kernel(4.2);
        let exact = &naive_separable(&img, k1.taps(), k1.taps())
            - &naive_separable(&img, k2.taps(), k2.taps());
        let scale = exact.iter().fold(0f32, |m, v| m.max(v.abs()));
        let err = fast
            .iter()
            .zip(&exact)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(err < 1e-3 * scale.max(1e-6), "{err} vs {scale}");
    }

    #[test]
    fn tiny_sigma_derivatives_are_central_differences_not_identity() {
        let ramp = Array2::from_shape_fn((5, 9), |(_, x)| 0.1 * x as f32);
        for sigma in [0.0f32, 0.01, -1.0] {
            let d = gaussian_derivative(ramp.view(), sigma, 1, 0);
            assert!((d[[2, 4]] - 0.1).abs() < 1e-6, "σ {sigma}: {}", d[[2, 4]]);
            let d2 = gaussian_derivative(ramp.view(), sigma, 2, 0);
            assert!(d2[[2, 4]].abs() < 1e-6);
        }
    }

    #[test]
    fn sobel_matches_naive_and_is_thread_independent() {
        let img = textured(37, 41, 6);
        let (gx, gy) = sobel(img.view());
        let nx = naive_separable(&img, &[-0.5, 0.0, 0.5], &[0.25, 0.5, 0.25]);
        let ny = naive_separable(&img, &[0.25, 0.5, 0.25], &[-0.5, 0.0, 0.5]);
        assert!(gx.iter().zip(&nx).all(|(a, b)| (a - b).abs() < 1e-6));
        assert!(gy.iter().zip(&ny).all(|(a, b)| (a - b).abs() < 1e-6));
        let big = textured(211, 190, 8);
        assert_thread_independent(|| laplacian_of_gaussian(big.view(), 2.0, true));
    }
}
