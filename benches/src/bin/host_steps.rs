//! Where a NAM batch's round trip goes on the host (CUDA): per buffer, `process_async` (input
//! checks and copy, upload, launch, read-back queued, flush) and `wait` (the read-back and the
//! copy out), medians over many buffers; the same batch's queued device time; and a transfer
//! slot of the same size alone (upload, then read-back, no kernel). For docs/PERFORMANCE.md.
//!
//! `host_steps --model clean.nam --streams 1,256,1024,2048 --frames 64` (built here, run on the
//! GPU machine).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{anyhow, Result};
use clap::Parser;
use cubeaudio_kernels::transfer_slot::TransferSlot;
use cubeaudio_nam::gpu::GpuWaveNetBatch;
use cubeaudio_nam::{load_file, LoadOptions};

#[derive(Parser)]
struct Args {
    /// A WaveNet .nam file.
    #[arg(long)]
    model: PathBuf,
    /// Stream counts, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,256,1024,2048")]
    streams: Vec<usize>,
    /// Frames per buffer.
    #[arg(long, default_value_t = 64)]
    frames: usize,
    /// Timed buffers per point.
    #[arg(long, default_value_t = 300)]
    buffers: usize,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result<()> {
    let args = Args::parse();
    let (client, info) = cubeaudio_kernels::device::cuda::open(0).map_err(|e| anyhow!("{e}"))?;
    println!("device: {info}");
    let loaded = load_file(&args.model, LoadOptions { fast_tanh: true })?;
    let frames = args.frames;
    let input: Vec<f32> = (0..frames).map(|i| (i as f32 * 0.05).sin() * 0.4).collect();
    println!(
        "streams | process_async µs | wait µs | round trip µs | queued device µs | slot upload µs | slot read-back µs"
    );
    for &n in &args.streams {
        let nets: Vec<_> = (0..n).map(|_| loaded.dsp.as_ref()).collect();
        let mut batch = GpuWaveNetBatch::new(&client, &nets, frames)?;
        let ins: Vec<&[f32]> = vec![&input; n];
        let mut outs = vec![vec![0.0f32; frames]; n];
        let (mut a, mut w) = (Vec::new(), Vec::new());
        for k in 0..args.buffers + 20 {
            let mut ys: Vec<&mut [f32]> = outs.iter_mut().map(|o| o.as_mut_slice()).collect();
            let t0 = Instant::now();
            let pending = batch.process_async(&ins)?;
            let t1 = Instant::now();
            pending.wait(&mut ys)?;
            let t2 = Instant::now();
            if k >= 20 {
                a.push((t1 - t0).as_secs_f64() * 1e6);
                w.push((t2 - t1).as_secs_f64() * 1e6);
            }
        }
        let round: Vec<f64> = a.iter().zip(&w).map(|(x, y)| x + y).collect();
        // The same buffer with the device drained before `wait`: what `wait` costs once the
        // kernel is done (read-back completion and the copy out), and the launch alone.
        let (mut drained, mut launch) = (Vec::new(), Vec::new());
        let (x, y) = (
            cubeaudio_kernels::util::Buffer::filled(&client, n * frames, 0.0),
            cubeaudio_kernels::util::Buffer::filled(&client, n * frames, 0.0),
        );
        for k in 0..args.buffers + 20 {
            let mut ys: Vec<&mut [f32]> = outs.iter_mut().map(|o| o.as_mut_slice()).collect();
            let pending = batch.process_async(&ins)?;
            cubecl::future::block_on(client.sync()).map_err(|e| anyhow!("{e:?}"))?;
            let t0 = Instant::now();
            pending.wait(&mut ys)?;
            let t1 = Instant::now();
            batch.launch_device(&x, &y, frames);
            client.flush().map_err(|e| anyhow!("{e:?}"))?;
            let t2 = Instant::now();
            cubecl::future::block_on(client.sync()).map_err(|e| anyhow!("{e:?}"))?;
            if k >= 20 {
                drained.push((t1 - t0).as_secs_f64() * 1e6);
                launch.push((t2 - t1).as_secs_f64() * 1e6);
            }
        }
        // The batch's steps by hand through a transfer slot: the read-back ticket's wait split
        // into the future (cubecl's read) and the copy out, with the device drained first.
        let mut slot2 = TransferSlot::new(&client, n * frames);
        let (mut fut, mut closure, mut enqueue) = (Vec::new(), Vec::new(), Vec::new());
        for k in 0..args.buffers + 20 {
            slot2.host_input().fill(0.25);
            let (input, output) = slot2.send(n * frames).map_err(|e| anyhow!("{e:?}"))?;
            batch.launch_device(&input, &output, frames);
            let t0 = Instant::now();
            let ticket = slot2.read_back(n * frames).map_err(|e| anyhow!("{e:?}"))?;
            let t1 = Instant::now();
            cubecl::future::block_on(client.sync()).map_err(|e| anyhow!("{e:?}"))?;
            let t2 = Instant::now();
            let mut t3 = t2;
            ticket
                .fetch(|v| {
                    t3 = Instant::now();
                    for (s, o) in outs.iter_mut().enumerate() {
                        for (d, x) in o.iter_mut().zip(&v[s * frames..(s + 1) * frames]) {
                            *d = if x.is_finite() { *x } else { 0.0 };
                        }
                    }
                })
                .map_err(|e| anyhow!("{e:?}"))?;
            let t4 = Instant::now();
            if k >= 20 {
                enqueue.push((t1 - t0).as_secs_f64() * 1e6);
                fut.push((t3 - t2).as_secs_f64() * 1e6);
                closure.push((t4 - t3).as_secs_f64() * 1e6);
            }
        }
        println!(
            "{n} streams, by hand: read-back queued (flushed as the batch's is) {:.1} µs; after the device drained, the read future {:.1} µs, the copy out (and the read's release) {:.1} µs",
            median(enqueue),
            median(fut),
            median(closure)
        );
        // The host copies alone: every stream's input into one staging vector with the NaN
        // check, and back out into per-stream vectors.
        let mut staging = vec![0.0f32; n * frames];
        let (mut fill, mut copy_out) = (Vec::new(), Vec::new());
        for _ in 0..args.buffers {
            let t0 = Instant::now();
            for (s, xs) in ins.iter().enumerate() {
                for (d, v) in staging[s * frames..(s + 1) * frames].iter_mut().zip(xs.iter()) {
                    *d = if v.is_finite() { *v } else { 0.0 };
                }
            }
            let t1 = Instant::now();
            for (s, o) in outs.iter_mut().enumerate() {
                for (d, v) in o.iter_mut().zip(&staging[s * frames..(s + 1) * frames]) {
                    *d = if v.is_finite() { *v } else { 0.0 };
                }
            }
            let t2 = Instant::now();
            fill.push((t1 - t0).as_secs_f64() * 1e6);
            copy_out.push((t2 - t1).as_secs_f64() * 1e6);
        }
        std::hint::black_box(&outs);
        println!(
            "{n} streams: wait after the device drained {:.1} µs, launch + flush {:.1} µs, input copy {:.1} µs, copy out {:.1} µs",
            median(drained),
            median(launch),
            median(fill),
            median(copy_out)
        );
        // Device time: buffers launched back to back on device-resident buffers, one sync.
        let zeros = || cubeaudio_kernels::util::Buffer::filled(&client, n * frames, 0.0);
        let (x, y) = (zeros(), zeros());
        cubecl::future::block_on(client.sync()).map_err(|e| anyhow!("{e:?}"))?;
        let t = Instant::now();
        for _ in 0..50 {
            batch.launch_device(&x, &y, frames);
        }
        cubecl::future::block_on(client.sync()).map_err(|e| anyhow!("{e:?}"))?;
        let queued = t.elapsed().as_secs_f64() * 1e6 / 50.0;
        let mut slot = TransferSlot::new(&client, n * frames);
        let (mut up, mut back) = (Vec::new(), Vec::new());
        for k in 0..args.buffers + 20 {
            slot.host_input().fill(0.25);
            let t0 = Instant::now();
            let _ = slot.send(n * frames).map_err(|e| anyhow!("{e:?}"))?;
            let t1 = Instant::now();
            slot.read_back(n * frames)
                .map_err(|e| anyhow!("{e:?}"))?
                .fetch(|v| assert_eq!(v.len(), n * frames))
                .map_err(|e| anyhow!("{e:?}"))?;
            let t2 = Instant::now();
            if k >= 20 {
                up.push((t1 - t0).as_secs_f64() * 1e6);
                back.push((t2 - t1).as_secs_f64() * 1e6);
            }
        }
        println!(
            "{n} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1}{}",
            median(a),
            median(w),
            median(round),
            queued,
            median(up),
            median(back),
            if slot.is_pinned() { " (page-locked slot)" } else { "" }
        );
    }
    Ok(())
}
