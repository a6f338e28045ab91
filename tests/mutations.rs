//! Mutated inputs never crash the parsers: the normal-suite counterpart of the fuzz targets in
//! `fuzz/` (which run for minutes under libFuzzer; see fuzz/README.md). Valid photos from the fuzz
//! seed corpus and from our own encoders are cut, bit-flipped, overwritten and spliced; each result
//! must decode to a consistent photo or come back as an error, never a panic. `series.toml` texts get
//! the same treatment, and any config that parses must survive a write-and-reparse.

mod common;

use std::path::Path;

use common::*;
use image::{DynamicImage, ImageFormat};
use proptest::prelude::*;
use skintex::io::{LoadOptions, decode_photo};
use skintex::series::{ConfigError, SeriesConfig};

/// The committed seed corpus of the decode fuzz target plus photos from this crate's encoders, read
/// and encoded once for all cases.
fn photo_seeds() -> &'static [Vec<u8>] {
    static SEEDS: std::sync::LazyLock<Vec<Vec<u8>>> = std::sync::LazyLock::new(load_photo_seeds);
    &SEEDS
}

fn load_photo_seeds() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/decode_photo");
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    assert!(
        seeds.len() >= 10,
        "seed corpus missing in {}",
        dir.display()
    );
    let img = gradient_rgb(24, 17);
    let taken = jiff::civil::datetime(2026, 1, 15, 9, 30, 0, 0);
    let exif = skintex::io::exif::build_exif_block(6, Some(taken)).unwrap();
    seeds.push(jpeg_rgb8(&img, Some(exif.clone())));
    seeds.push(png_rgb8(&img, Some(exif)));
    seeds.push(encode(
        &DynamicImage::ImageRgb16(DynamicImage::ImageRgb8(img).to_rgb16()),
        ImageFormat::Tiff,
    ));
    seeds
}

/// One edit of a byte string.
#[derive(Debug, Clone)]
enum Edit {
    Overwrite(usize, u8),
    FlipBit(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    /// Copies a run of the data elsewhere (libFuzzer's CopyPart: duplicated markers and chunks).
    Splice(usize, usize, usize),
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(p, v)| Edit::Overwrite(p, v)),
        (any::<usize>(), 0u8..8).prop_map(|(p, b)| Edit::FlipBit(p, b)),
        (
            any::<usize>(),
            proptest::collection::vec(any::<u8>(), 1..16)
        )
            .prop_map(|(p, v)| Edit::Insert(p, v)),
        (any::<usize>(), 1usize..64).prop_map(|(p, n)| Edit::Delete(p, n)),
        (any::<usize>(), any::<usize>(), 1usize..64).prop_map(|(f, t, n)| Edit::Splice(f, t, n)),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

fn apply(bytes: &mut Vec<u8>, edit: &Edit) {
    if bytes.is_empty() {
        return;
    }
    let at = |p: usize, len: usize| p % len;
    match edit {
        Edit::Overwrite(p, v) => {
            let i = at(*p, bytes.len());
            bytes[i] = *v;
        }
        Edit::FlipBit(p, b) => {
            let i = at(*p, bytes.len());
            bytes[i] ^= 1 << b;
        }
        Edit::Insert(p, v) => {
            let i = at(*p, bytes.len() + 1);
            bytes.splice(i..i, v.iter().copied());
        }
        Edit::Delete(p, n) => {
            let i = at(*p, bytes.len());
            let end = (i + n).min(bytes.len());
            bytes.drain(i..end);
        }
        Edit::Splice(from, to, n) => {
            let i = at(*from, bytes.len());
            let part: Vec<u8> = bytes[i..(i + n).min(bytes.len())].to_vec();
            let j = at(*to, bytes.len() + 1);
            bytes.splice(j..j, part);
        }
        Edit::Truncate(p) => {
            let i = at(*p, bytes.len() + 1);
            bytes.truncate(i);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn mutated_photos_decode_or_fail_cleanly(
        seed in any::<prop::sample::Index>(),
        edits in proptest::collection::vec(edit(), 1..6),
    ) {
        let seeds = photo_seeds();
        let mut bytes = seeds[seed.index(seeds.len())].clone();
        for e in &edits {
            apply(&mut bytes, e);
        }
        match decode_photo(&bytes, &LoadOptions { max_pixels: 1 << 20 }) {
            Ok(photo) => {
                prop_assert!(photo.width() > 0 && photo.height() > 0);
                prop_assert!(photo.width() * photo.height() <= 1 << 20);
                for plane in photo.rgb.iter().chain([&photo.luminance]) {
                    prop_assert_eq!(plane.dim(), (photo.height(), photo.width()));
                    prop_assert!(plane.iter().all(|v| v.is_finite() && *v >= 0.0));
                }
                prop_assert!((1..=8).contains(&photo.meta.orientation));
            }
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }
}

const CONFIG_SEEDS: &[&str] = &[
    "mm_per_px = 0.05\nroi = [10, 20, 300, 400]\nbaseline = \"2026-01-15\"\n[views.front]\nroi = [1, 2, 3, 4]\n",
    "baseline = \"2026-01-15_baseline\"\n[views.left]\n[views.right]\nroi = [0, 0, 4000, 3000]\n",
    "mm_per_px = 1e-3\n",
    "",
];

/// Parses, and if that succeeds, checks the config writes and reads back unchanged.
fn parse_round_trip(text: &str) -> Result<(), TestCaseError> {
    match SeriesConfig::parse(text, "P1/series.toml") {
        Ok(config) => {
            let written =
                toml::to_string(&config).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let reparsed = SeriesConfig::parse(&written, "P1/series.toml")
                .map_err(|e| TestCaseError::fail(format!("{e} in:\n{written}")))?;
            prop_assert_eq!(reparsed, config);
        }
        Err(
            ConfigError::Invalid { file, message }
            | ConfigError::OutOfRange {
                file, key: message, ..
            },
        ) => {
            prop_assert_eq!(file, "P1/series.toml");
            prop_assert!(!message.is_empty());
        }
        Err(ConfigError::Unreadable { .. }) => prop_assert!(false, "parse never reads a file"),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn mutated_series_toml_parses_or_fails_cleanly(
        seed in any::<prop::sample::Index>(),
        edits in proptest::collection::vec(edit(), 1..6),
    ) {
        let mut bytes = CONFIG_SEEDS[seed.index(CONFIG_SEEDS.len())].as_bytes().to_vec();
        for e in &edits {
            apply(&mut bytes, e);
        }
        // `SeriesConfig::read` refuses invalid UTF-8 before parsing; the parser sees only text.
        if let Ok(text) = std::str::from_utf8(&bytes) {
            parse_round_trip(text)?;
        }
    }

    #[test]
    fn generated_series_toml_parses_or_fails_cleanly(
        mm in proptest::option::of(prop_oneof![any::<f64>(), 1e-4f64..10.0]),
        roi in proptest::option::of(proptest::array::uniform4(any::<u32>())),
        baseline in proptest::option::of("[ -~]{0,24}"),
        views in proptest::collection::btree_map("[a-z\"'. ]{1,8}", proptest::option::of(proptest::array::uniform4(0u32..5000)), 0..4),
    ) {
        let mut text = String::new();
        if let Some(mm) = mm {
            text.push_str(&format!("mm_per_px = {mm:?}\n"));
        }
        if let Some(r) = roi {
            text.push_str(&format!("roi = {r:?}\n"));
        }
        if let Some(b) = &baseline {
            text.push_str(&format!("baseline = {}\n", toml::Value::String(b.clone())));
        }
        for (view, roi) in &views {
            text.push_str(&format!("[views.{}]\n", toml::Value::String(view.clone())));
            if let Some(r) = roi {
                text.push_str(&format!("roi = {r:?}\n"));
            }
        }
        parse_round_trip(&text)?;
    }
}
