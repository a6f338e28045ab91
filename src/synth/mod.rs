//! Deterministic synthetic skin photo series with exact ground truth.
//!
//! Tests, benchmarks and the bundled fixtures are made from this, so its ground truth must be exact:
//! every pore and scar is placed analytically in the baseline frame, and each session photo is
//! rendered by evaluating the scene through that session's known matrix ([`scene`]) — no resampling,
//! so no interpolation error hides in the truth. What varies between sessions, and is recorded in
//! `truth.json`:
//! - geometry: a similarity transform plus a small shear (an affine map), baseline = identity;
//! - photometry: exposure gain, a gamma applied to the encoded values, white-balance channel gains;
//! - the skin: texture amplitude (× `texture_change_per_session` each session), pores that disappear
//!   (each pore has a last session), and scar depth (× `scar_depth_change_per_session`).
//!
//! Everything derives from one seed through hashing, so a series is identical whatever the thread count,
//! and `skintex synth fixtures/photos` regenerates the fixtures byte for byte.

pub mod noise;
pub mod scene;

use std::path::{Path, PathBuf};

use image::{ImageEncoder, codecs::jpeg::JpegEncoder, codecs::png::PngEncoder};
use jiff::civil::Date;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use noise::{Fbm, GradientNoise, Octave, hash2, mix64};
pub use scene::Scene;

/// How the photos are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SynthFormat {
    /// 8-bit JPEG at [`SynthConfig::jpeg_quality`] (small; realistic compression noise).
    Jpeg,
    /// 8-bit PNG (lossless).
    Png,
    /// 16-bit PNG (lossless; for tests that must not see quantisation).
    Png16,
}

impl SynthFormat {
    /// File extension.
    #[must_use]
    pub fn extension(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            Self::Png | Self::Png16 => "png",
        }
    }
}

/// Parameters of a synthetic series. The defaults are the bundled fixture's parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SynthConfig {
    /// Master seed.
    pub seed: u64,
    /// Number of patients (`P001`, `P002`, …).
    pub patients: usize,
    /// Sessions per patient (the first is the baseline).
    pub sessions: usize,
    /// View names; each view is a different patch of skin.
    pub views: Vec<String>,
    /// Photo width, px.
    pub width: usize,
    /// Photo height, px.
    pub height: usize,
    /// Scale of the baseline photos, mm per px (written to each patient's `series.toml`).
    pub mm_per_px: f64,
    /// Date of the baseline session.
    pub start_date: Date,
    /// Days between sessions.
    pub interval_days: i64,
    /// Encoding.
    pub format: SynthFormat,
    /// JPEG quality 1–100.
    pub jpeg_quality: u8,
    /// Baseline texture amplitude range (RMS of log-luminance), drawn per patient.
    pub texture_amplitude: [f64; 2],
    /// Texture amplitude factor per session (0.85: −15 % per session).
    pub texture_change_per_session: f64,
    /// Pore density, per cm² of skin.
    pub pore_density_per_cm2: f64,
    /// Pore radius range, mm (half-contrast radius; diameters 0.12–0.6 mm by default).
    pub pore_radius_mm: [f64; 2],
    /// Pore contrast range: the fraction of luminance removed at a pore's centre.
    pub pore_contrast: [f64; 2],
    /// Fraction of the baseline pores that disappear per session (0.12: 12 %, 24 %, …).
    pub pore_loss_per_session: f64,
    /// Atrophic scars per view.
    pub scars: usize,
    /// Scar radius range, mm.
    pub scar_radius_mm: [f64; 2],
    /// Scar depth range: the log-luminance drop at a scar's centre.
    pub scar_depth: [f64; 2],
    /// Scar depth factor per session.
    pub scar_depth_change_per_session: f64,
    /// Largest rotation of a session relative to the baseline, degrees.
    pub max_rotation_deg: f64,
    /// Largest relative scale change (0.04: 0.96–1.04).
    pub max_scale_change: f64,
    /// Largest translation, as a fraction of the width and height.
    pub max_translation: f64,
    /// Largest shear (the affine part beyond a similarity).
    pub max_shear: f64,
    /// Largest exposure gain change (0.15: gain 0.85–1.15).
    pub max_gain_change: f64,
    /// Largest gamma change (0.08: gamma 0.92–1.08 on encoded values).
    pub max_gamma_change: f64,
    /// Largest white-balance change of red and blue relative to green (0.04: ±4 %).
    pub max_white_balance_change: f64,
    /// Sensor noise σ in 8-bit code values.
    pub sensor_noise: f64,
}

impl Default for SynthConfig {
    fn default() -> Self {
        Self {
            seed: 2026,
            patients: 2,
            sessions: 3,
            views: vec!["front".into()],
            width: 1200,
            height: 900,
            mm_per_px: 0.05,
            start_date: jiff::civil::date(2026, 1, 15),
            interval_days: 28,
            format: SynthFormat::Jpeg,
            jpeg_quality: 92,
            texture_amplitude: [0.04, 0.07],
            texture_change_per_session: 0.85,
            pore_density_per_cm2: 40.0,
            pore_radius_mm: [0.06, 0.3],
            pore_contrast: [0.1, 0.35],
            pore_loss_per_session: 0.12,
            scars: 3,
            scar_radius_mm: [0.6, 2.0],
            scar_depth: [0.15, 0.3],
            scar_depth_change_per_session: 0.92,
            max_rotation_deg: 4.0,
            max_scale_change: 0.04,
            max_translation: 0.03,
            max_shear: 0.01,
            max_gain_change: 0.15,
            max_gamma_change: 0.08,
            max_white_balance_change: 0.04,
            sensor_noise: 1.0,
        }
    }
}

/// A pore, in baseline coordinates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoreTruth {
    /// Index in the view's pore list.
    pub id: usize,
    /// Centre x, baseline px (pixel centres, origin at the top-left pixel centre).
    pub x: f64,
    /// Centre y, baseline px.
    pub y: f64,
    /// Half-contrast radius, baseline px.
    pub radius_px: f64,
    /// Half-contrast radius, mm.
    pub radius_mm: f64,
    /// Fraction of luminance removed at the centre.
    pub contrast: f64,
    /// The last session (0 = baseline) in which the pore is present.
    pub last_session: usize,
}

/// An atrophic scar, in baseline coordinates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScarTruth {
    /// Index in the view's scar list.
    pub id: usize,
    /// Centre x, baseline px.
    pub x: f64,
    /// Centre y, baseline px.
    pub y: f64,
    /// Half-depth radius, baseline px.
    pub radius_px: f64,
    /// Half-depth radius, mm.
    pub radius_mm: f64,
    /// Log-luminance drop at the centre in the baseline session.
    pub depth: f64,
}

/// One session photo's known geometry, photometry and skin state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionTruth {
    /// Session folder name.
    pub session: String,
    /// Session date.
    pub date: Date,
    /// Photo path relative to the patient folder.
    pub file: String,
    /// Maps a session pixel (x, y, 1) to baseline pixel coordinates (the report's convention).
    pub matrix: [[f64; 3]; 3],
    /// The inverse: baseline pixel → session pixel.
    pub inverse: [[f64; 3]; 3],
    /// Rotation, degrees (counter-clockwise in image coordinates, y down).
    pub rotation_deg: f64,
    /// Isotropic scale of the session → baseline map.
    pub scale: f64,
    /// Shear of the session → baseline map.
    pub shear: f64,
    /// Translation of the image centre, baseline px.
    pub translation_px: [f64; 2],
    /// Exposure gain on linear light.
    pub gain: f64,
    /// Exponent applied to sRGB-encoded values.
    pub gamma: f64,
    /// Linear-light channel gains (green = 1).
    pub white_balance: [f64; 3],
    /// RMS of the log-luminance texture in this session.
    pub texture_amplitude: f64,
    /// Scar depth relative to the baseline.
    pub scar_depth_factor: f64,
    /// Pores present in this session whose centre lies inside the baseline frame.
    pub pore_count_in_baseline_frame: usize,
}

/// Ground truth of one view of one patient.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ViewTruth {
    /// View name.
    pub view: String,
    /// Photo width, px.
    pub width: usize,
    /// Photo height, px.
    pub height: usize,
    /// Linear-light skin albedo.
    pub albedo: [f64; 3],
    /// Every pore of the scene (some lie outside the baseline frame but inside a session's).
    pub pores: Vec<PoreTruth>,
    /// Every scar.
    pub scars: Vec<ScarTruth>,
    /// Sessions in order; index 0 is the baseline.
    pub sessions: Vec<SessionTruth>,
}

/// Ground truth of one patient.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatientTruth {
    /// Patient key (folder name).
    pub patient: String,
    /// Millimetres per baseline pixel.
    pub mm_per_px: f64,
    /// One entry per view.
    pub views: Vec<ViewTruth>,
}

/// `truth.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Truth {
    /// Which program made the series.
    pub generator: crate::report::ToolInfo,
    /// The parameters it was made with.
    pub config: SynthConfig,
    /// Every patient.
    pub patients: Vec<PatientTruth>,
}

/// A view ready to render: its scene and its truth.
#[derive(Debug, Clone)]
pub struct SyntheticView {
    /// Patient key.
    pub patient: String,
    /// The scene.
    pub scene: Scene,
    /// Its ground truth.
    pub truth: ViewTruth,
}

/// Why a series could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// A parameter out of range.
    #[error("invalid synth parameter `{field}`: {problem}")]
    InvalidConfig {
        /// The parameter.
        field: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// OUT already holds files and overwriting was not asked for.
    #[error(
        "{path} is not empty; choose an empty folder or pass --force to overwrite the series in it"
    )]
    OutputNotEmpty {
        /// The folder.
        path: PathBuf,
    },
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The image encoder failed.
    #[error("cannot encode {path}: {reason}")]
    Encode {
        /// The file.
        path: PathBuf,
        /// The encoder's message.
        reason: String,
    },
}

impl SynthConfig {
    /// Checks every parameter.
    ///
    /// # Errors
    /// [`SynthError::InvalidConfig`] naming the first bad parameter.
    pub fn validate(&self) -> Result<(), SynthError> {
        let bad = |field: &'static str, problem: &str| {
            Err(SynthError::InvalidConfig {
                field,
                problem: problem.to_string(),
            })
        };
        let range_ok = |r: [f64; 2]| r[0].is_finite() && r[1].is_finite() && r[0] <= r[1];
        if self.patients == 0 || self.patients > 9999 {
            return bad("patients", "must be 1–9999");
        }
        if self.sessions == 0 || self.sessions > 100 {
            return bad("sessions", "must be 1–100");
        }
        if self.views.is_empty() {
            return bad("views", "needs at least one view name");
        }
        for v in &self.views {
            let valid = !v.is_empty()
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !valid {
                return bad("views", "names may hold only letters, digits, '-' and '_'");
            }
        }
        let mut sorted = self.views.clone();
        sorted.sort();
        sorted.dedup();
        if sorted.len() != self.views.len() {
            return bad("views", "names must be distinct");
        }
        if !(16..=20_000).contains(&self.width) || !(16..=20_000).contains(&self.height) {
            return bad("width/height", "must be 16–20000 px");
        }
        if !(self.mm_per_px.is_finite() && self.mm_per_px > 0.0 && self.mm_per_px < 10.0) {
            return bad("mm_per_px", "must be in (0, 10)");
        }
        if self.interval_days < 0 || self.interval_days > 3650 {
            return bad("interval_days", "must be 0–3650");
        }
        if !(1..=100).contains(&self.jpeg_quality) {
            return bad("jpeg_quality", "must be 1–100");
        }
        for (field, r) in [
            ("texture_amplitude", self.texture_amplitude),
            ("pore_radius_mm", self.pore_radius_mm),
            ("pore_contrast", self.pore_contrast),
            ("scar_radius_mm", self.scar_radius_mm),
            ("scar_depth", self.scar_depth),
        ] {
            if !range_ok(r) || r[0] < 0.0 {
                return bad(field, "must be [low, high] with 0 ≤ low ≤ high");
            }
        }
        if self.pore_contrast[1] >= 1.0 {
            return bad("pore_contrast", "must stay below 1");
        }
        if self.pore_radius_mm[0] <= 0.0 || self.scar_radius_mm[0] <= 0.0 {
            return bad("pore_radius_mm/scar_radius_mm", "radii must be positive");
        }
        for (field, v, lo, hi) in [
            (
                "texture_change_per_session",
                self.texture_change_per_session,
                0.0,
                10.0,
            ),
            (
                "scar_depth_change_per_session",
                self.scar_depth_change_per_session,
                0.0,
                10.0,
            ),
            (
                "pore_density_per_cm2",
                self.pore_density_per_cm2,
                0.0,
                1000.0,
            ),
            (
                "pore_loss_per_session",
                self.pore_loss_per_session,
                0.0,
                1.0,
            ),
            ("max_rotation_deg", self.max_rotation_deg, 0.0, 45.0),
            ("max_scale_change", self.max_scale_change, 0.0, 0.5),
            ("max_translation", self.max_translation, 0.0, 0.5),
            ("max_shear", self.max_shear, 0.0, 0.3),
            ("max_gain_change", self.max_gain_change, 0.0, 0.9),
            ("max_gamma_change", self.max_gamma_change, 0.0, 0.9),
            (
                "max_white_balance_change",
                self.max_white_balance_change,
                0.0,
                0.9,
            ),
            ("sensor_noise", self.sensor_noise, 0.0, 64.0),
        ] {
            if !(v.is_finite() && (lo..=hi).contains(&v)) {
                return Err(SynthError::InvalidConfig {
                    field,
                    problem: format!("must be in [{lo}, {hi}], not {v}"),
                });
            }
        }
        Ok(())
    }
}

/// Patient key of patient `index` (0-based).
#[must_use]
pub fn patient_key(index: usize) -> String {
    format!("P{:03}", index + 1)
}

/// Draws a uniform value in `[lo, hi]` (also when `lo == hi`, where `random_range` would refuse).
fn uniform(rng: &mut ChaCha8Rng, [lo, hi]: [f64; 2]) -> f64 {
    lo + (hi - lo) * rng.random::<f64>()
}

fn symmetric(rng: &mut ChaCha8Rng, max: f64) -> f64 {
    uniform(rng, [-max, max])
}

/// Builds every view of every patient (scenes and truth; no pixels yet).
///
/// # Errors
/// [`SynthError::InvalidConfig`].
pub fn generate(config: &SynthConfig) -> Result<Vec<SyntheticView>, SynthError> {
    config.validate()?;
    let mut views = Vec::new();
    for p in 0..config.patients {
        let patient = patient_key(p);
        let mut patient_rng = ChaCha8Rng::seed_from_u64(hash2(config.seed, p as i64, -1));
        // Per-patient skin: tone between fair and medium-dark, and a baseline texture amplitude.
        let tone = patient_rng.random::<f64>();
        let fair = [0.55, 0.34, 0.23];
        let dark = [0.28, 0.14, 0.07];
        let albedo: [f64; 3] = std::array::from_fn(|c| fair[c] + tone * (dark[c] - fair[c]));
        let amplitude = uniform(&mut patient_rng, config.texture_amplitude);
        for (v, view) in config.views.iter().enumerate() {
            let seed = hash2(config.seed, p as i64, v as i64);
            views.push(generate_view(
                config, &patient, view, seed, albedo, amplitude,
            ));
        }
    }
    Ok(views)
}

fn generate_view(
    config: &SynthConfig,
    patient: &str,
    view: &str,
    seed: u64,
    albedo: [f64; 3],
    amplitude: f64,
) -> SyntheticView {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (w, h) = (config.width, config.height);
    let mut sessions = session_geometry(config, &mut rng, amplitude);

    // The scene must cover every session's frame: the bounding box of all frames mapped to baseline.
    let mut bounds = (-0.5f64, -0.5f64, w as f64 - 0.5, h as f64 - 0.5);
    for s in &sessions {
        for (qx, qy) in [
            (-0.5, -0.5),
            (w as f64 - 0.5, -0.5),
            (-0.5, h as f64 - 0.5),
            (w as f64 - 0.5, h as f64 - 0.5),
        ] {
            let (bx, by) = apply(&s.matrix, qx, qy);
            bounds = (
                bounds.0.min(bx),
                bounds.1.min(by),
                bounds.2.max(bx),
                bounds.3.max(by),
            );
        }
    }
    let px_per_mm = 1.0 / config.mm_per_px;
    let scars = place_scars(config, &mut rng, px_per_mm);
    let pores = place_pores(config, &mut rng, px_per_mm, bounds, &scars);

    let octaves = [0.15, 0.3, 0.6, 1.2, 2.4]
        .iter()
        .enumerate()
        .map(|(i, &wavelength_mm)| Octave {
            noise: GradientNoise::new(mix64(seed ^ (i as u64 + 1))),
            wavelength_px: wavelength_mm * px_per_mm,
            // Flatter than 1/f: fine relief (0.15–0.6 mm) carries about half the variance, as on cheeks.
            weight: (wavelength_mm / 2.4f64).powf(0.25),
        })
        .collect();
    let texture = Fbm::normalised(octaves, w, h);

    for (k, s) in sessions.iter_mut().enumerate() {
        s.file = format!("{}/{}.{}", s.session, view, config.format.extension());
        s.pore_count_in_baseline_frame = pores
            .iter()
            .filter(|p| p.last_session >= k && inside_frame(p.x, p.y, w, h))
            .count();
    }
    let truth = ViewTruth {
        view: view.to_string(),
        width: w,
        height: h,
        albedo,
        pores: pores.clone(),
        scars: scars.clone(),
        sessions,
    };
    let scene = Scene::new(albedo, texture, pores, scars, (w, h), mix64(seed ^ 0x5E55));
    SyntheticView {
        patient: patient.to_string(),
        scene,
        truth,
    }
}

fn inside_frame(x: f64, y: f64, w: usize, h: usize) -> bool {
    x >= -0.5 && y >= -0.5 && x < w as f64 - 0.5 && y < h as f64 - 0.5
}

/// Applies the affine part of a 3×3 matrix to a point.
#[must_use]
pub fn apply(m: &[[f64; 3]; 3], x: f64, y: f64) -> (f64, f64) {
    (
        m[0][0] * x + m[0][1] * y + m[0][2],
        m[1][0] * x + m[1][1] * y + m[1][2],
    )
}

fn session_geometry(
    config: &SynthConfig,
    rng: &mut ChaCha8Rng,
    amplitude: f64,
) -> Vec<SessionTruth> {
    let (w, h) = (config.width as f64, config.height as f64);
    let centre = ((w - 1.0) / 2.0, (h - 1.0) / 2.0);
    (0..config.sessions)
        .map(|k| {
            let date = config
                .start_date
                .checked_add(jiff::Span::new().days(config.interval_days * k as i64))
                .unwrap_or(config.start_date);
            let session = if k == 0 {
                format!("{date}_baseline")
            } else {
                date.to_string()
            };
            // Draw every parameter for every session (the baseline's are then discarded), so adding a
            // session never changes the ones before it.
            let rotation_deg = symmetric(rng, config.max_rotation_deg);
            let scale = 1.0 + symmetric(rng, config.max_scale_change);
            let shear = symmetric(rng, config.max_shear);
            let translation_px = [
                symmetric(rng, config.max_translation) * w,
                symmetric(rng, config.max_translation) * h,
            ];
            let gain = 1.0 + symmetric(rng, config.max_gain_change);
            let gamma = 1.0 + symmetric(rng, config.max_gamma_change);
            let white_balance = [
                1.0 + symmetric(rng, config.max_white_balance_change),
                1.0,
                1.0 + symmetric(rng, config.max_white_balance_change),
            ];
            let (rotation_deg, scale, shear, translation_px, gain, gamma, white_balance) = if k == 0
            {
                (0.0, 1.0, 0.0, [0.0, 0.0], 1.0, 1.0, [1.0; 3])
            } else {
                (
                    rotation_deg,
                    scale,
                    shear,
                    translation_px,
                    gain,
                    gamma,
                    white_balance,
                )
            };
            let matrix =
                similarity_shear_matrix(rotation_deg, scale, shear, translation_px, centre);
            let inverse = invert_affine(&matrix);
            SessionTruth {
                session,
                date,
                file: String::new(),
                matrix,
                inverse,
                rotation_deg,
                scale,
                shear,
                translation_px,
                gain,
                gamma,
                white_balance,
                texture_amplitude: amplitude * config.texture_change_per_session.powi(k as i32),
                scar_depth_factor: config.scar_depth_change_per_session.powi(k as i32),
                pore_count_in_baseline_frame: 0,
            }
        })
        .collect()
}

/// p = c + R(θ) · s · [[1, shear], [0, 1]] · (q − c) + t: session pixel q → baseline pixel p.
fn similarity_shear_matrix(
    rotation_deg: f64,
    scale: f64,
    shear: f64,
    t: [f64; 2],
    c: (f64, f64),
) -> [[f64; 3]; 3] {
    let (sin, cos) = rotation_deg.to_radians().sin_cos();
    let a = [
        [scale * cos, scale * (cos * shear - sin)],
        [scale * sin, scale * (sin * shear + cos)],
    ];
    let tx = c.0 + t[0] - a[0][0] * c.0 - a[0][1] * c.1;
    let ty = c.1 + t[1] - a[1][0] * c.0 - a[1][1] * c.1;
    [
        [a[0][0], a[0][1], tx],
        [a[1][0], a[1][1], ty],
        [0.0, 0.0, 1.0],
    ]
}

/// Inverse of an affine 3×3 matrix (last row 0, 0, 1).
#[must_use]
pub fn invert_affine(m: &[[f64; 3]; 3]) -> [[f64; 3]; 3] {
    let det = m[0][0] * m[1][1] - m[0][1] * m[1][0];
    let (a, b, c, d) = (m[1][1] / det, -m[0][1] / det, -m[1][0] / det, m[0][0] / det);
    let tx = -(a * m[0][2] + b * m[1][2]);
    let ty = -(c * m[0][2] + d * m[1][2]);
    [[a, b, tx], [c, d, ty], [0.0, 0.0, 1.0]]
}

fn place_scars(config: &SynthConfig, rng: &mut ChaCha8Rng, px_per_mm: f64) -> Vec<ScarTruth> {
    let (w, h) = (config.width as f64, config.height as f64);
    let mut scars: Vec<ScarTruth> = Vec::new();
    for _attempt in 0..config.scars * 200 {
        if scars.len() == config.scars {
            break;
        }
        let radius_mm = uniform(rng, config.scar_radius_mm);
        let r = radius_mm * px_per_mm;
        let margin = 2.0 * r + 0.05 * w.min(h);
        let (x, y) = (
            uniform(rng, [margin, w - margin]),
            uniform(rng, [margin, h - margin]),
        );
        let depth = uniform(rng, config.scar_depth);
        if margin * 2.0 >= w.min(h) {
            continue;
        }
        let clear = scars
            .iter()
            .all(|s| (s.x - x).hypot(s.y - y) > 1.3 * (s.radius_px + r) + 2.0 * px_per_mm);
        if clear {
            scars.push(ScarTruth {
                id: scars.len(),
                x,
                y,
                radius_px: r,
                radius_mm,
                depth,
            });
        }
    }
    scars
}

fn place_pores(
    config: &SynthConfig,
    rng: &mut ChaCha8Rng,
    px_per_mm: f64,
    bounds: (f64, f64, f64, f64),
    scars: &[ScarTruth],
) -> Vec<PoreTruth> {
    let (x0, y0, x1, y1) = bounds;
    let area_cm2 = (x1 - x0) * (y1 - y0) / (px_per_mm * px_per_mm) / 100.0;
    let target = (config.pore_density_per_cm2 * area_cm2).round() as usize;
    let max_r = config.pore_radius_mm[1] * px_per_mm;
    let cell = (2.0 * 1.5 * max_r + 0.1 * px_per_mm).max(1.0);
    let mut grid: std::collections::HashMap<(i64, i64), Vec<usize>> =
        std::collections::HashMap::new();
    let mut pores: Vec<PoreTruth> = Vec::new();
    for _attempt in 0..target.saturating_mul(30) {
        if pores.len() == target {
            break;
        }
        let radius_mm = uniform(rng, config.pore_radius_mm);
        let r = radius_mm * px_per_mm;
        let (x, y) = (uniform(rng, [x0, x1]), uniform(rng, [y0, y1]));
        let contrast = uniform(rng, config.pore_contrast);
        let survival = rng.random::<f64>();
        let clear_of_scars = scars
            .iter()
            .all(|s| (s.x - x).hypot(s.y - y) > 1.3 * (s.radius_px + r) + 0.2 * px_per_mm);
        let (gx, gy) = ((x / cell).floor() as i64, (y / cell).floor() as i64);
        // Pores do not touch: centres at least 1.5 (r1 + r2) + 0.1 mm apart.
        let clear_of_pores = (-1..=1).all(|dy| {
            (-1..=1).all(|dx| {
                grid.get(&(gx + dx, gy + dy)).is_none_or(|ids| {
                    ids.iter().all(|&i| {
                        let q = &pores[i];
                        (q.x - x).hypot(q.y - y) > 1.5 * (q.radius_px + r) + 0.1 * px_per_mm
                    })
                })
            })
        });
        if !(clear_of_scars && clear_of_pores) {
            continue;
        }
        let last_session = if config.pore_loss_per_session > 0.0 {
            ((survival / config.pore_loss_per_session).floor() as usize).min(config.sessions - 1)
        } else {
            config.sessions - 1
        };
        grid.entry((gx, gy)).or_default().push(pores.len());
        pores.push(PoreTruth {
            id: pores.len(),
            x,
            y,
            radius_px: r,
            radius_mm,
            contrast,
            last_session,
        });
    }
    pores
}

/// Renders session `session_index` of a view and encodes it in `config.format`, with EXIF orientation 1
/// and `DateTimeOriginal` at 10:00 on the session date.
///
/// # Errors
/// [`SynthError::Encode`] if the encoder fails.
pub fn render_encoded(
    view: &SyntheticView,
    session_index: usize,
    config: &SynthConfig,
) -> Result<Vec<u8>, SynthError> {
    let session = &view.truth.sessions[session_index];
    let samples = view
        .scene
        .render(session, session_index, config.sensor_noise);
    let (w, h) = (view.truth.width as u32, view.truth.height as u32);
    let encode_error = |reason: String| SynthError::Encode {
        path: PathBuf::from(&session.file),
        reason,
    };
    let taken = session.date.to_datetime(jiff::civil::time(10, 0, 0, 0));
    let exif = crate::io::exif::build_exif_block(1, Some(taken))
        .map_err(|e| encode_error(e.to_string()))?;
    let mut bytes = Vec::new();
    match config.format {
        SynthFormat::Jpeg | SynthFormat::Png => {
            let data: Vec<u8> = samples.iter().map(|&v| (v * 255.0).round() as u8).collect();
            let image = image::RgbImage::from_raw(w, h, data)
                .ok_or_else(|| encode_error("buffer size".into()))?;
            let result = if config.format == SynthFormat::Jpeg {
                let mut encoder = JpegEncoder::new_with_quality(&mut bytes, config.jpeg_quality);
                encoder
                    .set_exif_metadata(exif)
                    .map_err(|e| encode_error(e.to_string()))?;
                encoder.write_image(image.as_raw(), w, h, image::ExtendedColorType::Rgb8)
            } else {
                let mut encoder = PngEncoder::new(&mut bytes);
                encoder
                    .set_exif_metadata(exif)
                    .map_err(|e| encode_error(e.to_string()))?;
                encoder.write_image(image.as_raw(), w, h, image::ExtendedColorType::Rgb8)
            };
            result.map_err(|e| encode_error(e.to_string()))?;
        }
        SynthFormat::Png16 => {
            let data: Vec<u16> = samples
                .iter()
                .map(|&v| (f64::from(v) * 65535.0).round() as u16)
                .collect();
            let image = image::ImageBuffer::<image::Rgb<u16>, _>::from_raw(w, h, data)
                .ok_or_else(|| encode_error("buffer size".into()))?;
            let mut encoder = PngEncoder::new(&mut bytes);
            encoder
                .set_exif_metadata(exif)
                .map_err(|e| encode_error(e.to_string()))?;
            image::DynamicImage::ImageRgb16(image)
                .write_with_encoder(encoder)
                .map_err(|e| encode_error(e.to_string()))?;
        }
    }
    Ok(bytes)
}

/// Writes a whole series under `out` in the input layout, plus `truth.json`, and returns the truth.
/// `on_photo` is called after each photo is written. Every file is written atomically.
///
/// # Errors
/// [`SynthError`]: bad parameters, a non-empty `out` without `overwrite`, or an I/O failure.
pub fn write_series(
    config: &SynthConfig,
    out: &Path,
    overwrite: bool,
    on_photo: &(dyn Fn(&str) + Sync),
) -> Result<Truth, SynthError> {
    config.validate()?;
    let io_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SynthError::Io { path, source }
    };
    if !overwrite && std::fs::read_dir(out).is_ok_and(|mut d| d.next().is_some()) {
        return Err(SynthError::OutputNotEmpty {
            path: out.to_path_buf(),
        });
    }
    let views = generate(config)?;
    for view in &views {
        let patient_dir = out.join(&view.patient);
        for (k, session) in view.truth.sessions.iter().enumerate() {
            let dir = patient_dir.join(&session.session);
            std::fs::create_dir_all(&dir).map_err(io_error(&dir))?;
            let bytes = render_encoded(view, k, config)?;
            let path = patient_dir.join(&session.file);
            crate::report::write_atomic(&path, &bytes).map_err(io_error(&path))?;
            on_photo(&format!("{}/{}", view.patient, session.file));
        }
        let toml_path = patient_dir.join(crate::series::config::CONFIG_FILE_NAME);
        let toml = format!(
            "# Written by skintex synth: the synthetic photos' true scale.\nmm_per_px = {}\n",
            config.mm_per_px
        );
        crate::report::write_atomic(&toml_path, toml.as_bytes()).map_err(io_error(&toml_path))?;
    }
    let mut patients: Vec<PatientTruth> = Vec::new();
    for view in views {
        match patients.last_mut() {
            Some(p) if p.patient == view.patient => p.views.push(view.truth),
            _ => patients.push(PatientTruth {
                patient: view.patient,
                mm_per_px: config.mm_per_px,
                views: vec![view.truth],
            }),
        }
    }
    let truth = Truth {
        generator: crate::report::ToolInfo::current(),
        config: config.clone(),
        patients,
    };
    let truth_path = out.join("truth.json");
    crate::report::write_json_atomic(&truth_path, &truth).map_err(io_error(&truth_path))?;
    Ok(truth)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrix_and_inverse_compose_to_identity() {
        let m = similarity_shear_matrix(3.5, 1.03, 0.01, [12.0, -7.5], (599.5, 449.5));
        let inv = invert_affine(&m);
        for (x, y) in [(0.0, 0.0), (1199.0, 899.0), (300.25, 77.5)] {
            let (bx, by) = apply(&m, x, y);
            let (sx, sy) = apply(&inv, bx, by);
            assert!((sx - x).abs() < 1e-9 && (sy - y).abs() < 1e-9);
        }
    }

    #[test]
    fn zero_transform_is_identity_and_centre_moves_by_translation() {
        let c = (99.5, 49.5);
        let m = similarity_shear_matrix(0.0, 1.0, 0.0, [0.0, 0.0], c);
        assert_eq!(apply(&m, 10.0, 20.0), (10.0, 20.0));
        let m = similarity_shear_matrix(10.0, 1.1, 0.0, [5.0, -3.0], c);
        let (x, y) = apply(&m, c.0, c.1);
        assert!((x - c.0 - 5.0).abs() < 1e-9 && (y - c.1 + 3.0).abs() < 1e-9);
    }

    #[test]
    fn generation_is_deterministic_and_validates() {
        let config = SynthConfig {
            width: 160,
            height: 120,
            ..SynthConfig::default()
        };
        let a = generate(&config).unwrap();
        let b = generate(&config).unwrap();
        assert_eq!(a.len(), 2);
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.truth, y.truth);
        }
        let bad = SynthConfig {
            pore_contrast: [0.5, 1.2],
            ..config
        };
        assert!(matches!(
            bad.validate(),
            Err(SynthError::InvalidConfig {
                field: "pore_contrast",
                ..
            })
        ));
    }
}
