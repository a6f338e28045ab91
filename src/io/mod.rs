//! Decoding photos into the one internal image type, [`Photo`]: linear-light `f32` planes.
//!
//! Every algorithm downstream works on `ndarray::Array2<f32>` planes, so a photo is converted exactly
//! once, here: JPEG, PNG or TIFF; 8-bit, 16-bit or float samples; grey, grey+alpha, RGB, RGBA or
//! palette (alpha is dropped, palettes are expanded by the decoder); the EXIF orientation applied so the
//! planes are upright. Samples are decoded through the sRGB transfer function ([`colour`]) to linear
//! light in `[0, 1]`; float TIFFs are taken as already linear. Luminance is the Rec. 709 weighted sum
//! of linear R, G and B.
//!
//! Before any pixel buffer is allocated the header's dimensions are checked against
//! [`LoadOptions::max_pixels`], so a hostile or corrupt header declaring 200 000 × 200 000 pixels is a
//! clear [`LoadError::TooLarge`] rather than an out-of-memory abort.

pub mod colour;
pub mod exif;

use std::io::Cursor;
use std::path::Path;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader};
use ndarray::Array2;

pub use exif::CaptureDate;

/// Default refusal threshold: 100 megapixels (a 12 MP phone photo is far below; a medium-format
/// scan is not a clinic photo).
pub const DEFAULT_MAX_PIXELS: u64 = 100_000_000;

/// Options for [`load_photo`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadOptions {
    /// Largest image, in pixels (width × height as the header declares), that is decoded.
    pub max_pixels: u64,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            max_pixels: DEFAULT_MAX_PIXELS,
        }
    }
}

/// The container formats skintex decodes.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum PhotoFormat {
    /// JPEG (baseline or progressive).
    Jpeg,
    /// PNG.
    Png,
    /// TIFF.
    Tiff,
}

impl PhotoFormat {
    fn image_format(self) -> ImageFormat {
        match self {
            Self::Jpeg => ImageFormat::Jpeg,
            Self::Png => ImageFormat::Png,
            Self::Tiff => ImageFormat::Tiff,
        }
    }

    /// Upper-case name for messages.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Jpeg => "JPEG",
            Self::Png => "PNG",
            Self::Tiff => "TIFF",
        }
    }
}

/// Why a photo could not be loaded. Each message says what is wrong and, where it helps, what to do.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LoadError {
    /// The operating system refused to open or read the file.
    #[error("cannot read the file ({reason}); check that it exists and is readable")]
    Unreadable {
        /// The OS error text.
        reason: String,
    },
    /// A directory, FIFO, device or similar where a photo was expected.
    #[error("not a regular file")]
    NotAFile,
    /// Zero bytes.
    #[error("the file is empty (0 bytes); copy the photo again from the camera")]
    Empty,
    /// A real image format that skintex does not decode.
    #[error(
        "unsupported image format {format}: skintex reads JPEG, PNG and TIFF; export the photo as one of these"
    )]
    Unsupported {
        /// What the content was recognised as.
        format: String,
    },
    /// Bytes that are no image format skintex knows.
    #[error("not an image: the content is neither JPEG, PNG nor TIFF (is it really a photo?)")]
    NotAnImage,
    /// The header declares more pixels than allowed.
    #[error(
        "the image declares {width}×{height} pixels ({megapixels:.1} MP), above the limit of \
         {limit_megapixels:.1} MP; raise --max-megapixels if this really is one photo"
    )]
    TooLarge {
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
        /// width × height / 10⁶.
        megapixels: f64,
        /// The limit in force, in MP.
        limit_megapixels: f64,
    },
    /// The header declares a zero dimension.
    #[error("the image declares no pixels ({width}×{height})")]
    ZeroSize {
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
    },
    /// The data ends before the image does.
    #[error("truncated {format} data: {detail}; the file was cut short (copy it again)")]
    Truncated {
        /// The container format.
        format: PhotoFormat,
        /// What was missing.
        detail: String,
    },
    /// The data is damaged or not what its header promises.
    #[error("corrupt {format} data: {reason}")]
    Corrupt {
        /// The container format.
        format: PhotoFormat,
        /// The decoder's description.
        reason: String,
    },
}

impl std::fmt::Display for PhotoFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What was in the file besides the pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct PhotoMeta {
    /// Container format, as recognised from the content (not the file extension).
    pub format: PhotoFormat,
    /// Bits per sample of the stored data (8, 16 or 32 for float TIFF).
    pub bits_per_sample: u8,
    /// True if the stored image had colour channels (false for grey and grey+alpha).
    pub colour: bool,
    /// True if an alpha channel was present (and dropped).
    pub had_alpha: bool,
    /// EXIF orientation code 1–8 that was applied (1 = stored upright).
    pub orientation: u8,
    /// Width × height as stored, before orientation was applied.
    pub stored_size: (u32, u32),
    /// The EXIF capture date.
    pub capture_date: CaptureDate,
}

/// A decoded photo: upright, linear light, one `f32` plane per channel plus luminance.
#[derive(Debug, Clone)]
pub struct Photo {
    /// Linear-light red, green and blue planes, `height × width`, nominally in `[0, 1]`.
    /// A grey photo has three equal planes.
    pub rgb: [Array2<f32>; 3],
    /// Linear luminance, Rec. 709 weights.
    pub luminance: Array2<f32>,
    /// Format, bit depth, orientation and date.
    pub meta: PhotoMeta,
}

impl Photo {
    /// Width in pixels (after orientation).
    #[must_use]
    pub fn width(&self) -> usize {
        self.luminance.ncols()
    }

    /// Height in pixels (after orientation).
    #[must_use]
    pub fn height(&self) -> usize {
        self.luminance.nrows()
    }
}

/// Reads, checks and decodes the photo at `path`. The file is only read, never modified.
///
/// # Errors
/// A [`LoadError`] naming what is wrong with the file.
pub fn load_photo(path: &Path, options: &LoadOptions) -> Result<Photo, LoadError> {
    let bytes = read_file(path)?;
    decode_photo(&bytes, options)
}

/// Reads a whole file after checking that it is a regular, non-empty file.
///
/// # Errors
/// [`LoadError::Unreadable`], [`LoadError::NotAFile`] or [`LoadError::Empty`].
pub fn read_file(path: &Path) -> Result<Vec<u8>, LoadError> {
    let unreadable = |e: std::io::Error| LoadError::Unreadable {
        reason: e.to_string(),
    };
    let meta = std::fs::metadata(path).map_err(unreadable)?;
    if !meta.is_file() {
        return Err(LoadError::NotAFile);
    }
    if meta.len() == 0 {
        return Err(LoadError::Empty);
    }
    let bytes = std::fs::read(path).map_err(unreadable)?;
    if bytes.is_empty() {
        return Err(LoadError::Empty);
    }
    Ok(bytes)
}

/// Decodes a photo held in memory. See [`load_photo`].
///
/// # Errors
/// A [`LoadError`] naming what is wrong with the data.
pub fn decode_photo(bytes: &[u8], options: &LoadOptions) -> Result<Photo, LoadError> {
    if bytes.is_empty() {
        return Err(LoadError::Empty);
    }
    let format = sniff_format(bytes)?;
    match format {
        PhotoFormat::Jpeg => check_jpeg_complete(bytes)?,
        PhotoFormat::Png => check_png_palette(bytes)?,
        PhotoFormat::Tiff => {}
    }
    let corrupt = |e: image::ImageError| classify_decode_error(format, e);

    let mut reader = ImageReader::with_format(Cursor::new(bytes), format.image_format());
    // Our own pixel check below runs first; this bounds the decoder's other allocations too
    // (8 bytes per pixel covers RGBA16, the widest layout we accept, plus headroom for metadata).
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(
        options
            .max_pixels
            .saturating_mul(8)
            .saturating_add(64 << 20),
    );
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(corrupt)?;

    let (width, height) = decoder.dimensions();
    check_dimensions(width, height, options.max_pixels)?;
    let colour_type = decoder.color_type();
    let orientation = decoder.orientation().map_err(corrupt)?;
    // The decoders are third-party code run on untrusted bytes. Our fuzzing found one panic in them
    // (see `check_png_palette`); should another exist, this photo is reported as damaged instead of
    // taking the batch down. (Under the fuzzer a panic still aborts, so such bugs are still found.)
    let decoded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        DynamicImage::from_decoder(decoder)
    }));
    let image = match decoded {
        Ok(result) => result.map_err(corrupt)?,
        Err(_) => {
            return Err(LoadError::Corrupt {
                format,
                reason:
                    "the decoder failed on this file (a bug in the decoder, triggered by damaged \
                         data); re-export the photo"
                        .into(),
            });
        }
    };

    let meta = PhotoMeta {
        format,
        bits_per_sample: u8::try_from(
            colour_type.bits_per_pixel() / u16::from(colour_type.channel_count()),
        )
        .unwrap_or(u8::MAX),
        colour: colour_type.has_color(),
        had_alpha: colour_type.has_alpha(),
        orientation: orientation_code(orientation),
        stored_size: (width, height),
        capture_date: exif::capture_date(bytes),
    };
    let mut image = image;
    image.apply_orientation(orientation);
    let (rgb, luminance) = to_linear_planes(&image);
    Ok(Photo {
        rgb,
        luminance,
        meta,
    })
}

/// Recognises the container from its magic bytes (the file extension is not trusted).
fn sniff_format(bytes: &[u8]) -> Result<PhotoFormat, LoadError> {
    match image::guess_format(bytes) {
        Ok(ImageFormat::Jpeg) => Ok(PhotoFormat::Jpeg),
        Ok(ImageFormat::Png) => Ok(PhotoFormat::Png),
        Ok(ImageFormat::Tiff) => Ok(PhotoFormat::Tiff),
        Ok(other) => Err(LoadError::Unsupported {
            format: other
                .extensions_str()
                .first()
                .map_or_else(|| format!("{other:?}"), |e| e.to_uppercase()),
        }),
        Err(_) => match iso_bmff_brand(bytes) {
            Some(brand) => Err(LoadError::Unsupported { format: brand }),
            None => Err(LoadError::NotAnImage),
        },
    }
}

/// HEIC/HEIF/AVIF (what iPhones write) live in an ISO-BMFF `ftyp` box; `image` built without those
/// codecs does not recognise them, but a clinic needs to hear "convert this", not "not an image".
fn iso_bmff_brand(bytes: &[u8]) -> Option<String> {
    if bytes.len() < 12 || &bytes[4..8] != b"ftyp" {
        return None;
    }
    let brand = String::from_utf8_lossy(&bytes[8..12]).to_ascii_lowercase();
    let name = match brand.as_str() {
        "heic" | "heix" | "hevc" | "heim" | "heis" | "mif1" | "msf1" => "HEIC/HEIF",
        "avif" | "avis" => "AVIF",
        _ => return None,
    };
    Some(name.to_string())
}

/// A JPEG must end its last scan with an end-of-image marker. The JPEG decoder fills a cut-short scan
/// with grey rather than failing, which would silently measure a half-grey photo, so we check.
/// Entropy-coded data stuffs every 0xFF byte with 0x00, so 0xFF 0xD9 after the last start-of-scan
/// (0xFF 0xDA) can only be the real marker; an embedded EXIF thumbnail comes before the main scans.
fn check_jpeg_complete(bytes: &[u8]) -> Result<(), LoadError> {
    let last_scan = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]);
    let Some(scan_start) = last_scan else {
        return Err(LoadError::Truncated {
            format: PhotoFormat::Jpeg,
            detail: "no image data (start-of-scan marker missing)".into(),
        });
    };
    let has_end = bytes[scan_start..].windows(2).any(|w| w == [0xFF, 0xD9]);
    if has_end {
        Ok(())
    } else {
        Err(LoadError::Truncated {
            format: PhotoFormat::Jpeg,
            detail: "end-of-image marker missing".into(),
        })
    }
}

/// Refuses a PNG whose palette (`PLTE`) chunk is not a whole number of RGB triples.
///
/// png 0.18.1 (the newest release) accepts such a chunk and then panics expanding the palette
/// (image-rs/image-png#694; fixed upstream in #682, not yet released); our decode fuzz target found
/// it. The PNG specification (§11.2.3) requires 3 bytes per entry, so the file is damaged either way.
/// Only the chunk framing is read here: 4-byte length, 4-byte type, data, 4-byte CRC.
fn check_png_palette(bytes: &[u8]) -> Result<(), LoadError> {
    let mut at = 8; // past the signature
    while let Some(header) = bytes.get(at..at + 8) {
        let length = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let kind = &header[4..8];
        if kind == b"PLTE" && !length.is_multiple_of(3) {
            return Err(LoadError::Corrupt {
                format: PhotoFormat::Png,
                reason: format!(
                    "the palette chunk holds {length} bytes, not a whole number of colours (3 bytes each)"
                ),
            });
        }
        if kind == b"IDAT" || kind == b"IEND" {
            break; // the palette must come before the image data
        }
        at = at.saturating_add(12).saturating_add(length);
    }
    Ok(())
}

fn check_dimensions(width: u32, height: u32, max_pixels: u64) -> Result<(), LoadError> {
    if width == 0 || height == 0 {
        return Err(LoadError::ZeroSize { width, height });
    }
    let pixels = u64::from(width) * u64::from(height);
    if pixels > max_pixels {
        return Err(LoadError::TooLarge {
            width,
            height,
            megapixels: pixels as f64 / 1e6,
            limit_megapixels: max_pixels as f64 / 1e6,
        });
    }
    Ok(())
}

fn classify_decode_error(format: PhotoFormat, error: image::ImageError) -> LoadError {
    use image::ImageError as E;
    match error {
        E::Limits(e) => LoadError::Corrupt {
            format,
            reason: format!("decoding would exceed memory limits ({e})"),
        },
        E::Unsupported(e) => LoadError::Unsupported {
            format: format!("{format} variant ({e})"),
        },
        E::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => LoadError::Truncated {
            format,
            detail: "the data ends early".into(),
        },
        other => {
            let reason = other.to_string();
            let lower = reason.to_ascii_lowercase();
            if lower.contains("eof") || lower.contains("end of file") || lower.contains("truncat") {
                LoadError::Truncated {
                    format,
                    detail: reason,
                }
            } else {
                LoadError::Corrupt { format, reason }
            }
        }
    }
}

fn orientation_code(orientation: image::metadata::Orientation) -> u8 {
    use image::metadata::Orientation as O;
    match orientation {
        O::NoTransforms => 1,
        O::FlipHorizontal => 2,
        O::Rotate180 => 3,
        O::FlipVertical => 4,
        O::Rotate90FlipH => 5,
        O::Rotate90 => 6,
        O::Rotate270FlipH => 7,
        O::Rotate270 => 8,
    }
}

/// Converts a decoded image to linear planes, rows in parallel.
fn to_linear_planes(image: &DynamicImage) -> ([Array2<f32>; 3], Array2<f32>) {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let t8 = colour::srgb8_table();
    let t16 = colour::srgb16_table();
    match image {
        DynamicImage::ImageLuma8(b) => planes_from(b.as_raw(), 1, w, h, |v| t8[usize::from(v)]),
        DynamicImage::ImageLumaA8(b) => planes_from(b.as_raw(), 2, w, h, |v| t8[usize::from(v)]),
        DynamicImage::ImageRgb8(b) => planes_from(b.as_raw(), 3, w, h, |v| t8[usize::from(v)]),
        DynamicImage::ImageRgba8(b) => planes_from(b.as_raw(), 4, w, h, |v| t8[usize::from(v)]),
        DynamicImage::ImageLuma16(b) => planes_from(b.as_raw(), 1, w, h, |v| t16[usize::from(v)]),
        DynamicImage::ImageLumaA16(b) => planes_from(b.as_raw(), 2, w, h, |v| t16[usize::from(v)]),
        DynamicImage::ImageRgb16(b) => planes_from(b.as_raw(), 3, w, h, |v| t16[usize::from(v)]),
        DynamicImage::ImageRgba16(b) => planes_from(b.as_raw(), 4, w, h, |v| t16[usize::from(v)]),
        // Float TIFFs carry scene-linear data by convention: no transfer function, negatives clamped.
        DynamicImage::ImageRgb32F(b) => planes_from(b.as_raw(), 3, w, h, |v: f32| v.max(0.0)),
        DynamicImage::ImageRgba32F(b) => planes_from(b.as_raw(), 4, w, h, |v: f32| v.max(0.0)),
        other => {
            let rgb16 = other.to_rgb16();
            planes_from(rgb16.as_raw(), 3, w, h, |v| t16[usize::from(v)])
        }
    }
}

fn planes_from<T: Copy + Sync>(
    samples: &[T],
    channels: usize,
    width: usize,
    height: usize,
    to_linear: impl Fn(T) -> f32 + Sync,
) -> ([Array2<f32>; 3], Array2<f32>) {
    let row_len = width * channels;
    let pixels = |y: usize| samples[y * row_len..(y + 1) * row_len].chunks_exact(channels);
    // One plane at a time, each written once and never zeroed first: four zeroed 12 MP planes were a
    // serial 192 MB memset before the conversion. Each plane is its own pass over the decoded samples
    // (36 MB for 8-bit RGB at 12 MP): a 12 MP `compare` went from 1.24 to 1.20 s (median of 7).
    let channel = |c: usize| {
        crate::kernels::plane_by_rows(height, width, |y, row| {
            for (v, px) in row.iter_mut().zip(pixels(y)) {
                *v = to_linear(px[c]);
            }
        })
    };
    if channels < 3 {
        let grey = channel(0);
        return ([grey.clone(), grey.clone(), grey.clone()], grey);
    }
    let rgb = [channel(0), channel(1), channel(2)];
    let luma = crate::kernels::plane_by_rows(height, width, |y, row| {
        for (v, px) in row.iter_mut().zip(pixels(y)) {
            *v = colour::luminance(to_linear(px[0]), to_linear(px[1]), to_linear(px[2]));
        }
    });
    (rgb, luma)
}

#[cfg(test)]
mod tests {
    use super::*;

    type Make<T> = fn(u32, u32, Vec<T>) -> Option<DynamicImage>;
    /// A layout's image, if made, and the linear value of raw sample `i`.
    type Layout<'a> = (Option<DynamicImage>, Box<dyn Fn(usize) -> f32 + 'a>);
    /// The layouts by channel count (1–4): 8-bit, 16-bit and (colour only) float.
    const EIGHT: [Make<u8>; 4] = [
        |w, h, r| image::ImageBuffer::from_raw(w, h, r).map(DynamicImage::ImageLuma8),
        |w, h, r| image::ImageBuffer::from_raw(w, h, r).map(DynamicImage::ImageLumaA8),
        |w, h, r| image::ImageBuffer::from_raw(w, h, r).map(DynamicImage::ImageRgb8),
        |w, h, r| image::ImageBuffer::from_raw(w, h, r).map(DynamicImage::ImageRgba8),
    ];
    const SIXTEEN: [Make<u16>; 4] = [
        |w, h, r| image::ImageBuffer::from_raw(w, h, r).map(DynamicImage::ImageLuma16),
        |w, h, r| image::ImageBuffer::from_raw(w, h, r).map(DynamicImage::ImageLumaA16),
        |w, h, r| image::ImageBuffer::from_raw(w, h, r).map(DynamicImage::ImageRgb16),
        |w, h, r| image::ImageBuffer::from_raw(w, h, r).map(DynamicImage::ImageRgba16),
    ];
    const FLOAT: [Option<Make<f32>>; 4] = [
        None,
        None,
        Some(|w, h, r| image::ImageBuffer::from_raw(w, h, r).map(DynamicImage::ImageRgb32F)),
        Some(|w, h, r| image::ImageBuffer::from_raw(w, h, r).map(DynamicImage::ImageRgba32F)),
    ];

    /// Every sample layout converts pixel by pixel as the transfer tables say: grey and grey + alpha
    /// into three equal planes and a luminance equal to them, colour with alpha ignored, float as given
    /// (negatives clamped) with the luminance of the three linear values. Odd sizes, so the row bands
    /// end part-way.
    #[test]
    fn every_layout_converts_pixel_by_pixel() {
        let (w, h) = (7u32, 19u32);
        let t8 = colour::srgb8_table();
        let t16 = colour::srgb16_table();
        // Sample i of the raw buffer, as each depth stores it and as linear light.
        let code = |i: usize| (i * 9_973 + 17) % 65_536;
        let float = |i: usize| (i % 23) as f32 * 0.07 - 0.3;
        for channels in 1..=4usize {
            let len = (w * h) as usize * channels;
            let raw8: Vec<u8> = (0..len).map(|i| (code(i) % 256) as u8).collect();
            let raw16: Vec<u16> = (0..len).map(|i| code(i) as u16).collect();
            let rawf: Vec<f32> = (0..len).map(float).collect();
            let k = channels - 1;
            let mut layouts: Vec<Layout<'_>> = vec![
                (EIGHT[k](w, h, raw8), Box::new(|i| t8[code(i) % 256])),
                (SIXTEEN[k](w, h, raw16), Box::new(|i| t16[code(i)])),
            ];
            if let Some(make) = FLOAT[k] {
                layouts.push((make(w, h, rawf), Box::new(|i| float(i).max(0.0))));
            }
            for (image, linear) in layouts {
                let image = image.expect("the raw buffer fits the layout");
                let name = format!("{:?}", image.color());
                let (rgb, luma) = to_linear_planes(&image);
                for plane in rgb.iter().chain([&luma]) {
                    assert_eq!(plane.dim(), (h as usize, w as usize), "{name}");
                }
                for (i, j) in (0..h as usize).flat_map(|i| (0..w as usize).map(move |j| (i, j))) {
                    let first = (i * w as usize + j) * channels;
                    // Grey: one sample for all three planes, and the luminance is that plane.
                    let [r, g, b] = if channels >= 3 {
                        [0, 1, 2].map(|c| linear(first + c))
                    } else {
                        [linear(first); 3]
                    };
                    let y = if channels >= 3 {
                        colour::luminance(r, g, b)
                    } else {
                        r
                    };
                    let got = [rgb[0][[i, j]], rgb[1][[i, j]], rgb[2][[i, j]], luma[[i, j]]];
                    let want = [r, g, b, y];
                    assert_eq!(
                        got.map(f32::to_bits),
                        want.map(f32::to_bits),
                        "{name} ({j}, {i})"
                    );
                }
            }
        }
    }

    #[test]
    fn truncation_check_accepts_complete_and_rejects_cut_jpeg() {
        let complete = [0xFF, 0xD8, 0xFF, 0xDA, 1, 2, 0xFF, 0x00, 3, 0xFF, 0xD9];
        assert!(check_jpeg_complete(&complete).is_ok());
        let cut = &complete[..8];
        assert!(matches!(
            check_jpeg_complete(cut),
            Err(LoadError::Truncated { .. })
        ));
    }

    #[test]
    fn png_palette_must_be_whole_triples() {
        // The fuzzer's find, reduced by hand: signature, IHDR (1×1, 8-bit palette), a 4-byte PLTE.
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend_from_slice(&13u32.to_be_bytes());
        png.extend_from_slice(b"IHDR\0\0\0\x01\0\0\0\x01\x08\x03\0\0\0");
        png.extend_from_slice(&[0; 4]); // CRC (not checked here)
        png.extend_from_slice(&4u32.to_be_bytes());
        png.extend_from_slice(b"PLTE\x01\x02\x03\x04");
        png.extend_from_slice(&[0; 4]);
        assert!(matches!(
            check_png_palette(&png),
            Err(LoadError::Corrupt { .. })
        ));
        let whole = png.len() - 12 - 4;
        png.truncate(whole);
        png.extend_from_slice(&3u32.to_be_bytes());
        png.extend_from_slice(b"PLTE\x01\x02\x03");
        png.extend_from_slice(&[0; 4]);
        assert!(check_png_palette(&png).is_ok());
    }

    #[test]
    fn dimension_check() {
        assert!(check_dimensions(10, 10, 100).is_ok());
        assert!(matches!(
            check_dimensions(11, 10, 100),
            Err(LoadError::TooLarge { width: 11, .. })
        ));
        assert!(matches!(
            check_dimensions(0, 10, 100),
            Err(LoadError::ZeroSize { .. })
        ));
    }
}
