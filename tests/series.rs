//! Series discovery: session order, dates, baseline choice, view matching and what is skipped.

mod common;

use common::*;
use jiff::civil::date;
use skintex::series::{DateSource, DiscoverError, discover};

#[test]
fn sessions_sort_by_folder_date_not_by_name() {
    let root = tempfile::tempdir().unwrap();
    let p = root.path();
    // Lexical order of these names differs from date order.
    put(p, "P1/2026-03-01_third/front.jpg", &small_jpeg());
    put(p, "P1/2026-01-15_zz_baseline/front.jpg", &small_jpeg());
    put(p, "P1/2026-02-01/front.jpg", &small_jpeg());
    let archive = discover(p).unwrap();
    let patient = &archive.patients[0];
    let dates: Vec<_> = patient.sessions.iter().map(|s| s.date).collect();
    assert_eq!(
        dates,
        vec![date(2026, 1, 15), date(2026, 2, 1), date(2026, 3, 1)]
    );
    assert_eq!(patient.baseline, Some(0));
    assert!(
        patient
            .sessions
            .iter()
            .all(|s| s.date_source == DateSource::FolderName)
    );
    assert!(patient.issues.is_empty(), "{:?}", patient.issues);
}

#[test]
fn undated_folder_falls_back_to_exif_date() {
    let root = tempfile::tempdir().unwrap();
    let p = root.path();
    put(p, "P1/2026-02-01/front.jpg", &small_jpeg());
    put(
        p,
        "P1/first visit/front.jpg",
        &small_jpeg_taken(2026, 1, 10),
    );
    put(p, "P1/follow-up/front.jpg", &small_jpeg_taken(2026, 3, 5));
    let patient = &discover(p).unwrap().patients[0];
    let order: Vec<(&str, DateSource)> = patient
        .sessions
        .iter()
        .map(|s| (s.name.as_str(), s.date_source))
        .collect();
    assert_eq!(
        order,
        vec![
            ("first visit", DateSource::Exif),
            ("2026-02-01", DateSource::FolderName),
            ("follow-up", DateSource::Exif)
        ]
    );
    assert_eq!(patient.sessions[0].date, date(2026, 1, 10));
}

#[test]
fn undated_session_is_an_error_of_that_patient_only() {
    let root = tempfile::tempdir().unwrap();
    let p = root.path();
    put(p, "P1/2026-01-15/front.jpg", &small_jpeg());
    put(p, "P1/later/front.jpg", &small_jpeg());
    put(p, "P2/2026-01-15/front.jpg", &small_jpeg());
    put(p, "P2/2026-02-15/front.jpg", &small_jpeg());
    let archive = discover(p).unwrap();
    let p1 = &archive.patients[0];
    assert_eq!(p1.sessions.len(), 1);
    assert_eq!(p1.issues.len(), 1);
    assert_eq!(p1.issues[0].file, "later");
    assert!(
        p1.issues[0].error.contains("no date"),
        "{}",
        p1.issues[0].error
    );
    assert!(p1.issues[0].error.contains("YYYY-MM-DD"));
    assert!(archive.patients[1].issues.is_empty());
    assert_eq!(archive.patients[1].sessions.len(), 2);
}

#[test]
fn impossible_folder_date_is_reported() {
    let root = tempfile::tempdir().unwrap();
    put(root.path(), "P1/2026-02-30/front.jpg", &small_jpeg());
    put(root.path(), "P1/2026-01-15/front.jpg", &small_jpeg());
    let patient = &discover(root.path()).unwrap().patients[0];
    assert_eq!(patient.sessions.len(), 1);
    assert!(patient.issues[0].error.contains("not a real date"));
}

#[test]
fn series_toml_picks_the_baseline_by_date_or_name() {
    let root = tempfile::tempdir().unwrap();
    let p = root.path();
    for s in ["2025-12-01_consult", "2026-01-15_baseline", "2026-02-15"] {
        put(p, &format!("P1/{s}/front.jpg"), &small_jpeg());
        put(p, &format!("P2/{s}/front.jpg"), &small_jpeg());
        put(p, &format!("P3/{s}/front.jpg"), &small_jpeg());
    }
    put(p, "P1/series.toml", b"baseline = \"2026-01-15\"\n");
    put(p, "P2/series.toml", b"baseline = \"2026-02-15\"\n");
    put(p, "P3/series.toml", b"baseline = \"2027-01-01\"\n");
    let archive = discover(p).unwrap();
    assert_eq!(archive.patients[0].baseline, Some(1));
    assert_eq!(archive.patients[1].baseline, Some(2));
    let p3 = &archive.patients[2];
    assert!(p3.config_error.is_some());
    assert!(p3.issues[0].error.contains("2027-01-01"));
}

#[test]
fn views_match_by_stem_case_insensitively_and_may_be_missing() {
    let root = tempfile::tempdir().unwrap();
    let p = root.path();
    put(p, "P1/2026-01-15/Front.JPG", &small_jpeg());
    put(
        p,
        "P1/2026-01-15/left.png",
        &png_rgb8(&gradient_rgb(8, 8), None),
    );
    put(p, "P1/2026-02-15/front.jpeg", &small_jpeg());
    put(
        p,
        "P1/2026-02-15/right.tif",
        &encode(
            &image::DynamicImage::ImageRgb8(gradient_rgb(8, 8)),
            image::ImageFormat::Tiff,
        ),
    );
    let patient = &discover(p).unwrap().patients[0];
    assert_eq!(patient.views(), vec!["front", "left", "right"]);
    assert!(
        patient
            .sessions
            .iter()
            .all(|s| s.photos.contains_key("front"))
    );
    assert!(!patient.sessions[1].photos.contains_key("left"));
}

#[test]
fn hidden_files_and_non_images_are_skipped_but_unsupported_photos_reported() {
    let root = tempfile::tempdir().unwrap();
    let p = root.path();
    put(p, "P1/2026-01-15/front.jpg", &small_jpeg());
    put(p, "P1/2026-01-15/.front.jpg", b"hidden editor backup");
    put(p, "P1/2026-01-15/notes.txt", b"text");
    put(p, "P1/2026-01-15/Thumbs.db", b"db");
    put(p, "P1/2026-01-15/left.heic", b"heic bytes");
    put(p, "P1/2026-01-15/front.heic", b"heic twin of the jpeg");
    put(p, "P1/.trash/2026-01-01/front.jpg", &small_jpeg());
    put(p, ".DS_Store", b"x");
    let archive = discover(p).unwrap();
    assert_eq!(archive.patients.len(), 1);
    let patient = &archive.patients[0];
    assert_eq!(patient.sessions.len(), 1);
    assert_eq!(patient.views(), vec!["front"]);
    assert_eq!(patient.issues.len(), 1, "{:?}", patient.issues);
    assert_eq!(patient.issues[0].file, "2026-01-15/left.heic");
    assert!(
        patient.issues[0]
            .error
            .contains("unsupported image format HEIC")
    );
}

#[test]
fn two_photos_of_one_view_in_a_session_are_an_error() {
    let root = tempfile::tempdir().unwrap();
    put(root.path(), "P1/2026-01-15/front.jpg", &small_jpeg());
    put(
        root.path(),
        "P1/2026-01-15/front.png",
        &png_rgb8(&gradient_rgb(8, 8), None),
    );
    put(
        root.path(),
        "P1/2026-01-15/left.png",
        &png_rgb8(&gradient_rgb(8, 8), None),
    );
    let patient = &discover(root.path()).unwrap().patients[0];
    assert_eq!(patient.views(), vec!["left"]);
    assert!(patient.issues[0].error.contains("keep exactly one"));
}

#[test]
fn one_session_is_a_note_not_an_error() {
    let root = tempfile::tempdir().unwrap();
    put(root.path(), "P1/2026-01-15/front.jpg", &small_jpeg());
    let patient = &discover(root.path()).unwrap().patients[0];
    assert!(patient.issues.is_empty());
    assert_eq!(patient.notes.len(), 1);
    assert!(patient.notes[0].contains("only one session"));
}

#[test]
fn strict_series_toml_names_the_key_and_the_file() {
    let root = tempfile::tempdir().unwrap();
    put(root.path(), "P1/2026-01-15/front.jpg", &small_jpeg());
    put(
        root.path(),
        "P1/series.toml",
        b"mm_per_px = 0.05\nroi_px = [0, 0, 10, 10]\n",
    );
    let patient = &discover(root.path()).unwrap().patients[0];
    assert!(patient.config_error.is_some());
    let issue = &patient.issues[0];
    assert_eq!(issue.file, "series.toml");
    assert!(issue.error.contains("roi_px"), "{}", issue.error);
    assert!(issue.error.contains("series.toml"), "{}", issue.error);
}

#[test]
fn same_date_sessions_are_ordered_by_name_with_a_note() {
    let root = tempfile::tempdir().unwrap();
    put(root.path(), "P1/2026-01-15_pm/front.jpg", &small_jpeg());
    put(root.path(), "P1/2026-01-15_am/front.jpg", &small_jpeg());
    let patient = &discover(root.path()).unwrap().patients[0];
    assert_eq!(patient.sessions[0].name, "2026-01-15_am");
    assert!(patient.notes.iter().any(|n| n.contains("share the date")));
}

#[test]
fn unusable_photo_folders_are_clear_errors() {
    let root = tempfile::tempdir().unwrap();
    let missing = root.path().join("nope");
    assert!(matches!(
        discover(&missing),
        Err(DiscoverError::Unreadable { .. })
    ));
    put(root.path(), "file.txt", b"x");
    assert!(matches!(
        discover(&root.path().join("file.txt")),
        Err(DiscoverError::NotAFolder { .. })
    ));
    // A single patient's folder passed by mistake gets a hint.
    put(root.path(), "P1/2026-01-15/front.jpg", &small_jpeg());
    let err = discover(&root.path().join("P1")).unwrap_err();
    assert!(
        matches!(err, DiscoverError::LooksLikeOnePatient { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("parent folder"), "{err}");
    let empty = tempfile::tempdir().unwrap();
    assert!(matches!(
        discover(empty.path()),
        Err(DiscoverError::NoPatients { .. })
    ));
}

#[test]
fn broken_symlinks_are_reported_not_fatal() {
    let root = tempfile::tempdir().unwrap();
    put(root.path(), "P1/2026-01-15/front.jpg", &small_jpeg());
    put(root.path(), "P1/2026-02-15/front.jpg", &small_jpeg());
    std::os::unix::fs::symlink(
        "missing-target.jpg",
        root.path().join("P1/2026-02-15/left.jpg"),
    )
    .unwrap();
    // A symlink loop where a session folder would be.
    std::os::unix::fs::symlink("loop", root.path().join("P1/loop")).unwrap();
    let patient = &discover(root.path()).unwrap().patients[0];
    assert_eq!(patient.sessions.len(), 2);
    let files: Vec<&str> = patient.issues.iter().map(|i| i.file.as_str()).collect();
    // Issues come in folder-name order: the session 2026-02-15 is listed before `loop`.
    assert_eq!(files, vec!["2026-02-15/left.jpg", "loop"]);
}
