//! `cubeaudio bench`: how many NAM streams one GPU carries in real time, the round-trip latency
//! of one stream, offline throughput, and the CPU engine on the same machine as the baseline.

use std::time::Instant;

use cubecl::prelude::*;

use crate::error::Result;
use crate::gpu::GpuWaveNetBatch;
use crate::model::Model;
use crate::wavenet::WaveNet;

#[derive(Debug, Clone, serde::Serialize)]
pub struct CapacityRow {
    pub model: String,
    pub buffer: usize,
    pub streams: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub budget_ms: f64,
    pub holds: bool,
    pub launches_per_buffer: usize,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct BenchReport {
    pub device: String,
    pub capacity: Vec<CapacityRow>,
    /// Largest stream count that held real time (p99 < 50 % of the budget), per model × buffer.
    pub max_streams: Vec<(String, usize, usize)>,
    pub latency_buffers: usize,
    pub latency_p50_us: f64,
    pub latency_p99_us: f64,
    pub latency_p999_us: f64,
    pub offline_streams: usize,
    pub offline_realtime_factor: f64,
    pub cpu_realtime_factor: Vec<(String, f64)>,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn time_buffers<R: Runtime>(batch: &mut GpuWaveNetBatch<R>, streams: usize, buffer: usize, count: usize) -> Result<Vec<f64>> {
    let input: Vec<f32> = (0..buffer).map(|i| ((i as f32) * 0.05).sin() * 0.4).collect();
    let ins: Vec<&[f32]> = vec![&input; streams];
    let mut outs = vec![vec![0.0f32; buffer]; streams];
    let mut times = Vec::with_capacity(count);
    for k in 0..count + 5 {
        let mut ys: Vec<&mut [f32]> = outs.iter_mut().map(|o| o.as_mut_slice()).collect();
        let start = Instant::now();
        batch.process(&ins, &mut ys)?;
        if k >= 5 {
            times.push(start.elapsed().as_secs_f64() * 1e3);
        }
    }
    times.sort_by(f64::total_cmp);
    Ok(times)
}

/// Runs the whole benchmark. `models` are (name, WaveNet) pairs; `cpu_models` the same models as
/// CPU-engine instances for the baseline.
pub fn run<R: Runtime>(
    client: &ComputeClient<R>,
    device: String,
    models: &[(String, &WaveNet)],
    cpu_models: Vec<(String, Model)>,
    buffers: &[usize],
    max_streams: usize,
    latency_buffers: usize,
    log: &mut dyn FnMut(&str),
) -> Result<BenchReport> {
    let rate = 48_000.0;
    let mut capacity = Vec::new();
    let mut best = Vec::new();
    for (name, net) in models {
        for &buffer in buffers {
            let budget_ms = buffer as f64 / rate * 1e3;
            let mut streams = 1;
            let mut held = 0;
            while streams <= max_streams {
                let nets = vec![*net; streams];
                let mut batch = GpuWaveNetBatch::new(client, &nets, buffer)?;
                let times = time_buffers(&mut batch, streams, buffer, 50)?;
                let (p50, p99) = (percentile(&times, 0.5), percentile(&times, 0.99));
                let holds = p99 < 0.5 * budget_ms;
                log(&format!("{name} buffer {buffer}: {streams} streams p50 {p50:.3} ms p99 {p99:.3} ms (budget {budget_ms:.3} ms) {}", if holds { "holds" } else { "misses" }));
                capacity.push(CapacityRow { model: name.clone(), buffer, streams, p50_ms: p50, p99_ms: p99, budget_ms, holds, launches_per_buffer: 1 });
                if !holds {
                    break;
                }
                held = streams;
                streams *= 4;
            }
            best.push((name.clone(), buffer, held));
        }
    }
    // Latency: one stream of the first model, 64-sample buffers, host → GPU → host.
    let (_, first) = &models[0];
    let mut batch = GpuWaveNetBatch::new(client, &[*first], 64)?;
    let lat = time_buffers(&mut batch, 1, 64, latency_buffers)?;
    // Offline: many streams, long buffers.
    let offline_streams = 256;
    let nets = vec![*first; offline_streams];
    let mut batch = GpuWaveNetBatch::new(client, &nets, 4096)?;
    let times = time_buffers(&mut batch, offline_streams, 4096, 10)?;
    let offline = offline_streams as f64 * 4096.0 / rate / (percentile(&times, 0.5) / 1e3);
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
        cpu_realtime_factor: cpu,
    })
}

impl BenchReport {
    pub fn markdown(&self) -> String {
        let mut s = format!("Device: {}\n\n### Streams in real time (p99 time per buffer < 50 % of the buffer's duration)\n\n| model | buffer | max streams held |\n|---|---|---|\n", self.device);
        for (m, b, n) in &self.max_streams {
            s += &format!("| {m} | {b} | {n} |\n");
        }
        s += "\n| model | buffer | streams | p50 ms | p99 ms | budget ms | holds | launches/buffer |\n|---|---|---|---|---|---|---|---|\n";
        for r in &self.capacity {
            s += &format!("| {} | {} | {} | {:.3} | {:.3} | {:.3} | {} | {} |\n", r.model, r.buffer, r.streams, r.p50_ms, r.p99_ms, r.budget_ms, r.holds, r.launches_per_buffer);
        }
        s += &format!(
            "\n### Latency (one stream, 64-sample buffers, host → GPU → host, {} buffers)\n\np50 {:.1} µs, p99 {:.1} µs, p99.9 {:.1} µs\n\n### Offline\n\n{} streams × 4096-sample buffers: {:.0}× real time aggregate\n\n### CPU engine, one core of this machine (64-sample buffers)\n\n",
            self.latency_buffers, self.latency_p50_us, self.latency_p99_us, self.latency_p999_us, self.offline_streams, self.offline_realtime_factor
        );
        for (m, f) in &self.cpu_realtime_factor {
            s += &format!("- {m}: {f:.1}× real time\n");
        }
        s
    }
}
