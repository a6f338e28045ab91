//! Ingest benchmarks: decoding a photo into linear `f32` planes, series discovery, and the synthetic
//! renderer that tests and fixtures are built from.
//!
//! Inputs are synthetic skin photos (non-constant texture, pores, scars, sensor noise) rendered once at
//! start-up at 12 MP (4000 × 3000) and 2 MP (1632 × 1224). Run: `cargo bench --bench ingest`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use skintex::io::{LoadOptions, decode_photo};
use skintex::synth::{self, SynthConfig, SynthFormat};

fn photo_bytes(width: usize, height: usize, format: SynthFormat) -> Vec<u8> {
    let config = SynthConfig {
        patients: 1,
        sessions: 1,
        width,
        height,
        format,
        ..SynthConfig::default()
    };
    let views = synth::generate(&config).expect("valid bench config");
    synth::render_encoded(&views[0], 0, &config).expect("encodable")
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    group.sample_size(10);
    for (label, w, h, format) in [
        ("12mp/jpeg", 4000, 3000, SynthFormat::Jpeg),
        ("2mp/jpeg", 1632, 1224, SynthFormat::Jpeg),
        ("2mp/png", 1632, 1224, SynthFormat::Png),
    ] {
        let bytes = photo_bytes(w, h, format);
        group.throughput(Throughput::Elements((w * h) as u64));
        group.bench_function(label, |b| {
            b.iter(|| decode_photo(black_box(&bytes), &LoadOptions::default()).expect("decodes"));
        });
    }
    group.finish();
}

fn discover(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = SynthConfig {
        patients: 25,
        sessions: 4,
        width: 32,
        height: 24,
        ..SynthConfig::default()
    };
    synth::write_series(&config, dir.path(), false, &|_| {}).expect("series written");
    let mut group = c.benchmark_group("discover");
    group.throughput(Throughput::Elements(100));
    group.bench_function("25_patients_x_4_sessions", |b| {
        b.iter(|| skintex::series::discover(black_box(dir.path())).expect("discovers"));
    });
    group.finish();
}

fn render(c: &mut Criterion) {
    let config = SynthConfig {
        patients: 1,
        sessions: 2,
        width: 1632,
        height: 1224,
        ..SynthConfig::default()
    };
    let views = synth::generate(&config).expect("valid bench config");
    let view = &views[0];
    let mut group = c.benchmark_group("synth");
    group.sample_size(10);
    group.throughput(Throughput::Elements((config.width * config.height) as u64));
    group.bench_function("render/2mp", |b| {
        b.iter(|| view.scene.render(&view.truth.sessions[1], 1, 1.0));
    });
    group.finish();
}

criterion_group!(benches, decode, discover, render);
criterion_main!(benches);
