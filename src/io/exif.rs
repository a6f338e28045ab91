//! EXIF metadata: reading the capture date, and writing a minimal EXIF block for synthetic photos.
//!
//! Reading uses `kamadak-exif` on the whole file (JPEG APP1, PNG eXIf, TIFF IFDs alike). The
//! orientation itself is read by the `image` decoder in [`crate::io`]; here we only need the date,
//! which sessions fall back on when their folder name carries none.

use std::io::Cursor;

use exif::{Field, In, Tag, Value};
use jiff::civil::{Date, DateTime};

/// The capture time a photo's EXIF records, or why it has none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaptureDate {
    /// `DateTimeOriginal` (or, failing that, `DateTime`) parsed as a civil date-time.
    Taken(DateTime),
    /// The photo has no EXIF block or no date field.
    Absent,
    /// A date field exists but does not hold a valid date ("0000:00:00 00:00:00" is common).
    Malformed {
        /// The raw text, for the error message.
        raw: String,
    },
}

/// Reads the capture date from the bytes of a whole image file.
#[must_use]
pub fn capture_date(file_bytes: &[u8]) -> CaptureDate {
    let Ok(exif) = exif::Reader::new().read_from_container(&mut Cursor::new(file_bytes)) else {
        return CaptureDate::Absent;
    };
    let field = exif
        .get_field(Tag::DateTimeOriginal, In::PRIMARY)
        .or_else(|| exif.get_field(Tag::DateTime, In::PRIMARY));
    let Some(field) = field else {
        return CaptureDate::Absent;
    };
    let Value::Ascii(ref parts) = field.value else {
        return CaptureDate::Malformed {
            raw: field.display_value().to_string(),
        };
    };
    let Some(raw) = parts.first() else {
        return CaptureDate::Absent;
    };
    parse_exif_datetime(raw).map_or_else(
        || CaptureDate::Malformed {
            raw: String::from_utf8_lossy(raw).into_owned(),
        },
        CaptureDate::Taken,
    )
}

/// Parses EXIF's `YYYY:MM:DD HH:MM:SS` into a civil date-time; `None` if it is not a real instant.
fn parse_exif_datetime(raw: &[u8]) -> Option<DateTime> {
    let dt = exif::DateTime::from_ascii(raw).ok()?;
    let date = Date::new(
        i16::try_from(dt.year).ok()?,
        i8::try_from(dt.month).ok()?,
        i8::try_from(dt.day).ok()?,
    )
    .ok()?;
    let time = jiff::civil::Time::new(
        i8::try_from(dt.hour).ok()?,
        i8::try_from(dt.minute).ok()?,
        i8::try_from(dt.second).ok()?,
        0,
    )
    .ok()?;
    Some(date.to_datetime(time))
}

/// Builds a raw EXIF block (TIFF structure, as `image`'s encoders take it) with an orientation tag
/// and, optionally, `DateTimeOriginal`. Used by [`crate::synth`] and by tests that need tagged photos.
///
/// # Errors
/// Fails only if `kamadak-exif`'s writer rejects the fields, which it does not for these values.
pub fn build_exif_block(orientation: u16, taken: Option<DateTime>) -> Result<Vec<u8>, exif::Error> {
    let orientation_field = Field {
        tag: Tag::Orientation,
        ifd_num: In::PRIMARY,
        value: Value::Short(vec![orientation]),
    };
    let date_field = taken.map(|t| Field {
        tag: Tag::DateTimeOriginal,
        ifd_num: In::PRIMARY,
        value: Value::Ascii(vec![
            t.strftime("%Y:%m:%d %H:%M:%S").to_string().into_bytes(),
        ]),
    });
    let mut writer = exif::experimental::Writer::new();
    writer.push_field(&orientation_field);
    if let Some(field) = &date_field {
        writer.push_field(field);
    }
    let mut out = Cursor::new(Vec::new());
    writer.write(&mut out, false)?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exif_datetime_parsing() {
        assert_eq!(
            parse_exif_datetime(b"2026:01:15 09:30:05"),
            Some(jiff::civil::datetime(2026, 1, 15, 9, 30, 5, 0))
        );
        assert_eq!(parse_exif_datetime(b"0000:00:00 00:00:00"), None);
        assert_eq!(parse_exif_datetime(b"2026:02:30 00:00:00"), None);
        assert_eq!(parse_exif_datetime(b"garbage"), None);
    }
}
