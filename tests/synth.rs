//! The synthetic generator's ground truth is exact: what truth.json says is what the pixels show.

use skintex::io::colour::{luminance, srgb_to_linear};
use skintex::synth::{self, SynthConfig, SynthFormat, apply, generate};

/// Linear luminance of a rendered session, with the session's gamma, gain and white balance undone.
fn linear_luminance(samples: &[f32], session: &synth::SessionTruth) -> Vec<f64> {
    samples
        .chunks_exact(3)
        .map(|px| {
            let lin: Vec<f64> = (0..3)
                .map(|c| {
                    srgb_to_linear(f64::from(px[c]).powf(1.0 / session.gamma))
                        / (session.gain * session.white_balance[c])
                })
                .collect();
            f64::from(luminance(lin[0] as f32, lin[1] as f32, lin[2] as f32))
        })
        .collect()
}

fn bilinear(img: &[f64], w: usize, x: f64, y: f64) -> f64 {
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = (x - x0, y - y0);
    let (i, j) = (x0 as usize, y0 as usize);
    let at = |a: usize, b: usize| img[b * w + a];
    (1.0 - fy) * ((1.0 - fx) * at(i, j) + fx * at(i + 1, j))
        + fy * ((1.0 - fx) * at(i, j + 1) + fx * at(i + 1, j + 1))
}

fn pore_test_config() -> SynthConfig {
    SynthConfig {
        patients: 1,
        sessions: 3,
        width: 480,
        height: 360,
        texture_amplitude: [0.0, 0.0],
        scars: 0,
        sensor_noise: 0.0,
        pore_density_per_cm2: 15.0,
        pore_radius_mm: [0.12, 0.3],
        max_rotation_deg: 8.0,
        max_scale_change: 0.08,
        ..SynthConfig::default()
    }
}

#[test]
fn pores_are_drawn_where_truth_says_at_the_stated_radius_and_contrast() {
    let config = pore_test_config();
    let view = &generate(&config).unwrap()[0];
    let (w, h) = (view.truth.width, view.truth.height);
    let mut checked = 0;
    let mut absent_checked = 0;
    for (k, session) in view.truth.sessions.iter().enumerate() {
        let lum = linear_luminance(&view.scene.render(session, k, 0.0), session);
        let scale = (session.matrix[0][0] * session.matrix[1][1]
            - session.matrix[0][1] * session.matrix[1][0])
            .sqrt();
        for pore in &view.truth.pores {
            let (sx, sy) = apply(&session.inverse, pore.x, pore.y);
            let r = pore.radius_px / scale; // radius in session pixels
            let margin = 3.0 * r + 2.0;
            if sx < margin
                || sy < margin
                || sx > w as f64 - 1.0 - margin
                || sy > h as f64 - 1.0 - margin
            {
                continue;
            }
            // Local background: mean of a ring at 2.5 R (pores are sparse here, shading is smooth).
            let ring: f64 = (0..32)
                .map(|i| {
                    let a = f64::from(i) * std::f64::consts::TAU / 32.0;
                    bilinear(&lum, w, sx + 2.5 * r * a.cos(), sy + 2.5 * r * a.sin())
                })
                .sum::<f64>()
                / 32.0;
            let centre = bilinear(&lum, w, sx, sy) / ring;
            if pore.last_session < k {
                assert!(
                    (centre - 1.0).abs() < 0.01,
                    "pore {} should be gone in session {k}: {centre}",
                    pore.id
                );
                absent_checked += 1;
                continue;
            }
            if r < 2.5 {
                continue; // below 2.5 px the 2×2 pixel integration visibly rounds the core
            }
            assert!(
                (centre - (1.0 - pore.contrast)).abs() < 0.01,
                "pore {} session {k}: centre ratio {centre} vs 1 − contrast = {}",
                pore.id,
                1.0 - pore.contrast
            );
            // Half-contrast radius along 8 rays.
            let mut radii = Vec::new();
            for i in 0..8 {
                let a = f64::from(i) * std::f64::consts::TAU / 8.0;
                let mut t = 0.0;
                while t < 2.0 * r {
                    let v = bilinear(&lum, w, sx + t * a.cos(), sy + t * a.sin()) / ring;
                    if 1.0 - v <= pore.contrast / 2.0 {
                        break;
                    }
                    t += 0.02;
                }
                radii.push(t);
            }
            let mean = radii.iter().sum::<f64>() / 8.0;
            assert!(
                (mean - r).abs() / r < 0.05,
                "pore {} session {k}: radius {mean} vs {r}",
                pore.id
            );
            checked += 1;
        }
    }
    assert!(checked > 50, "only {checked} pores checked");
    assert!(
        absent_checked > 5,
        "only {absent_checked} vanished pores checked"
    );
}

#[test]
fn texture_amplitude_is_the_rms_of_log_luminance_and_scales_exactly() {
    let base = SynthConfig {
        patients: 1,
        sessions: 1,
        width: 400,
        height: 300,
        scars: 0,
        pore_density_per_cm2: 0.0,
        sensor_noise: 0.0,
        ..SynthConfig::default()
    };
    let render_log = |amplitude: f64| {
        let config = SynthConfig {
            texture_amplitude: [amplitude, amplitude],
            ..base.clone()
        };
        let view = &generate(&config).unwrap()[0];
        let s = &view.truth.sessions[0];
        assert_eq!(s.texture_amplitude, amplitude);
        linear_luminance(&view.scene.render(s, 0, 0.0), s)
            .iter()
            .map(|v| v.ln())
            .collect::<Vec<f64>>()
    };
    let flat = render_log(0.0);
    let a = render_log(0.05);
    let b = render_log(0.10);
    let rms = |x: &[f64]| {
        let d: Vec<f64> = x.iter().zip(&flat).map(|(v, f)| v - f).collect();
        let mean = d.iter().sum::<f64>() / d.len() as f64;
        (d.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / d.len() as f64).sqrt()
    };
    let (ra, rb) = (rms(&a), rms(&b));
    // Pixel integration (2×2 samples) smooths the finest octave slightly, so the rendered RMS sits a
    // little below the field's; the ratio between two amplitudes is exact up to that same factor.
    assert!(
        (ra - 0.05).abs() / 0.05 < 0.05,
        "rms {ra} for amplitude 0.05"
    );
    assert!((rb / ra - 2.0).abs() < 0.005, "ratio {}", rb / ra);
}

#[test]
fn session_truth_is_consistent() {
    let config = SynthConfig {
        width: 200,
        height: 150,
        sessions: 4,
        ..SynthConfig::default()
    };
    for view in generate(&config).unwrap() {
        let s = &view.truth.sessions;
        assert_eq!(
            s[0].matrix,
            [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
        );
        assert!(s[0].session.ends_with("_baseline"));
        for (k, session) in s.iter().enumerate() {
            let expected =
                s[0].texture_amplitude * config.texture_change_per_session.powi(k as i32);
            assert!((session.texture_amplitude - expected).abs() < 1e-12);
            let counted = view
                .truth
                .pores
                .iter()
                .filter(|p| {
                    p.last_session >= k && p.x >= -0.5 && p.y >= -0.5 && p.x < 199.5 && p.y < 149.5
                })
                .count();
            assert_eq!(session.pore_count_in_baseline_frame, counted);
            if k > 0 {
                assert!(
                    session.pore_count_in_baseline_frame <= s[k - 1].pore_count_in_baseline_frame
                );
                assert_eq!((session.date - s[k - 1].date).get_days(), 28);
            }
        }
        for p in &view.truth.pores {
            assert!((p.radius_mm - p.radius_px * config.mm_per_px).abs() < 1e-12);
        }
    }
}

#[test]
fn written_series_matches_the_input_layout_and_truth() {
    let dir = tempfile::tempdir().unwrap();
    let config = SynthConfig {
        width: 96,
        height: 64,
        views: vec!["front".into(), "left".into()],
        format: SynthFormat::Png16,
        ..SynthConfig::default()
    };
    let truth = synth::write_series(&config, dir.path(), false, &|_| {}).unwrap();
    let on_disk: synth::Truth =
        serde_json::from_slice(&std::fs::read(dir.path().join("truth.json")).unwrap()).unwrap();
    assert!(
        on_disk == truth,
        "truth.json does not read back exactly what was written"
    );
    for patient in &truth.patients {
        let toml =
            std::fs::read_to_string(dir.path().join(&patient.patient).join("series.toml")).unwrap();
        let parsed = skintex::series::SeriesConfig::parse(&toml, "series.toml").unwrap();
        assert_eq!(parsed.mm_per_px, Some(config.mm_per_px));
        for view in &patient.views {
            for s in &view.sessions {
                let photo = skintex::io::load_photo(
                    &dir.path().join(&patient.patient).join(&s.file),
                    &Default::default(),
                )
                .unwrap();
                assert_eq!((photo.width(), photo.height()), (96, 64));
                assert_eq!(photo.meta.bits_per_sample, 16);
                assert_eq!(
                    photo.meta.capture_date,
                    skintex::io::CaptureDate::Taken(s.date.at(10, 0, 0, 0))
                );
            }
        }
    }
    // Writing again into the now non-empty folder needs `overwrite`.
    assert!(matches!(
        synth::write_series(&config, dir.path(), false, &|_| {}),
        Err(synth::SynthError::OutputNotEmpty { .. })
    ));
}

#[test]
fn bundled_fixtures_regenerate_byte_for_byte() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/photos");
    assert!(
        fixtures.join("truth.json").exists(),
        "fixtures/photos is part of the repository"
    );
    let dir = tempfile::tempdir().unwrap();
    synth::write_series(&SynthConfig::default(), dir.path(), false, &|_| {}).unwrap();
    let list = |root: &std::path::Path| {
        let mut files = Vec::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p)
                } else {
                    files.push(p.strip_prefix(root).unwrap().to_path_buf())
                }
            }
        }
        files.sort();
        files
    };
    let expected = list(&fixtures);
    assert_eq!(list(dir.path()), expected);
    for rel in expected {
        assert!(
            std::fs::read(fixtures.join(&rel)).unwrap()
                == std::fs::read(dir.path().join(&rel)).unwrap(),
            "{} differs",
            rel.display()
        );
    }
}
