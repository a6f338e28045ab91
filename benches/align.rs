//! Registration speed at 12 MP: preparing one photo's pyramid and keypoints, and a whole pair
//! (both preparations plus the alignment), as the "12 MP pair in ≤ 0.25 s" counts it.
//!
//! Inputs: with `SKINTEX_PEER_INPUTS` set to the peers' `inputs/` folder (as `benches/peers.sh` does),
//! the peers' own `before_12mp.jpg` / `after_12mp.jpg` decoded by skintex, and the accuracy against
//! their `ground_truth.json` is printed in the peers' terms (corner error, before → after) next to the
//! timings. Otherwise a synthetic 4000 × 3000 pair (rotation, scale, shift, gain and gamma change).
//!
//! Run: `cargo bench --bench align`; thread count from `RAYON_NUM_THREADS`.

// Accuracy figures are printed once, beside criterion's timings.
#![allow(clippy::print_stderr)]

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use ndarray::Array2;
use skintex::align::geometry::{Affine, grid_error};
use skintex::align::{AlignOptions, Prepared, Reference, align};
use skintex::io::{LoadOptions, decode_photo};
use skintex::synth::{self, SynthConfig};

struct Pair {
    before: Array2<f32>,
    after: Array2<f32>,
    /// Before pixel → after pixel.
    truth: Affine,
    source: &'static str,
}

fn decode(path: &Path) -> Array2<f32> {
    let bytes = std::fs::read(path).expect("read peer input");
    decode_photo(&bytes, &LoadOptions::default())
        .expect("decode peer input")
        .luminance
}

fn peer_pair() -> Option<Pair> {
    let dir = std::path::PathBuf::from(std::env::var_os("SKINTEX_PEER_INPUTS")?);
    let truth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("ground_truth.json")).ok()?).ok()?;
    let m = &truth["resolutions"]["12mp"]["M_before_to_after"];
    let row =
        |r: usize| -> [f64; 3] { std::array::from_fn(|c| m[r][c].as_f64().unwrap_or(f64::NAN)) };
    Some(Pair {
        before: decode(&dir.join("before_12mp.jpg")),
        after: decode(&dir.join("after_12mp.jpg")),
        truth: Affine {
            m: [row(0), row(1)],
        },
        source: "peers' before_12mp.jpg / after_12mp.jpg",
    })
}

fn synthetic_pair() -> Pair {
    let config = SynthConfig {
        patients: 1,
        sessions: 2,
        width: 4000,
        height: 3000,
        max_rotation_deg: 15.0,
        max_scale_change: 0.15,
        max_translation: 0.15,
        max_gain_change: 0.3,
        max_gamma_change: 0.2,
        ..SynthConfig::default()
    };
    let views = synth::generate(&config).expect("valid bench config");
    let view = &views[0];
    let lum = |k: usize| {
        let bytes = synth::render_encoded(view, k, &config).expect("render");
        decode_photo(&bytes, &LoadOptions::default())
            .expect("decode")
            .luminance
    };
    // The synthetic truth maps session → baseline; the peers' convention is before → after.
    let session_to_baseline = Affine::from_matrix3(&view.truth.sessions[1].matrix);
    Pair {
        before: lum(0),
        after: lum(1),
        truth: session_to_baseline.inverse().expect("invertible truth"),
        source: "synthetic 4000×3000 pair",
    }
}

fn report_accuracy(pair: &Pair, options: &AlignOptions) {
    let reference = Reference::new(pair.before.view(), None, options);
    let session = Prepared::new(pair.after.view(), options);
    let result = align(&reference, &session, options);
    let (h, w) = pair.before.dim();
    let estimate = result.matrix.inverse().unwrap_or(Affine::IDENTITY);
    let corners = [
        (0.0, 0.0),
        (w as f64 - 1.0, 0.0),
        (w as f64 - 1.0, h as f64 - 1.0),
        (0.0, h as f64 - 1.0),
    ];
    let d: Vec<f64> = corners
        .iter()
        .map(|&(x, y)| {
            let (a, b) = estimate.apply(x, y);
            let (c, e) = pair.truth.apply(x, y);
            (a - c).hypot(b - e)
        })
        .collect();
    eprintln!(
        "align accuracy on {}: {:?}, corner error mean {:.4} px, max {:.4} px; 5×5 grid error {:.4} px; \
         ncc {:.3?}, residual {:.3?} px, {} inliers of {} matches",
        pair.source,
        result.status,
        d.iter().sum::<f64>() / 4.0,
        d.iter().copied().fold(0.0, f64::max),
        grid_error(&estimate, &pair.truth, w, h, 5),
        result.ncc,
        result.residual_px,
        result.inliers,
        result.matches,
    );
}

fn bench_align(c: &mut Criterion) {
    let pair = peer_pair().unwrap_or_else(synthetic_pair);
    let options = AlignOptions::default();
    report_accuracy(&pair, &options);
    let mut group = c.benchmark_group("align");
    group.sample_size(20);
    group.bench_function("12mp/prepare", |b| {
        b.iter(|| black_box(Prepared::new(pair.after.view(), &options)));
    });
    let reference = Reference::new(pair.before.view(), None, &options);
    let session = Prepared::new(pair.after.view(), &options);
    group.bench_function("12mp/align_prepared", |b| {
        b.iter(|| black_box(align(&reference, &session, &options)));
    });
    group.bench_function("12mp/pair", |b| {
        b.iter(|| {
            let reference = Reference::new(pair.before.view(), None, &options);
            let session = Prepared::new(pair.after.view(), &options);
            black_box(align(&reference, &session, &options))
        });
    });
    group.finish();
}

criterion_group!(benches, bench_align);
criterion_main!(benches);
