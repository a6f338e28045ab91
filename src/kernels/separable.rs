//! Separable convolution with arbitrary 1-D kernels: the engine under Gaussian blur, derivatives,
//! LoG and DoG.
//!
//! Exists because no crate we can use is fast enough at 12 MP (imageproc's `separable_filter` is
//! single-threaded and allocates per pass). Each band of output rows is made in one sweep: for every
//! output row, the vertical kernel combines `2r + 1` source rows into a row buffer (those rows stay in
//! cache from one output row to the next), the buffer is padded by reflection, and the horizontal
//! kernel writes the output row (for symmetric vertical kernels up to radius 8, two output rows per
//! vertical sweep: see `folded_rows`). Source and output are each touched once from memory.
//! Symmetric and antisymmetric kernels are folded (`k·(a + b)` / `k·(b − a)`), halving the
//! multiplications.

use ndarray::{Array2, ArrayView2};

use super::{ROW_BAND, plane, reflect, row_major};

/// Why a kernel was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KernelError {
    /// Kernels are centred: they need an odd number of taps.
    #[error("a 1-D kernel needs an odd, non-zero number of taps, not {taps}")]
    EvenLength {
        /// The number of taps given.
        taps: usize,
    },
    /// NaN or infinite taps would poison every output pixel.
    #[error("kernel tap {index} is not finite")]
    NotFinite {
        /// The offending tap.
        index: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Symmetry {
    Symmetric,
    Antisymmetric,
    General,
}

/// A centred 1-D kernel of odd length `2r + 1`; tap `r` is the centre.
#[derive(Debug, Clone, PartialEq)]
pub struct Kernel1d {
    taps: Vec<f32>,
    symmetry: Symmetry,
}

impl Kernel1d {
    /// A kernel from its taps.
    ///
    /// # Errors
    /// [`KernelError`] for an even length or a non-finite tap.
    pub fn new(taps: Vec<f32>) -> Result<Self, KernelError> {
        if taps.len().is_multiple_of(2) {
            return Err(KernelError::EvenLength { taps: taps.len() });
        }
        if let Some(index) = taps.iter().position(|t| !t.is_finite()) {
            return Err(KernelError::NotFinite { index });
        }
        let n = taps.len();
        let symmetry = if (0..n).all(|i| taps[i] == taps[n - 1 - i]) {
            Symmetry::Symmetric
        } else if (0..n).all(|i| taps[i] == -taps[n - 1 - i]) {
            Symmetry::Antisymmetric
        } else {
            Symmetry::General
        };
        Ok(Self { taps, symmetry })
    }

    /// The identity kernel `[1]`.
    #[must_use]
    pub fn identity() -> Self {
        Self {
            taps: vec![1.0],
            symmetry: Symmetry::Symmetric,
        }
    }

    /// Half-width `r`.
    #[must_use]
    pub fn radius(&self) -> usize {
        self.taps.len() / 2
    }

    /// The taps.
    #[must_use]
    pub fn taps(&self) -> &[f32] {
        &self.taps
    }
}

/// Correlates `src` with `horizontal` along rows and `vertical` along columns, reflecting borders.
///
/// # Examples
/// ```
/// use ndarray::array;
/// use skintex::kernels::{Kernel1d, convolve_separable};
/// let img = array![[0.0f32, 0.0, 3.0, 0.0, 0.0]];
/// let box3 = Kernel1d::new(vec![1.0 / 3.0; 3]).unwrap();
/// let out = convolve_separable(img.view(), &box3, &Kernel1d::identity());
/// assert!((out[[0, 1]] - 1.0).abs() < 1e-6 && (out[[0, 2]] - 1.0).abs() < 1e-6);
/// ```
#[must_use]
pub fn convolve_separable(
    src: ArrayView2<'_, f32>,
    horizontal: &Kernel1d,
    vertical: &Kernel1d,
) -> Array2<f32> {
    let (h, w) = src.dim();
    if h == 0 || w == 0 {
        return plane(h, w, Vec::new());
    }
    let data = row_major(&src);
    plane(h, w, convolve_slices(&data, w, h, horizontal, vertical))
}

/// Slice form of [`convolve_separable`] for kernels built on top of it: the row-major result.
pub(crate) fn convolve_slices(
    src: &[f32],
    w: usize,
    h: usize,
    kh: &Kernel1d,
    kv: &Kernel1d,
) -> Vec<f32> {
    let rh = kh.radius();
    super::buffer::banded(h * w, ROW_BAND * w, |band, out: &mut [f32]| {
        // The vertical pass writes straight into the middle of the padded row the horizontal pass
        // reads (a separate row and a copy cost 0.4 ms of σ = 1's 11 ms at 12 MP).
        let mut padded: [Vec<f32>; ROWS_AT_ONCE] = std::array::from_fn(|_| vec![0f32; w + 2 * rh]);
        let folded = several_row_taps(kv);
        for (g, group) in out.chunks_mut(ROWS_AT_ONCE * w).enumerate() {
            let y = band * ROW_BAND + g * ROWS_AT_ONCE;
            // Several output rows per vertical pass where the kernel allows (see `folded_rows`).
            match folded {
                Some(taps) if group.len() == ROWS_AT_ONCE * w => {
                    vertical_rows(src, (w, h), y, taps, &mut padded, rh);
                    for (padded, out_row) in padded.iter_mut().zip(group.chunks_exact_mut(w)) {
                        reflect_margins(padded, rh);
                        horizontal_pass(padded, kh, out_row);
                    }
                }
                _ => {
                    let padded = &mut padded[0];
                    for (k, out_row) in group.chunks_exact_mut(w).enumerate() {
                        vertical_pass(src, w, h, y + k, kv, &mut padded[rh..rh + w]);
                        reflect_margins(padded, rh);
                        horizontal_pass(padded, kh, out_row);
                    }
                }
            }
        }
    })
}

/// The taps of a vertical kernel [`folded_rows`] can run: symmetric, radius 1 to 8.
fn several_row_taps(k: &Kernel1d) -> Option<&[f32]> {
    let r = k.radius();
    (k.symmetry == Symmetry::Symmetric && (1..=8).contains(&r)).then_some(&k.taps[..])
}

/// Output rows per vertical pass in [`folded_rows`].
const ROWS_AT_ONCE: usize = 2;

/// The vertical pass of output rows `y .. y + ROWS_AT_ONCE` at once, into the middles of `padded`'s
/// rows (each `w + 2·margin` long).
fn vertical_rows(
    src: &[f32],
    (w, h): (usize, usize),
    y: usize,
    taps: &[f32],
    padded: &mut [Vec<f32>; ROWS_AT_ONCE],
    margin: usize,
) {
    let r = taps.len() / 2;
    let n = 2 * r + ROWS_AT_ONCE;
    let mut rows: [&[f32]; 2 * MAX_FOLDED_RADIUS + ROWS_AT_ONCE] =
        [&[]; 2 * MAX_FOLDED_RADIUS + ROWS_AT_ONCE];
    for (j, slot) in rows.iter_mut().enumerate().take(n) {
        *slot = source_row(src, w, h, (y + j) as isize - r as isize);
    }
    let rows = &rows[..n];
    let mut dst = padded.each_mut().map(|p| &mut p[margin..margin + w]);
    match r {
        1 => folded_rows::<1>(rows, taps, &mut dst),
        2 => folded_rows::<2>(rows, taps, &mut dst),
        3 => folded_rows::<3>(rows, taps, &mut dst),
        4 => folded_rows::<4>(rows, taps, &mut dst),
        5 => folded_rows::<5>(rows, taps, &mut dst),
        6 => folded_rows::<6>(rows, taps, &mut dst),
        7 => folded_rows::<7>(rows, taps, &mut dst),
        _ => folded_rows::<8>(rows, taps, &mut dst),
    }
}

/// [`folded_taps`] for `ROWS_AT_ONCE` output rows at once: row `n` from the sequences
/// `s[n .. n + 2R + 1]`, with the same arithmetic in the same order as [`folded_taps`], so the same
/// values. Neighbouring output rows share all but one of their source rows, so each block loads
/// `2R + ROWS_AT_ONCE` rows for `ROWS_AT_ONCE` outputs instead of `2R + 1` for one: the source rows
/// come from L2, and those loads were what held the vertical pass back. Measured at 12 MP on a 2-core
/// Intel Xeon VM (harness medians, three alternating rounds), one thread: σ = 1 17.4–18.0 → 16.6–16.8
/// ms, σ = 2 26.0–27.5 → 24.9–25.4 ms; two threads: σ = 1 8.5–8.9 → 8.0–8.3, σ = 2 13.4–13.7 →
/// 12.0–12.3 ms. Four rows at once measured slower than two (σ = 1 one thread 18.3–19.2 ms against
/// 17.0–17.1): the accumulators no longer fit the registers.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "x86_64+sse4.1"
))]
fn folded_rows<const R: usize>(rows: &[&[f32]], t: &[f32], dst: &mut [&mut [f32]; ROWS_AT_ONCE]) {
    let w = dst[0].len();
    if w < BLOCK {
        for (n, d) in dst.iter_mut().enumerate() {
            folded_taps::<R>(&rows[n..n + 2 * R + 1], t, d);
        }
        return;
    }
    for x0 in block_starts(w) {
        let mut acc = [[0f32; BLOCK]; ROWS_AT_ONCE];
        for (n, acc) in acc.iter_mut().enumerate() {
            let c = &rows[n + R][x0..x0 + BLOCK];
            for i in 0..BLOCK {
                acc[i] = t[R] * c[i];
            }
        }
        for j in 1..=R {
            let kj = t[R + j];
            for (n, acc) in acc.iter_mut().enumerate() {
                let (a, b) = (
                    &rows[n + R - j][x0..x0 + BLOCK],
                    &rows[n + R + j][x0..x0 + BLOCK],
                );
                for i in 0..BLOCK {
                    acc[i] += kj * (a[i] + b[i]);
                }
            }
        }
        for (d, acc) in dst.iter_mut().zip(&acc) {
            d[x0..x0 + BLOCK].copy_from_slice(acc);
        }
    }
}

/// `dst[x] = Σ_j k[j] · src[y + j − r][x]`.
fn vertical_pass(src: &[f32], w: usize, h: usize, y: usize, k: &Kernel1d, dst: &mut [f32]) {
    let r = k.radius();
    if k.symmetry == Symmetry::Symmetric && r <= MAX_FOLDED_RADIUS {
        // At most 33 rows here: a stack array, not an allocation per output row.
        let mut rows: [&[f32]; 2 * MAX_FOLDED_RADIUS + 1] = [&[]; 2 * MAX_FOLDED_RADIUS + 1];
        for (j, slot) in rows.iter_mut().enumerate().take(2 * r + 1) {
            *slot = source_row(src, w, h, (y + j) as isize - r as isize);
        }
        let rows = &rows[..2 * r + 1];
        folded(rows, &k.taps, dst);
        return;
    }
    vertical_general(src, w, h, y, k, dst);
}

/// Largest radius of the folded vertical pass (σ = 4 sampled has r = 16).
const MAX_FOLDED_RADIUS: usize = 16;

/// `dst[x] = t_r · s_r[x] + Σ_j t_{r+j} · (s_{r−j}[x] + s_{r+j}[x])` over the `2r + 1` sequences `s`
/// (`r ≤ MAX_FOLDED_RADIUS`): source rows for the vertical pass, the padded row shifted by 0 … 2r for
/// the horizontal one. A radius known at compile time unrolls the tap loop and keeps the sequence
/// pointers in registers: σ = 1 (r = 4) and σ = 2 (r = 8) are the common cases. With the overlapping
/// last block (`block_starts`), σ = 1 on a 1000 × 750 crop that fits the cache went from 0.66 to 0.38 ms.
fn folded(s: &[&[f32]], taps: &[f32], dst: &mut [f32]) {
    match taps.len() / 2 {
        1 => folded_taps::<1>(s, taps, dst),
        2 => folded_taps::<2>(s, taps, dst),
        3 => folded_taps::<3>(s, taps, dst),
        4 => folded_taps::<4>(s, taps, dst),
        5 => folded_taps::<5>(s, taps, dst),
        6 => folded_taps::<6>(s, taps, dst),
        7 => folded_taps::<7>(s, taps, dst),
        8 => folded_taps::<8>(s, taps, dst),
        _ => folded_taps::<0>(s, taps, dst),
    }
}

/// Starts of the `BLOCK`-wide column blocks covering `0..w`: the last one ends at `w` and may overlap
/// its neighbour, which then recomputes a few columns with the same arithmetic (so the same values).
/// Only rows narrower than a block are left to a scalar loop. A scalar tail after the last full block,
/// with its bounds checks per tap, took about 30 % of the vertical pass's perf samples on a 1000-column
/// crop (a 40-column tail).
fn block_starts(w: usize) -> impl Iterator<Item = usize> {
    let full = w / BLOCK;
    let last = (!w.is_multiple_of(BLOCK) && full > 0).then(|| w - BLOCK);
    (0..full).map(|b| b * BLOCK).chain(last)
}

/// [`folded`] for radius `R`, or for the taps' own radius when `R` is 0.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "x86_64+sse4.1"
))]
fn folded_taps<const R: usize>(rows: &[&[f32]], t: &[f32], dst: &mut [f32]) {
    let r = if R == 0 { t.len() / 2 } else { R };
    let w = dst.len();
    for x0 in block_starts(w) {
        let mut acc = [0f32; BLOCK];
        let centre = &rows[r][x0..x0 + BLOCK];
        for i in 0..BLOCK {
            acc[i] = t[r] * centre[i];
        }
        for j in 1..=r {
            let (a, b) = (&rows[r - j][x0..x0 + BLOCK], &rows[r + j][x0..x0 + BLOCK]);
            let kj = t[r + j];
            for i in 0..BLOCK {
                acc[i] += kj * (a[i] + b[i]);
            }
        }
        dst[x0..x0 + BLOCK].copy_from_slice(&acc);
    }
    if w < BLOCK {
        for x in 0..w {
            let mut v = t[r] * rows[r][x];
            for j in 1..=r {
                v += t[r + j] * (rows[r - j][x] + rows[r + j][x]);
            }
            dst[x] = v;
        }
    }
}

fn source_row(src: &[f32], w: usize, h: usize, y: isize) -> &[f32] {
    let r = reflect(y, h);
    &src[r * w..(r + 1) * w]
}

/// Columns per register block: the accumulators are summed over every tap before being stored. 64
/// columns are four AVX-512 (eight AVX2) vectors of independent sums; with one vector per block (16)
/// the tap sum was a serial chain of dependent additions. Measured at 12 MP on one thread: σ = 1 went
/// from 18.4 to 12.8 ms (16 → 64 columns); 128 was no faster.
const BLOCK: usize = 64;

/// `dst[x] = Σ_j k[j] · src[y + j − r][x]`, any kernel, one output row.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "x86_64+sse4.1"
))]
fn vertical_general(src: &[f32], w: usize, h: usize, y: usize, k: &Kernel1d, dst: &mut [f32]) {
    let r = k.radius();
    let t = &k.taps;
    let y = y as isize;
    let centre = source_row(src, w, h, y);
    let kc = t[r];
    for (d, &c) in dst.iter_mut().zip(centre) {
        *d = kc * c;
    }
    for j in 1..=r {
        let above = source_row(src, w, h, y - j as isize);
        let below = source_row(src, w, h, y + j as isize);
        let (ka, kb) = (t[r - j], t[r + j]);
        match k.symmetry {
            Symmetry::Symmetric => {
                for ((d, &a), &b) in dst.iter_mut().zip(above).zip(below) {
                    *d += kb * (a + b);
                }
            }
            Symmetry::Antisymmetric => {
                for ((d, &a), &b) in dst.iter_mut().zip(above).zip(below) {
                    *d += kb * (b - a);
                }
            }
            Symmetry::General => {
                for ((d, &a), &b) in dst.iter_mut().zip(above).zip(below) {
                    *d += ka * a + kb * b;
                }
            }
        }
    }
}

/// Fills the `r` samples on each side of `padded`'s middle `padded.len() − 2r` by reflection.
fn reflect_margins(padded: &mut [f32], r: usize) {
    let w = padded.len() - 2 * r;
    for i in 0..r {
        padded[r - 1 - i] = padded[r + reflect(-1 - i as isize, w)];
        padded[r + w + i] = padded[r + reflect((w + i) as isize, w)];
    }
}

/// `out[x] = Σ_i k[i] · padded[x + i]`.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "x86_64+sse4.1"
))]
fn horizontal_pass(padded: &[f32], k: &Kernel1d, out: &mut [f32]) {
    let r = k.radius();
    let t = &k.taps;
    let w = out.len();
    if k.symmetry == Symmetry::Symmetric && r <= MAX_FOLDED_RADIUS {
        // The padded row shifted by 0 … 2r: then the vertical pass's arithmetic applies as it is.
        let mut shifted: [&[f32]; 2 * MAX_FOLDED_RADIUS + 1] = [&[]; 2 * MAX_FOLDED_RADIUS + 1];
        for (j, slot) in shifted.iter_mut().enumerate().take(2 * r + 1) {
            *slot = &padded[j..j + w];
        }
        folded(&shifted[..2 * r + 1], t, out);
        return;
    }
    let kc = t[r];
    for (o, &c) in out.iter_mut().zip(&padded[r..r + w]) {
        *o = kc * c;
    }
    for j in 1..=r {
        let left = &padded[r - j..r - j + w];
        let right = &padded[r + j..r + j + w];
        let (kl, kr) = (t[r - j], t[r + j]);
        match k.symmetry {
            Symmetry::Symmetric => {
                for ((o, &a), &b) in out.iter_mut().zip(left).zip(right) {
                    *o += kr * (a + b);
                }
            }
            Symmetry::Antisymmetric => {
                for ((o, &a), &b) in out.iter_mut().zip(left).zip(right) {
                    *o += kr * (b - a);
                }
            }
            Symmetry::General => {
                for ((o, &a), &b) in out.iter_mut().zip(left).zip(right) {
                    *o += kl * a + kr * b;
                }
            }
        }
    }
}

/// The naive reference: every output pixel summed directly over the 2-D outer-product kernel, in
/// `f64`. Used by the tests of every kernel built on separable convolution.
#[cfg(test)]
pub(crate) fn naive_separable(src: &Array2<f32>, kh: &[f32], kv: &[f32]) -> Array2<f32> {
    let (h, w) = src.dim();
    let (rh, rv) = ((kh.len() / 2) as isize, (kv.len() / 2) as isize);
    Array2::from_shape_fn((h, w), |(y, x)| {
        let mut sum = 0f64;
        for (j, &kvj) in kv.iter().enumerate() {
            let sy = reflect(y as isize + j as isize - rv, h);
            for (i, &khi) in kh.iter().enumerate() {
                let sx = reflect(x as isize + i as isize - rh, w);
                sum += f64::from(kvj) * f64::from(khi) * f64::from(src[[sy, sx]]);
            }
        }
        sum as f32
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::testutil::{assert_thread_independent, planes, textured};
    use proptest::prelude::*;

    /// Largest |a − b| relative to the largest |b| (at least 1).
    fn max_rel_diff(a: &Array2<f32>, b: &Array2<f32>) -> f32 {
        let scale = b.iter().fold(1f32, |m, v| m.max(v.abs()));
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max)
            / scale
    }

    fn kernel_strategy() -> impl Strategy<Value = Vec<f32>> {
        (0usize..6).prop_flat_map(|r| prop::collection::vec(-1.0f32..1.0, 2 * r + 1))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        // Tolerance: the optimised path sums in f32 in a different order from the f64 reference;
        // with ≤ 11 × 11 taps of magnitude ≤ 1 on values ≤ 0.6, the rounding error is a few ulps of
        // the largest partial sum, far below 1e-5 of the output scale.
        #[test]
        fn matches_naive_reference(img in planes(40), kh in kernel_strategy(), kv in kernel_strategy()) {
            let fast = convolve_separable(img.view(), &Kernel1d::new(kh.clone()).unwrap(), &Kernel1d::new(kv.clone()).unwrap());
            let slow = naive_separable(&img, &kh, &kv);
            prop_assert!(max_rel_diff(&fast, &slow) < 1e-5);
        }

        #[test]
        fn folded_symmetric_and_antisymmetric_paths_match_reference(img in planes(30), r in 1usize..6) {
            let sym: Vec<f32> = (0..=2 * r).map(|i| 1.0 / (1.0 + (i as f32 - r as f32).abs())).collect();
            let anti: Vec<f32> = (0..=2 * r).map(|i| (i as f32 - r as f32) * 0.1).collect();
            let fast = convolve_separable(img.view(), &Kernel1d::new(anti.clone()).unwrap(), &Kernel1d::new(sym.clone()).unwrap());
            prop_assert!(max_rel_diff(&fast, &naive_separable(&img, &anti, &sym)) < 1e-5);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        // Exact: the several-row vertical pass does the one-row pass's arithmetic in the same order,
        // so every row must come out bit for bit the same, on rows narrower and wider than a block.
        #[test]
        fn several_row_vertical_pass_equals_one_row_pass(
            img in planes(150), r in 1usize..=8, y_frac in 0.0f64..1.0,
        ) {
            let (h, w) = img.dim();
            let taps: Vec<f32> = (0..=2 * r).map(|i| 1.0 / (1.5 + (i as f32 - r as f32).powi(2))).collect();
            let k = Kernel1d::new(taps).unwrap();
            let folded = several_row_taps(&k).expect("symmetric, radius ≤ 8");
            let src: Vec<f32> = img.iter().copied().collect();
            let y = (y_frac * h as f64) as usize;
            let margin = 3;
            let mut several: [Vec<f32>; ROWS_AT_ONCE] = std::array::from_fn(|_| vec![0f32; w + 2 * margin]);
            vertical_rows(&src, (w, h), y, folded, &mut several, margin);
            for (n, row) in several.iter().enumerate() {
                let mut one = vec![0f32; w];
                vertical_pass(&src, w, h, y + n, &k, &mut one);
                let same = row[margin..margin + w].iter().zip(&one).all(|(a, b)| a.to_bits() == b.to_bits());
                prop_assert!(same, "row {} of {} differs", n, ROWS_AT_ONCE);
            }
        }
    }

    #[test]
    fn kernels_wider_than_the_image_still_reflect() {
        let img = textured(3, 2, 1);
        let k: Vec<f32> = vec![0.1; 11];
        let fast = convolve_separable(
            img.view(),
            &Kernel1d::new(k.clone()).unwrap(),
            &Kernel1d::new(k.clone()).unwrap(),
        );
        assert!(max_rel_diff(&fast, &naive_separable(&img, &k, &k)) < 1e-5);
    }

    #[test]
    fn non_contiguous_views_are_accepted() {
        // A transposed view has column-major strides: the copying path must give the right answer.
        let img = textured(20, 30, 3);
        let t = img.t();
        assert!(t.as_slice().is_none());
        let taps = vec![0.1, 0.25, 0.3, 0.25, 0.1];
        let k = Kernel1d::new(taps.clone()).unwrap();
        let out = convolve_separable(t, &k, &k);
        let reference = naive_separable(&t.as_standard_layout().into_owned(), &taps, &taps);
        assert!(max_rel_diff(&out, &reference) < 1e-5);
    }

    #[test]
    fn bitwise_identical_for_1_2_and_7_threads() {
        let img = textured(203, 157, 9);
        let k = Kernel1d::new(vec![0.1, -0.2, 0.5, 0.3, 0.05]).unwrap();
        assert_thread_independent(|| convolve_separable(img.view(), &k, &k));
    }

    #[test]
    fn rejects_bad_kernels_and_handles_empty_planes() {
        assert_eq!(
            Kernel1d::new(vec![1.0, 1.0]),
            Err(KernelError::EvenLength { taps: 2 })
        );
        assert_eq!(
            Kernel1d::new(vec![]),
            Err(KernelError::EvenLength { taps: 0 })
        );
        assert_eq!(
            Kernel1d::new(vec![0.0, f32::NAN, 0.0]),
            Err(KernelError::NotFinite { index: 1 })
        );
        let empty = Array2::<f32>::zeros((0, 5));
        assert_eq!(
            convolve_separable(empty.view(), &Kernel1d::identity(), &Kernel1d::identity()).dim(),
            (0, 5)
        );
    }
}
