//! The `skintex` binary: argument parsing, progress display and exit codes. All work is done by the
//! `skintex` library; see `src/cli/` for the edge.

// This is the program's edge: the one place that prints to the terminal.
#![allow(clippy::print_stderr, clippy::print_stdout)]

mod cli;

fn main() -> std::process::ExitCode {
    keep_freed_memory();
    cli::main()
}

/// Asks glibc to keep freed memory for reuse instead of handing it back to the kernel.
///
/// The pipeline allocates and frees many 12 MP planes (48 MB each). By default glibc serves blocks
/// that large with `mmap` and unmaps them on free, so every new plane is page-faulted in and zeroed
/// by the kernel again: perf put `clear_page_erms` and page faults at a fifth of a 12 MP `compare`.
/// With both thresholds raised, freed planes are reused; with one arena, planes freed by one worker
/// thread are reused by the other (per-thread arenas cannot hold a 48 MB block and would `mmap` it
/// again). Measured with `perf stat` on the peers' 12 MP pair, 2 threads: page faults 357 000 →
/// 159 000, CPU time 3.2 → 2.3 s, wall 2.0 → 1.5 s, peak memory 830 → 850 MB. Explicit
/// `MALLOC_*_THRESHOLD_` settings in the environment win (tests/memory.rs sets one). The same three
/// values, as environment variables, put the benchmarks under this policy (`benches/peers.sh`, the
/// header of `benches/metrics.rs`): change them together.
#[allow(unsafe_code)]
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let explicit = ["MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"]
            .iter()
            .any(|v| std::env::var_os(v).is_some());
        if !explicit {
            // SAFETY: mallopt only changes glibc's allocation policy; it is called before any other
            // thread exists, and no allocation's validity depends on these thresholds.
            unsafe {
                libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 30);
                libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
                libc::mallopt(libc::M_ARENA_MAX, 1);
            }
        }
    }
}
