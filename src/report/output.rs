//! Writing outputs safely: atomic replacement, and output folder names that cannot escape OUT.

use std::ffi::OsStr;
use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, flushed to disk, then
/// renamed over `path`. Readers see the old file or the new one, never a partial one.
///
/// # Errors
/// Any I/O error, with the temporary file removed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(TEMPORARY_PREFIX).suffix(TEMPORARY_SUFFIX);
    // tempfile creates 0600 files; reports are shared documents, so give them the usual 0644
    // (the process umask still applies on top).
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644));
    let mut tmp = builder.tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Prefix and suffix of [`write_atomic`]'s temporary files.
const TEMPORARY_PREFIX: &str = ".skintex-";
const TEMPORARY_SUFFIX: &str = ".tmp";

/// Removes temporary files that an interrupted run left in `dir` and its sub-folders (`depth`
/// levels down). A run killed with SIGKILL cannot clean up after itself, so the next run that writes
/// into the same folder does: only our own `.skintex-*.tmp` names are touched, never a report.
/// Two runs writing into one output folder at the same time are not supported.
///
/// # Errors
/// Listing or removal errors other than "not found".
pub fn remove_stale_temporaries(dir: &Path, depth: usize) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let kind = entry.file_type()?;
        if kind.is_file() && name.starts_with(TEMPORARY_PREFIX) && name.ends_with(TEMPORARY_SUFFIX)
        {
            match std::fs::remove_file(entry.path()) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        } else if kind.is_dir() && depth > 0 {
            remove_stale_temporaries(&entry.path(), depth - 1)?;
        }
    }
    Ok(())
}

/// Serialises `value` as pretty JSON with a final newline and writes it atomically.
///
/// # Errors
/// Serialisation or I/O errors.
pub fn write_json_atomic<T: serde::Serialize>(path: &Path, value: &T) -> std::io::Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?;
    bytes.push(b'\n');
    write_atomic(path, &bytes)
}

/// A folder name for a patient's outputs that is safe on every file system and cannot leave OUT.
///
/// Letters, digits, `-` and `_` are kept; every other byte (including `.`, `/`, `%`, spaces, quotes
/// and non-UTF-8 bytes) becomes `%XX`. The mapping is injective, so two patients never share a folder.
///
/// ```
/// use std::ffi::OsStr;
/// use skintex::report::output_dir_name;
/// assert_eq!(output_dir_name(OsStr::new("P001")), "P001");
/// assert_eq!(output_dir_name(OsStr::new("../x")), "%2E%2E%2Fx");
/// ```
#[must_use]
pub fn output_dir_name(name: &OsStr) -> String {
    let mut out = String::new();
    for &b in name.as_encoded_bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.is_empty() {
        out.push_str("%00");
    }
    out
}

/// The folder name that [`output_dir_name`] turned into `dir`, as bytes; `None` if `dir` is not
/// such a name (`index.html`, a folder of something else). Used to list merged patients in the same
/// order as a single run, which sorts them by their original folder names.
#[must_use]
pub fn input_name_bytes(dir: &str) -> Option<Vec<u8>> {
    let bytes = dir.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            out.push(b);
            i += 1;
        } else if b == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            // output_dir_name writes upper-case hex only; anything else was not made by it.
            if !hex
                .iter()
                .all(|h| h.is_ascii_digit() || (b'A'..=b'F').contains(h))
            {
                return None;
            }
            out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
            i += 3;
        } else {
            return None;
        }
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_are_safe_and_distinct() {
        let names = [
            "P001", "a b", "a_b", "a%20b", "..", ".", "x/../y", "<script>", "é", "'\"$(rm)",
        ];
        let mut seen = HashSet::new();
        for n in names {
            let safe = output_dir_name(OsStr::new(n));
            assert!(
                safe.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_%".contains(&b)),
                "{safe}"
            );
            assert!(!safe.starts_with('.'));
            assert_eq!(input_name_bytes(&safe).as_deref(), Some(n.as_bytes()));
            assert!(seen.insert(safe), "collision for {n}");
        }
    }

    #[test]
    fn only_encoded_names_decode() {
        for not_ours in ["index.html", "summary.csv", "%2e", "%4", "", "a b"] {
            assert_eq!(input_name_bytes(not_ours), None, "{not_ours}");
        }
        assert_eq!(input_name_bytes("P%FF"), Some(b"P\xff".to_vec()));
    }

    #[test]
    fn atomic_write_replaces_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.json");
        write_atomic(&path, b"first").unwrap();
        write_atomic(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary files left behind");
    }

    /// A reader polling the file while it is rewritten again and again only ever sees one whole
    /// version, never a mix or a truncated file.
    #[test]
    fn readers_never_see_a_partial_report() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.json");
        let (a, b) = (vec![b'a'; 1 << 20], vec![b'b'; 1 << 20]);
        write_atomic(&path, &a).unwrap();
        let done = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|scope| {
            let reader = scope.spawn(|| {
                let mut reads = 0;
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    let bytes = std::fs::read(&path).unwrap();
                    assert!(
                        bytes == a || bytes == b,
                        "partial read of {} bytes",
                        bytes.len()
                    );
                    reads += 1;
                }
                reads
            });
            for i in 0..40 {
                write_atomic(&path, if i % 2 == 0 { &b } else { &a }).unwrap();
            }
            done.store(true, std::sync::atomic::Ordering::Relaxed);
            assert!(reader.join().unwrap() > 0);
        });
    }
}
