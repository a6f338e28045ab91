//! Parallel image kernels on `f32` planes: the numerical core every metric and the alignment sit on.
//!
//! Conventions shared by every kernel here:
//! - A plane is an `ndarray::Array2<f32>` indexed `[row, column]`.
//! - Borders reflect half-sample-symmetrically (`… c b a | a b c …`: scipy's `reflect`, OpenCV's
//!   `BORDER_REFLECT`), which is defined for any size including 1 × 1.
//! - Filters correlate: `out[x] = Σ k[i] · in[x + i − r]`, so a derivative kernel `[-½, 0, ½]` is
//!   positive where intensity rises with `x`.
//! - Work is split into bands of output rows run in parallel with rayon. Every output pixel is
//!   computed by the same sequence of floating-point operations whichever band or thread computes it,
//!   and no reduction crosses bands, so results are bitwise identical whatever the thread count.
//! - Hot loops are written over equal-length slices so the compiler vectorises them, and compiled by
//!   `multiversion` for AVX2+FMA, SSE4.1 and baseline x86-64, the best chosen at run time. The
//!   compiler never fuses `a * b + c` into an FMA on its own, so every version gives the same bits.
//!
//! Why hand-written at all: in the project's crate survey on its 2-core machine at 12 MP, imageproc's
//! Gaussian was about 3.5× slower than a plain rayon separable filter and single-threaded, its top-hat
//! about 20× and its labelling 4.4× slower than OpenCV's. Each submodule says what it adds.
//! `bash benches/peers.sh` measures ours against OpenCV's side by side.

mod buffer;
pub mod derivative;
pub mod gaussian;
pub mod label;
pub mod local;
pub mod logarithm;
pub mod morphology;
pub mod multirate;
pub mod separable;
pub mod warp;

use std::borrow::Cow;

use ndarray::{Array2, ArrayView2};

pub(crate) use buffer::prefetch;
pub use derivative::{
    difference_of_gaussians, gaussian_derivative, gradient_magnitude, laplacian_of_gaussian,
    normalised_dog, sobel,
};
pub use gaussian::{GaussianMethod, gaussian_blur, gaussian_blur_with, gaussian_kernel};
pub use label::{Component, Connectivity, LabelledRun, Labelling, label};
pub use local::{local_mean, local_rms, local_variance};
pub use logarithm::ln_plane;
pub(crate) use logarithm::ln_slice;
pub use morphology::{black_tophat, close, dilate, erode, open, white_tophat};
pub use separable::{Kernel1d, KernelError, convolve_separable};
pub use warp::{Interpolation, pyramid_down, warp};

/// Output rows per parallel task. 16 rows of a 4000-px photo are 250 KiB of output: enough work per
/// task to amortise rayon's scheduling, small enough for even load on 2–8 threads (188 bands at 3000
/// rows). Not tuned by measurement.
pub(crate) const ROW_BAND: usize = 16;

/// Index `i` reflected half-sample-symmetrically into `0..n` (`n ≥ 1`): −1 → 0, −2 → 1, n → n − 1.
#[inline]
#[must_use]
pub fn reflect(i: isize, n: usize) -> usize {
    // In range is by far the common case; the division in rem_euclid is not free.
    if i >= 0 && (i as usize) < n {
        return i as usize;
    }
    let n = n as isize;
    let period = 2 * n;
    let m = i.rem_euclid(period);
    (if m < n { m } else { period - 1 - m }) as usize
}

/// The plane's samples in row-major order, borrowed when the view is already contiguous.
pub(crate) fn row_major<'a>(src: &'a ArrayView2<'_, f32>) -> Cow<'a, [f32]> {
    match src.as_slice() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(src.iter().copied().collect()),
    }
}

/// A plane of the given shape from row-major samples (the shape always matches by construction).
pub(crate) fn plane(height: usize, width: usize, data: Vec<f32>) -> Array2<f32> {
    Array2::from_shape_vec((height, width), data).unwrap_or_else(|_| Array2::zeros((height, width)))
}

/// A `height × width` plane made a row at a time, bands of rows in parallel: `make_row(y, row)` must
/// write every value of row `y`. Never zeroed first (see [`buffer::banded`]), for planes computed from
/// other data row by row, such as a decoded photo's colour planes.
pub(crate) fn plane_by_rows(
    height: usize,
    width: usize,
    make_row: impl Fn(usize, &mut [f32]) + Sync,
) -> Array2<f32> {
    const BAND_ROWS: usize = 8;
    let data = buffer::banded(
        height * width,
        BAND_ROWS * width,
        |band, values: &mut [f32]| {
            for (i, row) in values.chunks_exact_mut(width.max(1)).enumerate() {
                make_row(band * BAND_ROWS + i, row);
            }
        },
    );
    plane(height, width, data)
}

/// A zeroed plane backed by huge pages where possible, its pages already faulted in by all workers
/// ([`buffer::zeroed`]).
pub(crate) fn prefaulted_plane(height: usize, width: usize) -> Array2<f32> {
    plane(height, width, buffer::zeroed(height * width))
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Shared helpers for kernel tests: random planes and a thread-count harness.
    use ndarray::Array2;
    use proptest::prelude::*;

    /// Runs `f` on a dedicated pool with `threads` threads.
    pub fn with_threads<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("thread pool")
            .install(f)
    }

    /// Asserts that `f` gives the same result, to the bit, on 1, 2 and 7 threads.
    pub fn assert_thread_independent<T: PartialEq + std::fmt::Debug + Send>(
        f: impl Fn() -> T + Sync,
    ) {
        let one = with_threads(1, &f);
        assert_eq!(one, with_threads(2, &f), "1 vs 2 threads");
        assert_eq!(one, with_threads(7, &f), "1 vs 7 threads");
    }

    /// Skin-like test plane: smooth shading plus deterministic high-frequency detail.
    pub fn textured(height: usize, width: usize, seed: u64) -> Array2<f32> {
        Array2::from_shape_fn((height, width), |(y, x)| {
            let h = crate::synth::noise::hash2(seed, x as i64, y as i64);
            let noise = crate::synth::noise::unit_from_hash(h) as f32;
            0.3 + 0.2 * ((x as f32) * 0.013).sin() * ((y as f32) * 0.021).cos() + 0.1 * noise
        })
    }

    /// The exact Gaussian's taps, the reference for the approximate blurs: point samples over ±6σ in
    /// f64, normalised. Taps integrated over each pixel would differ from point samples by < 0.3 %
    /// for σ ≥ 1, and the tails beyond 6σ hold under 2·10⁻⁹ of the mass.
    pub fn exact_gaussian_taps(sigma: f32) -> Vec<f64> {
        let r = (6.0 * sigma).ceil() as isize;
        let t: Vec<f64> = (-r..=r)
            .map(|x| (-(x * x) as f64 / (2.0 * f64::from(sigma).powi(2))).exp())
            .collect();
        let s: f64 = t.iter().sum();
        t.iter().map(|v| v / s).collect()
    }

    /// Random planes from 1 × 1 up to `max` on each side, including 1 × N and N × 1.
    pub fn planes(max: usize) -> impl Strategy<Value = Array2<f32>> {
        (1..=max, 1..=max, any::<u64>()).prop_map(|(h, w, seed)| textured(h, w, seed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflect_is_half_sample_symmetric() {
        let got: Vec<usize> = (-4..8).map(|i| reflect(i, 4)).collect();
        assert_eq!(got, vec![3, 2, 1, 0, 0, 1, 2, 3, 3, 2, 1, 0]);
        assert!((-5..5).all(|i| reflect(i, 1) == 0));
        assert_eq!(reflect(-3, 2), 1);
    }

    /// Every row is the one asked for, whatever the shape (bands of 8 rows, a last short band, empty
    /// planes) and the thread count.
    #[test]
    fn planes_by_rows_hold_each_row_as_made() {
        for (h, w) in [
            (0, 5),
            (5, 0),
            (1, 1),
            (1, 9),
            (9, 1),
            (8, 3),
            (17, 13),
            (64, 40),
        ] {
            let expected = Array2::from_shape_fn((h, w), |(y, x)| (y * 1000 + x) as f32);
            let make = || {
                plane_by_rows(h, w, |y, row| {
                    for (x, v) in row.iter_mut().enumerate() {
                        *v = (y * 1000 + x) as f32;
                    }
                })
            };
            testutil::assert_thread_independent(make);
            assert_eq!(make(), expected, "{h} × {w}");
        }
    }
}
