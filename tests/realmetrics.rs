//! The slow suite on real skin for the metrics: do they measure skin, not the camera?
//!
//! Each portrait of `../shared/realdata/` becomes one patient whose baseline is the original file and
//! whose later "sessions" are the same photo with known changes, run through the whole pipeline
//! (discovery, decoding, registration, photometric normalisation, metrics):
//! - **null**: warped by a similarity (±8°, ±10 %, ±4 % shift, bicubic), re-exposed (gain ±20 %,
//!   gamma ±10 %, white balance ±5 %) and re-encoded at JPEG q80–95, and the photo only re-encoded at
//!   q95: Sq, Sa, pore count and scar area must change by ≤ 3 %;
//! - **invariance**: gain 0.7 and 1.3, gamma 0.85 and 1.15, white balance ±6 %, one at a time, no warp,
//!   JPEG q95: Sq, Sa and pore count change by ≤ 2 %. These are read against the photo through the
//!   same encoder at q95, not against the original file: the criterion is about exposure, tone curve
//!   and white balance, and a re-encoding of the original moves the pore count by itself (−2.8 % on
//!   one portrait); that part is the `q95` null look's, under the null test's bound;
//! - **attenuation**: log-luminance detail finer than 2 mm scaled by k = 0.85, 0.7, 0.55: the Sq change
//!   must be k − 1 within 5 percentage points, and monotone. "Detail" is the log-luminance minus its
//!   ISO Gaussian low-pass with 50 % transmission at 4 mm, which passes ≥ 94 % of every wavelength
//!   under 2 mm (a low-pass at 2 mm itself would scale 2 mm detail by only (1 + k)/2, not k);
//! - **additions**: 150 soft-disk pores (radius 0.1–0.2 mm, contrast 20–30 %) added to free skin inside
//!   the measured region and inside rectangles of bare facial skin drawn for each portrait
//!   ([`SKIN_BOXES`]): the pore count must rise by 150 within ±15 %. The baseline of that run is the
//!   same photo through the same JPEG encoder, so the pores are the only difference;
//! - **face**: the region is limited to an ellipse around the face the detector finds; the ellipse
//!   must hold every skin rectangle and none of a few points of background, clothes and chest
//!   picked on each portrait ([`OFF_FACE`]); with an roi the region is the whole skin's, and with
//!   too little skin within the face (a minimum set just above it) it falls back to the whole skin
//!   where that has more.
//!
//! **Not all of these hold yet** (issue 5 is open). The suite fails on the criteria that hold — the null
//! test for Sq and Sa, invariance of Sq and Sa to exposure gain, tone curve and white balance, the
//! attenuation and the face — so they cannot regress, and prints every other criterion that is missed as an
//! `OPEN:` line with its figure: every pore-count criterion (null, invariance, additions) and the
//! scar-area null test. `examples/null_looks.rs` takes one null look apart (JPEG, exposure, warp,
//! whole- and half-pixel shifts, each alone) to show which part of it moves a figure.
//!
//! A plain `main` so that its table, or why it skipped, is always printed.

#![allow(clippy::print_stdout)]

use std::process::ExitCode;
use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use skintex::align::geometry::Affine;
use skintex::io::{LoadOptions, Photo, decode_photo};
use skintex::metrics::face::{FaceBox, find_face};
use skintex::metrics::region::BaselineRegion;
use skintex::metrics::skin::SkinMask;
use skintex::metrics::{Frame, MetricOptions, Scale, SessionMetrics};
use skintex::series::config::Roi;

#[path = "common/realdata.rs"]
mod realdata;
#[path = "common/session.rs"]
mod session;
use session::{AddedPore, Look};

/// One derived session: its name in the report, what was done, and the check to apply.
struct Case {
    name: String,
    look: Look,
    check: Check,
}

#[derive(Debug, Clone, Copy)]
enum Check {
    Null,
    Invariance,
    Attenuation(f64),
    Additions(usize),
}

/// The side of the blob detector's noise tiles at full resolution (`NOISE_TILE` in
/// `src/metrics/blobs.rs`): an added pore moves the noise spread of the tile it falls in.
const NOISE_TILE_PX: f64 = 64.0;

/// Where on each portrait the added pores go: rectangles `[x0, y0, x1, y1]` (px of the decoded photo)
/// of bare facial skin — forehead, cheeks, chin — drawn by eye on the photos, clear of hair, brows,
/// lashes, eyes, lips, nostrils and beard (freckles are skin and stay in). The criterion adds pores
/// to real skin; the measured region is the skin-colour rule's within the face, which on these
/// portraits still holds hair strands, and pores drawn on those are not pores to find (most of the 18
/// that `pexels-aadil` missed lay on hair, brows or lashes, looked at one by one, before these
/// rectangles). They are also the ground truth of the face check: each must lie inside the ellipse
/// the measured region is limited to (`skintex::metrics::face`).
const SKIN_BOXES: &[(&str, &[[f64; 4]])] = &[
    (
        "pexels-aadil-2598024.jpg",
        &[
            [1300.0, 950.0, 2550.0, 1450.0],
            [850.0, 2400.0, 1450.0, 2950.0],
            [2300.0, 2400.0, 2900.0, 2950.0],
            [1500.0, 3680.0, 2200.0, 3900.0],
        ],
    ),
    (
        "pexels-ike-louie-natividad-2709388.jpg",
        &[
            [1150.0, 1650.0, 1900.0, 1950.0],
            [2050.0, 2700.0, 2650.0, 3400.0],
            [1020.0, 2950.0, 1250.0, 3250.0],
            [1750.0, 3700.0, 2350.0, 4000.0],
        ],
    ),
    (
        "pexels-mateus-souza-3586798.jpg",
        &[
            [1350.0, 1900.0, 2050.0, 2100.0],
            [1230.0, 2620.0, 1440.0, 3000.0],
            [1950.0, 2600.0, 2350.0, 2980.0],
            [1500.0, 3400.0, 1900.0, 3600.0],
        ],
    ),
    (
        "pexels-simon-robben-614810.jpg",
        &[
            [1550.0, 750.0, 2900.0, 1150.0],
            [1450.0, 1850.0, 1950.0, 2250.0],
            [2600.0, 1850.0, 3050.0, 2250.0],
        ],
    ),
];

/// Points on each portrait well away from its face, picked by eye: a backdrop (wall, foliage, bokeh),
/// clothes, a shoulder, a chest. Where the face fills the frame (aadil, simon) they are at its
/// corners and edges, picked after the ellipse was drawn on the photo: there is no off-face skin
/// colour nearer in. The face check requires every one outside the ellipse the measured
/// region is limited to. Before the face detector, the skin-colour rule measured ike's wall and
/// mateus's chest.
const OFF_FACE: &[(&str, &[[f64; 2]])] = &[
    (
        "pexels-aadil-2598024.jpg",
        &[[100.0, 100.0], [3400.0, 150.0], [100.0, 4100.0]],
    ),
    (
        "pexels-ike-louie-natividad-2709388.jpg",
        &[[600.0, 1500.0], [3600.0, 2400.0], [3000.0, 4900.0]],
    ),
    (
        "pexels-mateus-souza-3586798.jpg",
        &[[650.0, 970.0], [3100.0, 1200.0], [1620.0, 4550.0]],
    ),
    (
        "pexels-simon-robben-614810.jpg",
        &[[200.0, 200.0], [4500.0, 1750.0], [600.0, 3900.0]],
    ),
];

/// Checks the face the pipeline limits portrait `name`'s region to: found, holding every skin
/// rectangle drawn on the portrait ([`SKIN_BOXES`], corners included) and none of its off-face points
/// ([`OFF_FACE`]), and used by the region only where it should be. `Err` says what is wrong.
fn check_face(name: &str, photo: &Photo) -> Result<FaceBox, String> {
    let face = find_face(photo.luminance.view()).ok_or("no face found")?;
    for b in skin_boxes(name).unwrap_or_default() {
        for (x, y) in [(b[0], b[1]), (b[2], b[1]), (b[0], b[3]), (b[2], b[3])] {
            if !face.contains(x, y) {
                return Err(format!("bare skin at ({x}, {y}) left out by {face:?}"));
            }
        }
    }
    let off_face = OFF_FACE
        .iter()
        .find(|(file, _)| *file == name)
        .map_or(&[][..], |(_, points)| *points);
    for &[x, y] in off_face {
        if face.contains(x, y) {
            return Err(format!("({x}, {y}), not face, kept by {face:?}"));
        }
    }
    // What the pipeline's region makes of it: limited to this face, and not limited where the face
    // must not limit it (an roi given; too little skin within the face to measure).
    let scale = Scale::new(None);
    let options = MetricOptions::default();
    let (h, w) = photo.luminance.dim();
    let region = |roi: Option<Roi>, options: &MetricOptions| {
        BaselineRegion::new(&photo.rgb, photo.luminance.view(), &scale, roi, options)
    };
    let limited = region(None, &options);
    if limited.face != Some(face) || limited.note.is_some() {
        return Err(format!(
            "the region is not limited to the face: {:?}, {:?}",
            limited.face, limited.note
        ));
    }
    for &[x, y] in off_face {
        if limited.frame.is_skin(x, y) {
            return Err(format!("({x}, {y}), not face, is in the region"));
        }
    }
    let whole_mask = SkinMask::detect(&photo.rgb)
        .without_features(photo.luminance.view(), 1.0 / scale.mm_per_px());
    let margin = options.filter_margin_px(&scale);
    let whole_photo = Roi::from([0, 0, w as u32, h as u32]);
    let with_roi = region(Some(whole_photo), &options);
    let whole_in_roi = Frame::new(&whole_mask, Some(whole_photo), margin, (w, h));
    if with_roi.face.is_some()
        || with_roi.note.is_some()
        || with_roi.frame.candidate_cells() != whole_in_roi.candidate_cells()
    {
        return Err(format!(
            "an roi was limited to the face: {:?}, {} cells against {}",
            with_roi.face,
            with_roi.frame.candidate_cells(),
            whole_in_roi.candidate_cells()
        ));
    }
    let face_area = limited.frame.candidate_area_px();
    let too_little = MetricOptions {
        min_region_px: face_area + 1.0,
        ..options
    };
    let whole_skin = Frame::new(&whole_mask, None, margin, (w, h));
    let fallback = region(None, &too_little);
    let whole_area = whole_skin.candidate_area_px();
    // Too little within the face, by one pixel: the region falls back to the whole skin where that
    // has enough (a face with a backdrop or a neck around it), and keeps the face where the whole
    // skin has no more (a face filling its ellipse).
    let expect_fallback = whole_area >= too_little.min_region_px;
    let fell_back = fallback.face.is_none()
        && fallback.note.is_some()
        && fallback.frame.candidate_cells() == whole_skin.candidate_cells();
    let kept_face = fallback.face == Some(face) && fallback.note.is_none();
    if (expect_fallback && !fell_back) || (!expect_fallback && !kept_face) {
        return Err(format!(
            "a face with too little skin (the whole skin {whole_area:.0} px against {:.0} asked): \
             {:?}, {:?}, {} cells against the whole skin's {}",
            too_little.min_region_px,
            fallback.face,
            fallback.note,
            fallback.frame.candidate_cells(),
            whole_skin.candidate_cells()
        ));
    }
    Ok(face)
}

/// The skin rectangles drawn for portrait `name`; `None` for a portrait without any (then pores go
/// anywhere in the measured region, and the suite says so).
fn skin_boxes(name: &str) -> Option<&'static [[f64; 4]]> {
    SKIN_BOXES
        .iter()
        .find(|(file, _)| *file == name)
        .map(|(_, boxes)| *boxes)
}

/// Pores placed on free skin: inside the region an identity session would be measured on and inside
/// one of `boxes` (when given), at least three radii plus the existing pore's diameter from every
/// pore the baseline already has.
fn added_pores(
    photo: &Photo,
    existing: &[[f64; 3]],
    boxes: Option<&[[f64; 4]]>,
    n: usize,
    rng: &mut ChaCha8Rng,
) -> Vec<AddedPore> {
    let (h, w) = photo.luminance.dim();
    let options = MetricOptions::default();
    let scale = Scale::new(None);
    let margin = options.filter_margin_px(&scale);
    // The region the pipeline measures: skin colour without brows, lashes and hair, within the face
    // (found on the original photo; the run's baseline is its q95 re-encoding, whose box may differ
    // by a pixel or so, which moves at most a cell of the ellipse's edge, far from the rectangles).
    let frame =
        BaselineRegion::new(&photo.rgb, photo.luminance.view(), &scale, None, &options).frame;
    let common = frame.common_cells(&[(Affine::IDENTITY, (w, h), margin)]);
    let mut pores: Vec<AddedPore> = Vec::new();
    let mut attempts = 0;
    while pores.len() < n && attempts < 200_000 {
        attempts += 1;
        let (x, y) = (
            rng.random_range(0.0..w as f64),
            rng.random_range(0.0..h as f64),
        );
        let radius = rng.random_range(2.0..4.0);
        // A pore's whole disk inside a box, not only its centre (a soft disk reaches 1.3 radii:
        // `skintex::metrics::blobs::soft_disk`).
        let reach = 1.3 * radius;
        let on_skin = boxes.is_none_or(|boxes| {
            boxes.iter().any(|b| {
                x - reach >= b[0] && y - reach >= b[1] && x + reach <= b[2] && y + reach <= b[3]
            })
        });
        let inside = on_skin && frame.in_cells(&common, x, y);
        // Asked only of points inside: most draws miss the rectangles.
        let clear = || {
            existing
                .iter()
                .all(|p| (p[0] - x).hypot(p[1] - y) > 3.0 * radius + p[2])
                && pores
                    .iter()
                    .all(|p| (p.x - x).hypot(p.y - y) > 3.0 * (radius + p.radius))
        };
        if inside && clear() {
            pores.push(AddedPore {
                x,
                y,
                radius,
                contrast: rng.random_range(0.2..0.3),
            });
        }
    }
    pores
}

/// Runs the whole pipeline on a patient folder whose baseline is `original` and whose sessions are
/// `cases`; returns the baseline's metrics and each case's.
fn run_patient(
    baseline_bytes: &[u8],
    photo: &Photo,
    cases: &[Case],
) -> Result<(SessionMetrics, Vec<Option<SessionMetrics>>), String> {
    let sessions: Vec<(&str, &Look)> = cases.iter().map(|c| (c.name.as_str(), &c.look)).collect();
    session::run_patient(baseline_bytes, photo, &sessions)
}

fn percent(session: f64, baseline: f64) -> f64 {
    if baseline == 0.0 {
        if session == 0.0 { 0.0 } else { f64::INFINITY }
    } else {
        100.0 * (session / baseline - 1.0)
    }
}

/// Prints one look's changes against `baseline` and applies its null, invariance or attenuation
/// criterion; returns the Sq change in percent.
fn check_case(
    name: &str,
    case: &Case,
    baseline: &SessionMetrics,
    m: &SessionMetrics,
    failures: &mut Vec<String>,
    open: &mut Vec<String>,
) -> f64 {
    let sq = percent(m.roughness.sq, baseline.roughness.sq);
    let sa = percent(m.roughness.sa, baseline.roughness.sa);
    let pores = percent(m.pores.count as f64, baseline.pores.count as f64);
    let scars = percent(m.scars.area_px, baseline.scars.area_px);
    println!(
        "realmetrics: {name} {:>10}: Sq {sq:+6.2} %, Sa {sa:+6.2} %, pores {pores:+6.2} % \
         ({}), scar area {scars:+6.2} % ({} scars); scale {:.3} q{}",
        case.name,
        m.pores.count,
        m.scars.count,
        case.look.to_baseline.scale(),
        case.look.quality
    );
    // `enforced`: the criterion holds today and must not regress; otherwise a miss is open work.
    let mut limit = |what: &str, value: f64, max: f64, enforced: bool| {
        if value.abs() > max {
            let line = format!(
                "{name} {}: {what} changed {value:+.2} % (limit ±{max} %)",
                case.name
            );
            if enforced {
                failures.push(line);
            } else {
                open.push(line);
            }
        }
    };
    match case.check {
        Check::Null => {
            limit("Sq", sq, 3.0, true);
            limit("Sa", sa, 3.0, true);
            limit("pore count", pores, 3.0, false);
            limit("scar area", scars, 3.0, false);
        }
        Check::Invariance => {
            limit("Sq", sq, 2.0, true);
            limit("Sa", sa, 2.0, true);
            limit("pore count", pores, 2.0, false);
        }
        Check::Attenuation(k) => {
            let expected = 100.0 * (k - 1.0);
            if (sq - expected).abs() > 5.0 {
                failures.push(format!(
                    "{name} {}: Sq changed {sq:+.2} %, expected {expected:+.0} ± 5 pp",
                    case.name
                ));
            }
        }
        Check::Additions(_) => {}
    }
    sq
}

fn main() -> ExitCode {
    let mut photos =
        match realdata::portraits("realmetrics", "runs 4 portraits through the whole pipeline") {
            Ok(p) => p,
            Err(skip) => {
                println!("{skip}");
                return ExitCode::SUCCESS;
            }
        };
    // A development aid: SKINTEX_REALMETRICS_ONLY=part runs the portraits whose name holds it.
    if let Ok(only) = std::env::var("SKINTEX_REALMETRICS_ONLY") {
        photos.retain(|p| p.to_string_lossy().contains(&only));
    }
    let started = Instant::now();
    let mut failures: Vec<String> = Vec::new();
    let mut open: Vec<String> = Vec::new();
    for (index, path) in photos.iter().enumerate() {
        let name = path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let original = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => {
                println!("realmetrics: FAILED — cannot read {name}: {e}");
                return ExitCode::FAILURE;
            }
        };
        let photo = match decode_photo(&original, &LoadOptions::default()) {
            Ok(p) => p,
            Err(e) => {
                println!("realmetrics: FAILED — cannot read {name}: {e}");
                return ExitCode::FAILURE;
            }
        };
        match check_face(&name, &photo) {
            Ok(f) => println!(
                "realmetrics: {name} face: box x {:.0} y {:.0} side {:.0}, score {:.1}; holds the \
                 skin rectangles and none of the off-face points; limits the region, not an roi; \
                 gives way to the whole skin when too small",
                f.x, f.y, f.side, f.score
            ),
            Err(e) => failures.push(format!("{name} face: {e}")),
        }
        let (h, w) = photo.luminance.dim();
        let mut rng = ChaCha8Rng::seed_from_u64(session::NULL_LOOK_SEED + index as u64);
        // Run 1: the original file is the baseline. Null looks (JPEG re-encoding among them) and the
        // attenuation are read against what the clinic's camera gave.
        let mut cases = Vec::new();
        for k in 0..3 {
            cases.push(Case {
                name: format!("null{k}"),
                look: session::null_look(&mut rng, w, h),
                check: Check::Null,
            });
        }
        // The re-encoding alone: the photo through the sessions' JPEG encoder at q95, nothing else.
        cases.push(Case {
            name: "q95".into(),
            look: Look::identity(95),
            check: Check::Null,
        });
        let sigma = (0.187_390_625 * 4.0 / skintex::metrics::NOMINAL_MM_PER_PX) as f32;
        for k in [0.85, 0.7, 0.55] {
            cases.push(Case {
                name: format!("detail{k}"),
                look: Look {
                    detail: Some((k, sigma)),
                    ..Look::identity(95)
                },
                check: Check::Attenuation(k),
            });
        }
        let (baseline, results) = match run_patient(&original, &photo, &cases) {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        println!(
            "realmetrics: {name} ({w}×{h}): region {:.0} px ({:.0} %), Sq {:.5}, Sa {:.5}, Ssk {:.2}, \
             Sku {:.2}, pores {} (mean {:.1} px), scars {} ({:.0} px²)",
            baseline.mask.area_px,
            100.0 * baseline.mask.fraction,
            baseline.roughness.sq,
            baseline.roughness.sa,
            baseline.roughness.ssk,
            baseline.roughness.sku,
            baseline.pores.count,
            baseline.pores.mean_diameter_px,
            baseline.scars.count,
            baseline.scars.area_px
        );
        let mut attenuation = Vec::new();
        for (case, result) in cases.iter().zip(&results) {
            let Some(m) = result else {
                failures.push(format!("{name} {}: not measured", case.name));
                continue;
            };
            let sq = check_case(&name, case, &baseline, m, &mut failures, &mut open);
            if let Check::Attenuation(_) = case.check {
                attenuation.push(sq);
            }
        }
        if attenuation.windows(2).any(|p| p[1] >= p[0]) {
            failures.push(format!(
                "{name}: Sq not monotone in the attenuation: {attenuation:?}"
            ));
        }

        // Run 2: the baseline is the photo through the same JPEG encoder (q95) as its sessions, so the
        // exposure, tone-curve and white-balance looks and the added pores are the only difference;
        // what the re-encoding alone does is run 1's `q95` null look.
        let mut cases: Vec<Case> = [
            ("gain0.7", 0.7, 1.0, [1.0, 1.0, 1.0]),
            ("gain1.3", 1.3, 1.0, [1.0, 1.0, 1.0]),
            ("gamma0.85", 1.0, 0.85, [1.0, 1.0, 1.0]),
            ("gamma1.15", 1.0, 1.15, [1.0, 1.0, 1.0]),
            ("wb-warm", 1.0, 1.0, [1.06, 1.0, 0.94]),
            ("wb-cool", 1.0, 1.0, [0.94, 1.0, 1.06]),
        ]
        .into_iter()
        .map(|(label, gain, gamma, white_balance)| Case {
            name: label.to_string(),
            look: Look {
                gain,
                gamma,
                white_balance,
                ..Look::identity(95)
            },
            check: Check::Invariance,
        })
        .collect();
        // Additions need the baseline's pores to place new ones on free skin.
        let boxes = skin_boxes(&name);
        if boxes.is_none() {
            println!(
                "realmetrics: {name}: no skin rectangles drawn for it; added pores go anywhere in \
                 the measured region"
            );
        }
        let added = added_pores(&photo, &baseline.pores.positions, boxes, 150, &mut rng);
        let n = added.len();
        cases.push(Case {
            name: "added".into(),
            look: Look {
                pores: added,
                ..Look::identity(95)
            },
            check: Check::Additions(n),
        });
        let plain = session::render(&photo, &Look::identity(95));
        let (base, results) = match run_patient(&plain, &photo, &cases) {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!("{name} (q95 baseline): {e}"));
                continue;
            }
        };
        println!(
            "realmetrics: {name} q95 baseline: Sq {:.5}, Sa {:.5}, pores {}, scars {} ({:.0} px²)",
            base.roughness.sq,
            base.roughness.sa,
            base.pores.count,
            base.scars.count,
            base.scars.area_px
        );
        for (case, result) in cases.iter().zip(&results) {
            let Some(m) = result else {
                failures.push(format!("{name} {}: not measured", case.name));
                continue;
            };
            let Check::Additions(n) = case.check else {
                check_case(&name, case, &base, m, &mut failures, &mut open);
                continue;
            };
            let rise = m.pores.count as f64 - base.pores.count as f64;
            let found = case
                .look
                .pores
                .iter()
                .filter(|a| {
                    m.pores
                        .positions
                        .iter()
                        .any(|q| (q[0] - a.x).hypot(q[1] - a.y) < 2.0)
                })
                .count();
            // Where the count comes from: added pores found at their place, and pores the baseline
            // had that the session lost (thresholds are local, so they can move).
            let lost_pores: Vec<&[f64; 3]> = base
                .pores
                .positions
                .iter()
                .filter(|q| {
                    !m.pores
                        .positions
                        .iter()
                        .any(|r| (r[0] - q[0]).hypot(r[1] - q[1]) < 1.0)
                })
                .collect();
            let lost = lost_pores.len();
            // The added pores change only the pixels around them and the 16-px JPEG blocks they
            // fall in (and the photometric slope by a hair, a uniform scale that cancels in the
            // SNR), so the pores lost near them (within a noise tile's side) are lost through the
            // local spread an added pore moves, and the others through what couples detection
            // across tiles (a tile short of skin takes the whole region's spread).
            let near_added = lost_pores
                .iter()
                .filter(|q| {
                    case.look
                        .pores
                        .iter()
                        .any(|a| (a.x - q[0]).hypot(a.y - q[1]) < NOISE_TILE_PX)
                })
                .count();
            println!(
                "realmetrics: {name} {:>10}: {found} of the {n} added pores found in place, {lost} \
                 baseline pores lost ({near_added} of them within {NOISE_TILE_PX} px of an added \
                 one)",
                case.name
            );
            println!(
                "realmetrics: {name} {:>10}: {n} pores added, count {} → {} ({rise:+.0}, {:+.1} %)",
                case.name,
                base.pores.count,
                m.pores.count,
                100.0 * (rise / n as f64 - 1.0)
            );
            if (rise / n as f64 - 1.0).abs() > 0.15 {
                open.push(format!(
                    "{name}: {n} pores added, count rose by {rise} (limit ±15 %)"
                ));
            }
        }
    }
    for line in &open {
        println!("realmetrics: OPEN: {line}");
    }
    println!(
        "realmetrics: {} portraits, {} failures, {} open criteria missed, {:.0} s",
        photos.len(),
        failures.len(),
        open.len(),
        started.elapsed().as_secs_f64()
    );
    if failures.is_empty() {
        println!("realmetrics: ok");
        ExitCode::SUCCESS
    } else {
        for f in &failures {
            println!("realmetrics: FAILED — {f}");
        }
        ExitCode::FAILURE
    }
}
