//! µs per sample of the NAM CPU engine, at 64-sample buffers like the core's figures in
//! `../shared/nam/README.md` (group `nam_cpu_buffer64`) and in `../shared/nam/real/README.md`'s
//! table of real captures against the core (group `nam_cpu_real`). Throughput is reported in
//! samples/s; the real-time factor at 48 kHz is throughput / 48,000.
//!
//! `cargo bench -p cubeaudio-benches --bench nam_cpu`
#![allow(missing_docs)] // criterion_group! generates undocumented functions

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use cubeaudio_nam::{load_file, load_str, LoadOptions, Model};

fn shared_root() -> PathBuf {
    std::env::var_os("CUBEAUDIO_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"))
}

fn shared(name: &str) -> PathBuf {
    shared_root().join("nam/models").join(name)
}

/// The captures of `../shared/nam/real/README.md`'s speed table, in its order.
const REAL: [&str; 8] = [
    "kut_std_mesa_v052",
    "pel_lite_m77",
    "pel_feather_od808",
    "mo_nano",
    "mo_a2_container",
    "mo_lstm_1x16",
    "mo_lstm_2x16",
    "pel_w32x12",
];

fn models() -> Vec<(&'static str, Model)> {
    let opts = LoadOptions::default();
    let file = |p: PathBuf| Model::new(load_file(&p, opts).unwrap_or_else(|e| panic!("{e}")).dsp);
    let text = |t: String| Model::new(load_str(&t, opts).unwrap().dsp);
    let mut lite = file(shared("core_A2.nam"));
    lite.set_slim(0.25).unwrap();
    vec![
        ("standard", file(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../cli/examples/models/clean.nam"))),
        ("feather", text(cubeaudio_benches::feather_wavenet())),
        ("a2_full", file(shared("core_A2.nam"))),
        ("a2_lite", lite),
        ("lstm_3x18", text(cubeaudio_benches::lstm_3x18())),
        ("lstm_1x3", file(shared("core_lstm.nam"))),
    ]
}

fn real_models() -> Vec<(&'static str, Model)> {
    let dir = shared_root().join("nam/real/models");
    REAL.iter()
        .map(|name| {
            let path = dir.join(format!("{name}.nam"));
            (*name, Model::new(load_file(&path, LoadOptions::default()).unwrap_or_else(|e| panic!("{e}")).dsp))
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    run_group(c, "nam_cpu_buffer64", models());
    run_group(c, "nam_cpu_real", real_models());
}

fn run_group(c: &mut Criterion, group: &str, models: Vec<(&'static str, Model)>) {
    let samples = 4096;
    let input: Vec<f32> = (0..samples).map(|i| ((i as f32) * 0.031).sin() * 0.4).collect();
    let mut output = vec![0.0f32; samples];
    let mut group = c.benchmark_group(group);
    group.throughput(Throughput::Elements(samples as u64));
    for (name, mut model) in models {
        model.reset(64).unwrap();
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                for (i, o) in input.chunks(64).zip(output.chunks_mut(64)) {
                    model.process(i, o);
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
