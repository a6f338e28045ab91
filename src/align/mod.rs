//! Registration of each session photo to its baseline: a global affine map, a photometric
//! normalisation, and a quality verdict that refuses to report a bad fit as a good one.
//!
//! The stages, on a log-luminance pyramid (on log-luminance an exposure gain is an offset and a gamma
//! change a scale, so both drop out of every fit below):
//! 1. **Coarse** ([`features`], [`ransac`]): oriented FAST keypoints with steered binary descriptors on
//!    the level whose long side is at most [`AlignOptions::feature_side`], mutual-nearest matching, then
//!    RANSAC over two-point similarities and an affine refit on the inliers. Tolerates the whole range
//!    the product promises (rotation ±15°, scale ±15 %, shift 15 %, gain ±30 %, gamma 0.8–1.2) because
//!    descriptors are steered by orientation and compare intensities only with each other. When the
//!    keypoints give no usable transform, [`search`] tries rotations × scales on the coarsest level with
//!    phase correlation for the shift.
//! 2. **Fine** ([`refine`]): inverse-compositional Lucas–Kanade on ~60 000 strong-gradient baseline
//!    points per level, coarse to fine down to the first level with at most
//!    [`AlignOptions::fine_pixels`] pixels, with a per-iteration gain/offset and Huber weights.
//! 3. **Quality** ([`quality`]): overlap, the normalised cross-correlation of the band-passed images
//!    (`ncc`), and the local residual misregistration measured tile by tile (`residual_px`), mapped to
//!    `ok` / `poor` / `failed` by [`QualityThresholds`].
//! 4. **Photometric normalisation** ([`photometric`]): a per-channel gain and gamma fitted on the
//!    heavily low-passed overlap, so that white balance and exposure are matched without touching the
//!    fine texture the metrics measure.
//!
//! How metrics should use the result: the matrix, not resampled pixels. Interpolation is a low-pass
//! filter, so a warped session would read smoother than its baseline and invent an improvement. Metrics
//! are measured on each photo in its own pixel grid, with the region of interest mapped through
//! [`Alignment::matrix`] and lengths scaled by its [`geometry::Affine::scale`]. Warped images
//! ([`preview`]) are for people to look at.

pub mod features;
pub mod geometry;
pub mod photometric;
pub mod preview;
pub mod quality;
pub mod ransac;
pub mod refine;
pub mod search;

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::kernels::gaussian_blur;
use crate::kernels::warp::pyramid_down;
use crate::metrics::skin::SkinMask;
use features::{Descriptor, FeatureOptions, Keypoint};
use geometry::Affine;
use refine::{Motion, Template};

pub use quality::QualityThresholds;

/// Offset added to linear luminance before the logarithm: keeps sensor noise in near-black pixels from
/// becoming large log-luminance swings (1/512 is about code value 12 of 255 in sRGB).
const LOG_FLOOR: f32 = 1.0 / 512.0;
/// Smallest share of the baseline a skin mask must cover to restrict the fine stage to it.
pub const MIN_SKIN_FRACTION: f64 = 0.05;
/// Smallest long side of the coarsest pyramid level kept.
const MIN_LEVEL_SIDE: usize = 96;

/// Settings for [`align`].
#[derive(Debug, Clone)]
pub struct AlignOptions {
    /// Keypoints are found on the first pyramid level whose long side is at most this.
    pub feature_side: usize,
    /// Refinement stops at the first level with at most this many pixels: at 12 MP that is the
    /// 3 MP level (2000 × 1500), where a hundredth of a pixel is two hundredths at full resolution;
    /// 18–24 MP portraits stop at 4.7–6 MP.
    pub fine_pixels: usize,
    /// Keypoint settings.
    pub features: FeatureOptions,
    /// Points selected per pyramid level for the refinement.
    pub template_points: usize,
    /// Correspondences the coarse stage needs before its estimate is trusted.
    pub min_inliers: usize,
    /// Verdict thresholds.
    pub thresholds: QualityThresholds,
}

impl Default for AlignOptions {
    fn default() -> Self {
        Self {
            feature_side: 1600,
            fine_pixels: 6_500_000,
            features: FeatureOptions::default(),
            template_points: 60_000,
            min_inliers: 15,
            thresholds: QualityThresholds::default(),
        }
    }
}

/// One photo's alignment pyramid: smoothed log-luminance per level from the fine level up, and
/// the keypoints of the feature level.
#[derive(Debug)]
pub struct Prepared {
    width: usize,
    height: usize,
    fine_level: u32,
    feature_level: u32,
    /// Index = pyramid level; `None` below the fine level.
    logs: Vec<Option<Array2<f32>>>,
    keypoints: Vec<Keypoint>,
    descriptors: Vec<Descriptor>,
}

impl Prepared {
    /// Builds the pyramid and keypoints from a linear-luminance plane.
    #[must_use]
    pub fn new(luminance: ArrayView2<'_, f32>, options: &AlignOptions) -> Self {
        let (height, width) = luminance.dim();
        let long = width.max(height);
        let level_for = |side: usize| -> u32 {
            let mut level = 0;
            while (long >> level) > side.max(1) {
                level += 1;
            }
            level
        };
        let mut top = 0u32;
        while (long >> (top + 1)) >= MIN_LEVEL_SIDE {
            top += 1;
        }
        let mut fine_level = 0u32;
        while ((width >> fine_level) * (height >> fine_level)) > options.fine_pixels.max(1) {
            fine_level += 1;
        }
        let fine_level = fine_level.min(top);
        let feature_level = level_for(options.feature_side).clamp(fine_level, top);

        let log_smoothed = |plane: ArrayView2<'_, f32>| -> Array2<f32> {
            let mut log = plane.to_owned();
            log.par_mapv_inplace(|v| (v.max(0.0) + LOG_FLOOR).ln());
            gaussian_blur(log.view(), 1.0)
        };
        let mut logs: Vec<Option<Array2<f32>>> = Vec::new();
        let mut current: Option<Array2<f32>> = None;
        for level in 0..=top {
            if level > 0 {
                let source = current.as_ref().map_or(luminance, |a| a.view());
                current = Some(pyramid_down(source));
            }
            let plane = current.as_ref().map_or(luminance, |a| a.view());
            logs.push((level >= fine_level).then(|| log_smoothed(plane)));
        }
        let (keypoints, descriptors) = match &logs[feature_level as usize] {
            Some(detect) => {
                // BRIEF wants σ ≈ 2 in total; the level is already at σ = 1.
                let describe = gaussian_blur(detect.view(), 3f32.sqrt());
                features::detect_and_describe(detect.view(), describe.view(), &options.features)
            }
            None => (Vec::new(), Vec::new()),
        };
        Self {
            width,
            height,
            fine_level,
            feature_level,
            logs,
            keypoints,
            descriptors,
        }
    }

    /// Width of the photo, px.
    #[must_use]
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height of the photo, px.
    #[must_use]
    pub fn height(&self) -> usize {
        self.height
    }

    fn log(&self, level: u32) -> Option<ArrayView2<'_, f32>> {
        self.logs.get(level as usize)?.as_ref().map(|a| a.view())
    }

    fn top_level(&self) -> u32 {
        self.logs.len().saturating_sub(1) as u32
    }
}

/// The baseline side: its pyramid plus the refinement points of every level, built once and reused for
/// every session of the view.
#[derive(Debug)]
pub struct Reference {
    prepared: Prepared,
    templates: Vec<Option<Template>>,
}

impl Reference {
    /// Prepares a baseline photo's linear luminance. With a `skin` mask covering at least
    /// [`MIN_SKIN_FRACTION`] of the photo, the fine stage fits only points on skin — the region that
    /// is measured — so hair, eyes or a backdrop that moved cannot pull the fit; with less (a
    /// close-up the colour rule misjudges, a grey photo), every point is used.
    #[must_use]
    pub fn new(
        luminance: ArrayView2<'_, f32>,
        skin: Option<&SkinMask>,
        options: &AlignOptions,
    ) -> Self {
        let prepared = Prepared::new(luminance, options);
        let skin = skin.filter(|m| m.fraction() >= MIN_SKIN_FRACTION);
        let templates = prepared
            .logs
            .iter()
            .enumerate()
            .map(|(level, log)| {
                let f = f64::from(1u32 << level);
                let on_skin = |x: usize, y: usize| {
                    skin.is_none_or(|m| m.contains(x as f64 * f, y as f64 * f))
                };
                log.as_ref()
                    .map(|l| Template::select(l.view(), options.template_points, Some(&on_skin)))
            })
            .collect();
        Self {
            prepared,
            templates,
        }
    }

    /// The prepared pyramid.
    #[must_use]
    pub fn prepared(&self) -> &Prepared {
        &self.prepared
    }
}

/// The verdict on one session's registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlignStatus {
    /// The baseline itself.
    Reference,
    /// Registered well enough to measure.
    Ok,
    /// Registered, but not well enough to trust the measurements: not measured.
    Poor,
    /// No trustworthy registration: not measured.
    Failed,
}

/// How the coarse estimate was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CoarseMethod {
    /// None: the baseline, or a given matrix ([`verify`]).
    None,
    /// Keypoint matches and RANSAC.
    Features,
    /// Too few keypoint matches: rotation × scale search with phase correlation ([`search`]).
    DirectSearch,
}

/// Result of [`align`].
#[derive(Debug, Clone, PartialEq)]
pub struct Alignment {
    /// The verdict.
    pub status: AlignStatus,
    /// Session pixel → baseline pixel (identity when failed before any estimate).
    pub matrix: Affine,
    /// Normalised cross-correlation of the band-passed log-luminance over the overlap.
    pub ncc: Option<f64>,
    /// Root-mean-square local misregistration left after the fit, in baseline pixels.
    pub residual_px: Option<f64>,
    /// Why the verdict is not `ok`, or notes.
    pub message: Option<String>,
    /// Coarse method used.
    pub method: CoarseMethod,
    /// Descriptor matches and RANSAC inliers of the coarse stage.
    pub matches: usize,
    /// RANSAC inliers.
    pub inliers: usize,
    /// Fraction of the baseline frame the session covers.
    pub overlap: Option<f64>,
}

impl Alignment {
    /// The baseline's own entry.
    #[must_use]
    pub fn reference() -> Self {
        Self {
            status: AlignStatus::Reference,
            matrix: Affine::IDENTITY,
            ncc: None,
            residual_px: None,
            message: None,
            method: CoarseMethod::None,
            matches: 0,
            inliers: 0,
            overlap: Some(1.0),
        }
    }

    /// A session that could not be registered at all (no estimate: identity matrix, no figures).
    #[must_use]
    pub fn failed(message: String) -> Self {
        Self {
            status: AlignStatus::Failed,
            matrix: Affine::IDENTITY,
            ncc: None,
            residual_px: None,
            message: Some(message),
            method: CoarseMethod::None,
            matches: 0,
            inliers: 0,
            overlap: None,
        }
    }
}

/// Registers `session` to `reference`.
#[must_use]
pub fn align(reference: &Reference, session: &Prepared, options: &AlignOptions) -> Alignment {
    let base = &reference.prepared;
    if base.feature_level != session.feature_level || base.fine_level != session.fine_level {
        // Pyramids of different depth: the photos differ in size by more than a factor of two or so.
        return Alignment::failed(format!(
            "photo size {}×{} is too different from the baseline's {}×{}",
            session.width, session.height, base.width, base.height
        ));
    }
    let keypoints = coarse_from_keypoints(base, session, options);
    let (matches, inliers) = (keypoints.matches, keypoints.inliers);
    let failed_after = |method: CoarseMethod, why: String| -> Alignment {
        Alignment {
            method,
            matches,
            inliers,
            ..Alignment::failed(why)
        }
    };
    let (mut warp, start_level, method) = match keypoints.estimate {
        Ok(warp) => (warp, base.feature_level, CoarseMethod::Features),
        Err(why) => {
            // Fallback: exhaustive rotation × scale with phase correlation on the coarsest level.
            let top = base.top_level().min(session.top_level());
            match (base.log(top), session.log(top)) {
                (Some(b), Some(s)) => match search::search(b, s) {
                    Some(found) => (
                        found.warp.level_to_full(top),
                        top,
                        CoarseMethod::DirectSearch,
                    ),
                    None => return failed_after(CoarseMethod::Features, why),
                },
                _ => return failed_after(CoarseMethod::Features, why),
            }
        }
    };
    let failed = |why: String| failed_after(method, why);

    // Coarse to fine: similarity then affine on the first level, affine below.
    for level in (base.fine_level..=start_level).rev() {
        let (Some(template), Some(image)) = (
            reference.templates[level as usize].as_ref(),
            session.log(level),
        ) else {
            break;
        };
        let mut at_level = warp.full_to_level(level);
        let motions: &[Motion] = if level == start_level {
            &[Motion::Similarity, Motion::Affine]
        } else {
            &[Motion::Affine]
        };
        for &motion in motions {
            match refine::refine(
                template,
                &template.points,
                image,
                at_level,
                motion,
                30,
                2e-3,
            ) {
                Some(r) => at_level = r.warp,
                None => {
                    return failed(format!(
                        "refinement lost the image at pyramid level {level} (too little overlap or \
                         texture)"
                    ));
                }
            }
        }
        warp = at_level.level_to_full(level);
    }
    if let Some(why) = implausible(&warp) {
        return failed(why);
    }
    let Some(matrix) = warp.inverse() else {
        return failed("singular transform".into());
    };
    let verdict = quality::assess(reference, session, &warp, &options.thresholds);
    let mut message = verdict.message;
    if method == CoarseMethod::DirectSearch {
        let note = "keypoints gave no usable transform; registered by direct search";
        message = Some(message.map_or_else(|| note.to_string(), |m| format!("{note}; {m}")));
    }
    Alignment {
        status: verdict.status,
        matrix,
        ncc: verdict.ncc,
        residual_px: verdict.residual_px,
        message,
        method,
        matches,
        inliers,
        overlap: Some(verdict.overlap),
    }
}

/// The keypoint stage's outcome: a baseline → session estimate at full resolution, or why there is
/// none.
struct KeypointEstimate {
    estimate: Result<Affine, String>,
    matches: usize,
    inliers: usize,
}

fn coarse_from_keypoints(
    base: &Prepared,
    session: &Prepared,
    options: &AlignOptions,
) -> KeypointEstimate {
    let matches = features::match_descriptors(&base.descriptors, &session.descriptors);
    let position = |k: &Keypoint| (f64::from(k.x), f64::from(k.y));
    let from: Vec<(f64, f64)> = matches
        .iter()
        .map(|&(i, _)| position(&base.keypoints[i]))
        .collect();
    let to: Vec<(f64, f64)> = matches
        .iter()
        .map(|&(_, j)| position(&session.keypoints[j]))
        .collect();
    let outcome = |estimate, inliers| KeypointEstimate {
        estimate,
        matches: matches.len(),
        inliers,
    };
    if matches.len() < options.min_inliers {
        return outcome(
            Err(format!(
                "too few keypoint matches ({}; at least {} needed): too little shared detail — \
                 different skin or view, or a photo too small, blurred or featureless",
                matches.len(),
                options.min_inliers
            )),
            0,
        );
    }
    let Some(fit) = ransac::fit_similarity_then_affine(&from, &to, 3.0, 5000) else {
        return outcome(
            Err(format!(
                "no consistent keypoint matches ({} matches): not the same skin, view or framing",
                matches.len()
            )),
            0,
        );
    };
    let inliers = fit.inliers.len();
    if inliers < options.min_inliers {
        return outcome(
            Err(format!(
                "only {inliers} of {} keypoint matches agree on one transform (at least {} needed): \
                 not the same skin, view or framing",
                matches.len(),
                options.min_inliers
            )),
            inliers,
        );
    }
    let warp = fit.model.level_to_full(base.feature_level);
    match implausible(&warp) {
        Some(why) => outcome(Err(why), inliers),
        None => outcome(Ok(warp), inliers),
    }
}

/// Judges a given registration without searching for one: the quality gate alone, for a matrix that
/// came from elsewhere (a previous run, a manual correction). `to_baseline` maps a session pixel to a
/// baseline pixel.
#[must_use]
pub fn verify(
    reference: &Reference,
    session: &Prepared,
    to_baseline: &Affine,
    options: &AlignOptions,
) -> Alignment {
    let Some(warp) = to_baseline.inverse() else {
        return Alignment::failed("singular transform".into());
    };
    if reference.prepared.fine_level != session.fine_level {
        return Alignment::failed("photo sizes too different to compare".into());
    }
    let verdict = quality::assess(reference, session, &warp, &options.thresholds);
    Alignment {
        status: verdict.status,
        matrix: *to_baseline,
        ncc: verdict.ncc,
        residual_px: verdict.residual_px,
        message: verdict.message,
        method: CoarseMethod::None,
        matches: 0,
        inliers: 0,
        overlap: Some(verdict.overlap),
    }
}

/// Why a baseline → session map cannot be a re-photograph of the same view, if it cannot: far outside
/// the scale and rotation any clinic set-up produces, or mirrored.
fn implausible(warp: &Affine) -> Option<String> {
    if !warp.is_finite() || warp.det() <= 0.0 {
        return Some("the best transform mirrors or collapses the image".into());
    }
    let scale = warp.scale();
    let rotation = warp.rotation().to_degrees();
    let m = &warp.m;
    // Anisotropy: ratio of the singular values of the linear part.
    let (a, b, c, d) = (m[0][0], m[0][1], m[1][0], m[1][1]);
    let frob = a * a + b * b + c * c + d * d;
    let det = warp.det();
    let disc = (frob * frob - 4.0 * det * det).max(0.0).sqrt();
    let anisotropy = ((frob + disc) / (frob - disc).max(1e-12)).sqrt();
    if !(0.5..=2.0).contains(&scale) || rotation.abs() > 45.0 || anisotropy > 1.5 {
        return Some(format!(
            "implausible transform (scale {scale:.2}, rotation {rotation:.1}°, anisotropy \
             {anisotropy:.2}): not the same view"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::colour::srgb_to_linear;
    use crate::kernels::testutil::textured;

    /// Degenerate photos (tiny, one pixel wide, flat, pure noise, mismatched sizes) give a verdict,
    /// never a panic; a flat pair cannot be registered and says so.
    #[test]
    fn degenerate_photos_fail_cleanly() {
        let options = AlignOptions::default();
        let flat = |h: usize, w: usize| Array2::from_elem((h, w), 0.5f32);
        let planes = [
            flat(1, 1),
            flat(1, 50),
            flat(50, 1),
            flat(9, 9),
            flat(40, 40),
            flat(300, 400),
            textured(300, 400, 1),
            Array2::zeros((120, 90)),
            // A float TIFF can carry non-finite samples.
            Array2::from_shape_fn((200, 260), |(y, x)| match (x + 3 * y) % 97 {
                0 => f32::NAN,
                1 => f32::INFINITY,
                2 => f32::NEG_INFINITY,
                _ => textured(1, 1, (x * 7 + y) as u64)[[0, 0]],
            }),
        ];
        for a in &planes {
            let reference = Reference::new(a.view(), None, &options);
            for b in &planes {
                let session = Prepared::new(b.view(), &options);
                let result = align(&reference, &session, &options);
                assert!(result.matrix.is_finite());
                if a.iter().chain(b.iter()).all(|&v| v == a[[0, 0]]) {
                    assert_eq!(result.status, AlignStatus::Failed, "{:?}", a.dim());
                    assert!(result.message.is_some());
                }
                let _ = verify(&reference, &session, &Affine::IDENTITY, &options);
            }
        }
    }

    /// With a skin mask covering the left half of the photo, the fine stage's points all lie on it;
    /// with a mask too small to trust, points come from the whole frame.
    #[test]
    fn fine_stage_points_follow_the_skin_mask() {
        let (h, w) = (240, 320);
        let texture = textured(h, w, 3);
        let skin = [198.0, 150.0, 120.0].map(|v: f64| srgb_to_linear(v / 255.0) as f32);
        let blue = [60.0, 90.0, 160.0].map(|v: f64| srgb_to_linear(v / 255.0) as f32);
        let rgb: [Array2<f32>; 3] = std::array::from_fn(|c| {
            Array2::from_shape_fn((h, w), |(y, x)| {
                let base = if x < w / 2 { skin[c] } else { blue[c] };
                base * (0.8 + 0.4 * texture[[y, x]])
            })
        });
        let luminance = Array2::from_shape_fn((h, w), |(y, x)| {
            crate::io::colour::luminance(rgb[0][[y, x]], rgb[1][[y, x]], rgb[2][[y, x]])
        });
        let mask = SkinMask::detect(&rgb);
        assert!((mask.fraction() - 0.5).abs() < 0.05, "{}", mask.fraction());
        let options = AlignOptions::default();
        let masked = Reference::new(luminance.view(), Some(&mask), &options);
        let template = masked.templates[0].as_ref().unwrap();
        assert!(template.points.len() > 1000);
        assert!(template.points.iter().all(|p| p.x < (w / 2) as f32));
        let unmasked = Reference::new(luminance.view(), None, &options);
        let all = unmasked.templates[0].as_ref().unwrap();
        assert!(all.points.iter().any(|p| p.x > (w / 2) as f32 + 10.0));
    }
}
