//! Gaussian blur: a sampled kernel for small σ, a recursive (IIR) filter for large σ.
//!
//! - **Sampled**: taps `exp(−x²/2σ²)` for `|x| ≤ ⌈4σ⌉`, normalised to sum 1, run through
//!   [`separable`](super::separable). Exact to float rounding for that truncated, sampled kernel (below
//!   σ ≈ 0.8 a sampled kernel's own spread falls short of σ); cost grows with σ.
//! - **Recursive**: the third-order Young–van Vliet filter (I. T. Young & L. J. van Vliet, "Recursive
//!   implementation of the Gaussian filter", Signal Processing 44 (1995) 139–151), run forwards then
//!   backwards along each axis. Cost per pixel is independent of σ except for the padding below, which
//!   adds `2(⌈6σ⌉ + 8)` samples to each line. σ below 0.5 is filtered as 0.5. Borders: the line is extended by
//!   `⌈6σ⌉ + 8` reflected samples on each side and the filter starts in its steady state for the first
//!   extended sample, so the start-up transient has decayed by e⁻⁶ before the image begins.
//!   The poles are those van Vliet, Young & Verbeek (1998) optimised for the maximum error, scaled so
//!   the response's variance is exactly σ² (the 1995 paper's closed form realises a σ 8–12 % too large).
//!   Accuracy against the exact Gaussian, measured by `recursive_matches_exact_gaussian` below on the
//!   2-D impulse response, the hardest case (error at any pixel relative to the response's peak):
//!   **4.2 % at σ = 2, 2.9 % at σ = 3, 2.4 % at σ = 4, ≤ 2.1 % for σ ≥ 8**; on textured photos the
//!   error is under 1 % of the image's range (the property test `recursive_matches_exact_on_any_size`).
//!
//! [`GaussianMethod::Auto`] uses the sampled kernel below [`RECURSIVE_FROM_SIGMA`] and the recursive
//! filter from there on.

use ndarray::{Array2, ArrayView2, Axis};
use rayon::prelude::*;

use super::separable::{Kernel1d, convolve_slices};
use super::{plane, reflect, row_major};

/// σ from which [`GaussianMethod::Auto`] switches to the recursive filter: below it the recursive
/// filter's error (2.9 % of the impulse peak at σ = 3) is not worth the time it saves.
pub const RECURSIVE_FROM_SIGMA: f32 = 4.0;

/// How [`gaussian_blur_with`] computes the blur.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GaussianMethod {
    /// Sampled below [`RECURSIVE_FROM_SIGMA`], recursive from there.
    #[default]
    Auto,
    /// Always the sampled kernel (exact, O(σ) per pixel).
    Sampled,
    /// Always the Young–van Vliet recursive filter (approximate, O(1) per pixel).
    Recursive,
}

/// Largest σ any kernel is built for (a million taps); callers clamp to the image size first.
const MAX_SIGMA: f32 = 250_000.0;

/// σ limited to twice the image's larger side: beyond that the (reflected) image is blurred to its
/// mean anyway, and the limit bounds the kernel's and the padding's memory for absurd requests.
pub(crate) fn clamp_sigma(sigma: f32, h: usize, w: usize) -> f32 {
    sigma.min(2.0 * h.max(w) as f32).min(MAX_SIGMA)
}

/// The sampled, normalised Gaussian kernel of standard deviation `sigma` px (radius `⌈4σ⌉`, σ at most
/// 250 000). `sigma ≤ 0` or non-finite gives the identity.
#[must_use]
pub fn gaussian_kernel(sigma: f32) -> Kernel1d {
    if !(sigma.is_finite() && sigma > 0.0) {
        return Kernel1d::identity();
    }
    let sigma = sigma.min(MAX_SIGMA);
    let radius = (4.0 * sigma).ceil() as isize;
    let taps: Vec<f64> = (-radius..=radius)
        .map(|x| (-(x * x) as f64 / (2.0 * f64::from(sigma) * f64::from(sigma))).exp())
        .collect();
    let sum: f64 = taps.iter().sum();
    Kernel1d::new(taps.iter().map(|t| (t / sum) as f32).collect())
        .unwrap_or_else(|_| Kernel1d::identity())
}

/// Gaussian blur with standard deviation `sigma` px (both axes), method chosen by σ.
///
/// # Examples
/// ```
/// use ndarray::Array2;
/// let flat = Array2::from_elem((5, 7), 0.25f32);
/// let blurred = skintex::kernels::gaussian_blur(flat.view(), 1.5);
/// assert!(blurred.iter().all(|v| (v - 0.25).abs() < 1e-6));
/// ```
#[must_use]
pub fn gaussian_blur(src: ArrayView2<'_, f32>, sigma: f32) -> Array2<f32> {
    gaussian_blur_with(src, sigma, GaussianMethod::Auto)
}

/// Gaussian blur with an explicit method.
#[must_use]
pub fn gaussian_blur_with(
    src: ArrayView2<'_, f32>,
    sigma: f32,
    method: GaussianMethod,
) -> Array2<f32> {
    let (h, w) = src.dim();
    if h == 0 || w == 0 || !(sigma.is_finite() && sigma > 0.0) {
        return src.to_owned();
    }
    let sigma = clamp_sigma(sigma, h, w);
    let recursive = match method {
        GaussianMethod::Auto => sigma >= RECURSIVE_FROM_SIGMA,
        GaussianMethod::Sampled => false,
        GaussianMethod::Recursive => true,
    };
    let data = row_major(&src);
    if recursive {
        recursive_blur(&data, w, h, sigma)
    } else {
        let k = gaussian_kernel(sigma);
        let mut out = super::buffer::zeroed_f32(w * h);
        convolve_slices(&data, w, h, &mut out, &k, &k);
        plane(h, w, out)
    }
}

/// Normalised recursive coefficients: `y[n] = b·x[n] + a1·y[n−1] + a2·y[n−2] + a3·y[n−3]`.
///
/// Kept, and run, in `f64`: at large σ the gain b is small (about 10⁻⁴ at σ = 16) and rounding errors
/// inside the recursion are amplified by about 1/b. In `f32` a constant plane drifted beyond the 10⁻⁵
/// the tests allow (`preserves_constants_and_mean` failed); the estimate ε/b ≈ 10⁻³ of the signal
/// would be several percent of a skin photo's log-luminance roughness.
#[derive(Debug, Clone, Copy)]
struct Yvv {
    b: f64,
    a: [f64; 3],
}

/// A complex number, for the few pole computations below (not worth a dependency).
#[derive(Debug, Clone, Copy)]
struct Complex {
    re: f64,
    im: f64,
}

impl Complex {
    fn mul(self, o: Self) -> Self {
        Self {
            re: self.re * o.re - self.im * o.im,
            im: self.re * o.im + self.im * o.re,
        }
    }
    fn div(self, o: Self) -> Self {
        let d = o.re * o.re + o.im * o.im;
        Self {
            re: (self.re * o.re + self.im * o.im) / d,
            im: (self.im * o.re - self.re * o.im) / d,
        }
    }
    /// `self^(1/q)` on the principal branch.
    fn root(self, q: f64) -> Self {
        let (r, t) = (
            self.re.hypot(self.im).powf(1.0 / q),
            self.im.atan2(self.re) / q,
        );
        Self {
            re: r * t.cos(),
            im: r * t.sin(),
        }
    }
}

/// Base poles of the third-order recursive Gaussian optimised for the maximum error by van Vliet,
/// Young & Verbeek ("Recursive Gaussian derivative filters", ICPR 1998), as tabulated in Getreuer's
/// survey (IPOL 2013, "A survey of Gaussian convolution algorithms").
const BASE_POLES: [Complex; 3] = [
    Complex {
        re: 1.41650,
        im: 1.00829,
    },
    Complex {
        re: 1.41650,
        im: -1.00829,
    },
    Complex {
        re: 1.86543,
        im: 0.0,
    },
];

impl Yvv {
    /// Variance of the forward-backward cascade with poles `d`: Σ 2·d/(d − 1)² (each causal pole is a
    /// geometric distribution of variance d/(d − 1)², and the backward pass doubles it).
    fn cascade_variance(q: f64) -> f64 {
        BASE_POLES
            .iter()
            .map(|p| {
                let d = p.root(q);
                let dm1 = Complex {
                    re: d.re - 1.0,
                    im: d.im,
                };
                let v = Complex {
                    re: 2.0 * d.re,
                    im: 2.0 * d.im,
                }
                .div(dm1.mul(dm1));
                v.re
            })
            .sum()
    }

    /// The filter whose impulse response has variance exactly σ²: the base poles are scaled to
    /// `d^(1/q)` with q found by bisection (the variance grows monotonically with q).
    fn new(sigma: f32) -> Self {
        let target = f64::from(sigma.max(0.5)).powi(2);
        let (mut lo, mut hi) = (0.05f64, 4.0 * f64::from(sigma) + 8.0);
        for _ in 0..80 {
            let mid = 0.5 * (lo + hi);
            if Self::cascade_variance(mid) < target {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let q = 0.5 * (lo + hi);
        // Denominator Π (1 − z⁻¹/d_k) = 1 + c1 z⁻¹ + c2 z⁻² + c3 z⁻³, with p_k = 1/d_k.
        let one = Complex { re: 1.0, im: 0.0 };
        let p: Vec<Complex> = BASE_POLES.iter().map(|d| one.div(d.root(q))).collect();
        let sum = p[0].re + p[1].re + p[2].re;
        let pairs = p[0].mul(p[1]).re + p[0].mul(p[2]).re + p[1].mul(p[2]).re;
        let triple = p[0].mul(p[1]).mul(p[2]).re;
        let a = [sum, -pairs, triple];
        Self {
            b: 1.0 - (a[0] + a[1] + a[2]),
            a,
        }
    }
}

fn padding(sigma: f32) -> usize {
    (6.0 * sigma).ceil() as usize + 8
}

fn recursive_blur(src: &[f32], w: usize, h: usize, sigma: f32) -> Array2<f32> {
    let coeffs = Yvv::new(sigma);
    let pad = padding(sigma);
    let mut out = super::zeroed_plane(h, w);
    recursive_columns(src, w, h, &mut out, coeffs, pad);
    if let Some(data) = out.as_slice_mut() {
        recursive_rows_in_place(data, w, coeffs, pad);
    }
    out
}

/// Rows per lane block in the horizontal pass: the block is transposed into a buffer where each
/// position holds one sample of each row, so the recursion runs on `LANES`-wide vectors (two AVX
/// registers of f32 storage; the state is f64), which also hides the latency of its dependency chain.
const LANES: usize = 16;

/// The horizontal pass, in place on `data` (each block reads its rows whole before writing them).
fn recursive_rows_in_place(data: &mut [f32], w: usize, c: Yvv, pad: usize) {
    let len = w + 2 * pad;
    // One lane buffer per worker, not per block, so half-megabyte buffers are not allocated (and
    // faulted in) block after block. On its own this did not measurably change the 12 MP time.
    data.par_chunks_mut(LANES * w).for_each_init(
        || vec![[0f32; LANES]; len],
        |buf, block| {
            let rows = block.len() / w;
            transpose_in(block, w, rows, pad, buf);
            recurse_lanes(buf, c);
            transpose_out(buf, w, pad, block);
        },
    );
}

/// Columns per tile when transposing a block into lanes and back: a tile of the lane buffer is
/// `TILE_X` cache lines, so it stays in L1 while all 16 rows are written into it. Sweeping one whole
/// row per lane instead streamed the 256 KiB buffer through L1 sixteen times per block (perf: a third
/// of the recursive blur's time).
const TILE_X: usize = 16;

/// Rows of `block` into the lane buffer, reflected padding included. Lanes past the last row of a
/// short final block repeat that row (they are never written back).
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "x86_64+sse4.1"
))]
// The lane index addresses both a row of `block` and a slot of each cell: an index loop says that best.
#[allow(clippy::needless_range_loop)]
fn transpose_in(block: &[f32], w: usize, rows: usize, pad: usize, buf: &mut [[f32; LANES]]) {
    let row_of = |l: usize| {
        let y = l.min(rows - 1);
        &block[y * w..(y + 1) * w]
    };
    for x0 in (0..w).step_by(TILE_X) {
        let xe = (x0 + TILE_X).min(w);
        let cells = &mut buf[pad + x0..pad + xe];
        for l in 0..LANES {
            for (cell, &v) in cells.iter_mut().zip(&row_of(l)[x0..xe]) {
                cell[l] = v;
            }
        }
    }
    for l in 0..LANES {
        let row = row_of(l);
        for i in 0..pad {
            buf[pad - 1 - i][l] = row[reflect(-1 - i as isize, w)];
            buf[pad + w + i][l] = row[reflect((w + i) as isize, w)];
        }
    }
}

/// The lane buffer's image part back into the rows of `block`, tile by tile.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "x86_64+sse4.1"
))]
fn transpose_out(buf: &[[f32; LANES]], w: usize, pad: usize, block: &mut [f32]) {
    for x0 in (0..w).step_by(TILE_X) {
        let xe = (x0 + TILE_X).min(w);
        let cells = &buf[pad + x0..pad + xe];
        for (l, row) in block.chunks_exact_mut(w).enumerate() {
            for (v, cell) in row[x0..xe].iter_mut().zip(cells) {
                *v = cell[l];
            }
        }
    }
}

/// Forward then backward recursion over `buf`, each position a vector of independent lanes. The state
/// is f64; the stored intermediate is f32 (a rounded stored value only feeds the backward pass as an
/// input, with unit gain; a rounded *state* would be amplified by 1/b).
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "x86_64+sse4.1"
))]
fn recurse_lanes(buf: &mut [[f32; LANES]], c: Yvv) {
    let n = buf.len();
    let widen = |v: &[f32; LANES]| v.map(f64::from);
    // Steady state for a constant signal equal to the first (last) sample: the output equals it.
    let (mut p1, mut p2, mut p3) = (widen(&buf[0]), widen(&buf[0]), widen(&buf[0]));
    for cell in buf.iter_mut() {
        let mut v = [0f64; LANES];
        for l in 0..LANES {
            v[l] = c.b * f64::from(cell[l]) + (c.a[2] * p3[l] + c.a[1] * p2[l]) + c.a[0] * p1[l];
            cell[l] = v[l] as f32;
        }
        (p3, p2, p1) = (p2, p1, v);
    }
    let last = widen(&buf[n - 1]);
    let (mut p1, mut p2, mut p3) = (last, last, last);
    for cell in buf.iter_mut().rev() {
        let mut v = [0f64; LANES];
        for l in 0..LANES {
            v[l] = c.b * f64::from(cell[l]) + (c.a[2] * p3[l] + c.a[1] * p2[l]) + c.a[0] * p1[l];
            cell[l] = v[l] as f32;
        }
        (p3, p2, p1) = (p2, p1, v);
    }
}

/// Columns per parallel task in the vertical pass: each row segment of a strip is one vector of
/// independent columns, so the recursion vectorises with no transposition.
const STRIP: usize = 256;

/// The vertical pass from `src` into `dst`: the forward recursion writes `dst` (rows in the bottom
/// padding go to a small side buffer, as the backward pass starts there), the backward recursion
/// rewrites it. The three rows of state are f64.
fn recursive_columns(src: &[f32], w: usize, h: usize, dst: &mut Array2<f32>, c: Yvv, pad: usize) {
    dst.axis_chunks_iter_mut(Axis(1), STRIP)
        .into_par_iter()
        .enumerate()
        .for_each(|(strip, mut out)| {
            let x0 = strip * STRIP;
            let sw = out.ncols();
            let src_row = |k: usize| {
                let y = reflect(k as isize - pad as isize, h);
                &src[y * w + x0..y * w + x0 + sw]
            };
            let mut state = vec![0f64; 3 * sw];
            let mut tail = vec![0f32; pad * sw];
            // Forward, over the padded range k = 0 .. h + 2·pad.
            // Steady state for a constant signal equal to the first padded row: the output equals it.
            for chunk in state.chunks_exact_mut(sw) {
                for (s, &v) in chunk.iter_mut().zip(src_row(0)) {
                    *s = f64::from(v);
                }
            }
            for k in 0..h + 2 * pad {
                let target: Option<&mut [f32]> = if k < pad {
                    None
                } else if k < pad + h {
                    out.row_mut(k - pad).into_slice()
                } else {
                    Some(&mut tail[(k - pad - h) * sw..(k - pad - h + 1) * sw])
                };
                forward_row(src_row(k), &mut state, sw, c, target);
            }
            // Backward, from the end of the padded range; only image rows are kept.
            // `padding` is at least 8, so the tail holds the last forward row.
            let last: Vec<f64> = tail[(pad - 1) * sw..]
                .iter()
                .map(|&v| f64::from(v))
                .collect();
            for chunk in state.chunks_exact_mut(sw) {
                chunk.copy_from_slice(&last);
            }
            for k in (pad..h + 2 * pad).rev() {
                if k >= pad + h {
                    backward_row(
                        &mut tail[(k - pad - h) * sw..(k - pad - h + 1) * sw],
                        &mut state,
                        sw,
                        c,
                    );
                } else if let Some(row) = out.row_mut(k - pad).into_slice() {
                    backward_row(row, &mut state, sw, c);
                }
            }
        });
}

/// One forward step for a row segment: `v = b·x + a·state`, state shifted, `v` stored if asked.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "x86_64+sse4.1"
))]
fn forward_row(x: &[f32], state: &mut [f64], sw: usize, c: Yvv, out: Option<&mut [f32]>) {
    step_row(x, state, sw, c, out);
}

/// One backward step, in place: each sample is read before it is overwritten.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "x86_64+sse4.1"
))]
fn backward_row(row: &mut [f32], state: &mut [f64], sw: usize, c: Yvv) {
    let (p1, rest) = state.split_at_mut(sw);
    let (p2, p3) = rest.split_at_mut(sw);
    for (((o, s1), s2), s3) in row
        .iter_mut()
        .zip(p1.iter_mut())
        .zip(p2.iter_mut())
        .zip(p3.iter_mut())
    {
        let v = c.b * f64::from(*o) + (c.a[2] * *s3 + c.a[1] * *s2) + c.a[0] * *s1;
        (*s3, *s2, *s1) = (*s2, *s1, v);
        *o = v as f32;
    }
}

#[inline(always)]
fn step_row(x: &[f32], state: &mut [f64], sw: usize, c: Yvv, out: Option<&mut [f32]>) {
    let (p1, rest) = state.split_at_mut(sw);
    let (p2, p3) = rest.split_at_mut(sw);
    match out {
        Some(out) => {
            for ((((o, &xv), s1), s2), s3) in out
                .iter_mut()
                .zip(x)
                .zip(p1.iter_mut())
                .zip(p2.iter_mut())
                .zip(p3.iter_mut())
            {
                let v = c.b * f64::from(xv) + (c.a[2] * *s3 + c.a[1] * *s2) + c.a[0] * *s1;
                (*s3, *s2, *s1) = (*s2, *s1, v);
                *o = v as f32;
            }
        }
        None => {
            for (((&xv, s1), s2), s3) in x
                .iter()
                .zip(p1.iter_mut())
                .zip(p2.iter_mut())
                .zip(p3.iter_mut())
            {
                let v = c.b * f64::from(xv) + (c.a[2] * *s3 + c.a[1] * *s2) + c.a[0] * *s1;
                (*s3, *s2, *s1) = (*s2, *s1, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::separable::naive_separable;
    use crate::kernels::testutil::{assert_thread_independent, planes, textured};
    use proptest::prelude::*;

    /// The exact (continuous-sigma, finely sampled, wide) Gaussian: kernel taps integrated over each
    /// pixel would differ from point samples by < 0.3 % for σ ≥ 1, so point samples with a ±6σ support
    /// in f64 serve as the reference.
    fn exact_taps(sigma: f32) -> Vec<f32> {
        let r = (6.0 * sigma).ceil() as isize;
        let t: Vec<f64> = (-r..=r)
            .map(|x| (-(x * x) as f64 / (2.0 * f64::from(sigma).powi(2))).exp())
            .collect();
        let s: f64 = t.iter().sum();
        t.iter().map(|v| (v / s) as f32).collect()
    }

    #[test]
    fn kernel_is_normalised_and_symmetric() {
        for sigma in [0.5f32, 1.0, 2.0, 7.3] {
            let k = gaussian_kernel(sigma);
            let sum: f32 = k.taps().iter().sum();
            assert!((sum - 1.0).abs() < 1e-6);
            assert_eq!(k.radius(), (4.0 * sigma).ceil() as usize);
            let t = k.taps();
            assert!(
                (0..t.len()).all(|i| t[i] == t[t.len() - 1 - i]),
                "σ {sigma}: not symmetric"
            );
        }
        assert_eq!(gaussian_kernel(1e12).radius(), 1_000_000, "σ is capped");
        assert_eq!(gaussian_kernel(0.0), Kernel1d::identity());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        // Sampled path against the naive 2-D reference with the same taps: f32 vs f64 summation only.
        #[test]
        fn sampled_matches_naive(img in planes(36), sigma in 0.3f32..3.0) {
            let fast = gaussian_blur_with(img.view(), sigma, GaussianMethod::Sampled);
            let k = gaussian_kernel(sigma);
            let slow = naive_separable(&img, k.taps(), k.taps());
            let err = fast.iter().zip(&slow).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
            prop_assert!(err < 1e-5, "{err}");
        }

        // Recursive path on any size (1 × 1, 1 × N, N × 1 …) against the exact Gaussian: under 1 % of
        // the range of a textured image for σ ≥ 2.
        #[test]
        fn recursive_matches_exact_on_any_size(img in planes(48), sigma in 2.0f32..12.0) {
            let fast = gaussian_blur_with(img.view(), sigma, GaussianMethod::Recursive);
            let exact = exact_taps(sigma);
            let slow = naive_separable(&img, &exact, &exact);
            let range = img.iter().fold(f32::MIN, |m, v| m.max(*v)) - img.iter().fold(f32::MAX, |m, v| m.min(*v));
            let err = fast.iter().zip(&slow).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
            prop_assert!(err <= 0.01 * range.max(1e-3), "σ {sigma}: {err} of range {range}");
        }
    }

    #[test]
    fn recursive_matches_exact_gaussian() {
        // Impulse response: the error at every pixel relative to the response's peak.
        // Bounds: the measured errors (4.20, 2.85, 2.42, 2.07, 1.96 %) plus 0.05–0.15 point.
        for (sigma, bound) in [
            (2.0f32, 0.043f32),
            (3.0, 0.03),
            (4.0, 0.025),
            (8.0, 0.022),
            (16.0, 0.021),
        ] {
            let n = (16.0 * sigma) as usize | 1;
            let mut img = Array2::<f32>::zeros((n, n));
            img[[n / 2, n / 2]] = 1.0;
            let fast = gaussian_blur_with(img.view(), sigma, GaussianMethod::Recursive);
            let exact = exact_taps(sigma);
            let slow = naive_separable(&img, &exact, &exact);
            let peak = slow[[n / 2, n / 2]];
            let err = fast
                .iter()
                .zip(&slow)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max)
                / peak;
            assert!(
                err <= bound,
                "σ {sigma}: max error {:.3} % of peak",
                100.0 * err
            );
        }
        // A textured image with borders: error relative to the image range.
        let img = textured(120, 90, 4);
        for sigma in [2.0f32, 5.0, 11.0] {
            let fast = gaussian_blur_with(img.view(), sigma, GaussianMethod::Recursive);
            let exact = exact_taps(sigma);
            let slow = naive_separable(&img, &exact, &exact);
            let err = fast
                .iter()
                .zip(&slow)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(err < 0.01 * 0.6, "σ {sigma}: {err}");
        }
    }

    #[test]
    fn bitwise_identical_for_1_2_and_7_threads() {
        let img = textured(301, 259, 5);
        for sigma in [1.0f32, 6.0] {
            assert_thread_independent(|| gaussian_blur(img.view(), sigma));
        }
    }

    #[test]
    fn preserves_constants_and_mean() {
        let flat = Array2::from_elem((40, 33), 0.7f32);
        let img = textured(64, 64, 7);
        let mean = |a: &Array2<f32>| a.iter().map(|&v| f64::from(v)).sum::<f64>() / a.len() as f64;
        for method in [GaussianMethod::Sampled, GaussianMethod::Recursive] {
            let out = gaussian_blur_with(flat.view(), 5.0, method);
            assert!(out.iter().all(|v| (v - 0.7).abs() < 1e-5), "{method:?}");
            // Reflected borders keep the mass inside: the mean survives (to 0.1 % of it).
            let blurred = gaussian_blur_with(img.view(), 5.0, method);
            assert!(
                (mean(&blurred) - mean(&img)).abs() < 1e-3 * mean(&img),
                "{method:?}"
            );
        }
        // Absurd σ is clamped to twice the larger side, not allocated.
        let huge = gaussian_blur(img.view(), 1e9);
        assert!(
            huge.iter()
                .all(|v| (f64::from(*v) - mean(&img)).abs() < 0.05)
        );
    }
}
