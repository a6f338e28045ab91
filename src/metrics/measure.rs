//! One photo's measurement: every pixel's contribution, kept per block so any region can be summed.
//!
//! A session photo is measured in its own pixel grid (no resampling: interpolation would smooth its
//! texture and read as improvement); only the positions are mapped into the baseline frame. The photo
//! is cut into blocks of one mask cell's side; each block keeps the roughness sums of its pixels and
//! the baseline cell its centre falls in. Pores and scars keep their baseline positions. Which blocks
//! and depressions count is decided later, once the mask common to all sessions is known
//! ([`super::summarise_view`]), so every photo is decoded once and dropped after this pass.

use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;

use super::blobs::{self, Calibration};
use super::pigment;
use super::region::{Frame, MappedSkin};
use super::roughness::SurfaceSums;
use super::surface::{SIGMA_PER_CUTOFF, height_map, remove_reference, s_filter};
use super::{MetricOptions, Scale};
use crate::align::geometry::Affine;

/// Block index meaning "centre outside the baseline frame".
pub const OUTSIDE: u32 = u32::MAX;

/// A round depression (pore or scar) in baseline coordinates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Depression {
    /// Centre, baseline px.
    pub x: f64,
    /// Centre, baseline px.
    pub y: f64,
    /// Half-depth diameter, baseline px.
    pub diameter_px: f64,
    /// Depth in log-luminance (contrast = 1 − e^(−depth)).
    pub depth: f64,
    /// Response over the local spread of its scale.
    pub snr: f64,
}

/// What one photo contributes.
#[derive(Debug, Clone)]
pub struct Measurement {
    /// Map from this photo's pixels to the baseline's.
    pub to_baseline: Affine,
    /// Photo size (width, height).
    pub size: (usize, usize),
    /// Margin (this photo's px) the filters need from its edge.
    pub margin_px: f64,
    /// Roughness sums per block, row-major over the photo's block grid.
    pub blocks: Vec<SurfaceSums>,
    /// The baseline cell each block's centre falls in ([`OUTSIDE`] if none).
    pub block_cells: Vec<u32>,
    /// Pores found anywhere in the photo.
    pub pores: Vec<Depression>,
    /// Scars found anywhere in the photo.
    pub scars: Vec<Depression>,
}

/// Measures one photo. `luminance` is linear; `colour` is the photo's linear colour at half resolution
/// (the scars' colour contrast, see [`super::pigment`]); `slope` is the photometric map's luminance slope (1 for
/// the baseline), `to_baseline` the registration (identity for the baseline).
#[must_use]
pub fn measure(
    luminance: ArrayView2<'_, f32>,
    colour: &pigment::HalfColour,
    frame: &Frame,
    scale: &Scale,
    to_baseline: &Affine,
    slope: f64,
    options: &MetricOptions,
) -> Measurement {
    let (h, w) = luminance.dim();
    // One pixel of this photo is `s` baseline pixels.
    let s = to_baseline.scale();
    let px_per_mm = 1.0 / (scale.mm_per_px() * s);
    let s_cutoff = options.s_filter_mm * px_per_mm;
    let l_cutoff = options.l_filter_mm * px_per_mm;
    let margin_px = 3.0 * SIGMA_PER_CUTOFF * l_cutoff + 2.0;

    let height = height_map(luminance, slope as f32);
    let z = {
        let smoothed = s_filter(height.view(), s_cutoff);
        remove_reference(smoothed, l_cutoff, MappedSkin::new(frame, *to_baseline))
    };
    // Gradients per lateral unit: per mm when calibrated, else per baseline px.
    let per_unit = if scale.calibrated() {
        px_per_mm
    } else {
        1.0 / s
    };
    let (blocks, block_cells) = block_sums(z.view(), frame, to_baseline, per_unit);
    drop(z);

    // The detector takes the height over: its inner blur then replaces the plane, not doubles it.
    let (pores, scars) = depressions(height, colour, frame, to_baseline, px_per_mm, s, options);
    Measurement {
        to_baseline: *to_baseline,
        size: (w, h),
        margin_px,
        blocks,
        block_cells,
        pores,
        scars,
    }
}

/// Roughness sums per block of `frame.cell()` px, block rows in parallel; gradients are central
/// differences inside the photo, scaled by `per_unit`.
fn block_sums(
    z: ArrayView2<'_, f32>,
    frame: &Frame,
    to_baseline: &Affine,
    per_unit: f64,
) -> (Vec<SurfaceSums>, Vec<u32>) {
    let (h, w) = z.dim();
    let b = frame.cell();
    let (rows, cols) = (h.div_ceil(b), w.div_ceil(b));
    let half = (b as f64 - 1.0) / 2.0;
    // Rows as slices: indexing an ndarray row costs a bounds check and a stride multiplication per
    // access, five accesses per pixel here.
    let z = z.as_standard_layout();
    let Some(plane) = z.as_slice() else {
        // Not reached: a standard-layout array is one slice.
        return (
            vec![SurfaceSums::default(); rows * cols],
            vec![OUTSIDE; rows * cols],
        );
    };
    let row_of = |y: usize| &plane[y * w..(y + 1) * w];
    let per_row: Vec<(Vec<SurfaceSums>, Vec<u32>)> = (0..rows)
        .into_par_iter()
        .map(|by| {
            let mut lanes = vec![BlockLanes::default(); cols];
            for y in by * b..((by + 1) * b).min(h) {
                // Central differences need both neighbours: none on the first and last rows and
                // columns.
                let neighbours = (y > 0 && y + 1 < h).then(|| (row_of(y - 1), row_of(y + 1)));
                add_row(row_of(y), neighbours, b, per_unit, &mut lanes);
            }
            let sums = lanes.iter().map(BlockLanes::total).collect();
            let cells = (0..cols)
                .map(|bx| {
                    let (cx, cy) = ((bx * b) as f64 + half, (by * b) as f64 + half);
                    let (px, py) = to_baseline.apply(cx, cy);
                    frame.cell_index(px, py).unwrap_or(OUTSIDE)
                })
                .collect();
            (sums, cells)
        })
        .collect();
    let mut blocks = Vec::with_capacity(rows * cols);
    let mut cells = Vec::with_capacity(rows * cols);
    for (s, c) in per_row {
        blocks.extend(s);
        cells.extend(c);
    }
    (blocks, cells)
}

/// f64 lanes of [`BlockLanes`]: one AVX-512 register.
const LANES: usize = 8;

/// One block's roughness sums, kept in [`LANES`] partial sums each so that a row's pixels are added
/// with vector instructions (the per-pixel `SurfaceSums::add_height` / `add_gradient`, scalar f64 with
/// a square root, took 29–37 ms of a 12 MP photo's metrics on two threads). Only the order of the f64
/// additions differs from adding the pixels one by one.
#[derive(Debug, Clone, Copy, Default)]
struct BlockLanes {
    heights: usize,
    gradients: usize,
    abs: [f64; LANES],
    z2: [f64; LANES],
    z3: [f64; LANES],
    z4: [f64; LANES],
    g2: [f64; LANES],
    developed: [f64; LANES],
}

impl BlockLanes {
    /// Adds up to [`LANES`] heights, one per lane.
    #[inline(always)]
    fn add_heights(&mut self, values: &[f32]) {
        for (l, &v) in values.iter().enumerate().take(LANES) {
            let v = f64::from(v);
            let v2 = v * v;
            self.abs[l] += v.abs();
            self.z2[l] += v2;
            self.z3[l] += v2 * v;
            self.z4[l] += v2 * v2;
        }
    }

    /// Adds up to [`LANES`] central-difference gradients, one per lane, from the values left,
    /// right, above and below each pixel.
    #[inline(always)]
    fn add_gradients(
        &mut self,
        left: &[f32],
        right: &[f32],
        up: &[f32],
        down: &[f32],
        per_unit: f64,
    ) {
        for (l, (((&a, &b), &c), &d)) in left
            .iter()
            .zip(right)
            .zip(up)
            .zip(down)
            .enumerate()
            .take(LANES)
        {
            let gx = 0.5 * (f64::from(b) - f64::from(a)) * per_unit;
            let gy = 0.5 * (f64::from(d) - f64::from(c)) * per_unit;
            let g2 = gx * gx + gy * gy;
            self.g2[l] += g2;
            self.developed[l] += (1.0 + g2).sqrt() - 1.0;
        }
    }

    fn total(&self) -> SurfaceSums {
        let sum = |lanes: &[f64; LANES]| lanes.iter().sum::<f64>();
        SurfaceSums {
            n: self.heights as f64,
            abs: sum(&self.abs),
            z2: sum(&self.z2),
            z3: sum(&self.z3),
            z4: sum(&self.z4),
            gradients: self.gradients as f64,
            g2: sum(&self.g2),
            developed: sum(&self.developed),
        }
    }
}

/// Adds row `row` to the sums of its blocks (`b` px wide, `lanes[bx]` for block `bx`): every height,
/// and where `neighbours` (the rows above and below) are given, the central-difference gradient of
/// every column but the first and last, scaled by `per_unit`.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "x86_64+sse4.1"
))]
fn add_row(
    row: &[f32],
    neighbours: Option<(&[f32], &[f32])>,
    b: usize,
    per_unit: f64,
    lanes: &mut [BlockLanes],
) {
    let w = row.len();
    for (bx, acc) in lanes.iter_mut().enumerate() {
        // x0 < x1: there are w.div_ceil(b) blocks.
        let (x0, x1) = (bx * b, ((bx + 1) * b).min(w));
        acc.heights += x1 - x0;
        let (whole, rest) = row[x0..x1].as_chunks::<LANES>();
        for values in whole {
            acc.add_heights(values);
        }
        acc.add_heights(rest);
        let Some((above, below)) = neighbours else {
            continue;
        };
        let (g0, g1) = (x0.max(1), x1.min(w.saturating_sub(1)));
        if g0 >= g1 {
            continue;
        }
        acc.gradients += g1 - g0;
        let (left, left_rest) = row[g0 - 1..g1 - 1].as_chunks::<LANES>();
        let (right, right_rest) = row[g0 + 1..g1 + 1].as_chunks::<LANES>();
        let (up, up_rest) = above[g0..g1].as_chunks::<LANES>();
        let (down, down_rest) = below[g0..g1].as_chunks::<LANES>();
        for (((l, r), u), d) in left.iter().zip(right).zip(up).zip(down) {
            acc.add_gradients(l, r, u, d, per_unit);
        }
        acc.add_gradients(left_rest, right_rest, up_rest, down_rest, per_unit);
    }
}

/// Pores and scars of the pseudo-height, sized by the detector's calibration, in baseline coordinates.
/// A pore or a smaller scar inside a scar is part of that scar.
fn depressions(
    height: Array2<f32>,
    colour: &pigment::HalfColour,
    frame: &Frame,
    to_baseline: &Affine,
    px_per_mm: f64,
    s: f64,
    options: &MetricOptions,
) -> (Vec<Depression>, Vec<Depression>) {
    let detect = options.detect_options(px_per_mm);
    let calibration = Calibration::get(detect.inner_sigma);
    let pore_min_px = options.pore_min_diameter_mm * px_per_mm;
    let pore_max_px = options.pore_max_diameter_mm * px_per_mm;
    let scar_max_px = options.scar_max_diameter_mm * px_per_mm;
    let pore_min_depth = options.pore_min_depth();
    let mut pores = Vec::new();
    let mut scars = Vec::new();
    let skin = MappedSkin::new(frame, *to_baseline);
    for blob in blobs::detect_owned(height, &detect, &skin) {
        let Some((radius, depth)) = calibration.size_and_depth(&blob) else {
            continue;
        };
        let diameter = 2.0 * radius;
        let snr = if blob.noise > 0.0 {
            blob.response / blob.noise
        } else {
            f64::INFINITY
        };
        let (x, y) = to_baseline.apply(blob.x, blob.y);
        let found = Depression {
            x,
            y,
            diameter_px: diameter * s,
            depth,
            snr,
        };
        if diameter <= pore_max_px {
            if diameter >= pore_min_px
                && depth >= pore_min_depth
                && snr >= options.pore_min_snr
                && blob.elongation <= options.pore_max_elongation
            {
                pores.push(found);
            }
        } else if diameter <= scar_max_px
            && depth >= options.scar_min_depth
            && snr >= options.scar_min_snr
            && blob.elongation <= options.scar_max_elongation
        {
            // A scar is a depression: only the part of its darkening that shading explains counts
            // as depth; a freckle, a mole or a red spot is as dark to the luminance but not hollow.
            let share = colour
                .darkening(blob.x, blob.y, radius)
                .map_or(1.0, |d| pigment::shading_share(&d));
            let hollow = depth * share;
            if hollow >= options.scar_min_depth {
                // The luminance depth stays beside it for the pore-cluster test below, which weighs
                // darkness against darkness.
                scars.push((
                    Depression {
                        depth: hollow,
                        ..found
                    },
                    depth,
                ));
            }
        }
    }
    // Pores side by side read, at a coarser scale, as one larger depression. A scar candidate whose
    // darkness the pores inside it account for (half its volume — disk area × depth — or more) is
    // such a cluster: the pores stay, the candidate goes.
    let volume = |d: &Depression| d.diameter_px * d.diameter_px * d.depth;
    // Whether `d`'s centre lies within 0.65 × `c`'s diameter of `c`'s. The box test first: candidates
    // × pores is millions of pairs on textured skin, nearly all far apart (the `hypot`s were 3 % of a
    // photo's metrics); it never changes the answer.
    let within = |d: &Depression, c: &Depression| {
        let reach = 0.65 * c.diameter_px;
        (d.x - c.x).abs() < reach
            && (d.y - c.y).abs() < reach
            && (d.x - c.x).hypot(d.y - c.y) < reach
    };
    let scars: Vec<Depression> = scars
        .into_iter()
        .filter(|(c, luminance_depth)| {
            let inside: f64 = pores.iter().filter(|p| within(p, c)).map(volume).sum();
            inside < 0.5 * c.diameter_px * c.diameter_px * luminance_depth
        })
        .map(|(c, _)| c)
        .collect();
    // A depression inside a larger scar (its wall, a pit in its floor) is part of that scar.
    let inside_larger = |d: &Depression| {
        scars
            .iter()
            .any(|c| c.diameter_px > d.diameter_px && within(d, c))
    };
    pores.retain(|p| !inside_larger(p));
    let scars = scars
        .iter()
        .filter(|s| !inside_larger(s))
        .copied()
        .collect();
    (pores, scars)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::colour::srgb_to_linear;
    use crate::metrics::skin::SkinMask;
    use ndarray::Array2;

    /// A skin-coloured photo of `(h, w)` px, each pixel's colour scaled by `shade(x, y)`: its linear
    /// colour planes and luminance.
    fn skin_photo(
        (h, w): (usize, usize),
        shade: impl Fn(usize, usize) -> f32,
    ) -> ([Array2<f32>; 3], Array2<f32>) {
        let skin = [224u8, 172, 140].map(|v| srgb_to_linear(f64::from(v) / 255.0) as f32);
        let rgb: [Array2<f32>; 3] =
            std::array::from_fn(|c| Array2::from_shape_fn((h, w), |(y, x)| skin[c] * shade(x, y)));
        let luminance = Array2::from_shape_fn((h, w), |(y, x)| {
            crate::io::colour::luminance(rgb[0][[y, x]], rgb[1][[y, x]], rgb[2][[y, x]])
        });
        (rgb, luminance)
    }

    /// The lane-wise block sums equal the pixel-by-pixel definition (`SurfaceSums::add_height` and
    /// `add_gradient` at every pixel of each block) to f64 rounding, for blocks cut short by the
    /// photo's right and bottom edges and gradients missing on its border.
    #[test]
    fn block_sums_match_pixel_by_pixel_sums() {
        let (h, w) = (203, 157);
        let photo = skin_photo((h, w), |_, _| 1.0);
        let frame = Frame::new(&SkinMask::detect(&photo.0), None, 0.0, (w, h));
        let z = Array2::from_shape_fn((h, w), |(y, x)| {
            let u = crate::synth::noise::unit_from_hash(crate::synth::noise::hash2(
                9, x as i64, y as i64,
            ));
            (u - 0.45) as f32 * 0.3
        });
        let per_unit = 1.7;
        let (blocks, _) = block_sums(z.view(), &frame, &Affine::IDENTITY, per_unit);
        let b = frame.cell();
        let cols = w.div_ceil(b);
        assert_eq!(blocks.len(), h.div_ceil(b) * cols);
        for (k, got) in blocks.iter().enumerate() {
            let (by, bx) = (k / cols, k % cols);
            let mut want = SurfaceSums::default();
            for y in by * b..((by + 1) * b).min(h) {
                for x in bx * b..((bx + 1) * b).min(w) {
                    want.add_height(f64::from(z[[y, x]]));
                    if y > 0 && y + 1 < h && x > 0 && x + 1 < w {
                        let gx = 0.5 * (f64::from(z[[y, x + 1]]) - f64::from(z[[y, x - 1]]));
                        let gy = 0.5 * (f64::from(z[[y + 1, x]]) - f64::from(z[[y - 1, x]]));
                        want.add_gradient(gx * per_unit, gy * per_unit);
                    }
                }
            }
            assert_eq!(
                (got.n, got.gradients),
                (want.n, want.gradients),
                "block {k}"
            );
            // Rounding is relative to the sum of the terms' magnitudes (Σz³ has terms of both
            // signs); the other sums have non-negative terms, so for them this is relative error.
            let z3_magnitude: f64 = (by * b..((by + 1) * b).min(h))
                .flat_map(|y| (bx * b..((bx + 1) * b).min(w)).map(move |x| (y, x)))
                .map(|(y, x)| f64::from(z[[y, x]]).abs().powi(3))
                .sum();
            for (name, g, e, magnitude) in [
                ("abs", got.abs, want.abs, want.abs),
                ("z2", got.z2, want.z2, want.z2),
                ("z3", got.z3, want.z3, z3_magnitude),
                ("z4", got.z4, want.z4, want.z4),
                ("g2", got.g2, want.g2, want.g2),
                ("developed", got.developed, want.developed, want.developed),
            ] {
                assert!(
                    (g - e).abs() <= 1e-12 * magnitude,
                    "block {k} {name}: {g} vs {e}"
                );
            }
        }
    }

    /// The photo's region (its skin mask, no ROI) and its measurement as a view's baseline.
    fn measure_as_baseline(
        (rgb, luminance): &([Array2<f32>; 3], Array2<f32>),
        scale: &Scale,
        options: &MetricOptions,
    ) -> (Frame, Measurement) {
        let (h, w) = luminance.dim();
        let frame = Frame::new(
            &SkinMask::detect(rgb),
            None,
            options.filter_margin_px(scale),
            (w, h),
        );
        let m = measure(
            luminance.view(),
            &pigment::HalfColour::new(rgb),
            &frame,
            scale,
            &Affine::IDENTITY,
            1.0,
            options,
        );
        (frame, m)
    }

    /// The pore floor is in mm: on a photo at 0.02 mm/px, a clear pore of 0.09 mm (4.5 px, well above
    /// the detector's ~2.2 px limit) is found but not counted, one of 0.16 mm is counted; with the floor
    /// at 0 both are counted, so it is the floor that drops the small one. The detector's inner scale
    /// is set to 0.01 mm (0.5 px) in both runs: the default 0.045 mm would itself blur a 0.09 mm pore
    /// below what the detector resolves, and this test is about the floor.
    #[test]
    fn pores_below_the_diameter_floor_are_not_counted() {
        // (centre x, centre y, half-depth diameter px) at contrast 25 %, on faint texture.
        let pores = [(100.0, 150.0, 4.5), (200.0, 150.0, 8.0)];
        let photo = skin_photo((300, 300), |x, y| {
            let hash = crate::synth::noise::hash2(3, x as i64, y as i64);
            let texture = 1.0 + 0.01 * (crate::synth::noise::unit_from_hash(hash) - 0.5);
            let depth: f64 = pores
                .iter()
                .map(|&(cx, cy, d)| 0.25 * blobs::soft_disk_coverage(x, y, cx, cy, d / 2.0))
                .sum();
            (texture * (1.0 - depth)) as f32
        });
        let scale = Scale::new(Some(0.02));
        let counted = |options: &MetricOptions| {
            let (_, m) = measure_as_baseline(&photo, &scale, options);
            pores.map(|(cx, cy, _)| {
                m.pores
                    .iter()
                    .find(|p| (p.x - cx).hypot(p.y - cy) < 1.0)
                    .map(|p| p.diameter_px)
            })
        };
        let defaults = MetricOptions {
            detector_inner_sigma_mm: 0.01,
            ..MetricOptions::default()
        };
        assert!((defaults.pore_min_diameter_mm - 0.12).abs() < 1e-12);
        let [small, large] = counted(&defaults);
        assert_eq!(small, None, "0.09 mm pore counted");
        let large = large.expect("0.16 mm pore not counted");
        assert!(
            (large / 8.0 - 1.0).abs() < 0.1,
            "diameter {large} px, true 8"
        );
        let [small, _] = counted(&MetricOptions {
            pore_min_diameter_mm: 0.0,
            ..defaults
        });
        let small = small.expect("0.09 mm pore not found without the floor");
        assert!(
            (small / 4.5 - 1.0).abs() < 0.1,
            "diameter {small} px, true 4.5"
        );
    }

    /// A scar is a depression, not a pigment spot: a neutral depression and a melanin-coloured spot of
    /// the same size and luminance drop (25 %), side by side on faint texture. The luminance detector
    /// finds both (the control: the same photo measured with grey colour planes); with the photo's
    /// colour only the depression is a scar, at its true depth −ln 0.75.
    #[test]
    fn a_pigment_spot_is_not_a_scar() {
        let (h, w) = (400usize, 420usize);
        let radius = 20.0; // 1 mm at 0.05 mm/px: a 2 mm scar
        let (hollow, spot) = ((110.0, 200.0), (310.0, 200.0));
        let skin = [224u8, 172, 140].map(|v| srgb_to_linear(f64::from(v) / 255.0));
        let melanin = pigment::melanin();
        // Melanin amount whose full cover darkens the skin's luminance by 25 %, by bisection.
        let luminance_ratio = |m: f64| {
            let f = |c: usize| skin[c] * (-m * melanin[c]).exp();
            crate::io::colour::luminance(f(0) as f32, f(1) as f32, f(2) as f32)
                / crate::io::colour::luminance(skin[0] as f32, skin[1] as f32, skin[2] as f32)
        };
        let (mut lo, mut hi) = (0.0, 5.0);
        for _ in 0..60 {
            let mid = 0.5 * (lo + hi);
            if luminance_ratio(mid) > 0.75 {
                lo = mid
            } else {
                hi = mid
            }
        }
        let m = lo;
        let rgb: [Array2<f32>; 3] = std::array::from_fn(|c| {
            Array2::from_shape_fn((h, w), |(y, x)| {
                let hash = crate::synth::noise::hash2(5, x as i64, y as i64);
                let texture = 1.0 + 0.01 * (crate::synth::noise::unit_from_hash(hash) - 0.5);
                let dent = blobs::soft_disk_coverage(x, y, hollow.0, hollow.1, radius);
                let pigment = blobs::soft_disk_coverage(x, y, spot.0, spot.1, radius);
                (skin[c] * texture * (1.0 - 0.25 * dent) * (-m * melanin[c] * pigment).exp()) as f32
            })
        });
        let luminance = Array2::from_shape_fn((h, w), |(y, x)| {
            crate::io::colour::luminance(rgb[0][[y, x]], rgb[1][[y, x]], rgb[2][[y, x]])
        });
        let scale = Scale::new(Some(0.05));
        let options = MetricOptions::default();
        let frame = Frame::new(
            &SkinMask::detect(&rgb),
            None,
            options.filter_margin_px(&scale),
            (w, h),
        );
        let scars = |planes: &[Array2<f32>; 3]| {
            let m = measure(
                luminance.view(),
                &pigment::HalfColour::new(planes),
                &frame,
                &scale,
                &Affine::IDENTITY,
                1.0,
                &options,
            );
            let near = |(x, y): (f64, f64)| {
                m.scars
                    .iter()
                    .find(|d| (d.x - x).hypot(d.y - y) < 3.0)
                    .copied()
            };
            (near(hollow), near(spot))
        };
        let grey = [luminance.clone(), luminance.clone(), luminance.clone()];
        let (hollow_grey, spot_grey) = scars(&grey);
        assert!(
            hollow_grey.is_some() && spot_grey.is_some(),
            "control: {hollow_grey:?} {spot_grey:?}"
        );
        let (found, pigment) = scars(&rgb);
        assert!(
            pigment.is_none(),
            "pigment spot counted as a scar: {pigment:?}"
        );
        let found = found.expect("depression not found");
        let true_depth = -(0.75f64).ln();
        assert!(
            (found.depth / true_depth - 1.0).abs() < 0.1,
            "depth {} vs {true_depth}",
            found.depth
        );
    }

    /// A skin-coloured photo whose left half carries fine texture three times stronger than its right
    /// half: the local Sq map says so cell by cell, and the map is the same whatever the thread count.
    #[test]
    fn local_roughness_map_follows_the_texture() {
        let (h, w) = (400usize, 600usize);
        let photo = skin_photo((h, w), |x, y| {
            let hash = crate::synth::noise::hash2(7, x as i64, y as i64);
            let n = crate::synth::noise::unit_from_hash(hash) as f32 - 0.5;
            let amplitude = if x < w / 2 { 0.15 } else { 0.05 };
            (amplitude * n).exp()
        });
        let options = MetricOptions::default();
        let scale = Scale::new(Some(0.05));
        let run = || {
            let (frame, m) = measure_as_baseline(&photo, &scale, &options);
            let everywhere = Array2::from_elem(frame.dim(), true);
            let map = crate::metrics::tiles::local_sq(&frame, &everywhere, &m, 0);
            (map, frame.cell())
        };
        let (map, cell) = crate::kernels::testutil::with_threads(1, run);
        let (rows, cols) = map.dim();
        let mean_sq = |left: bool| {
            let values: Vec<f32> = (rows / 4..3 * rows / 4)
                .flat_map(|i| (0..cols).map(move |j| (i, j)))
                .filter(|&(_, j)| {
                    let x = j * cell;
                    if left {
                        x + 40 < w / 2 && x > 40
                    } else {
                        x > w / 2 + 40 && x + 40 < w
                    }
                })
                .map(|(i, j)| map[[i, j]])
                .collect();
            values.iter().sum::<f32>() / values.len() as f32
        };
        let (left, right) = (mean_sq(true), mean_sq(false));
        assert!(
            (left / right - 3.0).abs() < 0.3,
            "left {left}, right {right}, ratio {}",
            left / right
        );
        let (two, _) = crate::kernels::testutil::with_threads(2, run);
        assert!(
            map.iter()
                .zip(&two)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "1 vs 2 threads"
        );
    }
}
