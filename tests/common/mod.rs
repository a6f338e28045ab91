//! Helpers shared by the integration tests: tiny encoders for test photos and folder builders.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Cursor;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use image::{DynamicImage, ImageEncoder, codecs::jpeg::JpegEncoder, codecs::png::PngEncoder};

/// Encodes an 8-bit RGB image as PNG with an optional raw EXIF block.
pub fn png_rgb8(img: &image::RgbImage, exif: Option<Vec<u8>>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = PngEncoder::new(&mut out);
    if let Some(e) = exif {
        enc.set_exif_metadata(e).unwrap();
    }
    enc.write_image(
        img.as_raw(),
        img.width(),
        img.height(),
        image::ExtendedColorType::Rgb8,
    )
    .unwrap();
    out
}

/// Encodes an 8-bit RGB image as JPEG (quality 95) with an optional raw EXIF block.
pub fn jpeg_rgb8(img: &image::RgbImage, exif: Option<Vec<u8>>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = JpegEncoder::new_with_quality(&mut out, 95);
    if let Some(e) = exif {
        enc.set_exif_metadata(e).unwrap();
    }
    enc.write_image(
        img.as_raw(),
        img.width(),
        img.height(),
        image::ExtendedColorType::Rgb8,
    )
    .unwrap();
    out
}

/// Encodes any image in the given format.
pub fn encode(img: &DynamicImage, format: image::ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

/// A smooth, non-constant RGB test image (so JPEG keeps it recognisable).
pub fn gradient_rgb(width: u32, height: u32) -> image::RgbImage {
    image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([
            (40 + 150 * x / width.max(1)) as u8,
            (60 + 120 * y / height.max(1)) as u8,
            (90 + ((x + y) % 50)) as u8,
        ])
    })
}

/// CRC-32 (IEEE 802.3, as PNG uses), bitwise: only for hand-made PNG chunks in tests.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A PNG whose IHDR declares `width × height` 8-bit RGB pixels but carries a one-byte IDAT: what a
/// hostile or corrupt file looks like. Decoding must refuse it before allocating.
pub fn png_declaring(width: u32, height: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |kind: &[u8], data: &[u8]| {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc32(&body).to_be_bytes());
    };
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(b"IHDR", &ihdr);
    chunk(b"IDAT", &[0]);
    chunk(b"IEND", &[]);
    out
}

/// Writes `bytes` to `root/rel`, creating folders.
pub fn put(root: &Path, rel: &str, bytes: &[u8]) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// A small valid JPEG photo.
pub fn small_jpeg() -> Vec<u8> {
    jpeg_rgb8(&gradient_rgb(64, 48), None)
}

/// A small valid JPEG carrying `DateTimeOriginal`.
pub fn small_jpeg_taken(y: i16, m: i8, d: i8) -> Vec<u8> {
    let taken = jiff::civil::date(y, m, d).at(9, 0, 0, 0);
    let exif = skintex::io::exif::build_exif_block(1, Some(taken)).unwrap();
    jpeg_rgb8(&gradient_rgb(64, 48), Some(exif))
}

/// Every file under `root` with its bytes, keyed by its path relative to `root`. Symlinks are not
/// followed: a symlink is listed with its target as its bytes (so a test can also see that links
/// were left alone).
pub fn tree(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let rel = path.strip_prefix(root).unwrap().to_path_buf();
            if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&path).unwrap();
                out.insert(rel, target.as_os_str().as_bytes().to_vec());
            } else if meta.is_dir() {
                stack.push(path);
            } else {
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

/// A `report.json`'s `errors` as file → message.
pub fn report_errors(report: &serde_json::Value) -> BTreeMap<String, String> {
    report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["file"].as_str().unwrap().to_string(),
                e["error"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}
