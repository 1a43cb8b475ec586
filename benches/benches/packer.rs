//! Time of one exact packing on the CPU (it runs on the audio thread when entities change).
//!
//! `cargo bench -p cubeaudio-benches --bench packer`
#![allow(missing_docs)] // criterion_group! generates undocumented functions

use criterion::{criterion_group, criterion_main, Criterion};
use cubeaudio_runtime::packer::{pack, Workspace};

fn bench(c: &mut Criterion) {
    // ~11 entity types of an instrument in 32 warps of 32 threads (the published setting).
    let small: Vec<u32> = vec![200, 3, 57, 90, 1, 64, 130, 12, 40, 77, 300];
    let mut ws = Workspace::new(small.len(), 32);
    c.bench_function("pack_11_types_32_warps", |b| {
        b.iter(|| pack(&mut ws, 32, 32, std::hint::black_box(&small), None).map(|p| p.max_occupancy))
    });
    let costs: Vec<u32> = (0..11).map(|i| 20 + 7 * i).collect();
    c.bench_function("pack_11_types_32_warps_costs", |b| {
        b.iter(|| pack(&mut ws, 32, 32, std::hint::black_box(&small), Some(&costs)).map(|p| p.max_cost))
    });
    let large: Vec<u32> = (0..64u32).map(|i| (i * 7919 % 900) + 1).collect();
    let mut ws = Workspace::new(64, 1024);
    c.bench_function("pack_64_types_1024_warps", |b| {
        b.iter(|| pack(&mut ws, 32, 1024, std::hint::black_box(&large), None).map(|p| p.max_occupancy))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
