//! The 29 real user captures of `../shared/nam/real` on the GPU engines against the official
//! core's outputs: every convolutional capture × both inputs as the streams of one batch (one
//! launch per 64-frame buffer for all of them, widths and architectures mixed), the LSTMs in one
//! LSTM batch per block size (64 and 512, prewarmed as the plugin's resets), within
//! `1e-4 · max(1, peak)`. On a software adapter (lavapipe, CI) the batches are the same but run
//! the first quarter second of each input (the whole second took 5.4 minutes there); hardware
//! runs it all.

use crate::common::{read_f32, real_manifest, relative_error, shared_nam, RealCapture};
use cubeaudio_nam::gpu::{GpuLstmBatch, GpuWaveNetBatch, StreamBatch};
use cubeaudio_nam::{load_file, LoadOptions, LoadedModel};
use cubecl::prelude::*;

fn check(device: &str, what: &str, cases: &[&RealCapture], batch: &mut dyn StreamBatch, buffer: usize) -> f64 {
    let dir = shared_nam();
    let frames = if device.contains("(software)") { 12_000 } else { usize::MAX };
    let prefix = |mut v: Vec<f32>| {
        v.truncate(frames);
        v
    };
    let inputs: Vec<Vec<f32>> = cases.iter().map(|c| prefix(read_f32(&dir.join("refs").join(&c.input)))).collect();
    let views: Vec<&[f32]> = inputs.iter().map(Vec::as_slice).collect();
    let outs = crate::process_in_buffers(batch, &views, buffer);
    let mut worst = 0.0f64;
    for (c, got) in cases.iter().zip(&outs) {
        let err = relative_error(got, &prefix(read_f32(&dir.join("real").join(&c.output))));
        assert!(err <= 1e-4, "{device}: {} {} buffer {buffer}: relative error {err:.3e}", c.name, c.input);
        worst = worst.max(err);
    }
    let seconds = inputs[0].len() as f64 / 48_000.0;
    println!("[gpu-nam] {device}: {} real captures ({what}) in one batch, buffer {buffer}, {seconds} s each: worst relative error {worst:.3e}", cases.len());
    worst
}

fn run<R: Runtime>(client: &ComputeClient<R>, device: &str) {
    let captures = real_manifest();
    let load = |c: &RealCapture| -> LoadedModel {
        load_file(&shared_nam().join("real/models").join(format!("{}.nam", c.name)), LoadOptions::default()).unwrap()
    };
    let models: Vec<LoadedModel> = captures.iter().map(load).collect();
    let is_lstm = |i: usize| models[i].dsp.architecture().lstm().is_some();
    let convolutional: Vec<usize> = (0..captures.len()).filter(|&i| !is_lstm(i)).collect();
    assert_eq!(convolutional.len(), 50, "25 convolutional captures × 2 inputs");
    let nets: Vec<_> = convolutional.iter().map(|&i| models[i].dsp.as_ref()).collect();
    let mut batch = GpuWaveNetBatch::new(client, &nets, 64).unwrap();
    let cases: Vec<&RealCapture> = convolutional.iter().map(|&i| &captures[i]).collect();
    check(device, "WaveNets of every size, the A2 container", &cases, &mut batch, 64);
    for buffer in [64, 512] {
        let lstms: Vec<usize> = (0..captures.len()).filter(|&i| is_lstm(i) && captures[i].buffer == buffer).collect();
        assert_eq!(lstms.len(), 8, "4 LSTM captures × 2 inputs at {buffer} frames");
        let cells: Vec<_> = lstms.iter().map(|&i| models[i].dsp.architecture().lstm().unwrap()).collect();
        let mut batch = GpuLstmBatch::new(client, &cells, buffer, &[2048, buffer]).unwrap();
        let cases: Vec<&RealCapture> = lstms.iter().map(|&i| &captures[i]).collect();
        check(device, "LSTMs 1×16, 1×24, 2×8, 2×16", &cases, &mut batch, buffer);
    }
}

cubeaudio_kernels::for_each_runtime!(|client, info| (client, &info.to_string()); run);
