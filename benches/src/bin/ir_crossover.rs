//! Direct-form FIR against the partitioned FFT convolver for IRs of growing length: the measured
//! crossover that the `ir` processor's `"auto"` uses (`direct_max_taps`), and the block-size rule
//! (`convolution_block`). Per configuration: the median and p99 of one buffer launched and
//! synchronised (what a graph's round trip pays), and the device time per buffer with 300
//! buffers queued back to back. Writes a Markdown table and JSON.
//!
//! `ir_crossover --runtime cuda --out DIR` (built here, run on the GPU machine).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use clap::Parser;
use cubeaudio_kernels::partitioned_conv::RoutedConvolver;
use cubeaudio_kernels::routed::{RoutedFir, MAX_FIR_TAPS};
use cubeaudio_kernels::util::Buffer;
use cubeaudio_runtime::builtins::convolution_block;
use cubecl::prelude::*;
use serde::Serialize;

#[derive(Parser)]
struct Args {
    /// cuda or wgpu.
    #[arg(long, default_value = "cuda")]
    runtime: String,
    /// Timed buffers per configuration.
    #[arg(long, default_value_t = 300)]
    buffers: usize,
    #[arg(long, default_value = "ir-crossover")]
    out: PathBuf,
}

#[derive(Serialize)]
struct Row {
    channels: usize,
    buffer: usize,
    taps: usize,
    method: String,
    sync_p50_us: f64,
    sync_p99_us: f64,
    queued_us: f64,
}

enum Conv {
    Direct(Box<RoutedFir>),
    Partitioned(Box<RoutedConvolver>),
}

impl Conv {
    fn process<R: Runtime>(&mut self, client: &ComputeClient<R>, arena: &Buffer, stride: usize) -> Result<()> {
        match self {
            Conv::Direct(f) => f.process(client, arena, stride, stride)?,
            Conv::Partitioned(p) => {
                p.process(client, arena, stride, stride)?;
            }
        }
        Ok(())
    }
}

/// A decaying-noise IR (the values do not change the cost; they keep the arithmetic honest).
fn ir(taps: usize, seed: usize) -> Vec<f32> {
    (0..taps)
        .map(|i| {
            let n = ((i * 7919 + seed * 104_729) % 1000) as f32 / 500.0 - 1.0;
            n * (-(i as f32) / (taps as f32 / 4.0)).exp() * 0.05
        })
        .collect()
}

fn time<R: Runtime>(
    client: &ComputeClient<R>,
    conv: &mut Conv,
    channels: usize,
    buffer: usize,
    count: usize,
) -> Result<(f64, f64, f64)> {
    let input: Vec<f32> = (0..2 * channels * buffer).map(|i| ((i % 97) as f32 / 48.0 - 1.0) * 0.5).collect();
    let arena = Buffer::upload(client, &input);
    let sync = || cubecl::future::block_on(client.sync()).map_err(|e| anyhow::anyhow!("device error: {e:?}"));
    for _ in 0..20 {
        conv.process(client, &arena, buffer)?;
    }
    sync()?;
    let mut times = Vec::with_capacity(count);
    for _ in 0..count {
        let start = Instant::now();
        conv.process(client, &arena, buffer)?;
        sync()?;
        times.push(start.elapsed().as_secs_f64() * 1e6);
    }
    times.sort_by(f64::total_cmp);
    let start = Instant::now();
    for _ in 0..count {
        conv.process(client, &arena, buffer)?;
    }
    sync()?;
    let queued = start.elapsed().as_secs_f64() * 1e6 / count as f64;
    Ok((times[count / 2], times[count * 99 / 100], queued))
}

fn run<R: Runtime>(client: &ComputeClient<R>, device: String, args: &Args) -> Result<()> {
    let mut rows = Vec::new();
    let mut measure = |channels: usize, buffer: usize, taps: usize, block: Option<usize>| -> Result<()> {
        let irs: Vec<Vec<f32>> = (0..channels).map(|c| ir(taps, c)).collect();
        // Channel c reads slot c and writes slot channels + c.
        let routes: Vec<((u32, u32), &[f32])> =
            irs.iter().enumerate().map(|(c, h)| ((c as u32, (channels + c) as u32), h.as_slice())).collect();
        let (mut conv, method) = match block {
            None => (Conv::Direct(Box::new(RoutedFir::new(client, &routes, buffer)?)), "direct".to_string()),
            Some(b) => (
                Conv::Partitioned(Box::new(RoutedConvolver::new(client, &routes, buffer, b)?)),
                format!("partitioned, block {b}"),
            ),
        };
        let (p50, p99, queued) = time(client, &mut conv, channels, buffer, args.buffers)?;
        println!("{channels:>3} ch, buffer {buffer:>4}, {taps:>6} taps, {method:<22}: sync p50 {p50:8.1} µs, p99 {p99:8.1} µs, queued {queued:8.1} µs");
        rows.push(Row { channels, buffer, taps, method, sync_p50_us: p50, sync_p99_us: p99, queued_us: queued });
        Ok(())
    };
    for channels in [2, 64] {
        for buffer in [64, 128, 512] {
            for taps in [256, 512, 1024, 2048, 4096, 8192, 16_384] {
                measure(channels, buffer, taps, None)?;
                measure(channels, buffer, taps, Some(convolution_block(buffer)))?;
            }
            for taps in [48_000, 480_000] {
                measure(channels, buffer, taps, Some(convolution_block(buffer)))?;
            }
        }
    }
    // The block rule: other blocks for a 128-frame buffer.
    for taps in [4096, 48_000] {
        for block in [64, 256, 512, 1024] {
            measure(2, 128, taps, Some(block))?;
        }
    }
    let mut md = format!(
        "Device: {device}. `ir_crossover --runtime {}`: per row the median and p99 of one buffer launched and synchronised ({} buffers), and the device time per buffer with {} buffers queued. Direct form takes up to {MAX_FIR_TAPS} taps.\n\n| channels | buffer | taps | method | sync p50 µs | sync p99 µs | queued µs |\n|---|---|---|---|---|---|---|\n",
        args.runtime, args.buffers, args.buffers
    );
    for r in &rows {
        md.push_str(&format!(
            "| {} | {} | {} | {} | {:.1} | {:.1} | {:.1} |\n",
            r.channels, r.buffer, r.taps, r.method, r.sync_p50_us, r.sync_p99_us, r.queued_us
        ));
    }
    cubeaudio_benches::write_report(&args.out, "ir-crossover", &md, &rows)?;
    Ok(())
}

fn main() -> Result<()> {
    let args = Args::parse();
    cubeaudio_benches::on_runtime!(args.runtime.as_str(), |client, device| run(client, device, &args))
}
