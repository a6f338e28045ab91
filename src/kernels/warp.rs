//! Resampling: warping a plane by a 3 × 3 matrix (bilinear or bicubic) and the Gaussian pyramid.
//!
//! Exists because imageproc's warp is single-threaded (173 ms bilinear at 12 MP against OpenCV's 77 ms
//! in the project's crate survey) and `image`'s resize is slower still. Coordinates follow the report contract: pixel
//! centres at integers, origin at the top-left pixel's centre. [`warp`] takes the matrix that maps an
//! *output* pixel to the *source* position it samples (the inverse of the geometric transform), so each
//! output pixel is computed independently — bands of rows in parallel; an affine bilinear warp walks
//! each band in small tiles so that the source rows it reads stay in cache (see `TILE_COLS`).
//!
//! Interpolation smooths: bilinear weights act as a low-pass whose attenuation at half the sampling
//! frequency depends on the sub-pixel phase, so a warped photo reads smoother than the original.
//! [`Interpolation::Bicubic`] (Keys, a = −0.5) keeps fine texture better; metrics that compare texture
//! across sessions should warp masks rather than pixels where they can.

use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;

use super::{plane, reflect, row_major};

/// How [`warp`] interpolates between source pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Interpolation {
    /// 2 × 2 taps.
    #[default]
    Bilinear,
    /// 4 × 4 taps of Keys' cubic convolution with a = −0.5 (R. Keys, IEEE TASSP 29, 1981), which
    /// reproduces quadratics exactly.
    Bicubic,
}

/// Samples `src` at `matrix · (x, y, 1)` for every output pixel of an `out_height × out_width` plane.
/// Positions outside the source (beyond half a pixel past its edge pixels' centres) get `fill`; the
/// taps of positions inside reach past the edge by reflection.
#[must_use]
pub fn warp(
    src: ArrayView2<'_, f32>,
    matrix: &[[f64; 3]; 3],
    out_height: usize,
    out_width: usize,
    interpolation: Interpolation,
    fill: f32,
) -> Array2<f32> {
    let (h, w) = src.dim();
    if h == 0 || w == 0 || out_height == 0 || out_width == 0 {
        return plane(
            out_height,
            out_width,
            super::buffer::filled_f32(out_height * out_width, fill),
        );
    }
    let data = row_major(&src);
    let m = *matrix;
    let affine = m[2][0] == 0.0 && m[2][1] == 0.0 && m[2][2] == 1.0;
    // Bands of output rows made in a scratch band and copied out once (`buffer::banded`): the
    // output is never zeroed or filled first.
    let out = super::buffer::banded(
        out_height * out_width,
        out_width * TILE_ROWS,
        |band, rows: &mut [f32]| {
            // Positions outside the source keep this.
            rows.fill(fill);
            if affine && interpolation == Interpolation::Bilinear {
                for x0 in (0..out_width).step_by(TILE_COLS) {
                    let x1 = (x0 + TILE_COLS).min(out_width);
                    for (i, row) in rows.chunks_exact_mut(out_width).enumerate() {
                        let y = band * TILE_ROWS + i;
                        bilinear_affine_span(&data, w, h, &m, y, x0, &mut row[x0..x1]);
                    }
                }
            } else {
                for (i, row) in rows.chunks_exact_mut(out_width).enumerate() {
                    let y = band * TILE_ROWS + i;
                    general_row(&data, w, h, &m, affine, interpolation, y, row);
                }
            }
        },
    );
    plane(out_height, out_width, out)
}

/// One output row, any matrix and interpolation. Multiversioned so `floor` compiles to one
/// instruction: on baseline x86-64 it is a libm call. Avoiding it (truncation in the interior fast
/// path, multiversioned rows) took the 12 MP bilinear warp from 111 to 66 ms on one thread.
#[allow(clippy::too_many_arguments)]
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "x86_64+sse4.1"
))]
fn general_row(
    data: &[f32],
    w: usize,
    h: usize,
    m: &[[f64; 3]; 3],
    affine: bool,
    interpolation: Interpolation,
    y: usize,
    row: &mut [f32],
) {
    let (xmax, ymax) = (w as f64 - 0.5, h as f64 - 0.5);
    let yf = y as f64;
    for (x, o) in row.iter_mut().enumerate() {
        let xf = x as f64;
        let (mut sx, mut sy) = (
            m[0][0] * xf + m[0][1] * yf + m[0][2],
            m[1][0] * xf + m[1][1] * yf + m[1][2],
        );
        if !affine {
            let d = m[2][0] * xf + m[2][1] * yf + m[2][2];
            if d.abs() < 1e-12 {
                continue;
            }
            (sx, sy) = (sx / d, sy / d);
        }
        if !(sx >= -0.5 && sy >= -0.5 && sx <= xmax && sy <= ymax) {
            continue; // also catches NaN
        }
        *o = match interpolation {
            Interpolation::Bilinear => bilinear(data, w, h, sx, sy),
            Interpolation::Bicubic => bicubic(data, w, h, sx, sy),
        };
    }
}

/// Output tile of the affine bilinear path: `TILE_ROWS` rows (one parallel task) walked `TILE_COLS`
/// columns at a time. Under a rotation an output row crosses source rows, so whole rows walked one
/// after another touched a few hundred source rows at once and most taps missed L2; a 64-column tile
/// keeps its source footprint in L1. Measured on the 12 MP benchmark warp (3°, scale 1.02), one
/// thread: whole rows 54 ms; tiles 256, 128, 64 columns wide 53, 45, 45 ms (32 rows tall; 8, 64, 128
/// or 256 rows were no better).
const TILE_ROWS: usize = 32;
const TILE_COLS: usize = 64;

/// Every `PROBE_STEP`-th pixel of a span loads its lower tap ahead of the gather stage. perf put a
/// third of the warp on the lower-row loads, each the first touch of a source line and each waiting
/// for memory with little else in flight; a loop of nothing but those loads keeps many misses in flight
/// at once, and the gather then finds the lines in cache. 12 MP, one thread, when the probe was added
/// (every 4th pixel): 45 → 38 ms (every 8th pixel 41 ms; every 2nd, 48 ms). Once the tap indices
/// were vectorised (see the span's stage 1), every 8th pixel measured best on a 2-core Intel Xeon:
/// 34.1 ms against 34.6–35.5 for every 4th; every 2nd, 16th and 64th were 4, 0.5 and 2 ms slower
/// than every 8th.
const PROBE_STEP: usize = 8;

/// 2⁵²: from here up an `f64` holds only integers, so adding it to a smaller non-negative integer
/// leaves that integer, exactly, in the low bits of the sum (see `bilinear_affine_span`).
const TWO_52: f64 = 4_503_599_627_370_496.0;

/// A span of at most `TILE_COLS` pixels of one output row of an affine bilinear warp. A span whose
/// taps all lie inside the source runs the staged path below; a span that reaches the border takes
/// [`bilinear`] per pixel. Both use exactly the arithmetic of [`bilinear`], so the path a pixel takes
/// never changes its value (`tiled_affine_path_equals_per_pixel_bilinear`).
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "x86_64+sse4.1"
))]
// Index loops: each stage addresses several arrays at the same position.
#[allow(clippy::needless_range_loop)]
fn bilinear_affine_span(
    data: &[f32],
    w: usize,
    h: usize,
    m: &[[f64; 3]; 3],
    y: usize,
    x_start: usize,
    row: &mut [f32],
) {
    let n = row.len().min(TILE_COLS);
    let yf = y as f64;
    let mut sx = [0f64; TILE_COLS];
    let mut sy = [0f64; TILE_COLS];
    for i in 0..n {
        let xf = (x_start + i) as f64;
        sx[i] = m[0][0] * xf + m[0][1] * yf + m[0][2];
        sy[i] = m[1][0] * xf + m[1][1] * yf + m[1][2];
    }
    // Interior: the 2 × 2 taps at floor(s) and floor(s) + 1 are all inside the image.
    let (in_x, in_y) = (w as f64 - 1.0, h as f64 - 1.0);
    // Tap indices are made in `f64` below, exact only below 2⁵² (no plane in memory comes close).
    let exact = (w as f64) * (h as f64) < TWO_52;
    let interior = exact
        && (0..n).fold(true, |all, i| {
            all & (sx[i] >= 0.0) & (sy[i] >= 0.0) & (sx[i] < in_x) & (sy[i] < in_y)
        });
    if !interior {
        let (xmax, ymax) = (w as f64 - 0.5, h as f64 - 0.5);
        for i in 0..n {
            if sx[i] >= -0.5 && sy[i] >= -0.5 && sx[i] <= xmax && sy[i] <= ymax {
                row[i] = bilinear(data, w, h, sx[i], sy[i]);
            }
        }
        return;
    }
    // Three stages, each a loop over the whole span, so that the first and last vectorise and only
    // the loads in between are scalar; a stage reads what the previous one stored long before, so no
    // load waits on a store still in flight.
    // 1. Tap index and fractions. Interior coordinates are ≥ 0, where truncation is floor. A saturating
    // `f64 as usize` has no vector instruction: LLVM left this loop scalar, and it was a third of the
    // warp's time (perf; converting `as i32` was no better). So the integer parts stay `f64`, the
    // flat index `y·w + x` is made in `f64` (exact below 2⁵²), and adding 2⁵² puts that integer in
    // the low bits of the sum's mantissa, read back as integer bits. The fractions `s − trunc(s)`
    // equal `bilinear`'s `s − floor(s)`, sign of zero included. 12 MP, one thread, on a 2-core Intel
    // Xeon: 51.5 → 34 ms, together with the probe stride's re-tuning (`PROBE_STEP`).
    let mut at = [0usize; TILE_COLS];
    let mut fx = [0f32; TILE_COLS];
    let mut fy = [0f32; TILE_COLS];
    let wf = w as f64;
    for i in 0..n {
        let (tx, ty) = (sx[i].trunc(), sy[i].trunc());
        fx[i] = (sx[i] - tx) as f32;
        fy[i] = (sy[i] - ty) as f32;
        let flat = ty * wf + tx;
        at[i] = ((flat + TWO_52).to_bits() - TWO_52.to_bits()) as usize;
    }
    // Probe loads (see `PROBE_STEP`); `black_box` keeps them from being optimised away.
    let mut probe = [0f32; TILE_COLS / PROBE_STEP];
    for (k, i) in (0..n).step_by(PROBE_STEP).enumerate() {
        probe[k] = data[at[i] + w];
    }
    std::hint::black_box(&probe);
    // 2. The four taps, each row's pair as one 8-byte load (53 → 51.5 ms against four 4-byte loads,
    // on the Xeon). Interior spans always have both pairs: the `if let` only avoids a panic path.
    let mut top_pairs = [[0f32; 2]; TILE_COLS];
    let mut bottom_pairs = [[0f32; 2]; TILE_COLS];
    for i in 0..n {
        let p = at[i];
        if let (Some(&t), Some(&b)) = (data[p..].first_chunk(), data[p + w..].first_chunk()) {
            (top_pairs[i], bottom_pairs[i]) = (t, b);
        }
    }
    // 3. The blend: exactly the arithmetic of `bilinear`.
    for i in 0..n {
        let ([tl, tr], [bl, br]) = (top_pairs[i], bottom_pairs[i]);
        let top = tl + fx[i] * (tr - tl);
        let bottom = bl + fx[i] * (br - bl);
        row[i] = top + fy[i] * (bottom - top);
    }
}

#[inline(always)]
fn bilinear(data: &[f32], w: usize, h: usize, sx: f64, sy: f64) -> f32 {
    let (x0, y0) = (sx.floor(), sy.floor());
    let (fx, fy) = ((sx - x0) as f32, (sy - y0) as f32);
    let (xi, yi) = (x0 as isize, y0 as isize);
    let (xa, xb) = (reflect(xi, w), reflect(xi + 1, w));
    let (ya, yb) = (reflect(yi, h), reflect(yi + 1, h));
    let top = data[ya * w + xa] + fx * (data[ya * w + xb] - data[ya * w + xa]);
    let bottom = data[yb * w + xa] + fx * (data[yb * w + xb] - data[yb * w + xa]);
    top + fy * (bottom - top)
}

/// Keys' cubic weights for the four taps at offsets −1, 0, 1, 2 from `floor(s)`, fraction `t`.
#[inline(always)]
fn keys_weights(t: f32) -> [f32; 4] {
    const A: f32 = -0.5;
    let near = |d: f32| ((A + 2.0) * d - (A + 3.0)) * d * d + 1.0;
    let far = |d: f32| ((A * d - 5.0 * A) * d + 8.0 * A) * d - 4.0 * A;
    [far(1.0 + t), near(t), near(1.0 - t), far(2.0 - t)]
}

#[inline(always)]
fn bicubic(data: &[f32], w: usize, h: usize, sx: f64, sy: f64) -> f32 {
    let (x0, y0) = (sx.floor(), sy.floor());
    let (wx, wy) = (
        keys_weights((sx - x0) as f32),
        keys_weights((sy - y0) as f32),
    );
    let (xi, yi) = (x0 as isize, y0 as isize);
    let cols = [
        reflect(xi - 1, w),
        reflect(xi, w),
        reflect(xi + 1, w),
        reflect(xi + 2, w),
    ];
    let mut sum = 0f32;
    for (j, &wyj) in wy.iter().enumerate() {
        let row = reflect(yi - 1 + j as isize, h) * w;
        let r = wx[0] * data[row + cols[0]]
            + wx[1] * data[row + cols[1]]
            + wx[2] * data[row + cols[2]]
            + wx[3] * data[row + cols[3]];
        sum += wyj * r;
    }
    sum
}

/// Bilinear sample of `img` at `(x, y)` (pixel centres at integers); `None` outside the square hull of
/// the pixel centres, `[0, w − 1] × [0, h − 1]`, or for a plane smaller than 2 × 2. For a few scattered
/// samples; [`warp`] resamples whole planes.
#[must_use]
pub fn sample_bilinear(img: ArrayView2<'_, f32>, x: f64, y: f64) -> Option<f32> {
    let (h, w) = img.dim();
    if h < 2 || w < 2 || !(x >= 0.0 && y >= 0.0 && x <= (w - 1) as f64 && y <= (h - 1) as f64) {
        return None;
    }
    let (x0, y0) = ((x as usize).min(w - 2), (y as usize).min(h - 2));
    let (fx, fy) = ((x - x0 as f64) as f32, (y - y0 as f64) as f32);
    let top = img[[y0, x0]] + fx * (img[[y0, x0 + 1]] - img[[y0, x0]]);
    let bottom = img[[y0 + 1, x0]] + fx * (img[[y0 + 1, x0 + 1]] - img[[y0 + 1, x0]]);
    Some(top + fy * (bottom - top))
}

/// One level down the Gaussian pyramid: blur with the binomial kernel [1 4 6 4 1]/16 (σ ≈ 1) and keep
/// every second pixel of every second row (as OpenCV's `pyrDown`, except that borders reflect
/// half-sample-symmetrically where OpenCV's default mirrors about the edge pixel). Output size
/// ⌈h/2⌉ × ⌈w/2⌉; pixel
/// (x, y) of the output is centred on pixel (2x, 2y) of the input.
#[must_use]
pub fn pyramid_down(src: ArrayView2<'_, f32>) -> Array2<f32> {
    const K: [f32; 5] = [1.0 / 16.0, 4.0 / 16.0, 6.0 / 16.0, 4.0 / 16.0, 1.0 / 16.0];
    let (h, w) = src.dim();
    let (oh, ow) = (h.div_ceil(2), w.div_ceil(2));
    let mut out = super::buffer::zeroed::<f32>(oh * ow);
    if h == 0 || w == 0 {
        return plane(oh, ow, out);
    }
    let data = row_major(&src);
    out.par_chunks_mut(ow).enumerate().for_each_init(
        || vec![0f32; w + 4],
        |column_mix, (oy, row)| {
            let y = 2 * oy as isize;
            // Vertical taps into a padded row (two reflected samples each side).
            for (j, &k) in K.iter().enumerate() {
                let src_row = &data[reflect(y + j as isize - 2, h) * w..][..w];
                let mid = &mut column_mix[2..w + 2];
                if j == 0 {
                    mid.iter_mut().zip(src_row).for_each(|(d, &s)| *d = k * s);
                } else {
                    mid.iter_mut().zip(src_row).for_each(|(d, &s)| *d += k * s);
                }
            }
            for i in 0..2 {
                column_mix[1 - i] = column_mix[2 + reflect(-1 - i as isize, w)];
                column_mix[w + 2 + i] = column_mix[2 + reflect((w + i) as isize, w)];
            }
            for (ox, o) in row.iter_mut().enumerate() {
                let c = 2 * ox;
                *o = K[0] * column_mix[c]
                    + K[1] * column_mix[c + 1]
                    + K[2] * column_mix[c + 2]
                    + K[3] * column_mix[c + 3]
                    + K[4] * column_mix[c + 4];
            }
        },
    );
    plane(oh, ow, out)
}

/// Block average: each output pixel is the mean of a `factor × factor` block of the input (blocks at
/// the right and bottom edges are cut short and averaged over what they hold). Output pixel `(x, y)` is
/// centred on input position `(factor·x + (factor−1)/2, factor·y + (factor−1)/2)` for full blocks. One
/// pass over the input: the cheap way to a thumbnail or a shading estimate from a 12 MP plane.
#[must_use]
pub fn downsample_area(src: ArrayView2<'_, f32>, factor: usize) -> Array2<f32> {
    let factor = factor.max(1);
    let (h, w) = src.dim();
    let (oh, ow) = (h.div_ceil(factor), w.div_ceil(factor));
    let mut out = super::buffer::zeroed::<f32>(oh * ow);
    if oh == 0 || ow == 0 {
        return plane(oh, ow, out);
    }
    let data = row_major(&src);
    out.par_chunks_mut(ow).enumerate().for_each_init(
        || vec![0f32; w],
        |column_sum, (oy, row)| {
            let rows = oy * factor..((oy + 1) * factor).min(h);
            let n_rows = rows.len();
            column_sum.iter_mut().for_each(|v| *v = 0.0);
            for y in rows {
                column_sum
                    .iter_mut()
                    .zip(&data[y * w..(y + 1) * w])
                    .for_each(|(d, &s)| *d += s);
            }
            for (ox, o) in row.iter_mut().enumerate() {
                let cols = &column_sum[ox * factor..((ox + 1) * factor).min(w)];
                *o = cols.iter().sum::<f32>() / (cols.len() * n_rows) as f32;
            }
        },
    );
    plane(oh, ow, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::separable::naive_separable;
    use crate::kernels::testutil::{assert_thread_independent, planes, textured};
    use proptest::prelude::*;

    const IDENTITY: [[f64; 3]; 3] = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        // The identity warp samples pixel centres exactly: both kernels must return the input bit for bit.
        #[test]
        fn identity_warp_is_exact(img in planes(30)) {
            let (h, w) = img.dim();
            prop_assert_eq!(warp(img.view(), &IDENTITY, h, w, Interpolation::Bilinear, 0.0), img.clone());
            prop_assert_eq!(warp(img.view(), &IDENTITY, h, w, Interpolation::Bicubic, 0.0), img);
        }

        // Integer translations are exact too, and pixels shifted in from outside get the fill value.
        #[test]
        fn integer_shift_moves_pixels(img in planes(25), dx in -3i32..4, dy in -3i32..4) {
            let (h, w) = img.dim();
            let m = [[1.0, 0.0, f64::from(dx)], [0.0, 1.0, f64::from(dy)], [0.0, 0.0, 1.0]];
            let out = warp(img.view(), &m, h, w, Interpolation::Bicubic, -1.0);
            for ((y, x), &v) in out.indexed_iter() {
                let (sx, sy) = (x as i32 + dx, y as i32 + dy);
                if sx >= 0 && sy >= 0 && (sx as usize) < w && (sy as usize) < h {
                    prop_assert_eq!(v, img[[sy as usize, sx as usize]]);
                } else {
                    prop_assert_eq!(v, -1.0);
                }
            }
        }
    }

    #[test]
    fn scattered_bilinear_samples_match_the_warp() {
        let img = textured(30, 40, 8);
        let m = [[1.0, 0.0, 0.37], [0.0, 1.0, 0.81], [0.0, 0.0, 1.0]];
        let warped = warp(img.view(), &m, 30, 40, Interpolation::Bilinear, f32::NAN);
        for (y, x) in [(0, 0), (5, 7), (28, 38)] {
            let v = sample_bilinear(img.view(), x as f64 + 0.37, y as f64 + 0.81).unwrap();
            assert!((v - warped[[y, x]]).abs() < 1e-6);
        }
        assert!(sample_bilinear(img.view(), 39.5, 3.0).is_none());
        assert_eq!(sample_bilinear(img.view(), 39.0, 29.0), Some(img[[29, 39]]));
    }

    #[test]
    fn tiled_affine_path_equals_per_pixel_bilinear() {
        // Rotated, scaled and shifted so that tiles meet the border on every side, on a size that is
        // no multiple of the tile: the tiled, staged path must give exactly what `bilinear` gives for
        // each pixel on its own, and the fill outside.
        let img = textured(77, 203, 6);
        let (s, c) = (
            7f64.to_radians().sin() * 1.05,
            7f64.to_radians().cos() * 1.05,
        );
        let m = [[c, -s, 3.3], [s, c, -4.6], [0.0, 0.0, 1.0]];
        let (oh, ow) = (81, 197);
        let fill = -7.0;
        let warped = warp(img.view(), &m, oh, ow, Interpolation::Bilinear, fill);
        let (h, w) = img.dim();
        let data: Vec<f32> = img.iter().copied().collect();
        // Spans whose taps all lie inside take the staged path; the test must contain some.
        let taps_inside = |x: usize, y: usize| {
            let (xf, yf) = (x as f64, y as f64);
            let sx = m[0][0] * xf + m[0][1] * yf + m[0][2];
            let sy = m[1][0] * xf + m[1][1] * yf + m[1][2];
            sx >= 0.0 && sy >= 0.0 && sx < w as f64 - 1.0 && sy < h as f64 - 1.0
        };
        let staged_spans = (0..oh)
            .flat_map(|y| (0..ow).step_by(TILE_COLS).map(move |x0| (y, x0)))
            .filter(|&(y, x0)| (x0..(x0 + TILE_COLS).min(ow)).all(|x| taps_inside(x, y)))
            .count();
        assert!(
            staged_spans > oh,
            "only {staged_spans} spans take the staged path"
        );
        for ((y, x), &got) in warped.indexed_iter() {
            let (xf, yf) = (x as f64, y as f64);
            let sx = m[0][0] * xf + m[0][1] * yf + m[0][2];
            let sy = m[1][0] * xf + m[1][1] * yf + m[1][2];
            let inside = sx >= -0.5 && sy >= -0.5 && sx <= w as f64 - 0.5 && sy <= h as f64 - 0.5;
            let want = if inside {
                bilinear(&data, w, h, sx, sy)
            } else {
                fill
            };
            assert_eq!(got.to_bits(), want.to_bits(), "({y}, {x})");
        }
        assert_thread_independent(|| warp(img.view(), &m, oh, ow, Interpolation::Bilinear, fill));
    }

    #[test]
    fn area_downsample_averages_blocks_including_cut_edges() {
        let img = Array2::from_shape_fn((5, 7), |(y, x)| (10 * y + x) as f32);
        let out = downsample_area(img.view(), 3);
        assert_eq!(out.dim(), (2, 3));
        // Full block rows 0–2, columns 0–2: mean of 0,1,2,10,11,12,20,21,22 = 11.
        assert_eq!(out[[0, 0]], 11.0);
        // Cut block: rows 3–4, column 6 → (36 + 46) / 2.
        assert_eq!(out[[1, 2]], 41.0);
        assert_thread_independent(|| downsample_area(textured(97, 131, 3).view(), 4));
    }

    #[test]
    fn reproduces_linear_and_quadratic_fields_at_sub_pixel_positions() {
        // Bilinear is exact on planes a + bx + cy; Keys' cubic on quadratics (away from borders).
        let lin = Array2::from_shape_fn((40, 50), |(y, x)| 0.1 + 0.01 * x as f32 + 0.02 * y as f32);
        let quad = Array2::from_shape_fn((40, 50), |(y, x)| {
            0.001 * ((x as f32 - 20.0).powi(2) + (y as f32 - 15.0).powi(2))
        });
        // A rotation by 10° and scale 0.9 about (25, 20).
        let (s, c) = (
            10f64.to_radians().sin() * 0.9,
            10f64.to_radians().cos() * 0.9,
        );
        let m = [
            [c, -s, 25.0 - c * 25.0 + s * 20.0],
            [s, c, 20.0 - s * 25.0 - c * 20.0],
            [0.0, 0.0, 1.0],
        ];
        let bl = warp(lin.view(), &m, 40, 50, Interpolation::Bilinear, f32::NAN);
        let bc = warp(quad.view(), &m, 40, 50, Interpolation::Bicubic, f32::NAN);
        for y in 8..32 {
            for x in 8..42 {
                let (sx, sy) = (
                    m[0][0] * x as f64 + m[0][1] * y as f64 + m[0][2],
                    m[1][0] * x as f64 + m[1][1] * y as f64 + m[1][2],
                );
                let want_lin = 0.1 + 0.01 * sx + 0.02 * sy;
                let want_quad = 0.001 * ((sx - 20.0).powi(2) + (sy - 15.0).powi(2));
                assert!(
                    (f64::from(bl[[y, x]]) - want_lin).abs() < 1e-5,
                    "bilinear at ({x},{y})"
                );
                assert!(
                    (f64::from(bc[[y, x]]) - want_quad).abs() < 1e-5,
                    "bicubic at ({x},{y})"
                );
            }
        }
    }

    #[test]
    fn projective_matrix_divides_and_threads_do_not_matter() {
        let img = textured(120, 160, 4);
        let m = [[1.01, 0.02, 3.5], [-0.015, 0.99, -2.25], [1e-5, -2e-5, 1.0]];
        assert_thread_independent(|| warp(img.view(), &m, 110, 150, Interpolation::Bicubic, 0.0));
        // On a linear field both kernels are exact, so the projective division is checked against the
        // field's formula at the divided position, independently of the interpolation code.
        let field = Array2::from_shape_fn((120, 160), |(y, x)| {
            0.2 + 0.003 * x as f32 - 0.002 * y as f32
        });
        let out = warp(field.view(), &m, 110, 150, Interpolation::Bicubic, f32::NAN);
        for (x, y) in [(40.0f64, 30.0f64), (100.0, 80.0), (20.0, 90.0)] {
            let d = m[2][0] * x + m[2][1] * y + 1.0;
            let sx = (m[0][0] * x + m[0][1] * y + m[0][2]) / d;
            let sy = (m[1][0] * x + m[1][1] * y + m[1][2]) / d;
            let want = 0.2 + 0.003 * sx - 0.002 * sy;
            assert!(
                (f64::from(out[[y as usize, x as usize]]) - want).abs() < 1e-5,
                "({x}, {y})"
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        // pyrDown equals the naive binomial blur sampled at even positions (same taps, f32 vs f64 sums).
        #[test]
        fn pyramid_down_matches_blur_then_decimate(img in planes(33)) {
            let k = [1.0 / 16.0, 4.0 / 16.0, 6.0 / 16.0, 4.0 / 16.0, 1.0 / 16.0];
            let blurred = naive_separable(&img, &k, &k);
            let down = pyramid_down(img.view());
            let (h, w) = img.dim();
            prop_assert_eq!(down.dim(), (h.div_ceil(2), w.div_ceil(2)));
            for ((y, x), &v) in down.indexed_iter() {
                prop_assert!((v - blurred[[2 * y, 2 * x]]).abs() < 1e-6);
            }
        }
    }
}
