//! Turning one real photo into a synthetic "session" of it with known changes: geometry, exposure,
//! tone curve, white balance, fine-detail scaling, added pores and JPEG re-encoding. The slow real-skin
//! suites build their cases from this.

use image::codecs::jpeg::JpegEncoder;
use ndarray::{Array2, Zip};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use skintex::align::geometry::Affine;
use skintex::io::Photo;
use skintex::io::colour::linear_to_srgb;
use skintex::kernels::gaussian_blur;
use skintex::kernels::warp::{Interpolation, warp};
use skintex::metrics::SessionMetrics;
use skintex::metrics::blobs::soft_disk_coverage;
use skintex::pipeline::{AnalyzeOptions, analyze_patient};
use skintex::series::discover_patient;

/// A pore added to the photo: centre (baseline px), half-depth radius (px) and contrast.
#[derive(Debug, Clone, Copy)]
pub struct AddedPore {
    pub x: f64,
    pub y: f64,
    pub radius: f64,
    pub contrast: f64,
}

/// What differs between the photo and its session.
#[derive(Debug, Clone)]
pub struct Look {
    /// Session pixel → photo pixel.
    pub to_baseline: Affine,
    pub gain: f64,
    /// Applied to the sRGB-encoded values.
    pub gamma: f64,
    pub white_balance: [f64; 3],
    /// Detail of the log-luminance finer than a Gaussian of this σ (px) scaled by this factor.
    pub detail: Option<(f64, f32)>,
    pub pores: Vec<AddedPore>,
    pub quality: u8,
}

impl Look {
    /// The photo itself, re-encoded.
    pub fn identity(quality: u8) -> Self {
        Self {
            to_baseline: Affine::IDENTITY,
            gain: 1.0,
            gamma: 1.0,
            white_balance: [1.0; 3],
            detail: None,
            pores: Vec::new(),
            quality,
        }
    }
}

/// The seed of portrait `index`'s random looks in `tests/realmetrics.rs` (the seed is this + `index`,
/// the place of the portrait in the sorted list).
pub const NULL_LOOK_SEED: u64 = 0x5EED_0005;

/// A null look of the real-portrait suite: a similarity about the photo's centre (rotation ±8°, scale
/// ±10 %, shift ±4 % of each side), gain ±20 %, gamma ±10 %, white balance ±5 % on red and blue, JPEG
/// quality 80–95; drawn in that order from `rng`.
pub fn null_look(rng: &mut ChaCha8Rng, w: usize, h: usize) -> Look {
    let mut sym = |max: f64| rng.random_range(-max..=max);
    let rotation = sym(8f64).to_radians();
    let scale = 1.0 + sym(0.1);
    let shift = (sym(0.04) * w as f64, sym(0.04) * h as f64);
    Look {
        to_baseline: about_centre((w, h), scale, rotation, shift),
        gain: 1.0 + sym(0.2),
        gamma: 1.0 + sym(0.1),
        white_balance: [1.0 + sym(0.05), 1.0, 1.0 + sym(0.05)],
        ..Look::identity(80 + (sym(1.0).abs() * 15.0) as u8)
    }
}

/// The similarity that scales by `scale` and rotates by `rotation` (radians) about the centre of a
/// `w` × `h` photo, then shifts by `shift` px: T(c + shift)·R·S·T(−c).
pub fn about_centre(
    (w, h): (usize, usize),
    scale: f64,
    rotation: f64,
    (tx, ty): (f64, f64),
) -> Affine {
    let (cx, cy) = ((w as f64 - 1.0) / 2.0, (h as f64 - 1.0) / 2.0);
    Affine::similarity(1.0, 0.0, cx + tx, cy + ty)
        .after(&Affine::similarity(scale, rotation, 0.0, 0.0))
        .after(&Affine::similarity(1.0, 0.0, -cx, -cy))
}

/// Renders the session as JPEG bytes: changes to the skin first (detail, pores, in the photo's frame),
/// then the camera (geometry by bicubic warp, exposure, white balance, tone curve, JPEG).
pub fn render(photo: &Photo, look: &Look) -> Vec<u8> {
    let (h, w) = photo.luminance.dim();
    let mut rgb: Vec<Array2<f32>> = photo.rgb.to_vec();
    if let Some((k, sigma)) = look.detail {
        let log = photo.luminance.mapv(|v| v.max(1e-4).ln());
        let low = gaussian_blur(log.view(), sigma);
        let mut factor = log;
        Zip::from(&mut factor)
            .and(&low)
            .par_for_each(|f, &l| *f = ((k as f32 - 1.0) * (*f - l)).exp());
        for plane in &mut rgb {
            Zip::from(plane).and(&factor).par_for_each(|v, &f| *v *= f);
        }
    }
    for pore in &look.pores {
        let reach = (1.3 * pore.radius).ceil() as i64 + 1;
        let (cx, cy) = (pore.x.round() as i64, pore.y.round() as i64);
        for y in (cy - reach).max(0)..=(cy + reach).min(h as i64 - 1) {
            for x in (cx - reach).max(0)..=(cx + reach).min(w as i64 - 1) {
                let cover = soft_disk_coverage(x as usize, y as usize, pore.x, pore.y, pore.radius);
                let f = (1.0 - pore.contrast * cover) as f32;
                for plane in &mut rgb {
                    plane[[y as usize, x as usize]] *= f;
                }
            }
        }
    }
    let geometry = look.to_baseline != Affine::IDENTITY;
    let planes: Vec<Array2<f32>> = if geometry {
        rgb.iter()
            .map(|p| {
                warp(
                    p.view(),
                    &look.to_baseline.to_matrix3(),
                    h,
                    w,
                    Interpolation::Bicubic,
                    0.0,
                )
            })
            .collect()
    } else {
        rgb
    };
    // Exposure, then the sRGB curve raised to the session's gamma, through a 16-bit table (the result
    // is 8-bit, so the table's steps are invisible) and in parallel.
    const STEPS: usize = 65_535;
    let table: Vec<u8> = (0..=STEPS)
        .map(|i| {
            let encoded = linear_to_srgb(i as f64 / STEPS as f64).powf(look.gamma);
            (encoded * 255.0).round().clamp(0.0, 255.0) as u8
        })
        .collect();
    let factors: [f32; 3] =
        std::array::from_fn(|c| (look.white_balance[c] * look.gain * STEPS as f64) as f32);
    let mut bytes = vec![0u8; w * h * 3];
    bytes
        .par_chunks_mut(w * 3)
        .enumerate()
        .for_each(|(y, row)| {
            for (x, px) in row.chunks_exact_mut(3).enumerate() {
                for (c, v) in px.iter_mut().enumerate() {
                    let index = (planes[c][[y, x]] * factors[c])
                        .round()
                        .clamp(0.0, STEPS as f32);
                    *v = table[index as usize];
                }
            }
        });
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, look.quality)
        .encode(&bytes, w as u32, h as u32, image::ExtendedColorType::Rgb8)
        .expect("encode session");
    out
}

/// Runs the whole pipeline (discovery, decoding, registration, photometric map, metrics) on a patient
/// whose baseline is the file `baseline_bytes` and whose later sessions are `photo` rendered with each
/// look of `sessions`, in order, under its label (a folder name: letters, digits, `.`, `-`); returns
/// the baseline's metrics and each session's (`None`: not measured).
pub fn run_patient(
    baseline_bytes: &[u8],
    photo: &Photo,
    sessions: &[(&str, &Look)],
) -> Result<(SessionMetrics, Vec<Option<SessionMetrics>>), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let patient_dir = dir.path().join("P");
    let put = |session: &str, bytes: &[u8]| -> Result<(), String> {
        let d = patient_dir.join(session);
        std::fs::create_dir_all(&d).map_err(|e| e.to_string())?;
        std::fs::write(d.join("front.jpg"), bytes).map_err(|e| e.to_string())
    };
    put("2026-01-01_baseline", baseline_bytes)?;
    for (i, (label, look)) in sessions.iter().enumerate() {
        put(
            &format!("2026-02-{:02}_{label}", i + 1),
            &render(photo, look),
        )?;
    }
    let patient = discover_patient(&patient_dir, "P".into());
    let output = analyze_patient(&patient, &AnalyzeOptions::default(), &|_| {});
    let report = output.report;
    if !report.errors.is_empty() {
        return Err(format!("pipeline errors: {:?}", report.errors));
    }
    let measured = &report.views[0].sessions;
    let baseline = measured[0].metrics.clone().ok_or("baseline not measured")?;
    Ok((
        baseline,
        measured[1..].iter().map(|s| s.metrics.clone()).collect(),
    ))
}
