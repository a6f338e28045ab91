//! Kernel benchmarks at photo sizes: 12 MP (4000 × 3000) and 2 MP (1632 × 1224) skin-like luminance
//! planes rendered by `synth` (texture, pores, scars, shading, sensor noise: never constant).
//!
//! IDs follow `operation/size/parameter`, e.g. `gaussian/12mp/sigma=8`, so they line up with the
//! peers' rows (`../shared/peers/peer_bench.py`). Thread count: set `RAYON_NUM_THREADS` (the
//! side-by-side script `benches/peers.sh` runs 1 and 2).
//!
//! Run: `cargo bench --bench kernels` (all) or `cargo bench --bench kernels -- gaussian/12mp`.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ndarray::Array2;
use skintex::io::colour::{luminance, srgb_to_linear};
use skintex::kernels;
use skintex::synth::{self, SynthConfig};

/// A linear-luminance plane of synthetic skin.
fn skin_plane(width: usize, height: usize) -> Array2<f32> {
    let config = SynthConfig {
        patients: 1,
        sessions: 1,
        width,
        height,
        ..SynthConfig::default()
    };
    let views = synth::generate(&config).expect("valid bench config");
    let view = &views[0];
    let rgb = view
        .scene
        .render(&view.truth.sessions[0], 0, config.sensor_noise);
    let lin: Vec<f32> = rgb
        .chunks_exact(3)
        .map(|p| {
            let c = |v: f32| srgb_to_linear(f64::from(v)) as f32;
            luminance(c(p[0]), c(p[1]), c(p[2]))
        })
        .collect();
    Array2::from_shape_vec((height, width), lin).expect("shape")
}

const SIZES: [(&str, usize, usize); 2] = [("12mp", 4000, 3000), ("2mp", 1632, 1224)];

fn gaussian(c: &mut Criterion) {
    for (size, w, h) in SIZES {
        let img = skin_plane(w, h);
        let mut group = c.benchmark_group(format!("gaussian/{size}"));
        group.sample_size(10);
        group.throughput(Throughput::Elements((w * h) as u64));
        for sigma in [1.0f32, 2.0, 4.0, 8.0, 16.0] {
            group.bench_function(BenchmarkId::from_parameter(format!("sigma={sigma}")), |b| {
                b.iter(|| kernels::gaussian_blur(black_box(img.view()), sigma));
            });
        }
        for sigma in [2.0f32, 4.0] {
            group.bench_function(
                BenchmarkId::from_parameter(format!("sampled-sigma={sigma}")),
                |b| {
                    b.iter(|| {
                        kernels::gaussian_blur_with(
                            black_box(img.view()),
                            sigma,
                            kernels::GaussianMethod::Sampled,
                        )
                    });
                },
            );
            group.bench_function(
                BenchmarkId::from_parameter(format!("recursive-sigma={sigma}")),
                |b| {
                    b.iter(|| {
                        kernels::gaussian_blur_with(
                            black_box(img.view()),
                            sigma,
                            kernels::GaussianMethod::Recursive,
                        )
                    });
                },
            );
        }
        group.finish();
    }
}

criterion_group!(benches, gaussian);
criterion_main!(benches);
