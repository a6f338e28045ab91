//! Large output buffers, backed by transparent huge pages where Linux offers them.
//!
//! A fresh 12 MP `f32` plane is 48 MB. Faulted in 4 KiB at a time that is 12 000 page faults, which
//! perf measured at about a third of a σ = 1 Gaussian's time at 12 MP (`exc_page_fault`,
//! `do_anonymous_page`), and page faults also serialise threads on the kernel's memory locks. Asking for
//! transparent huge pages (`madvise(MADV_HUGEPAGE)`, as numpy does for its large arrays; the usual THP
//! mode is "madvise") before the first touch backs the buffer with 2 MiB pages: about 24 faults.
//!
//! `prefaulted_f32` buffers are also faulted in from all workers before the kernel that fills them
//! runs (`fault_in`), so the page zeroing is shared out rather than queued behind one thread.
//!
//! One of the two places with `unsafe` code in skintex (the other is `keep_freed_memory` in
//! `src/main.rs`): one advisory system call on memory the `Vec` owns.

use rayon::prelude::*;

/// Below this size a buffer is left to the allocator as it is.
const HUGE_PAGE_THRESHOLD: usize = 4 << 20;

/// The size of a transparent huge page on x86-64 and most Linux configurations.
const HUGE_PAGE: usize = 2 << 20;

/// A zeroed `f32` buffer of `len` elements.
pub(crate) fn zeroed_f32(len: usize) -> Vec<f32> {
    let mut v = vec![0f32; len];
    advise_huge_pages(&mut v);
    v
}

/// [`zeroed_f32`], its pages already faulted in by all workers (see `fault_in`): for kernels whose
/// first pass touches every page of the output early, as the recursive Gaussian's vertical pass does.
pub(crate) fn prefaulted_f32(len: usize) -> Vec<f32> {
    let mut v = zeroed_f32(len);
    fault_in(&mut v);
    v
}

/// A buffer of `len` copies of `value`.
pub(crate) fn filled_f32(len: usize, value: f32) -> Vec<f32> {
    let mut v = zeroed_f32(len);
    if value != 0.0 || value.is_sign_negative() {
        v.fill(value);
    }
    v
}

/// A zeroed `u32` buffer of `len` elements.
pub(crate) fn zeroed_u32(len: usize) -> Vec<u32> {
    let mut v = vec![0u32; len];
    advise_huge_pages(&mut v);
    v
}

/// Faults a large fresh buffer's pages in from all rayon workers at once, before the kernel that
/// fills it starts: one write per huge page. Only for kernels that touch the whole output early: a
/// streaming kernel (the sampled Gaussian, σ = 1) was 2 ms slower at 12 MP on one thread with it,
/// because its writes then miss the cache the zeroing had just warmed.
///
/// Why: the kernel zeroes each page on its first write (about 2.5 ms for a 12 MP `f32` plane here),
/// and left to the first writes of the filling pass, the faults fall wherever that pass first
/// touches. The vertical Gaussian pass touches every page of the plane in its first 64-column chunk,
/// so there one worker zeroed the whole plane while the other waited behind it on the same pages; and
/// the zeroing, in the middle of the computation, evicted its working set. Measured on the 12 MP σ = 8
/// blur (min of 30): one thread 17.1 → 16.5 ms, two threads 10.0 → 9.6 ms.
fn fault_in<T: Copy + Default + Send>(v: &mut [T]) {
    if size_of_val(v) < HUGE_PAGE_THRESHOLD {
        return;
    }
    let per_page = HUGE_PAGE / size_of::<T>().max(1);
    v.par_chunks_mut(per_page).for_each(|page| {
        // Both ends: a chunk need not start on a page boundary, so it may span two pages.
        if let Some(first) = page.first_mut() {
            *first = T::default();
        }
        if let Some(last) = page.last_mut() {
            *last = T::default();
        }
    });
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

    #[test]
    fn buffers_have_the_asked_contents() {
        for len in [0, 10, (8 << 20) / 4] {
            assert!(zeroed_f32(len).iter().all(|&v| v == 0.0));
            assert!(filled_f32(len, -2.5).iter().all(|&v| v == -2.5));
            assert!(zeroed_u32(len).iter().all(|&v| v == 0));
            assert_eq!(zeroed_f32(len).len(), len);
        }
    }
}
