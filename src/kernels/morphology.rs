//! Grey-scale morphology with a disk: erosion, dilation, opening, closing, white and black top-hat.
//!
//! Exists because the crates we can use are far too slow at 12 MP (imageproc's top-hat measured about
//! 20× slower than OpenCV's in the project's crate survey). The disk `{(dx, dy) : dx² + dy² ≤ r²}`
//! (scikit-image's `disk(r)`) is the union of its rows, so a dilation is the maximum over `dy` of a
//! horizontal running maximum of half-width `w(dy) = ⌊√(r² − dy²)⌋` taken on row `y + dy`.
//!
//! - **Horizontal**: up to r = 16 the running maxima `M_w` of the disk's half-widths are built by
//!   widening one sample a side at a time, in register blocks (`widen_extrema`); beyond, by doubling
//!   (`M_w(x) = max(M_u(x − k), M_u(x + k))` with `u = ⌈w/2⌉`, `k = w − u ≤ u`, so the two windows
//!   overlap): one comparison per built width (two for `M_1`), where widening takes `2r`, but each
//!   built width, intermediate ones too, is one more array in the ring.
//! - **Vertical**: `2r + 1` comparisons down the rows, register-blocked so they vectorise.
//! - **Streaming**: each worker walks a band of rows (tile by tile where its rings would spill out of a
//!   large L2, or the image is very wide: see `tile_width`) and keeps only the last `2r + 1` rows of
//!   running maxima in a ring. Opening, closing and the top-hats chain two such filters row by row:
//!   the first filter's output rows go straight into the second's ring, so the intermediate plane is
//!   never materialised. Measured at 12 MP on a 2-core AMD EPYC (Zen 4; black top-hat, r = 6, one
//!   thread): the version with a whole intermediate plane spent a third of its time in the kernel
//!   zeroing that fresh 48 MB buffer (`clear_page_erms`) and an eighth copying rows; 47.7 → 25 ms
//!   with all of the above.
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
/// tiling does. On a 2-core Intel Xeon VM (L2 2 MiB, a mesh L3) the 12 MP black top-hat (r = 6,
/// harness min of 20) took 47 ms on one thread with whole rows (2.9 MB of rings), 41.6 with tiles
/// of 2000 columns, 39–41 from 1200 to 1600, 42 at 1000; two threads 25.3 → 21–22 ms. This rule
/// gives 1440 columns there and, with 1 MiB of L2 (the AMD EPYC above), whole rows.
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
    let ring_floats_per_column = shape.ring_rows() * shape.widths.len();
    let tile = tile_width(ring_floats_per_column, kinds.len()).min(w);
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
        // The last filter's output row segment, copied into the output once complete.
        let mut out_row = vec![0f32; tile];
        for x0 in (0..w).step_by(tile) {
            let tw = tile.min(w - x0);
            for (i, stage) in stages.iter_mut().enumerate() {
                stage.reset(out_width(i, tw));
            }
            let mut emitted = 0usize;
            for i in 0..rows + 2 * halo {
                let y = reflect(y0 as isize + i as isize - halo as isize, h);
                let row = &data[y * w..(y + 1) * w];
                fill_reflected(stages[0].next_input(), row, x0 as isize - halo as isize);
                stages[0].push();
                for s in 0..stages.len() {
                    if !stages[s].ready() {
                        break;
                    }
                    if s + 1 < stages.len() {
                        // The output row goes straight into the next filter's ring.
                        let (this, next) = stages.split_at_mut(s + 1);
                        this[s].emit(next[0].next_input(), None);
                        next[0].push();
                    } else {
                        let at = (y0 + emitted) * w + x0;
                        let residue = residue_sign.map(|sign| (&data[at..at + tw], sign));
                        stages[s].emit(&mut out_row[..tw], residue);
                        out.write(emitted, x0, &out_row[..tw]);
                        emitted += 1;
                    }
                }
            }
        }
    });
    plane(h, w, out)
}

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

/// A top-hat's last step, fused into the last filter's output: `(reference row, sign)` turns each
/// filtered value v into `sign · (v − reference)` before it is stored.
type Residue<'r> = Option<(&'r [f32], f32)>;

/// The disk's rows as running-extremum widths, and how each width is built.
struct DiskShape {
    radius: usize,
    /// Half-widths built for each row: the disk's distinct ones and those the doubling builds them
    /// from, ascending, starting with 0 (the row itself).
    widths: Vec<usize>,
    /// For `widths[i]`, i ≥ 1: the index of the width it is built from and the offset `k`; `k = 0`
    /// marks width 1, built from three samples. Empty where the widths are built by widening.
    recipe: Vec<(usize, usize)>,
    /// For each `dy` in `0..2r + 1` (offset `dy − r`), the index in `widths` of that disk row's width.
    row_width: Vec<usize>,
}

impl DiskShape {
    fn new(radius: usize) -> Self {
        let half = disk_half_widths(radius);
        let mut widths: Vec<usize> = half.clone();
        // Close the set under u ↦ ⌈u/2⌉ so every width's source is built before it (only the
        // doubling needs them; widening builds each width from the row itself).
        let doubling = radius > MAX_WIDENING_RADIUS;
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
        // Widening needs no recipe (and its widths lack the halves a recipe would name).
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

    fn ring_rows(&self) -> usize {
        2 * self.radius + 1
    }

    /// Whether the running extrema are built by widening (see [`widen_extrema`]) rather than by
    /// doubling.
    fn widens(&self) -> bool {
        self.radius <= MAX_WIDENING_RADIUS
    }
}

/// Largest radius whose running extrema are built by widening one sample a side at a time
/// ([`widen_extrema`]): 2r comparisons per sample, against about one per built width by doubling,
/// but no intermediate widths in the ring and every read from the one input row. Measured faster
/// at r = 6 and r = 15; larger radii keep the doubling, whose comparisons grow more slowly.
const MAX_WIDENING_RADIUS: usize = 16;

/// One disk filter run row by row over a tile: each input row (`out_width + 2r` wide) is written
/// into the ring, its running extrema built next to it, and once the ring holds `2r + 1` rows each
/// `emit` writes the output row centred in it.
struct Stage<'a> {
    kind: Kind,
    shape: &'a DiskShape,
    out_width: usize,
    /// `ring_rows` entries, each one array per width (`array_stride` apart); array 0 is the row itself.
    ring: Vec<f32>,
    received: usize,
    /// Offsets into `ring` of the rows the combination reads, one per disk row, reused between rows.
    starts: Vec<usize>,
}

impl<'a> Stage<'a> {
    fn new(kind: Kind, shape: &'a DiskShape, max_out_width: usize) -> Self {
        let input = max_out_width + 2 * shape.radius;
        Self {
            kind,
            shape,
            out_width: max_out_width,
            ring: vec![0f32; shape.ring_rows() * shape.widths.len() * array_stride(input)],
            received: 0,
            starts: vec![0; shape.ring_rows()],
        }
    }

    fn input_width(&self) -> usize {
        self.out_width + 2 * self.shape.radius
    }

    /// Starts a new tile of `out_width` columns (at most the width it was made for).
    fn reset(&mut self, out_width: usize) {
        self.out_width = out_width;
        self.received = 0;
    }

    fn ready(&self) -> bool {
        self.received >= self.shape.ring_rows()
    }

    fn entry_start(&self, entry: usize) -> usize {
        entry * self.shape.widths.len() * array_stride(self.input_width())
    }

    /// Where the next input row goes: the width-0 array of the ring entry it will occupy.
    fn next_input(&mut self) -> &mut [f32] {
        let len = self.input_width();
        let at = self.entry_start(self.received % self.shape.ring_rows());
        &mut self.ring[at..at + len]
    }

    /// Takes the row written into [`Self::next_input`]: builds its running extrema.
    fn push(&mut self) {
        let len = self.input_width();
        let stride = array_stride(len);
        let at = self.entry_start(self.received % self.shape.ring_rows());
        let entry = &mut self.ring[at..at + self.shape.widths.len() * stride];
        match self.kind {
            Kind::Dilate => running_extrema::<Max>(entry, (len, stride), self.shape),
            Kind::Erode => running_extrema::<Min>(entry, (len, stride), self.shape),
        }
        self.received += 1;
    }

    /// The output row whose disk covers the last `2r + 1` rows pushed.
    fn emit(&mut self, dst: &mut [f32], residue: Residue<'_>) {
        let (stride, k) = (array_stride(self.input_width()), self.shape.ring_rows());
        let oldest = self.received - k;
        for (dy, start) in self.starts.iter_mut().enumerate() {
            let slot = (oldest + dy) % k;
            *start = (slot * self.shape.widths.len() + self.shape.row_width[dy]) * stride
                + self.shape.radius;
        }
        match self.kind {
            Kind::Dilate => combine_rows::<Max>(dst, &self.ring, &self.starts, residue),
            Kind::Erode => combine_rows::<Min>(dst, &self.ring, &self.starts, residue),
        }
    }
}

/// Floats between the starts of two arrays of `len` samples: whole cache lines, plus one so that
/// arrays a multiple of 4 KiB apart do not compete for the same L1 sets.
fn array_stride(len: usize) -> usize {
    len.next_multiple_of(16) + 16
}

/// Running extrema of every width in `shape.widths` over the row in `entry`'s first `len` samples,
/// each into the entry's array of that index (arrays `stride` apart; the one of width w is valid on
/// `w .. len − w`). The intermediate widths of the doubling stay in the ring entry too: in a separate
/// scratch row the top-hat measured 15 % slower.
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
    if shape.widens() {
        widen_extrema::<E>(entry, (len, stride), shape);
        return;
    }
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

/// [`running_extrema`] for small radii: the extremum over `p − k ..= p + k` is widened one sample a
/// side at a time, k = 1 … r, in register blocks, and stored whenever k is one of the disk's widths.
/// Only the samples `r .. len − r` are built (all that [`combine_rows`] reads), and the ring holds
/// only the disk's own widths.
///
/// Why: doubling builds the widths one array from another, each a pass that reads and writes the
/// ring; at r = 6 that is seven arrays a row, two of them only steps (widths 1 and 2). Widening reads
/// only the input row, which stays in L1, and writes the four arrays the combination reads, so the
/// rings are five arrays a row instead of seven. Measured at 12 MP on a 2-core Intel Xeon VM
/// (harness medians, two alternating rounds), one thread: black top-hat r = 6 44.5 → 41.5–42.8 ms,
/// dilation r = 6 26.2–26.9 → 23.5–24.2 ms, top-hat r = 15 153–155 → 117–121 ms (doubling needs
/// many intermediate widths there); two threads: top-hat r = 6 23.6 → 21.8–22.0 ms.
#[inline(always)]
fn widen_extrema<E: Extremum>(entry: &mut [f32], (len, stride): (usize, usize), shape: &DiskShape) {
    let r = shape.radius;
    let (row, arrays) = entry.split_at_mut(stride);
    let row = &row[..len];
    // `len ≥ 2r + 1`, so the span is never empty.
    let (lo, hi) = (r, len - r);
    if hi - lo < WIDEN_BLOCK {
        for p in lo..hi {
            let mut m = row[p];
            let mut k = 0;
            for (i, &w) in shape.widths.iter().enumerate().skip(1) {
                while k < w {
                    k += 1;
                    m = E::pick(E::pick(m, row[p - k]), row[p + k]);
                }
                arrays[(i - 1) * stride + p] = m;
            }
        }
        return;
    }
    let mut x0 = lo;
    loop {
        let mut acc = [0f32; WIDEN_BLOCK];
        acc.copy_from_slice(&row[x0..x0 + WIDEN_BLOCK]);
        let mut k = 0;
        for (i, &w) in shape.widths.iter().enumerate().skip(1) {
            while k < w {
                k += 1;
                let (left, right) = (
                    &row[x0 - k..x0 - k + WIDEN_BLOCK],
                    &row[x0 + k..x0 + k + WIDEN_BLOCK],
                );
                for j in 0..WIDEN_BLOCK {
                    acc[j] = E::pick(E::pick(acc[j], left[j]), right[j]);
                }
            }
            let at = (i - 1) * stride + x0;
            arrays[at..at + WIDEN_BLOCK].copy_from_slice(&acc);
        }
        if x0 + WIDEN_BLOCK == hi {
            break;
        }
        // The last block ends at `hi`, overlapping its neighbour (same values recomputed).
        x0 = (x0 + WIDEN_BLOCK).min(hi - WIDEN_BLOCK);
    }
}

/// Samples per register block in [`widen_extrema`]: four AVX-512 vectors.
const WIDEN_BLOCK: usize = 64;

/// Columns per register block in the vertical combination: four AVX-512 (eight AVX2) vectors of
/// independent extrema, so the `2r + 1` comparisons per column are not one serial dependency chain.
const BLOCK: usize = 64;

/// `dst[x] = extremum over dy of rows[starts[dy] + x]`, in register blocks: each ring row is read once
/// and `dst` written once. A width that is not a multiple of the block ends with one block that
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

        // Rows wider than a register block of the widening (64) plus the halo, so its blocks and its
        // overlapping last block are compared with the definition too, not only its narrow path.
        #[test]
        fn wide_rows_equal_the_definition(
            h in 1usize..8, w in 60usize..220, seed in any::<u64>(), radius in 0usize..21,
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
