//! Fuzz target: one photo file's bytes through everything ingest does with them — format sniffing,
//! header checks, the JPEG completeness check, EXIF date and orientation, decoding, conversion to
//! linear planes — and, for a photo that decodes, the first pipeline steps that look at its pixels
//! (the skin mask and the registration pyramid). Any panic or abort is a bug: bad bytes must come
//! back as a `LoadError`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skintex::align::{AlignOptions, Prepared};
use skintex::io::{LoadOptions, decode_photo};
use skintex::metrics::skin::SkinMask;

fuzz_target!(|bytes: &[u8]| {
    // A small pixel limit keeps each execution fast and far under libFuzzer's memory limit; the limit
    // check itself is part of what is fuzzed (headers declaring huge sizes).
    let options = LoadOptions {
        max_pixels: 1 << 20,
    };
    let Ok(photo) = decode_photo(bytes, &options) else {
        return;
    };
    assert_eq!(photo.luminance.dim(), photo.rgb[0].dim());
    assert!(photo.luminance.iter().all(|v| v.is_finite()));
    // Beyond decoding, only small photos: the point is odd shapes (1×N, extreme aspect), not speed.
    if photo.width() * photo.height() <= 1 << 16 {
        let _ = SkinMask::detect(&photo.rgb);
        let _ = Prepared::new(photo.luminance.view(), &AlignOptions::default());
    }
});
