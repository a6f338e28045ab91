//! Every scalar metric as a function of additive sums over tiles of the measured region.
//!
//! The change statistics (report stage) need a metric's value over a *resampled* region: a paired
//! bootstrap draws tiles of the common mask with replacement, and tile i of the baseline pairs with
//! tile i of the session because both are the same skin after alignment. Every scalar in the report
//! is a ratio of sums (Sq = √(Σz²/n), pore density = count / area, mean diameter = Σd / count…), so
//! keeping those sums per tile lets a replicate be summed in O(tiles) instead of re-measuring.
//!
//! [`METRICS`] is the catalogue of those scalars: the report key (`roughness.sq`), what it is called in
//! a sentence, its family (which noise floor applies), its UCUM unit and which direction is better.
//! The value over all tiles equals the value in `report.json`'s `metrics` exactly (same sums, same
//! formulas), which a test checks.

use ndarray::Array2;

use super::Scale;
use super::measure::{Depression, Measurement, OUTSIDE};
use super::region::Frame;
use super::roughness::SurfaceSums;

/// Which noise floor a metric is judged against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// Roughness parameters.
    Texture,
    /// Pore metrics.
    Pores,
    /// Scar metrics.
    Scars,
}

/// Whether a smaller value is better, worse, or neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    /// Less is an improvement (roughness, pore count, scar area…).
    Lower,
    /// Shape descriptors (skewness, kurtosis) have no clinical direction.
    Neither,
}

/// One reported scalar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricDef {
    /// Key in `change`, `trends`, CSV and goldens: `<group>.<field>` as in `metrics`.
    pub key: &'static str,
    /// Plain name for sentences and chart titles.
    pub label: &'static str,
    /// Noise-floor family.
    pub family: Family,
    /// UCUM unit (`1` for dimensionless; `{px}` annotations when uncalibrated).
    pub unit: &'static str,
    /// Direction of improvement.
    pub better: Better,
    /// Whether the key exists only with (`Some(true)`) or without (`Some(false)`) a calibration.
    pub calibrated: Option<bool>,
}

const fn def(
    key: &'static str,
    label: &'static str,
    family: Family,
    unit: &'static str,
    better: Better,
    calibrated: Option<bool>,
) -> MetricDef {
    MetricDef {
        key,
        label,
        family,
        unit,
        better,
        calibrated,
    }
}

/// Every scalar metric, in report order. Lengths have an mm twin when calibrated and a px twin
/// otherwise; [`metrics_for`] picks the ones that apply.
pub const METRICS: [MetricDef; 16] = [
    def(
        "roughness.sa",
        "Texture roughness Sa",
        Family::Texture,
        "1",
        Better::Lower,
        None,
    ),
    def(
        "roughness.sq",
        "Texture roughness Sq",
        Family::Texture,
        "1",
        Better::Lower,
        None,
    ),
    def(
        "roughness.ssk",
        "Texture skewness Ssk",
        Family::Texture,
        "1",
        Better::Neither,
        None,
    ),
    def(
        "roughness.sku",
        "Texture kurtosis Sku",
        Family::Texture,
        "1",
        Better::Neither,
        None,
    ),
    def(
        "roughness.sdq",
        "Texture slope Sdq",
        Family::Texture,
        "/mm",
        Better::Lower,
        Some(true),
    ),
    def(
        "roughness.sdq",
        "Texture slope Sdq",
        Family::Texture,
        "/{px}",
        Better::Lower,
        Some(false),
    ),
    def(
        "roughness.sdr",
        "Developed area Sdr",
        Family::Texture,
        "1",
        Better::Lower,
        None,
    ),
    def(
        "pores.count",
        "Pore count",
        Family::Pores,
        "{pores}",
        Better::Lower,
        None,
    ),
    def(
        "pores.density_per_cm2",
        "Pore density",
        Family::Pores,
        "{pores}/cm2",
        Better::Lower,
        Some(true),
    ),
    def(
        "pores.density_per_mpx",
        "Pore density",
        Family::Pores,
        "{pores}/10*6{px}",
        Better::Lower,
        Some(false),
    ),
    def(
        "pores.mean_diameter_mm",
        "Mean pore diameter",
        Family::Pores,
        "mm",
        Better::Lower,
        Some(true),
    ),
    def(
        "pores.mean_diameter_px",
        "Mean pore diameter",
        Family::Pores,
        "{px}",
        Better::Lower,
        Some(false),
    ),
    def(
        "pores.area_fraction",
        "Pore area fraction",
        Family::Pores,
        "1",
        Better::Lower,
        None,
    ),
    def(
        "scars.count",
        "Scar count",
        Family::Scars,
        "{scars}",
        Better::Lower,
        None,
    ),
    def(
        "scars.area_fraction",
        "Scar area fraction",
        Family::Scars,
        "1",
        Better::Lower,
        None,
    ),
    def(
        "scars.mean_depth_index",
        "Mean scar depth index",
        Family::Scars,
        "1",
        Better::Lower,
        None,
    ),
];

/// The metrics reported for a series with or without a calibration, in report order.
#[must_use]
pub fn metrics_for(calibrated: bool) -> Vec<&'static MetricDef> {
    METRICS
        .iter()
        .filter(|d| d.calibrated.is_none_or(|c| c == calibrated))
        .collect()
}

/// Additive sums of a set of depressions.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DepressionSums {
    /// How many.
    pub count: f64,
    /// Σ half-depth diameter, baseline px.
    pub diameter_px: f64,
    /// Σ π d²/4, baseline px².
    pub disk_area_px: f64,
    /// Σ (1 − e^(−depth)).
    pub depth_index: f64,
}

impl DepressionSums {
    fn add(&mut self, d: &Depression) {
        self.count += 1.0;
        self.diameter_px += d.diameter_px;
        self.disk_area_px += std::f64::consts::FRAC_PI_4 * d.diameter_px * d.diameter_px;
        self.depth_index += 1.0 - (-d.depth).exp();
    }

    fn merge_times(&mut self, other: &Self, times: f64) {
        self.count += times * other.count;
        self.diameter_px += times * other.diameter_px;
        self.disk_area_px += times * other.disk_area_px;
        self.depth_index += times * other.depth_index;
    }
}

/// What one tile of the region contributes to every metric.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TileSums {
    /// Region area in the tile, baseline px.
    pub area_px: f64,
    /// Roughness sums.
    pub surface: SurfaceSums,
    /// Pores whose centre lies in the tile.
    pub pores: DepressionSums,
    /// Scars whose centre lies in the tile.
    pub scars: DepressionSums,
}

impl TileSums {
    /// Adds `other` `times` times.
    pub fn merge_times(&mut self, other: &Self, times: f64) {
        self.area_px += times * other.area_px;
        self.surface.merge_times(&other.surface, times);
        self.pores.merge_times(&other.pores, times);
        self.scars.merge_times(&other.scars, times);
    }

    /// The value of metric `key` over these sums (`None` where it is undefined: no texture, a mean
    /// over no pores, an unknown key).
    #[must_use]
    pub fn value(&self, key: &str, scale: &Scale) -> Option<f64> {
        let surface = || self.surface.parameters();
        let per_area = |count: f64| (self.area_px > 0.0).then(|| count / self.area_px);
        let mean = |s: &DepressionSums, v: f64| (s.count > 0.0).then(|| v / s.count);
        match key {
            "roughness.sa" => surface().map(|p| p.sa),
            "roughness.sq" => surface().map(|p| p.sq),
            "roughness.ssk" => surface().map(|p| p.ssk),
            "roughness.sku" => surface().map(|p| p.sku),
            "roughness.sdq" => surface().map(|p| p.sdq),
            "roughness.sdr" => surface().map(|p| p.sdr),
            "pores.count" => Some(self.pores.count),
            "pores.density_per_cm2" => scale
                .area_mm2(self.area_px)
                .filter(|a| *a > 0.0)
                .map(|a| self.pores.count / (a / 100.0)),
            "pores.density_per_mpx" => per_area(self.pores.count * 1e6),
            // As in `pores::summarise`: null in mm without pores, 0 in px.
            "pores.mean_diameter_mm" => scale
                .calibrated()
                .then(|| mean(&self.pores, self.pores.diameter_px * scale.mm_per_px()))
                .flatten(),
            "pores.mean_diameter_px" => {
                Some(mean(&self.pores, self.pores.diameter_px).unwrap_or(0.0))
            }
            "pores.area_fraction" => per_area(self.pores.disk_area_px),
            "scars.count" => Some(self.scars.count),
            "scars.area_fraction" => per_area(self.scars.disk_area_px),
            "scars.mean_depth_index" => {
                Some(mean(&self.scars, self.scars.depth_index).unwrap_or(0.0))
            }
            _ => None,
        }
    }
}

/// How the common region is cut into tiles: square blocks of `side` cells of the frame's grid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tiling {
    /// Tile side, cells.
    pub side: usize,
    /// For each cell of the frame (row-major), its tile index, or `u32::MAX` outside the region.
    tile_of_cell: Vec<u32>,
    /// Number of tiles (each holds at least one region cell).
    pub count: usize,
}

/// Tile side aimed for, mm: wider than the L-filter cut-off (2 mm), so neighbouring tiles share
/// little of their filtered texture and resampling them is close to resampling independent skin.
pub const TILE_MM: f64 = 4.0;

/// Fewest tiles a bootstrap should draw from; smaller regions use smaller tiles (down to one cell)
/// rather than a bootstrap over a handful of tiles, whose intervals are too narrow to mean anything.
pub const MIN_TILES: usize = 24;

impl Tiling {
    /// Cuts the `common` cells of `frame` into tiles of about [`TILE_MM`].
    #[must_use]
    pub fn new(frame: &Frame, common: &Array2<bool>, scale: &Scale) -> Self {
        let cell_mm = frame.cell() as f64 * scale.mm_per_px();
        let (rows, cols) = common.dim();
        let mut side = ((TILE_MM / cell_mm).round() as usize).clamp(1, rows.max(cols).max(1));
        loop {
            let tiling = Self::with_side(common, side);
            if tiling.count >= MIN_TILES || side == 1 {
                return tiling;
            }
            side = (side - side / 3).min(side - 1).max(1);
        }
    }

    fn with_side(common: &Array2<bool>, side: usize) -> Self {
        let (rows, cols) = common.dim();
        let tile_cols = cols.div_ceil(side);
        let mut index_of_tile = vec![u32::MAX; rows.div_ceil(side) * tile_cols];
        let mut tile_of_cell = vec![u32::MAX; rows * cols];
        let mut count = 0u32;
        // Row-major over cells, so tile numbers do not depend on anything but the mask.
        for ((i, j), &inside) in common.indexed_iter() {
            if inside {
                let t = (i / side) * tile_cols + j / side;
                if index_of_tile[t] == u32::MAX {
                    index_of_tile[t] = count;
                    count += 1;
                }
                tile_of_cell[i * cols + j] = index_of_tile[t];
            }
        }
        Self {
            side,
            tile_of_cell,
            count: count as usize,
        }
    }

    /// The tile holding flat cell index `cell`, if that cell is in the region.
    #[must_use]
    pub fn tile_of(&self, cell: u32) -> Option<usize> {
        self.tile_of_cell
            .get(cell as usize)
            .filter(|&&t| t != u32::MAX)
            .map(|&t| t as usize)
    }

    /// One session's sums per tile: its blocks by the cell of their centre, its pores and scars by the
    /// cell of theirs, and the region's area (the same for every session).
    #[must_use]
    pub fn sums(&self, frame: &Frame, m: &Measurement) -> Vec<TileSums> {
        let mut tiles = vec![TileSums::default(); self.count];
        let cell_area = (frame.cell() * frame.cell()) as f64;
        for t in self.tile_of_cell.iter().filter(|&&t| t != u32::MAX) {
            tiles[*t as usize].area_px += cell_area;
        }
        for (b, &c) in m.blocks.iter().zip(&m.block_cells) {
            if c != OUTSIDE
                && let Some(t) = self.tile_of(c)
            {
                tiles[t].surface.merge(b);
            }
        }
        let mut add = |d: &Depression, scar: bool| {
            if let Some(t) = frame.cell_index(d.x, d.y).and_then(|c| self.tile_of(c)) {
                let tile = &mut tiles[t];
                if scar {
                    &mut tile.scars
                } else {
                    &mut tile.pores
                }
                .add(d);
            }
        };
        m.pores.iter().for_each(|d| add(d, false));
        m.scars.iter().for_each(|d| add(d, true));
        tiles
    }
}

/// Sums of all tiles, each taken `times[i]` times (all ones: the whole region).
#[must_use]
pub fn total(tiles: &[TileSums], times: &[u32]) -> TileSums {
    let mut sum = TileSums::default();
    for (t, &k) in tiles.iter().zip(times) {
        if k > 0 {
            sum.merge_times(t, f64::from(k));
        }
    }
    sum
}

/// The local roughness map of the report's heat map: Sq per cell of the region, each from the sums of
/// the region's cells within `2 · radius` cells, tent-weighted (two square windows of `radius`); NaN
/// outside the region.
///
/// A single 8-px cell holds too few heights for a stable Sq; a window of about 2 mm matches the
/// L-filter cut-off, the longest wavelength the texture contains.
#[must_use]
pub fn local_sq(
    frame: &Frame,
    common: &Array2<bool>,
    m: &Measurement,
    radius: usize,
) -> Array2<f32> {
    let (rows, cols) = frame.dim();
    let mut z2 = Array2::<f64>::zeros((rows, cols));
    let mut n = Array2::<f64>::zeros((rows, cols));
    for (b, &c) in m.blocks.iter().zip(&m.block_cells) {
        if c != OUTSIDE {
            let (i, j) = (c as usize / cols, c as usize % cols);
            if common[[i, j]] {
                z2[[i, j]] += b.z2;
                n[[i, j]] += b.n;
            }
        }
    }
    // Summed-area tables make the window sums O(1) per cell.
    let integral = |a: &Array2<f64>| {
        let mut s = Array2::<f64>::zeros((rows + 1, cols + 1));
        for i in 0..rows {
            for j in 0..cols {
                s[[i + 1, j + 1]] = a[[i, j]] + s[[i, j + 1]] + s[[i + 1, j]] - s[[i, j]];
            }
        }
        s
    };
    let box_sum = |a: &Array2<f64>| {
        let s = integral(a);
        Array2::from_shape_fn((rows, cols), |(i, j)| {
            let (i0, j0) = (i.saturating_sub(radius), j.saturating_sub(radius));
            let (i1, j1) = ((i + radius + 1).min(rows), (j + radius + 1).min(cols));
            s[[i1, j1]] - s[[i0, j1]] - s[[i1, j0]] + s[[i0, j0]]
        })
    };
    // Two box passes: tent weights, so the map has no square edges where one cell enters a window.
    let (sz, sn) = (box_sum(&box_sum(&z2)), box_sum(&box_sum(&n)));
    Array2::from_shape_fn((rows, cols), |(i, j)| {
        let count = sn[[i, j]];
        if common[[i, j]] && count > 0.0 {
            (sz[[i, j]] / count).sqrt() as f32
        } else {
            f32::NAN
        }
    })
}
