//! Takes one null look of the real-portrait metric suite (`tests/realmetrics.rs`) apart.
//!
//! A null look changes a portrait's geometry, exposure and JPEG quality at once, and the suite only
//! says how far the metrics moved in all. This runs the portrait through the whole pipeline (as the
//! suite does: discovery, decoding, registration, photometric map, metrics) with sessions that each
//! change one thing — the JPEG quality, the exposure, the warp, its scale alone, its rotation and
//! shift alone, a half-pixel shift, shifts by whole pixels (which resample nothing) — and prints how
//! far each moves Sq, Sa, the pore count and the scar area from the original file.
//!
//! ```text
//! cargo run --release --example null_looks -- ../shared/realdata/pexels-mateus-souza-3586798.jpg 2 0
//! ```
//!
//! The second argument is the portrait's place in the suite's sorted list (it seeds the portrait's
//! looks), the third which of its three null looks (0–2); both default to 0. Each session's region is
//! the one all of them share, as in the suite, so the baseline's figures depend on the set of
//! sessions. A development aid: it asserts nothing.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use skintex::align::geometry::Affine;
use skintex::io::{LoadOptions, decode_photo};

#[path = "../tests/common/session.rs"]
mod session;
use session::Look;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        eprintln!("usage: null_looks PORTRAIT.jpg [INDEX [LOOK]]");
        return ExitCode::from(2);
    };
    let number = |i: usize, what: &str, max: u64| -> Result<u64, String> {
        args.get(i).map_or(Ok(0), |a| match a.parse::<u64>() {
            Ok(n) if n <= max => Ok(n),
            _ => Err(format!(
                "{what} must be a whole number from 0 to {max}, not {a:?}"
            )),
        })
    };
    let (index, which) = match (number(1, "INDEX", 1_000), number(2, "LOOK", 2)) {
        (Ok(i), Ok(l)) => (i, l as usize),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("null_looks: {e}");
            return ExitCode::from(2);
        }
    };
    match run(path, index, which) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("null_looks: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(path: &str, index: u64, which: usize) -> Result<(), String> {
    let original = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let photo = decode_photo(&original, &LoadOptions::default())
        .map_err(|e| format!("cannot decode {path}: {e}"))?;
    let (h, w) = photo.luminance.dim();
    // The same draws as the suite: three null looks in a row from the portrait's seed.
    let mut rng = ChaCha8Rng::seed_from_u64(session::NULL_LOOK_SEED + index);
    let looks: Vec<Look> = (0..3).map(|_| session::null_look(&mut rng, w, h)).collect();
    let look = looks[which].clone();
    let geometry = look.to_baseline;
    let scale = geometry.scale();
    let about_centre = |s: f64| session::about_centre((w, h), s, 0.0, (0.0, 0.0));
    let at_q100 = |to_baseline: Affine| Look {
        to_baseline,
        ..Look::identity(100)
    };
    let shift = |dx: f64, dy: f64| at_q100(Affine::similarity(1.0, 0.0, dx, dy));
    println!(
        "null look {which} of portrait {index}: scale {scale:.4}, gain {:.3}, gamma {:.3}, white \
         balance {:.3}/{:.3}, JPEG q{}",
        look.gain, look.gamma, look.white_balance[0], look.white_balance[2], look.quality
    );
    let sessions: Vec<(String, Look)> = vec![
        ("re-encoded q100".into(), Look::identity(100)),
        ("re-encoded q95".into(), Look::identity(95)),
        (
            format!("JPEG q{} only", look.quality),
            Look::identity(look.quality),
        ),
        (
            "exposure only".into(),
            Look {
                gain: look.gain,
                gamma: look.gamma,
                white_balance: look.white_balance,
                ..Look::identity(100)
            },
        ),
        ("warp only".into(), at_q100(geometry)),
        ("its scale only".into(), at_q100(about_centre(scale))),
        (
            "its rotation and shift only".into(),
            // The look's own map with its scale taken out first: T(c + t)·R·S·T(−c) after
            // T(c)·S⁻¹·T(−c) is T(c + t)·R·T(−c), the same rotation and shift.
            at_q100(geometry.after(&about_centre(1.0 / scale))),
        ),
        ("half-pixel shift".into(), shift(0.5, 0.5)),
        ("whole-pixel shift (1, 1)".into(), shift(1.0, 1.0)),
        ("whole-pixel shift (3, 5)".into(), shift(3.0, 5.0)),
        ("whole-pixel shift (16, 16)".into(), shift(16.0, 16.0)),
        ("the whole look".into(), look),
    ];
    let labels: Vec<String> = (0..sessions.len()).map(|i| format!("s{i}")).collect();
    let runs: Vec<(&str, &Look)> = labels
        .iter()
        .zip(&sessions)
        .map(|(label, (_, look))| (label.as_str(), look))
        .collect();
    let (baseline, measured) = session::run_patient(&original, &photo, &runs)?;
    println!(
        "original file: Sq {:.5}, Sa {:.5}, {} pores, {} scars ({:.0} px²)",
        baseline.roughness.sq,
        baseline.roughness.sa,
        baseline.pores.count,
        baseline.scars.count,
        baseline.scars.area_px
    );
    let percent = |v: f64, base: f64| 100.0 * (v / base - 1.0);
    for ((name, _), metrics) in sessions.iter().zip(&measured) {
        let Some(m) = metrics else {
            println!("{name:>28}: not measured");
            continue;
        };
        println!(
            "{name:>28}: Sq {:+6.2} %, Sa {:+6.2} %, pores {:+6.2} % ({}), scar area {:+7.2} % ({})",
            percent(m.roughness.sq, baseline.roughness.sq),
            percent(m.roughness.sa, baseline.roughness.sa),
            percent(m.pores.count as f64, baseline.pores.count as f64),
            m.pores.count,
            percent(m.scars.area_px, baseline.scars.area_px),
            m.scars.count
        );
    }
    Ok(())
}
