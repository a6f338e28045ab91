//! Dark blobs across scales: the difference-of-Gaussians detector under the pore and scar metrics.
//!
//! Pores (≈ 0.1–0.6 mm) and atrophic scars (≈ 0.5–5 mm) are the same thing to a photograph at different
//! sizes: a roughly round depression that reads darker than the skin around it. One scale space finds
//! both; [`super::pores`] and [`super::scars`] split the blobs by size and apply their own thresholds.
//!
//! The detector is Lowe's (IJCV 60, 2004): octaves of Gaussian levels σ₀·kⁱ (k = 2^(1/S)), each octave
//! started from the previous one's level 2σ₀ block-averaged by 2, so the work at the coarse scales a scar
//! needs is a fraction of the full-resolution work; the difference of neighbouring levels divided by
//! k − 1 approximates the scale-normalised Laplacian σ²∇²G (Lindeberg, IJCV 30, 1998), positive at the
//! centre of a dark blob. Blobs are local maxima over space and scale (26 neighbours), refined to
//! sub-pixel position and sub-level scale by parabolas, and kept only if the response stands out from the
//! local spread of the same level (robust σ per tile) and the blob is not elongated (Hessian trace²/det,
//! which rejects wrinkles, hairs and edges).
//!
//! **Inner scale.** The height is first blurred by a Gaussian of [`DetectOptions::inner_sigma`], so the
//! finest structure the detector sees is set by a known blur and not by what a photo's pixel grid did
//! to it (demosaicing, JPEG quantisation, a resampling): those differ between sessions of one patient,
//! and a blob at the resolution limit is found or not depending on them. The blur is part of the
//! detector, so the size calibration below includes it.
//!
//! **What the size means.** A detector's peak scale is not a size: it depends on the blob's profile and on
//! the blurs applied. [`Calibration`] runs this same detector on ideal depressions of known radius — a
//! soft-edged disk ([`soft_disk`]) reaching half its depth at radius R, integrated over square pixels —
//! and tabulates peak scale → R and peak response per unit depth. A detected blob's radius and depth are
//! read off that table, so the reported diameter is the half-depth diameter of the depression (what a
//! ruler on a profile would give), and its depth is in the height's own units (log-luminance).
//! Written here rather than taken from imageproc because no crate offers a multi-octave DoG with
//! sub-level interpolation and a size calibration, and the kernels it needs are ours already.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};

use ndarray::{Array2, ArrayView2, CowArray, Ix2};
use rayon::prelude::*;

use super::region::Region;
use crate::kernels::{Kernel1d, convolve_separable, plane_by_rows, prefetch};

/// Blur of the first level of every octave, in that octave's pixels.
const SIGMA0: f32 = 0.6;
/// Levels per octave at which extrema are sought (S); k = 2^(1/S).
const SCALES: usize = 3;
/// k = 2^(1/S) as f32 (`2f32.powf(1.0 / 3.0)` gives these bits; a test checks it), written out so
/// that no compiler folding of `powf` can change it.
const SCALE_STEP: f32 = f32::from_bits(0x3fa1_4518);
const _: () = assert!(SCALES == 3, "SCALE_STEP is 2^(1/3)");

/// `a^n` by binary powering in f32: the order of multiplications of the run-time `powi` (compiler-rt's
/// `__powisf2`), with no `powi` for the compiler to fold. Folding `powi` of constants gives the
/// double-precision power rounded once, which can differ in the last bit; the level increments then
/// depended on whether the compiler saw their level as a constant, and with them every blob (an
/// edit that only split a loop of `detect_from` moved 10 788 of 19 432 blobs of a 12 MP photo in
/// their 7th digit and lost one). Products of f32 are folded exactly.
fn powi_exact(mut a: f32, mut n: u32) -> f32 {
    let mut r = 1.0f32;
    loop {
        if n & 1 == 1 {
            r *= a;
        }
        n /= 2;
        if n == 0 {
            return r;
        }
        a *= a;
    }
}

/// Side of the tiles over which the local spread of a level is estimated, octave pixels.
const NOISE_TILE: usize = 64;
/// Pixels the extremum scan tests at once before looking at any one of them (a multiple of the SIMD width).
const SCAN_RUN: usize = 16;
/// How far ahead of its reading point the extremum scan asks for the next row, pixels.
const NEXT_ROW_AHEAD: usize = 16 * SCAN_RUN;

/// Fraction of a depression's depth at distance `r` from its centre, for half-depth radius `radius`:
/// full depth out to 0.7 R, then a raised-cosine wall down to 0 at 1.3 R, half depth exactly at R.
/// The model the size calibration assumes (and the synthetic generator draws).
#[must_use]
pub fn soft_disk(r: f64, radius: f64) -> f64 {
    let inner = 0.7 * radius;
    let outer = 1.3 * radius;
    if r <= inner {
        1.0
    } else if r >= outer {
        0.0
    } else {
        0.5 * (1.0 + (std::f64::consts::PI * (r - inner) / (outer - inner)).cos())
    }
}

/// The mean of [`soft_disk`] over pixel `(x, y)` (4 × 4 samples: the pixel's area, as a sensor
/// integrates it) for a disk centred at `(cx, cy)`.
#[must_use]
pub fn soft_disk_coverage(x: usize, y: usize, cx: f64, cy: f64, radius: f64) -> f64 {
    // Every sample lies within 0.375·√2 < 0.54 px of the pixel centre. A pixel whose samples all fall
    // past the wall (or all inside the flat floor) covers exactly 0 (or 1), the value the 16 samples
    // would sum to bit for bit, so it is answered without them: most pixels of a rendering around a
    // disk lie outside it, and the samples' `hypot`s were 40 % of the size calibration's time.
    const SAMPLE_REACH: f64 = 0.54;
    const _: () = assert!(0.375 * std::f64::consts::SQRT_2 < SAMPLE_REACH);
    let centre_distance = (x as f64 - cx).hypot(y as f64 - cy);
    if centre_distance >= 1.3 * radius + SAMPLE_REACH {
        return 0.0;
    }
    if centre_distance + SAMPLE_REACH <= 0.7 * radius {
        return 1.0;
    }
    sampled_coverage(x, y, cx, cy, radius)
}

/// [`soft_disk_coverage`] by its definition: the mean of 16 samples over the pixel.
fn sampled_coverage(x: usize, y: usize, cx: f64, cy: f64, radius: f64) -> f64 {
    let mut sum = 0.0;
    for sy in 0..4 {
        for sx in 0..4 {
            let qx = x as f64 - 0.375 + 0.25 * f64::from(sx);
            let qy = y as f64 - 0.375 + 0.25 * f64::from(sy);
            sum += soft_disk((qx - cx).hypot(qy - cy), radius);
        }
    }
    sum / 16.0
}

/// A dark blob found by [`detect`], in the input plane's pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Blob {
    /// Centre x (pixel centres at integers).
    pub x: f64,
    /// Centre y.
    pub y: f64,
    /// Interpolated peak scale σ, input pixels.
    pub sigma: f64,
    /// Interpolated peak of the normalised DoG response (height units).
    pub response: f64,
    /// Robust spread of that DoG level around the blob (same units).
    pub noise: f64,
    /// Elongation r of the blob: the Hessian's trace²/det equals (r + 1)²/r (1 = round).
    pub elongation: f64,
}

/// How many octaves reach blobs of half-depth radius up to `max_radius` input pixels.
#[must_use]
pub fn octaves_for(max_radius: f64) -> usize {
    // A soft disk peaks at σ ≈ R/1.2 or above (the calibration's range is R/σ ∈ 1.2–1.6); octave o
    // finds peaks up to σ₀·k^(S + 1)·2^o (top level, half a level of interpolation).
    let sigma_needed = max_radius.max(1.0) / 1.2;
    let top_of_first = f64::from(SIGMA0) * 2f64.powf(1.0 + 1.0 / SCALES as f64);
    let mut octaves = 1;
    while top_of_first * 2f64.powi(octaves - 1) < sigma_needed && octaves < 16 {
        octaves += 1;
    }
    octaves as usize
}

/// Gaussian blur truncated at 3σ: a detector needs the shape, not the last 0.3 % of the tail, and a
/// shorter kernel is the larger part of the detector's time. The calibration uses the same kernels.
fn blur(src: ArrayView2<'_, f32>, sigma: f32) -> Array2<f32> {
    // For a constant σ the compiler may evaluate the `exp`s below itself, possibly not to the C
    // library's bits (see `powi_exact`). `black_box` asks it not to; it is a hint, not a guarantee,
    // but the taps have no exact formulation to fall back on.
    let sigma = std::hint::black_box(sigma);
    let radius = (3.0 * sigma).ceil().max(1.0) as i32;
    let mut taps: Vec<f32> = (-radius..=radius)
        .map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp())
        .collect();
    let sum: f32 = taps.iter().sum();
    taps.iter_mut().for_each(|t| *t /= sum);
    let kernel = Kernel1d::new(taps).unwrap_or_else(|_| Kernel1d::identity());
    convolve_separable(src, &kernel, &kernel)
}

/// 1.4826 × the median of `values` (the robust σ of zero-mean samples); `None` when empty.
fn robust_spread(values: &mut [f32]) -> Option<f32> {
    if values.is_empty() {
        return None;
    }
    let mid = values.len() / 2;
    Some(1.4826 * *values.select_nth_unstable_by(mid, f32::total_cmp).1)
}

/// One difference-of-Gaussians level, read on demand from its two blur levels: `(upper − lower) / (k − 1)`.
/// Materialising the levels cost more than the search itself (a fresh 48 MB plane per level at 12 MP,
/// written once, paged in, and read about once: 65 of 350 ms of the detector, measured); computed on the
/// fly, each value is the same f32 expression as before, so results are unchanged bit for bit.
#[derive(Clone, Copy)]
struct Dog<'a> {
    lower: &'a [f32],
    upper: &'a [f32],
    inv: f32,
}

impl Dog<'_> {
    /// The value at flat (row-major) index `k`.
    #[inline]
    fn at(&self, k: usize) -> f32 {
        (self.upper[k] - self.lower[k]) * self.inv
    }
}

/// The pixels of an octave's noise sample: every fourth pixel of every fourth row that the region
/// accepts, as flat indices per tile of `NOISE_TILE`² octave pixels (256 candidates a tile: plenty for
/// a median; hair, eyes and background would inflate it). The region test is the costly part, so it is
/// done once per octave and shared by the octave's levels, and asked a row of samples at a time
/// across a band of tiles (see [`Region`]).
fn noise_samples((h, w): (usize, usize), step: f64, region: &dyn Region) -> Vec<Vec<usize>> {
    const _: () = assert!(
        NOISE_TILE.is_multiple_of(4),
        "a tile's samples start on its first column"
    );
    let tw = w.div_ceil(NOISE_TILE);
    let columns: Vec<usize> = (0..w).step_by(4).collect();
    let xs: Vec<f64> = columns.iter().map(|&x| step * x as f64).collect();
    let per_tile = NOISE_TILE / 4;
    (0..h.div_ceil(NOISE_TILE))
        .into_par_iter()
        .flat_map_iter(|ty| {
            let mut tiles: Vec<Vec<usize>> = (0..tw)
                .map(|_| Vec::with_capacity(NOISE_TILE * NOISE_TILE / 16))
                .collect();
            let mut inside = vec![false; xs.len()];
            for y in (ty * NOISE_TILE..((ty + 1) * NOISE_TILE).min(h)).step_by(4) {
                region.contains_row(&xs, step * y as f64, &mut inside);
                for ((tile, tile_columns), tile_inside) in tiles
                    .iter_mut()
                    .zip(columns.chunks(per_tile))
                    .zip(inside.chunks(per_tile))
                {
                    for (&x, &accepted) in tile_columns.iter().zip(tile_inside) {
                        if accepted {
                            tile.push(y * w + x);
                        }
                    }
                }
            }
            tiles
        })
        .collect()
}

/// Local robust spread of a DoG level per tile, from |DoG| at the octave's `samples`. A tile with fewer
/// than a quarter of its samples in the region takes the spread of the whole region instead, so
/// thresholds at the region's edge do not rest on a handful of pixels.
fn tile_noise(dog: Dog<'_>, (h, w): (usize, usize), samples: &[Vec<usize>]) -> Array2<f32> {
    let (th, tw) = (h.div_ceil(NOISE_TILE), w.div_ceil(NOISE_TILE));
    let enough = NOISE_TILE * NOISE_TILE / 64;
    let mut values = sampled_magnitudes(dog, (h, w), samples);
    // Each tile's own spread first. The median's selection reorders a tile's values but keeps them,
    // so the whole region's spread is taken from the same values, not gathered again.
    let local: Vec<Option<f32>> = values
        .par_iter_mut()
        .map(|tile| {
            if tile.len() < enough {
                return None;
            }
            robust_spread(tile)
        })
        .collect();
    // The whole region's spread is needed only where a tile has too few samples, and it is a median
    // of every sample on one thread (750 000 at 12 MP, for each level), so it is taken only then (a
    // photo whose tiles are all skin, of a side divisible by the tile's or nearly, needs none).
    let global = if local.iter().any(Option::is_none) {
        let mut all: Vec<f32> = values.concat();
        robust_spread(&mut all)
            .or_else(|| {
                let mut every: Vec<f32> = (0..h * w).step_by(3).map(|k| dog.at(k).abs()).collect();
                robust_spread(&mut every)
            })
            .unwrap_or(0.0)
    } else {
        0.0 // every tile has its own spread: not read
    };
    let spreads: Vec<f32> = local.into_iter().map(|s| s.unwrap_or(global)).collect();
    Array2::from_shape_fn((th, tw), |(y, x)| spreads[y * tw + x])
}

/// |DoG| at every tile's `samples`, per tile. Read row by row across a whole band of tiles rather
/// than tile by tile: a tile's sampled rows lie four plane rows apart, so tile by tile every row of
/// it was a fresh miss on both blur levels, while a band's rows read in order stream in (perf: this
/// gather was about a tenth of the detector's time on one thread, read tile by tile).
fn sampled_magnitudes(
    dog: Dog<'_>,
    (h, w): (usize, usize),
    samples: &[Vec<usize>],
) -> Vec<Vec<f32>> {
    let tw = w.div_ceil(NOISE_TILE);
    samples
        .par_chunks(tw.max(1))
        .enumerate()
        .flat_map_iter(|(ty, band)| {
            let mut values: Vec<Vec<f32>> = band
                .iter()
                .map(|tile| Vec::with_capacity(tile.len()))
                .collect();
            // A tile's samples are in raster order, so each tile's next sample is at its cursor.
            let mut cursors = vec![0usize; band.len()];
            for y in ty * NOISE_TILE..((ty + 1) * NOISE_TILE).min(h) {
                let row_end = (y + 1) * w;
                for ((tile, cursor), out) in band.iter().zip(&mut cursors).zip(&mut values) {
                    while let Some(&k) = tile.get(*cursor)
                        && k < row_end
                    {
                        out.push(dog.at(k).abs());
                        *cursor += 1;
                    }
                }
            }
            values
        })
        .collect()
}

/// Detection thresholds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DetectOptions {
    /// Octaves to search (see [`octaves_for`]).
    pub octaves: usize,
    /// A blob's response must exceed this many times its level's local spread.
    pub min_snr: f64,
    /// Largest Hessian trace²/det ratio parameter r: (r + 1)²/r bounds trace²/det. 1 = only perfectly round.
    pub max_elongation: f64,
    /// Candidates whose depth, read off the pyramid's response, is below 0.7 × this are dropped before
    /// the (costly) scale refinement: the refined depth differs from the pyramid's by far less than
    /// 30 %. 0 refines every candidate.
    pub min_depth: f64,
    /// The detector's inner scale: a Gaussian σ (input px) applied to the height before anything else,
    /// so the finest scales it sees are set by this blur rather than by the camera, the JPEG encoder
    /// or an interpolation (see [`crate::metrics::MetricOptions::detector_inner_sigma_mm`]). Its
    /// [`Calibration`] includes it. 0: none.
    pub inner_sigma: f32,
}

/// Finds dark blobs in `height` (larger = higher, so a depression is a local minimum). Thresholds
/// rest on the spread of each level over the pixels `region` accepts (input px coordinates).
#[must_use]
pub fn detect(
    height: ArrayView2<'_, f32>,
    options: &DetectOptions,
    region: &dyn Region,
) -> Vec<Blob> {
    detect_from(CowArray::from(height), options, region)
}

/// [`detect`] on a plane the caller gives up: the inner blur replaces it instead of sitting beside it,
/// one plane less at the peak (48 MB at 12 MP; measured on 16 patients of 1 MP photos, the copy
/// raised the peak from 137–138 to 146–147 MB).
#[must_use]
pub fn detect_owned(
    height: Array2<f32>,
    options: &DetectOptions,
    region: &dyn Region,
) -> Vec<Blob> {
    detect_from(CowArray::from(height), options, region)
}

fn detect_from(
    height: CowArray<'_, f32, Ix2>,
    options: &DetectOptions,
    region: &dyn Region,
) -> Vec<Blob> {
    let (h, w) = height.dim();
    if h < 3 || w < 3 {
        return Vec::new();
    }
    // The refinement reads rows as slices (a copy only if the caller passed a strided view and there
    // is no inner blur to make one anyway).
    let plane: CowArray<'_, f32, Ix2> = if options.inner_sigma > 0.0 {
        let smoothed = blur(height.view(), options.inner_sigma);
        drop(height);
        CowArray::from(smoothed)
    } else if height.is_standard_layout() {
        height
    } else {
        CowArray::from(height.as_standard_layout().into_owned())
    };
    let height = plane.view();
    let k = SCALE_STEP;
    let edge_limit = (options.max_elongation + 1.0).powi(2) / options.max_elongation.max(1.0);
    let mut blobs = Vec::new();
    let mut base = blur(height, SIGMA0);
    for octave in 0..options.octaves {
        let (oh, ow) = base.dim();
        if oh < 3 || ow < 3 {
            break;
        }
        let step = f64::from(1u32 << octave);
        let increment = |i: usize| {
            SIGMA0 * (powi_exact(k, 2 * i as u32) - powi_exact(k, 2 * i as u32 - 2)).sqrt()
        };
        // Extrema at DoG level i read blur levels i − 1 … i + 2, so only four levels are alive at a
        // time (not all S + 3): at 12 MP each is 48 MB, and fresh memory is costly to fault in
        // (perf: page zeroing was 30 % of a 12 MP `compare`'s CPU time, growing with the peak).
        let mut window: VecDeque<Array2<f32>> = VecDeque::with_capacity(4);
        window.push_back(base);
        for i in 1..4 {
            let next = blur(window[i - 1].view(), increment(i));
            window.push_back(next);
        }
        let inv = 1.0 / (k - 1.0);
        let samples = noise_samples((oh, ow), step, region);
        let mut next_base = None;
        for i in 1..=SCALES {
            // The window holds levels i − 1 … i + 2.
            let Some(planes) = window
                .iter()
                .map(|level| level.as_slice())
                .collect::<Option<Vec<&[f32]>>>()
            else {
                break; // not reached: the blurs return standard-layout planes
            };
            let dog = |j: usize| Dog {
                lower: planes[j],
                upper: planes[j + 1],
                inv,
            };
            let (below, centre, above) = (dog(0), dog(1), dog(2));
            let noise = tile_noise(centre, (oh, ow), &samples);
            let found = extrema(
                [below, centre, above],
                (oh, ow),
                &noise,
                options.min_snr,
                edge_limit,
            );
            for (x, y, s, response, tile_sigma, elongation) in found {
                blobs.push(Blob {
                    x: step * x,
                    y: step * y,
                    sigma: step * f64::from(SIGMA0) * f64::from(k).powf(i as f64 + 0.5 + s),
                    response,
                    noise: tile_sigma,
                    elongation,
                });
            }
            if i == SCALES {
                // Decimate (Lowe): level S holds 2σ₀ in this octave's pixels, σ₀ in the next one's, so
                // every octave starts from the same blur and the octaves are self-similar. A block
                // average would add its own spread and make the octaves disagree at their seams.
                next_base = Some(every_other(window[1].view()));
            } else {
                window.pop_front();
                if let Some(top) = window.back() {
                    let next = blur(top.view(), increment(i + 3));
                    window.push_back(next);
                }
            }
        }
        drop(window);
        let Some(decimated) = next_base else {
            break;
        };
        base = decimated;
    }
    let calibration = (options.min_depth > 0.0).then(|| Calibration::get(options.inner_sigma));
    let deep_enough: Vec<&Blob> = blobs
        .par_iter()
        .filter(|b| {
            calibration.as_ref().is_none_or(|c| {
                c.size_and_depth(b)
                    .is_none_or(|(_, depth)| depth >= 0.7 * options.min_depth)
            })
        })
        .collect();
    suppress_duplicates(refine_in_place_order(height, &deep_enough))
}

/// Every other pixel of every other row of `level` (rows and columns 0, 2, 4, …), rows in
/// parallel: ndarray's copy of the strided slice ran on one thread, 5 ms of a 12 MP photo on either
/// one thread or two.
fn every_other(level: ArrayView2<'_, f32>) -> Array2<f32> {
    let (h, w) = level.dim();
    plane_by_rows(h.div_ceil(2), w.div_ceil(2), |y, row| {
        let source = level.row(2 * y);
        for (x, value) in row.iter_mut().enumerate() {
            *value = source[2 * x];
        }
    })
}

/// Rows of the plane per band of [`refine_in_place_order`]'s visiting order.
const REFINE_BAND_ROWS: f64 = 32.0;

/// [`refine_scale`] of every blob, in the order given (those it declines left out), visited band of
/// rows by band and left to right within a band. The blobs arrive octave by octave and level by
/// level, so in that order each one's window was a fresh part of the plane, read from memory row by
/// row; visited by place, neighbouring windows overlap and the rows of a band are still in cache
/// for the next blob (perf: most of the refinement's time was one load of a window's row; measured
/// on a 12 MP photo, the refinement took 132–138 instead of 138–151 ms on one thread, 72–73
/// instead of 72–77 ms on two). Each refinement depends on its blob alone, so the results are the
/// same whichever order computes them.
fn refine_in_place_order(height: ArrayView2<'_, f32>, blobs: &[&Blob]) -> Vec<Blob> {
    let band = |b: &Blob| (b.y / REFINE_BAND_ROWS).floor();
    let mut visit: Vec<usize> = (0..blobs.len()).collect();
    visit.sort_by(|&i, &j| {
        band(blobs[i])
            .total_cmp(&band(blobs[j]))
            .then(blobs[i].x.total_cmp(&blobs[j].x))
    });
    let by_place: Vec<Option<Blob>> = visit
        .par_iter()
        .map_init(LogScratch::default, |scratch, &i| {
            refine_scale(height, blobs[i], scratch)
        })
        .collect();
    let mut in_order: Vec<Option<Blob>> = vec![None; blobs.len()];
    for (&i, refined) in visit.iter().zip(by_place) {
        in_order[i] = refined;
    }
    in_order.into_iter().flatten().collect()
}

/// Scale-normalised Laplacian-of-Gaussian response σ²∇²G_σ ∗ h at a sub-pixel point, positive at a
/// dark blob's centre, for each of `sigmas` (into `responses`, which must be as long). The kernel is
/// sampled at the pixel centres around the point out to 4σ and made zero-sum (so the height's level
/// does not leak in at small σ); `None` for a σ whose window leaves the plane.
///
/// Several scales at once because the refinement's climb starts from three neighbouring ones around
/// the same point, and the cost is reading the window, not the arithmetic: rows lie a plane's width
/// apart, so each is a cache miss. Taken together, the largest window's rows are read once and the
/// smaller windows find them in L1. Each σ's sums are those of a window of its own, in the same
/// order, so its response does not depend on which others are computed with it.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "x86_64+sse4.1"
))]
fn log_responses(
    height: ArrayView2<'_, f32>,
    (x0, y0): (f64, f64),
    sigmas: &[f64],
    responses: &mut [Option<f64>],
    scratch: &mut LogScratch,
) {
    let (h, w) = height.dim();
    responses.fill(None);
    let LogScratch { windows, spare } = scratch;
    windows.clear();
    for (i, &sigma) in sigmas.iter().enumerate() {
        if let Some(window) = LogWindow::new((h, w), x0, y0, sigma, spare) {
            windows.push((i, window));
        }
    }
    // The rows and columns of all the windows together.
    let Some((first_row, last_row, x_start, x_end)) = windows
        .iter()
        .map(|(_, win)| {
            let x_end = win.x_start + win.quadratic.len();
            (win.first_row, win.last_row, win.x_start, x_end)
        })
        .reduce(|a, b| (a.0.min(b.0), a.1.max(b.1), a.2.min(b.2), a.3.max(b.3)))
    else {
        return; // every window leaves the plane
    };
    let union_row = |y: usize| height.row(y).to_slice().map(|r| &r[x_start..x_end]);
    // The window's rows lie a plane's width apart (16 KB at 12 MP) around a blob the previous one
    // did not share, so nearly every row is a cache miss the hardware prefetchers cannot predict,
    // and the row loop waited for them one at a time (perf: a third of the refinement's samples on
    // one load). Asking for the first rows now, and for each row `PREFETCH_ROWS` ahead of its turn,
    // lets the misses overlap. Hints only: no value changes.
    const PREFETCH_ROWS: usize = 16;
    for y in first_row..=last_row.min(first_row + PREFETCH_ROWS - 1) {
        if let Some(row) = union_row(y) {
            prefetch(row);
        }
    }
    for y in first_row..=last_row {
        if y + PREFETCH_ROWS <= last_row
            && let Some(ahead) = union_row(y + PREFETCH_ROWS)
        {
            prefetch(ahead);
        }
        let Some(row) = height.row(y).to_slice() else {
            return; // not reached: the plane is a standard-layout view
        };
        for (_, window) in windows.iter_mut() {
            window.add_row(y, row);
        }
    }
    for (i, window) in windows.drain(..) {
        responses[i] = Some(window.response());
        spare.push(window.into_weights());
    }
}

/// What [`log_responses`] keeps from one call to the next on a worker: its list of windows and
/// their column weights. Allocated afresh, they were several allocations per call, a few hundred
/// thousand per 12 MP photo, and with the binary's single allocator arena (`keep_freed_memory` in
/// `main.rs`) the two workers queued for its lock.
#[derive(Default)]
struct LogScratch {
    windows: Vec<(usize, LogWindow)>,
    /// Column weight buffers of finished windows, for the next ones.
    spare: Vec<(Vec<f32>, Vec<f32>)>,
}

/// One σ's window of [`log_responses`] and its running sums.
struct LogWindow {
    sigma: f64,
    y0: f64,
    two_s2: f64,
    first_row: usize,
    last_row: usize,
    x_start: usize,
    /// Column weights (dx²/2σ²)·e^(−dx²/2σ²), one per column of the window.
    quadratic: Vec<f32>,
    /// Column weights e^(−dx²/2σ²).
    gauss: Vec<f32>,
    sum_quadratic: f64,
    sum_gauss: f64,
    /// e^(−dy²/2σ²) of the rows to come, from the top row down.
    row_weights: SampledGaussian,
    acc: f64,
    ksum: f64,
    vsum: f64,
    n: f64,
}

impl LogWindow {
    /// The window of `sigma` around `(x0, y0)` on a plane of `(h, w)`; `None` when it leaves the plane.
    /// Its column weights go into a pair of buffers from `spare` when there is one.
    #[inline(always)]
    fn new(
        (h, w): (usize, usize),
        x0: f64,
        y0: f64,
        sigma: f64,
        spare: &mut Vec<(Vec<f32>, Vec<f32>)>,
    ) -> Option<Self> {
        let reach = (4.0 * sigma).ceil().max(2.0);
        let (xa, xb) = ((x0 - reach).floor(), (x0 + reach).ceil());
        let (ya, yb) = ((y0 - reach).floor(), (y0 + reach).ceil());
        if xa < 0.0 || ya < 0.0 || xb > (w - 1) as f64 || yb > (h - 1) as f64 {
            return None;
        }
        let x_start = xa as usize;
        let columns = xb as usize - x_start + 1;
        let (first_row, last_row) = (ya as usize, yb as usize);
        let two_s2 = 2.0 * sigma * sigma;
        // The kernel (q − 1)·e^(−q), q = (dx² + dy²)/2σ², splits as e^(−dy²/2σ²)·[(dx²/2σ²)·e^(−dx²/2σ²)
        // + (dy²/2σ² − 1)·e^(−dx²/2σ²)]: each row needs two weighted sums of its pixels and the row
        // sum, with column weights computed once (no exp per pixel). The row sums run in f32 over
        // eight independent lanes so they vectorise (rows are at most a few hundred pixels: relative
        // error ~1e-6, far below the response's own noise), and rows are added up in f64.
        let (mut quadratic, mut gauss) = spare.pop().unwrap_or_default();
        quadratic.clear();
        gauss.clear();
        quadratic.reserve(columns);
        gauss.reserve(columns);
        for (i, e) in sampled_gaussian(xa - x0, columns, two_s2).enumerate() {
            let d2 = (xa + i as f64 - x0).powi(2) / two_s2;
            quadratic.push((d2 * e) as f32);
            gauss.push(e as f32);
        }
        let sum_quadratic: f64 = quadratic.iter().map(|&v| f64::from(v)).sum();
        let sum_gauss: f64 = gauss.iter().map(|&v| f64::from(v)).sum();
        Some(Self {
            sigma,
            y0,
            two_s2,
            first_row,
            last_row,
            x_start,
            quadratic,
            gauss,
            sum_quadratic,
            sum_gauss,
            row_weights: sampled_gaussian(ya - y0, last_row - first_row + 1, two_s2),
            acc: 0.0,
            ksum: 0.0,
            vsum: 0.0,
            n: 0.0,
        })
    }

    /// Adds plane row `y` (the whole row) if the window spans it; rows must come in order.
    #[inline(always)]
    fn add_row(&mut self, y: usize, plane_row: &[f32]) {
        if y < self.first_row || y > self.last_row {
            return;
        }
        let Some(ey) = self.row_weights.next() else {
            return; // not reached: one weight per row of the window
        };
        let columns = self.quadratic.len();
        let row = &plane_row[self.x_start..self.x_start + columns];
        let dy2 = (y as f64 - self.y0).powi(2) / self.two_s2;
        let (by_quadratic, by_gauss, plain) = weighted_row_sums(row, &self.quadratic, &self.gauss);
        self.acc += ey * (by_quadratic + (dy2 - 1.0) * by_gauss);
        self.ksum += ey * (self.sum_quadratic + (dy2 - 1.0) * self.sum_gauss);
        self.vsum += plain;
        self.n += columns as f64;
    }

    /// The column weight buffers, for another window.
    fn into_weights(self) -> (Vec<f32>, Vec<f32>) {
        (self.quadratic, self.gauss)
    }

    /// The response, once every row has been added.
    fn response(&self) -> f64 {
        let zero_sum = self.acc - self.ksum * self.vsum / self.n;
        zero_sum / (std::f64::consts::PI * self.sigma * self.sigma)
    }
}

/// e^(−d²/2σ²) at d = `first`, `first` + 1, … (`count` values; `two_s2` = 2σ²), by the exact
/// recurrence g(d + 1) = g(d)·e^(−(2d + 1)/2σ²), whose factor itself shrinks by e^(−1/σ²) per step:
/// three `exp` calls instead of one per sample (the refinement's windows are small, so the `exp`s were
/// a large part of its time). Relative error after n steps ~ n·1e-16.
fn sampled_gaussian(first: f64, count: usize, two_s2: f64) -> SampledGaussian {
    SampledGaussian {
        value: (-first * first / two_s2).exp(),
        factor: (-(2.0 * first + 1.0) / two_s2).exp(),
        shrink: (-2.0 / two_s2).exp(),
        left: count,
    }
}

/// The iterator of [`sampled_gaussian`].
struct SampledGaussian {
    value: f64,
    factor: f64,
    shrink: f64,
    left: usize,
}

impl Iterator for SampledGaussian {
    type Item = f64;

    #[inline(always)]
    fn next(&mut self) -> Option<f64> {
        self.left = self.left.checked_sub(1)?;
        let out = self.value;
        self.value *= self.factor;
        self.factor *= self.shrink;
        Some(out)
    }
}

/// `(Σ a·v, Σ b·v, Σ v)` over a row, in eight f32 lanes (a shape LLVM vectorises), totals in f64.
/// Inlined into [`log_responses`], so it is compiled for that function's target.
#[inline(always)]
fn weighted_row_sums(values: &[f32], a: &[f32], b: &[f32]) -> (f64, f64, f64) {
    const LANES: usize = 8;
    let (mut sa, mut sb, mut sv) = ([0f32; LANES], [0f32; LANES], [0f32; LANES]);
    // Whole chunks as arrays, so the lane loop has no bounds checks.
    let (value_chunks, _) = values.as_chunks::<LANES>();
    let (a_chunks, _) = a.as_chunks::<LANES>();
    let (b_chunks, _) = b.as_chunks::<LANES>();
    for ((v, a), b) in value_chunks.iter().zip(a_chunks).zip(b_chunks) {
        for l in 0..LANES {
            sa[l] += a[l] * v[l];
            sb[l] += b[l] * v[l];
            sv[l] += v[l];
        }
    }
    let chunks = value_chunks.len() * LANES;
    // The lanes are summed from memory: left to itself, LLVM shaped the lane loop above around this
    // sum's conversions to f64 and vectorised two lanes, then four, with two left scalar and the
    // vectors assembled from scalar loads (perf annotate: `vmulss` stitched together by
    // `vinsertps`). From memory, the loop is one 8-wide multiply and add per chunk and sum.
    let total = |lanes: [f32; LANES]| {
        std::hint::black_box(lanes)
            .iter()
            .map(|&x| f64::from(x))
            .sum::<f64>()
    };
    let (mut ta, mut tb, mut tv) = (total(sa), total(sb), total(sv));
    for i in chunks..values.len() {
        let v = f64::from(values[i]);
        ta += f64::from(a[i]) * v;
        tb += f64::from(b[i]) * v;
        tv += v;
    }
    (ta, tb, tv)
}

/// Refines a detection's scale and response on the exact normalised LoG at its sub-pixel centre:
/// the pyramid's levels are a coarse, octave-seamed sampling of scale, and sizes read off them jump at
/// the seams. Samples σ in steps of 2^(1/6) around the detection, climbs to the maximum and fits a
/// parabola in ln σ. `None` when the window leaves the plane or no maximum is found.
fn refine_scale(
    height: ArrayView2<'_, f32>,
    blob: &Blob,
    scratch: &mut LogScratch,
) -> Option<Blob> {
    const STEP: f64 = 0.115_524_530_093_324_2; // ln 2 / 6
    const CLIMB: i32 = 12;
    let sigma_at = |j: i32| blob.sigma * (STEP * f64::from(j)).exp();
    // The climb asks for each neighbour again after every step; each response is a full window sum, so
    // it is computed once (the walk stays within ±(CLIMB + 1) steps). Its first step needs the
    // detected scale and both its neighbours: those three are computed together.
    let mut memo = [None; 2 * CLIMB as usize + 3];
    let mut start = [None; 3];
    log_responses(
        height,
        (blob.x, blob.y),
        &[sigma_at(-1), sigma_at(0), sigma_at(1)],
        &mut start,
        scratch,
    );
    for (j, response) in (-1..=1).zip(start) {
        memo[(j + CLIMB + 1) as usize] = Some(response);
    }
    let mut at = |j: i32| {
        *memo[(j + CLIMB + 1) as usize].get_or_insert_with(|| {
            let mut response = [None];
            log_responses(
                height,
                (blob.x, blob.y),
                &[sigma_at(j)],
                &mut response,
                scratch,
            );
            response[0]
        })
    };
    let mut j = 0i32;
    let mut here = at(0)?;
    for _ in 0..CLIMB {
        let (down, up) = (at(j - 1), at(j + 1));
        match (down, up) {
            (Some(d), _) if d > here && up.is_none_or(|u| d >= u) => {
                j -= 1;
                here = d;
            }
            (_, Some(u)) if u > here => {
                j += 1;
                here = u;
            }
            (Some(d), Some(u)) => {
                let curvature = d - 2.0 * here + u;
                let offset = if curvature < 0.0 {
                    (0.5 * (d - u) / curvature).clamp(-0.5, 0.5)
                } else {
                    0.0
                };
                let peak = here - 0.25 * (d - u) * offset;
                return (peak > 0.0).then(|| Blob {
                    sigma: blob.sigma * (STEP * (f64::from(j) + offset)).exp(),
                    response: peak,
                    ..*blob
                });
            }
            _ => return None,
        }
    }
    None
}

/// One blob per depression: a blob of similar scale (within a factor 1.5) whose centre lies within the
/// radius-equivalent (1.2σ) of a stronger one's is the same depression seen from a neighbouring octave
/// or level. Blobs of clearly different scales are different structures (a pore beside a scar, the
/// dark wall of a large depression) and both stay; the classes decide. Greedy by response, ties by
/// position, so the result does not depend on the detection order.
fn suppress_duplicates(mut blobs: Vec<Blob>) -> Vec<Blob> {
    blobs.sort_by(strongest_first);
    let mut kept: Vec<Blob> = Vec::with_capacity(blobs.len());
    let grid = KeptGrid::covering(&blobs);
    // Kept blobs by grid cell: a dense table over the cells the blobs occupy, not a hash map (the
    // hashing of 25 or more cell keys per blob was nearly all of this function's 30–40 ms at 12 MP,
    // on one thread). Blobs the grid cannot place (not finite, or absurdly far) are compared with
    // every other blob instead; `detect` never makes one.
    let mut cells: Vec<Vec<usize>> = vec![Vec::new(); grid.len()];
    let mut loose: Vec<usize> = Vec::new();
    let same = |k: &Blob, b: &Blob| {
        // The scale test first: it is cheaper than the distance and fails more often.
        k.sigma.max(b.sigma) < 1.5 * k.sigma.min(b.sigma)
            && (k.x - b.x).hypot(k.y - b.y) < 1.2 * k.sigma.max(b.sigma)
    };
    for b in blobs {
        let place = grid.place(&b);
        let duplicate = match place {
            Some((cx, cy)) => {
                // Similar scales only, so a kept blob that could match has σ < 1.5 σ of the new one.
                let reach = 1.2 * 1.5 * b.sigma;
                let span = ((reach / grid.cell).ceil().min(1e15) as i64).saturating_add(1);
                let (xs, ys) = (grid.span(cx, span, 0), grid.span(cy, span, 1));
                ys.flat_map(|gy| xs.clone().map(move |gx| (gx, gy)))
                    .filter_map(|(gx, gy)| grid.index(gx, gy))
                    .any(|cell| cells[cell].iter().any(|&i| same(&kept[i], &b)))
                    || loose.iter().any(|&i| same(&kept[i], &b))
            }
            None => kept.iter().any(|k| same(k, &b)),
        };
        if !duplicate {
            match place.and_then(|(cx, cy)| grid.index(cx, cy)) {
                Some(cell) => cells[cell].push(kept.len()),
                None => loose.push(kept.len()),
            }
            kept.push(b);
        }
    }
    kept.sort_by(by_position);
    kept
}

/// [`suppress_duplicates`]' greedy order: strongest response first, ties by position.
fn strongest_first(a: &Blob, b: &Blob) -> std::cmp::Ordering {
    b.response
        .total_cmp(&a.response)
        .then(a.y.total_cmp(&b.y))
        .then(a.x.total_cmp(&b.x))
}

/// Raster order of blob centres: the order [`detect`] returns them in.
fn by_position(a: &Blob, b: &Blob) -> std::cmp::Ordering {
    a.y.total_cmp(&b.y).then(a.x.total_cmp(&b.x))
}

/// The cells of [`suppress_duplicates`]: squares of `cell` px from the smallest cell a blob falls in
/// to the largest, so every placed blob has one. 16 px, doubled while the grid would have more than
/// four cells per blob (and 65 536 in all), so blobs spread far apart cannot make it huge; the search
/// span is counted in cells, so the size changes the work, not the result.
struct KeptGrid {
    cell: f64,
    first: (i64, i64),
    size: (i64, i64),
}

impl KeptGrid {
    /// Blobs farther than this from the origin, px, are left out of the grid (with the non-finite
    /// ones): their cell numbers would not fit the integer arithmetic below.
    const FARTHEST: f64 = 1e15;

    fn placeable(b: &Blob) -> bool {
        b.x.abs() <= Self::FARTHEST && b.y.abs() <= Self::FARTHEST && b.sigma.is_finite()
    }

    fn covering(blobs: &[Blob]) -> Self {
        let mut lo = (f64::INFINITY, f64::INFINITY);
        let mut hi = (f64::NEG_INFINITY, f64::NEG_INFINITY);
        for b in blobs.iter().filter(|b| Self::placeable(b)) {
            lo = (lo.0.min(b.x), lo.1.min(b.y));
            hi = (hi.0.max(b.x), hi.1.max(b.y));
        }
        let mut grid = Self {
            cell: 16.0,
            first: (0, 0),
            size: (0, 0),
        };
        if lo.0 > hi.0 {
            return grid; // no blob to place
        }
        let budget = (4 * blobs.len()).max(1 << 16) as f64;
        let cells = |lo: f64, hi: f64, cell: f64| (hi / cell).floor() - (lo / cell).floor() + 1.0;
        while cells(lo.0, hi.0, grid.cell) * cells(lo.1, hi.1, grid.cell) > budget {
            grid.cell *= 2.0;
        }
        grid.first = (
            (lo.0 / grid.cell).floor() as i64,
            (lo.1 / grid.cell).floor() as i64,
        );
        grid.size = (
            cells(lo.0, hi.0, grid.cell) as i64,
            cells(lo.1, hi.1, grid.cell) as i64,
        );
        grid
    }

    fn len(&self) -> usize {
        (self.size.0 * self.size.1) as usize
    }

    /// The cell of a blob the grid can place.
    fn place(&self, b: &Blob) -> Option<(i64, i64)> {
        Self::placeable(b).then(|| {
            (
                (b.x / self.cell).floor() as i64,
                (b.y / self.cell).floor() as i64,
            )
        })
    }

    /// The cells within `span` of cell coordinate `c` along `axis` (0: x, 1: y) that the grid has.
    fn span(&self, c: i64, span: i64, axis: usize) -> std::ops::RangeInclusive<i64> {
        let (first, size) = if axis == 0 {
            (self.first.0, self.size.0)
        } else {
            (self.first.1, self.size.1)
        };
        c.saturating_sub(span).max(first)..=c.saturating_add(span).min(first + size - 1)
    }

    /// The table index of cell `(gx, gy)`; `None` outside the blobs' cells.
    fn index(&self, gx: i64, gy: i64) -> Option<usize> {
        let (x, y) = (gx - self.first.0, gy - self.first.1);
        (x >= 0 && y >= 0 && x < self.size.0 && y < self.size.1)
            .then(|| (y * self.size.0 + x) as usize)
    }
}

/// Local maxima of the centre level of `[below, centre, above]` over its 26 neighbours in space and
/// scale, with sub-pixel and sub-level offsets: `(x, y, scale offset, response, local spread, elongation)` in octave pixels. Rows in
/// parallel, each row's maxima in column order, rows concatenated in order: the output does not depend
/// on threads. The threshold test comes first and rejects nearly every pixel, so the scan walks row
/// slices tile by tile (one threshold per tile, no per-pixel index arithmetic); only the few survivors
/// pay for the neighbourhood test.
fn extrema(
    [below, d, above]: [Dog<'_>; 3],
    (h, w): (usize, usize),
    noise: &Array2<f32>,
    min_snr: f64,
    edge_limit: f64,
) -> Vec<Extremum> {
    if h < 3 || w < 3 {
        return Vec::new();
    }
    let scan = LevelScan {
        below,
        d,
        above,
        w,
        noise,
        min_snr,
        edge_limit,
    };
    // Each worker keeps one list of its rows' maxima and one of a row's peaks for all the rows it
    // scans: a fresh pair per row was two allocations a row, and with the binary's single allocator
    // arena (`keep_freed_memory` in `main.rs`) the two workers queued for its lock. The lists of the
    // workers' row ranges are joined in row order.
    (1..h - 1)
        .into_par_iter()
        .fold(
            || (Vec::new(), Vec::new()),
            |(mut found, mut peaks), y| {
                scan.row(y, &mut peaks, &mut found);
                (found, peaks)
            },
        )
        .map(|(found, _)| found)
        .collect::<Vec<_>>()
        .concat()
}

/// An extremum of [`extrema`]: `(x, y, scale offset, response, local spread, elongation)`.
type Extremum = (f64, f64, f64, f64, f64, f64);

/// What [`extrema`]'s scan of one DoG level reads, shared by its rows.
struct LevelScan<'a> {
    below: Dog<'a>,
    d: Dog<'a>,
    above: Dog<'a>,
    w: usize,
    noise: &'a Array2<f32>,
    min_snr: f64,
    edge_limit: f64,
}

impl LevelScan<'_> {
    /// Appends the maxima of row `y` (1 ≤ y ≤ h − 2) to `found`, in column order; `peaks` is scratch.
    fn row(&self, y: usize, peaks: &mut Vec<(usize, f32, f32)>, found: &mut Vec<Extremum>) {
        let Self {
            below,
            d,
            above,
            w,
            noise,
            min_snr,
            ..
        } = *self;
        peaks.clear();
        let (upper, lower) = (&d.upper[y * w..(y + 1) * w], &d.lower[y * w..(y + 1) * w]);
        // A survivor's neighbourhood test reads the next row of both blur levels, which the
        // scan has not reached: nearly every survivor waited for a cache miss there (perf: 39 %
        // of the test's samples on that one load). So the scan asks for the next row
        // `NEXT_ROW_AHEAD` pixels ahead of where it reads; the next row's own scan then finds
        // those lines loaded as well. Hints only: no value changes.
        let next_row = |x: usize| {
            let (x0, x1) = (
                (y + 1) * w + x,
                ((y + 1) * w + x + SCAN_RUN).min((y + 2) * w),
            );
            prefetch(&d.upper[x0..x1]);
            prefetch(&d.lower[x0..x1]);
        };
        for x in (0..NEXT_ROW_AHEAD.min(w)).step_by(SCAN_RUN) {
            next_row(x);
        }
        // The row's peaks in its own level, tested against the levels below and above only
        // once all of them are known: their neighbourhoods there are cache misses (those blur
        // levels are not scanned), and asked for together the misses overlap instead of each
        // test waiting for its own (perf: a third of the test's samples on that load).
        for tx in 0..w.div_ceil(NOISE_TILE) {
            let spread = noise[[y / NOISE_TILE, tx]];
            let threshold = min_snr * f64::from(spread);
            // A conservative f32 bound for a branch-free test of a whole run of pixels (it
            // vectorises); the exact test below decides for the runs that pass it.
            let bound = (threshold * (1.0 - 1e-6)).max(0.0) as f32;
            let (x0, x1) = ((tx * NOISE_TILE).max(1), ((tx + 1) * NOISE_TILE).min(w - 1));
            let mut start = x0;
            while start < x1 {
                let end = (start + SCAN_RUN).min(x1);
                if start + NEXT_ROW_AHEAD < w {
                    next_row(start + NEXT_ROW_AHEAD);
                }
                // One bit per pixel over the bound: the pixels of a run that pass are visited
                // straight from the mask, not by testing all sixteen again.
                let mut over = over_bound(&upper[start..end], &lower[start..end], d.inv, bound);
                while over != 0 {
                    let x = start + over.trailing_zeros() as usize;
                    over &= over - 1;
                    let v = (upper[x] - lower[x]) * d.inv;
                    if v > 0.0 && f64::from(v) > threshold && peak_in_level(d, w, x, y, v) {
                        peaks.push((x, v, spread));
                    }
                }
                start = end;
            }
        }
        for &(x, _, _) in peaks.iter() {
            for yy in y - 1..=y + 1 {
                let k = yy * w + x;
                prefetch(&below.lower[k - 1..=k + 1]);
                prefetch(&above.upper[k - 1..=k + 1]);
            }
        }
        for &(x, v, spread) in peaks.iter() {
            if let Some(e) = self.extremum_at(x, y, v) {
                found.push((e.0, e.1, e.2, e.3, f64::from(spread), e.4));
            }
        }
    }

    /// Whether `v = d(x, y)`, already a peak of its own level ([`peak_in_level`], which the scan applies
    /// first because it reads only the two blur levels the scan has just read), also beats its 18
    /// neighbours in the levels below and above and is round enough; if so its sub-pixel position,
    /// sub-level offset, interpolated response and elongation.
    fn extremum_at(&self, x: usize, y: usize, v: f32) -> Option<(f64, f64, f64, f64, f64)> {
        let Self {
            below,
            d,
            above,
            w,
            edge_limit,
            ..
        } = *self;
        for dy in 0..3 {
            for dx in 0..3 {
                let k = (y + dy - 1) * w + x + dx - 1;
                if below.at(k) >= v || above.at(k) >= v {
                    return None;
                }
            }
        }
        let at = |a: Dog<'_>, yy: usize, xx: usize| f64::from(a.at(yy * w + xx));
        let v = f64::from(v);
        let dxx = at(d, y, x + 1) + at(d, y, x - 1) - 2.0 * v;
        let dyy = at(d, y + 1, x) + at(d, y - 1, x) - 2.0 * v;
        let dxy = 0.25
            * (at(d, y + 1, x + 1) - at(d, y + 1, x - 1) - at(d, y - 1, x + 1)
                + at(d, y - 1, x - 1));
        let det = dxx * dyy - dxy * dxy;
        let trace = dxx + dyy;
        if det <= 0.0 || trace * trace / det >= edge_limit {
            return None;
        }
        // Solve (r + 1)²/r = t for r ≥ 1: r = (t − 2 + √(t² − 4t)) / 2.
        let t = (trace * trace / det).max(4.0);
        let elongation = 0.5 * (t - 2.0 + (t * t - 4.0 * t).sqrt());
        let parabola = |minus: f64, plus: f64| -> f64 {
            let curvature = minus - 2.0 * v + plus;
            if curvature < 0.0 {
                (0.5 * (minus - plus) / curvature).clamp(-0.5, 0.5)
            } else {
                0.0
            }
        };
        let ox = parabola(at(d, y, x - 1), at(d, y, x + 1));
        let oy = parabola(at(d, y - 1, x), at(d, y + 1, x));
        let (sm, sp) = (at(below, y, x), at(above, y, x));
        let os = parabola(sm, sp);
        let response = v - 0.25 * (sm - sp) * os;
        Some((x as f64 + ox, y as f64 + oy, os, response, elongation))
    }
}

/// Bit i set where `(upper[i] − lower[i])·inv > bound`, for a run of at most [`SCAN_RUN`] pixels.
/// A whole run is written over a fixed-size array, which LLVM turns into a vector compare and a
/// mask move; a shorter run (a tile's last) takes the same test pixel by pixel.
#[inline(always)]
fn over_bound(upper: &[f32], lower: &[f32], inv: f32, bound: f32) -> u32 {
    const _: () = assert!(SCAN_RUN <= 32, "the mask is a u32");
    if let (Ok(upper), Ok(lower)) = (
        <&[f32; SCAN_RUN]>::try_from(upper),
        <&[f32; SCAN_RUN]>::try_from(lower),
    ) {
        let mut mask = 0u32;
        for i in 0..SCAN_RUN {
            mask |= u32::from((upper[i] - lower[i]) * inv > bound) << i;
        }
        return mask;
    }
    upper
        .iter()
        .zip(lower)
        .enumerate()
        .fold(0u32, |mask, (i, (&a, &b))| {
            mask | (u32::from((a - b) * inv > bound) << i)
        })
}

/// Whether `v = d(x, y)` beats its 8 neighbours in its own level (ties go to the first in raster
/// order): the first half of the extremum test, which the scan applies as it reads;
/// [`LevelScan::extremum_at`] does the rest for the peaks it finds.
#[inline]
fn peak_in_level(d: Dog<'_>, w: usize, x: usize, y: usize, v: f32) -> bool {
    for dy in 0..3 {
        for dx in 0..3 {
            let n = d.at((y + dy - 1) * w + x + dx - 1);
            let earlier = (dy, dx) < (1, 1);
            if (dy, dx) != (1, 1) && (n > v || (earlier && n == v)) {
                return false;
            }
        }
    }
    true
}

/// The detector's size calibration: peak scale → half-depth radius and response per unit depth,
/// measured by running [`detect`] on ideal soft disks.
#[derive(Debug, Clone)]
pub struct Calibration {
    /// `(ln σ, radius, response per unit depth)`, increasing in σ.
    table: Vec<(f64, f64, f64)>,
}

/// Radii rendered directly; beyond the last, the octave structure is self-similar (every octave from
/// the second on sees its input through the same block average and blur schedule), so σ and the
/// response double-and-stay.
const CALIBRATION_RADII: (f64, f64, usize) = (0.6, 24.0, 48);

impl Calibration {
    /// The calibration of this detector with inner scale `inner_sigma` (px), computed on first use of
    /// that inner scale (once per process each: 35–45 ms on two cores, 64–74 ms on one, on the Xeon
    /// machine, with or without an inner scale). Callers quantise the inner scale (see
    /// [`crate::metrics::MetricOptions::detect_options`]), so a batch needs a handful.
    /// Safe to call from inside parallel work.
    #[must_use]
    pub fn get(inner_sigma: f32) -> Arc<Self> {
        static TABLES: Mutex<BTreeMap<u32, Arc<OnceLock<Arc<Calibration>>>>> =
            Mutex::new(BTreeMap::new());
        // The map's lock is held only to find the cell, never while a table is measured: photos of
        // other inner scales go on, and those of the same one wait in the cell's own initialisation.
        let cell = {
            let mut tables = TABLES
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            Arc::clone(tables.entry(inner_sigma.to_bits()).or_default())
        };
        Arc::clone(cell.get_or_init(|| Arc::new(Self::measure_isolated(inner_sigma))))
    }

    /// [`Self::measure`] on threads of its own. The detector it runs is parallel, and a rayon worker
    /// that made the table itself would, while waiting for those parallel pieces, pick up other queued
    /// jobs: one of them (another photo's measurement) could call [`Self::get`] on the same thread,
    /// inside the once-cell's own initialisation, which deadlocks. A separate OS thread driving a
    /// private pool runs nothing but the calibration; the callers just wait for it.
    fn measure_isolated(inner_sigma: f32) -> Self {
        let threads = rayon::current_num_threads();
        let outcome = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    rayon::ThreadPoolBuilder::new()
                        .num_threads(threads)
                        .build()
                        .map(|pool| pool.install(|| Self::measure(inner_sigma)))
                        .ok()
                })
                .join()
        });
        match outcome {
            Ok(Some(table)) => table,
            // No threads to be had: measure here, as a plain caller would.
            Ok(None) => Self::measure(inner_sigma),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }

    fn measure(inner_sigma: f32) -> Self {
        let (r0, r1, n) = CALIBRATION_RADII;
        let mut table: Vec<(f64, f64, f64)> = (0..n)
            .into_par_iter()
            .filter_map(|j| {
                let radius = r0 * (r1 / r0).powf(j as f64 / (n - 1) as f64);
                let phases = [(0.0, 0.0), (0.5, 0.5), (0.25, 0.0), (0.0, 0.375)];
                let mut found = Vec::new();
                for (px, py) in phases {
                    if let Some(b) = ideal_blob(radius, px, py, inner_sigma) {
                        found.push(b);
                    }
                }
                if found.is_empty() {
                    return None;
                }
                let m = found.len() as f64;
                let log_sigma = found.iter().map(|b| b.sigma.ln()).sum::<f64>() / m;
                let response = found.iter().map(|b| b.response).sum::<f64>() / m;
                Some((log_sigma, radius, response))
            })
            .collect();
        // Below about 1.1 px a disk is no longer resolved: its peak scale stops following its radius.
        // Keep the run, from the largest radius down, where σ keeps shrinking in step with R.
        table.sort_by(|a, b| a.1.total_cmp(&b.1));
        let mut start = table.len().saturating_sub(1);
        while start > 0 {
            let ratio = (table[start].0 - table[start - 1].0).exp();
            if !(1.02..1.3).contains(&ratio) {
                break;
            }
            start -= 1;
        }
        table.drain(..start);
        Self { table }
    }

    /// Half-depth radius and depth of a blob, in input pixels and height units; `None` when its scale
    /// is below the calibrated range (smaller than the detector resolves).
    #[must_use]
    pub fn size_and_depth(&self, blob: &Blob) -> Option<(f64, f64)> {
        let first = self.table.first()?;
        let last = self.table.last()?;
        let mut log_sigma = blob.sigma.ln();
        if log_sigma < first.0 {
            return None;
        }
        // Self-similar beyond the table: scale by powers of two.
        let mut factor = 1.0;
        while log_sigma > last.0 {
            log_sigma -= std::f64::consts::LN_2;
            factor *= 2.0;
        }
        let j = self.table.partition_point(|e| e.0 <= log_sigma);
        let (a, b) = match j {
            0 => (first, first),
            j if j >= self.table.len() => (last, last),
            j => (&self.table[j - 1], &self.table[j]),
        };
        let t = if b.0 > a.0 {
            (log_sigma - a.0) / (b.0 - a.0)
        } else {
            0.0
        };
        let radius = factor * (a.1 + t * (b.1 - a.1));
        let unit_response = a.2 + t * (b.2 - a.2);
        (unit_response > 0.0).then(|| (radius, blob.response / unit_response))
    }

    /// The calibration table (for tests): `(σ, radius, response per unit depth)`.
    #[must_use]
    pub fn entries(&self) -> Vec<(f64, f64, f64)> {
        self.table.iter().map(|e| (e.0.exp(), e.1, e.2)).collect()
    }
}

/// Renders a unit-depth soft disk of `radius` centred at `(c + px, c + py)`, integrated over each
/// pixel, and returns the blob the detector finds nearest its centre.
fn ideal_blob(radius: f64, px: f64, py: f64, inner_sigma: f32) -> Option<Blob> {
    let side = ((3.5 * radius).ceil() as usize * 2 + 9).max(24);
    let c = (side / 2) as f64;
    let (cx, cy) = (c + px, c + py);
    let img = Array2::from_shape_fn((side, side), |(y, x)| {
        -soft_disk_coverage(x, y, cx, cy, radius) as f32
    });
    let options = DetectOptions {
        octaves: octaves_for(radius),
        min_snr: 0.0,
        max_elongation: 10.0,
        min_depth: 0.0,
        inner_sigma,
    };
    detect(img.view(), &options, &|_: f64, _: f64| true)
        .into_iter()
        .filter(|b| (b.x - cx).hypot(b.y - cy) < 0.5 * radius + 1.0)
        .max_by(|a, b| a.response.total_cmp(&b.response))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// σ²∇²G at `(x0, y0)` by its definition: the kernel (q − 1)·e^(−q) sampled at every pixel of the
    /// window, made zero-sum, in f64 throughout; with the sum of |kernel·value| that bounds the
    /// rounding of any order of summation.
    fn log_response_naive(plane: &Array2<f32>, x0: f64, y0: f64, sigma: f64) -> (f64, f64) {
        let reach = (4.0 * sigma).ceil().max(2.0);
        let (xa, xb) = ((x0 - reach).floor() as usize, (x0 + reach).ceil() as usize);
        let (ya, yb) = ((y0 - reach).floor() as usize, (y0 + reach).ceil() as usize);
        let (mut kv, mut k, mut v, mut n, mut magnitude) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for y in ya..=yb {
            for x in xa..=xb {
                let q = ((x as f64 - x0).powi(2) + (y as f64 - y0).powi(2)) / (2.0 * sigma * sigma);
                let kernel = (q - 1.0) * (-q).exp();
                let value = f64::from(plane[[y, x]]);
                kv += kernel * value;
                k += kernel;
                v += value;
                n += 1.0;
                magnitude += (kernel * value).abs();
            }
        }
        let norm = std::f64::consts::PI * sigma * sigma;
        ((kv - k * v / n) / norm, magnitude / norm)
    }

    /// The refinement's responses match the definition, whichever scales are computed together, and a
    /// window that leaves the plane is `None` for its own scale only.
    #[test]
    fn log_responses_match_the_definition() {
        let (h, w) = (120, 150);
        // A deterministic rough plane with a dark blob: values of both signs and a level to cancel.
        let plane = Array2::from_shape_fn((h, w), |(y, x)| {
            let (fx, fy) = (x as f32, y as f32);
            2.0 + 0.3 * (0.37 * fx).sin() * (0.23 * fy).cos() + 0.1 * ((fx * fy) % 7.0)
                - 0.5 * (-((fx - 70.0).powi(2) + (fy - 60.0).powi(2)) / 50.0).exp()
        });
        let points = [(70.2, 60.7), (33.5, 81.25), (110.0, 20.9)];
        let sigmas = [0.7, 1.6, 3.3, 6.1, 11.0];
        // One scratch for every call, as on a worker: each window reuses buffers of other sizes.
        let mut scratch = LogScratch::default();
        for &(x0, y0) in &points {
            let mut together = [None; 5];
            log_responses(plane.view(), (x0, y0), &sigmas, &mut together, &mut scratch);
            for (&sigma, &joint) in sigmas.iter().zip(&together) {
                let mut alone = [None];
                log_responses(plane.view(), (x0, y0), &[sigma], &mut alone, &mut scratch);
                assert_eq!(joint.map(f64::to_bits), alone[0].map(f64::to_bits));
                let reach = (4.0 * sigma).ceil().max(2.0);
                let inside = x0 - reach >= 0.0
                    && y0 - reach >= 0.0
                    && x0 + reach <= (w - 1) as f64
                    && y0 + reach <= (h - 1) as f64;
                assert_eq!(joint.is_some(), inside, "σ = {sigma} at ({x0}, {y0})");
                if let Some(response) = joint {
                    let (expected, magnitude) = log_response_naive(&plane, x0, y0, sigma);
                    assert!(
                        (response - expected).abs() <= 1e-5 * magnitude,
                        "σ = {sigma} at ({x0}, {y0}): {response} against {expected}"
                    );
                }
            }
        }
    }

    /// The written-out scale step is 2^(1/3) as the run-time `powf` gives it, and `powi_exact` is the
    /// run-time `powi`.
    #[test]
    fn scale_step_and_powers_match_the_run_time_routines() {
        let (two, third) = std::hint::black_box((2f32, 1.0f32 / SCALES as f32));
        assert_eq!(SCALE_STEP.to_bits(), two.powf(third).to_bits());
        for n in 0..40u32 {
            let k = std::hint::black_box(SCALE_STEP);
            let n_run = std::hint::black_box(n as i32);
            assert_eq!(
                powi_exact(SCALE_STEP, n).to_bits(),
                k.powi(n_run).to_bits(),
                "n {n}"
            );
        }
    }

    /// [`suppress_duplicates`] by its definition: every stronger blob kept so far is compared with
    /// the new one, no grid.
    fn suppress_duplicates_naive(mut blobs: Vec<Blob>) -> Vec<Blob> {
        blobs.sort_by(strongest_first);
        let mut kept: Vec<Blob> = Vec::new();
        for b in blobs {
            let duplicate = kept.iter().any(|k| {
                k.sigma.max(b.sigma) < 1.5 * k.sigma.min(b.sigma)
                    && (k.x - b.x).hypot(k.y - b.y) < 1.2 * k.sigma.max(b.sigma)
            });
            if !duplicate {
                kept.push(b);
            }
        }
        kept.sort_by(by_position);
        kept
    }

    /// Blobs the grid cannot place (NaN, infinite, absurdly far or absurdly large) and blobs
    /// spread far apart neither panic nor change the answer of the definition.
    #[test]
    fn suppression_takes_any_coordinates() {
        let blob = |x: f64, y: f64, sigma: f64, response: f64| Blob {
            x,
            y,
            sigma,
            response,
            noise: 0.1,
            elongation: 1.0,
        };
        let blobs = vec![
            blob(10.0, 10.0, 2.0, 0.5),
            blob(11.0, 10.0, 2.1, 0.4),
            blob(f64::NAN, 3.0, 2.0, 0.9),
            blob(f64::INFINITY, 3.0, 2.0, 0.8),
            blob(f64::INFINITY, 3.0, 2.0, 0.7),
            blob(1e300, -1e300, 2.0, 0.6),
            blob(1e14, 1e14, 2.0, 0.3),
            blob(1e14 + 1.0, 1e14, 2.0, 0.2),
            blob(-5e13, 7.0, 1e200, 0.35),
            blob(12.0, 10.0, f64::INFINITY, 0.45),
            blob(12.0, 10.0, f64::NAN, 0.44),
        ];
        assert_eq!(
            format!("{:?}", suppress_duplicates(blobs.clone())),
            format!("{:?}", suppress_duplicates_naive(blobs))
        );
    }

    proptest! {
        /// The grid finds every neighbour that could make a blob a duplicate: the same blobs stay as
        /// when each is compared with all stronger ones, for crowded and sparse blobs of any scale,
        /// also a little outside the plane (sub-pixel offsets at its edge).
        #[test]
        fn suppression_grid_matches_all_pairs(
            blobs in proptest::collection::vec(
                (-2.0f64..300.0, -2.0f64..200.0, 0.5f64..60.0, 0.0f64..1.0),
                0..300,
            )
        ) {
            let blobs: Vec<Blob> = blobs
                .into_iter()
                .map(|(x, y, sigma, response)| Blob {
                    x,
                    y,
                    sigma,
                    response,
                    noise: 0.1,
                    elongation: 1.0,
                })
                .collect();
            prop_assert_eq!(
                suppress_duplicates(blobs.clone()),
                suppress_duplicates_naive(blobs)
            );
        }
    }

    /// The shortcuts for pixels wholly outside the wall or inside the floor give the 16-sample mean
    /// bit for bit, at every phase and size (down to disks smaller than a pixel).
    #[test]
    fn coverage_shortcuts_equal_the_sampled_mean() {
        for radius in [0.0, 0.3, 0.6, 1.0, 1.7, 2.5, 4.0, 9.3, 24.0] {
            for (px, py) in [(0.0, 0.0), (0.5, 0.5), (0.25, 0.0), (0.13, 0.71)] {
                let (cx, cy) = (40.0 + px, 40.0 + py);
                for y in 0..81 {
                    for x in 0..81 {
                        let fast = soft_disk_coverage(x, y, cx, cy, radius);
                        let full = sampled_coverage(x, y, cx, cy, radius);
                        assert_eq!(fast.to_bits(), full.to_bits(), "R {radius} at ({x}, {y})");
                    }
                }
            }
        }
    }

    /// The inner scale of the default options at the nominal 0.05 mm/px, rounded as
    /// `MetricOptions::detect_options` rounds it.
    fn nominal_inner() -> f32 {
        let options = crate::metrics::MetricOptions::default();
        options
            .detect_options(1.0 / crate::metrics::NOMINAL_MM_PER_PX)
            .inner_sigma
    }

    #[test]
    fn calibration_is_monotone_and_covers_pores_to_scars() {
        for inner in [0.0, nominal_inner()] {
            let cal = Calibration::get(inner);
            let e = cal.entries();
            assert!(e.len() >= 40, "inner {inner}: {e:?}");
            for pair in e.windows(2) {
                assert!(
                    pair[1].1 > pair[0].1,
                    "inner {inner}: radius not increasing in σ: {pair:?}"
                );
            }
            // The smallest pore the metrics count, 0.12 mm across, is 1.2 px in radius at 0.05 mm/px.
            assert!(
                e[0].1 <= 1.2,
                "inner {inner}: pores of 1.2 px radius must be resolved: {e:?}"
            );
            // A flat disk's normalised Laplacian peaks at σ = R/√2 (Lindeberg 1998); once pixels and
            // the inner blur are small against the disk, the soft edge moves that by little.
            for &(sigma, radius, _) in e.iter().filter(|e| e.1 > 8.0) {
                let ratio = radius / sigma;
                assert!(
                    (ratio - 2f64.sqrt()).abs() < 0.05,
                    "inner {inner}: R/σ = {ratio} at R = {radius}"
                );
            }
        }
    }

    /// Blobs of known radius and depth on a flat plane, at radii between the table's nodes and beyond
    /// it (self-similar range), without and with the default inner scale: the calibrated size and
    /// depth come back.
    #[test]
    fn recovers_radius_and_depth_of_soft_disks() {
        for inner_sigma in [0.0, nominal_inner()] {
            let cal = Calibration::get(inner_sigma);
            for (radius, depth) in [
                (1.3, 0.1),
                (2.7, 0.2),
                (5.0, 0.05),
                (11.0, 0.3),
                (40.0, 0.2),
            ] {
                let side = (radius * 8.0) as usize + 40;
                let (cx, cy) = (side as f64 / 2.0 + 0.3, side as f64 / 2.0 - 0.2);
                let img = Array2::from_shape_fn((side, side), |(y, x)| {
                    (0.3 - depth * soft_disk_coverage(x, y, cx, cy, radius)) as f32
                });
                let options = DetectOptions {
                    octaves: octaves_for(radius * 1.5),
                    min_snr: 0.0,
                    max_elongation: 3.0,
                    min_depth: 0.0,
                    inner_sigma,
                };
                let blob = detect(img.view(), &options, &|_: f64, _: f64| true)
                    .into_iter()
                    .max_by(|a, b| a.response.total_cmp(&b.response))
                    .unwrap();
                let context = format!("inner {inner_sigma}, R {radius}: {blob:?}");
                assert!(
                    (blob.x - cx).hypot(blob.y - cy) < 0.1 * radius + 0.3,
                    "{context}"
                );
                let (r, d) = cal.size_and_depth(&blob).expect(&context);
                assert!((r / radius - 1.0).abs() < 0.05, "R {r}; {context}");
                assert!(
                    (d / depth - 1.0).abs() < 0.05,
                    "depth {d} vs {depth}; {context}"
                );
            }
        }
    }

    #[test]
    fn elongated_valleys_are_not_blobs() {
        // A dark line (a wrinkle or a hair) 2 px wide: no blob along it.
        let img = Array2::from_shape_fn((64, 64), |(y, x)| {
            let d = (x as f64 - 0.3 * y as f64 - 20.0).abs();
            (0.5 - 0.2 * (-d * d / 2.0).exp()) as f32
        });
        for inner_sigma in [0.0, nominal_inner()] {
            let options = DetectOptions {
                octaves: 3,
                min_snr: 0.0,
                max_elongation: 3.0,
                min_depth: 0.0,
                inner_sigma,
            };
            let found: Vec<Blob> = detect(img.view(), &options, &|_: f64, _: f64| true)
                .into_iter()
                .filter(|b| b.x > 8.0 && b.x < 56.0 && b.y > 8.0 && b.y < 56.0)
                .collect();
            assert!(found.is_empty(), "inner {inner_sigma}: {found:?}");
        }
    }

    /// The noise samples are the definition's: per tile, in raster order, every fourth pixel of
    /// every fourth row whose input-pixel position (octave px × `step`) the region accepts; for a
    /// plane whose sides are not multiples of the tile.
    #[test]
    fn noise_samples_are_every_fourth_accepted_pixel_per_tile() {
        let (h, w) = (150, 203);
        let step = 2.0;
        let disc = |x: f64, y: f64| (x - 180.0).hypot(y - 140.0) < 120.0;
        let samples = noise_samples((h, w), step, &disc);
        let (th, tw) = (h.div_ceil(NOISE_TILE), w.div_ceil(NOISE_TILE));
        assert_eq!(samples.len(), th * tw);
        let mut accepted = 0;
        for (t, tile) in samples.iter().enumerate() {
            let (ty, tx) = (t / tw, t % tw);
            let mut expected = Vec::new();
            for y in (ty * NOISE_TILE..((ty + 1) * NOISE_TILE).min(h)).step_by(4) {
                for x in (tx * NOISE_TILE..((tx + 1) * NOISE_TILE).min(w)).step_by(4) {
                    if disc(step * x as f64, step * y as f64) {
                        expected.push(y * w + x);
                    }
                }
            }
            assert_eq!(tile, &expected, "tile {t}");
            accepted += tile.len();
        }
        // The disc cuts through tiles: some samples in, some out.
        assert!(accepted > 100 && accepted < (h / 4) * (w / 4), "{accepted}");
    }

    #[test]
    fn detection_does_not_depend_on_threads() {
        let img = crate::kernels::testutil::textured(300, 257, 5);
        let options = DetectOptions {
            octaves: 4,
            min_snr: 2.0,
            max_elongation: 3.0,
            min_depth: 0.05,
            inner_sigma: 0.0,
        };
        let run = || detect(img.view(), &options, &|x: f64, _: f64| x < 200.0);
        let inner = DetectOptions {
            inner_sigma: nominal_inner(),
            ..options
        };
        let run_inner = || detect(img.view(), &inner, &|x: f64, _: f64| x < 200.0);
        let one_inner = crate::kernels::testutil::with_threads(1, run_inner);
        assert!(!one_inner.is_empty());
        let one = crate::kernels::testutil::with_threads(1, run);
        assert!(!one.is_empty());
        for threads in [2, 7] {
            assert_eq!(one, crate::kernels::testutil::with_threads(threads, run));
            let other = crate::kernels::testutil::with_threads(threads, run_inner);
            assert_eq!(one_inner, other);
        }
    }
}
