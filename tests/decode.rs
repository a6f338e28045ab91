//! Decoding: formats, bit depths, EXIF orientation and date, the pixel limit, and every bad input.

// Tests say on stderr when a case cannot run here (never a silent skip).
#![allow(clippy::print_stderr)]

mod common;

use common::*;
use image::{DynamicImage, ImageFormat};
use skintex::io::colour::{luminance, srgb_to_linear};
use skintex::io::{CaptureDate, LoadError, LoadOptions, PhotoFormat, decode_photo, load_photo};

fn decode(bytes: &[u8]) -> Result<skintex::io::Photo, LoadError> {
    decode_photo(bytes, &LoadOptions::default())
}

/// Where upright pixel (x, y) of a `w × h` image is stored for EXIF orientation `o`, written from the
/// EXIF 2.32 definitions ("the 0th row is the visual …, the 0th column is the visual …"), independently
/// of the `image` crate. Returns the stored image's size and the mapping stored (sx, sy) → upright.
/// Maps a stored pixel to its upright position.
type PixelMap = Box<dyn Fn(u32, u32) -> (u32, u32)>;

fn stored_to_upright(o: u16, w: u32, h: u32) -> ((u32, u32), PixelMap) {
    match o {
        1 => ((w, h), Box::new(|x, y| (x, y))),
        2 => ((w, h), Box::new(move |x, y| (w - 1 - x, y))),
        3 => ((w, h), Box::new(move |x, y| (w - 1 - x, h - 1 - y))),
        4 => ((w, h), Box::new(move |x, y| (x, h - 1 - y))),
        5 => ((h, w), Box::new(|x, y| (y, x))),
        6 => ((h, w), Box::new(move |x, y| (w - 1 - y, x))),
        7 => ((h, w), Box::new(move |x, y| (w - 1 - y, h - 1 - x))),
        8 => ((h, w), Box::new(move |x, y| (y, h - 1 - x))),
        _ => unreachable!(),
    }
}

/// An asymmetric upright image: every pixel distinct, so any wrong flip or rotation shows.
fn upright(w: u32, h: u32) -> image::RgbImage {
    image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([
            (x * 20) as u8,
            (y * 30) as u8,
            ((x * 7 + y * 13) % 251) as u8,
        ])
    })
}

fn stored_for(o: u16, up: &image::RgbImage) -> image::RgbImage {
    let ((sw, sh), map) = stored_to_upright(o, up.width(), up.height());
    image::RgbImage::from_fn(sw, sh, |sx, sy| {
        let (ux, uy) = map(sx, sy);
        *up.get_pixel(ux, uy)
    })
}

#[test]
fn every_exif_orientation_decodes_upright_png() {
    let up = upright(7, 5);
    for o in 1..=8u16 {
        let stored = stored_for(o, &up);
        let exif = skintex::io::exif::build_exif_block(o, None).unwrap();
        let photo = decode(&png_rgb8(&stored, Some(exif))).unwrap();
        assert_eq!((photo.width(), photo.height()), (7, 5), "orientation {o}");
        assert_eq!(photo.meta.orientation as u16, o);
        for y in 0..5 {
            for x in 0..7 {
                let expected = srgb_to_linear(f64::from(up.get_pixel(x, y)[0]) / 255.0) as f32;
                assert_eq!(
                    photo.rgb[0][[y as usize, x as usize]],
                    expected,
                    "orientation {o} at ({x},{y})"
                );
            }
        }
    }
}

#[test]
fn every_exif_orientation_decodes_upright_jpeg() {
    // JPEG is lossy, so the upright image is four flat quadrants of distinct colours, checked by their
    // mean: any wrong flip or rotation swaps quadrants.
    let (w, h) = (64u32, 48u32);
    let colour = |x: u32, y: u32| match (x < w / 2, y < h / 2) {
        (true, true) => [220u8, 30, 30],
        (false, true) => [30, 220, 30],
        (true, false) => [30, 30, 220],
        (false, false) => [220, 220, 30],
    };
    let up = image::RgbImage::from_fn(w, h, |x, y| image::Rgb(colour(x, y)));
    for o in 1..=8u16 {
        let exif = skintex::io::exif::build_exif_block(o, None).unwrap();
        let photo = decode(&jpeg_rgb8(&stored_for(o, &up), Some(exif))).unwrap();
        assert_eq!((photo.width(), photo.height()), (64, 48), "orientation {o}");
        for (qx, qy) in [(8usize, 8usize), (56, 8), (8, 40), (56, 40)] {
            let expected = colour(qx as u32, qy as u32);
            for (c, &code) in expected.iter().enumerate() {
                let got = photo.rgb[c][[qy, qx]];
                let want = srgb_to_linear(f64::from(code) / 255.0) as f32;
                assert!(
                    (got - want).abs() < 0.03,
                    "orientation {o} quadrant ({qx},{qy}) channel {c}: {got} vs {want}"
                );
            }
        }
    }
}

#[test]
fn sixteen_bit_png_and_tiff_keep_full_precision() {
    let img = image::ImageBuffer::<image::Rgb<u16>, _>::from_fn(9, 4, |x, y| {
        image::Rgb([
            (x * 7000 + 1) as u16,
            (y * 16000 + 3) as u16,
            65535 - (x * 911) as u16,
        ])
    });
    for format in [ImageFormat::Png, ImageFormat::Tiff] {
        let photo = decode(&encode(&DynamicImage::ImageRgb16(img.clone()), format)).unwrap();
        assert_eq!(photo.meta.bits_per_sample, 16);
        for (x, y, p) in img.enumerate_pixels() {
            for c in 0..3 {
                let want = srgb_to_linear(f64::from(p[c]) / 65535.0) as f32;
                assert!(
                    (photo.rgb[c][[y as usize, x as usize]] - want).abs() < 1e-6,
                    "{format:?}"
                );
            }
            let l = photo.luminance[[y as usize, x as usize]];
            let (r, g, b) = (
                photo.rgb[0][[y as usize, x as usize]],
                photo.rgb[1][[y as usize, x as usize]],
                photo.rgb[2][[y as usize, x as usize]],
            );
            assert!((l - luminance(r, g, b)).abs() < 1e-6);
        }
    }
}

#[test]
fn grey_input_gives_equal_planes_in_8_and_16_bit() {
    let g8 = image::GrayImage::from_fn(5, 3, |x, y| image::Luma([(x * 50 + y) as u8]));
    let g16 = image::ImageBuffer::<image::Luma<u16>, _>::from_fn(5, 3, |x, y| {
        image::Luma([(x * 13000 + y) as u16])
    });
    for (bytes, bits) in [
        (encode(&DynamicImage::ImageLuma8(g8), ImageFormat::Png), 8),
        (
            encode(&DynamicImage::ImageLuma16(g16.clone()), ImageFormat::Png),
            16,
        ),
        (
            encode(&DynamicImage::ImageLuma16(g16), ImageFormat::Tiff),
            16,
        ),
    ] {
        let photo = decode(&bytes).unwrap();
        assert!(!photo.meta.colour);
        assert_eq!(photo.meta.bits_per_sample, bits);
        assert_eq!(photo.rgb[0], photo.rgb[1]);
        assert_eq!(photo.rgb[1], photo.rgb[2]);
        assert_eq!(photo.rgb[0], photo.luminance);
    }
}

#[test]
fn alpha_is_dropped_and_palette_is_expanded() {
    let rgba = image::RgbaImage::from_fn(4, 4, |x, _| image::Rgba([200, 100, 50, (x * 60) as u8]));
    let photo = decode(&encode(&DynamicImage::ImageRgba8(rgba), ImageFormat::Png)).unwrap();
    assert!(photo.meta.had_alpha);
    let want = srgb_to_linear(200.0 / 255.0) as f32;
    assert!(
        photo.rgb[0].iter().all(|&v| v == want),
        "alpha must not darken the colour"
    );

    // A real indexed PNG (colour type 3) with a 3-entry palette.
    let mut bytes = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut bytes, 3, 1);
        enc.set_color(png::ColorType::Indexed);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_palette(vec![255, 0, 0, 0, 255, 0, 0, 0, 255]);
        let mut w = enc.write_header().unwrap();
        w.write_image_data(&[2, 1, 0]).unwrap();
    }
    let photo = decode(&bytes).unwrap();
    assert_eq!(photo.rgb[2][[0, 0]], 1.0, "index 2 is blue");
    assert_eq!(photo.rgb[1][[0, 1]], 1.0, "index 1 is green");
    assert_eq!(photo.rgb[0][[0, 2]], 1.0, "index 0 is red");
}

#[test]
fn exif_capture_date_is_read() {
    let photo = decode(&small_jpeg_taken(2026, 3, 1)).unwrap();
    assert_eq!(
        photo.meta.capture_date,
        CaptureDate::Taken(jiff::civil::date(2026, 3, 1).at(9, 0, 0, 0))
    );
    let photo = decode(&small_jpeg()).unwrap();
    assert_eq!(photo.meta.capture_date, CaptureDate::Absent);
}

#[test]
fn pixel_limit_refuses_before_allocating() {
    // 200 000 × 200 000 RGB would need 120 GB: it must fail at once with a clear message.
    let err = decode(&png_declaring(200_000, 200_000)).unwrap_err();
    match &err {
        LoadError::TooLarge {
            width: 200_000,
            height: 200_000,
            ..
        } => {}
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert!(err.to_string().contains("40000.0 MP"), "{err}");
    // The limit is configurable: a 64 × 48 photo is refused under a 3000-pixel limit, accepted above.
    let small = small_jpeg();
    assert!(matches!(
        decode_photo(&small, &LoadOptions { max_pixels: 3000 }),
        Err(LoadError::TooLarge { .. })
    ));
    assert!(decode_photo(&small, &LoadOptions { max_pixels: 3072 }).is_ok());
}

#[test]
fn bad_inputs_give_specific_errors() {
    let dir = tempfile::tempdir().unwrap();
    let jpeg = small_jpeg();
    let png = png_rgb8(&gradient_rgb(30, 20), None);
    let tiff = encode(
        &DynamicImage::ImageRgb8(gradient_rgb(30, 20)),
        ImageFormat::Tiff,
    );
    type Case = (&'static str, Vec<u8>, fn(&LoadError) -> bool);
    let cases: Vec<Case> = vec![
        ("empty.jpg", vec![], |e| matches!(e, LoadError::Empty)),
        ("cut.jpg", jpeg[..jpeg.len() * 6 / 10].to_vec(), |e| {
            matches!(
                e,
                LoadError::Truncated {
                    format: PhotoFormat::Jpeg,
                    ..
                }
            )
        }),
        ("cut.png", png[..png.len() / 2].to_vec(), |e| {
            matches!(e, LoadError::Truncated { .. } | LoadError::Corrupt { .. })
        }),
        ("cut.tif", tiff[..tiff.len() / 2].to_vec(), |e| {
            matches!(e, LoadError::Truncated { .. } | LoadError::Corrupt { .. })
        }),
        (
            "notes.jpg",
            b"Patient consent form, signed 2026-01-15.\n".to_vec(),
            |e| matches!(e, LoadError::NotAnImage),
        ),
        (
            "anim.png",
            b"GIF89a\x01\x00\x01\x00\x00\x00\x00;".to_vec(),
            |e| matches!(e, LoadError::Unsupported { format } if format == "GIF"),
        ),
        (
            "phone.jpg",
            b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic".to_vec(),
            |e| matches!(e, LoadError::Unsupported { format } if format.contains("HEIC")),
        ),
        ("huge.png", png_declaring(200_000, 200_000), |e| {
            matches!(e, LoadError::TooLarge { .. })
        }),
        ("zero.png", png_declaring(0, 10), |e| {
            matches!(e, LoadError::ZeroSize { .. } | LoadError::Corrupt { .. })
        }),
    ];
    for (name, bytes, expected) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        let err = load_photo(&path, &LoadOptions::default()).expect_err(name);
        assert!(expected(&err), "{name}: unexpected error {err:?}");
        assert!(!err.to_string().is_empty());
    }

    // Unreadable: a dangling symlink, and (when not root, who reads everything) a file without permission.
    let link = dir.path().join("gone.jpg");
    std::os::unix::fs::symlink(dir.path().join("nowhere.jpg"), &link).unwrap();
    assert!(matches!(
        load_photo(&link, &LoadOptions::default()),
        Err(LoadError::Unreadable { .. })
    ));
    assert!(matches!(
        load_photo(dir.path(), &LoadOptions::default()),
        Err(LoadError::NotAFile)
    ));
    let locked = dir.path().join("locked.jpg");
    std::fs::write(&locked, &jpeg).unwrap();
    std::fs::set_permissions(&locked, std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();
    if std::fs::read(&locked).is_err() {
        assert!(matches!(
            load_photo(&locked, &LoadOptions::default()),
            Err(LoadError::Unreadable { .. })
        ));
    } else {
        eprintln!(
            "running as root: permission bits do not stop reads; the dangling symlink covers 'unreadable'"
        );
    }
}

#[test]
fn content_decides_the_format_not_the_extension() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("front.jpg");
    std::fs::write(&path, png_rgb8(&gradient_rgb(8, 8), None)).unwrap();
    let photo = load_photo(&path, &LoadOptions::default()).unwrap();
    assert_eq!(photo.meta.format, PhotoFormat::Png);
}

/// The decode fuzz target's one find (fuzz/README.md): a PNG whose palette chunk is not a whole number
/// of RGB triples made png 0.18.1 panic. It must be a clear "corrupt" error.
#[test]
fn fuzzer_found_png_with_broken_palette_is_a_clean_error() {
    let bytes = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/fuzz-png-plte-not-triples.png"),
    )
    .unwrap();
    let err = decode(&bytes).unwrap_err();
    assert!(
        matches!(
            err,
            LoadError::Corrupt {
                format: PhotoFormat::Png,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("palette"), "{err}");
}
