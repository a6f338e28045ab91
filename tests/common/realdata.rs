//! Where the slow real-skin suites find their portraits, and why they skip when they cannot.

use std::path::{Path, PathBuf};

/// The shared portraits, sorted, or the line to print when the suite `name` (doing `what`) skips:
/// an unoptimised build, a missing `../shared/realdata`, or no JPEG in it.
pub fn portraits(name: &str, what: &str) -> Result<Vec<PathBuf>, String> {
    if cfg!(debug_assertions) {
        return Err(format!(
            "{name}: SKIPPED — unoptimised build; this suite {what} and is run by \
             `cargo test --release` (the project's test command)"
        ));
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/realdata");
    let entries = std::fs::read_dir(&dir).map_err(|_| {
        format!(
            "{name}: SKIPPED — {} not found; this suite needs the shared portraits beside the \
             checkout",
            dir.display()
        )
    })?;
    let mut photos: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("jpg")))
        .collect();
    photos.sort();
    if photos.is_empty() {
        return Err(format!(
            "{name}: SKIPPED — no JPEG portraits in {}",
            dir.display()
        ));
    }
    Ok(photos)
}
