//! Memory stays flat in the number of patients: photos are streamed one patient at a time and each is
//! dropped once measured, so 16 patients need no more memory than 4. The figure is the kernel's
//! high-water mark of the process's resident memory, which `analyze` prints ("peak memory N MB").
#![allow(clippy::print_stderr)]

use std::path::Path;
use std::process::Command;

use skintex::synth::{self, SynthConfig};

/// Runs `analyze` on `patients` synthetic patients of three 1200 × 900 photos; returns peak MB.
fn peak_megabytes(patients: usize, work: &Path) -> u64 {
    let photos = work.join(format!("photos-{patients}"));
    if photos.exists() {
        return run_analyze(patients, &photos, work);
    }
    let config = SynthConfig {
        patients,
        width: 1200,
        height: 900,
        ..SynthConfig::default()
    };
    synth::write_series(&config, &photos, false, &|_| {}).unwrap();
    run_analyze(patients, &photos, work)
}

/// Runs `analyze` on the series in `photos`; returns the peak MB it reports.
fn run_analyze(patients: usize, photos: &Path, work: &Path) -> u64 {
    // glibc raises its mmap threshold each time a large mmapped block is freed, after which large
    // buffers come from the heap, where fragmentation keeps some of them resident: the peak then creeps
    // up over the first few patients whatever the program does (measured: 209, 217, 226, 226 MB for 2, 4,
    // 8, 16 patients). A fixed threshold takes the allocator's adaptation out of the figure, so what
    // is left is what skintex itself keeps (177, 177, 176, 178 MB), and a leak would show at once.
    let output = Command::new(env!("CARGO_BIN_EXE_skintex"))
        .env("MALLOC_MMAP_THRESHOLD_", "131072")
        .args(["-j", "2", "analyze"])
        .arg(photos)
        .arg("-o")
        .arg(work.join(format!("out-{patients}")))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let peak = stderr
        .split("peak memory ")
        .nth(1)
        .and_then(|rest| rest.split(" MB").next())
        .and_then(|mb| mb.parse().ok())
        .unwrap_or_else(|| panic!("no peak memory in: {stderr}"));
    eprintln!("{patients} patients × 3 photos of 1.08 MP: peak memory {peak} MB");
    peak
}

#[test]
fn peak_memory_does_not_grow_with_the_number_of_patients() {
    if !Path::new("/proc/self/status").exists() {
        eprintln!("no /proc: peak memory is not reported on this system");
        return;
    }
    let work = tempfile::tempdir().unwrap();
    // Not 2 or 4 patients: with 2 workers they fit in one or two windows of patients run together
    // (`analyze` runs as many at a time as it has workers), and peak lower than any larger archive.
    // Measured over 3–12 runs each, before the detector's inner scale: 2 patients 112–121 MB; 4, 8,
    // 16 and 24 patients 120–130 MB (later, on the Xeon: 4 patients 129–138, 16 patients 137–138).
    // With it (its blur replacing the height plane), on the Xeon: 4 patients 118–129 MB, 8 and 16
    // patients 137–138 MB. Comparing the smaller counts with a larger one measured that warm-up rather
    // than growth, and failed at the bound (2 against 8 once, 4 against 16 once in CI).
    //
    // Since sessions keep their colour planes until the photometric fit (13 MB a photo here instead of
    // 4), which photos happen to be in flight together moves the peak more: 8 patients read 162 and
    // 162 MB in two runs and 145 MB in one CI run (32 patients: 163, 164, 163 MB). The smaller archive
    // is therefore run twice and its higher peak kept — the steady state is the highest interleaving
    // the threads reach, and one short run can miss it. A leak still shows: it adds to the larger
    // archive's peak whatever the interleaving.
    let (few_patients, many_patients) = (8, 32);
    let few =
        peak_megabytes(few_patients, work.path()).max(peak_megabytes(few_patients, work.path()));
    let many = peak_megabytes(many_patients, work.path());
    // Four times the patients: what is kept per patient (its rows for summary.csv and index.html) is
    // a few kilobytes. The bound is the linear-light planes of a single photo (4 × 4 bytes × 1.08 MP
    // = 17 MB): if even one of the 72 extra photos stayed resident, the peak would pass it. Run-to-run
    // noise (transparent huge pages, thread timing) measured up to 9 MB.
    let one_photo_mb = 4 * 4 * 1200 * 900 / 1_000_000;
    assert!(
        many < few + one_photo_mb,
        "peak memory grew from {few} MB ({few_patients} patients) to {many} MB ({many_patients} patients)"
    );
}
