//! Faults on the GPU engine become error values and leave no stream corrupted:
//! - NaN/±inf input samples are replaced by 0 before they reach the device (the CPU engine's
//!   policy): the buffer that carried them is finite and every later buffer equals a CPU
//!   instance fed the same input, and the other streams do not notice;
//! - a batch larger than the device can hold in one buffer is refused with the sizes, before
//!   anything is allocated (cubecl itself would panic);
//! - a refused `add_stream` (a model this kernel does not run) leaves the batch playing on,
//!   and `reset` brings every stream back to the state right after `new`.
//!
//! Device policy as elsewhere.

use crate::common::shared_nam;
use cubeaudio_nam::dsp::Dsp;
use cubeaudio_nam::gpu::GpuWaveNetBatch;
use cubeaudio_nam::{load_file, LoadOptions, LoadedModel, Model};
use cubecl::prelude::*;

const BUF: usize = 64;
const NAMES: [&str; 2] = ["core_wavenet.nam", "trainer_identity_wavenet_standard.nam"];

fn load(name: &str) -> LoadedModel {
    // Fast tanh (the plugin's default): the activation a huge sample used to overflow.
    load_file(&shared_nam().join("models").join(name), LoadOptions { fast_tanh: true }).unwrap()
}

fn cpu(name: &str) -> Model {
    let mut m = Model::new(load(name).dsp);
    m.reset(BUF).unwrap();
    m
}

fn input(stream: usize, block: usize) -> Vec<f32> {
    let mut x: Vec<f32> =
        (0..BUF).map(|t| 0.5 * (((block * BUF + t) as f32) * 0.01 * (stream + 1) as f32).sin()).collect();
    if stream == 0 && block == 5 {
        x[3] = f32::NAN;
        x[17] = f32::INFINITY;
        x[40] = f32::NEG_INFINITY;
    }
    x
}

/// One buffer on the GPU and on the CPU instances; returns the worst relative difference.
fn step<R: Runtime>(batch: &mut GpuWaveNetBatch<R>, cpus: &mut [Model], block: usize) -> f32 {
    let ins: Vec<Vec<f32>> = (0..cpus.len()).map(|s| input(s, block)).collect();
    let refs: Vec<&[f32]> = ins.iter().map(Vec::as_slice).collect();
    let mut out = vec![vec![0.0f32; BUF]; cpus.len()];
    let mut outs: Vec<&mut [f32]> = out.iter_mut().map(|o| o.as_mut_slice()).collect();
    batch.process(&refs, &mut outs).unwrap();
    let mut worst = 0.0f32;
    for (s, cpu) in cpus.iter_mut().enumerate() {
        let mut want = vec![0.0f32; BUF];
        cpu.process(&ins[s], &mut want);
        assert!(out[s].iter().all(|v| v.is_finite()), "stream {s} block {block}: non-finite output");
        let peak = want.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        worst = worst.max(out[s].iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max) / peak);
    }
    worst
}

/// A WaveNet whose history takes 16 MiB per stream on the GPU (32 channels × a ring of 2^17
/// floats for its dilation of 65,536) with few weights and a cheap prewarm (inside the
/// loader's cost limits).
fn huge_history() -> LoadedModel {
    let config = r#"{"layers": [{"input_size": 1, "condition_size": 1, "channels": 32, "kernel_size": 2, "dilations": [65536], "activation": "Tanh", "gated": false, "head": {"out_channels": 1, "kernel_size": 1, "bias": true}}], "head_scale": 1.0}"#;
    crate::architectures::model("WaveNet", config, 5, 0.02, |_| {})
}

fn run<R: Runtime>(client: &ComputeClient<R>, device: &str) {
    let models: Vec<LoadedModel> = NAMES.iter().map(|n| load(n)).collect();
    let dsps: Vec<&dyn Dsp> = models.iter().map(|m| m.dsp.as_ref()).collect();
    let mut batch = GpuWaveNetBatch::new(client, &dsps, BUF).unwrap();
    let mut cpus: Vec<Model> = NAMES.iter().map(|n| cpu(n)).collect();
    let mut worst = 0.0f32;
    for block in 0..12 {
        worst = worst.max(step(&mut batch, &mut cpus, block));
    }
    assert_eq!(batch.sanitized_samples(), 3, "three non-finite samples were sent");
    assert!(worst <= 1e-4, "{device}: after NaN/inf input the GPU streams differ from the CPU engine by {worst:.3e}");
    println!("[gpu-faults] {device}: NaN/±inf in one buffer of stream 0: all outputs finite, both streams equal the CPU engine within {worst:.2e}");

    // A model this kernel does not run: refused, and the batch plays on undisturbed.
    let lstm = load("core_lstm.nam");
    let err = batch.add_stream(lstm.dsp.as_ref()).unwrap_err().to_string();
    assert!(err.contains("LSTM"), "{err}");
    for block in 12..16 {
        worst = worst.max(step(&mut batch, &mut cpus, block));
    }
    assert!(worst <= 1e-4, "{device}: a refused add_stream disturbed the batch ({worst:.3e})");
    println!("[gpu-faults] {device}: refused add_stream: {err}");

    // More history than one device buffer holds: an error with the sizes, nothing allocated.
    let huge = huge_history();
    let limit = client.properties().memory.max_page_size as usize;
    let per_stream = 32 * (1usize << 17) * 4;
    let streams = (limit.min(u32::MAX as usize) / per_stream + 1).max(1);
    let err = GpuWaveNetBatch::new(client, &vec![huge.dsp.as_ref(); streams], BUF)
        .err()
        .expect("an oversized batch must be refused")
        .to_string();
    assert!(err.contains("MiB"), "{err}");
    println!("[gpu-faults] {device}: {streams} streams × 16 MiB of history refused: {err}");

    // reset: the state right after `new`, for every stream.
    batch.reset().unwrap();
    let mut fresh: Vec<Model> = NAMES.iter().map(|n| cpu(n)).collect();
    let mut after = 0.0f32;
    for block in 0..6 {
        after = after.max(step(&mut batch, &mut fresh, block));
    }
    assert!(after <= 1e-4, "{device}: after reset the batch differs from fresh CPU instances ({after:.3e})");
    println!("[gpu-faults] {device}: reset equals fresh instances within {after:.2e}");
}

/// Issue #16, defect 5 on the GPU engines: a huge finite sample (1e10, then −1e30) through fast
/// tanh gives finite outputs — a WaveNet stream equals, once the spike has left its receptive
/// field, a stream of the same batch fed the clean signal; an LSTM stays finite throughout.
fn huge_samples_stay_finite<R: Runtime>(client: &ComputeClient<R>, device: &str) {
    let wavenet = load("core_wavenet.nam");
    let field = wavenet.dsp.receptive_field().unwrap();
    let lstm = load("core_lstm.nam");
    let frames = 48 * BUF + field;
    let clean: Vec<f32> = (0..frames).map(|t| 0.5 * (t as f32 * 0.01).sin()).collect();
    let mut spiked = clean.clone();
    spiked[100] = 1e10;
    spiked[300] = -1e30;
    // The largest finite samples: the first convolution sums them past f32 (inf − inf).
    spiked[301] = f32::MAX;
    spiked[302] = -3e38;
    let mut batch = GpuWaveNetBatch::new(client, &[wavenet.dsp.as_ref(), wavenet.dsp.as_ref()], BUF).unwrap();
    let outs = crate::process_in_buffers(&mut batch, &[spiked.as_slice(), clean.as_slice()], BUF);
    assert!(outs[0].iter().all(|v| v.is_finite()), "{device}: non-finite WaveNet output after a huge sample");
    let after = 302 + field;
    let peak = outs[1].iter().fold(1.0f32, |m, v| m.max(v.abs()));
    let err = outs[0][after..].iter().zip(&outs[1][after..]).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max) / peak;
    assert!(err <= 1e-4, "{device}: the spike outlived the receptive field ({err:.3e})");
    let arch = lstm.dsp.architecture();
    let cell = arch.lstm().unwrap();
    let mut rnn = cubeaudio_nam::gpu::GpuLstmBatch::new(client, &[cell], BUF, &[BUF]).unwrap();
    let y = crate::process_in_buffers(&mut rnn, &[spiked.as_slice()], BUF).remove(0);
    let bad = y.iter().filter(|v| !v.is_finite()).count();
    assert_eq!(bad, 0, "{device}: {bad} non-finite LSTM outputs after a huge sample");
    println!("[gpu-faults] {device}: 1e10, -1e30 and f32::MAX samples: outputs finite, WaveNet equal to the clean stream after its receptive field ({err:.2e})");
}

cubeaudio_kernels::for_each_runtime!(|client, info| (client, &info.to_string()); run, huge_samples_stay_finite);
