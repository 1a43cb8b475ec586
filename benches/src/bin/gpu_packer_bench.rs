//! GPU benchmark of the warp-alignment packer: the same fused launch of heterogeneous entities
//! under three layouts — naive interleaved (creation order), sorted by type without padding, and
//! the packer's layout (padding at warp ends) — across entity mixes. Writes a Markdown table and
//! JSON.
//!
//! `gpu_packer_bench --runtime cuda --out DIR` (built here, run on the GPU machine).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Result};
use clap::Parser;
use cubeaudio_kernels::fused_entities::{launch_fused_entities, FusedEntities, ENTITY_TYPES};
use cubeaudio_runtime::packer::{pack, Workspace};
use cubecl::prelude::*;
use serde::Serialize;

const WARP: usize = 32;
const WARPS: usize = 32;

#[derive(Parser)]
struct Args {
    /// cuda or wgpu.
    #[arg(long, default_value = "cuda")]
    runtime: String,
    /// Samples each entity runs per launch.
    #[arg(long, default_value_t = 2048)]
    steps: u32,
    /// Instruments (cubes) per launch, each with the same layout.
    #[arg(long, default_value_t = 264)]
    instances: usize,
    /// Timed launches per configuration (median reported).
    #[arg(long, default_value_t = 30)]
    repeats: usize,
    #[arg(long, default_value = "packer-bench")]
    out: PathBuf,
}

#[derive(Serialize)]
struct Row {
    mix: String,
    entities: usize,
    layout: String,
    max_occupancy: usize,
    mean_occupancy: f64,
    median_ms: f64,
    speedup_vs_naive: f64,
}

/// Entity counts per type for each mix.
fn mixes() -> Vec<(&'static str, Vec<u32>)> {
    vec![
        ("small (11×20)", vec![20; 11]),
        ("large (11×93)", vec![93; 11]),
        ("skewed (600 + tail)", vec![600, 120, 80, 60, 40, 30, 25, 20, 15, 10, 4]),
        ("uneven (primes)", vec![97, 89, 83, 79, 73, 71, 67, 61, 59, 53, 47]),
    ]
}

/// Creation order: types interleaved round-robin, as entities are added over time.
fn naive(counts: &[u32]) -> (Vec<u32>, Vec<u32>) {
    let mut left = counts.to_vec();
    let mut types = Vec::new();
    while left.iter().any(|&c| c > 0) {
        for (t, c) in left.iter_mut().enumerate() {
            if *c > 0 {
                *c -= 1;
                types.push(t as u32);
            }
        }
    }
    let mut layout: Vec<u32> = (0..types.len() as u32).collect();
    layout.resize(WARP * WARPS, u32::MAX);
    (types, layout)
}

fn sorted_types(counts: &[u32]) -> Vec<u32> {
    counts.iter().enumerate().flat_map(|(t, &c)| std::iter::repeat_n(t as u32, c as usize)).collect()
}

fn sorted(counts: &[u32]) -> (Vec<u32>, Vec<u32>) {
    let types = sorted_types(counts);
    let mut layout: Vec<u32> = (0..types.len() as u32).collect();
    layout.resize(WARP * WARPS, u32::MAX);
    (types, layout)
}

fn packed(counts: &[u32]) -> Result<(Vec<u32>, Vec<u32>)> {
    let types = sorted_types(counts);
    let mut ws = Workspace::new(counts.len(), WARPS);
    let p = pack(&mut ws, WARP, WARPS, counts, None)?;
    let mut layout = vec![u32::MAX; WARP * WARPS];
    let mut next = 0u32;
    for (w, segs) in p.warps().enumerate() {
        let mut slot = w * WARP;
        for s in segs {
            for _ in 0..s.count {
                layout[slot] = next;
                slot += 1;
                next += 1;
            }
        }
    }
    Ok((types, layout))
}

fn occupancy(types: &[u32], layout: &[u32]) -> (usize, f64) {
    let mut per_warp = Vec::new();
    for warp in layout.chunks(WARP) {
        let mut seen: Vec<u32> = warp.iter().filter(|&&e| e != u32::MAX).map(|&e| types[e as usize]).collect();
        seen.sort();
        seen.dedup();
        if !seen.is_empty() {
            per_warp.push(seen.len());
        }
    }
    let max = per_warp.iter().copied().max().unwrap_or(0);
    (max, per_warp.iter().sum::<usize>() as f64 / per_warp.len().max(1) as f64)
}

fn time_layout<R: Runtime>(client: &ComputeClient<R>, args: &Args, types: &[u32], layout: &[u32]) -> Result<f64> {
    let params: Vec<f32> = (0..2 * types.len()).map(|i| ((i * 7919) % 1000) as f32 / 1000.0).collect();
    let work = FusedEntities::new(client, args.instances, types, &params)?;
    let handle = client.create_from_slice(u32::as_bytes(layout));
    let sync = || cubecl::future::block_on(client.sync()).map_err(|e| anyhow::anyhow!("device error: {e:?}"));
    for _ in 0..3 {
        launch_fused_entities(client, &work, layout, &handle, args.steps)?;
    }
    sync()?;
    let mut times = Vec::with_capacity(args.repeats);
    for _ in 0..args.repeats {
        let start = Instant::now();
        launch_fused_entities(client, &work, layout, &handle, args.steps)?;
        sync()?;
        times.push(start.elapsed().as_secs_f64() * 1e3);
    }
    let out = work.output.read(client, "fused_entities")?;
    if out.iter().any(|v| !v.is_finite()) {
        bail!("non-finite output: a layout left an entity unwritten");
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

fn run<R: Runtime>(client: &ComputeClient<R>, device: String, args: &Args) -> Result<()> {
    let mut rows = Vec::new();
    for (name, counts) in mixes() {
        assert_eq!(counts.len() as u32, ENTITY_TYPES);
        let entities: usize = counts.iter().map(|&c| c as usize).sum();
        let mut naive_ms = 0.0;
        for (layout_name, (types, layout)) in [
            ("naive interleaved", naive(&counts)),
            ("sorted, no padding", sorted(&counts)),
            ("packed", packed(&counts)?),
        ] {
            let ms = time_layout(client, args, &types, &layout)?;
            if layout_name.starts_with("naive") {
                naive_ms = ms;
            }
            let (max_occupancy, mean_occupancy) = occupancy(&types, &layout);
            rows.push(Row {
                mix: name.into(),
                entities,
                layout: layout_name.into(),
                max_occupancy,
                mean_occupancy,
                median_ms: ms,
                speedup_vs_naive: naive_ms / ms,
            });
        }
    }
    let mut md = format!(
        "Device: {device}; {} instruments × 32 warps × 32 threads per launch, {} samples per entity, median of {} launches (launch + sync).\n\n| mix | entities | layout | max occupancy | mean occupancy | median ms | speed-up vs naive |\n|---|---|---|---|---|---|---|\n",
        args.instances, args.steps, args.repeats
    );
    for r in &rows {
        md += &format!(
            "| {} | {} | {} | {} | {:.2} | {:.3} | {:.2}× |\n",
            r.mix, r.entities, r.layout, r.max_occupancy, r.mean_occupancy, r.median_ms, r.speedup_vs_naive
        );
    }
    cubeaudio_benches::write_report(&args.out, "packer-bench", &md, &rows)?;
    Ok(())
}

fn main() -> Result<()> {
    let args = Args::parse();
    cubeaudio_benches::on_runtime!(args.runtime.as_str(), |client, device| run(client, device, &args))
}
