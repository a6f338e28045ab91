//! The measured region of a view: one mask in the baseline frame, shared by every session.
//!
//! Skin (the colour mask of [`super::skin`] without brows, lashes, hair and other skin-coloured
//! features, [`super::skin::SkinMask::without_features`]) ∩ the ROI from `series.toml`, eroded so
//! that no measured pixel's filters reach hair, eyes or background, then ∩ the part of the baseline
//! that every measured session photographed (decided once all sessions are registered,
//! [`Frame::common_cells`]). All sessions are measured on exactly these cells, so a change between
//! sessions is a change of the same skin, not of the framing. The mask lives on the skin mask's grid
//! (cells of a few pixels): finer than any mask edge in a photo needs to be, and small enough to keep
//! per-cell sums for every session.

use ndarray::Array2;

use super::skin::SkinMask;
use crate::align::geometry::Affine;
use crate::kernels::erode;
use crate::series::config::Roi;

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
