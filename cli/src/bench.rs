//! `cubeaudio bench`: how many NAM streams one GPU carries in real time, the round-trip latency
//! of one stream, offline throughput, and the CPU engine on the same machine as the baseline.

use std::time::Instant;

use cubecl::prelude::*;

use cubeaudio_nam::dsp::Dsp;
use cubeaudio_nam::gpu::split::{render_split, split_streams, SplitPlan};
use cubeaudio_nam::gpu::{batch_of, GpuWaveNetBatch, StreamBatch};
use cubeaudio_nam::Model;

use crate::error::Result;

/// One measured point: a model, a buffer size and a stream count.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CapacityRow {
    /// The model's name on the command line.
    pub model: String,
    /// Frames per buffer.
    pub buffer: usize,
    /// Streams in the batch.
    pub streams: usize,
    /// Median round trip per buffer (upload, launch, read-back), ms.
    pub p50_ms: f64,
    /// 99th percentile of the round trip, ms.
    pub p99_ms: f64,
    /// The buffer's duration at 48 kHz, ms.
    pub budget_ms: f64,
    /// `p99_ms` < 50 % of the budget.
    pub holds: bool,
    /// Kernel launches per buffer.
    pub launches_per_buffer: usize,
    /// Launch shape: `tile × rows, threads` (WaveNet) or `lstm layers × hidden, threads`.
    pub shape: String,
    /// Arithmetic done per second at the p50 time (the model's FLOPs per sample × samples).
    pub gflops: f64,
    /// Device time per buffer with launches queued back to back (no host round trip), ms.
    pub queued_ms: f64,
    /// Time per buffer with two buffers in flight (double-buffered host), p50 and p99, ms.
    pub pipelined_p50_ms: f64,
    /// 99th percentile with two buffers in flight, ms.
    pub pipelined_p99_ms: f64,
    /// `pipelined_p99_ms` < 50 % of the budget.
    pub holds_pipelined: bool,
}

/// Everything `cubeaudio bench` measured, as written to bench.json.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BenchReport {
    /// Runtime and device.
    pub device: String,
    /// Every measured point.
    pub capacity: Vec<CapacityRow>,
    /// Largest stream count that held real time (p99 < 50 % of the budget), per model × buffer.
    /// (model, buffer, streams held with a synchronous round trip per buffer, streams held
    /// with two buffers in flight).
    pub max_streams: Vec<(String, usize, usize, usize)>,
    /// Buffers timed for the latency percentiles.
    pub latency_buffers: usize,
    /// One stream, 64 frames: median round trip, µs.
    pub latency_p50_us: f64,
    /// One stream, 64 frames: 99th percentile, µs.
    pub latency_p99_us: f64,
    /// One stream, 64 frames: 99.9th percentile, µs.
    pub latency_p999_us: f64,
    /// The best of the offline runs below.
    pub offline_streams: usize,
    /// Aggregate real-time factor of that run.
    pub offline_realtime_factor: f64,
    /// Every offline run: streams, frames per buffer, real-time factor aggregate (a round trip
    /// per buffer).
    pub offline_runs: Vec<(usize, usize, f64)>,
    /// The CPU engine's real-time factor per model, one stream on one core.
    pub cpu_realtime_factor: Vec<(String, f64)>,
    /// The device's measured ceilings.
    pub ceilings: Ceilings,
    /// One long file of the first model through the time-split renderer, when it can be split.
    pub single_file: Option<SingleFile>,
}

/// A single long file rendered by time-splitting (`cubeaudio render`'s GPU path).
#[derive(Debug, Clone, serde::Serialize)]
pub struct SingleFile {
    /// Length of the file, seconds at 48 kHz.
    pub seconds: f64,
    /// Seconds of audio per second of rendering (upload, launches, read-back and stitching).
    pub realtime_factor: f64,
    /// The same for the first render, which compiles its launch shape.
    pub cold_realtime_factor: f64,
    /// Chunks (streams) the file was cut into.
    pub chunks: usize,
    /// Samples each chunk keeps.
    pub chunk: usize,
    /// Samples of context each chunk runs first.
    pub overlap: usize,
}

/// Measured ceilings of the device: fp32 FMA throughput and device-to-device copy bandwidth.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Ceilings {
    /// fp32 FMA throughput, TFLOP/s.
    pub fp32_tflops: f64,
    /// Device-to-device copy bandwidth (read + write), GB/s.
    pub copy_gbytes_per_s: f64,
    /// Size of the copied buffer, MiB.
    pub copy_mib: usize,
}

fn timed<R: Runtime>(client: &ComputeClient<R>, mut f: impl FnMut()) -> Result<f64> {
    let sync = cubeaudio_kernels::device::sync::<R>;
    f();
    sync(client)?;
    let mut best = f64::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        f();
        sync(client)?;
        best = best.min(start.elapsed().as_secs_f64());
    }
    Ok(best)
}

/// Measures the device's fp32 FMA throughput and copy bandwidth (best of five runs each).
pub fn ceilings<R: Runtime>(client: &ComputeClient<R>) -> Result<Ceilings> {
    use cubeaudio_kernels::util::{Buffer, IndexBuffer};
    const ITERS: usize = 4096;
    let units: usize = 1 << 20;
    let out = Buffer { handle: client.empty(units * 4), len: units };
    let t = timed(client, || {
        cubeaudio_kernels::ceiling::fma_ceiling_kernel::launch::<R>(
            client,
            CubeCount::Static((units / 256) as u32, 1, 1),
            CubeDim::new_1d(256),
            out.arg(),
            0.5,
            ITERS,
        );
    })?;
    let fp32_tflops = (units * ITERS * 8 * 2) as f64 / t / 1e12;
    // Up to 256 Mi floats (1 GiB) copied in chunks of 64 Ki floats, within the device's cube
    // count (wgpu allows 65,535 cubes per dimension).
    let chunk: usize = 1 << 16;
    let max_units = client.properties().hardware.max_cube_count.0 as usize * 256;
    let max_floats = (client.properties().memory.max_page_size as usize / 4).min(max_units);
    let n: usize = (1usize << 28).min(max_floats / chunk * chunk).max(chunk);
    let src = Buffer { handle: client.empty(n * 4), len: n };
    let dst = Buffer { handle: client.empty(n * 4), len: n };
    let routes: Vec<u32> = (0..n / chunk).flat_map(|k| [(k * chunk) as u32, (k * chunk) as u32]).collect();
    let table = IndexBuffer::upload(client, &routes);
    let t = timed(client, || {
        let _ = cubeaudio_kernels::routed::copy_routes(client, &src, &dst, &table, chunk);
    })?;
    Ok(Ceilings { fp32_tflops, copy_gbytes_per_s: (2 * n * 4) as f64 / t / 1e9, copy_mib: (n * 4) >> 20 })
}

/// The rate every duration of the bench is counted at.
const RATE: f64 = 48_000.0;
/// Buffers timed per (model, buffer, streams) point: p99 of 200 is the 3rd-largest time, less
/// at the mercy of one hiccup than the maximum of 50.
const TIMED_BUFFERS: usize = 200;
/// (streams, frames per buffer) of the offline measurement: long buffers as before, and
/// 512-frame buffers, whose rings are ~8× smaller (each is sized for a whole buffer).
const OFFLINE_RUNS: [(usize, usize); 4] = [(256, 4096), (2048, 4096), (2048, 512), (8192, 512)];
/// Buffers queued back to back for the device-only time per buffer.
const QUEUED_BUFFERS: usize = 50;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// `count` buffer times (ms, sorted) of `streams` streams of `buffer` frames: each a full
/// round trip, or (`pipelined`) the interval between results with two buffers in flight.
fn time_buffers(
    batch: &mut dyn StreamBatch,
    streams: usize,
    buffer: usize,
    count: usize,
    pipelined: bool,
) -> Result<Vec<f64>> {
    let input: Vec<f32> = (0..buffer).map(|i| ((i as f32) * 0.05).sin() * 0.4).collect();
    let ins: Vec<&[f32]> = vec![&input; streams];
    let mut outs = vec![vec![0.0f32; buffer]; streams];
    let mut ys: Vec<&mut [f32]> = outs.iter_mut().map(|o| o.as_mut_slice()).collect();
    if pipelined {
        return Ok(batch.pipelined_ms(&ins, &mut ys, count)?);
    }
    let mut times = Vec::with_capacity(count);
    for k in 0..count + 5 {
        let start = Instant::now();
        batch.process(&ins, &mut ys)?;
        if k >= 5 {
            times.push(start.elapsed().as_secs_f64() * 1e3);
        }
    }
    times.sort_by(f64::total_cmp);
    Ok(times)
}

/// [`run`] as a job for whichever device was opened.
pub struct BenchJob<'a> {
    /// (name, model) pairs to measure.
    pub models: &'a [(String, &'a dyn Dsp)],
    /// The same models as CPU-engine instances, for the baseline.
    pub cpu_models: Vec<(String, Model)>,
    /// Buffer sizes in samples.
    pub buffers: &'a [usize],
    /// Largest stream count tried.
    pub max_streams: usize,
    /// Buffers timed for the latency percentiles.
    pub latency_buffers: usize,
    /// Distinct captures of the first model's shape (different weights), cycled over the
    /// streams of an extra `<first>_distinct` sweep; none: no such sweep.
    pub distinct: &'a [&'a dyn Dsp],
    /// Length of the single long file rendered through the time-split renderer (0: none).
    pub single_file_seconds: f64,
    /// Progress lines.
    pub log: &'a mut dyn FnMut(&str),
}

impl cubeaudio_kernels::device::DeviceJob for BenchJob<'_> {
    type Output = Result<BenchReport>;

    fn run<R: Runtime>(self, client: &ComputeClient<R>, info: &cubeaudio_kernels::device::DeviceInfo) -> Self::Output {
        run(client, info.to_string(), self)
    }
}

/// Runs the whole benchmark. `models` are (name, WaveNet) pairs; `cpu_models` the same models as
/// CPU-engine instances for the baseline.
pub fn run<R: Runtime>(client: &ComputeClient<R>, device: String, job: BenchJob) -> Result<BenchReport> {
    let BenchJob { models, cpu_models, buffers, max_streams, latency_buffers, distinct, single_file_seconds, log } =
        job;
    let ceilings = ceilings(client)?;
    log(&format!(
        "ceilings: {:.1} TFLOP/s fp32 FMA, {:.0} GB/s device copy",
        ceilings.fp32_tflops, ceilings.copy_gbytes_per_s
    ));
    let mut capacity = Vec::new();
    let mut best = Vec::new();
    for (name, net) in models {
        for &buffer in buffers {
            let make =
                |streams: usize| -> Result<Box<dyn StreamBatch>> { Ok(batch_of(client, *net, streams, buffer)?) };
            let flops = net.flops_per_sample() as f64;
            best.push(sweep(name, buffer, flops, max_streams, make, &mut capacity, log)?);
        }
    }
    if !distinct.is_empty() {
        // Streams of the same shape with different weights: stream s runs capture s mod D.
        let name = format!("{}_distinct{}", models[0].0, distinct.len());
        let flops = distinct[0].flops_per_sample() as f64;
        for &buffer in buffers {
            let make = |streams: usize| -> Result<Box<dyn StreamBatch>> {
                let nets: Vec<&dyn Dsp> = (0..streams).map(|s| distinct[s % distinct.len()]).collect();
                Ok(Box::new(GpuWaveNetBatch::new(client, &nets, buffer)?))
            };
            best.push(sweep(&name, buffer, flops, max_streams, make, &mut capacity, log)?);
        }
    }
    // Latency: one stream of the first model, 64-sample buffers, host → GPU → host.
    let (_, first) = &models[0];
    let mut batch = batch_of(client, *first, 1, 64)?;
    let lat = time_buffers(batch.as_mut(), 1, 64, latency_buffers, false)?;
    log(&format!(
        "latency: one stream, 64 frames, {latency_buffers} buffers: p50 {:.1} µs, p99 {:.1} µs, p99.9 {:.1} µs | shape {}",
        percentile(&lat, 0.5) * 1e3,
        percentile(&lat, 0.99) * 1e3,
        percentile(&lat, 0.999) * 1e3,
        batch.shape_label()
    ));
    // Offline: many streams, long buffers.
    // Offline: many streams, long buffers; 256 streams (the latency shape on a 132-SM device)
    // and 2048 (the throughput shape).
    let mut offline_runs = Vec::new();
    for (streams, frames) in OFFLINE_RUNS {
        // A device that cannot hold this many histories in one buffer says so and is skipped.
        let mut batch = match batch_of(client, *first, streams, frames) {
            Ok(batch) => batch,
            Err(e) if !offline_runs.is_empty() => {
                log(&format!("offline: {streams} streams × {frames} frames skipped: {e}"));
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let count = (10 * 4096 / frames).max(10);
        let times = time_buffers(batch.as_mut(), streams, frames, count, false)?;
        let factor = streams as f64 * frames as f64 / RATE / (percentile(&times, 0.5) / 1e3);
        log(&format!(
            "offline: {streams} streams × {frames} frames: {factor:.0}× real time | shape {}",
            batch.shape_label()
        ));
        offline_runs.push((streams, frames, factor));
    }
    let (offline_streams, offline) =
        offline_runs
            .iter()
            .map(|&(n, _, f)| (n, f))
            .fold((0, 0.0), |best, run| if run.1 > best.1 { run } else { best });
    let single_file = match first.receptive_field() {
        Some(_) if single_file_seconds > 0.0 => {
            let len = (single_file_seconds * RATE) as usize;
            let signal: Vec<f32> =
                (0..len).map(|i| ((i as f32) * 0.05).sin() * 0.4 * (1.0 + (i % 4801) as f32 / 4801.0) / 2.0).collect();
            let streams = split_streams();
            // Twice: the first render compiles its launch shape (as a first render does).
            let mut factors = Vec::new();
            let mut plan = None;
            for _ in 0..2 {
                let start = Instant::now();
                let (_, _, p): (_, _, SplitPlan) =
                    render_split(client, *first, &[signal.as_slice()], streams, &mut |_, _| {})?;
                factors.push(single_file_seconds / start.elapsed().as_secs_f64());
                plan = Some(p);
            }
            let plan = plan.expect("rendered twice");
            let (cold, factor) = (factors[0], factors[1]);
            log(&format!(
                "single file: {single_file_seconds:.0} s time-split into {} chunks of {} + {} context: {factor:.0}× real time (first render, compiling: {cold:.0}×)",
                plan.chunks, plan.chunk, plan.overlap
            ));
            Some(SingleFile {
                seconds: single_file_seconds,
                realtime_factor: factor,
                cold_realtime_factor: cold,
                chunks: plan.chunks,
                chunk: plan.chunk,
                overlap: plan.overlap,
            })
        }
        _ => None,
    };
    // CPU baseline: the same models on one core of this machine.
    let mut cpu = Vec::new();
    for (name, mut model) in cpu_models {
        model.reset(64)?;
        let input: Vec<f32> = (0..48_000).map(|i| ((i as f32) * 0.05).sin() * 0.4).collect();
        let mut out = vec![0.0f32; 64];
        let start = Instant::now();
        for chunk in input.chunks(64) {
            model.process(chunk, &mut out[..chunk.len()]);
        }
        cpu.push((name, 1.0 / start.elapsed().as_secs_f64()));
    }
    Ok(BenchReport {
        device,
        capacity,
        max_streams: best,
        latency_buffers,
        latency_p50_us: percentile(&lat, 0.5) * 1e3,
        latency_p99_us: percentile(&lat, 0.99) * 1e3,
        latency_p999_us: percentile(&lat, 0.999) * 1e3,
        offline_streams,
        offline_realtime_factor: offline,
        offline_runs,
        cpu_realtime_factor: cpu,
        ceilings,
        single_file,
    })
}

/// Streams of one (model, buffer) that hold real time: doubling from 1 stream until a count
/// misses (with two buffers in flight, the looser of the two criteria), then two bisection
/// steps between the last count that held and the first that missed. Every point lands in
/// `capacity`; returns (model, buffer, largest count that held synchronously, largest that held
/// either way).
fn sweep(
    name: &str,
    buffer: usize,
    flops: f64,
    max_streams: usize,
    make: impl Fn(usize) -> Result<Box<dyn StreamBatch>>,
    capacity: &mut Vec<CapacityRow>,
    log: &mut dyn FnMut(&str),
) -> Result<(String, usize, usize, usize)> {
    let budget_ms = buffer as f64 / RATE * 1e3;
    let mut search = CapacitySearch::default();
    let mut streams = 1;
    while streams <= max_streams && streams > search.held {
        let mut batch = match make(streams) {
            Ok(batch) => batch,
            // A batch the device cannot hold (its histories past one buffer's limit) ends the
            // sweep there like a miss, so the table still prints; a first batch that cannot be
            // made is a real error.
            Err(e) if search.held > 0 => {
                log(&format!("{name} buffer {buffer}: {streams} streams do not fit: {e}"));
                search.record(streams, false, false);
                match search.next(streams) {
                    Some(next) => {
                        streams = next;
                        continue;
                    }
                    None => break,
                }
            }
            Err(e) => return Err(e),
        };
        let shape = batch.shape_label();
        let times = time_buffers(batch.as_mut(), streams, buffer, TIMED_BUFFERS, false)?;
        let (p50, p99) = (percentile(&times, 0.5), percentile(&times, 0.99));
        let holds = p99 < 0.5 * budget_ms;
        let gflops = flops * (streams * buffer) as f64 / (p50 / 1e3) / 1e9;
        let queued_ms = batch.queued_ms(buffer, QUEUED_BUFFERS)?;
        let piped = time_buffers(batch.as_mut(), streams, buffer, TIMED_BUFFERS, true)?;
        let (pipelined_p50_ms, pipelined_p99_ms) = (percentile(&piped, 0.5), percentile(&piped, 0.99));
        let holds_pipelined = pipelined_p99_ms < 0.5 * budget_ms;
        log(&format!(
            "{name} buffer {buffer}: {streams} streams p50 {p50:.3} ms p99 {p99:.3} ms (budget {budget_ms:.3} ms) {} | {gflops:.1} GFLOP/s | queued {queued_ms:.3} ms | two in flight p50 {pipelined_p50_ms:.3} p99 {pipelined_p99_ms:.3} ms | shape {shape}",
            if holds { "holds" } else { "misses" },
        ));
        capacity.push(CapacityRow {
            model: name.to_string(),
            buffer,
            streams,
            p50_ms: p50,
            p99_ms: p99,
            budget_ms,
            holds,
            launches_per_buffer: 1,
            shape,
            gflops,
            queued_ms,
            pipelined_p50_ms,
            pipelined_p99_ms,
            holds_pipelined,
        });
        search.record(streams, holds, holds_pipelined);
        match search.next(streams) {
            Some(next) => streams = next,
            None => break,
        }
    }
    Ok((name.to_string(), buffer, search.held_sync, search.held))
}

/// Where a capacity sweep stands: counts double from the first until one misses real time
/// (synchronously and with two buffers in flight, the looser criterion deciding), then two
/// bisection steps between the last count that held and the first that missed. The models'
/// sweep and the rig bench's (`rig_bench`) both search with it.
#[derive(Debug, Default)]
pub struct CapacitySearch {
    /// Largest count that held synchronously.
    pub held_sync: usize,
    /// Largest count that held either way (0: none yet).
    pub held: usize,
    missed: Option<usize>,
    bisections: u32,
}

impl CapacitySearch {
    /// What the count just measured did.
    pub fn record(&mut self, count: usize, holds: bool, holds_pipelined: bool) {
        if holds {
            self.held_sync = self.held_sync.max(count);
        }
        if holds || holds_pipelined {
            self.held = count;
        } else {
            self.missed = Some(count);
        }
    }

    /// The count to try after `count`, or none once the search is over.
    pub fn next(&mut self, count: usize) -> Option<usize> {
        match self.missed {
            None => Some(count * 2),
            Some(m) if self.bisections < 2 && self.held > 0 => {
                self.bisections += 1;
                Some((self.held + m) / 2)
            }
            Some(_) => None,
        }
    }
}

impl BenchReport {
    /// The report as Markdown tables.
    pub fn markdown(&self) -> String {
        let mut s = format!(
            "Device: {}\n\nMeasured ceilings: {:.1} TFLOP/s fp32 (FMA chains), {:.0} GB/s ({} MiB device-to-device copy, read + write).\n\n",
            self.device, self.ceilings.fp32_tflops, self.ceilings.copy_gbytes_per_s, self.ceilings.copy_mib
        );
        s += "### Streams in real time (p99 time per buffer < 50 % of the buffer's duration)\n\nSynchronous: each buffer uploaded, run and read back before the next. Two in flight: buffer k+1 queued before buffer k is read back (a double-buffered host; one buffer more latency).\n\n| model | buffer | max streams held, synchronous | max streams held, two in flight |\n|---|---|---|---|\n";
        for (m, b, n, piped) in &self.max_streams {
            s += &format!("| {m} | {b} | {n} | {piped} |\n");
        }
        s += "\n`queued ms`: device time per buffer with launches queued back to back (no host round trip).\n\n| model | buffer | streams | p50 ms | p99 ms | budget ms | holds | queued ms | two in flight p50 / p99 ms | launches/buffer | shape | GFLOP/s at p50 |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n";
        for r in &self.capacity {
            s += &format!(
                "| {} | {} | {} | {:.3} | {:.3} | {:.3} | {} | {:.3} | {:.3} / {:.3} | {} | {} | {:.1} |\n",
                r.model,
                r.buffer,
                r.streams,
                r.p50_ms,
                r.p99_ms,
                r.budget_ms,
                r.holds,
                r.queued_ms,
                r.pipelined_p50_ms,
                r.pipelined_p99_ms,
                r.launches_per_buffer,
                r.shape,
                r.gflops
            );
        }
        s += &format!(
            "\n### Latency (one stream, 64-sample buffers, host → GPU → host, {} buffers)\n\np50 {:.1} µs, p99 {:.1} µs, p99.9 {:.1} µs\n\n### Offline\n\n",
            self.latency_buffers, self.latency_p50_us, self.latency_p99_us, self.latency_p999_us
        );
        for (streams, frames, factor) in &self.offline_runs {
            s += &format!("- {streams} streams × {frames}-sample buffers: {factor:.0}× real time aggregate\n");
        }
        if let Some(f) = &self.single_file {
            s += &format!(
                "\n### One long file (time-split renderer)\n\n{:.0} s at 48 kHz cut into {} chunks of {} samples + {} of context: {:.0}× real time (first render, compiling: {:.0}×)\n",
                f.seconds, f.chunks, f.chunk, f.overlap, f.realtime_factor, f.cold_realtime_factor
            );
        }
        s += "\n### CPU engine, one core of this machine (64-sample buffers)\n\n";
        for (m, f) in &self.cpu_realtime_factor {
            s += &format!("- {m}: {f:.1}× real time\n");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A batch that takes no time: every size it can be made at holds.
    struct Instant0;

    impl StreamBatch for Instant0 {
        fn process(&mut self, _: &[&[f32]], _: &mut [&mut [f32]]) -> cubeaudio_nam::error::Result<()> {
            Ok(())
        }
        fn shape_label(&self) -> String {
            "none".into()
        }
        fn sanitized_samples(&self) -> u64 {
            0
        }
        fn queued_ms(&mut self, _: usize, _: usize) -> cubeaudio_nam::error::Result<f64> {
            Ok(0.0)
        }
        fn pipelined_ms(
            &mut self,
            _: &[&[f32]],
            _: &mut [&mut [f32]],
            count: usize,
        ) -> cubeaudio_nam::error::Result<Vec<f64>> {
            Ok(vec![0.0; count])
        }
    }

    /// A batch the device cannot hold ends the sweep like a miss (bisected towards the last
    /// size that held) instead of aborting the bench; a first batch that cannot be made is an
    /// error.
    #[test]
    fn batches_that_do_not_fit_end_the_sweep_like_misses() {
        let make = |streams: usize| -> Result<Box<dyn StreamBatch>> {
            match streams {
                ..8 => Ok(Box::new(Instant0)),
                _ => Err(cubeaudio_nam::NamError::Request(format!("{streams} streams need too much")).into()),
            }
        };
        let (mut rows, mut lines) = (Vec::new(), Vec::new());
        let best = sweep("m", 64, 1.0, 1 << 20, make, &mut rows, &mut |l| lines.push(l.to_string())).unwrap();
        assert_eq!((best.2, best.3), (7, 7), "held after bisecting 4..8: {lines:?}");
        let measured: Vec<usize> = rows.iter().map(|r| r.streams).collect();
        assert_eq!(measured, [1, 2, 4, 6, 7]);
        assert!(lines.iter().any(|l| l.contains("8 streams do not fit")), "{lines:?}");
        let never =
            |_: usize| -> Result<Box<dyn StreamBatch>> { Err(cubeaudio_nam::NamError::Request("no".into()).into()) };
        assert!(sweep("m", 64, 1.0, 8, never, &mut Vec::new(), &mut |_| {}).is_err());
    }

    /// Doubling until a miss, then two bisection steps; a count that held only with two
    /// buffers in flight counts as held, not as held synchronously.
    #[test]
    fn capacity_search_doubles_then_bisects_twice() {
        let mut search = CapacitySearch::default();
        let mut tried = vec![];
        let mut count = 1;
        loop {
            tried.push(count);
            let (sync, piped) = match count {
                1 | 2 => (true, true),
                4 | 6 => (false, true),
                _ => (false, false),
            };
            search.record(count, sync, piped);
            match search.next(count) {
                Some(n) => count = n,
                None => break,
            }
        }
        assert_eq!(tried, [1, 2, 4, 8, 6, 7]);
        assert_eq!((search.held_sync, search.held), (2, 6));
        // A first count that misses ends the search: nothing held to bisect from.
        let mut first_miss = CapacitySearch::default();
        first_miss.record(256, false, false);
        assert_eq!(first_miss.next(256), None);
    }
}
