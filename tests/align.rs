//! Registration accuracy against synthetic series with known transforms, and the quality gate on
//! unrelated pairs.
//!
//! The series span the whole range the product promises: rotation ±15°, scale ±15 %, shift ±15 % of
//! the frame, shear, exposure gain ±30 %, gamma 0.8–1.2, white balance ±8 %, JPEG q85 and sensor noise.
//! Accuracy is the grid error: the largest distance, over a 5 × 5 grid spanning the session photo,
//! between where the estimated and the true matrix put a point.

// Each pair's figures are printed: `cargo test --test align -- --nocapture` shows them.
#![allow(clippy::print_stderr)]

use skintex::align::geometry::{Affine, grid_error};
use skintex::align::{
    AlignOptions, AlignStatus, Alignment, CoarseMethod, Prepared, Reference, align, verify,
};
use skintex::io::{LoadOptions, decode_photo};
use skintex::metrics::skin::SkinMask;
use skintex::synth::{SynthConfig, SynthFormat, SyntheticView, generate, render_encoded};

fn wide_range_config(seed: u64, patients: usize, sessions: usize) -> SynthConfig {
    SynthConfig {
        seed,
        patients,
        sessions,
        width: 1200,
        height: 900,
        format: SynthFormat::Jpeg,
        jpeg_quality: 85,
        max_rotation_deg: 15.0,
        max_scale_change: 0.15,
        max_translation: 0.15,
        max_shear: 0.01,
        max_gain_change: 0.3,
        max_gamma_change: 0.2,
        max_white_balance_change: 0.08,
        ..SynthConfig::default()
    }
}

fn luminance(view: &SyntheticView, session: usize, config: &SynthConfig) -> ndarray::Array2<f32> {
    let bytes = render_encoded(view, session, config).expect("render");
    decode_photo(&bytes, &LoadOptions::default())
        .expect("decode")
        .luminance
}

/// Grid errors of every later session of every view, plus the alignments.
fn align_series(config: &SynthConfig, options: &AlignOptions) -> Vec<(String, f64, Alignment)> {
    let mut out = Vec::new();
    for view in generate(config).expect("config") {
        let reference = Reference::new(luminance(&view, 0, config).view(), None, options);
        for (k, truth) in view.truth.sessions.iter().enumerate().skip(1) {
            let session = Prepared::new(luminance(&view, k, config).view(), options);
            let result = align(&reference, &session, options);
            let expected = Affine::from_matrix3(&truth.matrix);
            let err = grid_error(&result.matrix, &expected, config.width, config.height, 5);
            out.push((format!("{}/{}", view.patient, truth.session), err, result));
        }
    }
    out
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn check_accuracy(results: &[(String, f64, Alignment)]) {
    for (name, err, a) in results {
        eprintln!(
            "{name}: grid error {err:.4} px, {:?}, ncc {:?}, residual {:?}, inliers {}/{} {}",
            a.status,
            a.ncc,
            a.residual_px,
            a.inliers,
            a.matches,
            a.message.as_deref().unwrap_or("")
        );
    }
    let errors: Vec<f64> = results.iter().map(|r| r.1).collect();
    let max = errors.iter().copied().fold(0.0, f64::max);
    let med = median(errors);
    eprintln!(
        "median {med:.4} px, max {max:.4} px over {} pairs",
        results.len()
    );
    assert!(results.iter().all(|r| r.2.status == AlignStatus::Ok));
    assert!(med <= 0.1, "median grid error {med} px");
    assert!(max <= 0.3, "max grid error {max} px");
}

#[test]
fn recovers_known_transforms_across_the_promised_range() {
    let results = align_series(&wide_range_config(11, 4, 4), &AlignOptions::default());
    assert!(results.iter().all(|r| r.2.method == CoarseMethod::Features));
    check_accuracy(&results);
}

/// The fallback alone (keypoints disabled by an unreachable inlier count) must reach the same accuracy
/// over the same range: the direct search only has to land within the refinement's reach.
#[test]
fn direct_search_fallback_recovers_known_transforms() {
    let options = AlignOptions {
        min_inliers: usize::MAX,
        ..AlignOptions::default()
    };
    let results = align_series(&wide_range_config(12, 3, 3), &options);
    assert!(
        results
            .iter()
            .all(|r| r.2.method == CoarseMethod::DirectSearch)
    );
    check_accuracy(&results);
}

#[test]
fn unrelated_pairs_fail() {
    // Two patients with two views each: every cross pairing shows different skin.
    let mut config = wide_range_config(23, 2, 2);
    config.views = vec!["front".into(), "left".into()];
    let options = AlignOptions::default();
    let views = generate(&config).expect("config");
    let references: Vec<Reference> = views
        .iter()
        .map(|v| Reference::new(luminance(v, 0, &config).view(), None, &options))
        .collect();
    let sessions: Vec<Prepared> = views
        .iter()
        .map(|v| Prepared::new(luminance(v, 1, &config).view(), &options))
        .collect();
    let mut checked = 0;
    for (i, reference) in references.iter().enumerate() {
        for (j, session) in sessions.iter().enumerate() {
            let result = align(reference, session, &options);
            let (a, b) = (&views[i], &views[j]);
            eprintln!(
                "{}/{} vs {}/{}: {:?} ncc {:?} residual {:?} inliers {}/{} — {}",
                a.patient,
                a.truth.view,
                b.patient,
                b.truth.view,
                result.status,
                result.ncc,
                result.residual_px,
                result.inliers,
                result.matches,
                result.message.as_deref().unwrap_or("")
            );
            if i == j {
                assert_eq!(result.status, AlignStatus::Ok);
            } else {
                assert_eq!(result.status, AlignStatus::Failed);
                assert!(result.message.is_some());
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 12);
}

/// The gate itself, independent of the keypoint stage: a wrong matrix between photos of the same skin,
/// and any matrix between photos of different skin, must come out `failed`; the true matrix `ok`.
#[test]
fn the_quality_gate_rejects_wrong_matrices() {
    let config = wide_range_config(31, 2, 2);
    let options = AlignOptions::default();
    let views = generate(&config).expect("config");
    let reference = Reference::new(luminance(&views[0], 0, &config).view(), None, &options);
    let same_skin = Prepared::new(luminance(&views[0], 1, &config).view(), &options);
    let other_skin = Prepared::new(luminance(&views[1], 1, &config).view(), &options);
    let truth = Affine::from_matrix3(&views[0].truth.sessions[1].matrix);

    let right = verify(&reference, &same_skin, &truth, &options);
    assert_eq!(right.status, AlignStatus::Ok, "{right:?}");
    // Off by 3 px: fine detail no longer lines up.
    let shifted = Affine::similarity(1.0, 0.0, 3.0, 0.0).after(&truth);
    let off = verify(&reference, &same_skin, &shifted, &options);
    assert_eq!(off.status, AlignStatus::Failed, "{off:?}");
    for matrix in [truth, Affine::IDENTITY] {
        let unrelated = verify(&reference, &other_skin, &matrix, &options);
        assert_eq!(unrelated.status, AlignStatus::Failed, "{unrelated:?}");
        assert!(unrelated.ncc.is_some_and(|v| v < 0.2), "{unrelated:?}");
    }
}

/// Colour matching: after the fitted per-channel gain and gamma, the session's low-passed colours match
/// the baseline's across the overlap, although the synthetic sessions change exposure by up to ±30 %,
/// gamma by ±0.2 and white balance by ±8 %.
#[test]
fn photometric_normalisation_matches_the_baseline_colours() {
    use skintex::align::photometric::{PhotometricMap, Shading, fit};
    use skintex::kernels::warp::{Interpolation, downsample_area, warp};

    let config = wide_range_config(41, 2, 3);
    for view in generate(&config).expect("config") {
        let decode = |k: usize| {
            decode_photo(
                &render_encoded(&view, k, &config).expect("render"),
                &LoadOptions::default(),
            )
            .expect("decode")
        };
        let base = decode(0);
        let base_shading = Shading::new(&base.rgb);
        let skin = SkinMask::detect(&base.rgb);
        for (k, truth) in view.truth.sessions.iter().enumerate().skip(1) {
            let session = decode(k);
            let to_baseline = Affine::from_matrix3(&truth.matrix);
            let map = fit(
                &base_shading,
                &Shading::new(&session.rgb),
                &to_baseline,
                &|x, y| skin.contains(x, y),
            )
            .expect("fit");
            // Compare 16 × 16 block means in the baseline frame, well inside the overlap.
            let up = Affine::block_to_full(16);
            let sample = up
                .inverse()
                .unwrap()
                .after(&to_baseline.inverse().unwrap().after(&up));
            let (bw, bh) = (config.width / 16, config.height / 16);
            let mut before = Vec::new();
            let mut after = Vec::new();
            for c in 0..3 {
                let b = downsample_area(base.rgb[c].view(), 16);
                let s = downsample_area(session.rgb[c].view(), 16);
                let s = warp(
                    s.view(),
                    &sample.to_matrix3(),
                    bh,
                    bw,
                    Interpolation::Bilinear,
                    f32::NAN,
                );
                for y in 2..bh - 2 {
                    for x in 2..bw - 2 {
                        let (bv, sv) = (b[[y, x]], s[[y, x]]);
                        if sv.is_nan() || !(0.01..0.9).contains(&sv) || !(0.01..0.9).contains(&bv) {
                            continue;
                        }
                        before.push((f64::from(bv).ln() - f64::from(sv).ln()).abs());
                        let mapped = map.apply(c, sv);
                        after.push((f64::from(bv).ln() - f64::from(mapped).ln()).abs());
                    }
                }
            }
            assert_ne!(map, PhotometricMap::IDENTITY);
            let (before, after) = (median(before), median(after));
            eprintln!(
                "{} {}: median |log ratio| {before:.4} before, {after:.4} after; gain {:.2} gamma {:.2}",
                view.patient, truth.session, truth.gain, truth.gamma
            );
            assert!(after < 0.02, "after normalisation {after}");
            assert!(after < before / 2.0, "before {before}, after {after}");
        }
    }
}
