//! Discovering patients, their dated sessions and the views in each (the input layout of DESIGN.md).
//!
//! ```text
//! PHOTOS/<patient>/[series.toml]
//! PHOTOS/<patient>/<YYYY-MM-DD[anything]>/<view>.<jpg|jpeg|png|tif|tiff>
//! ```
//! A session's date comes from its folder name; failing that, from the EXIF capture date of its
//! photos; failing that, the session is an error for its patient and the rest goes on. Views are
//! matched across sessions by file stem, case-insensitively (`Front.JPG` and `front.jpg` are one view).
//! Hidden entries and files that are not photos are skipped; photo formats skintex cannot decode
//! (HEIC, RAW, WebP…) are reported rather than skipped, so no photo is lost without a word.
//! Nothing here decodes pixels.

pub mod config;
pub mod shard;

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use jiff::civil::Date;

pub use config::{ConfigError, Roi, SeriesConfig};
pub use shard::Shard;

use crate::io::{self, CaptureDate};

/// Extensions decoded (compared lower-case).
pub const PHOTO_EXTENSIONS: &[&str] = &["jpg", "jpeg", "jpe", "png", "tif", "tiff"];

/// Photo formats that cameras and phones write but skintex does not decode: reported, not skipped.
const UNSUPPORTED_PHOTO_EXTENSIONS: &[&str] = &[
    "heic", "heif", "avif", "webp", "gif", "bmp", "jxl", "dng", "cr2", "cr3", "nef", "arw", "raf",
    "orf", "rw2",
];

/// A problem with one input file or folder, reported in the patient's `errors`.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct InputIssue {
    /// Path relative to the patient folder (or to PHOTOS for archive-level issues), `/`-separated.
    pub file: String,
    /// What is wrong and what to do about it.
    pub error: String,
}

/// Where a session's date came from.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum DateSource {
    /// The ISO date at the start of the folder name.
    FolderName,
    /// The EXIF capture date of the session's photos.
    Exif,
    /// Given on the command line (`compare --before-date`).
    Argument,
    /// The photo file's modification time (`compare` of photos without dates).
    FileTime,
}

/// One dated visit: a folder of photos, one per view.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    /// Folder name (lossy UTF-8).
    pub name: String,
    /// The session date.
    pub date: Date,
    /// Where [`Session::date`] came from.
    pub date_source: DateSource,
    /// The folder.
    pub dir: PathBuf,
    /// View name (lower-case file stem) → photo path.
    pub photos: BTreeMap<String, PathBuf>,
}

/// One patient folder.
#[derive(Debug, Clone)]
pub struct Patient {
    /// The patient key: the folder name (lossy UTF-8 if the name is not valid UTF-8).
    pub key: String,
    /// The folder name exactly as the file system holds it (used to name the output folder).
    pub dir_name: OsString,
    /// The folder.
    pub dir: PathBuf,
    /// `series.toml`, or the default when absent.
    pub config: SeriesConfig,
    /// Set when `series.toml` (or its `baseline` key) is unusable; the patient is then not measured.
    pub config_error: Option<String>,
    /// Sessions in chronological order (ties broken by folder name).
    pub sessions: Vec<Session>,
    /// Index in [`Patient::sessions`] of the baseline, if there is any session.
    pub baseline: Option<usize>,
    /// Problems with this patient's files; each becomes an entry in the report's `errors`.
    pub issues: Vec<InputIssue>,
    /// Remarks that are not errors (e.g. only one session).
    pub notes: Vec<String>,
}

impl Patient {
    /// All view names seen in any session, sorted.
    #[must_use]
    pub fn views(&self) -> Vec<String> {
        let mut views: Vec<String> = self
            .sessions
            .iter()
            .flat_map(|s| s.photos.keys().cloned())
            .collect();
        views.sort();
        views.dedup();
        views
    }

    /// `path` relative to the patient folder, `/`-separated, for reports.
    #[must_use]
    pub fn relative(&self, path: &Path) -> String {
        relative_label(&self.dir, path)
    }
}

/// Everything found under PHOTOS.
#[derive(Debug, Clone)]
pub struct Archive {
    /// The PHOTOS folder.
    pub root: PathBuf,
    /// Patients, sorted by folder name.
    pub patients: Vec<Patient>,
    /// Entries under PHOTOS that could not be read at all.
    pub issues: Vec<InputIssue>,
}

/// Why PHOTOS itself cannot be used (as opposed to problems with a patient, which are reported).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiscoverError {
    /// PHOTOS does not exist or cannot be listed.
    #[error("cannot read the photo folder {path}: {reason}")]
    Unreadable {
        /// The folder.
        path: String,
        /// The OS error.
        reason: String,
    },
    /// PHOTOS is a file.
    #[error("{path} is not a folder; PHOTOS must be a folder of patient folders")]
    NotAFolder {
        /// The path.
        path: String,
    },
    /// No patient folder inside.
    #[error("no patient folders in {path}; expected PHOTOS/<patient>/<YYYY-MM-DD>/<view>.jpg")]
    NoPatients {
        /// The folder.
        path: String,
    },
    /// Every folder inside is a dated session: PHOTOS is one patient's folder.
    #[error(
        "{path} looks like one patient's folder (all its folders are dated sessions); pass the folder \
         that holds the patient folders, e.g. its parent folder"
    )]
    LooksLikeOnePatient {
        /// The folder.
        path: String,
    },
}

/// Finds every patient, session and view under `root`.
///
/// # Errors
/// [`DiscoverError`] only when `root` itself is unusable; problems inside a patient are reported in
/// that patient's [`Patient::issues`].
pub fn discover(root: &Path) -> Result<Archive, DiscoverError> {
    discover_where(root, &|_| true)
}

/// Like [`discover`], but only the patient folders whose name `keep` accepts are looked into (a
/// shard's patients): the others' photos are not even listed. An archive with patients, none of them
/// kept, is an empty [`Archive`], not an error.
///
/// # Errors
/// As [`discover`].
pub fn discover_where(
    root: &Path,
    keep: &dyn Fn(&OsStr) -> bool,
) -> Result<Archive, DiscoverError> {
    let meta = std::fs::metadata(root).map_err(|e| DiscoverError::Unreadable {
        path: root.display().to_string(),
        reason: e.to_string(),
    })?;
    if !meta.is_dir() {
        return Err(DiscoverError::NotAFolder {
            path: root.display().to_string(),
        });
    }
    let (entries, mut issues) = list_dir(root, root).map_err(|e| DiscoverError::Unreadable {
        path: root.display().to_string(),
        reason: e.to_string(),
    })?;
    let dirs: Vec<&Entry> = entries
        .iter()
        .filter(|e| e.kind == EntryKind::Dir)
        .collect();
    let all_dated = !dirs.is_empty()
        && dirs
            .iter()
            .all(|e| parse_folder_date(&e.name.to_string_lossy()).is_ok_and(|d| d.is_some()));
    if all_dated {
        return Err(DiscoverError::LooksLikeOnePatient {
            path: root.display().to_string(),
        });
    }
    let mut patients = Vec::new();
    let mut any_patient = false;
    for entry in entries {
        match entry.kind {
            EntryKind::Dir => {
                any_patient = true;
                if keep(&entry.name) {
                    patients.push(discover_patient(&entry.path, entry.name));
                }
            }
            EntryKind::File => {}
            EntryKind::Broken(reason) => issues.push(InputIssue {
                file: relative_label(root, &entry.path),
                error: format!("cannot read: {reason}"),
            }),
        }
    }
    if !any_patient {
        return Err(DiscoverError::NoPatients {
            path: root.display().to_string(),
        });
    }
    Ok(Archive {
        root: root.to_path_buf(),
        patients,
        issues,
    })
}

/// Discovers one patient folder. Never fails: every problem becomes an issue of the patient.
#[must_use]
pub fn discover_patient(dir: &Path, dir_name: OsString) -> Patient {
    let key = dir_name.to_string_lossy().into_owned();
    let mut patient = Patient {
        key,
        dir_name,
        dir: dir.to_path_buf(),
        config: SeriesConfig::default(),
        config_error: None,
        sessions: Vec::new(),
        baseline: None,
        issues: Vec::new(),
        notes: Vec::new(),
    };
    let config_path = dir.join(config::CONFIG_FILE_NAME);
    if config_path.exists() {
        match SeriesConfig::read(&config_path, config::CONFIG_FILE_NAME) {
            Ok(c) => patient.config = c,
            Err(e) => {
                patient.issues.push(InputIssue {
                    file: config::CONFIG_FILE_NAME.into(),
                    error: format!("{e}; this patient is not measured until it is fixed"),
                });
                patient.config_error = Some(e.to_string());
            }
        }
    }
    let entries = match list_dir(dir, dir) {
        Ok((entries, issues)) => {
            patient.issues.extend(issues);
            entries
        }
        Err(e) => {
            patient.issues.push(InputIssue {
                file: ".".into(),
                error: format!("cannot list the patient folder: {e}"),
            });
            return patient;
        }
    };
    for entry in entries {
        match entry.kind {
            EntryKind::Dir => {
                if let Some(session) = discover_session(&mut patient, &entry.path, &entry.name) {
                    patient.sessions.push(session);
                }
            }
            EntryKind::File => {}
            EntryKind::Broken(reason) => patient.issues.push(InputIssue {
                file: patient.relative(&entry.path),
                error: format!("cannot read: {reason}"),
            }),
        }
    }
    patient
        .sessions
        .sort_by(|a, b| (a.date, &a.name).cmp(&(b.date, &b.name)));
    note_shared_dates(&mut patient);
    choose_baseline(&mut patient);
    match patient.sessions.len() {
        0 => patient.issues.push(InputIssue {
            file: ".".into(),
            error: "no session folders with photos; expected <YYYY-MM-DD>/<view>.jpg inside the patient folder"
                .into(),
        }),
        1 => patient.notes.push(
            "only one session: it is measured, but there is nothing to compare it with yet".into(),
        ),
        _ => {}
    }
    patient
}

fn discover_session(patient: &mut Patient, dir: &Path, name: &OsStr) -> Option<Session> {
    let name = name.to_string_lossy().into_owned();
    let (entries, issues) = match list_dir(dir, &patient.dir) {
        Ok(listing) => listing,
        Err(e) => {
            patient.issues.push(InputIssue {
                file: patient.relative(dir),
                error: format!("cannot list the session folder: {e}"),
            });
            return None;
        }
    };
    patient.issues.extend(issues);

    let mut candidates: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    let mut unsupported: Vec<(String, PathBuf, String)> = Vec::new();
    for entry in entries {
        if let EntryKind::Broken(reason) = &entry.kind {
            patient.issues.push(InputIssue {
                file: patient.relative(&entry.path),
                error: format!("cannot read: {reason}"),
            });
            continue;
        }
        if entry.kind != EntryKind::File {
            continue;
        }
        let path = entry.path;
        let (Some(stem), Some(ext)) = (path.file_stem(), path.extension()) else {
            continue;
        };
        let view = stem.to_string_lossy().to_lowercase();
        let ext = ext.to_string_lossy().to_lowercase();
        if PHOTO_EXTENSIONS.contains(&ext.as_str()) {
            candidates.entry(view).or_default().push(path);
        } else if UNSUPPORTED_PHOTO_EXTENSIONS.contains(&ext.as_str()) {
            unsupported.push((view, path, ext.to_uppercase()));
        }
    }
    for (view, path, ext) in unsupported {
        // A HEIC next to a JPEG export of the same view is the usual phone pair: the JPEG is measured.
        if !candidates.contains_key(&view) {
            patient.issues.push(InputIssue {
                file: patient.relative(&path),
                error: format!(
                    "unsupported image format {ext}: skintex reads JPEG, PNG and TIFF; export the photo as one of these"
                ),
            });
        }
    }
    let mut photos = BTreeMap::new();
    for (view, paths) in candidates {
        if let [only] = paths.as_slice() {
            photos.insert(view, only.clone());
        } else {
            let names: Vec<String> = paths.iter().map(|p| patient.relative(p)).collect();
            patient.issues.push(InputIssue {
                file: names.join(", "),
                error: format!(
                    "{} photos for view '{view}' in one session; none of them is measured: keep exactly one",
                    paths.len()
                ),
            });
        }
    }
    if photos.is_empty() {
        return None;
    }

    let (date, date_source) = match parse_folder_date(&name) {
        Ok(Some(date)) => (date, DateSource::FolderName),
        Err(problem) => {
            patient.issues.push(InputIssue {
                file: patient.relative(dir),
                error: problem,
            });
            return None;
        }
        Ok(None) => match exif_session_date(patient, &photos) {
            Ok(date) => (date, DateSource::Exif),
            Err(why) => {
                patient.issues.push(InputIssue {
                    file: patient.relative(dir),
                    error: format!(
                        "session folder has no date: its name does not start with YYYY-MM-DD and \
                         {why}; rename it to start with the session date"
                    ),
                });
                return None;
            }
        },
    };
    Some(Session {
        name,
        date,
        date_source,
        dir: dir.to_path_buf(),
        photos,
    })
}

/// A two-session "patient" for `skintex compare BEFORE AFTER`: one view, `before` as the baseline.
///
/// Each photo's date is the one given, else its EXIF capture date, else its file's modification date
/// (noted in the report, since that date may be a copy's rather than the visit's).
#[must_use]
pub fn pair(
    key: &str,
    before: (&Path, Option<Date>),
    after: (&Path, Option<Date>),
    config: SeriesConfig,
) -> Patient {
    let dir = before.0.parent().unwrap_or(Path::new("")).to_path_buf();
    let mut patient = Patient {
        key: key.to_string(),
        dir_name: OsString::from(key),
        dir,
        config,
        config_error: None,
        sessions: Vec::new(),
        baseline: Some(0),
        issues: Vec::new(),
        notes: Vec::new(),
    };
    for (name, (path, given)) in [("before", before), ("after", after)] {
        let photos = BTreeMap::from([("photo".to_string(), path.to_path_buf())]);
        let modified = || {
            let time = std::fs::metadata(path).ok()?.modified().ok()?;
            let ts = jiff::Timestamp::try_from(time).ok()?;
            Some(ts.to_zoned(jiff::tz::TimeZone::UTC).date())
        };
        let (date, date_source) = match given {
            Some(d) => (d, DateSource::Argument),
            None => match exif_session_date(&mut patient, &photos) {
                Ok(d) => (d, DateSource::Exif),
                Err(why) => {
                    patient.notes.push(format!(
                        "the {name} photo has no usable capture date ({why}): dated by its file's \
                         modification time; give --{name}-date for the visit's date"
                    ));
                    (
                        modified().unwrap_or(Date::constant(1970, 1, 1)),
                        DateSource::FileTime,
                    )
                }
            },
        };
        patient.sessions.push(Session {
            name: name.to_string(),
            date,
            date_source,
            dir: path.parent().unwrap_or(Path::new("")).to_path_buf(),
            photos,
        });
    }
    patient
}

/// The earliest usable EXIF capture date among a session's photos (noting disagreement), or what
/// made the dates that are there unusable.
///
/// A date after today is not used: it can only come from a camera whose clock is wrong, and the
/// session would be sorted after visits that have not happened yet.
fn exif_session_date(
    patient: &mut Patient,
    photos: &BTreeMap<String, PathBuf>,
) -> Result<Date, String> {
    let today = jiff::Zoned::now().date();
    let mut dates = Vec::new();
    let mut unusable = Vec::new();
    for path in photos.values() {
        let Ok(bytes) = io::read_file(path) else {
            continue; // the unreadable file is reported when it is loaded
        };
        match io::exif::capture_date(&bytes) {
            CaptureDate::Taken(dt) if dt.date() > today => unusable.push(format!(
                "{} says it was taken on {}, which is in the future (is the camera's clock wrong?)",
                patient.relative(path),
                dt.date()
            )),
            CaptureDate::Taken(dt) => dates.push(dt.date()),
            CaptureDate::Malformed { raw } => unusable.push(format!(
                "{} has an EXIF date that is not a real date ('{}')",
                patient.relative(path),
                raw.escape_default()
            )),
            CaptureDate::Absent => {}
        }
    }
    dates.sort();
    let (Some(&first), Some(&last)) = (dates.first(), dates.last()) else {
        return Err(if unusable.is_empty() {
            "its photos carry no EXIF capture date".into()
        } else {
            unusable.join("; ")
        });
    };
    if first != last {
        patient.notes.push(format!(
            "photos of one undated session carry EXIF dates from {first} to {last}; the session is dated {first}"
        ));
    }
    Ok(first)
}

/// Reads a leading ISO date `YYYY-MM-DD` from a folder name.
///
/// `Ok(None)`: no date-shaped prefix. `Err`: a date-shaped prefix that is not a real date
/// (`2026-02-30`), which is a mistake worth reporting rather than falling back to EXIF.
///
/// # Errors
/// A message naming the impossible date.
pub fn parse_folder_date(name: &str) -> Result<Option<Date>, String> {
    let bytes = name.as_bytes();
    let shaped = bytes.len() >= 10
        && bytes[..10].iter().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                *b == b'-'
            } else {
                b.is_ascii_digit()
            }
        })
        && bytes.get(10).is_none_or(|b| !b.is_ascii_digit());
    if !shaped {
        return Ok(None);
    }
    name[..10].parse::<Date>().map(Some).map_err(|_| {
        format!(
            "folder name starts with '{}', which is not a real date",
            &name[..10]
        )
    })
}

fn note_shared_dates(patient: &mut Patient) {
    for pair in patient.sessions.windows(2) {
        if pair[0].date == pair[1].date {
            patient.notes.push(format!(
                "sessions '{}' and '{}' share the date {}; they are ordered by folder name",
                pair[0].name, pair[1].name, pair[0].date
            ));
        }
    }
}

fn choose_baseline(patient: &mut Patient) {
    if patient.sessions.is_empty() {
        return;
    }
    let Some(wanted) = patient.config.baseline.clone() else {
        patient.baseline = Some(0);
        return;
    };
    let by_name = patient.sessions.iter().position(|s| s.name == wanted);
    let by_date = wanted.parse::<Date>().ok().and_then(|d| {
        let matching: Vec<usize> = (0..patient.sessions.len())
            .filter(|&i| patient.sessions[i].date == d)
            .collect();
        (matching.len() == 1).then(|| matching[0])
    });
    match by_name.or(by_date) {
        Some(i) => patient.baseline = Some(i),
        None => {
            let names: Vec<&str> = patient.sessions.iter().map(|s| s.name.as_str()).collect();
            let message = format!(
                "series.toml: baseline = \"{wanted}\" matches no single session (sessions: {}); \
                 give a session folder name or a date that only one session has",
                names.join(", ")
            );
            patient.issues.push(InputIssue {
                file: config::CONFIG_FILE_NAME.into(),
                error: format!("{message}; this patient is not measured until it is fixed"),
            });
            patient.config_error = Some(message);
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum EntryKind {
    Dir,
    File,
    /// Exists but cannot be inspected (dangling symlink, symlink loop, permissions).
    Broken(String),
}

struct Entry {
    name: OsString,
    path: PathBuf,
    kind: EntryKind,
}

/// Lists a folder sorted by name, without hidden entries. Symlinks are followed (the layout has a
/// fixed depth, so a symlink loop cannot make us recurse; it shows up as a broken entry).
fn list_dir(dir: &Path, label_root: &Path) -> std::io::Result<(Vec<Entry>, Vec<InputIssue>)> {
    let mut entries = Vec::new();
    let mut issues = Vec::new();
    for item in std::fs::read_dir(dir)? {
        let item = match item {
            Ok(item) => item,
            Err(e) => {
                issues.push(InputIssue {
                    file: relative_label(label_root, dir),
                    error: format!("cannot list an entry: {e}"),
                });
                continue;
            }
        };
        let name = item.file_name();
        if name.as_encoded_bytes().first() == Some(&b'.') {
            continue;
        }
        let path = item.path();
        let kind = match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => EntryKind::Dir,
            Ok(_) => EntryKind::File,
            Err(e) => EntryKind::Broken(e.to_string()),
        };
        entries.push(Entry { name, path, kind });
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok((entries, issues))
}

fn relative_label(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_dates() {
        assert_eq!(
            parse_folder_date("2026-01-15"),
            Ok(Some(jiff::civil::date(2026, 1, 15)))
        );
        assert_eq!(
            parse_folder_date("2026-01-15_baseline"),
            Ok(Some(jiff::civil::date(2026, 1, 15)))
        );
        assert_eq!(
            parse_folder_date("2026-01-15 after"),
            Ok(Some(jiff::civil::date(2026, 1, 15)))
        );
        assert_eq!(parse_folder_date("baseline"), Ok(None));
        assert_eq!(parse_folder_date("2026-1-15"), Ok(None));
        assert_eq!(parse_folder_date("2026-01-155"), Ok(None));
        assert_eq!(parse_folder_date("é2026-01-15"), Ok(None));
        assert!(parse_folder_date("2026-02-30").is_err());
    }
}
