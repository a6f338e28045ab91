//! Metric speed at 12 MP: everything `measure` does for one photo (pseudo-height, ISO S- and
//! L-filters, per-block roughness sums, the dark-blob scale space with its size refinement, pores and
//! scars), then the parts: the scale-limited surface alone and the blob detector alone. The issue's
//! target: all metrics of one 12 MP photo in ≤ 0.2 s on 2 threads.
//!
//! Input: with `SKINTEX_PEER_INPUTS` set to the peers' `inputs/` folder, their `before_12mp.jpg`
//! (a real-skin-like photo the OpenCV reference also measures); otherwise a synthetic 4000 × 3000
//! skin photo from `synth`. Run: `cargo bench --bench metrics`; threads from `RAYON_NUM_THREADS`.
//!
//! The `skintex` binary sets glibc's allocator to keep freed planes (`keep_freed_memory` in
//! `src/main.rs`); a bench binary does not, and then pays for fresh pages on every plane (about a fifth
//! of `all`). To time what the binary does, give the bench the same policy through the environment:
//! `MALLOC_MMAP_THRESHOLD_=1073741824 MALLOC_TRIM_THRESHOLD_=1073741824 MALLOC_ARENA_MAX=1`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use skintex::align::geometry::Affine;
use skintex::io::{LoadOptions, Photo, decode_photo};
use skintex::metrics::blobs;
use skintex::metrics::pigment::HalfColour;
use skintex::metrics::region::BaselineRegion;
use skintex::metrics::surface::{height_map, remove_reference, s_filter};
use skintex::metrics::{MappedSkin, MetricOptions, Scale, measure, summarise_view};
use skintex::synth::{self, SynthConfig};

fn photo() -> (Photo, &'static str) {
    if let Some(dir) = std::env::var_os("SKINTEX_PEER_INPUTS") {
        let path = std::path::Path::new(&dir).join("before_12mp.jpg");
        if let Ok(bytes) = std::fs::read(&path) {
            let photo = decode_photo(&bytes, &LoadOptions::default()).expect("decode peer input");
            return (photo, "peers' before_12mp.jpg");
        }
    }
    let config = SynthConfig {
        patients: 1,
        sessions: 1,
        width: 4000,
        height: 3000,
        ..SynthConfig::default()
    };
    let view = synth::generate(&config).expect("config").remove(0);
    let bytes = synth::render_encoded(&view, 0, &config).expect("render");
    (
        decode_photo(&bytes, &LoadOptions::default()).expect("decode"),
        "synthetic 4000×3000",
    )
}

fn bench(c: &mut Criterion) {
    let (photo, source) = photo();
    let options = MetricOptions::default();
    let scale = Scale::new(None);
    let px_per_mm = 1.0 / scale.mm_per_px();
    let frame =
        BaselineRegion::new(&photo.rgb, photo.luminance.view(), &scale, None, &options).frame;
    let mut group = c.benchmark_group(format!("metrics/12mp ({source})"));
    group.sample_size(10);
    // The colour's half-resolution copy is made by the pipeline as the photo is decoded, not by
    // the metrics.
    let colour = HalfColour::new(&photo.rgb);
    group.bench_function("all", |b| {
        b.iter(|| {
            let m = measure(
                photo.luminance.view(),
                &colour,
                &frame,
                &scale,
                &Affine::IDENTITY,
                1.0,
                &options,
            );
            black_box(summarise_view(&frame, &scale, &[&m], &options).ok())
        });
    });
    // The skin mask, the face detector beside it and the frame: the region as the pipeline builds it.
    group.bench_function("skin_mask+frame", |b| {
        b.iter(|| {
            black_box(BaselineRegion::new(
                &photo.rgb,
                photo.luminance.view(),
                &scale,
                None,
                &options,
            ))
        });
    });
    group.bench_function("surface", |b| {
        b.iter(|| {
            let height = height_map(photo.luminance.view(), 1.0);
            let smoothed = s_filter(height.view(), options.s_filter_mm * px_per_mm);
            black_box(remove_reference(
                smoothed,
                options.l_filter_mm * px_per_mm,
                MappedSkin::new(&frame, Affine::IDENTITY),
            ))
        });
    });
    let height = height_map(photo.luminance.view(), 1.0);
    let detect = options.detect_options(px_per_mm);
    group.bench_function("blobs", |b| {
        b.iter(|| {
            black_box(blobs::detect(
                height.view(),
                &detect,
                &MappedSkin::new(&frame, Affine::IDENTITY),
            ))
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
