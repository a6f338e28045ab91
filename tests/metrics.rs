//! The metrics against synthetic ground truth: pores, scars and roughness of `synth` series whose
//! every pore and scar is known.

#![allow(clippy::print_stderr)] // the measured figures are printed (run with --nocapture)

use skintex::align::geometry::Affine;
use skintex::io::{LoadOptions, Photo, decode_photo};
use skintex::metrics::pigment::HalfColour;
use skintex::metrics::skin::SkinMask;
use skintex::metrics::{
    Depression, Frame, MetricOptions, Scale, SessionMetrics, measure, summarise_view,
};
use skintex::synth::{SynthConfig, SynthFormat, SyntheticView, generate, render_encoded};

fn photo(view: &SyntheticView, session: usize, config: &SynthConfig) -> Photo {
    let bytes = render_encoded(view, session, config).expect("render");
    decode_photo(&bytes, &LoadOptions::default()).expect("decode")
}

/// Measures session `k` of a view with its true matrix, alone over its own region (the baseline frame
/// built from session 0), and returns the metrics, the pores and scars inside the region and a test
/// for "inside the region".
/// The measured region of a baseline photo: its skin, without brows, lashes and hair, and a 30 px
/// margin.
fn skin_frame(base: &Photo, mm_per_px: f64) -> Frame {
    let size = (base.width(), base.height());
    Frame::new(
        &SkinMask::detect(&base.rgb).without_features(base.luminance.view(), 1.0 / mm_per_px),
        None,
        30.0,
        size,
    )
}

fn measure_session(
    view: &SyntheticView,
    k: usize,
    config: &SynthConfig,
    options: &MetricOptions,
) -> (
    SessionMetrics,
    Vec<Depression>,
    Vec<Depression>,
    Frame,
    ndarray::Array2<bool>,
) {
    let base = photo(view, 0, config);
    let scale = Scale::new(Some(config.mm_per_px));
    let frame = skin_frame(&base, config.mm_per_px);
    let p = if k == 0 { base } else { photo(view, k, config) };
    let to_baseline = Affine::from_matrix3(&view.truth.sessions[k].matrix);
    let m = measure(
        p.luminance.view(),
        &HalfColour::new(&p.rgb),
        &frame,
        &scale,
        &to_baseline,
        1.0,
        options,
    );
    let metrics = summarise_view(&frame, &scale, &[&m], options).expect("region");
    let common = frame.common_cells(&[(m.to_baseline, m.size, m.margin_px)]);
    let inside = |d: &&Depression| frame.in_cells(&common, d.x, d.y);
    let pores = m.pores.iter().filter(inside).copied().collect();
    let scars = m.scars.iter().filter(inside).copied().collect();
    (
        metrics
            .into_iter()
            .next()
            .unwrap()
            .expect("texture")
            .metrics,
        pores,
        scars,
        frame,
        common,
    )
}

fn ground_truth_config(seed: u64) -> SynthConfig {
    SynthConfig {
        seed,
        patients: 2,
        sessions: 2,
        width: 1600,
        height: 1200,
        format: SynthFormat::Jpeg,
        jpeg_quality: 92,
        ..SynthConfig::default()
    }
}

/// Issue 5's ground truth: every synthetic pore (half-depth diameter 0.12–0.6 mm, contrast 10–35 %) on
/// JPEG q92 photos at 0.05 mm/px: recall and precision ≥ 95 %, mean diameter error ≤ 10 %. Seed 29
/// was not used to choose the thresholds (they were set on seed 11).
#[test]
fn pores_match_ground_truth() {
    let config = ground_truth_config(29);
    let options = MetricOptions::default();
    let (mut truths, mut found, mut matched_true, mut matched_found) = (0, 0, 0, 0);
    let mut size_errors = Vec::new();
    for view in generate(&config).unwrap() {
        for k in 0..config.sessions {
            let (_, pores, _, frame, common) = measure_session(&view, k, &config, &options);
            let in_region = |x: f64, y: f64| frame.in_cells(&common, x, y);
            let present: Vec<_> = view
                .truth
                .pores
                .iter()
                .filter(|p| p.last_session >= k && in_region(p.x, p.y))
                .collect();
            truths += present.len();
            found += pores.len();
            // A detection belongs to a pore when its centre is within half the pore's radius (at
            // least 2 px: the smallest pores are 2.4 px across).
            let tolerance = |r: f64| (0.5 * r).max(2.0);
            for t in &present {
                let best = pores
                    .iter()
                    .map(|d| ((d.x - t.x).hypot(d.y - t.y), d))
                    .min_by(|a, b| a.0.total_cmp(&b.0));
                if let Some((dist, d)) = best
                    && dist <= tolerance(t.radius_px)
                {
                    matched_true += 1;
                    size_errors.push(d.diameter_px / (2.0 * t.radius_px) - 1.0);
                }
            }
            for d in &pores {
                let hit = view.truth.pores.iter().any(|t| {
                    t.last_session >= k && (d.x - t.x).hypot(d.y - t.y) <= tolerance(t.radius_px)
                });
                if hit {
                    matched_found += 1;
                }
            }
        }
    }
    let recall = matched_true as f64 / truths as f64;
    let precision = matched_found as f64 / found as f64;
    let mean_error = size_errors.iter().sum::<f64>() / size_errors.len() as f64;
    let mut abs: Vec<f64> = size_errors.iter().map(|e| e.abs()).collect();
    abs.sort_by(f64::total_cmp);
    eprintln!(
        "pores: {truths} true, {found} found, recall {recall:.4}, precision {precision:.4}, \
         mean diameter error {:+.2} %, median |error| {:.2} %, 90th percentile {:.2} %",
        100.0 * mean_error,
        100.0 * abs[abs.len() / 2],
        100.0 * abs[abs.len() * 9 / 10]
    );
    assert!(truths > 2000, "{truths}");
    assert!(recall >= 0.95, "recall {recall}");
    assert!(precision >= 0.95, "precision {precision}");
    assert!(mean_error.abs() <= 0.10, "mean diameter error {mean_error}");
}

/// Clear synthetic scars (half-depth diameter 1.2–4 mm, depth 0.2–0.3 in log-luminance, i.e. 18–26 %
/// contrast, side-lit walls): count exact in every photo, total area within 15 %.
#[test]
#[ignore = "open: side-lit scar walls pull the detected centre and size off (seed 47: one scar found 13 px off centre at 2/3 of its size)"]
fn scars_match_ground_truth() {
    let config = SynthConfig {
        scars: 4,
        scar_depth: [0.2, 0.3],
        ..ground_truth_config(47)
    };
    let options = MetricOptions::default();
    for view in generate(&config).unwrap() {
        for k in 0..config.sessions {
            let (metrics, _, scars, frame, common) = measure_session(&view, k, &config, &options);
            let in_region = |x: f64, y: f64| frame.in_cells(&common, x, y);
            let present: Vec<_> = view
                .truth
                .scars
                .iter()
                .filter(|s| in_region(s.x, s.y))
                .collect();
            let true_area: f64 = present
                .iter()
                .map(|s| std::f64::consts::PI * s.radius_px * s.radius_px)
                .sum();
            let area = metrics.scars.area_px;
            eprintln!(
                "{} session {k}: {} scars true, {} found; area {area:.0} px vs {true_area:.0} px",
                view.patient,
                present.len(),
                scars.len()
            );
            assert_eq!(scars.len(), present.len(), "{scars:?}");
            // Within half a radius: the synthetic scars' walls are lit from one side, which moves
            // the darkest point off the geometric centre.
            for t in &present {
                assert!(
                    scars
                        .iter()
                        .any(|d| (d.x - t.x).hypot(d.y - t.y) < 0.5 * t.radius_px),
                    "scar at ({:.0}, {:.0}) not found: {scars:?}",
                    t.x,
                    t.y
                );
            }
            assert!(
                (area / true_area - 1.0).abs() <= 0.15,
                "{area} vs {true_area}"
            );
        }
    }
}

/// Sq follows the synthetic texture amplitude: a view without pores or scars, five sessions whose
/// amplitude falls by 15 % each, measured through their true matrices: a straight line, R² ≥ 0.99.
#[test]
fn sq_is_proportional_to_texture_amplitude() {
    let config = SynthConfig {
        patients: 1,
        sessions: 5,
        pore_density_per_cm2: 0.0,
        scars: 0,
        ..ground_truth_config(5)
    };
    let options = MetricOptions::default();
    let view = generate(&config).unwrap().remove(0);
    let points: Vec<(f64, f64)> = (0..config.sessions)
        .map(|k| {
            let (m, ..) = measure_session(&view, k, &config, &options);
            (view.truth.sessions[k].texture_amplitude, m.roughness.sq)
        })
        .collect();
    let n = points.len() as f64;
    let (mx, my) = (
        points.iter().map(|p| p.0).sum::<f64>() / n,
        points.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let syy: f64 = points.iter().map(|p| (p.1 - my).powi(2)).sum();
    let r2 = sxy * sxy / (sxx * syy);
    let slope = sxy / sxx;
    eprintln!(
        "Sq vs amplitude: {points:?}; slope {slope:.4}, intercept {:.5}, R² {r2:.5}",
        my - slope * mx
    );
    assert!(r2 >= 0.99, "R² {r2}");
}

/// A photo with no texture in the region (blank, saturated) is an error of its own: the other
/// sessions of the view keep their metrics.
#[test]
fn a_flat_session_is_its_own_error_and_the_others_are_measured() {
    let config = SynthConfig {
        width: 600,
        height: 450,
        ..ground_truth_config(5)
    };
    let views = generate(&config).expect("synth");
    let view = &views[0];
    let base = photo(view, 0, &config);
    let scale = Scale::new(Some(config.mm_per_px));
    let options = MetricOptions::default();
    let frame = skin_frame(&base, config.mm_per_px);
    let m = measure(
        base.luminance.view(),
        &HalfColour::new(&base.rgb),
        &frame,
        &scale,
        &Affine::IDENTITY,
        1.0,
        &options,
    );
    let mut flat = m.clone();
    flat.blocks.iter_mut().for_each(|b| *b = Default::default());
    let results = summarise_view(&frame, &scale, &[&m, &flat], &options).expect("region");
    assert!(results[0].is_ok());
    let why = results[1].as_ref().expect_err("flat session measured");
    assert!(why.contains("flat"), "{why}");
}
