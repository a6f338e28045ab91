//! Kernel benchmarks at photo sizes: 12 MP (4000 × 3000) and 2 MP (1632 × 1224) skin-like luminance
//! planes rendered by `synth` (texture, pores, scars, shading, sensor noise: never constant).
//!
//! IDs follow `operation/size/parameter`, e.g. `gaussian/12mp/sigma=8`, so they line up with the
//! peers' rows (`../shared/peers/peer_bench.py`). Thread count: set `RAYON_NUM_THREADS` (the
//! side-by-side script `benches/peers.sh` runs 1 and 2).
//!
//! With `SKINTEX_PEER_INPUTS` set to the peers' `inputs/` folder (as `benches/peers.sh` does), the
//! planes are instead the grey of the peers' own `before_12mp.png` / `before_2mp.png` (0–255 scale,
//! as their f32 rows use), and labelling runs on exactly their mask: black top-hat (disk r = 6 at
//! 12 MP, 2 at 2 MP) above 28 (20 at 2 MP).
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
        let img = plane_cache(size, w, h);
        let mut group = c.benchmark_group(format!("gaussian/{size}"));
        group.sample_size(10);
        group.throughput(Throughput::Elements((w * h) as u64));
        for sigma in [1.0f32, 2.0, 4.0, 8.0, 16.0] {
            group.bench_function(BenchmarkId::from_parameter(format!("sigma={sigma}")), |b| {
                b.iter(|| kernels::gaussian_blur(black_box(img.view()), sigma));
            });
        }
        for sigma in [2.0f32, 4.0, 8.0] {
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

/// Runs `f` on the 12 MP and 2 MP planes under `name/size/param`.
fn bench_both(c: &mut Criterion, name: &str, param: &str, f: impl Fn(&Array2<f32>) -> Array2<f32>) {
    for (size, w, h) in SIZES {
        let img = plane_cache(size, w, h);
        let mut group = c.benchmark_group(format!("{name}/{size}"));
        group.sample_size(10);
        group.throughput(Throughput::Elements((w * h) as u64));
        group.bench_function(BenchmarkId::from_parameter(param), |b| {
            b.iter(|| f(black_box(&img)))
        });
        group.finish();
    }
}

/// The bench planes are expensive to make: make each size once per process.
fn plane_cache(size: &str, w: usize, h: usize) -> Array2<f32> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static CACHE: OnceLock<Mutex<HashMap<String, Array2<f32>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let mut map = cache.lock().expect("bench cache");
    map.entry(size.to_string())
        .or_insert_with(|| peer_plane(size).unwrap_or_else(|| skin_plane(w, h)))
        .clone()
}

/// The grey (0–255, Rec. 601 weights on the encoded values, as OpenCV's `cvtColor`) of the peers'
/// `before_<size>.png`, when `SKINTEX_PEER_INPUTS` points at their inputs.
fn peer_plane(size: &str) -> Option<Array2<f32>> {
    let dir = std::env::var_os("SKINTEX_PEER_INPUTS")?;
    let path = std::path::Path::new(&dir).join(format!("before_{size}.png"));
    let rgb = image::open(&path).ok()?.to_rgb8();
    let (w, h) = (rgb.width() as usize, rgb.height() as usize);
    let grey: Vec<f32> = rgb
        .pixels()
        .map(|p| {
            (0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2])).round()
        })
        .collect();
    Array2::from_shape_vec((h, w), grey).ok()
}

fn derivatives(c: &mut Criterion) {
    bench_both(c, "sobel", "magnitude", |img| {
        kernels::gradient_magnitude(img.view())
    });
    bench_both(c, "log", "sigma=3", |img| {
        kernels::laplacian_of_gaussian(img.view(), 3.0, true)
    });
    bench_both(c, "dog", "sigma=1,4", |img| {
        kernels::difference_of_gaussians(img.view(), 1.0, 4.0)
    });
    bench_both(c, "local_rms", "r=7", |img| {
        kernels::local_rms(img.view(), 7)
    });
}

fn morphology(c: &mut Criterion) {
    bench_both(c, "tophat", "r=6", |img| {
        kernels::black_tophat(img.view(), 6)
    });
    bench_both(c, "tophat", "r=15", |img| {
        kernels::black_tophat(img.view(), 15)
    });
    bench_both(c, "dilate", "r=6", |img| kernels::dilate(img.view(), 6));
}

fn labelling(c: &mut Criterion) {
    for (size, w, h) in SIZES {
        let img = plane_cache(size, w, h);
        let (radius, threshold) = if size == "12mp" { (6, 28.0) } else { (2, 20.0) };
        // Without the peers' inputs the synthetic plane is in [0, 1]: scale it like their u8 grey.
        let scale = if img.iter().any(|&v| v > 1.5) {
            1.0
        } else {
            255.0
        };
        let bh = kernels::black_tophat(img.mapv(|v| v * scale).view(), radius);
        let mask = bh.mapv(|v| v > threshold);
        let mut group = c.benchmark_group(format!("label/{size}"));
        group.sample_size(10);
        group.throughput(Throughput::Elements((w * h) as u64));
        group.bench_function(BenchmarkId::from_parameter("8-conn+stats"), |b| {
            b.iter(|| kernels::label(black_box(mask.view()), None, kernels::Connectivity::Eight));
        });
        // Like for like with OpenCV's connectedComponentsWithStats, which returns a label image.
        group.bench_function(BenchmarkId::from_parameter("8-conn+stats+image"), |b| {
            b.iter(|| {
                let labelling =
                    kernels::label(black_box(mask.view()), None, kernels::Connectivity::Eight);
                (labelling.image(), labelling.components)
            });
        });
        group.finish();
    }
}

/// A similarity transform about the image centre (3° rotation, 2 % scale, a sub-pixel shift).
fn similarity(w: usize, h: usize) -> [[f64; 3]; 3] {
    let (s, c) = (
        3f64.to_radians().sin() * 1.02,
        3f64.to_radians().cos() * 1.02,
    );
    let (cx, cy) = ((w as f64 - 1.0) / 2.0, (h as f64 - 1.0) / 2.0);
    [
        [c, -s, cx - c * cx + s * cy + 4.3],
        [s, c, cy - s * cx - c * cy - 2.7],
        [0.0, 0.0, 1.0],
    ]
}

fn resampling(c: &mut Criterion) {
    for (size, w, h) in SIZES {
        let img = plane_cache(size, w, h);
        let m = similarity(w, h);
        let mut group = c.benchmark_group(format!("warp/{size}"));
        group.sample_size(10);
        group.throughput(Throughput::Elements((w * h) as u64));
        for (name, interp) in [
            ("bilinear", kernels::Interpolation::Bilinear),
            ("bicubic", kernels::Interpolation::Bicubic),
        ] {
            group.bench_function(BenchmarkId::from_parameter(name), |b| {
                b.iter(|| kernels::warp(black_box(img.view()), &m, h, w, interp, 0.0));
            });
        }
        group.finish();
    }
    bench_both(c, "pyrdown", "x2", |img| kernels::pyramid_down(img.view()));
}

criterion_group!(
    benches,
    gaussian,
    derivatives,
    morphology,
    labelling,
    resampling
);
criterion_main!(benches);
