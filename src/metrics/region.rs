//! The measured region of a view: one mask in the baseline frame, shared by every session.
//!
//! Skin (the colour mask of [`super::skin`] within the face of [`super::face`], without brows,
//! lashes, hair and other skin-coloured features, [`super::skin::SkinMask::without_features`]) ∩ the
//! ROI from `series.toml` ([`BaselineRegion`] puts these together), eroded so that no measured
//! pixel's filters reach hair, eyes or background, then ∩ the part of the baseline
//! that every measured session photographed (decided once all sessions are registered,
//! [`Frame::common_cells`]). All sessions are measured on exactly these cells, so a change between
//! sessions is a change of the same skin, not of the framing. The mask lives on the skin mask's grid
//! (cells of a few pixels): finer than any mask edge in a photo needs to be, and small enough to keep
//! per-cell sums for every session.

use ndarray::{Array2, ArrayView2};

use super::face::{FaceBox, find_face};
use super::skin::{FeatureStats, SkinMask};
use super::{MetricOptions, Scale};
use crate::align::geometry::Affine;
use crate::kernels::erode;
use crate::series::config::Roi;

/// A view's region as built from its baseline photo, and what else that photo's skin gives.
#[derive(Debug, Clone)]
pub struct BaselineRegion {
    /// The whole photo's skin (colour, without features), the face not asked: what the alignment
    /// samples its reference on.
    pub skin: SkinMask,
    /// The measured region: the skin within the face when one limits it, ∩ the roi.
    pub frame: Frame,
    /// The face that limits `frame`, when one does.
    pub face: Option<FaceBox>,
    /// Why a face that was found does not limit the region, for the report's notes.
    pub note: Option<String>,
}

impl BaselineRegion {
    /// Builds the region from the baseline photo's linear colour planes and luminance. Without an
    /// `roi` the largest face found limits it; an roi is the clinic's own choice of skin (a neck, a
    /// scar on the jaw) and is measured as given. A face with too little skin within it to measure
    /// ([`MetricOptions::min_region_px`] once eroded, on the baseline alone: a small face in a
    /// wide frame, or something that is not a face) does not limit the region either when the whole
    /// skin has enough, and `note` says so; the sessions' overlap, not known yet, may still leave
    /// too little of either. The price: a face whose skin fails the colour rule (a strong cast) in
    /// front of a skin-coloured wall gives the wall back, with the note.
    #[must_use]
    pub fn new(
        rgb: &[Array2<f32>; 3],
        luminance: ArrayView2<'_, f32>,
        scale: &Scale,
        roi: Option<Roi>,
        options: &MetricOptions,
    ) -> Self {
        let px_per_mm = 1.0 / scale.mm_per_px();
        let size = (luminance.dim().1, luminance.dim().0);
        let margin = options.filter_margin_px(scale);
        // The detector's cascade runs on one thread (Cargo.toml says why), beside the mask's
        // parallel work.
        let ((colour, stats), face) = rayon::join(
            || {
                let colour = SkinMask::detect(rgb);
                let stats = FeatureStats::new(luminance, px_per_mm, colour.factor());
                (colour, stats)
            },
            || {
                if roi.is_none() {
                    find_face(luminance)
                } else {
                    None
                }
            },
        );
        let skin = colour.without_features_by(&stats);
        let whole = Frame::new(&skin, roi, margin, size);
        let Some(face) = face else {
            return Self {
                skin,
                frame: whole,
                face: None,
                note: None,
            };
        };
        // The features are judged against the face's own skin, not a backdrop's.
        let within = colour
            .within(|x, y| face.contains(x, y))
            .without_features_by(&stats);
        let frame = Frame::new(&within, roi, margin, size);
        let (face_area, whole_area) = (frame.candidate_area_px(), whole.candidate_area_px());
        if face_area >= options.min_region_px || whole_area < options.min_region_px {
            // Enough skin within the face, or too little either way (the face's region then, and
            // its error later).
            return Self {
                skin,
                frame,
                face: Some(face),
                note: None,
            };
        }
        let note = format!(
            "a face was found in the baseline photo (box {:.0} px at ({:.0}, {:.0})) with too little \
             skin within it to measure ({face_area:.0} px, at least {:.0} needed); the region is the \
             photo's skin-coloured surface",
            face.side, face.x, face.y, options.min_region_px
        );
        Self {
            skin,
            frame: whole,
            face: None,
            note: Some(note),
        }
    }
}

/// A baseline-frame grid of cells: where the skin is and which cells are measured.
#[derive(Debug, Clone)]
pub struct Frame {
    /// Cell side, baseline px.
    cell: usize,
    /// Skin ∩ ROI (weights of the L-filter).
    skin: Array2<bool>,
    /// Skin ∩ ROI, eroded by the measuring margin (candidates for measurement).
    measured: Array2<bool>,
    /// Baseline photo size (width, height).
    size: (usize, usize),
}

impl Frame {
    /// Builds the frame from the baseline's skin mask, an optional ROI (baseline px) and the margin
    /// (baseline px) kept between measured pixels and the edge of the skin.
    #[must_use]
    pub fn new(skin: &SkinMask, roi: Option<Roi>, margin_px: f64, size: (usize, usize)) -> Self {
        let cell = skin.factor();
        let grid = skin.grid();
        let in_roi = |i: usize, j: usize| {
            roi.is_none_or(|r| {
                let (cx, cy) = (
                    ((j * cell) + cell / 2) as u64,
                    ((i * cell) + cell / 2) as u64,
                );
                cx >= u64::from(r.x)
                    && cy >= u64::from(r.y)
                    && cx < u64::from(r.x) + u64::from(r.width)
                    && cy < u64::from(r.y) + u64::from(r.height)
            })
        };
        let skin_grid = Array2::from_shape_fn(grid.dim(), |(i, j)| grid[[i, j]] && in_roi(i, j));
        let as_float = skin_grid.mapv(|m| if m { 1.0f32 } else { 0.0 });
        let radius = (margin_px / cell as f64).ceil() as usize;
        let eroded = erode(as_float.view(), radius);
        // The photo's own edge is an edge too (erosion reflects there, so it must be cut explicitly).
        let (rows, cols) = skin_grid.dim();
        let measured = Array2::from_shape_fn((rows, cols), |(i, j)| {
            eroded[[i, j]] > 0.5
                && i >= radius
                && j >= radius
                && i + radius < rows
                && j + radius < cols
        });
        Self {
            cell,
            skin: skin_grid,
            measured,
            size,
        }
    }

    /// Cell side, baseline px.
    #[must_use]
    pub fn cell(&self) -> usize {
        self.cell
    }

    /// Grid size (rows, columns).
    #[must_use]
    pub fn dim(&self) -> (usize, usize) {
        self.skin.dim()
    }

    /// Baseline photo size (width, height).
    #[must_use]
    pub fn size(&self) -> (usize, usize) {
        self.size
    }

    /// The cell holding baseline point `(x, y)`, as a flat index, or `None` outside the grid.
    #[must_use]
    pub fn cell_index(&self, x: f64, y: f64) -> Option<u32> {
        let c = self.cell as f64;
        let (i, j) = (y / c, x / c);
        let (rows, cols) = self.skin.dim();
        // Truncation is the floor once negatives (and NaN) are out; `f64::floor` is a libm call on
        // baseline x86-64, and this test runs millions of times per photo (region tests of the
        // filters and the blob detector).
        (i >= 0.0 && j >= 0.0 && (i as usize) < rows && (j as usize) < cols)
            .then(|| (i as usize * cols + j as usize) as u32)
    }

    /// Whether baseline point `(x, y)` is skin (inside the ROI).
    #[must_use]
    pub fn is_skin(&self, x: f64, y: f64) -> bool {
        self.cell_index(x, y)
            .is_some_and(|k| self.skin.as_slice().is_some_and(|s| s[k as usize]))
    }

    /// Whether baseline point `(x, y)` lies in a cell that `cells` (a grid of this frame's shape, such
    /// as [`Frame::common_cells`]) marks.
    #[must_use]
    pub fn in_cells(&self, cells: &Array2<bool>, x: f64, y: f64) -> bool {
        self.cell_index(x, y).is_some_and(|k| {
            cells
                .as_slice()
                .is_some_and(|s| s.get(k as usize) == Some(&true))
        })
    }

    /// Skin cells the eroded mask keeps, before the overlap with the sessions.
    #[must_use]
    pub fn candidate_cells(&self) -> usize {
        self.measured.iter().filter(|&&m| m).count()
    }

    /// The area of [`Self::candidate_cells`], baseline px (what [`MetricOptions::min_region_px`]
    /// bounds once the overlap is known).
    #[must_use]
    pub fn candidate_area_px(&self) -> f64 {
        (self.candidate_cells() * self.cell * self.cell) as f64
    }

    /// The measured cells: candidates whose centre every session saw, at least `margin` session px
    /// inside its photo. `sessions` holds each session's map to the baseline and photo size (w, h).
    #[must_use]
    pub fn common_cells(&self, sessions: &[(Affine, (usize, usize), f64)]) -> Array2<bool> {
        let inverses: Vec<Option<Affine>> = sessions.iter().map(|s| s.0.inverse()).collect();
        let half = (self.cell as f64 - 1.0) / 2.0;
        Array2::from_shape_fn(self.measured.dim(), |(i, j)| {
            if !self.measured[[i, j]] {
                return false;
            }
            let (bx, by) = ((j * self.cell) as f64 + half, (i * self.cell) as f64 + half);
            sessions
                .iter()
                .zip(&inverses)
                .all(|((_, (w, h), margin), inv)| {
                    inv.is_some_and(|inv| {
                        let (x, y) = inv.apply(bx, by);
                        x >= *margin
                            && y >= *margin
                            && x <= *w as f64 - 1.0 - margin
                            && y <= *h as f64 - 1.0 - margin
                    })
                })
        })
    }
}

/// A set of points in a photo's pixel coordinates, asked about a row of points at a time: the
/// L-filter's weights ([`super::surface::remove_reference`]) test five points of each of a million
/// blocks at 12 MP, and one point at a time that was about a tenth of all the metrics' time on one
/// thread (perf, `benches/metrics.rs` `all`). A row lets [`MappedSkin`] run the arithmetic of many
/// points as vectors: the 12 MP S- and L-filters (`benches/metrics.rs` `surface`, medians of three
/// alternating runs) went from 139 to 118 ms on one thread, 73 to 56 ms on two. Any
/// `Fn(x, y) -> bool` is a region, asked point by point.
pub trait Region: Sync {
    /// `inside[i]` = whether the region holds `(xs[i], y)`, for the shorter of `xs` and `inside`.
    fn contains_row(&self, xs: &[f64], y: f64, inside: &mut [bool]);
}

impl<F: Fn(f64, f64) -> bool + Sync> Region for F {
    fn contains_row(&self, xs: &[f64], y: f64, inside: &mut [bool]) {
        for (&x, inside) in xs.iter().zip(inside) {
            *inside = self(x, y);
        }
    }
}

/// The skin of a [`Frame`] seen from a photo mapped to the baseline by `to_baseline`: point `(x, y)`
/// is inside iff `frame.is_skin(to_baseline.apply(x, y))`, with the same arithmetic, so the same
/// answer bit for bit.
#[derive(Debug, Clone, Copy)]
pub struct MappedSkin<'a> {
    frame: &'a Frame,
    to_baseline: Affine,
}

impl<'a> MappedSkin<'a> {
    /// The skin of `frame` at points of a photo that `to_baseline` maps into the baseline.
    #[must_use]
    pub fn new(frame: &'a Frame, to_baseline: Affine) -> Self {
        Self { frame, to_baseline }
    }
}

impl Region for MappedSkin<'_> {
    fn contains_row(&self, xs: &[f64], y: f64, inside: &mut [bool]) {
        let Some(skin) = self.frame.skin.as_slice() else {
            inside.fill(false); // not reached: the grid is built in standard layout
            return;
        };
        let m = self.to_baseline.to_matrix3();
        let cell = self.frame.cell as f64;
        let grid = self.frame.skin.dim();
        // Cell indices a chunk at a time on the stack, then looked up: the first loop runs as
        // vectors, the lookups cannot.
        const CHUNK: usize = 256;
        let mut cells = [0u32; CHUNK];
        for (xs, inside) in xs.chunks(CHUNK).zip(inside.chunks_mut(CHUNK)) {
            let cells = &mut cells[..xs.len().min(inside.len())];
            mapped_cells(&m, cell, grid, (xs, y), cells);
            for (inside, &c) in inside.iter_mut().zip(cells.iter()) {
                *inside = c != OUTSIDE_GRID && skin.get(c as usize) == Some(&true);
            }
        }
    }
}

/// [`mapped_cells`]' mark of a point outside the grid.
const OUTSIDE_GRID: u32 = u32::MAX;

/// The flat cell index of each point `(xs[i], y)` mapped by the affine map `m`, or
/// [`OUTSIDE_GRID`]: [`Affine::apply`] and [`Frame::cell_index`] written without branches, so the loop
/// runs as vectors. The same operations in the same order, so the same cells: for `q ≥ 0`,
/// `(q as usize) < n` is `q < n` (n an integer), and a cell inside the grid fits a `u32` (the grid is
/// at most a few hundred cells a side).
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "x86_64+sse4.1"
))]
fn mapped_cells(
    m: &[[f64; 3]; 3],
    cell: f64,
    (rows, cols): (usize, usize),
    (xs, y): (&[f64], f64),
    cells: &mut [u32],
) {
    let (rows_f, cols_f) = (rows as f64, cols as f64);
    let cols_u = cols as u32;
    for (&x, out) in xs.iter().zip(cells) {
        let bx = m[0][0] * x + m[0][1] * y + m[0][2];
        let by = m[1][0] * x + m[1][1] * y + m[1][2];
        let (i, j) = (by / cell, bx / cell);
        let on_grid = i >= 0.0 && j >= 0.0 && i < rows_f && j < cols_f;
        let (i, j) = if on_grid { (i, j) } else { (0.0, 0.0) };
        let index = truncated(i).wrapping_mul(cols_u).wrapping_add(truncated(j));
        *out = if on_grid { index } else { OUTSIDE_GRID };
    }
}

/// `q as u32` for `0 ≤ q < 2³¹` (or `q` = −0), in operations that run as vectors: Rust's `as` from a
/// float saturates and maps NaN to 0, and those checks kept [`mapped_cells`] scalar (perf annotate:
/// a `vucomisd` and a `vcvttsd2si` per point). Adding 2⁵² leaves `q` rounded to an integer in the
/// low bits of the sum; one less where the rounding went up.
#[inline(always)]
fn truncated(q: f64) -> u32 {
    const SHIFT: f64 = 4_503_599_627_370_496.0; // 2⁵²
    let shifted = q + SHIFT;
    let rounded_up = shifted - SHIFT > q;
    (shifted.to_bits() as u32).wrapping_sub(u32::from(rounded_up))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::colour::srgb_to_linear;
    use crate::synth::noise::{hash2, unit_from_hash};

    /// A frame over a 2600 × 700 photo (cells of 6 px: not a power of two, so cell boundaries are
    /// not exact binary fractions) whose skin is a few discs on a blue background.
    fn discs_frame() -> Frame {
        let (h, w) = (700, 2600);
        let skin = [224u8, 172, 140].map(|v| srgb_to_linear(f64::from(v) / 255.0) as f32);
        let blue = [40u8, 60, 160].map(|v| srgb_to_linear(f64::from(v) / 255.0) as f32);
        let in_disc = |x: usize, y: usize| {
            [
                (500.0, 350.0, 300.0),
                (1400.0, 300.0, 220.0),
                (2200.0, 420.0, 260.0),
            ]
            .iter()
            .any(|&(cx, cy, r)| (x as f64 - cx).hypot(y as f64 - cy) < r)
        };
        let rgb: [Array2<f32>; 3] = std::array::from_fn(|c| {
            Array2::from_shape_fn(
                (h, w),
                |(y, x)| {
                    if in_disc(x, y) { skin[c] } else { blue[c] }
                },
            )
        });
        let frame = Frame::new(&SkinMask::detect(&rgb), None, 0.0, (w, h));
        assert_eq!(frame.cell(), 6);
        frame
    }

    /// The batch test answers what `is_skin` of the mapped point answers, point by point, for the
    /// identity and for a rotated, scaled, shifted map; at random points, at points exactly on cell
    /// boundaries and an ulp to either side of them, and far outside the grid (negative, past its
    /// end, infinite, NaN).
    #[test]
    fn mapped_skin_answers_as_is_skin_of_the_mapped_point() {
        let frame = discs_frame();
        let (w, h) = (frame.size().0 as f64, frame.size().1 as f64);
        let mut points: Vec<(f64, f64)> = (0..20_000)
            .map(|i| {
                let u = unit_from_hash(hash2(3, i, 0));
                let v = unit_from_hash(hash2(3, i, 1));
                (-50.0 + u * (w + 100.0), -50.0 + v * (h + 100.0))
            })
            .collect();
        for k in 0..400 {
            let on_boundary = 6.0 * f64::from(k);
            for along in [on_boundary, on_boundary.next_down(), on_boundary.next_up()] {
                points.push((along, 351.5));
                points.push((1400.25, along));
                points.push((along, along));
            }
        }
        points.extend([
            (f64::NAN, 10.0),
            (10.0, f64::INFINITY),
            (f64::NEG_INFINITY, 5.0),
            (1e300, 1e300),
            (-0.0, -0.0),
        ]);
        for map in [
            Affine::IDENTITY,
            Affine::similarity(1.07, 0.05, -31.5, 12.25),
        ] {
            // One point a row: each point has its own y.
            let region = MappedSkin::new(&frame, map);
            let inside: Vec<bool> = points
                .iter()
                .map(|&(x, y)| {
                    let mut inside = [false];
                    region.contains_row(&[x], y, &mut inside);
                    inside[0]
                })
                .collect();
            // A whole row at once, through the vector path, of every point's x at one y.
            for y in [351.5, 6.0 * 50.0, (6.0f64 * 50.0).next_down()] {
                let xs: Vec<f64> = points.iter().map(|p| p.0).collect();
                let mut row = vec![false; xs.len()];
                region.contains_row(&xs, y, &mut row);
                for (&x, &got) in xs.iter().zip(&row) {
                    let (bx, by) = map.apply(x, y);
                    assert_eq!(
                        got,
                        frame.is_skin(bx, by),
                        "({x}, {y}) mapped to ({bx}, {by})"
                    );
                }
            }
            let mut skin_points = 0;
            for (&(x, y), &got) in points.iter().zip(&inside) {
                let (bx, by) = map.apply(x, y);
                assert_eq!(
                    got,
                    frame.is_skin(bx, by),
                    "({x}, {y}) mapped to ({bx}, {by})"
                );
                skin_points += usize::from(got);
            }
            // Both answers occur often: the comparison is not of two constant answers.
            assert!(
                skin_points > 2000 && skin_points < points.len() - 2000,
                "{skin_points}"
            );
        }
    }

    /// A closure is a region, asked point by point.
    #[test]
    fn a_closure_is_a_region() {
        let left_half = |x: f64, _: f64| x < 10.0;
        let mut inside = [true; 3];
        left_half.contains_row(&[9.5, 10.0, f64::NAN], 0.0, &mut inside);
        assert_eq!(inside, [true, false, false]);
    }
}
