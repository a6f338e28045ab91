//! `skintex merge`: one `index.html` and `summary.csv` over the outputs of several shards.
//!
//! Each shard (`analyze --shard K/N`) writes complete patient folders but no index, since it does not
//! know the others' patients. Merging reads every patient's `report.json` back, copies the folders
//! into the destination when they are elsewhere, and writes the index and the summary exactly as a
//! single run would: patients in the order of their original folder names (decoded from the output
//! folder names), index lines and CSV rows computed from the same reports. `report.json` round-trips
//! exactly (`serde_json`'s `float_roundtrip`), so a merge is byte-identical to the single run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::PatientReport;
use super::html::IndexEntry;
use super::output::{input_name_bytes, write_atomic};
use super::table::{MetricRow, rows};
use super::write::write_index;

/// Why a merge could not be done. Nothing in the destination is changed before these are found,
/// except for patient folders already copied when a later copy fails.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// A folder or file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// What was being read or written.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A `report.json` that is not a skintex report.
    #[error("{path} is not a skintex report ({reason}); was it written by another version?")]
    NotAReport {
        /// The file.
        path: String,
        /// The parser's message.
        reason: String,
    },
    /// The same patient in two shard outputs.
    #[error(
        "patient folder {name} is in both {first} and {second}; were the shards run with different \
         N, or is one output folder listed twice under different names?"
    )]
    Duplicate {
        /// The output folder name.
        name: String,
        /// One shard output.
        first: String,
        /// The other.
        second: String,
    },
    /// No patient report in any of the folders.
    #[error("no patient reports (OUT/<patient>/report.json) in {0}")]
    Empty(String),
}

/// What a merge did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeSummary {
    /// Patients in the merged index.
    pub patients: usize,
    /// Patients whose report lists errors.
    pub with_errors: usize,
    /// Patient folders copied into the destination (0 when the shards wrote there already).
    pub copied: usize,
    /// Folders in the shard outputs that look like patient folders but hold no `report.json` (a shard
    /// interrupted in the middle of a patient); they are not in the index.
    pub incomplete: Vec<String>,
}

/// A patient folder found in a shard output.
struct Found {
    source: PathBuf,
    dir_name: String,
}

/// Merges the shard outputs in `sources` into `dest` (which may be one of them).
///
/// # Errors
/// [`MergeError`]: unreadable folders, a foreign `report.json`, a patient in two shards, no patients.
pub fn merge(sources: &[PathBuf], dest: &Path) -> Result<MergeSummary, MergeError> {
    std::fs::create_dir_all(dest).map_err(io(dest))?;
    let dest_real = dest.canonicalize().map_err(io(dest))?;
    // Original folder name (bytes) → where the patient's output is; a BTreeMap sorts as a run does.
    let mut found: BTreeMap<Vec<u8>, Found> = BTreeMap::new();
    let mut incomplete = Vec::new();
    for source in sources {
        let real = source.canonicalize().map_err(io(source))?;
        let mut entries: Vec<_> = std::fs::read_dir(source)
            .map_err(io(source))?
            .collect::<Result<_, _>>()
            .map_err(io(source))?;
        entries.sort_by_key(std::fs::DirEntry::file_name);
        for entry in entries {
            let path = entry.path();
            let Some(dir_name) = entry.file_name().to_str().map(str::to_string) else {
                continue; // not a name output_dir_name writes
            };
            let Some(original) = input_name_bytes(&dir_name) else {
                continue;
            };
            if !path.is_dir() {
                continue;
            }
            if !path.join("report.json").is_file() {
                incomplete.push(path.display().to_string());
                continue;
            }
            if let Some(first) = found.get(&original) {
                if first.source != real {
                    return Err(MergeError::Duplicate {
                        name: dir_name,
                        first: first.source.display().to_string(),
                        second: real.display().to_string(),
                    });
                }
                continue;
            }
            found.insert(
                original,
                Found {
                    source: real.clone(),
                    dir_name,
                },
            );
        }
    }
    if found.is_empty() {
        let names: Vec<String> = sources.iter().map(|s| s.display().to_string()).collect();
        return Err(MergeError::Empty(names.join(", ")));
    }

    let mut entries = Vec::with_capacity(found.len());
    let mut all_rows: Vec<MetricRow> = Vec::new();
    let mut summary = MergeSummary {
        patients: found.len(),
        with_errors: 0,
        copied: 0,
        incomplete,
    };
    for patient in found.values() {
        let folder = patient.source.join(&patient.dir_name);
        let path = folder.join("report.json");
        let bytes = std::fs::read(&path).map_err(io(&path))?;
        let report: PatientReport =
            serde_json::from_slice(&bytes).map_err(|e| MergeError::NotAReport {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
        if patient.source != dest_real {
            copy_folder(&folder, &dest.join(&patient.dir_name))?;
            summary.copied += 1;
        }
        summary.with_errors += usize::from(!report.errors.is_empty());
        all_rows.extend(rows(&report));
        entries.push(IndexEntry::new(&report, patient.dir_name.clone()));
    }
    write_index(dest, &entries, &all_rows).map_err(io(dest))?;
    Ok(summary)
}

/// Copies a patient's output folder, each file atomically and `report.json` last (as it was written),
/// so a reader of the destination never sees a report whose images are missing.
fn copy_folder(from: &Path, to: &Path) -> Result<(), MergeError> {
    let mut files = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let dir = from.join(&rel);
        for entry in std::fs::read_dir(&dir).map_err(io(&dir))? {
            let entry = entry.map_err(io(&dir))?;
            let name = entry.file_name();
            if name.as_encoded_bytes().first() == Some(&b'.') {
                continue; // a killed shard's temporary file
            }
            let kind = entry.file_type().map_err(io(&entry.path()))?;
            if kind.is_dir() {
                stack.push(rel.join(&name));
            } else if kind.is_file() {
                files.push(rel.join(&name));
            }
        }
    }
    files.sort_by_key(|f| f == Path::new("report.json"));
    for rel in files {
        let target = to.join(&rel);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        let source = from.join(&rel);
        let bytes = std::fs::read(&source).map_err(io(&source))?;
        write_atomic(&target, &bytes).map_err(io(&target))?;
    }
    Ok(())
}

/// Turns an I/O error into a [`MergeError`] naming the path it was about.
fn io(path: &Path) -> impl FnOnce(std::io::Error) -> MergeError {
    let path = path.display().to_string();
    move |source| MergeError::Io { path, source }
}
