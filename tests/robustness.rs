//! A hostile archive through `skintex analyze`: every bad photo, folder, date, name and `series.toml`
//! of the robustness corpus in one run. Each problem must be one clear entry in its patient's `errors`
//! and a line on stderr; everything else is still measured; nothing panics, nothing is written outside
//! OUT, every name is escaped in the HTML, inputs are untouched, and the reports do not depend on the
//! thread count.
//!
//! The corpus is generated here (no binary blobs): the photos are variants of one synthetic session
//! photo, so a variant that must be measured (CMYK, palette, 16-bit, alpha, a different size, an
//! invalid EXIF orientation) has a real baseline to be registered to.

mod common;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use assert_cmd::Command;
use common::*;
use image::{DynamicImage, ImageFormat, RgbImage};
use serde_json::Value;
use skintex::synth::{self, SynthConfig};

fn png(img: &DynamicImage) -> Vec<u8> {
    encode(img, ImageFormat::Png)
}

/// A grey palette PNG (colour type 3): the photo's luma as indices into a 256-entry grey palette.
fn palette_png(img: &RgbImage) -> Vec<u8> {
    let grey = DynamicImage::ImageRgb8(img.clone()).to_luma8();
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, img.width(), img.height());
    encoder.set_color(png::ColorType::Indexed);
    encoder.set_depth(png::BitDepth::Eight);
    let palette: Vec<u8> = (0..=255u8).flat_map(|v| [v, v, v]).collect();
    encoder.set_palette(palette);
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(grey.as_raw()).unwrap();
    writer.finish().unwrap();
    out
}

/// A CMYK JPEG of the photo (what print workflows and some scanners produce).
fn cmyk_jpeg(img: &RgbImage) -> Vec<u8> {
    let cmyk: Vec<u8> = img
        .pixels()
        .flat_map(|p| [255 - p[0], 255 - p[1], 255 - p[2], 0])
        .collect();
    let mut out = Vec::new();
    let encoder = jpeg_encoder::Encoder::new(&mut out, 95);
    encoder
        .encode(
            &cmyk,
            u16::try_from(img.width()).unwrap(),
            u16::try_from(img.height()).unwrap(),
            jpeg_encoder::ColorType::Cmyk,
        )
        .unwrap();
    out
}

/// Byte offset of the first JPEG start-of-frame marker segment (SOF0/SOF2).
fn sof_offset(jpeg: &[u8]) -> usize {
    jpeg.windows(2)
        .position(|w| w[0] == 0xFF && (w[1] == 0xC0 || w[1] == 0xC2))
        .expect("a start-of-frame marker")
}

/// The JPEG with its frame header's dimensions replaced (a header declaring a huge image).
fn jpeg_declaring(jpeg: &[u8], width: u16, height: u16) -> Vec<u8> {
    let mut out = jpeg.to_vec();
    // FFC0, length (2), precision (1), height (2), width (2).
    let at = sof_offset(jpeg) + 5;
    out[at..at + 2].copy_from_slice(&height.to_be_bytes());
    out[at + 2..at + 4].copy_from_slice(&width.to_be_bytes());
    out
}

/// The JPEG with a frame header that makes no sense: 16-bit precision in a baseline frame and a
/// component count the rest of the header does not have.
fn corrupt_jpeg(jpeg: &[u8]) -> Vec<u8> {
    let mut out = jpeg.to_vec();
    let at = sof_offset(jpeg);
    out[at + 4] = 16; // sample precision
    out[at + 9] = 9; // number of components
    out
}

/// The PNG with one byte of its image data changed, so the chunk's CRC no longer matches.
fn corrupt_png(png: &[u8]) -> Vec<u8> {
    let mut out = png.to_vec();
    let idat = png.windows(4).position(|w| w == b"IDAT").unwrap();
    out[idat + 4 + 10] ^= 0x5A;
    out
}

/// The TIFF with its first-IFD offset pointing far past the end of the file.
fn corrupt_tiff(tiff: &[u8]) -> Vec<u8> {
    let mut out = tiff.to_vec();
    assert_eq!(&out[..2], b"II", "little-endian TIFF expected");
    out[4..8].copy_from_slice(&0x7FFF_FF00u32.to_le_bytes());
    out
}

/// The TIFF with its ImageWidth and ImageLength tags rewritten to declare `side × side` pixels (and
/// RowsPerStrip, so that the strip layout stays consistent with the declared size).
fn tiff_declaring(tiff: &[u8], side: u32) -> Vec<u8> {
    let mut out = tiff.to_vec();
    assert_eq!(&out[..2], b"II", "little-endian TIFF expected");
    let ifd = u32::from_le_bytes(out[4..8].try_into().unwrap()) as usize;
    let count = usize::from(u16::from_le_bytes([out[ifd], out[ifd + 1]]));
    for i in 0..count {
        let e = ifd + 2 + 12 * i;
        let tag = u16::from_le_bytes([out[e], out[e + 1]]);
        if tag == 256 || tag == 257 || tag == 278 {
            out[e + 2..e + 4].copy_from_slice(&4u16.to_le_bytes()); // type LONG
            out[e + 4..e + 8].copy_from_slice(&1u32.to_le_bytes()); // one value
            out[e + 8..e + 12].copy_from_slice(&side.to_le_bytes());
        }
    }
    out
}

/// An EXIF block whose orientation is `value` (valid ones are 1–8).
fn exif_with_orientation(value: u16) -> Vec<u8> {
    let mut block = skintex::io::exif::build_exif_block(1, None).unwrap();
    // Little- or big-endian, the Orientation entry is tag 0x0112, type SHORT, count 1, value 1.
    let le = [0x12, 0x01, 3, 0, 1, 0, 0, 0, 1, 0];
    let be = [0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 1];
    if let Some(at) = block.windows(10).position(|w| w == le) {
        block[at + 8..at + 10].copy_from_slice(&value.to_le_bytes());
    } else {
        let at = block.windows(10).position(|w| w == be).unwrap();
        block[at + 8..at + 10].copy_from_slice(&value.to_be_bytes());
    }
    block
}

/// An EXIF block with `DateTimeOriginal` holding `raw` (19 characters, like a real one).
fn exif_with_raw_date(raw: &[u8; 19]) -> Vec<u8> {
    let placeholder = jiff::civil::datetime(2026, 1, 15, 9, 30, 0, 0);
    let mut block = skintex::io::exif::build_exif_block(1, Some(placeholder)).unwrap();
    let at = block
        .windows(19)
        .position(|w| w == b"2026:01:15 09:30:00")
        .unwrap();
    block[at..at + 19].copy_from_slice(raw);
    block
}

/// Names a hostile archive may contain, as patient folders.
const HOSTILE_PATIENTS: &[&[u8]] = &[
    b"<img src=x onerror=alert(1)>",
    b"\"; rm -rf ~ #",
    b"$(touch pwned) `id` & | ;",
    b"P\xff\xfe-latin1",
];

/// The HTML-injection view name (also a photo file name).
const HOSTILE_VIEW: &str = "<b onmouseover=alert(2)>x";

struct Corpus {
    photos: tempfile::TempDir,
}

/// Builds the archive: two good synthetic patients, one patient of bad and odd photos (P003), and
/// patients for dates, configs and names.
fn build_corpus() -> Corpus {
    let photos = tempfile::tempdir().unwrap();
    let p = photos.path();
    let config = SynthConfig {
        width: 400,
        height: 300,
        ..SynthConfig::default()
    };
    synth::write_series(&config, p, false, &|_| {}).unwrap();
    let baseline_jpeg = std::fs::read(p.join("P001/2026-01-15_baseline/front.jpg")).unwrap();
    let session_jpeg = std::fs::read(p.join("P001/2026-02-12/front.jpg")).unwrap();
    let session = image::load_from_memory(&session_jpeg).unwrap().to_rgb8();
    let (w, h) = session.dimensions();
    let session_tiff = encode(&DynamicImage::ImageRgb8(session.clone()), ImageFormat::Tiff);
    let session_png = png(&DynamicImage::ImageRgb8(session.clone()));

    // P003: each view's baseline is the good baseline photo; its follow-up is the odd variant.
    let variants: Vec<(&str, Vec<u8>)> = vec![
        // Must be measured: unusual but valid encodings of the follow-up photo.
        ("cmyk.jpg", cmyk_jpeg(&session)),
        ("palette.png", palette_png(&session)),
        (
            "alpha.png",
            png(&DynamicImage::ImageRgba8(
                DynamicImage::ImageRgb8(session.clone()).to_rgba8(),
            )),
        ),
        (
            "grey16.png",
            png(&DynamicImage::ImageLuma16(
                DynamicImage::ImageRgb8(session.clone()).to_luma16(),
            )),
        ),
        ("rgb16.tif", {
            encode(
                &DynamicImage::ImageRgb16(DynamicImage::ImageRgb8(session.clone()).to_rgb16()),
                ImageFormat::Tiff,
            )
        }),
        (
            "orientation9.jpg",
            jpeg_rgb8(&session, Some(exif_with_orientation(9))),
        ),
        (
            "orientation0.jpg",
            jpeg_rgb8(&session, Some(exif_with_orientation(0))),
        ),
        (
            "larger.png",
            png(&DynamicImage::ImageRgb8(image::imageops::resize(
                &session,
                w * 5 / 4,
                h * 5 / 4,
                image::imageops::FilterType::Triangle,
            ))),
        ),
        // Must each be one error.
        ("empty.jpg", Vec::new()),
        ("letter.png", b"Dear patient, see you on Monday.\n".to_vec()),
        (
            "cut-jpeg.jpg",
            session_jpeg[..session_jpeg.len() / 2].to_vec(),
        ),
        ("cut-png.png", session_png[..session_png.len() / 2].to_vec()),
        (
            "cut-tiff.tif",
            session_tiff[..session_tiff.len() / 2].to_vec(),
        ),
        ("corrupt-jpeg.jpg", corrupt_jpeg(&session_jpeg)),
        ("corrupt-png.png", corrupt_png(&session_png)),
        ("corrupt-tiff.tif", corrupt_tiff(&session_tiff)),
        (
            "huge-jpeg.jpg",
            jpeg_declaring(&session_jpeg, 65_000, 65_000),
        ),
        ("huge-png.png", png_declaring(200_000, 200_000)),
        ("huge-tiff.tif", tiff_declaring(&session_tiff, 150_000)),
        (
            "pixel.png",
            png(&DynamicImage::ImageRgb8(gradient_rgb(1, 1))),
        ),
        (
            "column.png",
            png(&DynamicImage::ImageRgb8(gradient_rgb(1, 300))),
        ),
        (
            "sliver.png",
            png(&DynamicImage::ImageRgb8(gradient_rgb(2000, 3))),
        ),
        (
            "black.png",
            png(&DynamicImage::ImageRgb8(RgbImage::new(w, h))),
        ),
        (
            "white.png",
            png(&DynamicImage::ImageRgb8(RgbImage::from_pixel(
                w,
                h,
                image::Rgb([255, 255, 255]),
            ))),
        ),
        (
            "noskin.png",
            png(&DynamicImage::ImageRgb8(gradient_rgb(w, h))),
        ),
    ];
    for (name, bytes) in &variants {
        let stem = Path::new(name).file_stem().unwrap().to_str().unwrap();
        put(p, &format!("P003/2026-01-15/{stem}.jpg"), &baseline_jpeg);
        put(p, &format!("P003/2026-02-12/{name}"), bytes);
    }
    // Names: a non-UTF-8 view and an HTML-injection view, both good photos, both measured.
    for (session, bytes) in [
        ("2026-01-15", &baseline_jpeg),
        ("2026-02-12", &session_jpeg),
    ] {
        let dir = p.join("P003").join(session);
        std::fs::write(dir.join(OsStr::from_bytes(b"fr\xffnt.jpg")), bytes).unwrap();
        std::fs::write(dir.join(format!("{HOSTILE_VIEW}.jpg")), bytes).unwrap();
    }
    // A symlink loop in place of two photos, and a folder symlink pointing back up (ignored).
    let follow_up = p.join("P003/2026-02-12");
    std::os::unix::fs::symlink("loopb.jpg", follow_up.join("loopa.jpg")).unwrap();
    std::os::unix::fs::symlink("loopa.jpg", follow_up.join("loopb.jpg")).unwrap();
    std::os::unix::fs::symlink("..", follow_up.join("up")).unwrap();

    // P004: dates. A good baseline and follow-up, two sessions on one date, and three undated ones.
    put(p, "P004/2026-01-15/front.jpg", &baseline_jpeg);
    put(p, "P004/2026-02-12/front.jpg", &session_jpeg);
    put(p, "P004/2026-02-12_repeat/front.jpg", &session_jpeg);
    let future = jiff::civil::datetime(2199, 5, 1, 10, 0, 0, 0);
    let future_exif = skintex::io::exif::build_exif_block(1, Some(future)).unwrap();
    put(
        p,
        "P004/future/front.jpg",
        &jpeg_rgb8(&session, Some(future_exif)),
    );
    put(
        p,
        "P004/malformed/front.jpg",
        &jpeg_rgb8(&session, Some(exif_with_raw_date(b"2026:13:45 25:61:00"))),
    );
    // The synthetic photos carry their EXIF date; this one is re-encoded without any.
    put(p, "P004/undated/front.jpg", &jpeg_rgb8(&session, None));
    put(p, "P004/2026-02-30/front.jpg", &session_jpeg);

    // P005: only a baseline.
    put(p, "P005/2026-01-15/front.jpg", &baseline_jpeg);
    // P006: series.toml of the wrong types and an unknown key.
    put(p, "P006/2026-01-15/front.jpg", &baseline_jpeg);
    put(p, "P006/2026-02-12/front.jpg", &session_jpeg);
    put(
        p,
        "P006/series.toml",
        b"mm_per_px = \"0.05\"\nroi = [1, 2]\nbaselin = 3\n",
    );
    // P007: an ROI wholly outside the photos.
    put(p, "P007/2026-01-15/front.jpg", &baseline_jpeg);
    put(p, "P007/2026-02-12/front.jpg", &session_jpeg);
    put(p, "P007/series.toml", b"roi = [5000, 4000, 100, 100]\n");
    // P008: a view photographed only after the baseline.
    put(p, "P008/2026-01-15/front.jpg", &baseline_jpeg);
    put(p, "P008/2026-02-12/front.jpg", &session_jpeg);
    put(p, "P008/2026-02-12/left.jpg", &session_jpeg);

    // Patients with hostile names: good photos, measured like any other.
    for name in HOSTILE_PATIENTS {
        let dir = p.join(OsStr::from_bytes(name));
        put(&dir, "2026-01-15/front.jpg", &baseline_jpeg);
        put(&dir, "2026-02-12/front.jpg", &session_jpeg);
    }
    Corpus { photos }
}

fn analyze(photos: &Path, out: &Path, threads: &str) -> (i32, String) {
    let output = Command::cargo_bin("skintex")
        .unwrap()
        .args(["-j", threads, "analyze"])
        .arg(photos)
        .arg("-o")
        .arg(out)
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn report(out: &Path, patient: &[u8]) -> Value {
    let dir = skintex::report::output_dir_name(OsStr::from_bytes(patient));
    let path = out.join(dir).join("report.json");
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

/// The session entry of `view` whose `file` is `file`.
fn session<'a>(report: &'a Value, view: &str, file: &str) -> &'a Value {
    report["views"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["view"] == view)
        .flat_map(|v| v["sessions"].as_array().unwrap())
        .find(|s| s["file"] == file)
        .unwrap_or_else(|| panic!("no session entry for {view} {file}"))
}

/// Checks that `errors` has exactly the expected files, each message containing its needle, and
/// that each is also on stderr.
fn expect_errors(
    patient: &str,
    errors: &BTreeMap<String, String>,
    expected: &[(&str, &str)],
    stderr: &str,
) {
    let files: Vec<&str> = errors.keys().map(String::as_str).collect();
    let mut wanted: Vec<&str> = expected.iter().map(|(f, _)| *f).collect();
    wanted.sort_unstable();
    assert_eq!(files, wanted, "{patient}: {errors:#?}");
    for (file, needle) in expected {
        let message = &errors[*file];
        assert!(
            message.to_lowercase().contains(&needle.to_lowercase()),
            "{patient}/{file}: '{message}' lacks '{needle}'"
        );
        assert!(
            stderr.contains(&format!("{patient}/{file}: ")),
            "stderr lacks {patient}/{file}"
        );
    }
}

#[test]
fn hostile_archive_is_reported_file_by_file_and_the_rest_is_measured() {
    let corpus = build_corpus();
    let photos = corpus.photos.path();
    let before = tree(photos);
    let parent = tempfile::tempdir().unwrap();
    let out = parent.path().join("out");
    let (code, stderr) = analyze(photos, &out, "2");
    assert_eq!(code, 1, "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("internal error"), "{stderr}");

    // P003: one error per bad photo; every valid variant is registered and measured.
    let p003 = report(&out, b"P003");
    let follow_up = |name: &str| format!("2026-02-12/{name}");
    let bad: Vec<(String, &str)> = vec![
        (follow_up("empty.jpg"), "empty"),
        (follow_up("letter.png"), "not an image"),
        (follow_up("cut-jpeg.jpg"), "truncated JPEG"),
        (follow_up("cut-png.png"), "PNG"),
        (follow_up("cut-tiff.tif"), "TIFF"),
        (follow_up("corrupt-jpeg.jpg"), "corrupt JPEG"),
        (follow_up("corrupt-png.png"), "corrupt PNG"),
        (follow_up("corrupt-tiff.tif"), "TIFF"),
        (follow_up("huge-jpeg.jpg"), "above the limit"),
        (follow_up("huge-png.png"), "above the limit"),
        (follow_up("huge-tiff.tif"), "above the limit"),
        (follow_up("pixel.png"), "1×1 px, too small"),
        (follow_up("column.png"), "1×300 px, too small"),
        (follow_up("sliver.png"), "2000×3 px, too small"),
        (follow_up("black.png"), "alignment to the baseline failed"),
        (follow_up("white.png"), "alignment to the baseline failed"),
        (follow_up("noskin.png"), "alignment to the baseline failed"),
        (follow_up("loopa.jpg"), "cannot read"),
        (follow_up("loopb.jpg"), "cannot read"),
    ];
    let bad_refs: Vec<(&str, &str)> = bad.iter().map(|(f, n)| (f.as_str(), *n)).collect();
    expect_errors("P003", &report_errors(&p003), &bad_refs, &stderr);
    for name in [
        "cmyk.jpg",
        "palette.png",
        "alpha.png",
        "grey16.png",
        "rgb16.tif",
        "orientation9.jpg",
        "orientation0.jpg",
        "larger.png",
    ] {
        let view = Path::new(name).file_stem().unwrap().to_str().unwrap();
        let entry = session(&p003, view, &follow_up(name));
        assert_eq!(entry["alignment"]["status"], "ok", "{name}: {entry}");
        assert!(entry["metrics"].is_object(), "{name} not measured: {entry}");
        assert_eq!(entry["photo"]["orientation"], 1, "{name}");
    }
    let cmyk = session(&p003, "cmyk", &follow_up("cmyk.jpg"));
    // Colours survive: the CMYK photo is matched to the baseline with a near-unit gain, not inverted.
    let gain = cmyk["alignment"]["photometric"]["luminance_log_slope"]
        .as_f64()
        .unwrap();
    assert!((gain - 1.0).abs() < 0.15, "CMYK luminance slope {gain}");
    let larger = session(&p003, "larger", &follow_up("larger.png"));
    assert_eq!(larger["photo"]["width"], 500);
    for view in ["fr\u{FFFD}nt", HOSTILE_VIEW] {
        let file = format!("2026-02-12/{view}.jpg");
        assert!(
            session(&p003, view, &file)["metrics"].is_object(),
            "{view} not measured"
        );
    }

    // P004: dates.
    let p004 = report(&out, b"P004");
    expect_errors(
        "P004",
        &report_errors(&p004),
        &[
            ("future", "in the future"),
            ("malformed", "not a real date"),
            ("undated", "no exif capture date"),
            ("2026-02-30", "not a real date"),
        ],
        &stderr,
    );
    let notes = p004["notes"].to_string();
    assert!(notes.contains("share the date 2026-02-12"), "{notes}");
    assert!(
        session(&p004, "front", "2026-02-12_repeat/front.jpg")["metrics"].is_object(),
        "same-date session not measured"
    );

    // P005: one session is a note, not an error.
    let p005 = report(&out, b"P005");
    assert!(report_errors(&p005).is_empty(), "{p005}");
    assert!(p005["notes"].to_string().contains("only one session"));
    // P006: the config is named with the key; the patient is not measured.
    let p006 = report(&out, b"P006");
    expect_errors(
        "P006",
        &report_errors(&p006),
        &[("series.toml", "not measured until it is fixed")],
        &stderr,
    );
    assert_eq!(p006["views"], Value::Array(vec![]));
    // P007: an ROI outside the photo is one error against series.toml.
    let p007 = report(&out, b"P007");
    expect_errors(
        "P007",
        &report_errors(&p007),
        &[("series.toml", "lies outside its 400×300 px baseline photo")],
        &stderr,
    );
    // P008: a view without a baseline photo is one error, against its first photo.
    let p008 = report(&out, b"P008");
    expect_errors(
        "P008",
        &report_errors(&p008),
        &[(
            "2026-02-12/left.jpg",
            "baseline session has no 'left' photo",
        )],
        &stderr,
    );
    // Its photo is still listed, decoded (a broken file would be named) but not registered.
    let left = session(&p008, "left", "2026-02-12/left.jpg");
    assert!(left["photo"].is_object(), "{left}");
    assert_eq!(left["alignment"]["status"], "failed", "{left}");
    assert!(left["metrics"].is_null(), "{left}");

    // Good patients and patients with hostile names: measured, no errors.
    for name in [b"P001".as_slice(), b"P002"]
        .into_iter()
        .chain(HOSTILE_PATIENTS.iter().copied())
    {
        let r = report(&out, name);
        assert!(
            report_errors(&r).is_empty(),
            "{}: {r}",
            String::from_utf8_lossy(name)
        );
        assert!(
            session(&r, "front", "2026-02-12/front.jpg")["metrics"].is_object(),
            "{}",
            String::from_utf8_lossy(name)
        );
    }

    // Nothing outside OUT: the parent holds only OUT, and every name inside is a safe one.
    let outside: Vec<_> = std::fs::read_dir(parent.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(outside, vec![OsStr::new("out").to_os_string()]);
    for path in tree(&out).keys() {
        for part in path.components() {
            let part = part.as_os_str().as_bytes();
            assert!(
                part.iter()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.%".contains(b)),
                "unsafe output name {}",
                path.display()
            );
            assert!(
                part.first() != Some(&b'.'),
                "hidden output {}",
                path.display()
            );
        }
    }
    // Every name is escaped in the HTML: no page carries a raw injected tag.
    for (path, bytes) in tree(&out) {
        if path.extension() == Some(OsStr::new("html")) {
            let page = String::from_utf8(bytes).unwrap();
            for raw in ["<img src=x", "<b onmouseover"] {
                assert!(!page.contains(raw), "{} carries '{raw}'", path.display());
            }
        }
    }
    let index = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(index.contains("&lt;img src=x onerror=alert(1)&gt;"));
    // The shell metacharacters were never run.
    assert!(!photos.join("pwned").exists() && !out.join("pwned").exists());

    // Inputs untouched, byte for byte (symlinks still point where they did).
    assert_eq!(tree(photos), before, "input files were modified");

    // Same archive, 1 and 7 threads: byte-identical outputs.
    let first = tree(&out);
    for threads in ["1", "7"] {
        let again = parent.path().join(format!("out-{threads}"));
        let (code, _) = analyze(photos, &again, threads);
        assert_eq!(code, 1);
        let second = tree(&again);
        assert_eq!(
            first.keys().collect::<Vec<_>>(),
            second.keys().collect::<Vec<_>>()
        );
        for (path, bytes) in &first {
            assert!(
                &second[path] == bytes,
                "{} differs with {threads} threads",
                path.display()
            );
        }
    }
}
