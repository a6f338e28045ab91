//! Local mean, variance and RMS over a square window: the roughness map.
//!
//! Exists because a box sum must not cost O(r²) per pixel for the window sizes skin work needs
//! (15–61 px): here it costs O(1 + r/32) (running sums, plus the `2r` halo rows each 64-row band re-sums),
//! and because sums of squares must not lose the small variance of skin texture (≈ 10⁻⁴ on values near
//! 0.3): sums are accumulated in f64. Each band of output rows sums the rows it needs along x (running
//! sums), then slides a column sum down the band. Band boundaries are fixed by the image size, not by
//! the thread count, so results do not depend on it.

use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;

use super::{plane, reflect, row_major};

/// Output rows per band: the band re-sums `2r` extra rows, so bands are taller than for convolution.
const BAND: usize = 64;

/// Mean over the `(2·radius + 1)²` window centred on each pixel (borders reflect; any radius, memory
/// bounded by the image).
#[must_use]
pub fn local_mean(src: ArrayView2<'_, f32>, radius: usize) -> Array2<f32> {
    local_moments(src, radius, |sum, _sq, n| (sum / n) as f32)
}

/// Variance over the window (population variance, ≥ 0).
#[must_use]
pub fn local_variance(src: ArrayView2<'_, f32>, radius: usize) -> Array2<f32> {
    local_moments(src, radius, |sum, sq, n| {
        let mean = sum / n;
        (sq / n - mean * mean).max(0.0) as f32
    })
}

/// RMS deviation from the local mean (√variance): the local roughness.
#[must_use]
pub fn local_rms(src: ArrayView2<'_, f32>, radius: usize) -> Array2<f32> {
    local_moments(src, radius, |sum, sq, n| {
        let mean = sum / n;
        (sq / n - mean * mean).max(0.0).sqrt() as f32
    })
}

fn local_moments(
    src: ArrayView2<'_, f32>,
    radius: usize,
    finish: impl Fn(f64, f64, f64) -> f32 + Sync,
) -> Array2<f32> {
    let (h, w) = src.dim();
    let mut out = super::buffer::zeroed::<f32>(h * w);
    if h == 0 || w == 0 {
        return plane(h, w, out);
    }
    let data = row_major(&src);
    let r = radius as isize;
    let n = ((2 * radius + 1) * (2 * radius + 1)) as f64;
    // Horizontal sums are kept per source row the band needs. When the window is taller than the
    // image, many of those are reflections of the same row: then one slot per image row is kept and
    // reached through `reflect`, so memory never exceeds the image's size whatever the radius.
    let band_rows = BAND + 2 * radius;
    let per_image_row = band_rows > h;
    let slots = if per_image_row { h } else { band_rows };
    // Buffers are per worker, not per band: megabyte buffers allocated band after band each went
    // through mmap and page faults (measured: local RMS r = 7 at 12 MP from 63 to 43 ms, one thread).
    out.par_chunks_mut(BAND * w).enumerate().for_each_init(
        || (vec![0f64; slots * w], vec![0f64; slots * w]),
        |(hsum, hsq), (band, out)| {
            let y0 = (band * BAND) as isize;
            let rows = out.len() / w;
            let needed = rows + 2 * radius;
            let source = |i: usize| reflect(y0 - r + i as isize, h);
            let slot = |i: usize| if per_image_row { source(i) } else { i };
            if per_image_row {
                for y in 0..h {
                    let (sums, squares) =
                        (&mut hsum[y * w..(y + 1) * w], &mut hsq[y * w..(y + 1) * w]);
                    row_window_sums(&data[y * w..(y + 1) * w], radius, sums, squares);
                }
            } else {
                for i in 0..needed {
                    let y = source(i);
                    let (sums, squares) =
                        (&mut hsum[i * w..(i + 1) * w], &mut hsq[i * w..(i + 1) * w]);
                    row_window_sums(&data[y * w..(y + 1) * w], radius, sums, squares);
                }
            }
            // Slide the vertical window down the band.
            let mut csum = vec![0f64; w];
            let mut csq = vec![0f64; w];
            for i in 0..=2 * radius {
                let k = slot(i);
                add_row(&mut csum, &hsum[k * w..(k + 1) * w], 1.0);
                add_row(&mut csq, &hsq[k * w..(k + 1) * w], 1.0);
            }
            for (i, out_row) in out.chunks_exact_mut(w).enumerate() {
                if i > 0 {
                    let (enter, leave) = (slot(i + 2 * radius), slot(i - 1));
                    add_row(&mut csum, &hsum[enter * w..(enter + 1) * w], 1.0);
                    add_row(&mut csum, &hsum[leave * w..(leave + 1) * w], -1.0);
                    add_row(&mut csq, &hsq[enter * w..(enter + 1) * w], 1.0);
                    add_row(&mut csq, &hsq[leave * w..(leave + 1) * w], -1.0);
                }
                for ((o, &s), &q) in out_row.iter_mut().zip(&csum).zip(&csq) {
                    *o = finish(s, q, n);
                }
            }
        },
    );
    plane(h, w, out)
}

/// Running window sums of a row and of its squares, borders reflected.
fn row_window_sums(row: &[f32], radius: usize, sums: &mut [f64], squares: &mut [f64]) {
    let w = row.len();
    let r = radius as isize;
    let at = |i: isize| f64::from(row[reflect(i, w)]);
    let (mut s, mut q) = (0f64, 0f64);
    for i in -r..=r {
        let v = at(i);
        s += v;
        q += v * v;
    }
    for x in 0..w {
        if x > 0 {
            let (enter, leave) = (at(x as isize + r), at(x as isize - r - 1));
            s += enter - leave;
            q += enter * enter - leave * leave;
        }
        sums[x] = s;
        squares[x] = q;
    }
}

#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "x86_64+sse4.1"
))]
fn add_row(acc: &mut [f64], row: &[f64], sign: f64) {
    for (a, &v) in acc.iter_mut().zip(row) {
        *a += sign * v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::testutil::{assert_thread_independent, planes, textured};
    use proptest::prelude::*;

    fn naive(src: &Array2<f32>, radius: usize) -> (Array2<f32>, Array2<f32>) {
        let (h, w) = src.dim();
        let r = radius as isize;
        let mut mean = Array2::zeros((h, w));
        let mut var = Array2::zeros((h, w));
        for y in 0..h {
            for x in 0..w {
                let mut vals = Vec::new();
                for dy in -r..=r {
                    for dx in -r..=r {
                        vals.push(f64::from(
                            src[[reflect(y as isize + dy, h), reflect(x as isize + dx, w)]],
                        ));
                    }
                }
                let m = vals.iter().sum::<f64>() / vals.len() as f64;
                let v = vals.iter().map(|v| (v - m).powi(2)).sum::<f64>() / vals.len() as f64;
                mean[[y, x]] = m as f32;
                var[[y, x]] = v as f32;
            }
        }
        (mean, var)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        // Two-pass f64 reference vs running f64 sums: differences are f64 rounding (≈1e-15 relative),
        // then one f32 rounding: 1e-6 absolute on values ≤ 0.6 and variances ≤ 0.04 is ample.
        #[test]
        fn matches_two_pass_reference(img in planes(40), radius in 0usize..8) {
            let (m, v) = naive(&img, radius);
            let fm = local_mean(img.view(), radius);
            let fv = local_variance(img.view(), radius);
            prop_assert!(fm.iter().zip(&m).all(|(a, b)| (a - b).abs() < 1e-6));
            prop_assert!(fv.iter().zip(&v).all(|(a, b)| (a - b).abs() < 1e-6));
        }
    }

    #[test]
    fn both_row_storage_paths_match_the_reference() {
        // 200 rows: bands keep one slot per needed row. 5 rows with r = 40: one slot per image row.
        for (img, radius) in [(textured(200, 50, 11), 3usize), (textured(5, 7, 12), 40)] {
            let (m, v) = naive(&img, radius);
            assert!(
                local_mean(img.view(), radius)
                    .iter()
                    .zip(&m)
                    .all(|(a, b)| (a - b).abs() < 1e-6)
            );
            assert!(
                local_variance(img.view(), radius)
                    .iter()
                    .zip(&v)
                    .all(|(a, b)| (a - b).abs() < 1e-6)
            );
        }
    }

    #[test]
    fn rms_of_a_checkerboard_is_its_amplitude() {
        let img =
            Array2::from_shape_fn((40, 40), |(y, x)| if (x + y) % 2 == 0 { 0.5 } else { 0.3 });
        let rms = local_rms(img.view(), 3);
        assert!(
            rms.iter().all(|v| (v - 0.1).abs() < 2e-3),
            "{:?}",
            rms[[20, 20]]
        );
    }

    #[test]
    fn thread_count_does_not_change_a_bit() {
        let img = textured(300, 211, 3);
        assert_thread_independent(|| local_variance(img.view(), 7));
    }
}
