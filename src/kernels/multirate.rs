//! Gaussian blur for large σ by multirate filtering: down a pyramid, a small sampled Gaussian at the
//! coarse level, and back up — O(1) work per output pixel for σ up to about an eighth of the image's
//! sides, and closer to the exact Gaussian than the recursive filter.
//!
//! Exists because the recursive (Young–van Vliet) filter, though O(1) per pixel, reads and writes the
//! whole plane twice (a vertical pass, then a horizontal one), and at 12 MP on one thread that memory
//! traffic, not the arithmetic, set its time (about 43 ms at σ = 8, against OpenCV's 91 ms for the
//! sampled kernel: short of the 5× the kernel issue asks). Here the full-resolution plane is read once
//! (by the first reduction) and written once (by the last expansion); every level in between is at
//! most a quarter of its size. The idea is the Gaussian pyramid's (Burt & Adelson, "The Laplacian
//! pyramid as a compact image code", IEEE Trans. Commun. 31 (1983)), used as a filter rather than a code.
//!
//! **Per level, along each axis** (both axes alike; the operator is separable):
//! - *Reduce*: `c'[j] = (c[2j−1] + 3c[2j] + 3c[2j+1] + c[2j+2]) / 8`, the binomial [1 3 3 1]/8 centred
//!   between two samples. Its variance is 0.75 samples². A plain 2 × 2 mean was tried first (on paper,
//!   1-D): its response falls to zero at the Nyquist frequency only linearly, frequencies near it fold
//!   onto the slowly varying part, and the impulse error at σ = 8 was 3.8 % of the peak against 0.4 %
//!   with the binomial, whose response falls as the cube.
//! - *Expand*: linear interpolation at the finer samples, which sit a quarter of a coarse spacing either
//!   side of a coarse sample: `f[2m] = ¼c[m−1] + ¾c[m]`, `f[2m+1] = ¾c[m] + ¼c[m+1]` (the reduction's
//!   transpose). Variance 0.75 fine samples².
//!
//! With every sample of level l the centre of a `2^l`-pixel block (full-resolution position
//! `2^l·j + (2^l − 1)/2`), L levels contribute `Σ_{l<L} 4^l·1.5 = (4^L − 1)/2` px² of variance, and the
//! coarse level is blurred by a sampled Gaussian of `σ_c = √((σ² − (4^L − 1)/2) / 4^L)` coarse samples,
//! so the whole response has variance σ². L is the largest level count that leaves `σ_c ≥`
//! [`MIN_COARSE_SIGMA`]: σ_c then stays below 3.9 and the coarse kernel has at most 33 taps whatever σ.
//!
//! **Size**: each level also holds the reflected extension the blur reaches into, about 4σ
//! full-resolution pixels on every side. For σ small against the image that is a thin margin; for σ
//! near the image's size the levels would be many times the image, so [`multirate_blur`] declines
//! (`None`: [`super::gaussian_blur_with`] then runs the recursive filter) when level 1 would be
//! longer than the image itself along either axis (plus [`SPAN_SLACK`] samples, for tiny images).
//!
//! **Borders**: the levels are computed over the reflected extension of the image (full-resolution
//! indices through [`reflect`]), wide enough that no level ever needs a sample it does not have, so the
//! result approximates the exact Gaussian with reflected borders everywhere, edges included.
//!
//! **Accuracy** against the exact Gaussian, measured by `matches_exact_gaussian_impulse` below (the
//! largest error at any pixel of the 2-D impulse response, over every position of the impulse within a
//! block, relative to the exact response's peak): **0.87 % at σ = 4, 0.26 % at σ = 6, 0.64 % at σ = 8,
//! 0.54 % at σ = 16** (the error jumps where a level is added: σ_c falls back to about 1.9) — against
//! 2.4 % (σ = 4) and 2.1 % (σ ≥ 8) for the recursive filter. On textured images of any size, borders
//! included, the error is under 0.1 % of the image's range (`matches_exact_on_any_size`).
//!
//! **Speed** (`cargo bench --bench kernels -- gaussian/12mp`, the binary's allocator policy, 2-core
//! Intel Xeon VM): σ = 8 at 12 MP in 19.7 ms on one thread and 9.2 ms on two, against 43.1 and
//! 18.5 ms for the recursive filter in the same session; σ = 16 17.8 / 9.2 ms. On one thread the
//! time is that of reading the image once and writing the result once: a σ = 1 sampled blur, which
//! does the same, took 19.2 ms.

use ndarray::{Array2, ArrayView2};

use super::gaussian::gaussian_kernel;
use super::separable::convolve_slices;
use super::{plane_by_rows, reflect, row_major};

/// Smallest σ, in coarse samples, left for the coarse level's sampled Gaussian. Below about 1.5 the
/// coarse samples alias (the error at σ = 8 with three levels, σ_c = 0.71: 4 %); at 1.8 the error is
/// under 0.6 % of the peak in 1-D, and the coarse kernel still has at most 33 taps.
pub const MIN_COARSE_SIGMA: f32 = 1.8;

/// Largest σ [`plan`] accepts: the Gaussian module's own cap. Beyond it the level count would be
/// capped and σ_c, the coarse kernel and the spans unbounded.
pub const MAX_SIGMA: f32 = 250_000.0;

/// Samples a level-1 span may exceed its image axis by before [`multirate_blur`] declines: room for
/// the margins of small images blurred at moderate σ (a 1-pixel axis at σ = 8 needs 36 samples).
pub const SPAN_SLACK: usize = 64;

/// The level count and the coarse σ for a blur of `sigma` px, or `None` when even one level would
/// leave the coarse Gaussian below [`MIN_COARSE_SIGMA`] (σ below 3.803), or for σ beyond
/// [`MAX_SIGMA`].
#[must_use]
pub fn plan(sigma: f32) -> Option<(u32, f32)> {
    if !sigma.is_finite() || sigma > MAX_SIGMA {
        return None;
    }
    let variance = f64::from(sigma) * f64::from(sigma);
    (1..=30u32).rev().find_map(|levels| {
        let scale = 4f64.powi(levels as i32);
        let coarse = ((variance - 0.5 * (scale - 1.0)) / scale).max(0.0).sqrt();
        (coarse >= f64::from(MIN_COARSE_SIGMA)).then_some((levels, coarse as f32))
    })
}

/// The Gaussian blur of `src` with standard deviation `sigma` px by multirate filtering (see the
/// module docs), or `None` when σ is too small for one level or too large for the image (see
/// **Size** above).
///
/// # Examples
/// ```
/// use ndarray::Array2;
/// use skintex::kernels::multirate::multirate_blur;
/// let mut spot = Array2::<f32>::zeros((64, 64));
/// spot[[32, 32]] = 1.0;
/// let blurred = multirate_blur(spot.view(), 6.0).unwrap();
/// // The exact Gaussian's peak is 1 / (2π·36) = 0.00442; the multirate one is within 0.3 % of it.
/// assert!((blurred[[32, 32]] / 0.004_421 - 1.0).abs() < 0.005);
/// assert!(multirate_blur(spot.view(), 3.0).is_none());
/// ```
#[must_use]
pub fn multirate_blur(src: ArrayView2<'_, f32>, sigma: f32) -> Option<Array2<f32>> {
    let (h, w) = src.dim();
    let (levels, coarse_sigma) = plan(sigma)?;
    if h == 0 || w == 0 {
        return Some(src.to_owned());
    }
    let data = row_major(&src);
    let kernel = gaussian_kernel(coarse_sigma);
    let radius = kernel.radius() as isize;
    let ys = Spans::new(h, levels, radius);
    let xs = Spans::new(w, levels, radius);
    if ys.have[1].len() > h + SPAN_SLACK || xs.have[1].len() > w + SPAN_SLACK {
        return None;
    }

    // Down: level 1 from the image, then each level from the one before, over the spans `have`.
    let mut level = reduce_image(&data, w, h, ys.have[1], xs.have[1]);
    for l in 2..=levels as usize {
        level = reduce_level(&level, ys.have[l], xs.have[l]);
    }
    // The coarse blur. `convolve_slices` reflects at the edges of the extended span, which touches
    // only its outer `radius` samples: `need` lies inside those, and nothing else is read.
    let blurred = convolve_slices(&level.data, level.cols, level.rows, &kernel, &kernel);
    let mut level = Level {
        data: blurred,
        ..level
    };
    // Up: each level over the spans `need`, ending at the image itself.
    for l in (1..levels as usize).rev() {
        level = expand_level(&level, ys.need[l], xs.need[l]);
    }
    Some(plane_by_rows(h, w, |y, out| {
        expand_row(&level, y as isize, 0, out);
    }))
}

/// An inclusive range of sample indices along one axis of a level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    lo: isize,
    hi: isize,
}

impl Span {
    fn len(self) -> usize {
        (self.hi - self.lo + 1) as usize
    }
}

/// For one axis, the samples each level must hold. `need[l]`: those the expansion into level `l − 1`
/// reads (`need[0]` is the image). `have[l]`: those the reduction makes, which the coarse blur and the
/// next reduction read. Index 0 of `have` is unused (the image is read through [`reflect`]).
struct Spans {
    need: Vec<Span>,
    have: Vec<Span>,
}

impl Spans {
    fn new(n: usize, levels: u32, radius: isize) -> Self {
        let levels = levels as usize;
        let mut need = vec![Span {
            lo: 0,
            hi: n as isize - 1,
        }];
        for l in 0..levels {
            // f[2m] reads c[m − 1] and c[m]; f[2m + 1] reads c[m] and c[m + 1].
            let finer = need[l];
            need.push(Span {
                lo: finer.lo.div_euclid(2) - 1,
                hi: finer.hi.div_euclid(2) + 1,
            });
        }
        let mut have = vec![Span { lo: 0, hi: 0 }; levels + 1];
        have[levels] = Span {
            lo: need[levels].lo - radius,
            hi: need[levels].hi + radius,
        };
        for l in (1..levels).rev() {
            // c'[j] reads c[2j − 1] … c[2j + 2]. (Level l's own expansion reads the expanded level,
            // made from level l + 1, not these samples.)
            let coarser = have[l + 1];
            have[l] = Span {
                lo: 2 * coarser.lo - 1,
                hi: 2 * coarser.hi + 2,
            };
        }
        Self { need, have }
    }
}

/// One level's samples over a span of rows and columns, row-major.
struct Level {
    data: Vec<f32>,
    rows: usize,
    cols: usize,
    row0: isize,
    col0: isize,
}

impl Level {
    fn from_plane(plane: Array2<f32>, ys: Span, xs: Span) -> Self {
        Self {
            data: plane.into_raw_vec_and_offset().0,
            rows: ys.len(),
            cols: xs.len(),
            row0: ys.lo,
            col0: xs.lo,
        }
    }

    /// Row `y` (a level index, within the span).
    fn row(&self, y: isize) -> &[f32] {
        let i = (y - self.row0) as usize;
        &self.data[i * self.cols..(i + 1) * self.cols]
    }
}

/// `(a + d) + 3(b + c)`, the binomial reduction's weights before the 1/8.
#[inline(always)]
fn binomial(a: f32, b: f32, c: f32, d: f32) -> f32 {
    (a + d) + 3.0 * (b + c)
}

/// Level 1 from the image over the spans `ys` × `xs` (image indices reflected).
fn reduce_image(src: &[f32], w: usize, h: usize, ys: Span, xs: Span) -> Level {
    let src_row = |y: isize| {
        let r = reflect(y, h);
        &src[r * w..(r + 1) * w]
    };
    // The vertically combined line over the image columns the reduction reads, 2·xs.lo − 1 …
    // 2·xs.hi + 2: the image's own columns at offset `left`, reflected ones either side.
    let first = 2 * xs.lo - 1;
    let len = 2 * xs.len() + 2;
    let left = (-first) as usize;
    let plane = plane_by_rows(ys.len(), xs.len(), |i, out| {
        let j = ys.lo + i as isize;
        let rows = [
            src_row(2 * j - 1),
            src_row(2 * j),
            src_row(2 * j + 1),
            src_row(2 * j + 2),
        ];
        with_line(len, |line| {
            combine_rows(rows, &mut line[left..left + w]);
            for k in (0..left).chain(left + w..len) {
                line[k] = line[left + reflect(k as isize - left as isize, w)];
            }
            reduce_line(line, out);
        });
    });
    Level::from_plane(plane, ys, xs)
}

/// Level `l + 1` from level `l` over the spans `ys` × `xs`.
fn reduce_level(fine: &Level, ys: Span, xs: Span) -> Level {
    // Level l's span is exactly what this reduction reads (see `Spans`): its columns 2·xs.lo − 1 …
    // 2·xs.hi + 2 are the whole row.
    debug_assert!(fine.col0 == 2 * xs.lo - 1 && fine.cols == 2 * xs.len() + 2);
    let len = fine.cols;
    let plane = plane_by_rows(ys.len(), xs.len(), |i, out| {
        let j = ys.lo + i as isize;
        let rows = [
            fine.row(2 * j - 1),
            fine.row(2 * j),
            fine.row(2 * j + 1),
            fine.row(2 * j + 2),
        ];
        with_line(len, |line| {
            combine_rows(rows, line);
            reduce_line(line, out);
        });
    });
    Level::from_plane(plane, ys, xs)
}

thread_local! {
    /// Each worker's line buffer for the vertical half of a reduction or an expansion, kept from row
    /// to row. Allocated per row, the buffers went through glibc's one arena (the binary's allocator
    /// policy, `keep_freed_memory` in `main.rs`), and two threads took turns at its lock: at 12 MP,
    /// σ = 8, two threads were only 1.4× as fast as one. Not `buffer`'s per-worker scratch: the
    /// rows are made inside `plane_by_rows`, which holds that scratch for the band meanwhile.
    static LINE: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` on this worker's line buffer, `len` long. Every caller writes the whole line before it
/// reads any of it, so nothing a previous row left reaches a result.
fn with_line<T>(len: usize, f: impl FnOnce(&mut [f32]) -> T) -> T {
    LINE.with(|cell| match cell.try_borrow_mut() {
        Ok(mut line) => {
            line.resize(len, 0.0);
            f(&mut line[..len])
        }
        // Not reached today (nothing inside `f` yields to rayon); should a caller ever nest, a
        // fresh buffer rather than a panic.
        Err(_) => f(&mut vec![0.0; len]),
    })
}

/// `out[x] = binomial(rows[0..4][x]) / 8`, the vertical half of a reduction.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "x86_64+sse4.1"
))]
fn combine_rows(rows: [&[f32]; 4], out: &mut [f32]) {
    let n = out.len();
    let [a, b, c, d] = rows.map(|r| &r[..n]);
    for x in 0..n {
        out[x] = binomial(a[x], b[x], c[x], d[x]) * 0.125;
    }
}

/// The horizontal half of a reduction: `out[i] = binomial(line[2i … 2i + 3]) / 8`.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "x86_64+sse4.1"
))]
fn reduce_line(line: &[f32], out: &mut [f32]) {
    let n = out.len();
    let line = &line[..2 * n + 2];
    for i in 0..n {
        out[i] = binomial(
            line[2 * i],
            line[2 * i + 1],
            line[2 * i + 2],
            line[2 * i + 3],
        ) * 0.125;
    }
}

/// Level `l` from level `l + 1` over the spans `ys` × `xs`.
fn expand_level(coarse: &Level, ys: Span, xs: Span) -> Level {
    let plane = plane_by_rows(ys.len(), xs.len(), |i, out| {
        expand_row(coarse, ys.lo + i as isize, xs.lo, out);
    });
    Level::from_plane(plane, ys, xs)
}

/// Row `y` of the finer level, columns `first …`, by linear interpolation of `coarse`.
fn expand_row(coarse: &Level, y: isize, first: isize, out: &mut [f32]) {
    let m = y.div_euclid(2);
    let (near, far) = if y.rem_euclid(2) == 0 {
        (coarse.row(m), coarse.row(m - 1))
    } else {
        (coarse.row(m), coarse.row(m + 1))
    };
    with_line(coarse.cols, |line| {
        expand_columns(coarse, line, near, far, first, out)
    });
}

/// The horizontal half of [`expand_row`], `line` holding the vertical half.
fn expand_columns(
    coarse: &Level,
    line: &mut [f32],
    near: &[f32],
    far: &[f32],
    first: isize,
    out: &mut [f32],
) {
    interpolate(near, far, line);
    // Fine column x = 2m or 2m + 1 reads coarse columns m − 1 … m + 1; `line` starts at `col0`.
    let at = |x: isize| {
        let m = x.div_euclid(2);
        let other = if x.rem_euclid(2) == 0 { m - 1 } else { m + 1 };
        let index = |c: isize| (c - coarse.col0) as usize;
        0.75 * line[index(m)] + 0.25 * line[index(other)]
    };
    // An odd first column alone, then pairs (2m, 2m + 1) from one window of three coarse samples.
    let (head, pairs) = if first.rem_euclid(2) == 1 {
        out[0] = at(first);
        (1usize, &mut out[1..])
    } else {
        (0usize, &mut out[..])
    };
    let m0 = ((first + head as isize).div_euclid(2) - 1 - coarse.col0) as usize;
    let tail = pairs.len() % 2;
    let whole = pairs.len() - tail;
    expand_pairs(&line[m0..], &mut pairs[..whole]);
    if tail == 1 {
        let last = first + (head + whole) as isize;
        pairs[whole] = at(last);
    }
}

/// `out[2k] = ¼·c[k] + ¾·c[k + 1]`, `out[2k + 1] = ¾·c[k + 1] + ¼·c[k + 2]`: the horizontal half of
/// an expansion, `c` starting one coarse sample before the first pair's.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "x86_64+sse4.1"
))]
fn expand_pairs(c: &[f32], out: &mut [f32]) {
    let n = out.len() / 2;
    let c = &c[..n + 2];
    for k in 0..n {
        out[2 * k] = 0.75 * c[k + 1] + 0.25 * c[k];
        out[2 * k + 1] = 0.75 * c[k + 1] + 0.25 * c[k + 2];
    }
}

/// `out[x] = ¾·near[x] + ¼·far[x]`, the vertical half of an expansion.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "x86_64+sse4.1"
))]
fn interpolate(near: &[f32], far: &[f32], out: &mut [f32]) {
    let n = out.len();
    let (near, far) = (&near[..n], &far[..n]);
    for x in 0..n {
        out[x] = 0.75 * near[x] + 0.25 * far[x];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::separable::naive_separable;
    use crate::kernels::testutil::{
        assert_thread_independent, exact_gaussian_taps as exact_taps, planes, textured,
    };
    use proptest::prelude::*;

    #[test]
    fn plan_matches_the_variance_and_keeps_the_coarse_kernel_small() {
        assert_eq!(plan(3.7), None, "too small for one level");
        assert_eq!(plan(f32::NAN), None);
        for sigma in [3.9f32, 4.0, 6.0, 8.0, 16.0, 100.0, 8000.0] {
            let (levels, coarse) = plan(sigma).expect("a plan");
            let scale = 4f64.powi(levels as i32);
            let variance = 0.5 * (scale - 1.0) + scale * f64::from(coarse).powi(2);
            assert!(
                (variance / f64::from(sigma).powi(2) - 1.0).abs() < 1e-5,
                "σ {sigma}"
            );
            assert!(
                (MIN_COARSE_SIGMA..4.0).contains(&coarse),
                "σ {sigma}: σ_c {coarse}"
            );
        }
        assert_eq!(plan(8.0).map(|p| p.0), Some(2));
        assert_eq!(plan(16.0).map(|p| p.0), Some(3));
    }

    /// The largest error of the 2-D impulse response against the exact Gaussian, relative to its peak,
    /// over every position of the impulse within a `2^L`-pixel block (the operator is not shift
    /// invariant below that period).
    fn impulse_error(sigma: f32) -> f64 {
        let (levels, _) = plan(sigma).expect("a plan");
        let period = 1usize << levels;
        let exact = exact_taps(sigma);
        let r = exact.len() / 2;
        let n = 2 * r + 2 * period + 1;
        let peak = exact[r] * exact[r];
        let mut worst = 0f64;
        for py in 0..period {
            for px in 0..period {
                let (y0, x0) = (r + py, r + px);
                let mut img = Array2::<f32>::zeros((n, n));
                img[[y0, x0]] = 1.0;
                let fast = multirate_blur(img.view(), sigma).expect("a plan");
                for ((y, x), &v) in fast.indexed_iter() {
                    let tap = |i: usize, c: usize| {
                        let d = i as isize - c as isize + r as isize;
                        if (0..exact.len() as isize).contains(&d) {
                            exact[d as usize]
                        } else {
                            0.0
                        }
                    };
                    let e = tap(y, y0) * tap(x, x0);
                    worst = worst.max((f64::from(v) - e).abs() / peak);
                }
            }
        }
        worst
    }

    #[test]
    fn matches_exact_gaussian_impulse() {
        // Bounds: the measured errors (0.874, 0.259, 0.642, 0.540 %) plus about a tenth.
        for (sigma, bound) in [
            (4.0f32, 0.0096),
            (6.0, 0.0029),
            (8.0, 0.0071),
            (16.0, 0.006),
        ] {
            let err = impulse_error(sigma);
            assert!(err <= bound, "σ {sigma}: {:.3} % of the peak", 100.0 * err);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        // Any size (1 × 1, 1 × N, N × 1 …), borders included, against the exact Gaussian with the same
        // reflected borders: under 0.1 % of the range of a textured image.
        #[test]
        fn matches_exact_on_any_size(img in planes(48), sigma in 3.81f32..12.0) {
            let fast = multirate_blur(img.view(), sigma).expect("a plan");
            let exact: Vec<f32> = exact_taps(sigma).iter().map(|&t| t as f32).collect();
            let slow = naive_separable(&img, &exact, &exact);
            let range = img.iter().fold(f32::MIN, |m, v| m.max(*v)) - img.iter().fold(f32::MAX, |m, v| m.min(*v));
            let err = fast.iter().zip(&slow).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
            prop_assert!(err <= 1e-3 * range.max(1e-2), "σ {sigma}, {:?}: {err} of range {range}", img.dim());
        }
    }

    #[test]
    fn bitwise_identical_for_1_2_and_7_threads() {
        let img = textured(301, 259, 5);
        for sigma in [4.0f32, 9.0, 33.0] {
            assert_thread_independent(|| multirate_blur(img.view(), sigma));
        }
    }

    #[test]
    fn preserves_constants_and_the_mean_and_handles_extremes() {
        let flat = Array2::from_elem((40, 33), 0.7f32);
        let out = multirate_blur(flat.view(), 5.0).expect("a plan");
        assert!(out.iter().all(|v| (v - 0.7).abs() < 1e-6));
        let img = textured(64, 64, 7);
        let mean = |a: &Array2<f32>| a.iter().map(|&v| f64::from(v)).sum::<f64>() / a.len() as f64;
        let blurred = multirate_blur(img.view(), 5.0).expect("a plan");
        assert!((mean(&blurred) - mean(&img)).abs() < 1e-3 * mean(&img));
        // σ near the image's size: level 1 would be larger than the image, so the filter declines;
        // at an eighth of it, every level still has the samples it reads.
        assert_eq!(multirate_blur(img.view(), 128.0), None);
        assert_eq!(multirate_blur(img.view(), 1e30), None);
        let wide = multirate_blur(img.view(), 8.0).expect("a plan");
        assert!((mean(&wide) - mean(&img)).abs() < 1e-3 * mean(&img));
        assert_eq!(
            multirate_blur(Array2::<f32>::zeros((0, 7)).view(), 8.0).map(|a| a.dim()),
            Some((0, 7))
        );
        let one = Array2::from_elem((1, 1), 0.25f32);
        let out = multirate_blur(one.view(), 8.0).expect("a plan");
        assert_eq!(out.dim(), (1, 1));
        assert!((out[[0, 0]] - 0.25).abs() < 1e-6);
    }
}
