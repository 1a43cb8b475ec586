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
            slot.read_back(n * frames).fetch(|v| assert_eq!(v.len(), n * frames)).map_err(|e| anyhow!("{e:?}"))?;
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
