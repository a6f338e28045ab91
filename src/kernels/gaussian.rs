//! Gaussian blur: a sampled kernel for small σ; for large σ a multirate (pyramid) filter or a recursive
//! (IIR) one.
//!
//! - **Sampled**: taps `exp(−x²/2σ²)` for `|x| ≤ ⌈4σ⌉`, normalised to sum 1, run through
//!   [`separable`](super::separable). Exact to float rounding for that truncated, sampled kernel (below
//!   σ ≈ 0.8 a sampled kernel's own spread falls short of σ); cost grows with σ.
//! - **Recursive**: the third-order Young–van Vliet filter (I. T. Young & L. J. van Vliet, "Recursive
//!   implementation of the Gaussian filter", Signal Processing 44 (1995) 139–151), run forwards then
//!   backwards along each axis, in f32 as a first-order and a second-order section in cascade (see
//!   `Cascade` for why that form, and its rounding error against the same filter in f64). Cost per
//!   pixel is independent of σ except for the padding below, which adds `2(⌈6σ⌉ + 8)` samples to each
//!   line. σ below 0.5 is filtered as 0.5. Borders: the line is extended by `⌈6σ⌉ + 8` reflected samples
//!   on each side and the filter starts in its steady state for the first extended sample, so the
//!   start-up transient has decayed by e⁻⁶ before the image begins.
//!   The poles are those van Vliet, Young & Verbeek (1998) optimised for the maximum error, scaled so
//!   the response's variance is exactly σ² (the 1995 paper's closed form realises a σ 8–12 % too large).
//!   Accuracy against the exact Gaussian, measured by `recursive_matches_exact_gaussian` below on the
//!   2-D impulse response, the hardest case (error at any pixel relative to the response's peak):
//!   **4.2 % at σ = 2, 2.9 % at σ = 3, 2.4 % at σ = 4, ≤ 2.1 % for σ ≥ 8**; on textured photos the
//!   error is under 1 % of the image's range (the property test `recursive_matches_exact_on_any_size`).
//!
//! The recursive filter's layout, for speed (12 MP σ = 8, min of 30 runs on one thread: 25.6 ms in
//! the layout before, 15–16 ms in this one): the vertical pass walks 64-column chunks with the recursion state in
//! registers; the horizontal pass transposes 16-row blocks into 16-lane vectors so the recursion runs
//! down vectors instead of along scalar rows, recurses two blocks side by side, and transposes with
//! AVX-512 shuffles where the CPU has them (`avx512`: the one place with intrinsics, all safe calls).
//!
//! - **Multirate**: down a binomial pyramid, a small sampled Gaussian at the coarse level, and back up
//!   ([`multirate`](super::multirate), which gives its accuracy: under 0.9 % of the impulse response's
//!   peak for σ ≥ 4, against the recursive filter's 2–2.4 %). O(1) per pixel, and it reads and writes
//!   the full-resolution plane once where the recursive filter does so twice. For σ near the image's
//!   size, where its levels would outgrow the image, the recursive filter runs instead.
//!
//! [`GaussianMethod::Auto`] uses the sampled kernel below [`MULTIRATE_FROM_SIGMA`] and the multirate
//! filter from there on. The recursive filter stays for callers that ask for it.

use ndarray::{Array2, ArrayView2, Axis};
use rayon::prelude::*;

use super::multirate::multirate_blur;
use super::separable::{Kernel1d, convolve_slices};
use super::{plane, reflect, row_major};

/// σ from which [`GaussianMethod::Auto`] switches from the sampled kernel to the multirate filter. The
/// multirate filter needs σ ≥ 3.803 for one pyramid level ([`super::multirate::plan`]); at σ = 4 its
/// error is 0.9 % of the impulse peak, and it takes half the sampled kernel's time (12 MP, one
/// thread: about 21 against 45 ms).
pub const MULTIRATE_FROM_SIGMA: f32 = 4.0;

/// How [`gaussian_blur_with`] computes the blur.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GaussianMethod {
    /// Sampled below [`MULTIRATE_FROM_SIGMA`], multirate from there.
    #[default]
    Auto,
    /// Always the sampled kernel (exact, O(σ) per pixel).
    Sampled,
    /// Always the Young–van Vliet recursive filter (approximate, O(1) per pixel).
    Recursive,
    /// The multirate filter (approximate, O(1) per pixel) where σ allows one pyramid level (σ ≥ 3.803)
    /// and is small enough against the image (see [`super::multirate`]); below, the sampled kernel,
    /// above, the recursive filter.
    Multirate,
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
    let method = match method {
        GaussianMethod::Auto if sigma >= MULTIRATE_FROM_SIGMA => GaussianMethod::Multirate,
        GaussianMethod::Auto => GaussianMethod::Sampled,
        other => other,
    };
    let method = match method {
        GaussianMethod::Multirate => match multirate_blur(src, sigma) {
            Some(blurred) => return blurred,
            // Declined for σ near the image's size: the recursive filter, whose padding is per line
            // rather than per level.
            None if super::multirate::plan(sigma).is_some() => GaussianMethod::Recursive,
            // Below one level (σ < 3.803) the sampled kernel is cheap: 33 taps at most.
            None => GaussianMethod::Sampled,
        },
        other => other,
    };
    let data = row_major(&src);
    if method == GaussianMethod::Recursive {
        recursive_blur(&data, w, h, sigma)
    } else {
        let k = gaussian_kernel(sigma);
        plane(h, w, convolve_slices(&data, w, h, &k, &k))
    }
}

/// The recursive filter as a cascade of a first-order section (the real pole) and a second-order
/// section (the complex pair), run in f32:
/// `u[n] = g1·x[n] + p·u[n−1]`, then `v[n] = g2·u[n] + c1·v[n−1] + c2·v[n−2]`.
///
/// Why a cascade rather than the direct third-order form `y = b·x + a1·y1 + a2·y2 + a3·y3` (the same
/// filter, multiplied out): the direct form's gain b is small at large σ (6.3·10⁻³ at σ = 8, 8.9·10⁻⁴
/// at σ = 16) and a rounding error in its state is amplified by about 1/b, so it had to run in f64 —
/// half the SIMD width and twice the state memory (in f32 a constant plane drifted beyond 10⁻⁵). Each
/// section's own gain is larger (at σ = 8, 1 − p = 0.15 and 1 − c1 − c2 = 0.041; at σ = 16, 0.079 and
/// 0.011), so rounding is amplified by 1/(1 − p) + 1/(1 − c1 − c2) = 31 (σ = 8) or 102 (σ = 16) instead
/// of 159 or 1125, and f32 suffices: against the same filter in f64 the error is half an ulp of the
/// samples' level at σ = 8 (`cascade_matches_f64_direct_form`). Switching to this form took the
/// 12 MP σ = 8 blur from 30 to 26 ms on one thread.
///
/// Every line is filtered relative to its first padded sample r: the filter has unit DC gain, so
/// `G(x − r) + r = G(x)`, and rounding errors then scale with the samples' distance from r rather than
/// with their level (a log-luminance plane sits far from zero). A constant line comes out exact.
#[derive(Debug, Clone, Copy)]
struct Cascade {
    g1: f32,
    p: f32,
    g2: f32,
    c1: f32,
    c2: f32,
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
/// survey (IPOL 2013, "A survey of Gaussian convolution algorithms"): a complex pair and a real pole.
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

/// Variance of the forward-backward cascade with base poles scaled to `d^(1/q)`: Σ 2·d/(d − 1)² (each
/// causal pole is a geometric distribution of variance d/(d − 1)², and the backward pass doubles it).
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

/// The feedback poles `p_k = 1/d_k^(1/q)` (complex pair first, then the real pole) of the filter
/// whose impulse response has variance exactly σ²: q is found by bisection (the variance grows
/// monotonically with q).
fn poles(sigma: f32) -> [Complex; 3] {
    let target = f64::from(sigma.max(0.5)).powi(2);
    let (mut lo, mut hi) = (0.05f64, 4.0 * f64::from(sigma) + 8.0);
    for _ in 0..80 {
        let mid = 0.5 * (lo + hi);
        if cascade_variance(mid) < target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let q = 0.5 * (lo + hi);
    let one = Complex { re: 1.0, im: 0.0 };
    BASE_POLES.map(|d| one.div(d.root(q)))
}

impl Cascade {
    fn new(sigma: f32) -> Self {
        let [pair, _, real] = poles(sigma);
        let p = real.re as f32;
        let c1 = (2.0 * pair.re) as f32;
        let c2 = (-(pair.re * pair.re + pair.im * pair.im)) as f32;
        // The gains from the *rounded* feedback coefficients, so that each section's DC gain is 1 to
        // f32 precision and a constant passes unchanged.
        Self {
            g1: (1.0 - f64::from(p)) as f32,
            p,
            g2: (1.0 - f64::from(c1) - f64::from(c2)) as f32,
            c1,
            c2,
        }
    }

    /// One step of both sections for one sample, the state `(u1, v1, v2)` updated in place.
    #[inline(always)]
    fn step(self, x: f32, u1: &mut f32, v1: &mut f32, v2: &mut f32) -> f32 {
        let u = self.g1 * x + self.p * *u1;
        // Summed so that the last step's output v1 enters last: the loop-carried dependency is then
        // one multiply and one add (6 cycles) rather than a multiply and two adds (9), and the
        // horizontal pass, one recursion per 16 rows, is bound by that latency.
        let v = (self.g2 * u + self.c2 * *v2) + self.c1 * *v1;
        (*u1, *v2, *v1) = (u, *v1, v);
        v
    }
}

fn padding(sigma: f32) -> usize {
    (6.0 * sigma).ceil() as usize + 8
}

fn recursive_blur(src: &[f32], w: usize, h: usize, sigma: f32) -> Array2<f32> {
    let coeffs = Cascade::new(sigma);
    let pad = padding(sigma);
    let mut out = super::prefaulted_plane(h, w);
    recursive_columns(src, w, h, &mut out, coeffs, pad);
    if let Some(data) = out.as_slice_mut() {
        recursive_rows_in_place(data, w, coeffs, pad);
    }
    out
}

/// Rows per lane block in the horizontal pass: the block is transposed into a buffer where each
/// position holds one sample of each row, so the recursion runs on `LANES`-wide vectors (one AVX-512
/// register).
const LANES: usize = 16;

/// The horizontal pass, in place on `data` (each block reads its rows whole before writing them).
fn recursive_rows_in_place(data: &mut [f32], w: usize, c: Cascade, pad: usize) {
    let len = w + 2 * pad;
    // Two blocks of `LANES` rows per task, recursed side by side (see `recurse_lanes`).
    data.par_chunks_mut(2 * LANES * w).for_each(|rows| {
        LANE_BUFFERS.with_borrow_mut(|(first_buf, second_buf)| {
            first_buf.resize(len, [0.0; LANES]);
            second_buf.resize(len, [0.0; LANES]);
            let (first, second) = rows.split_at_mut(rows.len().min(LANES * w));
            transpose_in(first, w, first.len() / w, pad, first_buf);
            if second.is_empty() {
                recurse_lanes([&mut first_buf[..]], c);
            } else {
                transpose_in(second, w, second.len() / w, pad, second_buf);
                recurse_lanes([&mut first_buf[..], &mut second_buf[..]], c);
                transpose_out(second_buf, w, pad, second);
            }
            transpose_out(first_buf, w, pad, first);
        });
    });
}

thread_local! {
    /// Each worker's two lane buffers for the horizontal pass, kept from call to call. At 12 MP each
    /// is 260 KB: allocated per task they came from `mmap` each time, with page faults that serialise
    /// threads on the kernel's memory lock (timers around the 12 MP σ = 8 horizontal pass on two
    /// threads: 7.5 ms with per-task buffers, 5.8 ms with these). Every position a block reads is written first by `transpose_in` (both buffers are
    /// exactly `w + 2·pad` long when used), so nothing a previous call left reaches a result.
    static LANE_BUFFERS: std::cell::RefCell<(LaneBuffer, LaneBuffer)> =
        const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

/// A line of a lane block: position `i` holds sample `i` of each of the block's rows.
type LaneBuffer = Vec<[f32; LANES]>;

/// Columns per tile when transposing a block into lanes and back: a tile of the lane buffer is
/// `TILE_X` cache lines, so it stays in L1 while all 16 rows are written into it. Sweeping one whole
/// row per lane instead streamed the 256 KiB buffer through L1 sixteen times per block (perf: a third
/// of the recursive blur's time). Equal to `LANES`, so a full tile is one square register transpose.
const TILE_X: usize = LANES;

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
        multiversion::target::match_target! {
            "x86_64+avx512f" => {
                if let Ok(cells) = <&mut [[f32; LANES]; LANES]>::try_from(&mut *cells) {
                    avx512::rows_to_cells(&row_of, x0, cells);
                    continue;
                }
            }
            _ => {}
        }
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
        multiversion::target::match_target! {
            "x86_64+avx512f" => {
                if let Ok(cells) = <&[[f32; LANES]; LANES]>::try_from(cells) {
                    avx512::cells_to_rows(cells, w, x0, block);
                    continue;
                }
            }
            _ => {}
        }
        for (l, row) in block.chunks_exact_mut(w).enumerate() {
            for (v, cell) in row[x0..xe].iter_mut().zip(cells) {
                *v = cell[l];
            }
        }
    }
}

/// The 16 × 16 transpose at the heart of both lane transposes, in AVX-512 registers.
///
/// Written with intrinsics because the compiler does not find it: the scalar loops above compile to
/// one load and one store per sample, and perf put the two transposes at 8.8 ms of a 22 ms 12 MP
/// σ = 8 blur on one thread. This is the usual four-stage network (interleave pairs of floats, then of
/// float pairs, then of 128-bit lanes twice): 64 shuffles per 256 samples. Safe code: the shuffles are
/// safe in a function compiled for AVX-512, and registers are filled and emptied with `bytemuck` casts.
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::{
        __m512, _mm512_castpd_ps, _mm512_castps_pd, _mm512_setzero_ps, _mm512_shuffle_f32x4,
        _mm512_unpackhi_pd, _mm512_unpackhi_ps, _mm512_unpacklo_pd, _mm512_unpacklo_ps,
    };

    use super::LANES;

    /// Columns `x0 .. x0 + 16` of the 16 rows `row_of(0..16)` into 16 cells, one column per cell.
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub(super) fn rows_to_cells<'a>(
        row_of: &impl Fn(usize) -> &'a [f32],
        x0: usize,
        cells: &mut [[f32; LANES]; LANES],
    ) {
        let mut r = [_mm512_setzero_ps(); LANES];
        for (l, v) in r.iter_mut().enumerate() {
            if let Ok(samples) = <&[f32; LANES]>::try_from(&row_of(l)[x0..x0 + LANES]) {
                *v = bytemuck::cast(*samples);
            }
        }
        let t = transpose(r);
        for (cell, v) in cells.iter_mut().zip(t) {
            *cell = bytemuck::cast(v);
        }
    }

    /// 16 cells back into columns `x0 .. x0 + 16` of the rows of `block` (`w` long; at most 16).
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub(super) fn cells_to_rows(
        cells: &[[f32; LANES]; LANES],
        w: usize,
        x0: usize,
        block: &mut [f32],
    ) {
        let mut r = [_mm512_setzero_ps(); LANES];
        for (v, cell) in r.iter_mut().zip(cells) {
            *v = bytemuck::cast(*cell);
        }
        let t = transpose(r);
        for (row, v) in block.chunks_exact_mut(w).zip(t) {
            let samples: [f32; LANES] = bytemuck::cast(v);
            row[x0..x0 + LANES].copy_from_slice(&samples);
        }
    }

    /// `out[j]` lane i = `r[i]` lane j.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn transpose(r: [__m512; LANES]) -> [__m512; LANES] {
        // Stage 1, within each 128-bit lane: t[4a] = (r[4a][0], r[4a+1][0], r[4a][1], r[4a+1][1]),
        // t[4a+1] the same for elements 2 and 3, t[4a+2] and t[4a+3] likewise for rows 4a+2, 4a+3.
        let mut t = [_mm512_setzero_ps(); LANES];
        for a in 0..4 {
            t[4 * a] = _mm512_unpacklo_ps(r[4 * a], r[4 * a + 1]);
            t[4 * a + 1] = _mm512_unpackhi_ps(r[4 * a], r[4 * a + 1]);
            t[4 * a + 2] = _mm512_unpacklo_ps(r[4 * a + 2], r[4 * a + 3]);
            t[4 * a + 3] = _mm512_unpackhi_ps(r[4 * a + 2], r[4 * a + 3]);
        }
        // Stage 2: s[4a+b] holds, in 128-bit lane L, element 4L+b of rows 4a..4a+3.
        let mut s = [_mm512_setzero_ps(); LANES];
        for a in 0..4 {
            for (b, (lo, hi)) in [(0, 2), (0, 2), (1, 3), (1, 3)].into_iter().enumerate() {
                let x = _mm512_castps_pd(t[4 * a + lo]);
                let y = _mm512_castps_pd(t[4 * a + hi]);
                s[4 * a + b] = _mm512_castpd_ps(if b % 2 == 0 {
                    _mm512_unpacklo_pd(x, y)
                } else {
                    _mm512_unpackhi_pd(x, y)
                });
            }
        }
        // Stages 3 and 4: gather 128-bit lane L of s[b], s[4+b], s[8+b], s[12+b] into out[4L+b].
        // 0x88 takes lanes 0 and 2 of each operand, 0xDD lanes 1 and 3.
        let mut out = [_mm512_setzero_ps(); LANES];
        for b in 0..4 {
            let u0 = _mm512_shuffle_f32x4::<0x88>(s[b], s[4 + b]);
            let u1 = _mm512_shuffle_f32x4::<0xDD>(s[b], s[4 + b]);
            let u2 = _mm512_shuffle_f32x4::<0x88>(s[8 + b], s[12 + b]);
            let u3 = _mm512_shuffle_f32x4::<0xDD>(s[8 + b], s[12 + b]);
            out[b] = _mm512_shuffle_f32x4::<0x88>(u0, u2);
            out[8 + b] = _mm512_shuffle_f32x4::<0xDD>(u0, u2);
            out[4 + b] = _mm512_shuffle_f32x4::<0x88>(u1, u3);
            out[12 + b] = _mm512_shuffle_f32x4::<0xDD>(u1, u3);
        }
        out
    }
}

/// Forward then backward recursion over each of `N` lane buffers of one length, each position a
/// vector of independent lanes, relative to the buffer's first position's samples (see [`Cascade`]).
///
/// The buffers are recursed side by side, not one after the other: one buffer's recursion is one
/// dependency chain per position (a multiply and an add, 6 cycles), which on its own leaves the vector
/// units mostly idle; two independent chains in one loop overlap. Each lane's arithmetic is the same
/// whatever `N`.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "x86_64+sse4.1"
))]
// Position, buffer and lane index the buffers, the reference and the three state arrays alike: index
// loops say that best.
#[allow(clippy::needless_range_loop)]
fn recurse_lanes<const N: usize>(bufs: [&mut [[f32; LANES]]; N], c: Cascade) {
    let n = bufs.iter().map(|b| b.len()).min().unwrap_or(0);
    if n == 0 {
        return;
    }
    let reference: [[f32; LANES]; N] = std::array::from_fn(|i| bufs[i][0]);
    // Steady state for a constant signal equal to the first sample: relative to it, all zero.
    let (mut u1, mut v1, mut v2) = ([[0f32; LANES]; N], [[0f32; LANES]; N], [[0f32; LANES]; N]);
    for p in 0..n {
        for i in 0..N {
            let cell = &mut bufs[i][p];
            for l in 0..LANES {
                cell[l] = c.step(
                    cell[l] - reference[i][l],
                    &mut u1[i][l],
                    &mut v1[i][l],
                    &mut v2[i][l],
                );
            }
        }
    }
    // Backward, from the steady state of the last forward output.
    let last: [[f32; LANES]; N] = std::array::from_fn(|i| bufs[i][n - 1]);
    let (mut u1, mut v1, mut v2) = (last, last, last);
    for p in (0..n).rev() {
        for i in 0..N {
            let cell = &mut bufs[i][p];
            for l in 0..LANES {
                cell[l] =
                    c.step(cell[l], &mut u1[i][l], &mut v1[i][l], &mut v2[i][l]) + reference[i][l];
            }
        }
    }
}

/// Columns per parallel task in the vertical pass: four 16-lane vectors. A chunk's recursion state
/// (three rows of 64 samples) then stays in registers all the way down the column, so a step loads one
/// source row segment and stores one output segment and nothing else, and the chunk's output, 64 × (h +
/// padding) samples (0.8 MB at 12 MP), stays in L2 between its forward and backward pass. Every column's
/// recursion is independent of the others and each lane does the same arithmetic whichever path runs
/// it, so the chunking changes no value, only the speed.
///
/// Before this, strips of 256 columns kept their state in memory, three state loads and stores per
/// step besides the sample's: perf put the two vertical passes at 11.5 ms of a 27 ms 12 MP σ = 8 blur on
/// one thread.
const CHUNK: usize = 64;

/// How many rows ahead the vertical pass asks for its source segments. Each step reads 256 bytes from
/// a row 16 KB past the last one (at 4000 columns), a stride that crosses a 4 KiB page every step, so
/// the hardware's stream prefetchers, which work within a page, do not fetch ahead, and each step
/// waited for its load. Measured on a 2-core Intel Xeon VM (L2 2 MiB), 12 MP σ = 8 with the binary's
/// allocator policy, harness min of 20: one thread 24.4–24.7 → 20.5–22.0 ms, two threads 13.1–13.2 →
/// 11.0–11.2 ms; 4, 8 and 16 rows ahead were alike. Prefetching the output rows as well gained
/// nothing.
const PREFETCH_ROWS: usize = 8;

/// The vertical pass from `src` into `dst`: the forward recursion writes `dst` (rows in the bottom
/// padding go to a small side buffer, as the backward pass starts there), the backward recursion
/// rewrites it. Each column is filtered relative to its first padded sample (see [`Cascade`]).
fn recursive_columns(
    src: &[f32],
    w: usize,
    h: usize,
    dst: &mut Array2<f32>,
    c: Cascade,
    pad: usize,
) {
    dst.axis_chunks_iter_mut(Axis(1), CHUNK)
        .into_par_iter()
        .enumerate()
        .for_each(|(chunk, mut out)| {
            let cw = out.ncols();
            // Each row of a column chunk of a standard-layout plane is a contiguous slice.
            let mut rows: Vec<&mut [f32]> = out
                .rows_mut()
                .into_iter()
                .filter_map(|r| r.into_slice())
                .collect();
            if rows.len() != h {
                return; // unreachable: `dst` is a fresh standard-layout plane
            }
            let columns = Columns {
                src,
                w,
                x0: chunk * CHUNK,
                pad,
            };
            let mut tail = vec![0f32; pad * cw];
            if cw == CHUNK {
                column_chunk(&columns, &mut rows, &mut tail, c);
            } else {
                column_strip(&columns, &mut rows, &mut tail, c);
            }
        });
}

/// Where a chunk of columns reads its input: columns `x0..` of `src` (rows `w` long), reflected
/// across the top and bottom by `pad` rows.
struct Columns<'a> {
    src: &'a [f32],
    w: usize,
    x0: usize,
    pad: usize,
}

impl<'a> Columns<'a> {
    /// The segment of padded row `k` (image row `k − pad`, reflected), `width` samples.
    fn row(&self, k: usize, h: usize, width: usize) -> &'a [f32] {
        let y = reflect(k as isize - self.pad as isize, h);
        let start = y * self.w + self.x0;
        &self.src[start..start + width]
    }
}

/// Forward then backward recursion down one chunk of [`CHUNK`] columns, the state in registers.
/// `rows` are the chunk's image rows in the output, `tail` takes the bottom padding's forward output.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "x86_64+sse4.1"
))]
// The lane index addresses the sample and the three state vectors alike: an index loop says that best.
#[allow(clippy::needless_range_loop)]
fn column_chunk(columns: &Columns<'_>, rows: &mut [&mut [f32]], tail: &mut [f32], c: Cascade) {
    type Lanes = [f32; CHUNK];
    let load = |s: &[f32]| -> Lanes { s.try_into().unwrap_or([0.0; CHUNK]) };
    let (h, pad) = (rows.len(), columns.pad);
    let reference = load(columns.row(0, h, CHUNK));
    // Forward from the steady state for a constant signal equal to the first padded row: relative to
    // it, all zero.
    let (mut u1, mut v1, mut v2) = ([0f32; CHUNK], [0f32; CHUNK], [0f32; CHUNK]);
    for k in 0..h + 2 * pad {
        let x = load(columns.row(k, h, CHUNK));
        // The row segment this chunk reads `PREFETCH_ROWS` steps from now (see there).
        super::buffer::prefetch(columns.row(k + PREFETCH_ROWS, h, CHUNK));
        let mut y = [0f32; CHUNK];
        for l in 0..CHUNK {
            y[l] = c.step(x[l] - reference[l], &mut u1[l], &mut v1[l], &mut v2[l]);
        }
        if k >= pad + h {
            tail[(k - pad - h) * CHUNK..][..CHUNK].copy_from_slice(&y);
        } else if k >= pad {
            rows[k - pad].copy_from_slice(&y);
        }
    }
    // Backward from the steady state of the last forward output (`padding` is at least 8, so the
    // tail holds it); only image rows are kept.
    let last = load(&tail[(pad - 1) * CHUNK..]);
    let (mut u1, mut v1, mut v2) = (last, last, last);
    for k in (pad..h + 2 * pad).rev() {
        let segment: &mut [f32] = if k >= pad + h {
            &mut tail[(k - pad - h) * CHUNK..][..CHUNK]
        } else {
            rows[k - pad]
        };
        let x = load(segment);
        let mut y = [0f32; CHUNK];
        for l in 0..CHUNK {
            y[l] = c.step(x[l], &mut u1[l], &mut v1[l], &mut v2[l]) + reference[l];
        }
        segment.copy_from_slice(&y);
    }
}

/// The same recursion for a chunk narrower than [`CHUNK`] (the image's last columns), the state in
/// memory.
fn column_strip(columns: &Columns<'_>, rows: &mut [&mut [f32]], tail: &mut [f32], c: Cascade) {
    let (h, pad) = (rows.len(), columns.pad);
    let sw = tail.len() / pad;
    let reference = columns.row(0, h, sw);
    let mut state = ColumnState::new(sw, None);
    for k in 0..h + 2 * pad {
        let target: Option<&mut [f32]> = if k < pad {
            None
        } else if k < pad + h {
            Some(&mut *rows[k - pad])
        } else {
            Some(&mut tail[(k - pad - h) * sw..(k - pad - h + 1) * sw])
        };
        forward_row(columns.row(k, h, sw), reference, &mut state, c, target);
    }
    let mut state = ColumnState::new(sw, Some(&tail[(pad - 1) * sw..]));
    for k in (pad..h + 2 * pad).rev() {
        let row = if k >= pad + h {
            &mut tail[(k - pad - h) * sw..(k - pad - h + 1) * sw]
        } else {
            &mut *rows[k - pad]
        };
        backward_row(row, reference, &mut state, c);
    }
}

/// The recursion state of a row of columns: the first section's last output and the second
/// section's last two.
struct ColumnState {
    u1: Vec<f32>,
    v1: Vec<f32>,
    v2: Vec<f32>,
}

impl ColumnState {
    /// The steady state for a constant signal equal to `level` (zero when `None`).
    fn new(width: usize, level: Option<&[f32]>) -> Self {
        let row = level.map_or_else(|| vec![0f32; width], <[f32]>::to_vec);
        Self {
            u1: row.clone(),
            v1: row.clone(),
            v2: row,
        }
    }
}

/// One forward step for a row segment, relative to `reference`; the output stored if asked.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "x86_64+sse4.1"
))]
fn forward_row(
    x: &[f32],
    reference: &[f32],
    s: &mut ColumnState,
    c: Cascade,
    out: Option<&mut [f32]>,
) {
    let state = s.u1.iter_mut().zip(s.v1.iter_mut()).zip(s.v2.iter_mut());
    match out {
        Some(out) => {
            for ((o, (&xv, &r)), ((u1, v1), v2)) in
                out.iter_mut().zip(x.iter().zip(reference)).zip(state)
            {
                *o = c.step(xv - r, u1, v1, v2);
            }
        }
        None => {
            for ((&xv, &r), ((u1, v1), v2)) in x.iter().zip(reference).zip(state) {
                c.step(xv - r, u1, v1, v2);
            }
        }
    }
}

/// One backward step, in place (each sample is read before it is overwritten), the reference added
/// back.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "x86_64+sse4.1"
))]
fn backward_row(row: &mut [f32], reference: &[f32], s: &mut ColumnState, c: Cascade) {
    let state = s.u1.iter_mut().zip(s.v1.iter_mut()).zip(s.v2.iter_mut());
    for ((o, &r), ((u1, v1), v2)) in row.iter_mut().zip(reference).zip(state) {
        *o = c.step(*o, u1, v1, v2) + r;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::separable::naive_separable;
    use crate::kernels::testutil::{
        assert_thread_independent, exact_gaussian_taps, planes, textured,
    };
    use proptest::prelude::*;

    /// The exact Gaussian's taps in f32 (see [`exact_gaussian_taps`]).
    fn exact_taps(sigma: f32) -> Vec<f32> {
        exact_gaussian_taps(sigma)
            .iter()
            .map(|&t| t as f32)
            .collect()
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

        // The optimised recursive filter (64-column chunks and a narrower remainder in the vertical
        // pass; 16-row lane blocks recursed in pairs or alone, transposed by 16-column tiles or sample
        // by sample, in the horizontal pass) against the same filter written plainly in f64, on sizes
        // that cross all of those boundaries. The bound is the f32 rounding that
        // `cascade_matches_f64_direct_form` measures, for samples under 1.
        #[test]
        fn recursive_matches_f64_direct_form_on_any_size(img in planes(160), sigma in 2.0f32..16.0) {
            let fast = gaussian_blur_with(img.view(), sigma, GaussianMethod::Recursive);
            // The reference filters with the σ the blur uses: at most twice the larger side.
            let (h, w) = img.dim();
            let reference = direct_form_f64(&img, clamp_sigma(sigma, h, w));
            let err = fast.iter().zip(&reference).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
            prop_assert!(err < 1e-6, "σ {sigma}, {:?}: {err}", img.dim());
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

    /// The same third-order filter in the direct form `y = b·x + a1·y1 + a2·y2 + a3·y3`, in f64, along
    /// every column and then every row of a reflected, padded line: the reference for the f32 cascade.
    fn direct_form_f64(img: &Array2<f32>, sigma: f32) -> Array2<f32> {
        let [p0, p1, p2] = poles(sigma);
        let a = [
            p0.re + p1.re + p2.re,
            -(p0.mul(p1).re + p0.mul(p2).re + p1.mul(p2).re),
            p0.mul(p1).mul(p2).re,
        ];
        let b = 1.0 - (a[0] + a[1] + a[2]);
        let pad = padding(sigma) as isize;
        let filter_line = |line: Vec<f64>| -> Vec<f64> {
            let n = line.len() as isize;
            let mut y: Vec<f64> = (-pad..n + pad)
                .map(|i| line[reflect(i, n as usize)])
                .collect();
            for pass in 0..2 {
                let (mut y1, mut y2, mut y3) = (y[0], y[0], y[0]);
                for v in y.iter_mut() {
                    let next = b * *v + a[0] * y1 + a[1] * y2 + a[2] * y3;
                    (y3, y2, y1) = (y2, y1, next);
                    *v = next;
                }
                if pass == 0 {
                    y.reverse();
                }
            }
            y.reverse();
            y[pad as usize..(pad + n) as usize].to_vec()
        };
        let mut wide = img.mapv(f64::from);
        for mut column in wide.columns_mut() {
            let filtered = filter_line(column.to_vec());
            column.assign(&ndarray::Array1::from(filtered));
        }
        for mut row in wide.rows_mut() {
            let filtered = filter_line(row.to_vec());
            row.assign(&ndarray::Array1::from(filtered));
        }
        wide.mapv(|v| v as f32)
    }

    #[test]
    fn cascade_matches_f64_direct_form() {
        // A textured plane at a log-luminance-like level (−4) with a range of about 0.6: the f32
        // cascade's rounding against the same filter computed in f64. Measured: 2.4·10⁻⁷ (half an ulp
        // of 4) at σ = 4 and 8, 7.2·10⁻⁷ at σ = 16, 1.9·10⁻⁶ at σ = 40; the bounds allow four times that,
        // still under 2·10⁻⁵ of the range.
        let img = textured(211, 173, 3).mapv(|v| v - 4.0);
        for (sigma, bound) in [(4.0f32, 1e-6f32), (8.0, 1e-6), (16.0, 3e-6), (40.0, 8e-6)] {
            let fast = gaussian_blur_with(img.view(), sigma, GaussianMethod::Recursive);
            let reference = direct_form_f64(&img, sigma);
            let err = fast
                .iter()
                .zip(&reference)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(err < bound, "σ {sigma}: {err}");
        }
    }

    #[test]
    fn bitwise_identical_for_1_2_and_7_threads() {
        let img = textured(301, 259, 5);
        for sigma in [1.0f32, 6.0] {
            assert_thread_independent(|| gaussian_blur(img.view(), sigma));
            assert_thread_independent(|| {
                gaussian_blur_with(img.view(), sigma, GaussianMethod::Recursive)
            });
        }
        // Wide enough that the recursive vertical pass's strips differ between 1, 2 and 7 workers.
        let wide = textured(40, 1300, 6);
        assert_thread_independent(|| {
            gaussian_blur_with(wide.view(), 6.0, GaussianMethod::Recursive)
        });
    }

    #[test]
    fn preserves_constants_and_mean() {
        let flat = Array2::from_elem((40, 33), 0.7f32);
        let img = textured(64, 64, 7);
        let mean = |a: &Array2<f32>| a.iter().map(|&v| f64::from(v)).sum::<f64>() / a.len() as f64;
        for method in [
            GaussianMethod::Sampled,
            GaussianMethod::Recursive,
            GaussianMethod::Multirate,
        ] {
            let out = gaussian_blur_with(flat.view(), 5.0, method);
            assert!(out.iter().all(|v| (v - 0.7).abs() < 1e-5), "{method:?}");
            // Reflected borders keep the mass inside: the mean survives (to 0.1 % of it).
            let blurred = gaussian_blur_with(img.view(), 5.0, method);
            assert!(
                (mean(&blurred) - mean(&img)).abs() < 1e-3 * mean(&img),
                "{method:?}"
            );
        }
        // Absurd σ is clamped to twice the larger side (and the multirate filter, whose levels would
        // then outgrow the image, hands it to the recursive one).
        let huge = gaussian_blur(img.view(), 1e9);
        assert!(
            huge.iter()
                .all(|v| (f64::from(*v) - mean(&img)).abs() < 0.05)
        );
    }
}
