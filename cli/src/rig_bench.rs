//! `cubeaudio bench --rig RIG.json`: a rig measured as models are. Per buffer size, instances
//! of the rig run together (one graph, [`GraphOptions::instances`]) doubling from 1 while they
//! hold real time, then two bisection steps between the last count that held and the first that
//! missed. A count holds synchronously when the p99 round trip of a buffer (inputs up, every
//! launch, outputs back) stays under half the buffer, and with two buffers in flight when the
//! p99 interval between results does (a double-buffered host: buffer k+1 is queued before
//! buffer k is read back, one buffer more latency) — the criteria of the models' sweep.
//! Launches per buffer are counted by the graph. Then one instance at 64 frames over many
//! buffers for the latency percentiles.
//!
//! **Phase groups**: a service need not start every instance's buffer at the same instant. With
//! `K` groups of `g` instances, each group its own graph, group `k`'s buffers arrive at
//! `b·T + k·T/K` (T: the buffer's duration), paced in real time on one host thread; each
//! buffer's round trip counts from its arrival, so a late buffer delays the next group's and
//! that shows in the percentiles. `K·g` instances hold when the p99 of every group's buffers
//! stays under half the buffer, as above. One group is the sweep above.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cubeaudio_kernels::device::{DeviceInfo, DeviceJob};
use cubeaudio_nam::gpu::processor::registry;
use cubeaudio_runtime::graph::{CompiledGraph, GraphOptions, GraphSpec, Pending, StreamFusion};
use cubeaudio_runtime::Engine;
use cubecl::prelude::*;

use crate::bench::CapacitySearch;
use crate::error::{CliError, Result};
use crate::host_spans::breakdown;

/// Buffers timed per capacity point.
const TIMED: usize = 200;
/// Buffers run before the timed ones of every measurement (compilation settled, caches warm).
const UNTIMED: usize = 20;
/// Synchronous buffers traced for the host breakdown ([`RigPoint::host_us`]).
const TRACED: usize = 100;
/// Buffers queued two in flight for the device time per buffer.
const QUEUED: usize = 50;
const RATE: f64 = 48_000.0;

/// One rig at one buffer size and instance count.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RigPoint {
    /// Frames per buffer.
    pub buffer: usize,
    /// Instances of the rig in the graph.
    pub instances: usize,
    /// Kernel launches per buffer, counted.
    pub launches: u32,
    /// Median round trip of one buffer of every instance, µs.
    pub p50_us: f64,
    /// 99th percentile, µs.
    pub p99_us: f64,
    /// The buffer's duration at 48 kHz, µs.
    pub budget_us: f64,
    /// `p99_us` < 50 % of the budget.
    pub holds: bool,
    /// Interval between results with two buffers in flight, p50 and p99, µs.
    pub pipelined_us: (f64, f64),
    /// The p99 interval with two buffers in flight < 50 % of the budget.
    pub holds_pipelined: bool,
    /// Device time per buffer, µs: [`QUEUED`] buffers queued two in flight (each fetched before
    /// the one two later is queued; launch gaps and the host's fill included where they are the
    /// longer), divided by their count.
    pub queued_us: f64,
    /// Instances per cube of each graph program (`CUBEAUDIO_INSTANCES_PER_CUBE` forces it).
    pub per_cube: Vec<usize>,
    /// Host time per buffer by step (span name, mean µs over [`TRACED`] synchronous buffers
    /// timed apart from the others; `wait` includes the device's).
    pub host_us: Vec<(String, f64)>,
    /// The round trip split: p50 of queueing (inputs filled and sent, launches issued, read-back
    /// queued) and p50 of waiting for the output (device work left, read-back, copy-out), µs.
    pub split_p50_us: (f64, f64),
}

/// Instances in `groups` phase groups (see the module's documentation) at one buffer size.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PhasePoint {
    /// Frames per buffer.
    pub buffer: usize,
    /// Phase groups, each a graph whose buffers start `1/groups` of a buffer after the previous
    /// group's.
    pub groups: usize,
    /// Instances per group.
    pub per_group: usize,
    /// Kernel launches per buffer of one group, counted.
    pub launches: u32,
    /// Median round trip from a buffer's arrival, over every group's buffers, µs.
    pub p50_us: f64,
    /// 99th percentile, µs.
    pub p99_us: f64,
    /// `p99_us` < 50 % of the buffer's duration.
    pub holds: bool,
}

/// Everything `bench --rig` measured, as written to rig-bench.json.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RigBenchReport {
    /// Runtime and device.
    pub device: String,
    /// The rig file.
    pub rig: PathBuf,
    /// Every point measured.
    pub points: Vec<RigPoint>,
    /// Per buffer size, the most instances that held real time synchronously and the most that
    /// held either way (synchronously or two in flight); 0: not even one.
    pub held: Vec<(usize, usize, usize)>,
    /// One instance, 64 frames: buffers timed, p50, p99, p99.9 (µs).
    pub latency: (usize, f64, f64, f64),
    /// The same buffers' round trip split: p50 of queueing (inputs staged, launches issued) and
    /// p50 of the wait for the output (µs), and the device time per buffer queued two in flight.
    pub latency_split: (f64, f64, f64),
    /// The same instance's host time per buffer by step (as [`RigPoint::host_us`], over ten
    /// times as many buffers).
    pub latency_host_us: Vec<(String, f64)>,
    /// Where the NAM models ran (`--nam-streams`).
    pub nam_streams: String,
    /// What ran them inside the program (one instance, 64 frames), if they ran there.
    pub stream_steps: Vec<String>,
    /// Phase-group points measured (`--phase-groups`).
    pub phase_points: Vec<PhasePoint>,
    /// Per buffer size and group count, the most instances (groups × per group) that held, and
    /// whether `--max-instances` stopped the search there (larger groups were not tried).
    pub phase_held: Vec<(usize, usize, usize, bool)>,
}

/// What `bench --rig` sweeps.
pub struct RigSweep {
    /// Buffer sizes.
    pub buffers: Vec<usize>,
    /// Fewest instances tried (the sweep doubles from here).
    pub min_instances: usize,
    /// Most instances tried.
    pub max_instances: usize,
    /// Phase-group counts to measure after the sweep (1s ignored).
    pub phase_groups: Vec<usize>,
    /// Buffers timed for the latency percentiles.
    pub latency_buffers: usize,
    /// Where the rig's NAM models run.
    pub streams: StreamFusion,
}

/// The job [`bench_rig`] runs on the device.
pub struct RigBenchJob<'a> {
    /// The rig file (relative paths in it resolve against its folder).
    pub rig: &'a Path,
    /// Its parsed spec.
    pub spec: &'a GraphSpec,
    /// Where its relative paths resolve ([`crate::graph::read_rig`]).
    pub base_dir: PathBuf,
    /// What to measure.
    pub sweep: &'a RigSweep,
}

/// Round trips of `count` buffers (after [`UNTIMED`] untimed), sorted (µs), and the launches
/// per buffer.
pub fn time_buffers<R: Runtime>(
    engine: &Engine<R>,
    graph: &mut CompiledGraph<R>,
    frames: usize,
    count: usize,
) -> Result<(Vec<f64>, u32)> {
    let (times, _, launches) = time_split(engine, graph, frames, count)?;
    Ok((times, launches))
}

/// [`time_buffers`] with each round trip split in two: (round trips, (queueing, waiting)
/// pairs), both sorted, µs.
#[allow(clippy::type_complexity)]
fn time_split<R: Runtime>(
    engine: &Engine<R>,
    graph: &mut CompiledGraph<R>,
    frames: usize,
    count: usize,
) -> Result<(Vec<f64>, (Vec<f64>, Vec<f64>), u32)> {
    let x = test_inputs(graph, frames);
    let inputs: Vec<&[f32]> = x.iter().map(Vec::as_slice).collect();
    let mut y = vec![vec![0.0f32; frames]; graph.output_channels()];
    let mut times = Vec::with_capacity(count);
    let (mut queueing, mut waiting) = (Vec::with_capacity(count), Vec::with_capacity(count));
    for k in 0..count + UNTIMED {
        let start = Instant::now();
        let mut outs: Vec<&mut [f32]> = y.iter_mut().map(|v| v.as_mut_slice()).collect();
        let pending = graph.process_async(engine, &inputs)?;
        let queued = start.elapsed();
        pending.wait(&mut outs)?;
        if k >= UNTIMED {
            let total = start.elapsed();
            times.push(total.as_secs_f64() * 1e6);
            queueing.push(queued.as_secs_f64() * 1e6);
            waiting.push((total - queued).as_secs_f64() * 1e6);
        }
    }
    for v in [&mut times, &mut queueing, &mut waiting] {
        v.sort_by(f64::total_cmp);
    }
    Ok((times, (queueing, waiting), graph.launches_per_buffer()))
}

/// Intervals between results (µs, sorted) of `count` buffers (after [`UNTIMED`] untimed) with
/// two in flight: buffer k+1 is filled and queued, then buffer k is read back.
fn pipelined_intervals<R: Runtime>(
    engine: &Engine<R>,
    graph: &mut CompiledGraph<R>,
    frames: usize,
    count: usize,
) -> Result<Vec<f64>> {
    let x = test_inputs(graph, frames);
    let inputs: Vec<&[f32]> = x.iter().map(Vec::as_slice).collect();
    let mut y = vec![vec![0.0f32; frames]; graph.output_channels()];
    let mut outs: Vec<&mut [f32]> = y.iter_mut().map(|v| v.as_mut_slice()).collect();
    let mut times = Vec::with_capacity(count);
    let mut pending = graph.process_async(engine, &inputs)?;
    for k in 0..count + UNTIMED {
        let start = Instant::now();
        let next = graph.process_async(engine, &inputs)?;
        pending.wait(&mut outs)?;
        pending = next;
        if k >= UNTIMED {
            times.push(start.elapsed().as_secs_f64() * 1e6);
        }
    }
    pending.wait(&mut outs)?;
    times.sort_by(f64::total_cmp);
    Ok(times)
}

/// Round trips (µs, sorted) of `count` buffers of every graph of `groups` (after 10 untimed),
/// group `k`'s buffer `b` arriving at `b·T + k·T/K` in real time and timed from its arrival.
fn phased_round_trips<R: Runtime>(
    engine: &Engine<R>,
    groups: &mut [CompiledGraph<R>],
    frames: usize,
    count: usize,
) -> Result<Vec<f64>> {
    let x = test_inputs(&groups[0], frames);
    let inputs: Vec<&[f32]> = x.iter().map(Vec::as_slice).collect();
    let mut y = vec![vec![0.0f32; frames]; groups[0].output_channels()];
    let period = Duration::from_secs_f64(frames as f64 / RATE);
    let phase = period / groups.len() as u32;
    let start = Instant::now() + period;
    let mut times = Vec::with_capacity(count * groups.len());
    for b in 0..count as u32 + 10 {
        for (k, graph) in groups.iter_mut().enumerate() {
            let due = start + period * b + phase * k as u32;
            wait_until(due);
            let mut outs: Vec<&mut [f32]> = y.iter_mut().map(|v| v.as_mut_slice()).collect();
            graph.process_async(engine, &inputs)?.wait(&mut outs)?;
            if b >= 10 {
                times.push(due.elapsed().as_secs_f64() * 1e6);
            }
        }
    }
    times.sort_by(f64::total_cmp);
    Ok(times)
}

/// Sleeps until shortly before `due`, then spins: a plain sleep overshoots by tens of µs.
fn wait_until(due: Instant) {
    let spin = Duration::from_micros(200);
    let now = Instant::now();
    if due > now + spin {
        std::thread::sleep(due - now - spin);
    }
    while Instant::now() < due {
        std::hint::spin_loop();
    }
}

/// Device time per buffer (µs): `count` buffers queued two in flight (see [`RigPoint::queued_us`]).
fn queued_us<R: Runtime>(engine: &Engine<R>, graph: &mut CompiledGraph<R>, frames: usize, count: usize) -> Result<f64> {
    let x = test_inputs(graph, frames);
    let inputs: Vec<&[f32]> = x.iter().map(Vec::as_slice).collect();
    let mut y = vec![vec![0.0f32; frames]; graph.output_channels()];
    let mut outs: Vec<&mut [f32]> = y.iter_mut().map(|v| v.as_mut_slice()).collect();
    // Settle the queue first, so the timed span starts with an idle device.
    graph.process(engine, &inputs, &mut outs)?;
    let start = Instant::now();
    // Two buffers in flight, as the graph's two transfer slots allow: buffer k+1 is filled and
    // queued while buffer k runs, and k is fetched before k+2 takes its slot (a slot whose last
    // buffer is unfetched waits for the device before overwriting its page-locked input).
    let mut in_flight = std::collections::VecDeque::with_capacity(2);
    for _ in 0..count {
        if in_flight.len() == 2 {
            let oldest: Pending<R> = in_flight.pop_front().expect("two in flight");
            oldest.wait(&mut outs)?;
        }
        in_flight.push_back(graph.process_async(engine, &inputs)?);
    }
    for pending in in_flight {
        pending.wait(&mut outs)?;
    }
    Ok(start.elapsed().as_secs_f64() * 1e6 / count as f64)
}

fn host_line(spans: &[(String, f64)]) -> String {
    spans.iter().map(|(n, us)| format!("{n} {us:.1}")).collect::<Vec<_>>().join(", ")
}

/// A deterministic signal per input channel.
fn test_inputs<R: Runtime>(graph: &CompiledGraph<R>, frames: usize) -> Vec<Vec<f32>> {
    (0..graph.input_channels())
        .map(|c| (0..frames).map(|i| (((i * 31 + c * 17) % 97) as f32 / 97.0 - 0.5) * 0.5).collect())
        .collect()
}

/// The `p` quantile (0..1) of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

impl DeviceJob for RigBenchJob<'_> {
    type Output = Result<RigBenchReport>;

    fn run<R: Runtime>(self, client: &ComputeClient<R>, info: &DeviceInfo) -> Self::Output {
        let engine = Engine::new(client.clone(), info.clone());
        let base_dir = &self.base_dir;
        let in_rig = |error| CliError::Graph { path: self.rig.to_path_buf(), error: Box::new(error) };
        let compile = |frames: usize, instances: usize| {
            let options = GraphOptions {
                instances,
                streams: self.sweep.streams,
                ..GraphOptions::new(RATE, frames, base_dir.clone())
            };
            CompiledGraph::compile(&engine, &registry::<R>(), self.spec, &options).map_err(in_rig)
        };
        let mut points = Vec::new();
        let mut held = Vec::new();
        for &frames in &self.sweep.buffers {
            let budget_us = frames as f64 / RATE * 1e6;
            let mut search = CapacitySearch::default();
            let mut instances = self.sweep.min_instances.max(1);
            while instances <= self.sweep.max_instances && instances > search.held {
                let mut graph = compile(frames, instances)?;
                let (times, (queueing, waiting), launches) = time_split(&engine, &mut graph, frames, TIMED)?;
                let piped = pipelined_intervals(&engine, &mut graph, frames, TIMED)?;
                let (traced, host_us) = breakdown(TRACED + UNTIMED, || time_split(&engine, &mut graph, frames, TRACED));
                traced?;
                let point = RigPoint {
                    buffer: frames,
                    instances,
                    launches,
                    p50_us: percentile(&times, 0.5),
                    p99_us: percentile(&times, 0.99),
                    budget_us,
                    holds: percentile(&times, 0.99) < 0.5 * budget_us,
                    pipelined_us: (percentile(&piped, 0.5), percentile(&piped, 0.99)),
                    holds_pipelined: percentile(&piped, 0.99) < 0.5 * budget_us,
                    queued_us: queued_us(&engine, &mut graph, frames, QUEUED)?,
                    per_cube: graph.instances_per_cube(),
                    host_us,
                    split_p50_us: (percentile(&queueing, 0.5), percentile(&waiting, 0.5)),
                };
                eprintln!(
                    "{} frames, {instances:>5} instances: {launches} launches, p50 {:8.1} µs ({:.1} queueing + {:.1} waiting), p99 {:8.1} µs of {budget_us:.0} µs{}, two in flight p50 {:8.1} p99 {:8.1} µs{}, device {:8.1} µs, {:?} per cube, {:?} stream stages unrolled",
                    frames,
                    point.p50_us,
                    point.split_p50_us.0,
                    point.split_p50_us.1,
                    point.p99_us,
                    if point.holds { "" } else { " (misses)" },
                    point.pipelined_us.0,
                    point.pipelined_us.1,
                    if point.holds_pipelined { "" } else { " (misses)" },
                    point.queued_us,
                    point.per_cube,
                    graph.unrolled_stream_stages(),
                );
                eprintln!("    host µs per buffer: {}", host_line(&point.host_us));
                search.record(instances, point.holds, point.holds_pipelined);
                points.push(point);
                match search.next(instances) {
                    Some(next) => instances = next,
                    None => break,
                }
            }
            held.push((frames, search.held_sync, search.held));
        }
        let mut phase_points = Vec::new();
        let mut phase_held = Vec::new();
        for &(frames, best, _) in &held {
            for &k in self.sweep.phase_groups.iter().filter(|&&k| k > 1) {
                let budget_us = frames as f64 / RATE * 1e6;
                // Phase groups are synchronous round trips: per group at most what held as one
                // group synchronously; start from an even split of it and double while the
                // groups hold, or halve until they do.
                let mut per_group = (best / k).max(1).next_power_of_two().min(best.max(1));
                let mut most = 0;
                let mut tried = std::collections::BTreeSet::new();
                while per_group >= 1 && per_group * k <= self.sweep.max_instances && !tried.contains(&per_group) {
                    let mut groups = (0..k).map(|_| compile(frames, per_group)).collect::<Result<Vec<_>>>()?;
                    let times = phased_round_trips(&engine, &mut groups, frames, TIMED)?;
                    let point = PhasePoint {
                        buffer: frames,
                        groups: k,
                        per_group,
                        launches: groups[0].launches_per_buffer(),
                        p50_us: percentile(&times, 0.5),
                        p99_us: percentile(&times, 0.99),
                        holds: percentile(&times, 0.99) < 0.5 * budget_us,
                    };
                    eprintln!(
                        "{frames} frames, {k} phase groups of {per_group:>5} instances: {} launches per group buffer, p50 {:8.1} µs, p99 {:8.1} µs{}",
                        point.launches,
                        point.p50_us,
                        point.p99_us,
                        if point.holds { "" } else { " — misses" }
                    );
                    tried.insert(per_group);
                    let holds = point.holds;
                    phase_points.push(point);
                    if holds {
                        most = most.max(per_group * k);
                        per_group *= 2;
                    } else if most > 0 {
                        break;
                    } else {
                        per_group /= 2;
                    }
                }
                let capped = most > 0 && most * 2 > self.sweep.max_instances;
                phase_held.push((frames, k, most, capped));
            }
        }
        let mut graph = compile(64, 1)?;
        let (times, (queueing, waiting), _) = time_split(&engine, &mut graph, 64, self.sweep.latency_buffers.max(100))?;
        let (traced, latency_host_us) =
            breakdown(TRACED * 10 + UNTIMED, || time_split(&engine, &mut graph, 64, TRACED * 10));
        traced?;
        let latency = (times.len(), percentile(&times, 0.5), percentile(&times, 0.99), percentile(&times, 0.999));
        let latency_split =
            (percentile(&queueing, 0.5), percentile(&waiting, 0.5), queued_us(&engine, &mut graph, 64, QUEUED)?);
        let stream_steps = graph.stream_steps().iter().map(|s| s.label()).collect();
        let nam_streams = format!("{:?}", self.sweep.streams).to_lowercase();
        Ok(RigBenchReport {
            device: info.to_string(),
            rig: self.rig.to_path_buf(),
            points,
            held,
            latency,
            latency_split,
            latency_host_us,
            nam_streams,
            stream_steps,
            phase_points,
            phase_held,
        })
    }
}

/// The report as Markdown.
pub fn markdown(r: &RigBenchReport) -> String {
    let mut md = format!(
        "Device: {}. Rig `{}` (NAM models: --nam-streams {}): instances doubling from --min-instances until a count misses real time, then two bisection steps. Synchronous: each buffer's round trip (inputs up, the launch, outputs back), p99 of {TIMED} under half the buffer. Two in flight: buffer k+1 queued before buffer k is read back (a double-buffered host; one buffer more latency), p99 of the interval between results under half the buffer.\n\n| buffer | instances | launches | p50 µs | p99 µs | budget µs | holds | two in flight p50 / p99 µs | holds two in flight | device µs per buffer, {QUEUED} queued two in flight | instances per cube |\n|---|---|---|---|---|---|---|---|---|---|---|\n",
        r.device,
        r.rig.display(),
        r.nam_streams
    );
    for p in &r.points {
        md.push_str(&format!(
            "| {} | {} | {} | {:.1} | {:.1} | {:.0} | {} | {:.1} / {:.1} | {} | {:.1} | {} |\n",
            p.buffer,
            p.instances,
            p.launches,
            p.p50_us,
            p.p99_us,
            p.budget_us,
            p.holds,
            p.pipelined_us.0,
            p.pipelined_us.1,
            p.holds_pipelined,
            p.queued_us,
            p.per_cube.iter().map(usize::to_string).collect::<Vec<_>>().join(", ")
        ));
    }
    md.push_str(&format!(
        "\nHost time per buffer by step, mean µs of {TRACED} synchronous buffers traced apart from the timed ones (`wait` holds the device's time and `copy_out`):\n\n| buffer | instances | host µs per buffer |\n|---|---|---|\n"
    ));
    for p in &r.points {
        md.push_str(&format!("| {} | {} | {} |\n", p.buffer, p.instances, host_line(&p.host_us)));
    }
    if !r.stream_steps.is_empty() {
        md.push_str(&format!("\nInside the program the NAM models run on {}.\n", r.stream_steps.join("; ")));
    }
    for (buffer, sync, either) in &r.held {
        let capped = r.points.iter().filter(|p| p.buffer == *buffer).all(|p| p.holds || p.holds_pipelined);
        let note = if capped { " (every count tried held: the limit, not the device's)" } else { "" };
        md.push_str(&format!(
            "\nHeld at {buffer} frames: {sync} instances synchronously, {either} with two buffers in flight or synchronously{note}."
        ));
    }
    if !r.phase_points.is_empty() {
        md.push_str(&format!(
            "\n\nPhase groups (each group a graph; group k's buffers arrive k/K of a buffer after group 0's, paced in real time; round trips from arrival, {TIMED} buffers per group):\n\n| buffer | groups | instances per group | total | launches per group buffer | p50 µs | p99 µs | holds |\n|---|---|---|---|---|---|---|---|\n"
        ));
        for p in &r.phase_points {
            md.push_str(&format!(
                "| {} | {} | {} | {} | {} | {:.1} | {:.1} | {} |\n",
                p.buffer,
                p.groups,
                p.per_group,
                p.groups * p.per_group,
                p.launches,
                p.p50_us,
                p.p99_us,
                p.holds
            ));
        }
        for (buffer, k, n, capped) in &r.phase_held {
            let note = if *capped { " (the --max-instances limit, not the device's)" } else { "" };
            md.push_str(&format!("\nHeld at {buffer} frames in {k} phase groups: {n} instances{note}."));
        }
    }
    let (count, p50, p99, p999) = r.latency;
    let (queueing, waiting, device) = r.latency_split;
    md.push_str(&format!(
        "\n\nOne instance, 64 frames, {count} buffers: round trip p50 {p50:.1} µs, p99 {p99:.1} µs, p99.9 {p999:.1} µs (p50 of queueing {queueing:.1} µs, of waiting {waiting:.1} µs; device time per buffer, {QUEUED} queued two in flight: {device:.1} µs). Host µs per buffer by step ({} buffers traced): {}.\n",
        TRACED * 10,
        host_line(&r.latency_host_us)
    ));
    md
}
