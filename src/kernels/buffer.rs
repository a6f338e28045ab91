//! Large output buffers, backed by transparent huge pages where Linux offers them, and the one
//! cache hint skintex uses (`prefetch`: the recursive Gaussian's vertical pass and the blob
//! detector's scale refinement).
//!
//! A fresh 12 MP `f32` plane is 48 MB. Faulted in 4 KiB at a time that is 12 000 page faults, which
//! perf measured at about a third of a σ = 1 Gaussian's time at 12 MP (`exc_page_fault`,
//! `do_anonymous_page`), and page faults also serialise threads on the kernel's memory locks. Asking for
//! transparent huge pages (`madvise(MADV_HUGEPAGE)`, as numpy does for its large arrays; the usual THP
//! mode is "madvise") before the first touch backs the buffer with 2 MiB pages: about 24 faults.
//!
//! Large `zeroed` buffers are zeroed by all workers, which also faults their pages in before the
//! kernel that fills them runs, so the page zeroing is shared out rather than queued behind one
//! thread.
//!
//! `banded` and `row_banded` buffers are made band by band and never zeroed first: from reused heap
//! memory a zeroed plane is a serial 48 MB `memset`. Large ones (16 MB and more) are written with
//! non-temporal stores, which skip reading each output line before writing it (`streams`).
//!
//! One of the two places with `unsafe` code in skintex (the other is `keep_freed_memory` in
//! `src/main.rs`): one advisory system call on memory the `Vec` owns, a prefetch instruction, the
//! `set_len` of `banded` and `row_banded` once every element has been written, and the copy of bands
//! and row segments into the output (`copy_to_uninit`, and `stream_to_uninit`'s non-temporal stores
//! for large outputs).

use rayon::prelude::*;

/// Below this size a buffer is left to the allocator as it is.
const HUGE_PAGE_THRESHOLD: usize = 4 << 20;

/// The size of a transparent huge page on x86-64 and most Linux configurations.
const HUGE_PAGE: usize = 2 << 20;

/// A buffer of `len` copies of `value`.
pub(crate) fn filled_f32(len: usize, value: f32) -> Vec<f32> {
    let mut v = zeroed(len);
    if value != 0.0 || value.is_sign_negative() {
        v.fill(value);
    }
    v
}

/// A zeroed buffer of `len` elements; a large one is zeroed by all workers, a huge page each.
///
/// Why: `vec![0; n]` is a `calloc`, free only for fresh pages from `mmap`. From reused heap memory,
/// which is what the `skintex` binary's allocator policy hands out, it is one `memset` on one
/// thread: for the 12 MP `u32` label image that `memset` held two threads to 1.18× the speed of one
/// (`label/12mp/8-conn+stats+image`, `benches/peers.sh`).
///
/// With fresh pages the parallel zeroing also faults them in from all workers before the kernel that
/// fills the buffer runs, so the kernel's page zeroing (about 2.5 ms for a 12 MP `f32` plane here) is
/// shared out rather than queued behind one thread. That matters for kernels whose first pass
/// touches every page early: the recursive Gaussian's vertical pass touches every page of the plane
/// in its first 64-column chunk, so there one worker zeroed the whole plane while the other waited
/// behind it on the same pages, and the zeroing, in the middle of the computation, evicted its
/// working set. Faulting the pages in first measured, on the 12 MP σ = 8 recursive blur (min of 30):
/// one thread 17.1 → 16.5 ms, two threads 10.0 → 9.6 ms. Kernels that write their output in one
/// streaming pass are better served by [`banded`], which neither zeroes nor faults in first: the
/// sampled σ = 1 Gaussian was 2 ms slower at 12 MP on one thread with its output faulted in first,
/// because its writes then missed the cache the zeroing had warmed.
pub(crate) fn zeroed<T: bytemuck::Pod + Send>(len: usize) -> Vec<T> {
    if len * size_of::<T>() < HUGE_PAGE_THRESHOLD {
        return vec![T::zeroed(); len];
    }
    let mut v: Vec<T> = Vec::with_capacity(len);
    let spare = &mut v.spare_capacity_mut()[..len];
    advise_huge_pages(spare);
    spare
        .par_chunks_mut(HUGE_PAGE / size_of::<T>().max(1))
        .for_each(zero_uninit);
    #[allow(unsafe_code)]
    // SAFETY: the capacity is at least `len`, and the chunks partition the first `len` elements of
    // the spare capacity, each of which `zero_uninit` wrote. Had a worker panicked, the panic would
    // have left this function before this point.
    unsafe {
        v.set_len(len);
    }
    v
}

/// A buffer of `len` values made band by band in parallel, never zeroed first. `make(band, scratch)`
/// must write every value of `scratch`: band `band`'s `band_len` values (the last band may be
/// shorter). Each band is made in a per-worker scratch buffer, small enough to stay in cache, then
/// copied once into the output.
///
/// Why: `vec![0; n]` is free only for fresh pages from `mmap` (the kernel zeroes them). From reused
/// heap memory, which is what the `skintex` binary's allocator policy (`keep_freed_memory` in
/// `main.rs`) hands out, it is a 48 MB `memset` on one thread for a 12 MP `f32` plane, ahead of a
/// kernel that overwrites every value anyway. Measured on the 12 MP σ = 1 Gaussian (min of 40) with
/// that policy: one thread 10.1–10.7 → 8.6–9.3 ms, two threads 5.6–5.8 → 4.6–4.8 ms. With fresh
/// pages it costs 0.3–0.5 ms more (12.0–12.3 against 11.6–12.0 ms on one thread, two threads
/// unchanged). Outputs of 16 MB and more are copied out with non-temporal stores (see [`streams`]
/// for why and what it measured).
pub(crate) fn banded<T, F>(len: usize, band_len: usize, make: F) -> Vec<T>
where
    T: bytemuck::Pod + Send,
    F: Fn(usize, &mut [T]) + Sync,
{
    let mut v: Vec<T> = Vec::with_capacity(len);
    let spare = &mut v.spare_capacity_mut()[..len];
    advise_huge_pages(spare);
    let stream = streams(spare);
    spare
        .par_chunks_mut(band_len.max(1))
        .enumerate()
        .for_each(|(band, out)| {
            with_scratch(out.len(), |scratch: &mut [T]| {
                make(band, scratch);
                if stream {
                    stream_to_uninit(out, scratch);
                } else {
                    copy_to_uninit(out, scratch);
                }
            });
        });
    #[allow(unsafe_code)]
    // SAFETY: the capacity is at least `len`, and every one of the first `len` elements was
    // initialised: the bands partition `spare` (= the first `len` elements of the capacity), and
    // `copy_to_uninit` writes every element of its `dst`. Had `make` panicked, the panic would have left
    // this function before this point.
    unsafe {
        v.set_len(len);
    }
    v
}

/// A `height × width` row-major buffer made in bands of `band_rows` rows in parallel, never zeroed
/// first, for kernels that produce their output a row segment at a time (the morphology filters).
/// `make(band, writer)` writes band `band`'s rows through `writer` (see [`BandWriter::write`]); any
/// value it leaves unwritten is zero. The segments are copied straight into the output, so unlike
/// [`banded`] there is no band-sized scratch: a kernel keeps only its current row segment, in L1.
///
/// Why: the `memset` `banded` avoids. On the 12 MP black top-hat (r = 6) with the binary's allocator
/// policy, harness min of 30, two rounds: two threads 25.5–25.8 → 24.4–24.6 ms, one thread
/// unchanged (46.6–47.3 against 47.2–47.3 ms: the copy from the L1 row costs about what the
/// `memset` did).
pub(crate) fn row_banded<T, F>(height: usize, width: usize, band_rows: usize, make: F) -> Vec<T>
where
    T: bytemuck::Pod + Send,
    F: Fn(usize, &mut BandWriter<'_, T>) + Sync,
{
    let len = height * width;
    let mut v: Vec<T> = Vec::with_capacity(len);
    let spare = &mut v.spare_capacity_mut()[..len];
    advise_huge_pages(spare);
    let stream = streams(spare);
    if width > 0 {
        spare
            .par_chunks_mut(band_rows.max(1) * width)
            .enumerate()
            .for_each(|(band, values)| {
                let rows = values.len() / width;
                let mut writer = BandWriter {
                    values,
                    width,
                    filled: vec![0; rows],
                    stream,
                };
                make(band, &mut writer);
                writer.finish();
            });
    }
    #[allow(unsafe_code)]
    // SAFETY: the capacity is at least `len`, and every one of the first `len` elements was
    // initialised: the bands partition them (each a whole number of rows, as `len` is `height ·
    // width`), and `BandWriter` keeps `filled[row]` such that the row's first `filled[row]` values
    // are written (it only raises it to the end of a segment that starts at or before it, after
    // writing that segment), then `finish` zero-fills the rest of every row. Had `make` panicked, the
    // panic would have left this function before this point.
    unsafe {
        v.set_len(len);
    }
    v
}

/// One band of a [`row_banded`] buffer, written row segment by row segment.
pub(crate) struct BandWriter<'a, T> {
    values: &'a mut [std::mem::MaybeUninit<T>],
    width: usize,
    /// How many leading values of each row are written.
    filled: Vec<usize>,
    /// Whether segments are written with non-temporal stores (see [`streams`]).
    stream: bool,
}

impl<T: bytemuck::Pod> BandWriter<'_, T> {
    /// Rows in this band.
    pub(crate) fn rows(&self) -> usize {
        self.filled.len()
    }

    /// Writes `values` into row `row` of the band from column `x0` (values past the row's end are
    /// dropped). The segments of a row must come left to right, each starting at or before the end
    /// of those already written (overlap is fine); a segment that would leave a gap, or a row outside
    /// the band, is a bug in the caller: it is ignored (a debug build panics), so no value is left
    /// uninitialised.
    pub(crate) fn write(&mut self, row: usize, x0: usize, values: &[T]) {
        let filled = self.filled.get(row).copied().unwrap_or(0);
        debug_assert!(
            row < self.rows() && x0 <= filled,
            "row segment out of order"
        );
        if row >= self.rows() || x0 > filled {
            return;
        }
        let end = (x0 + values.len()).min(self.width);
        let start = row * self.width;
        let (dst, src) = (
            &mut self.values[start + x0..start + end],
            &values[..end - x0],
        );
        if self.stream {
            stream_to_uninit(dst, src);
        } else {
            copy_to_uninit(dst, src);
        }
        self.filled[row] = filled.max(end);
    }

    /// Zero-fills what `make` left unwritten.
    fn finish(self) {
        for (row, &filled) in self.filled.iter().enumerate() {
            let start = row * self.width;
            zero_uninit(&mut self.values[start + filled..start + self.width]);
        }
    }
}

thread_local! {
    /// Per-worker scratch bands for [`banded`], as bytes (one buffer serves every element type);
    /// reused so that bands cost no allocation. It keeps the size of the largest band it has held,
    /// for the life of the worker: 512 KB at 12 MP (the warp's 32 rows of 4000 `f32`).
    static SCRATCH: std::cell::RefCell<Vec<u128>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` on a scratch buffer of `len` values (contents unspecified): the thread's own, or a fresh
/// one when that is in use (a `make` that itself makes a banded buffer on the same worker).
fn with_scratch<T: bytemuck::Pod>(len: usize, f: impl FnOnce(&mut [T])) {
    // u128 storage: aligned for every `Pod` element type up to 16 bytes.
    let words = (len * size_of::<T>()).div_ceil(size_of::<u128>());
    let run = |store: &mut Vec<u128>| {
        if store.len() < words {
            store.resize(words, 0);
        }
        let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut store[..words]);
        match bytemuck::try_cast_slice_mut::<u8, T>(&mut bytes[..len * size_of::<T>()]) {
            Ok(scratch) => f(scratch),
            // Only for element types aligned beyond 16 bytes.
            Err(_) => f(&mut vec![T::zeroed(); len]),
        }
    };
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut store) => run(&mut store),
        Err(_) => run(&mut Vec::new()),
    });
}

/// Copies `src` into `dst` (same length), initialising every element of `dst`.
///
/// A `memcpy`, not an element loop: this function is generic, not multiversioned, so the loop
/// compiled to 16-byte SSE moves, and it was a quarter of a 12 MP σ = 1 Gaussian's time. With the
/// C library's copy, one thread on a 2-core Intel Xeon (harness medians): σ = 1 Gaussian 15.8 →
/// 14.8 ms, bilinear warp 33.2 → 31.3, black top-hat r = 6 45.5 → 43.2; σ = 1 on two threads 7.1 →
/// 6.5 ms.
fn copy_to_uninit<T: bytemuck::Pod>(dst: &mut [std::mem::MaybeUninit<T>], src: &[T]) {
    let n = dst.len().min(src.len());
    #[allow(unsafe_code)]
    // SAFETY: both ranges hold `n` elements of `T` (`n` is at most either length), `MaybeUninit<T>`
    // has `T`'s layout, and a `&mut` and a `&` slice cannot overlap.
    unsafe {
        std::ptr::copy_nonoverlapping(src.as_ptr(), dst.as_mut_ptr().cast::<T>(), n);
    }
    // Callers pass equal lengths; should one not, the rest is still initialised.
    zero_uninit(&mut dst[n..]);
}

/// Outputs of [`banded`] and [`row_banded`] at least this large are written with non-temporal
/// stores: 16 MB, a 4 MP `f32` plane, as large as the whole last-level cache of many desktop CPUs, so
/// a plane that size would mostly not stay in cache for the next step anyway. The threshold is that
/// judgement, not a measurement: only 12 MP planes (48 MB) were timed both ways.
const STREAM_BYTES: usize = 16 << 20;

/// Whether a [`banded`] or [`row_banded`] output goes to memory with non-temporal stores
/// ([`stream_to_uninit`]).
///
/// Why: with ordinary stores each output cache line is first read from memory (a read for
/// ownership), then written back: three transfers of the plane where two do. Measured on a 2-core
/// Intel Xeon VM (harness medians, two alternating rounds, binary allocator policy), 12 MP:
/// - one thread: Gaussian σ = 1 16.2–17.9 → 13.3–13.4 ms, σ = 2 24.2–25.9 → 21.6–22.0, σ = 8
///   17.7–19.9 → 14.5–14.6, black top-hat r = 6 46.4–47.8 → 43.1–43.2, bilinear warp 32.6–32.9 →
///   29.3–31.9 ms;
/// - two threads: σ = 1 7.9–8.3 → 6.5 ms, σ = 2 12.7–12.8 → 11.0–11.3, top-hat 24.6–25.5 →
///   22.5–23.0 ms;
/// - all metrics of one photo (`benches/metrics.rs`, two threads, three rounds): 325–336 → 307–327 ms.
///
/// A streamed plane is no longer in cache for the step that reads it next, which is why an earlier
/// trial was left out: a whole 12 MP `compare` measured 1.084 → 1.100 s (median of 7). Measured
/// again with this rule (five alternating runs each, the first cold run dropped): 1.54–1.56 s without
/// and 1.53–1.61 s with, the same within this VM's noise, and the same reports byte for byte.
fn streams<T>(output: &[T]) -> bool {
    cfg!(target_arch = "x86_64") && size_of_val(output) >= STREAM_BYTES
}

/// [`copy_to_uninit`] with non-temporal stores: the copied values go to memory without the
/// destination's cache lines being read first, and do not stay in cache. Ends with a store fence, so
/// the values are visible to other threads by the time the caller's band is reported done.
fn stream_to_uninit<T: bytemuck::Pod>(dst: &mut [std::mem::MaybeUninit<T>], src: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{__m128i, _mm_loadu_si128, _mm_sfence, _mm_stream_si128};
        let n = dst.len().min(src.len());
        let bytes = n * size_of::<T>();
        let to = dst.as_mut_ptr().cast::<u8>();
        let from = src.as_ptr().cast::<u8>();
        // The streaming stores need 16-byte aligned destinations: plain copies before and after.
        let head = to.align_offset(16).min(bytes);
        let body_end = head + (bytes - head) / 16 * 16;
        #[allow(unsafe_code)]
        // SAFETY: `to` and `from` are valid for `bytes` bytes (`n` elements of `T`, at most either
        // slice's length; `MaybeUninit<T>` has `T`'s layout); a `&mut` and a `&` slice cannot
        // overlap; every 16-byte store lands on `to + i` with `i` in `head..body_end`, which is
        // 16-byte aligned (`head` aligns `to`) and inside the range; `_mm_loadu_si128` has no
        // alignment requirement; SSE2, which provides these instructions, is part of the x86-64
        // baseline. Every byte of the `n` elements is written: `0..head`, `head..body_end`,
        // `body_end..bytes`.
        unsafe {
            std::ptr::copy_nonoverlapping(from, to, head);
            let mut i = head;
            while i < body_end {
                let v = _mm_loadu_si128(from.add(i).cast::<__m128i>());
                _mm_stream_si128(to.add(i).cast::<__m128i>(), v);
                i += 16;
            }
            std::ptr::copy_nonoverlapping(from.add(body_end), to.add(body_end), bytes - body_end);
            _mm_sfence();
        }
        zero_uninit(&mut dst[n..]);
    }
    #[cfg(not(target_arch = "x86_64"))]
    copy_to_uninit(dst, src);
}

/// Writes zero into every element of `dst`.
///
/// A `memset` (the C library's, which on large blocks writes whole cache lines without reading
/// them first), not an element loop left to the optimiser: it zeroes [`zeroed`]'s large buffers.
fn zero_uninit<T: bytemuck::Pod>(dst: &mut [std::mem::MaybeUninit<T>]) {
    #[allow(unsafe_code)]
    // SAFETY: `dst` is a valid, exclusively borrowed range of `dst.len()` elements, and the all-zero
    // bit pattern is a valid `T` (`Pod` implies `Zeroable`).
    unsafe {
        std::ptr::write_bytes(dst.as_mut_ptr(), 0, dst.len());
    }
}

/// Asks the CPU to start loading the cache lines `values` spans, for a pass that reads them shortly
/// in a pattern the hardware prefetchers do not follow. A hint only: it changes no value and cannot
/// fault. Nothing happens on other architectures.
#[inline(always)]
pub(crate) fn prefetch(values: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    for line in values.chunks(64 / size_of::<f32>()) {
        #[allow(unsafe_code)]
        // SAFETY: `prefetcht0` has no architectural effect (no register or memory value changes) and
        // never faults, whatever the address; this one lies inside `values`. SSE, which provides it,
        // is part of the x86-64 baseline.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                line.as_ptr().cast(),
            );
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = values;
}

/// Advises the kernel to back `v`'s memory with huge pages. Must run before the memory is first
/// written (a zeroed `vec!` of this size comes from untouched `mmap` pages). Best effort: the result
/// is ignored, and elsewhere than Linux nothing happens.
#[allow(unsafe_code)]
fn advise_huge_pages<T>(v: &mut [T]) {
    #[cfg(target_os = "linux")]
    {
        let bytes = size_of_val(v);
        if bytes < HUGE_PAGE_THRESHOLD {
            return;
        }
        const PAGE: usize = 4096;
        let start = v.as_mut_ptr() as usize;
        let aligned = (start + PAGE - 1) & !(PAGE - 1);
        let len = (start + bytes).saturating_sub(aligned);
        // SAFETY: [aligned, aligned + len) lies inside the allocation `v` borrows (aligned ≥ start and
        // aligned + len = start + bytes). MADV_HUGEPAGE changes only how the kernel backs those pages,
        // never their contents, mapping or validity, so no Rust invariant can be affected.
        unsafe {
            libc::madvise(aligned as *mut libc::c_void, len, libc::MADV_HUGEPAGE);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = v;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::testutil::with_threads;

    #[test]
    fn buffers_have_the_asked_contents() {
        for len in [0, 10, (8 << 20) / 4] {
            assert!(zeroed::<f32>(len).iter().all(|&v| v == 0.0));
            assert!(filled_f32(len, -2.5).iter().all(|&v| v == -2.5));
            assert!(zeroed::<u32>(len).iter().all(|&v| v == 0));
            assert_eq!(zeroed::<f32>(len).len(), len);
        }
    }

    /// Every element comes from its own band's `make`, at the right place, for lengths that are and
    /// are not a multiple of the band, on any number of threads; and a `make` that itself makes a
    /// banded buffer (the scratch is then in use on that worker) still gets a scratch of its own.
    #[test]
    fn banded_buffers_hold_what_each_band_made() {
        let value = |i: usize| (i as u32).wrapping_mul(2_654_435_761);
        for (len, band) in [(0, 5), (1, 5), (17, 5), (20, 5), (3, 64), (1 << 20, 4093)] {
            for threads in [1, 2, 7] {
                let made: Vec<u32> = with_threads(threads, || {
                    banded(len, band, |b, scratch: &mut [u32]| {
                        assert!(scratch.len() == band || (b + 1) * band >= len);
                        for (k, v) in scratch.iter_mut().enumerate() {
                            *v = value(b * band + k);
                        }
                    })
                });
                assert_eq!(made.len(), len);
                assert!(made.iter().enumerate().all(|(i, &v)| v == value(i)));
            }
        }
        let nested: Vec<f32> = banded(6, 2, |b, outer: &mut [f32]| {
            let inner: Vec<f32> = banded(4, 4, |_, s: &mut [f32]| s.fill(b as f32 + 0.5));
            outer.fill(inner.iter().sum());
        });
        assert_eq!(nested, [2.0, 2.0, 6.0, 6.0, 10.0, 10.0]);
    }

    /// Rows written in two segments each (the second overlapping the first, the last running past the
    /// row's end) land where they belong, on any number of threads, and a row left unwritten is zero.
    #[test]
    fn row_banded_buffers_hold_the_written_segments() {
        let (height, width, band_rows) = (11, 10, 3);
        let value = |y: usize, x: usize| (y * 100 + x) as f32;
        for threads in [1, 2, 7] {
            let made: Vec<f32> = with_threads(threads, || {
                row_banded(height, width, band_rows, |band, out| {
                    for row in 0..out.rows() {
                        let y = band * band_rows + row;
                        if y == 4 {
                            continue;
                        }
                        let first: Vec<f32> = (0..6).map(|x| value(y, x)).collect();
                        let second: Vec<f32> = (5..13).map(|x| value(y, x)).collect();
                        out.write(row, 0, &first);
                        out.write(row, 5, &second);
                    }
                })
            });
            assert_eq!(made.len(), height * width);
            for (i, &v) in made.iter().enumerate() {
                let (y, x) = (i / width, i % width);
                assert_eq!(v, if y == 4 { 0.0 } else { value(y, x) }, "at ({y}, {x})");
            }
        }
        assert!(row_banded(0, 5, 2, |_, _: &mut BandWriter<'_, f32>| {}).is_empty());
        assert!(row_banded(5, 0, 2, |_, _: &mut BandWriter<'_, f32>| {}).is_empty());
    }

    /// Outputs large enough to be written with non-temporal stores hold exactly what was made. Bytes,
    /// with bands and segments of odd lengths, so the stores start at every alignment and the plain
    /// copies before and after the aligned middle are exercised too.
    #[test]
    fn streamed_outputs_hold_what_was_made() {
        let byte = |i: usize| (i.wrapping_mul(2_654_435_761) >> 7) as u8;
        let len = STREAM_BYTES + 5;
        let band = 4093;
        assert!(cfg!(not(target_arch = "x86_64")) || streams(&vec![0u8; len]));
        for threads in [1, 2, 7] {
            let made: Vec<u8> = with_threads(threads, || {
                banded(len, band, |b, scratch: &mut [u8]| {
                    for (k, v) in scratch.iter_mut().enumerate() {
                        *v = byte(b * band + k);
                    }
                })
            });
            assert_eq!(made.len(), len);
            assert!(made.iter().enumerate().all(|(i, &v)| v == byte(i)));
        }
        // Rows of 8195 bytes, each written as 7 bytes from column 0, then the rest from column 3.
        let (height, width) = (STREAM_BYTES / 8195 + 1, 8195);
        for threads in [1, 2] {
            let made: Vec<u8> = with_threads(threads, || {
                row_banded(height, width, 37, |b, out| {
                    for row in 0..out.rows() {
                        let at = (b * 37 + row) * width;
                        let values: Vec<u8> = (0..width).map(|x| byte(at + x)).collect();
                        out.write(row, 0, &values[..7]);
                        out.write(row, 3, &values[3..]);
                    }
                })
            });
            assert_eq!(made.len(), height * width);
            assert!(made.iter().enumerate().all(|(i, &v)| v == byte(i)));
        }
    }
}
