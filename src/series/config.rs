//! `series.toml`: a patient's optional calibration, region of interest and baseline choice.
//!
//! Parsed strictly: an unknown key is an error that names the key and the file, because a misspelt
//! `mm_per_pix` silently ignored would turn a calibrated study into an uncalibrated one.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// File name looked for in each patient folder.
pub const CONFIG_FILE_NAME: &str = "series.toml";

/// A rectangle `[x, y, w, h]` in baseline pixels (x, y = top-left corner).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "[u32; 4]", into = "[u32; 4]")]
pub struct Roi {
    /// Left edge, px.
    pub x: u32,
    /// Top edge, px.
    pub y: u32,
    /// Width, px.
    pub width: u32,
    /// Height, px.
    pub height: u32,
}

impl From<[u32; 4]> for Roi {
    fn from([x, y, width, height]: [u32; 4]) -> Self {
        Self {
            x,
            y,
            width,
            height,
        }
    }
}

impl From<Roi> for [u32; 4] {
    fn from(r: Roi) -> Self {
        [r.x, r.y, r.width, r.height]
    }
}

/// Per-view settings (`[views.front]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViewConfig {
    /// Region of interest for this view, overriding the patient-wide one.
    pub roi: Option<Roi>,
}

/// The contents of one patient's `series.toml`; every key is optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeriesConfig {
    /// Millimetres per pixel of the baseline photos (e.g. from a ruler in the frame).
    pub mm_per_px: Option<f64>,
    /// Region of interest for every view, in baseline pixels.
    pub roi: Option<Roi>,
    /// The baseline session: a date (`2026-01-15`) or a full session folder name.
    pub baseline: Option<String>,
    /// Per-view settings, keyed by view name.
    #[serde(default)]
    pub views: BTreeMap<String, ViewConfig>,
}

/// Why a `series.toml` was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The file exists but could not be read.
    #[error("cannot read {file}: {reason}")]
    Unreadable {
        /// The file.
        file: String,
        /// The OS error.
        reason: String,
    },
    /// TOML syntax, a wrong type or an unknown key (the parser's message names it).
    #[error("{file}: {message}")]
    Invalid {
        /// The file.
        file: String,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A value of the right type but outside its meaningful range.
    #[error("{file}: `{key}` {problem}")]
    OutOfRange {
        /// The file.
        file: String,
        /// The offending key.
        key: String,
        /// What is wrong with it.
        problem: String,
    },
}

impl SeriesConfig {
    /// Reads and validates `series.toml` at `path`; `file_label` is how messages name the file.
    ///
    /// # Errors
    /// [`ConfigError`] naming the file and the key.
    pub fn read(path: &Path, file_label: &str) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Unreadable {
            file: file_label.to_string(),
            reason: e.to_string(),
        })?;
        Self::parse(&text, file_label)
    }

    /// Parses and validates the text of a `series.toml`.
    ///
    /// # Errors
    /// [`ConfigError`] naming the file and the key.
    pub fn parse(text: &str, file_label: &str) -> Result<Self, ConfigError> {
        let config: Self = toml::from_str(text).map_err(|e| ConfigError::Invalid {
            file: file_label.to_string(),
            message: e.to_string().trim_end().replace('\n', " "),
        })?;
        config.validate(file_label)?;
        Ok(config)
    }

    /// Checks the values (`file` is how messages name their source).
    ///
    /// # Errors
    /// [`ConfigError::OutOfRange`] naming the key.
    pub fn validate(&self, file: &str) -> Result<(), ConfigError> {
        let out_of_range = |key: &str, problem: &str| ConfigError::OutOfRange {
            file: file.to_string(),
            key: key.to_string(),
            problem: problem.to_string(),
        };
        if let Some(mm) = self.mm_per_px {
            // 10 mm per pixel would be a 4000-px photo 40 m wide, 0.0001 mm one 0.4 mm wide: surely a
            // unit mistake either way.
            if !(mm.is_finite() && (1e-4..10.0).contains(&mm)) {
                return Err(out_of_range(
                    "mm_per_px",
                    &format!(
                        "must be a number of millimetres per pixel from 0.0001 to 10, not {mm}"
                    ),
                ));
            }
        }
        let rois = self.roi.iter().map(|r| ("roi".to_string(), r)).chain(
            self.views
                .iter()
                .filter_map(|(v, c)| c.roi.as_ref().map(|r| (format!("views.{v}.roi"), r))),
        );
        for (key, roi) in rois {
            if roi.width == 0 || roi.height == 0 {
                return Err(out_of_range(
                    &key,
                    "must have a non-zero width and height ([x, y, w, h])",
                ));
            }
        }
        Ok(())
    }

    /// The ROI that applies to `view`: the view's own, else the patient-wide one.
    #[must_use]
    pub fn roi_for(&self, view: &str) -> Option<Roi> {
        self.views.get(view).and_then(|v| v.roi).or(self.roi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_config_parses() {
        let c = SeriesConfig::parse(
            "mm_per_px = 0.05\nroi = [10, 20, 300, 400]\nbaseline = \"2026-01-15\"\n[views.front]\nroi = [1, 2, 3, 4]\n",
            "P1/series.toml",
        )
        .unwrap();
        assert_eq!(c.mm_per_px, Some(0.05));
        assert_eq!(c.roi_for("front"), Some(Roi::from([1, 2, 3, 4])));
        assert_eq!(c.roi_for("left"), Some(Roi::from([10, 20, 300, 400])));
        assert_eq!(c.baseline.as_deref(), Some("2026-01-15"));
    }

    #[test]
    fn empty_config_is_default() {
        assert_eq!(
            SeriesConfig::parse("", "x").unwrap(),
            SeriesConfig::default()
        );
    }

    #[test]
    fn unknown_key_is_named_with_the_file() {
        let e = SeriesConfig::parse("mm_per_pix = 0.05\n", "P7/series.toml").unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("mm_per_pix"), "{msg}");
        assert!(msg.contains("P7/series.toml"), "{msg}");
        let e = SeriesConfig::parse("[views.front]\nrio = [1,2,3,4]\n", "f").unwrap_err();
        assert!(e.to_string().contains("rio"), "{e}");
    }

    #[test]
    fn wrong_types_and_ranges_are_errors() {
        for text in [
            "mm_per_px = \"0.05\"",
            "roi = [1, 2, 3]",
            "roi = [1, 2, 3, -4]",
            "baseline = 2026",
        ] {
            assert!(
                matches!(
                    SeriesConfig::parse(text, "f"),
                    Err(ConfigError::Invalid { .. })
                ),
                "{text}"
            );
        }
        for text in [
            "mm_per_px = 0.0",
            "mm_per_px = -1.0",
            "mm_per_px = nan",
            "roi = [0, 0, 0, 5]",
        ] {
            assert!(
                matches!(
                    SeriesConfig::parse(text, "f"),
                    Err(ConfigError::OutOfRange { .. })
                ),
                "{text}"
            );
        }
    }
}
