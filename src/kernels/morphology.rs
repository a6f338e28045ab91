//! Grey-scale morphology with a disk: erosion, dilation, opening, closing, white and black top-hat.
//!
//! Exists because the crates we can use are far too slow at 12 MP (imageproc's top-hat measured about
//! 20× slower than OpenCV's in the project's crate survey). The disk `{(dx, dy) : dx² + dy² ≤ r²}`
//! (scikit-image's `disk(r)`) is the union of its rows, the one at offset `d` of half-width
//! `w(d) = ⌊√(r² − d²)⌋`, and, being symmetric, the union of its columns of half-height `w(d)`.
//!
//! - **Column first** (r ≤ 16, [`column_chords`]): the ring holds input rows only. For each output
//!   row, a chunk of columns at a time, the extremum down each column over `±w` rows is built for
//!   every half-height `w` the disk has, by widening one row a side at a time (`2r` comparisons), into
//!   arrays that stay in L1; the output is the extremum over `dx` of the chord `w(dx)` at column
//!   `x + dx` (`2r` more). Output rows are made four at a time, so a chunk of ring rows comes from L2
//!   once for the four.
//! - **Row extrema by doubling** (r > 16): each input row's running maxima `M_w` of every half-width
//!   are built by doubling (`M_w(x) = max(M_u(x − k), M_u(x + k))` with `u = ⌈w/2⌉`, `k = w − u ≤ u`,
//!   so the two windows overlap; one comparison per built width) and kept in the ring, and the output
//!   is the extremum over `d` of `M_w(d)` on row `y + d`: `2r + 1` comparisons down the rows,
//!   register-blocked so they vectorise. Fewer comparisons than column first for large r, but each
//!   output row reads `2r + 1` ring arrays from L2.
//! - **Streaming**: each worker walks a band of rows (tile by tile where its rings would spill out of a
//!   large L2, or the image is very wide: see `tile_width`) and keeps only the last `2r + 4` rows in a
//!   ring. Opening, closing and the top-hats chain two such filters: the first filter's output rows go
//!   straight into the second's ring, so the intermediate plane is never materialised. Measured at
//!   12 MP on a 2-core AMD EPYC (Zen 4; black top-hat, r = 6, one thread): the version with a whole
//!   intermediate plane spent a third of its time in the kernel zeroing that fresh 48 MB buffer
//!   (`clear_page_erms`) and an eighth copying rows; 47.7 → 25 ms with streaming.
//!
//! Column first against the row extrema built by widening it replaced (12 MP on a 2-core Intel Xeon
//! VM, harness medians, two alternating rounds; this VM swings ±10 % between runs): black top-hat
//! r = 6 49.1–51.0 → 38.6–49.1 ms on one thread, 26.4–26.8 → 21.3–23.0 ms on two; r = 15 119.6–121.2
//! → 107.0–110.5 ms on one thread, 66.5–71.3 → 56.2–58.4 ms on two; dilation r = 6 26.2–29.9 →
//! 23.1–25.1 ms on one thread. Tried and not kept: building two output rows' chords together, which
//! shares the rows between their windows (19 comparisons and 14 row reads for two rows at r = 6
//! instead of 24 and 26), measured no faster (the chords' share of the profile stayed at 43 %);
//! groups of 2 or 8 rows and chunks of 512 columns measured the same, chunks of 128 slower (52–64 ms).
//!
//! Borders reflect. The second filter reads the first one's output beyond the band and beyond the
//! image: for a symmetric structuring element and half-sample reflection the filter of the reflected
//! image equals the reflected filter, so computing the first filter on reflected coordinates gives
//! exactly the values a separate pass with reflected borders would read. For finite inputs every
//! result equals the naive definition bit for bit (no arithmetic, only comparisons), whatever the
//! band and tile sizes or the thread count. Inputs must not hold NaN (see `Max` in the source). Radii above
//! 3·max(h, w) + 1 are clamped, which changes no value (see `disk_filter`) and bounds memory.

use ndarray::{Array2, ArrayView2};

use super::{plane, reflect, row_major};

/// Bytes of running extrema one filter keeps per worker where the L2 size is unknown or small; the
/// tile width follows from it. Whole rows are best there: on a 2-core AMD EPYC (Zen 4, L2 1 MiB) at
/// 12 MP (r = 6, one thread) tiles of 2160, 1080, 540 and 270 columns took 27, 30, 31 and 34 ms
/// against 25 ms for the full 4000-column row (1.1 MB a ring, in L3 rather than L2): each tile
/// re-reads its halo columns and restarts the hardware prefetcher on every row segment. The bound
/// still caps the ring of a very wide image.
const RING_BYTES: usize = 2 << 20;

/// Narrowest tile worth fitting the rings into L2 for; below it, [`RING_BYTES`] decides.
const MIN_L2_TILE: usize = 1024;

/// Columns per tile for a chain of `stages` filters whose rings hold `ring_floats_per_column` floats
/// per column each: the widest whose rings together take half the L2 (the other half for the rows
/// passing through), when that is at least [`MIN_L2_TILE`]; else from [`RING_BYTES`]. The tile
/// changes no value (only comparisons), only the speed.
///
/// Why it depends on the L2: where L3 is slow to reach, rings that spill out of L2 cost more than
/// tiling does. Measured in the row-extrema layout, whose rings held seven arrays a row at r = 6: on
/// a 2-core Intel Xeon VM (L2 2 MiB, a mesh L3) the 12 MP black top-hat (r = 6, harness min of 20)
/// took 47 ms on one thread with whole rows (2.9 MB of rings), 41.6 with tiles of 2000 columns,
/// 39–41 from 1200 to 1600, 42 at 1000; two threads 25.3 → 21–22 ms. The column-first layout's rings
/// hold one array a row, so up to r = 16 this rule gives whole rows at 12 MP; the tiles now matter
/// for larger radii and very wide images.
fn tile_width(ring_floats_per_column: usize, stages: usize) -> usize {
    let ring_bytes_per_column = size_of::<f32>() * ring_floats_per_column;
    let per_column = ring_bytes_per_column * stages.max(1);
    let from_ring_bytes = (RING_BYTES / ring_bytes_per_column).max(64);
    match l2_cache_bytes() {
        Some(l2) if l2 / 2 / per_column >= MIN_L2_TILE => l2 / 2 / per_column,
        _ => from_ring_bytes,
    }
}

/// The size of the first CPU's level-2 cache, from Linux's sysfs (read once); `None` elsewhere or when
/// it cannot be read. A few lines of sysfs rather than a dependency, for what is only a tuning input
/// (a wrong or missing value costs speed, never a result).
fn l2_cache_bytes() -> Option<usize> {
    static L2: std::sync::OnceLock<Option<usize>> = std::sync::OnceLock::new();
    *L2.get_or_init(|| {
        let dir = std::path::Path::new("/sys/devices/system/cpu/cpu0/cache");
        (0..8).find_map(|i| {
            let index = dir.join(format!("index{i}"));
            let read = |name: &str| std::fs::read_to_string(index.join(name)).ok();
            if read("level")?.trim() != "2" || read("type")?.trim() == "Instruction" {
                return None;
            }
            parse_cache_size(&read("size")?)
        })
    })
}

/// A sysfs cache size such as `2048K` or `1M`, in bytes.
fn parse_cache_size(text: &str) -> Option<usize> {
    let text = text.trim();
    let (digits, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((at, _)) => text.split_at(at),
        None => (text, ""),
    };
    let scale = match unit {
        "" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        _ => return None,
    };
    digits.parse::<usize>().ok()?.checked_mul(scale)
}

/// Which extremum a filter takes: two zero-sized types, so each inner loop is compiled separately for
/// max and min with no branch in it (measured: no faster than a runtime enum, which LLVM unswitched,
/// but it does not depend on that optimisation).
trait Extremum: Copy + Send + Sync + 'static {
    fn pick(a: f32, b: f32) -> f32;
}

#[derive(Debug, Clone, Copy)]
struct Max;
#[derive(Debug, Clone, Copy)]
struct Min;

impl Extremum for Max {
    // Plain comparisons (not f32::max) compile to single vector max instructions. With NaN in the
    // input the result depends on where the NaN sits: callers replace NaN (e.g. a warp's fill) first.
    #[inline(always)]
    fn pick(a: f32, b: f32) -> f32 {
        if b > a { b } else { a }
    }
}

impl Extremum for Min {
    #[inline(always)]
    fn pick(a: f32, b: f32) -> f32 {
        if b < a { b } else { a }
    }
}

/// The extremum one chained filter takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Dilate,
    Erode,
}

/// Half-widths of the disk's rows, `w(dy)` for `dy = −r..=r`.
fn disk_half_widths(radius: usize) -> Vec<usize> {
    let r = radius as i64;
    (-r..=r)
        .map(|dy| {
            let mut w = 0i64;
            while (w + 1) * (w + 1) + dy * dy <= r * r {
                w += 1;
            }
            w as usize
        })
        .collect()
}

/// Dilation (local maximum) over a disk of `radius` px.
#[must_use]
pub fn dilate(src: ArrayView2<'_, f32>, radius: usize) -> Array2<f32> {
    disk_filter(src, radius, &[Kind::Dilate], None)
}

/// Erosion (local minimum) over a disk of `radius` px.
#[must_use]
pub fn erode(src: ArrayView2<'_, f32>, radius: usize) -> Array2<f32> {
    disk_filter(src, radius, &[Kind::Erode], None)
}

/// Opening: erosion then dilation (removes bright detail smaller than the disk).
#[must_use]
pub fn open(src: ArrayView2<'_, f32>, radius: usize) -> Array2<f32> {
    disk_filter(src, radius, &[Kind::Erode, Kind::Dilate], None)
}

/// Closing: dilation then erosion (fills dark detail smaller than the disk).
#[must_use]
pub fn close(src: ArrayView2<'_, f32>, radius: usize) -> Array2<f32> {
    disk_filter(src, radius, &[Kind::Dilate, Kind::Erode], None)
}

/// White top-hat `src − open(src)`: bright detail smaller than the disk, ≥ 0.
#[must_use]
pub fn white_tophat(src: ArrayView2<'_, f32>, radius: usize) -> Array2<f32> {
    disk_filter(src, radius, &[Kind::Erode, Kind::Dilate], Some(-1.0))
}

/// Black top-hat `close(src) − src`: dark detail smaller than the disk (pores), ≥ 0.
#[must_use]
pub fn black_tophat(src: ArrayView2<'_, f32>, radius: usize) -> Array2<f32> {
    disk_filter(src, radius, &[Kind::Dilate, Kind::Erode], Some(1.0))
}

/// The filters in `kinds` applied one after the other; with `residue_sign` s, each output row becomes
/// `s · (filtered − src)` while it is still in cache (the top-hats), instead of a separate pass over
/// three full planes afterwards.
fn disk_filter(
    src: ArrayView2<'_, f32>,
    radius: usize,
    kinds: &[Kind],
    residue_sign: Option<f32>,
) -> Array2<f32> {
    let (h, w) = src.dim();
    // A disk with r ≥ √(4w² + 4h²) covers a whole period of the reflected image in both directions,
    // so its result is the image's global extremum; 3·max(h, w) + 1 exceeds that bound, so clamping
    // there changes no value while bounding memory for absurd radii.
    let radius = radius.min(3 * h.max(w) + 1);
    if h == 0 || w == 0 {
        return Array2::zeros((h, w));
    }
    let data = row_major(&src);
    let shape = DiskShape::new(radius);
    // Source rows and columns read beyond the output on each side: r per chained filter.
    let halo = kinds.len() * radius;
    let tile = tile_width(shape.ring_floats_per_column(), kinds.len()).min(w);
    // Bands of rows, several per worker so uneven bands balance. Results do not depend on the band
    // height (only comparisons), so it may follow the thread count; at least 8r rows, so that the
    // halo (up to 4r rows more) stays under half of a band's own work.
    let band = h
        .div_ceil(4 * rayon::current_num_threads())
        .max(8 * radius)
        .max(16);
    // The `i`-th chained filter emits its successors' halo columns as well as the tile's.
    let out_width = |i: usize, tile: usize| tile + 2 * radius * (kinds.len() - 1 - i);

    let out = super::buffer::row_banded(h, w, band, |b, out| {
        let y0 = b * band;
        let rows = out.rows();
        let mut stages: Vec<Stage<'_>> = kinds
            .iter()
            .enumerate()
            .map(|(i, &kind)| Stage::new(kind, &shape, out_width(i, tile)))
            .collect();
        // The last filter's output rows, copied into the output once complete.
        let mut out_rows = vec![0f32; GROUP * tile];
        let out_starts: Vec<usize> = (0..GROUP).map(|j| j * tile).collect();
        let mut references = [0usize; GROUP];
        for x0 in (0..w).step_by(tile) {
            let tw = tile.min(w - x0);
            for (i, stage) in stages.iter_mut().enumerate() {
                stage.reset(out_width(i, tw));
            }
            let (inputs, mut fed, mut emitted) = (rows + 2 * halo, 0usize, 0usize);
            while fed < inputs {
                // Up to GROUP input rows, then each filter passes on every row it can make: at most
                // GROUP, so no ring ever holds more than its `2r + GROUP` rows.
                for _ in 0..GROUP.min(inputs - fed) {
                    let y = reflect(y0 as isize + fed as isize - halo as isize, h);
                    let row = &data[y * w..(y + 1) * w];
                    fill_reflected(stages[0].next_input(), row, x0 as isize - halo as isize);
                    stages[0].push();
                    fed += 1;
                }
                for s in 0..stages.len() {
                    let made = stages[s].available();
                    if made == 0 {
                        break;
                    }
                    if s + 1 < stages.len() {
                        // The output rows go straight into the next filter's ring.
                        let (this, next) = stages.split_at_mut(s + 1);
                        this[s].emit_into(made, &mut next[0]);
                    } else {
                        for (j, at) in references[..made].iter_mut().enumerate() {
                            *at = (y0 + emitted + j) * w + x0;
                        }
                        let residue = residue_sign.map(|sign| Residues {
                            data: &data,
                            starts: &references[..made],
                            sign,
                        });
                        let dst = Outputs {
                            values: &mut out_rows,
                            starts: &out_starts[..made],
                            residue,
                        };
                        stages[s].emit(dst);
                        for j in 0..made {
                            out.write(emitted + j, x0, &out_rows[j * tile..j * tile + tw]);
                        }
                        emitted += made;
                    }
                }
            }
        }
    });
    plane(h, w, out)
}

/// Output rows each filter makes at a time (at most; fewer at the start and the end of a tile). In
/// the column-first layout the rows of a group share all but `GROUP − 1` of their `2r + GROUP` ring
/// rows, so a chunk of them is read from L2 once and then from L1 for every row of the group.
/// Measured on the 12 MP black top-hat (r = 6, one thread, harness medians, three alternating rounds
/// on a noisy 2-core Intel Xeon VM): one row at a time 44.1–55.4 ms, four 42.8–48.0 ms; two and
/// eight measured the same as four.
const GROUP: usize = 4;

/// `dst[j] = row[reflect(lo + j)]`: the columns inside the row copied as a block, only those beyond
/// its ends reflected one by one.
fn fill_reflected(dst: &mut [f32], row: &[f32], lo: isize) {
    let w = row.len() as isize;
    let hi = lo + dst.len() as isize;
    let (a, b) = (lo.clamp(0, w), hi.clamp(0, w));
    if a < b {
        dst[(a - lo) as usize..(b - lo) as usize].copy_from_slice(&row[a as usize..b as usize]);
    }
    // lo < w and hi > 0 (a tile starts inside the row), so lo ≤ a ≤ b ≤ hi.
    for j in (0..(a - lo) as usize).chain((b - lo) as usize..dst.len()) {
        dst[j] = row[reflect(lo + j as isize, row.len())];
    }
}

/// A top-hat's last step for one output row, fused into the last filter's output: `(reference row,
/// sign)` turns each filtered value v into `sign · (v − reference)` before it is stored.
type Residue<'r> = Option<(&'r [f32], f32)>;

/// The top-hat's reference rows for a group of output rows: row `j` starts at `starts[j]` in `data`.
#[derive(Clone, Copy)]
struct Residues<'r> {
    data: &'r [f32],
    starts: &'r [usize],
    sign: f32,
}

impl<'r> Residues<'r> {
    /// Columns `x0 .. x0 + len` of row `j`'s reference.
    fn row(self, j: usize, x0: usize, len: usize) -> (&'r [f32], f32) {
        let at = self.starts[j] + x0;
        (&self.data[at..at + len], self.sign)
    }
}

/// Where a group of output rows goes: row `j` at `starts[j]` in `values` (one output row of the
/// filter: its `out_width` values), with the top-hat's residue where there is one.
struct Outputs<'o> {
    values: &'o mut [f32],
    starts: &'o [usize],
    residue: Option<Residues<'o>>,
}

/// The disk as chord half-widths, and how each is built.
struct DiskShape {
    radius: usize,
    /// The half-widths built: the disk's distinct ones and, where the row extrema are built by
    /// doubling, those the doubling builds them from, ascending, starting with 0 (the row itself).
    widths: Vec<usize>,
    /// For `widths[i]`, i ≥ 1: the index of the width it is built from and the offset `k`; `k = 0`
    /// marks width 1, built from three samples. Empty in the column-first layout.
    recipe: Vec<(usize, usize)>,
    /// For each offset `d` in `0..2r + 1` (`d − r` from the centre), the index in `widths` of the
    /// chord's half-width there. The disk is symmetric, so this serves rows and columns alike.
    row_width: Vec<usize>,
}

impl DiskShape {
    fn new(radius: usize) -> Self {
        let half = disk_half_widths(radius);
        let mut widths: Vec<usize> = half.clone();
        // Close the set under u ↦ ⌈u/2⌉ so every width's source is built before it (only the
        // doubling needs them).
        let doubling = radius > MAX_COLUMN_FIRST_RADIUS;
        let mut i = if doubling { 0 } else { widths.len() };
        while i < widths.len() {
            let u = widths[i].div_ceil(2);
            if widths[i] > 1 && !widths.contains(&u) {
                widths.push(u);
            }
            i += 1;
        }
        widths.push(0);
        widths.sort_unstable();
        widths.dedup();
        let index = |w: usize| widths.partition_point(|&v| v < w);
        // The column-first layout needs no recipe (and its widths lack the halves a recipe would name).
        let recipe = if doubling {
            widths
                .iter()
                .map(|&w| match w {
                    0 | 1 => (0, 0),
                    _ => {
                        let u = w.div_ceil(2);
                        (index(u), w - u)
                    }
                })
                .collect()
        } else {
            Vec::new()
        };
        let row_width = half.iter().map(|&w| index(w)).collect();
        Self {
            radius,
            widths,
            recipe,
            row_width,
        }
    }

    /// Rows a filter's ring holds: the `2r + 1` of one output row and `GROUP − 1` more.
    fn ring_rows(&self) -> usize {
        2 * self.radius + GROUP
    }

    /// Whether the filter takes column chords first (see [`column_chords`]) rather than building
    /// each row's running extrema by doubling.
    fn column_first(&self) -> bool {
        self.radius <= MAX_COLUMN_FIRST_RADIUS
    }

    /// Arrays in one ring entry: the row alone, or the row and its running extrema.
    fn arrays_per_row(&self) -> usize {
        if self.column_first() {
            1
        } else {
            self.widths.len()
        }
    }

    /// Floats a ring keeps per column of its tile.
    fn ring_floats_per_column(&self) -> usize {
        self.ring_rows() * self.arrays_per_row()
    }
}

/// Largest radius filtered column first ([`column_chords`]): about 4r comparisons per sample,
/// against about 2r + log r where the rows' running extrema are built by doubling, but the ring
/// holds only input rows and the combination reads L1. Measured faster at r = 6 and r = 15; larger
/// radii keep the doubling, whose comparisons grow more slowly.
const MAX_COLUMN_FIRST_RADIUS: usize = 16;

/// One disk filter run over a tile: each input row (`out_width + 2r` wide) is written into the ring
/// (in the row-extrema layout its running extrema are built next to it), and once the ring holds
/// `2r + 1` rows more than the filter has emitted, `emit` writes the output rows centred in them.
struct Stage<'a> {
    kind: Kind,
    shape: &'a DiskShape,
    out_width: usize,
    /// `ring_rows` entries of `arrays_per_row` arrays each (`array_stride` apart); array 0 is the row.
    ring: Vec<f32>,
    received: usize,
    emitted: usize,
    /// Offsets into `ring` of the rows an emission reads (reused between emissions).
    row_starts: Vec<usize>,
    /// Offsets the combination reads, one per disk row or column (reused).
    starts: Vec<usize>,
    /// Column-first layout: one chunk's column chords, one array per width (reused).
    chords: Vec<f32>,
}

impl<'a> Stage<'a> {
    fn new(kind: Kind, shape: &'a DiskShape, max_out_width: usize) -> Self {
        let input = max_out_width + 2 * shape.radius;
        let chords = if shape.column_first() {
            shape.widths.len() * chord_stride(shape.radius)
        } else {
            0
        };
        Self {
            kind,
            shape,
            out_width: max_out_width,
            ring: vec![0f32; shape.ring_floats_per_column() * array_stride(input)],
            received: 0,
            emitted: 0,
            row_starts: Vec::with_capacity(shape.ring_rows()),
            starts: vec![0; 2 * shape.radius + 1],
            chords: vec![0f32; chords],
        }
    }

    fn input_width(&self) -> usize {
        self.out_width + 2 * self.shape.radius
    }

    /// Starts a new tile of `out_width` columns (at most the width it was made for).
    fn reset(&mut self, out_width: usize) {
        self.out_width = out_width;
        self.received = 0;
        self.emitted = 0;
    }

    /// Output rows the rows received so far complete: those whose `2r + 1` rows are all in.
    fn available(&self) -> usize {
        (self.received - self.emitted).saturating_sub(2 * self.shape.radius)
    }

    fn entry_start(&self, row: usize) -> usize {
        let slot = row % self.shape.ring_rows();
        slot * self.shape.arrays_per_row() * array_stride(self.input_width())
    }

    /// Where the next input row goes: the first array of the ring entry it will occupy.
    fn next_input(&mut self) -> &mut [f32] {
        let len = self.input_width();
        let at = self.entry_start(self.received);
        &mut self.ring[at..at + len]
    }

    /// Takes the row written into [`Self::next_input`] (in the row-extrema layout: builds its running
    /// extrema).
    fn push(&mut self) {
        if !self.shape.column_first() {
            let len = self.input_width();
            let stride = array_stride(len);
            let at = self.entry_start(self.received);
            let entry = &mut self.ring[at..at + self.shape.widths.len() * stride];
            match self.kind {
                Kind::Dilate => running_extrema::<Max>(entry, (len, stride), self.shape),
                Kind::Erode => running_extrema::<Min>(entry, (len, stride), self.shape),
            }
        }
        self.received += 1;
    }

    /// Emits `made` (at most [`Self::available`]) output rows straight into `next`'s ring.
    fn emit_into(&mut self, made: usize, next: &mut Stage<'_>) {
        let mut starts = [0usize; GROUP];
        for (j, start) in starts[..made].iter_mut().enumerate() {
            *start = next.entry_start(next.received + j);
        }
        self.emit(Outputs {
            values: &mut next.ring,
            starts: &starts[..made],
            residue: None,
        });
        for _ in 0..made {
            next.push();
        }
    }

    /// The next `dst.starts.len()` output rows (at most [`Self::available`]): output row `i` of the
    /// tile is the extremum over the disk centred on the ring's row `i + r`.
    fn emit(&mut self, dst: Outputs<'_>) {
        let made = dst.starts.len();
        let rows = 2 * self.shape.radius + made;
        self.row_starts.clear();
        for i in self.emitted..self.emitted + rows {
            self.row_starts.push(self.entry_start(i));
        }
        let source = Source {
            ring: &self.ring,
            row_starts: &self.row_starts,
            shape: self.shape,
            out_width: self.out_width,
        };
        let scratch = (&mut self.chords[..], &mut self.starts[..]);
        match (self.kind, self.shape.column_first()) {
            (Kind::Dilate, true) => column_chords::<Max>(source, scratch, dst),
            (Kind::Erode, true) => column_chords::<Min>(source, scratch, dst),
            (Kind::Dilate, false) => combine_row_extrema::<Max>(source, scratch.1, dst),
            (Kind::Erode, false) => combine_row_extrema::<Min>(source, scratch.1, dst),
        }
        self.emitted += made;
    }
}

/// What an emission reads: the ring, where its rows start (`2r + made` of them, oldest first), the
/// disk, and the output width.
#[derive(Clone, Copy)]
struct Source<'s> {
    ring: &'s [f32],
    row_starts: &'s [usize],
    shape: &'s DiskShape,
    out_width: usize,
}

/// Floats between the starts of two arrays of `len` samples: whole cache lines, plus one so that
/// arrays a multiple of 4 KiB apart do not compete for the same L1 sets.
fn array_stride(len: usize) -> usize {
    len.next_multiple_of(16) + 16
}

/// Output columns per chunk in [`column_chords`]: the chunk's `2r + GROUP` ring rows (17 KB at r = 6)
/// and its chords (6 KB) stay in L1 while the group's rows are made.
const CHUNK: usize = 256;

/// Floats between a chunk's chord arrays.
fn chord_stride(radius: usize) -> usize {
    array_stride(CHUNK + 2 * radius)
}

/// The row-extrema layout's combination: output row `j` is the extremum over `d` of the running
/// extremum of width `w(d)` on ring row `j + d`.
fn combine_row_extrema<E: Extremum>(source: Source<'_>, starts: &mut [usize], dst: Outputs<'_>) {
    let shape = source.shape;
    let stride = array_stride(source.out_width + 2 * shape.radius);
    for (j, &at) in dst.starts.iter().enumerate() {
        for (d, start) in starts.iter_mut().enumerate() {
            *start = source.row_starts[j + d] + shape.row_width[d] * stride + shape.radius;
        }
        let residue = dst.residue.map(|r| r.row(j, 0, source.out_width));
        combine_rows::<E>(
            &mut dst.values[at..at + source.out_width],
            source.ring,
            starts,
            residue,
        );
    }
}

/// The column-first layout: the disk is also the union of its columns (it is symmetric), the one at
/// offset `dx` spanning `±w(dx)` rows. So for each output row, chunk by chunk, the extremum down each
/// column over every half-height the disk has (its column chords, [`column_extrema`]) is built into
/// L1, and the output is the extremum over `dx` of chord `w(dx)` at column `x + dx`: `2r + 1` reads
/// from L1 ([`combine_blocks`]).
///
/// Why: in the row-extrema layout the combination read `2r + 1` ring rows from L2 for every output
/// row, and each input row's extrema were stored to L2. Here the ring holds only input rows, and the
/// group's `GROUP` output rows are made chunk by chunk, so a chunk of ring rows comes from L2 once per
/// group. The figures are in the module header.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "x86_64+sse4.1"
))]
fn column_chords<E: Extremum>(
    source: Source<'_>,
    (chords, starts): (&mut [f32], &mut [usize]),
    dst: Outputs<'_>,
) {
    let shape = source.shape;
    let r = shape.radius;
    let stride = chord_stride(r);
    for (d, start) in starts.iter_mut().enumerate() {
        *start = shape.row_width[d] * stride + d;
    }
    for x0 in (0..source.out_width).step_by(CHUNK) {
        let cw = CHUNK.min(source.out_width - x0);
        for (j, &at) in dst.starts.iter().enumerate() {
            let rows = &source.row_starts[j..j + 2 * r + 1];
            column_extrema::<E>(source.ring, rows, (x0, cw + 2 * r), shape, chords);
            let residue = dst.residue.map(|res| res.row(j, x0, cw));
            combine_blocks::<E, BLOCK>(
                &mut dst.values[at + x0..at + x0 + cw],
                chords,
                starts,
                residue,
            );
        }
    }
}

/// For input columns `x0 .. x0 + span`, the extremum down each column over `±w` rows around the
/// centre of `rows` (its `2r + 1` ring rows), for every `w` in `shape.widths`, into `chords` (array
/// `i` for `widths[i]`, [`chord_stride`] apart). Built by widening one row a side at a time, in
/// register blocks; a span that is not a multiple of the block ends with one block that overlaps the
/// previous one (the same values recomputed).
#[inline(always)]
fn column_extrema<E: Extremum>(
    ring: &[f32],
    rows: &[usize],
    (x0, span): (usize, usize),
    shape: &DiskShape,
    chords: &mut [f32],
) {
    let r = shape.radius;
    let stride = chord_stride(r);
    let at = |d: usize, c: usize| rows[d] + x0 + c;
    if span < WIDEN_BLOCK {
        for c in 0..span {
            let mut m = ring[at(r, c)];
            chords[c] = m;
            let mut k = 0;
            for (i, &w) in shape.widths.iter().enumerate().skip(1) {
                while k < w {
                    k += 1;
                    m = E::pick(E::pick(m, ring[at(r - k, c)]), ring[at(r + k, c)]);
                }
                chords[i * stride + c] = m;
            }
        }
        return;
    }
    let mut c0 = 0;
    loop {
        let mut acc = [0f32; WIDEN_BLOCK];
        acc.copy_from_slice(&ring[at(r, c0)..at(r, c0) + WIDEN_BLOCK]);
        chords[c0..c0 + WIDEN_BLOCK].copy_from_slice(&acc);
        let mut k = 0;
        for (i, &w) in shape.widths.iter().enumerate().skip(1) {
            while k < w {
                k += 1;
                let (above, below) = (at(r - k, c0), at(r + k, c0));
                let (above, below) = (
                    &ring[above..above + WIDEN_BLOCK],
                    &ring[below..below + WIDEN_BLOCK],
                );
                for j in 0..WIDEN_BLOCK {
                    acc[j] = E::pick(E::pick(acc[j], above[j]), below[j]);
                }
            }
            let to = i * stride + c0;
            chords[to..to + WIDEN_BLOCK].copy_from_slice(&acc);
        }
        if c0 + WIDEN_BLOCK == span {
            break;
        }
        c0 = (c0 + WIDEN_BLOCK).min(span - WIDEN_BLOCK);
    }
}

/// Columns per register block in [`column_extrema`]: four AVX-512 vectors.
const WIDEN_BLOCK: usize = 64;

/// Running extrema of every width in `shape.widths` over the row in `entry`'s first `len` samples,
/// by doubling, each into the entry's array of that index (arrays `stride` apart; the one of width w
/// is valid on `w .. len − w`). The intermediate widths of the doubling stay in the ring entry too: in
/// a separate scratch row the top-hat measured 15 % slower.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "x86_64+sse4.1"
))]
fn running_extrema<E: Extremum>(
    entry: &mut [f32],
    (len, stride): (usize, usize),
    shape: &DiskShape,
) {
    // Every width is at most r and the input is at least 2r + 1 long, so each range below is valid.
    for (i, (&w, &(from, k))) in shape.widths.iter().zip(&shape.recipe).enumerate().skip(1) {
        let (before, after) = entry.split_at_mut(i * stride);
        let src = &before[from * stride..from * stride + len];
        let dst = &mut after[w..len - w];
        if k == 0 {
            for (j, d) in dst.iter_mut().enumerate() {
                *d = E::pick(E::pick(src[j], src[j + 1]), src[j + 2]);
            }
        } else {
            // Output position p = w + j reads p − k and p + k.
            let (left, right) = (&src[w - k..len - w - k], &src[w + k..len - w + k]);
            for ((d, &a), &b) in dst.iter_mut().zip(left).zip(right) {
                *d = E::pick(a, b);
            }
        }
    }
}

/// Columns per register block in the combination: four AVX-512 (eight AVX2) vectors of independent
/// extrema, so the `2r + 1` comparisons per column are not one serial dependency chain.
const BLOCK: usize = 64;

/// `dst[x] = extremum over d of rows[starts[d] + x]`, in register blocks: each array is read once and
/// `dst` written once. A width that is not a multiple of the block ends with one block that
/// overlaps the previous one (recomputing a few columns costs less than a scalar tail: perf put a
/// third of this function's time in a 28-column scalar remainder).
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "x86_64+sse4.1"
))]
fn combine_rows<E: Extremum>(
    dst: &mut [f32],
    rows: &[f32],
    starts: &[usize],
    residue: Residue<'_>,
) {
    combine_blocks::<E, BLOCK>(dst, rows, starts, residue);
}

#[inline(always)]
fn combine_blocks<E: Extremum, const B: usize>(
    dst: &mut [f32],
    rows: &[f32],
    starts: &[usize],
    residue: Residue<'_>,
) {
    let tw = dst.len();
    if tw < B {
        if B > 16 {
            combine_blocks::<E, 16>(dst, rows, starts, residue);
        } else {
            for (x, d) in dst.iter_mut().enumerate() {
                let v = starts[1..]
                    .iter()
                    .fold(rows[starts[0] + x], |a, &s| E::pick(a, rows[s + x]));
                *d = match residue {
                    Some((reference, sign)) => sign * (v - reference[x]),
                    None => v,
                };
            }
        }
        return;
    }
    let mut x0 = 0;
    loop {
        let mut acc = [0f32; B];
        acc.copy_from_slice(&rows[starts[0] + x0..starts[0] + x0 + B]);
        for &s in &starts[1..] {
            let row = &rows[s + x0..s + x0 + B];
            for i in 0..B {
                acc[i] = E::pick(acc[i], row[i]);
            }
        }
        if let Some((reference, sign)) = residue {
            for (a, &r) in acc.iter_mut().zip(&reference[x0..x0 + B]) {
                *a = sign * (*a - r);
            }
        }
        dst[x0..x0 + B].copy_from_slice(&acc);
        if x0 + B == tw {
            break;
        }
        x0 = (x0 + B).min(tw - B);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::testutil::{assert_thread_independent, planes, textured, with_threads};
    use proptest::prelude::*;

    /// The definition: extremum over every disk offset, borders reflected.
    fn naive(src: &Array2<f32>, radius: usize, max: bool) -> Array2<f32> {
        let (h, w) = src.dim();
        let r = radius as isize;
        Array2::from_shape_fn((h, w), |(y, x)| {
            let mut best = if max { f32::MIN } else { f32::MAX };
            for dy in -r..=r {
                for dx in -r..=r {
                    if dx * dx + dy * dy <= r * r {
                        let v = src[[reflect(y as isize + dy, h), reflect(x as isize + dx, w)]];
                        best = if max { best.max(v) } else { best.min(v) };
                    }
                }
            }
            best
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        // Exact: maxima and minima involve no rounding, so the result must equal the definition.
        #[test]
        fn dilation_and_erosion_equal_the_definition(img in planes(45), radius in 0usize..21) {
            prop_assert_eq!(dilate(img.view(), radius), naive(&img, radius, true));
            prop_assert_eq!(erode(img.view(), radius), naive(&img, radius, false));
        }

        // Rows wider than a register block (64) plus the halo and than a column chunk (256), so the
        // blocks, the overlapping last blocks and the chunk seams (a last chunk narrower than a
        // block too) are compared with the definition, not only the narrow paths.
        #[test]
        fn wide_rows_equal_the_definition(
            h in 1usize..8, w in 60usize..600, seed in any::<u64>(), radius in 0usize..21,
        ) {
            let img = textured(h, w, seed);
            prop_assert_eq!(dilate(img.view(), radius), naive(&img, radius, true));
            prop_assert_eq!(erode(img.view(), radius), naive(&img, radius, false));
        }

        // Opening, closing and the top-hats chain two filters row by row and fuse the subtraction:
        // they must equal the naive filters applied one after the other, exactly (a − b, and
        // −(a − b) = b − a, are exact in IEEE arithmetic).
        #[test]
        fn chained_filters_equal_their_definitions(img in planes(40), radius in 0usize..20) {
            let closed = naive(&naive(&img, radius, true), radius, false);
            let opened = naive(&naive(&img, radius, false), radius, true);
            prop_assert_eq!(close(img.view(), radius), closed.clone());
            prop_assert_eq!(open(img.view(), radius), opened.clone());
            prop_assert_eq!(black_tophat(img.view(), radius), &closed - &img);
            prop_assert_eq!(white_tophat(img.view(), radius), &img - &opened);
        }

        #[test]
        fn opening_is_idempotent_and_tophats_non_negative(img in planes(30), radius in 1usize..5) {
            let once = open(img.view(), radius);
            prop_assert_eq!(open(once.view(), radius), once);
            prop_assert!(black_tophat(img.view(), radius).iter().all(|&v| v >= 0.0));
            prop_assert!(white_tophat(img.view(), radius).iter().all(|&v| v >= 0.0));
        }
    }

    #[test]
    fn cache_sizes_parse_as_sysfs_writes_them() {
        assert_eq!(parse_cache_size("2048K\n"), Some(2 << 20));
        assert_eq!(parse_cache_size("1M"), Some(1 << 20));
        assert_eq!(parse_cache_size("512"), Some(512));
        assert_eq!(parse_cache_size("12X"), None);
        assert_eq!(parse_cache_size(""), None);
    }

    #[test]
    fn disk_shape_matches_the_definition() {
        assert_eq!(disk_half_widths(0), vec![0]);
        assert_eq!(disk_half_widths(1), vec![0, 1, 0]);
        assert_eq!(
            disk_half_widths(6),
            vec![0, 3, 4, 5, 5, 5, 6, 5, 5, 5, 4, 3, 0]
        );
    }

    #[test]
    fn black_tophat_recovers_a_pore_depth() {
        // A flat surface at 0.5 with a dark 3-px-radius pit 0.2 deep: a disk of radius 6 closes it.
        let mut img = Array2::from_elem((40, 50), 0.5f32);
        for y in 0..40usize {
            for x in 0..50usize {
                if (x as f32 - 25.0).hypot(y as f32 - 20.0) <= 3.0 {
                    img[[y, x]] = 0.3;
                }
            }
        }
        let th = black_tophat(img.view(), 6);
        assert!((th[[20, 25]] - 0.2).abs() < 1e-6);
        assert_eq!(th[[5, 5]], 0.0);
    }

    #[test]
    fn wider_than_a_tile_and_thread_independent() {
        let img = textured(97, 1100, 12);
        assert_thread_independent(|| black_tophat(img.view(), 6));
        // 1100 columns span three tiles and 97 rows at least two bands: the seams must be invisible,
        // also where the second of two chained filters reads the first one's rows beyond its band.
        let dilated = naive(&img, 6, true);
        assert_eq!(dilate(img.view(), 6), dilated);
        assert_eq!(
            black_tophat(img.view(), 6),
            &naive(&dilated, 6, false) - &img
        );
        for threads in [1, 7] {
            let opened = with_threads(threads, || open(img.view(), 4));
            assert_eq!(opened, naive(&naive(&img, 4, false), 4, true));
        }
    }
}
