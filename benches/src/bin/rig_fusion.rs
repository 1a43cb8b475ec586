//! What fusing a graph buys, on the device.
//!
//! 1. Rigs (`--rigs`, JSON files; NAM and IR types included) compiled with each fusion mode, for
//!    each instance count (`--instances`, copies of the rig in one graph): launches per buffer
//!    (counted by the graph), the median and p99 of one buffer processed and read back (the
//!    round trip a player pays; `cubeaudio bench --rig`'s timing), and the time per buffer with
//!    200 buffers queued.
//! 2. The pedal stage alone (eight pedals of seven kinds, the blends and a level, as in
//!    `pedals.json`) as one graph program, its stage laid out by the packer against creation
//!    order, each instance's arena in device or in shared memory, for 1 and 1,000 instances in
//!    the same launch: device time per launch with 200 launches queued, every layout's output
//!    checked bit for bit against the first's of the same arena placement.
//!
//! `rig_fusion --runtime cuda --rigs a.json,b.json --out DIR` (built here, run on the GPU machine).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Parser;
use cubeaudio::rig_bench::{percentile, time_buffers};
use cubeaudio_kernels::graph_program::{
    DeviceKindSet, GraphProgram, ProgramItem, ProgramSpec, UnrollStreams, KIND_BIQUAD, KIND_COMPRESSOR, KIND_DRIVE,
    KIND_ECHO, KIND_GAIN, KIND_GATE, KIND_MIX, KIND_PARAMS, KIND_TREMOLO,
};
use cubeaudio_kernels::util::Buffer;
use cubeaudio_nam::gpu::processor::registry;
use cubeaudio_runtime::graph::{stage_layout, CompiledGraph, Fusion, GraphOptions, GraphSpec};
use cubeaudio_runtime::program_type::KIND_COSTS;
use cubeaudio_runtime::Engine;
use cubecl::prelude::*;
use serde::Serialize;

#[derive(Parser)]
struct Args {
    /// cuda or wgpu.
    #[arg(long, default_value = "cuda")]
    runtime: String,
    /// Rig files, comma-separated.
    #[arg(long, value_delimiter = ',')]
    rigs: Vec<PathBuf>,
    /// Frames per buffer.
    #[arg(long, default_value_t = 128)]
    buffer: usize,
    /// Timed buffers per configuration.
    #[arg(long, default_value_t = 1000)]
    buffers: usize,
    /// Instances of each rig run together, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,1000")]
    instances: Vec<usize>,
    #[arg(long, default_value = "rig-fusion")]
    out: PathBuf,
}

#[derive(Serialize)]
struct RigRow {
    rig: String,
    instances: usize,
    fusion: String,
    launches: u32,
    sync_p50_us: f64,
    sync_p99_us: f64,
    queued_us: f64,
}

#[derive(Serialize)]
struct StageRow {
    layout: String,
    /// Where each instance's arena lives during the launch: "device" or "shared" memory.
    arena: &'static str,
    instances: usize,
    stage_warps: usize,
    stage_mixed_warps: usize,
    stage_max_cost: u64,
    queued_us: f64,
}

const FUSIONS: [(Fusion, &str); 3] =
    [(Fusion::Packed, "packed"), (Fusion::CreationOrder, "creation order"), (Fusion::Off, "off")];

fn rig_rows<R: Runtime>(engine: &Engine<R>, args: &Args) -> Result<Vec<RigRow>> {
    let mut rows = Vec::new();
    let n = args.buffer;
    for path in &args.rigs {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let spec = GraphSpec::from_json(&text)?;
        let dir = path.parent().unwrap_or(std::path::Path::new(".")).to_path_buf();
        for (&instances, (fusion, name)) in args.instances.iter().flat_map(|n| FUSIONS.iter().map(move |f| (n, f))) {
            let options = GraphOptions { fusion: *fusion, instances, ..GraphOptions::new(48_000.0, n, dir.clone()) };
            let mut g = CompiledGraph::compile(engine, &registry::<R>(), &spec, &options)?;
            let (times, launches) = time_buffers(engine, &mut g, n, args.buffers)?;
            let x: Vec<Vec<f32>> = vec![vec![0.1; n]; g.input_channels()];
            let inputs: Vec<&[f32]> = x.iter().map(Vec::as_slice).collect();
            let mut y = vec![vec![0.0f32; n]; g.output_channels()];
            let start = Instant::now();
            let pending = (0..200).map(|_| g.process_async(engine, &inputs)).collect::<Result<Vec<_>, _>>()?;
            for p in pending {
                let mut outs: Vec<&mut [f32]> = y.iter_mut().map(|v| v.as_mut_slice()).collect();
                p.wait(&mut outs)?;
            }
            let row = RigRow {
                rig: path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default(),
                instances,
                fusion: name.to_string(),
                launches,
                sync_p50_us: percentile(&times, 0.5),
                sync_p99_us: percentile(&times, 0.99),
                queued_us: start.elapsed().as_secs_f64() * 1e6 / 200.0,
            };
            println!(
                "{:<16} ×{:<5} {:<15} {:>3} launches, round trip p50 {:8.1} µs p99 {:8.1} µs, queued {:8.1} µs",
                row.rig, row.instances, row.fusion, row.launches, row.sync_p50_us, row.sync_p99_us, row.queued_us
            );
            rows.push(row);
        }
    }
    Ok(rows)
}

/// The pedal stage of `pedals.json` as kernel items: 8 pedals on slot 1, two blends, a blend
/// and a level; parameters at typical settings.
fn pedal_items() -> (Vec<ProgramItem>, Vec<Vec<u32>>, Vec<f32>) {
    let one = |kind, output, input| ProgramItem {
        kind,
        output,
        inputs: [input, 0, 0, 0],
        ring: if kind == KIND_ECHO { 32_768 } else { 0 },
    };
    let pedals = [KIND_GATE, KIND_COMPRESSOR, KIND_DRIVE, KIND_TREMOLO, KIND_ECHO, KIND_BIQUAD, KIND_BIQUAD, KIND_GAIN];
    let mut items: Vec<ProgramItem> = pedals.iter().enumerate().map(|(k, &kind)| one(kind, 2 + k as u32, 1)).collect();
    items.push(ProgramItem { kind: KIND_MIX, output: 10, inputs: [2, 3, 4, 5], ring: 0 });
    items.push(ProgramItem { kind: KIND_MIX, output: 11, inputs: [6, 7, 8, 9], ring: 0 });
    items.push(ProgramItem { kind: KIND_MIX, output: 12, inputs: [10, 11, 0, 0], ring: 0 });
    items.push(one(KIND_GAIN, 13, 12));
    let stages = vec![(0..8).collect(), vec![8, 9], vec![10], vec![11]];
    let params: Vec<f32> = items.iter().flat_map(|item| cubeaudio_benches::typical_params(item.kind)).collect();
    assert_eq!(params.len(), items.iter().map(|i| KIND_PARAMS[i.kind as usize]).sum::<usize>());
    (items, stages, params)
}

fn stage_rows<R: Runtime>(client: &ComputeClient<R>, args: &Args) -> Result<Vec<StageRow>> {
    let (items, stages, params) = pedal_items();
    let n = args.buffer;
    let mut rows = Vec::new();
    // (instances, arena, layout, output) of the first layout run.
    let mut same: Vec<(usize, &str, &str, Vec<f32>)> = Vec::new();
    for instances in [1usize, 1000] {
        for ((fusion, name), local) in FUSIONS[..2].iter().flat_map(|f| [(f, false), (f, true)]) {
            let mut layouts = Vec::new();
            let mut first = None;
            for stage in &stages {
                let kinds: Vec<u32> = stage.iter().map(|&i| items[i as usize].kind).collect();
                let (layout, stats) = stage_layout(*fusion, stage, &kinds, &KIND_COSTS)?;
                first.get_or_insert(stats);
                layouts.push(layout);
            }
            let stats = first.expect("the pedal program has stages");
            let spec = ProgramSpec {
                items: items.clone(),
                stages: layouts,
                input_routes: vec![(0, 1)],
                output_routes: vec![(13, 0)],
                slots: 14,
                stride: n,
                inputs: 1,
                outputs: 1,
                instances,
                convolutions: vec![],
                conv_block: 0,
                streams: vec![],
                stream_step: None,
                local_arena: local,
                instances_per_cube: Some(1),
                unroll_streams: UnrollStreams::Never,
                device_kinds: DeviceKindSet::none(),
            };
            let all: Vec<f32> = (0..instances).flat_map(|_| params.iter().copied()).collect();
            let mut program = GraphProgram::new(client, spec.clone(), &all)?;
            let arena_in = if program.local_arena() { "shared" } else { "device" };
            let input: Vec<f32> = (0..instances * n).map(|i| ((i * 31) % 97) as f32 / 97.0 - 0.5).collect();
            let input = Buffer::upload(client, &input);
            let output = Buffer::upload(client, &vec![0.0; instances * n]);
            let arena = Buffer::upload(client, &vec![0.0; spec.arena_per_instance() * instances]);
            let sync = || cubecl::future::block_on(client.sync()).map_err(|e| anyhow::anyhow!("device error: {e:?}"));
            for _ in 0..50 {
                program.process(client, Some(&input), Some(&output), &arena, n, None)?;
            }
            sync()?;
            let start = Instant::now();
            for _ in 0..200 {
                program.process(client, Some(&input), Some(&output), &arena, n, None)?;
            }
            sync()?;
            let queued = start.elapsed().as_secs_f64() * 1e6 / 200.0;
            // Every layout runs the same items on the same inputs: a layout that computed
            // something else would be timed for nothing.
            let got = output.read(client, "rig_fusion")?;
            match same.iter().find(|(i, a, _, _)| *i == instances && *a == arena_in) {
                None => same.push((instances, arena_in, name, got)),
                Some((_, _, other, want)) => anyhow::ensure!(
                    got.iter().zip(want).all(|(a, b)| a.to_bits() == b.to_bits()),
                    "pedal program, {instances} instances, arena in {arena_in}: {name} and {other} differ"
                ),
            }
            println!(
                "pedal program, {name:<15} {instances:>5} instances, arena in {arena_in:<6}: stage 1 {} warps ({} mixed, max cost {}), {queued:8.1} µs per launch",
                stats.warps, stats.mixed_warps, stats.max_cost
            );
            rows.push(StageRow {
                layout: name.to_string(),
                arena: arena_in,
                instances,
                stage_warps: stats.warps,
                stage_mixed_warps: stats.mixed_warps,
                stage_max_cost: stats.max_cost,
                queued_us: queued,
            });
        }
    }
    Ok(rows)
}

fn run<R: Runtime>(
    client: &ComputeClient<R>,
    device: String,
    info: cubeaudio_kernels::device::DeviceInfo,
    args: &Args,
) -> Result<()> {
    let engine = Engine::new(client.clone(), info);
    let rigs = rig_rows(&engine, args)?;
    let stage = stage_rows(client, args)?;
    let mut md = format!(
        "Device: {device}. `rig_fusion --runtime {} --buffer {}`: per rig, instances run together and fusion mode the launches per buffer, the median and p99 of one buffer (every instance) processed and read back ({} buffers), and the time per buffer with 200 queued.\n\n| rig | instances | fusion | launches | round trip p50 µs | p99 µs | queued µs |\n|---|---|---|---|---|---|---|\n",
        args.runtime, args.buffer, args.buffers
    );
    for r in &rigs {
        md.push_str(&format!(
            "| {} | {} | {} | {} | {:.1} | {:.1} | {:.1} |\n",
            r.rig, r.instances, r.fusion, r.launches, r.sync_p50_us, r.sync_p99_us, r.queued_us
        ));
    }
    md.push_str("\nThe pedal program alone (one launch), its 8-pedal stage packed or in creation order, each instance's arena in device or shared memory; device time per launch, 200 queued.\n\n| layout | arena | instances | stage-1 warps | mixed | max warp cost | µs per launch |\n|---|---|---|---|---|---|---|\n");
    for r in &stage {
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {:.1} |\n",
            r.layout, r.arena, r.instances, r.stage_warps, r.stage_mixed_warps, r.stage_max_cost, r.queued_us
        ));
    }
    #[derive(Serialize)]
    struct Report<'a> {
        rigs: &'a [RigRow],
        pedal_stage: &'a [StageRow],
    }
    cubeaudio_benches::write_report(&args.out, "rig-fusion", &md, &Report { rigs: &rigs, pedal_stage: &stage })?;
    Ok(())
}

fn main() -> Result<()> {
    let args = Args::parse();
    match args.runtime.as_str() {
        "cuda" => {
            let (client, info) = cubeaudio_kernels::device::cuda::open(0).context("opening CUDA")?;
            run(&client, info.to_string(), info, &args)
        }
        "wgpu" => {
            let (client, info) = cubeaudio_kernels::device::wgpu_device::open_best().context("opening wgpu")?;
            run(&client, info.to_string(), info, &args)
        }
        other => anyhow::bail!("unknown runtime {other} (cuda or wgpu)"),
    }
}
