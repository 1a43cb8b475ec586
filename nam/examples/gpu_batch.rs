//! Many streams of a `.nam` model in one GPU launch per buffer, checked against the CPU engine.
//!
//! Loads a model once, builds a batch of eight streams (eight guitars through the same amp;
//! different models may share a batch too), feeds each its own signal buffer by buffer, and
//! compares every stream with a CPU-engine instance fed the same signal.
//!
//! `cargo run --release -p cubeaudio-nam --example gpu_batch [-- MODEL.nam]` (default: the
//! standard WaveNet in `cli/examples/models/clean.nam`).

use std::path::PathBuf;

use cubeaudio_kernels::device::{Backend, DeviceInfo, DeviceJob};
use cubeaudio_nam::gpu::GpuWaveNetBatch;
use cubeaudio_nam::{load_file, LoadOptions, LoadedModel, Model, NamError};
use cubecl::prelude::*;

const STREAMS: usize = 8;
const BUFFER: usize = 256;
const FRAMES: usize = 16 * BUFFER;

struct Compare<'a> {
    model: &'a LoadedModel,
}

impl DeviceJob for Compare<'_> {
    type Output = Result<f64, NamError>;

    fn run<R: Runtime>(self, client: &ComputeClient<R>, info: &DeviceInfo) -> Self::Output {
        // The batch prewarms each stream as the CPU engine's `reset(BUFFER)` does.
        let models = vec![self.model.dsp.as_ref(); STREAMS];
        let mut batch = GpuWaveNetBatch::new(client, &models, BUFFER)?;
        println!("{STREAMS} streams on {info}");
        let signals: Vec<Vec<f32>> = (0..STREAMS)
            .map(|s| (0..FRAMES).map(|t| 0.3 * (t as f32 * (0.01 + 0.004 * s as f32)).sin()).collect())
            .collect();
        let mut gpu = vec![vec![0.0f32; FRAMES]; STREAMS];
        for at in (0..FRAMES).step_by(BUFFER) {
            let inputs: Vec<&[f32]> = signals.iter().map(|x| &x[at..at + BUFFER]).collect();
            let mut outputs: Vec<&mut [f32]> = gpu.iter_mut().map(|y| &mut y[at..at + BUFFER]).collect();
            batch.process(&inputs, &mut outputs)?;
        }
        let mut worst = 0.0f64;
        for (signal, got) in signals.iter().zip(&gpu) {
            let mut cpu = Model::new(self.model.dsp.clone());
            cpu.reset(BUFFER)?;
            let mut want = vec![0.0f32; FRAMES];
            for (x, y) in signal.chunks(BUFFER).zip(want.chunks_mut(BUFFER)) {
                cpu.process(x, y);
            }
            let err = got.iter().zip(&want).map(|(a, b)| (a - b).abs() as f64).fold(0.0, f64::max);
            worst = worst.max(err);
        }
        Ok(worst)
    }
}

fn main() {
    let path = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../cli/examples/models/clean.nam"));
    let model = match load_file(&path, LoadOptions::default()) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    println!("{} ({}), {} FLOPs per sample", path.display(), model.architecture, model.dsp.flops_per_sample());
    let device = match Backend::Auto.open_gpu() {
        Ok(device) => device,
        Err(e) if cubeaudio_kernels::device::required("wgpu") => panic!("a device is required here: {e}"),
        Err(e) => {
            eprintln!("SKIPPED gpu_batch example: no GPU runtime ({e})");
            return;
        }
    };
    match device.run(Compare { model: &model }) {
        Ok(worst) => {
            println!("max |GPU − CPU| over {STREAMS} streams × {FRAMES} samples: {worst:.2e}");
            assert!(worst < 1e-4, "the GPU batch differs from the CPU engine by {worst}");
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
