//! Coarse correspondences: oriented FAST keypoints with steered binary descriptors, matched by Hamming
//! distance — the ORB recipe (Rublee et al., ICCV 2011) on the log-luminance pyramid.
//!
//! Why our own: imageproc's BRIEF ignores keypoint orientation and its FAST works on `u8` (the project's
//! crate survey); kornia's ORB works but is a young, heavy API. The parts are short, and owning them
//! keeps every step deterministic (a fixed test pattern, index tie-breaks, no random generator at
//! match time) and working on `f32` log-luminance, where a FAST threshold is a contrast ratio, so
//! exposure gain does not change which corners are found.
//!
//! On skin the keypoints come from pores, freckles, lesions, hair and the facial features; pores are
//! small dark blobs, which FAST-9 reports because the whole ring around them is brighter.

use ndarray::ArrayView2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// Ring of 16 pixels at radius 3 (Bresenham circle), clockwise from 12 o'clock.
const RING: [(isize, isize); 16] = [
    (0, -3),
    (1, -3),
    (2, -2),
    (3, -1),
    (3, 0),
    (3, 1),
    (2, 2),
    (1, 3),
    (0, 3),
    (-1, 3),
    (-2, 2),
    (-3, 1),
    (-3, 0),
    (-3, -1),
    (-2, -2),
    (-1, -3),
];

/// Radius of the patch whose intensity centroid gives the orientation.
const ORIENTATION_RADIUS: isize = 15;
/// Largest offset of a descriptor test point before rotation (after rotation: ≤ 12 √2 < 17).
const PATTERN_EXTENT: f64 = 12.0;
/// Keypoints closer than this to the border are not described.
pub const BORDER: usize = 18;
/// Orientation bins of the precomputed steered patterns (12° each).
const ANGLE_BINS: usize = 30;
/// Descriptor tests.
const BITS: usize = 256;

/// A described keypoint, in the pixel coordinates of the level it was found on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Keypoint {
    /// Column.
    pub x: f32,
    /// Row.
    pub y: f32,
    /// Harris corner response (ranking only).
    pub response: f32,
    /// Orientation, radians.
    pub angle: f32,
}

/// 256-bit binary descriptor.
pub type Descriptor = [u64; 4];

/// Settings for [`detect_and_describe`].
#[derive(Debug, Clone, Copy)]
pub struct FeatureOptions {
    /// Keypoints kept per image.
    pub max_keypoints: usize,
    /// Initial FAST threshold, log-luminance units (0.03 ≈ 3 % contrast); halved until enough
    /// candidates are found, down to [`FeatureOptions::min_threshold`].
    pub threshold: f32,
    /// Lowest FAST threshold tried.
    pub min_threshold: f32,
}

impl Default for FeatureOptions {
    fn default() -> Self {
        Self {
            max_keypoints: 1500,
            threshold: 0.03,
            min_threshold: 0.004,
        }
    }
}

/// Finds up to `options.max_keypoints` oriented FAST-9 keypoints in `detect` (log-luminance, lightly
/// smoothed) and describes them on `describe` (the same image smoothed to σ ≈ 2, as BRIEF needs).
#[must_use]
pub fn detect_and_describe(
    detect: ArrayView2<'_, f32>,
    describe: ArrayView2<'_, f32>,
    options: &FeatureOptions,
) -> (Vec<Keypoint>, Vec<Descriptor>) {
    let (h, w) = detect.dim();
    if h <= 2 * BORDER || w <= 2 * BORDER || describe.dim() != detect.dim() {
        return (Vec::new(), Vec::new());
    }
    let mut threshold = options.threshold;
    let mut candidates;
    loop {
        candidates = fast_candidates(detect, threshold);
        if candidates.len() >= 2 * options.max_keypoints || threshold * 0.5 < options.min_threshold
        {
            break;
        }
        threshold *= 0.5;
    }
    let mut keypoints: Vec<Keypoint> = candidates
        .into_iter()
        .map(|(x, y)| Keypoint {
            x: x as f32,
            y: y as f32,
            response: harris(detect, x, y),
            angle: 0.0,
        })
        .collect();
    let keypoints_kept = spread(&mut keypoints, w, h, options.max_keypoints);
    let pattern = steered_patterns();
    keypoints_kept
        .into_par_iter()
        .map(|mut k| {
            k.angle = orientation(detect, k.x as usize, k.y as usize);
            let descriptor = describe_one(describe, &k, &pattern);
            (k, descriptor)
        })
        .unzip()
}

/// FAST-9 with a 3 × 3 non-maximum suppression on the FAST score; positions at least [`BORDER`]
/// from the edge, in raster order.
fn fast_candidates(img: ArrayView2<'_, f32>, t: f32) -> Vec<(usize, usize)> {
    let (h, w) = img.dim();
    let score_at = |x: usize, y: usize| -> f32 {
        let p = img[[y, x]];
        let (mut brighter, mut darker) = (0u32, 0u32);
        let mut score = 0.0f32;
        for (i, &(dx, dy)) in RING.iter().enumerate() {
            let v = img[[(y as isize + dy) as usize, (x as isize + dx) as usize]];
            let d = v - p;
            if d > t {
                brighter |= 1 << i;
                score += d - t;
            } else if d < -t {
                darker |= 1 << i;
                score += -d - t;
            }
        }
        if has_arc_of_nine(brighter) || has_arc_of_nine(darker) {
            score
        } else {
            0.0
        }
    };
    // Scores one pixel further in than the keypoint border, so suppression sees every neighbour.
    let rows: Vec<Vec<(usize, usize)>> = (BORDER..h - BORDER)
        .into_par_iter()
        .map(|y| {
            let mut out = Vec::new();
            for x in BORDER..w - BORDER {
                let p = img[[y, x]];
                // Quick rejection: an arc of 9 covers at least two of the four compass points.
                let compass = [
                    img[[y - 3, x]],
                    img[[y, x + 3]],
                    img[[y + 3, x]],
                    img[[y, x - 3]],
                ];
                let b = compass.iter().filter(|&&v| v - p > t).count();
                let d = compass.iter().filter(|&&v| p - v > t).count();
                if b < 2 && d < 2 {
                    continue;
                }
                let s = score_at(x, y);
                if s <= 0.0 {
                    continue;
                }
                let mut is_max = true;
                'n: for ny in y - 1..=y + 1 {
                    for nx in x - 1..=x + 1 {
                        if (nx, ny) == (x, y) {
                            continue;
                        }
                        let ns = score_at(nx, ny);
                        // Ties go to the earlier pixel in raster order, so plateaus keep one point.
                        if ns > s || (ns == s && (ny, nx) < (y, x)) {
                            is_max = false;
                            break 'n;
                        }
                    }
                }
                if is_max {
                    out.push((x, y));
                }
            }
            out
        })
        .collect();
    rows.into_iter().flatten().collect()
}

fn has_arc_of_nine(mask: u32) -> bool {
    let m = mask | (mask << 16);
    let mut run = m;
    for k in 1..9 {
        run &= m >> k;
    }
    run != 0
}

/// Harris response `det − 0.04 trace²` of the gradient structure tensor over a 7 × 7 window.
fn harris(img: ArrayView2<'_, f32>, x: usize, y: usize) -> f32 {
    let (mut sxx, mut syy, mut sxy) = (0.0f32, 0.0f32, 0.0f32);
    for yy in y - 3..=y + 3 {
        for xx in x - 3..=x + 3 {
            let gx = 0.5 * (img[[yy, xx + 1]] - img[[yy, xx - 1]]);
            let gy = 0.5 * (img[[yy + 1, xx]] - img[[yy - 1, xx]]);
            sxx += gx * gx;
            syy += gy * gy;
            sxy += gx * gy;
        }
    }
    sxx * syy - sxy * sxy - 0.04 * (sxx + syy) * (sxx + syy)
}

/// Keeps the `n` strongest keypoints, at most twice a fair share in each cell of an 8 × 8 grid, so
/// one bright feature (an eye, a hairline) cannot take every keypoint; leftover places are then filled
/// by strength alone.
fn spread(keypoints: &mut [Keypoint], w: usize, h: usize, n: usize) -> Vec<Keypoint> {
    const GRID: usize = 8;
    keypoints.sort_by(|a, b| {
        b.response
            .total_cmp(&a.response)
            .then(a.y.total_cmp(&b.y))
            .then(a.x.total_cmp(&b.x))
    });
    let cap = (2 * n).div_ceil(GRID * GRID).max(1);
    let mut per_cell = [0usize; GRID * GRID];
    let mut taken = vec![false; keypoints.len()];
    let mut kept = Vec::with_capacity(n);
    for (i, k) in keypoints.iter().enumerate() {
        if kept.len() == n {
            break;
        }
        let cell = (k.y as usize * GRID / h) * GRID + k.x as usize * GRID / w;
        if per_cell[cell] < cap {
            per_cell[cell] += 1;
            taken[i] = true;
            kept.push(*k);
        }
    }
    for (i, k) in keypoints.iter().enumerate() {
        if kept.len() == n {
            break;
        }
        if !taken[i] {
            kept.push(*k);
        }
    }
    kept
}

/// Angle of the intensity centroid over a disc of radius 15 (Rosin 1999, as in ORB).
fn orientation(img: ArrayView2<'_, f32>, x: usize, y: usize) -> f32 {
    let r = ORIENTATION_RADIUS;
    let (mut m10, mut m01) = (0.0f32, 0.0f32);
    for dy in -r..=r {
        let half = ((r * r - dy * dy) as f64).sqrt() as isize;
        let row = (y as isize + dy) as usize;
        for dx in -half..=half {
            let v = img[[row, (x as isize + dx) as usize]];
            m10 += dx as f32 * v;
            m01 += dy as f32 * v;
        }
    }
    m01.atan2(m10)
}

/// One fixed set of test pairs, rotated for each orientation bin and rounded to whole pixels.
/// Points are drawn from an isotropic Gaussian (σ = 31/5, the distribution BRIEF's authors found
/// best) with a fixed seed, so descriptors never depend on anything but the image.
fn steered_patterns() -> Vec<[(i8, i8, i8, i8); BITS]> {
    let mut rng = ChaCha8Rng::seed_from_u64(0x0B81_EF5E_ED00_0256);
    let mut gaussian = || -> f64 {
        loop {
            // Box–Muller; rejection keeps points inside the extent.
            let u1: f64 = rng.random::<f64>().max(1e-12);
            let u2: f64 = rng.random();
            let v = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos() * (31.0 / 5.0);
            if v.abs() <= PATTERN_EXTENT {
                return v;
            }
        }
    };
    let base: Vec<[f64; 4]> = (0..BITS)
        .map(|_| [gaussian(), gaussian(), gaussian(), gaussian()])
        .collect();
    (0..ANGLE_BINS)
        .map(|bin| {
            let angle = bin as f64 * std::f64::consts::TAU / ANGLE_BINS as f64;
            let (s, c) = angle.sin_cos();
            let rot =
                |x: f64, y: f64| ((c * x - s * y).round() as i8, (s * x + c * y).round() as i8);
            std::array::from_fn(|i| {
                let [x1, y1, x2, y2] = base[i];
                let (a, b) = rot(x1, y1);
                let (p, q) = rot(x2, y2);
                (a, b, p, q)
            })
        })
        .collect()
}

fn describe_one(
    img: ArrayView2<'_, f32>,
    k: &Keypoint,
    patterns: &[[(i8, i8, i8, i8); BITS]],
) -> Descriptor {
    let turns = f64::from(k.angle).rem_euclid(std::f64::consts::TAU) / std::f64::consts::TAU;
    let bin = ((turns * ANGLE_BINS as f64).round() as usize) % ANGLE_BINS;
    let (x, y) = (k.x as isize, k.y as isize);
    let at = |dx: i8, dy: i8| img[[(y + dy as isize) as usize, (x + dx as isize) as usize]];
    let mut d = [0u64; 4];
    for (i, &(x1, y1, x2, y2)) in patterns[bin].iter().enumerate() {
        if at(x1, y1) < at(x2, y2) {
            d[i / 64] |= 1 << (i % 64);
        }
    }
    d
}

fn hamming(a: &Descriptor, b: &Descriptor) -> u32 {
    (a[0] ^ b[0]).count_ones()
        + (a[1] ^ b[1]).count_ones()
        + (a[2] ^ b[2]).count_ones()
        + (a[3] ^ b[3]).count_ones()
}

/// For each query descriptor, the index of the nearest train descriptor and the first and second
/// smallest distances (ties go to the lower index).
fn nearest(query: &[Descriptor], train: &[Descriptor]) -> Vec<(usize, u32, u32)> {
    query
        .par_iter()
        .map(|q| {
            let (mut best, mut first, mut second) = (usize::MAX, u32::MAX, u32::MAX);
            for (j, t) in train.iter().enumerate() {
                let d = hamming(q, t);
                if d < first {
                    second = first;
                    first = d;
                    best = j;
                } else if d < second {
                    second = d;
                }
            }
            (best, first, second)
        })
        .collect()
}

/// Mutual nearest neighbours passing Lowe's ratio test (0.8) and an absolute distance cap (a quarter
/// of the bits): pairs `(index in a, index in b)`, in the order of `a`.
#[must_use]
pub fn match_descriptors(a: &[Descriptor], b: &[Descriptor]) -> Vec<(usize, usize)> {
    const MAX_DISTANCE: u32 = BITS as u32 / 4;
    if a.is_empty() || b.is_empty() {
        return Vec::new();
    }
    let forward = nearest(a, b);
    let backward = nearest(b, a);
    forward
        .iter()
        .enumerate()
        .filter(|&(i, &(j, d1, d2))| {
            d1 <= MAX_DISTANCE
                && (d2 == u32::MAX || (d1 as f32) < 0.8 * d2 as f32)
                && backward[j].0 == i
        })
        .map(|(i, &(j, _, _))| (i, j))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn arc_test_needs_nine_contiguous_ring_pixels() {
        assert!(has_arc_of_nine(0b0000_0001_1111_1111));
        assert!(!has_arc_of_nine(0b0000_0000_1111_1111));
        // Wrapping around the end of the ring counts.
        assert!(has_arc_of_nine(0b1111_0000_0001_1111));
        assert!(!has_arc_of_nine(0b0101_0101_0101_0101));
    }

    /// A dark square on a bright field: FAST must fire at its four corners and nowhere else.
    #[test]
    fn fast_finds_the_corners_of_a_square() {
        let mut img = Array2::<f32>::from_elem((80, 80), 1.0);
        for y in 30..50 {
            for x in 30..50 {
                img[[y, x]] = 0.0;
            }
        }
        let corners = fast_candidates(img.view(), 0.1);
        assert_eq!(corners.len(), 4, "{corners:?}");
        for (x, y) in corners {
            assert!((x == 30 || x == 49) && (y == 30 || y == 49), "({x}, {y})");
        }
    }

    /// Descriptors of the same content rotated by 90° match when steered by the measured angle.
    #[test]
    fn steered_descriptors_survive_rotation() {
        let n = 101;
        let blob = |x: f64, y: f64| -> f32 {
            // An asymmetric pattern: a bright lobe to the right and a weaker one below.
            let a = (-((x - 6.0).powi(2) + y * y) / 20.0).exp();
            let b = 0.5 * (-(x * x + (y - 8.0).powi(2)) / 12.0).exp();
            (a + b) as f32
        };
        let c = (n / 2) as f64;
        let upright = Array2::from_shape_fn((n, n), |(y, x)| blob(x as f64 - c, y as f64 - c));
        // Rotate by +90° (x → −y, y → x in image axes).
        let turned = Array2::from_shape_fn((n, n), |(y, x)| blob(y as f64 - c, c - x as f64));
        let patterns = steered_patterns();
        let mut k1 = Keypoint {
            x: c as f32,
            y: c as f32,
            response: 0.0,
            angle: 0.0,
        };
        let mut k2 = k1;
        k1.angle = orientation(upright.view(), c as usize, c as usize);
        k2.angle = orientation(turned.view(), c as usize, c as usize);
        let turn = (k2.angle - k1.angle).rem_euclid(std::f32::consts::TAU);
        assert!(
            (turn - std::f32::consts::FRAC_PI_2).abs() < 0.05,
            "turn {turn}"
        );
        let d1 = describe_one(upright.view(), &k1, &patterns);
        let d2 = describe_one(turned.view(), &k2, &patterns);
        assert!(hamming(&d1, &d2) < 40, "distance {}", hamming(&d1, &d2));
    }

    #[test]
    fn matching_is_mutual_and_rejects_ambiguous_pairs() {
        let a = [[0u64, 0, 0, 0], [u64::MAX, 0, 0, 0]];
        let b = [[u64::MAX, 1, 0, 0], [1u64, 0, 0, 0]];
        assert_eq!(match_descriptors(&a, &b), vec![(0, 1), (1, 0)]);
        // Two equally near candidates: the ratio test drops the query.
        let c = [[0u64, 0, 0, 0]];
        let d = [[1u64, 0, 0, 0], [2u64, 0, 0, 0]];
        assert!(match_descriptors(&c, &d).is_empty());
    }
}
