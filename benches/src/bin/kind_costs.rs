//! What one warp of each graph-program kind costs on the device: the calibration behind the
//! packer's kind costs (`cubeaudio_runtime::program_type::KIND_COSTS`).
//!
//! For each kind, a program of `--stages` stages, each stage one warp of 32 items of that kind
//! chained to the previous stage's (two banks of slots in turn), runs at two buffer lengths; the
//! extra device time per extra frame and stage is what one warp of the kind costs per sample
//! (launch, routes and barriers cancel out). Then warps mixing kinds (16 + 16, and four kinds
//! 8 each) against the sum of their kinds' costs: the packer's model is that a mixed warp runs
//! each kind's branch in turn. Device time is measured with `--launches` launches queued, the
//! median of `--repeats` runs, for each instance count (one cube per instance) and arena
//! placement.
//!
//! `kind_costs --runtime cuda --out DIR` (built here, run on the GPU machine).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use clap::Parser;
use cubeaudio_benches::{on_runtime, typical_params, write_report};
use cubeaudio_kernels::graph_program::{
    DeviceKindSet, GraphProgram, ProgramItem, ProgramSpec, UnrollStreams, KINDS, KIND_BIQUAD, KIND_COMPRESSOR,
    KIND_DRIVE, KIND_ECHO, KIND_GAIN, KIND_GATE, KIND_MIX, KIND_NAMES, KIND_TREMOLO, LOCAL_ARENA_FLOATS,
};
use cubeaudio_kernels::util::Buffer;
use cubecl::prelude::*;
use serde::Serialize;

const WARP: usize = 32;
/// Echo rings are small here so that many instances of 32 echoes per stage fit the program's
/// ring bound; the delay stays inside the ring.
const ECHO_RING: usize = 512;
const ECHO_DELAY: f32 = 400.0;

#[derive(Parser)]
struct Args {
    /// cuda or wgpu.
    #[arg(long, default_value = "cuda")]
    runtime: String,
    /// Chained stages per program.
    #[arg(long, default_value_t = 8)]
    stages: usize,
    /// The two buffer lengths whose difference gives the cost per frame; with two banks of 32
    /// slots the longer one plus `--pad` must keep the arena within 4,096 floats (≤ 62).
    #[arg(long, value_delimiter = ',', default_value = "16,48")]
    frames: Vec<usize>,
    /// Floats added to each slot's length in the arena: with 32 items reading their slots at the
    /// same frame, a stride that is a multiple of 32 puts every lane in one shared-memory bank
    /// (0 measures that conflict).
    #[arg(long, default_value_t = 1)]
    pad: usize,
    /// Instances (cubes) per launch, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,1000")]
    instances: Vec<usize>,
    /// Launches queued per timed run.
    #[arg(long, default_value_t = 200)]
    launches: usize,
    /// Timed runs per point (the median is kept).
    #[arg(long, default_value_t = 5)]
    repeats: usize,
    #[arg(long, default_value = "kind-costs")]
    out: PathBuf,
}

#[derive(Serialize)]
struct Row {
    /// The warp's kinds and how many items of each.
    warp: String,
    instances: usize,
    /// "shared" or "device" memory.
    arena: &'static str,
    /// Device time per launch at each buffer length, µs.
    launch_us: Vec<f64>,
    /// Extra device time per frame and stage, ns: the warp's cost per sample.
    ns_per_sample: f64,
    /// For mixed warps: the sum of their kinds' measured costs at the same point, ns.
    sum_of_kinds_ns: Option<f64>,
}

/// A program of `stages` stages, each one warp holding `warp`'s items (kind, count), every item
/// reading the item at its place in the previous stage.
fn program_spec(warp: &[(u32, usize)], stages: usize, stride: usize, instances: usize, local: bool) -> ProgramSpec {
    let kinds: Vec<u32> = warp.iter().flat_map(|&(k, n)| std::iter::repeat_n(k, n)).collect();
    assert_eq!(kinds.len(), WARP, "a calibration warp holds 32 items");
    let bank = |s: usize| 2 + (s % 2 * WARP) as u32;
    let mut items = Vec::new();
    for s in 0..stages {
        for (j, &kind) in kinds.iter().enumerate() {
            let input = if s == 0 { 1 } else { bank(s - 1) + j as u32 };
            items.push(ProgramItem {
                kind,
                output: bank(s) + j as u32,
                inputs: [input; 4],
                ring: if kind == KIND_ECHO { ECHO_RING } else { 0 },
            });
        }
    }
    ProgramSpec {
        items,
        stages: (0..stages).map(|s| ((s * WARP) as u32..((s + 1) * WARP) as u32).collect()).collect(),
        input_routes: vec![(0, 1)],
        output_routes: vec![(bank(stages - 1), 0)],
        slots: 2 + 2 * WARP,
        stride,
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
    }
}

fn params_of(kind: u32) -> Vec<f32> {
    let mut p = typical_params(kind);
    if kind == KIND_ECHO {
        p[0] = ECHO_DELAY;
    }
    p
}

/// Device time per launch (µs) for buffers of `n` frames, launches queued, median of the runs;
/// and where the arena was.
fn launch_us<R: Runtime>(client: &ComputeClient<R>, spec: ProgramSpec, n: usize, args: &Args) -> Result<(f64, bool)> {
    let (stride, instances) = (spec.stride, spec.instances);
    let params: Vec<f32> =
        (0..instances).flat_map(|_| spec.items.iter().flat_map(|item| params_of(item.kind))).collect();
    let arena_floats = spec.arena_per_instance() * instances;
    let mut program = GraphProgram::new(client, spec, &params)?;
    let input: Vec<f32> = (0..instances * stride).map(|i| ((i * 31) % 97) as f32 / 97.0 - 0.5).collect();
    let input = Buffer::upload(client, &input);
    let output = Buffer::upload(client, &vec![0.0; instances * stride]);
    let arena = Buffer::upload(client, &vec![0.0; arena_floats]);
    let sync = || cubecl::future::block_on(client.sync()).map_err(|e| anyhow::anyhow!("device error: {e:?}"));
    for _ in 0..20 {
        program.process(client, Some(&input), Some(&output), &arena, n, None)?;
    }
    sync()?;
    let mut runs = Vec::with_capacity(args.repeats);
    for _ in 0..args.repeats {
        let start = Instant::now();
        for _ in 0..args.launches {
            program.process(client, Some(&input), Some(&output), &arena, n, None)?;
        }
        sync()?;
        runs.push(start.elapsed().as_secs_f64() * 1e6 / args.launches as f64);
    }
    runs.sort_by(f64::total_cmp);
    Ok((runs[runs.len() / 2], program.local_arena()))
}

fn name(warp: &[(u32, usize)]) -> String {
    warp.iter().map(|&(k, n)| format!("{n} {}", KIND_NAMES[k as usize])).collect::<Vec<_>>().join(" + ")
}

fn run<R: Runtime>(client: &ComputeClient<R>, device: String, args: &Args) -> Result<()> {
    anyhow::ensure!(
        args.frames.len() == 2 && args.frames[0] < args.frames[1],
        "--frames takes two lengths, shorter first"
    );
    anyhow::ensure!(args.stages >= 1 && args.repeats >= 1 && args.launches >= 1, "stages, repeats and launches ≥ 1");
    let mixed: [&[(u32, usize)]; 5] = [
        &[(KIND_GAIN, 16), (KIND_COMPRESSOR, 16)],
        &[(KIND_BIQUAD, 16), (KIND_TREMOLO, 16)],
        &[(KIND_GATE, 16), (KIND_DRIVE, 16)],
        &[(KIND_MIX, 16), (KIND_ECHO, 16)],
        &[(KIND_COMPRESSOR, 8), (KIND_TREMOLO, 8), (KIND_DRIVE, 8), (KIND_BIQUAD, 8)],
    ];
    let single: Vec<Vec<(u32, usize)>> = (0..KINDS as u32).map(|k| vec![(k, WARP)]).collect();
    let mut rows: Vec<Row> = Vec::new();
    for &instances in &args.instances {
        for local in [true, false] {
            let first = rows.len();
            for warp in single.iter().map(Vec::as_slice).chain(mixed) {
                let mut times = Vec::new();
                let mut placed_local = true;
                for &n in &args.frames {
                    let spec = program_spec(warp, args.stages, n + args.pad, instances, local);
                    let (t, l) = launch_us(client, spec, n, args)?;
                    times.push(t);
                    placed_local &= l;
                }
                if local && !placed_local {
                    anyhow::bail!(
                        "the arena of {} floats × {} slots does not fit shared memory's {LOCAL_ARENA_FLOATS} floats",
                        args.frames[1] + args.pad,
                        2 + 2 * WARP
                    );
                }
                let ns = (times[1] - times[0]) * 1e3 / ((args.frames[1] - args.frames[0]) * args.stages) as f64;
                let sum_of_kinds_ns = (warp.len() > 1)
                    .then(|| warp.iter().map(|&(k, _)| rows[first + k as usize].ns_per_sample).sum::<f64>());
                let arena = if local { "shared" } else { "device" };
                println!(
                    "{:<48} ×{instances:<5} arena {arena:<6} {:>8.2} / {:>8.2} µs per launch: {ns:7.2} ns per sample{}",
                    name(warp),
                    times[0],
                    times[1],
                    sum_of_kinds_ns.map_or(String::new(), |s| format!(" (kinds' sum {s:.2})"))
                );
                rows.push(Row {
                    warp: name(warp),
                    instances,
                    arena,
                    launch_us: times,
                    ns_per_sample: ns,
                    sum_of_kinds_ns,
                });
            }
        }
    }
    let mut md = format!(
        "Device: {device}. `kind_costs --runtime {} --stages {} --frames {},{} --pad {}`: device time one warp of each kind adds per sample (ns; the extra time per extra frame and stage, {} launches queued, median of {} runs), per instance count and arena placement; mixed warps against the sum of their kinds' costs.\n\n| warp | instances | arena | µs per launch ({} / {} frames) | ns per sample | sum of the kinds' costs | measured / sum |\n|---|---|---|---|---|---|---|\n",
        args.runtime, args.stages, args.frames[0], args.frames[1], args.pad, args.launches, args.repeats, args.frames[0], args.frames[1]
    );
    for r in &rows {
        md.push_str(&format!(
            "| {} | {} | {} | {:.2} / {:.2} | {:.2} | {} | {} |\n",
            r.warp,
            r.instances,
            r.arena,
            r.launch_us[0],
            r.launch_us[1],
            r.ns_per_sample,
            r.sum_of_kinds_ns.map_or("—".into(), |s| format!("{s:.2}")),
            r.sum_of_kinds_ns.map_or("—".into(), |s| format!("{:.2}", r.ns_per_sample / s)),
        ));
    }
    write_report(&args.out, "kind-costs", &md, &rows)?;
    Ok(())
}

fn main() -> Result<()> {
    let args = Args::parse();
    on_runtime!(args.runtime.as_str(), |client, device| run(client, device, &args))
}
