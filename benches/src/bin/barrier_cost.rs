//! What one barrier costs on the device, by the kind of barrier cubecl 0.10 emits: the test of
//! the lead for Vulkan's 4–5× on the graph program and the columns kernel (docs/PERFORMANCE.md,
//! twenty-fifth session).
//!
//! cubecl compiles `sync_storage()` to `__syncthreads()` for CUDA but, in SPIR-V, to a barrier
//! with a device-scope fence on storage buffers; `sync_cube()` is a workgroup-scope barrier on
//! both. Our kernels exchange data between a cube's threads through storage buffers and put a
//! `sync_storage()` between every such write and read. This kernel does exactly that exchange —
//! each thread writes its value, a barrier, reads its neighbour's, a barrier — `rounds` times,
//! with each kind of barrier and with none (a race, timed only as the floor); the extra device
//! time per extra round is what one round's two barriers and two accesses cost. Measured with
//! launches queued, the median of `--repeats` runs, for each cube count and size.
//!
//! The values are checked (the neighbour exchange must equal its host reference) for the
//! barriers that order storage accesses on the target: `sync_storage` everywhere, `sync_cube`
//! on CUDA (where it is `__syncthreads()` too). A wrong result is an error, not a row.
//!
//! `barrier_cost --runtime cuda|wgpu --out DIR` (built here, run on the GPU machine).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{ensure, Result};
use clap::Parser;
use cubeaudio_benches::{on_runtime, write_report};
use cubeaudio_kernels::util::Buffer;
use cubecl::prelude::*;
use serde::Serialize;

const STORAGE: u32 = 0;
const CUBE: u32 = 1;
const NONE: u32 = 2;
const KINDS: [(u32, &str); 3] = [(STORAGE, "sync_storage"), (CUBE, "sync_cube"), (NONE, "none (race)")];

#[derive(Parser)]
struct Args {
    /// cuda or wgpu.
    #[arg(long, default_value = "cuda")]
    runtime: String,
    /// Rounds per launch: the difference between the two gives the cost per round.
    #[arg(long, value_delimiter = ',', default_value = "64,576")]
    rounds: Vec<u32>,
    /// Cubes per launch, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,132,1056")]
    cubes: Vec<u32>,
    /// Threads per cube, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "32,256")]
    threads: Vec<u32>,
    /// Launches queued per timed run.
    #[arg(long, default_value_t = 100)]
    launches: usize,
    /// Timed runs per point (the median is kept).
    #[arg(long, default_value_t = 5)]
    repeats: usize,
    #[arg(long, default_value = "barrier-cost")]
    out: PathBuf,
}

#[cube]
fn barrier(#[comptime] kind: u32) {
    if comptime!(kind == STORAGE) {
        sync_storage();
    }
    if comptime!(kind == CUBE) {
        sync_cube();
    }
}

/// Each thread of a cube writes its value to the cube's row of `data`, reads its neighbour's
/// and averages the two, `rounds` times; a barrier of `kind` after each write and each read.
/// (An average keeps the values bounded, so the check can be absolute at any round count.)
#[cube(launch_unchecked)]
fn exchange_kernel(data: &mut Array<f32>, rounds: u32, #[comptime] kind: u32) {
    let width = CUBE_DIM as usize;
    let base = CUBE_POS * width;
    let me = UNIT_POS as usize;
    let next = base + (me + 1) % width;
    let mut value = data[base + me];
    for _ in 0..rounds {
        data[base + me] = value;
        barrier(kind);
        value = value * 0.5 + data[next] * 0.5;
        barrier(kind);
    }
    data[base + me] = value;
}

/// The exchange on the host, in f64.
fn reference(init: &[f32], width: usize, rounds: u32) -> Vec<f32> {
    let mut out = Vec::with_capacity(init.len());
    for row in init.chunks(width) {
        let mut v: Vec<f64> = row.iter().map(|&x| x as f64).collect();
        for _ in 0..rounds {
            let w = v.clone();
            for (i, x) in v.iter_mut().enumerate() {
                *x = *x * 0.5 + w[(i + 1) % width] * 0.5;
            }
        }
        out.extend(v.iter().map(|&x| x as f32));
    }
    out
}

#[derive(Serialize)]
struct Row {
    barrier: &'static str,
    cubes: u32,
    threads: u32,
    /// Device time per launch at each round count, µs.
    launch_us: Vec<f64>,
    /// Extra device time per extra round (two barriers, a write and a read), ns.
    ns_per_round: f64,
    /// Whether the result was checked against the host's exchange.
    checked: bool,
}

fn launch<R: Runtime>(client: &ComputeClient<R>, data: &Buffer, cubes: u32, threads: u32, rounds: u32, kind: u32) {
    // SAFETY: `data` holds cubes × threads floats, every index the kernel forms is inside its cube's row.
    unsafe {
        exchange_kernel::launch_unchecked::<R>(
            client,
            CubeCount::Static(cubes, 1, 1),
            CubeDim::new_1d(threads),
            ArrayArg::from_raw_parts(data.handle.clone(), data.len),
            rounds,
            kind,
        );
    }
}

/// Device time per launch (µs), launches queued, median of the runs.
fn time_us<R: Runtime>(
    client: &ComputeClient<R>,
    cubes: u32,
    threads: u32,
    rounds: u32,
    kind: u32,
    args: &Args,
) -> Result<f64> {
    let data = Buffer::filled(client, (cubes * threads) as usize, 0.25);
    let sync = || cubecl::future::block_on(client.sync()).map_err(|e| anyhow::anyhow!("device error: {e:?}"));
    for _ in 0..10 {
        launch(client, &data, cubes, threads, rounds, kind);
    }
    sync()?;
    let mut runs = Vec::with_capacity(args.repeats);
    for _ in 0..args.repeats {
        let start = Instant::now();
        for _ in 0..args.launches {
            launch(client, &data, cubes, threads, rounds, kind);
        }
        sync()?;
        runs.push(start.elapsed().as_secs_f64() * 1e6 / args.launches as f64);
    }
    runs.sort_by(f64::total_cmp);
    Ok(runs[runs.len() / 2])
}

/// One launch from known values, compared with the host's exchange.
fn check<R: Runtime>(client: &ComputeClient<R>, cubes: u32, threads: u32, rounds: u32, kind: u32) -> Result<()> {
    let init: Vec<f32> = (0..cubes * threads).map(|i| ((i * 37) % 101) as f32 / 101.0 - 0.5).collect();
    let data = Buffer::upload(client, &init);
    launch(client, &data, cubes, threads, rounds, kind);
    let got = data.read(client, "exchange_kernel")?;
    let want = reference(&init, threads as usize, rounds);
    let worst = got.iter().zip(&want).map(|(g, w)| (g - w).abs()).fold(0.0f32, f32::max);
    ensure!(worst <= 1e-5, "exchange with {kind} barriers, {cubes}×{threads}, {rounds} rounds: max |err| {worst:.3e}");
    Ok(())
}

fn run<R: Runtime>(client: &ComputeClient<R>, device: String, args: &Args) -> Result<()> {
    ensure!(args.rounds.len() == 2 && args.rounds[0] < args.rounds[1], "--rounds takes two counts, fewer first");
    ensure!(args.repeats >= 1 && args.launches >= 1, "repeats and launches ≥ 1");
    ensure!(args.cubes.iter().chain(&args.threads).all(|&n| n >= 1), "cubes and threads ≥ 1");
    let mut rows = Vec::new();
    for &threads in &args.threads {
        for &cubes in &args.cubes {
            for (kind, name) in KINDS {
                let checked = kind == STORAGE || (kind == CUBE && args.runtime == "cuda");
                if checked {
                    check(client, cubes, threads, args.rounds[0], kind)?;
                }
                let mut times = Vec::new();
                for &rounds in &args.rounds {
                    times.push(time_us(client, cubes, threads, rounds, kind, args)?);
                }
                let ns = (times[1] - times[0]) * 1e3 / f64::from(args.rounds[1] - args.rounds[0]);
                println!(
                    "{name:<14} {cubes:>5} cubes × {threads:>4} threads: {:>9.2} / {:>9.2} µs per launch, {ns:8.2} ns per round{}",
                    times[0],
                    times[1],
                    if checked { " (checked)" } else { "" }
                );
                rows.push(Row { barrier: name, cubes, threads, launch_us: times, ns_per_round: ns, checked });
            }
        }
    }
    let mut md = format!(
        "Device: {device}. `barrier_cost --runtime {} --rounds {},{}`: a cube's threads exchange values through a storage buffer, a barrier after each write and each read; device time per launch ({} launches queued, median of {} runs) and the extra time per extra round.\n\n| barrier | cubes | threads | µs per launch ({} / {} rounds) | ns per round | checked |\n|---|---|---|---|---|---|\n",
        args.runtime, args.rounds[0], args.rounds[1], args.launches, args.repeats, args.rounds[0], args.rounds[1]
    );
    for r in &rows {
        md.push_str(&format!(
            "| {} | {} | {} | {:.2} / {:.2} | {:.2} | {} |\n",
            r.barrier,
            r.cubes,
            r.threads,
            r.launch_us[0],
            r.launch_us[1],
            r.ns_per_round,
            if r.checked { "yes" } else { "no" }
        ));
    }
    write_report(&args.out, "barrier-cost", &md, &rows)?;
    Ok(())
}

fn main() -> Result<()> {
    let args = Args::parse();
    on_runtime!(args.runtime.as_str(), |client, device| run(client, device, &args))
}
