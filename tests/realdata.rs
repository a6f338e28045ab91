//! The slow suite on real skin: registration of the high-resolution portraits in `../shared/realdata/`
//! against known transforms.
//!
//! Each portrait is warped by 20 random transforms over the promised range (rotation ±15°, scale
//! ±15 %, shift ±15 %, plus a little shear), given an exposure gain (±30 %), gamma (0.8–1.2) and white
//! balance (±8 %) change, re-encoded as JPEG (q 80–95) and decoded again; the alignment of that
//! "session" to the original must have median grid error ≤ 0.3 px, max ≤ 1 px, and never fail. Photos
//! of two different people must come out `failed`.
//!
//! A plain `main` (no libtest harness) so that its table, and a skip when `../shared/realdata` is
//! absent, are always printed, never captured or silently passed.

// This suite's output is its report.
#![allow(clippy::print_stdout)]

use std::process::ExitCode;
use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use skintex::align::geometry::{Affine, grid_error};
use skintex::align::{AlignOptions, AlignStatus, Prepared, Reference, align};
use skintex::io::{LoadOptions, Photo, decode_photo};
use skintex::metrics::skin::SkinMask;

#[path = "common/realdata.rs"]
mod realdata;
#[path = "common/session.rs"]
#[allow(dead_code)]
// the renderer only: the null looks and the pipeline runner are the metric suite's
mod session;
use session::Look;

const TRANSFORMS_PER_PHOTO: usize = 20;

struct Case {
    /// Session pixel → baseline pixel.
    truth: Affine,
    gain: f64,
    gamma: f64,
    white_balance: [f64; 3],
    quality: u8,
}

fn random_case(rng: &mut ChaCha8Rng, w: usize, h: usize) -> Case {
    let mut sym = |max: f64| rng.random_range(-max..=max);
    let rotation = sym(15f64).to_radians();
    let scale = 1.0 + sym(0.15);
    let shear = sym(0.01);
    let (tx, ty) = (sym(0.15) * w as f64, sym(0.15) * h as f64);
    let gain = 1.0 + sym(0.3);
    let gamma = 1.0 + sym(0.2);
    let white_balance = [1.0 + sym(0.08), 1.0, 1.0 + sym(0.08)];
    let quality = 80 + (sym(1.0).abs() * 15.0) as u8;
    // About the image centre: p = c + R S Sh (q − c) + t.
    let (cx, cy) = ((w as f64 - 1.0) / 2.0, (h as f64 - 1.0) / 2.0);
    let linear = Affine::similarity(scale, rotation, 0.0, 0.0).after(&Affine {
        m: [[1.0, shear, 0.0], [0.0, 1.0, 0.0]],
    });
    let to_centre = Affine::similarity(1.0, 0.0, -cx, -cy);
    let back = Affine::similarity(1.0, 0.0, cx + tx, cy + ty);
    Case {
        truth: back.after(&linear.after(&to_centre)),
        gain,
        gamma,
        white_balance,
        quality,
    }
}

/// Renders the session photo for `case`: each session pixel samples the baseline at `truth(q)`.
fn render_session(photo: &Photo, case: &Case) -> Vec<u8> {
    let look = Look {
        to_baseline: case.truth,
        gain: case.gain,
        gamma: case.gamma,
        white_balance: case.white_balance,
        ..Look::identity(case.quality)
    };
    session::render(photo, &look)
}

fn main() -> ExitCode {
    let photos = match realdata::portraits("realdata", "registers 80 photos of 15–24 MP") {
        Ok(p) => p,
        Err(skip) => {
            println!("{skip}");
            return ExitCode::SUCCESS;
        }
    };
    let options = AlignOptions::default();
    let mut errors = Vec::new();
    let mut failures = Vec::new();
    let mut first_sessions: Vec<(String, Reference, Prepared)> = Vec::new();
    let started = Instant::now();
    for (index, path) in photos.iter().enumerate() {
        let name = path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let photo = match std::fs::read(path)
            .map_err(|e| e.to_string())
            .and_then(|b| decode_photo(&b, &LoadOptions::default()).map_err(|e| e.to_string()))
        {
            Ok(p) => p,
            Err(e) => {
                println!("realdata: FAILED — cannot read {name}: {e}");
                return ExitCode::FAILURE;
            }
        };
        let (h, w) = photo.luminance.dim();
        let skin = SkinMask::detect(&photo.rgb);
        let reference = Reference::new(photo.luminance.view(), Some(&skin), &options);
        let mut rng = ChaCha8Rng::seed_from_u64(0x4EA1_DA7A + index as u64);
        let mut photo_errors = Vec::new();
        let mut first = None;
        for k in 0..TRANSFORMS_PER_PHOTO {
            let case = random_case(&mut rng, w, h);
            let encoded = render_session(&photo, &case);
            let session_photo = decode_photo(&encoded, &LoadOptions::default()).expect("decode");
            let session = Prepared::new(session_photo.luminance.view(), &options);
            let result = align(&reference, &session, &options);
            let err = grid_error(&result.matrix, &case.truth, w, h, 5);
            println!(
                "realdata: {name} #{k:02}: rot {:+6.2}° scale {:.3} gain {:.2} gamma {:.2} q{} → \
                 {:?}, grid error {err:.3} px, ncc {:.3}, residual {:.3} px{}",
                case.truth.rotation().to_degrees(),
                case.truth.scale(),
                case.gain,
                case.gamma,
                case.quality,
                result.status,
                result.ncc.unwrap_or(f64::NAN),
                result.residual_px.unwrap_or(f64::NAN),
                result
                    .message
                    .as_deref()
                    .map_or(String::new(), |m| format!(" — {m}")),
            );
            if result.status == AlignStatus::Failed {
                failures.push(format!(
                    "{name} #{k}: {}",
                    result.message.unwrap_or_default()
                ));
            }
            photo_errors.push(err);
            if first.is_none() {
                first = Some(session);
            }
        }
        let mut sorted = photo_errors.clone();
        sorted.sort_by(f64::total_cmp);
        println!(
            "realdata: {name} ({w}×{h}, skin {:.0} %): median {:.3} px, max {:.3} px",
            100.0 * skin.fraction(),
            sorted[sorted.len() / 2],
            sorted[sorted.len() - 1]
        );
        errors.extend(photo_errors);
        if let Some(session) = first {
            first_sessions.push((name, reference, session));
        }
    }

    // Different people: each portrait's reference against every other portrait's first session.
    let mut unrelated_not_failed = Vec::new();
    for (i, (a, reference, _)) in first_sessions.iter().enumerate() {
        for (j, (b, _, session)) in first_sessions.iter().enumerate() {
            if i == j {
                continue;
            }
            let result = align(reference, session, &options);
            println!(
                "realdata: unrelated {a} vs {b}: {:?} — {}",
                result.status,
                result.message.as_deref().unwrap_or("")
            );
            if result.status != AlignStatus::Failed {
                unrelated_not_failed.push(format!("{a} vs {b}: {:?}", result.status));
            }
        }
    }

    errors.sort_by(f64::total_cmp);
    let median = errors[errors.len() / 2];
    let max = errors[errors.len() - 1];
    println!(
        "realdata: {} transforms of {} portraits: median grid error {median:.3} px, max {max:.3} px, \
         {} failed; {} unrelated pairs not failed; {:.0} s",
        errors.len(),
        photos.len(),
        failures.len(),
        unrelated_not_failed.len(),
        started.elapsed().as_secs_f64()
    );
    let mut ok = true;
    if median > 0.3 {
        println!("realdata: FAILED — median grid error {median:.3} px > 0.3 px");
        ok = false;
    }
    if max > 1.0 {
        println!("realdata: FAILED — max grid error {max:.3} px > 1 px");
        ok = false;
    }
    for f in failures.iter().chain(&unrelated_not_failed) {
        println!("realdata: FAILED — {f}");
        ok = false;
    }
    if ok {
        println!("realdata: ok");
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
