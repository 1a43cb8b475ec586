//! LSTM streams on the GPU: every LSTM reference of the official core (fast and exact tanh,
//! sweep and noise) in one batch against the core's outputs, then a 3 × 18 LSTM mixed with the
//! core's 1 × 3 against the CPU engine at several buffer sizes. Device policy as elsewhere.

use crate::common::{manifest, read_f32, shared_nam};
use cubeaudio_nam::gpu::GpuLstmBatch;
use cubeaudio_nam::{load_file, load_str, LoadOptions, Model};
use cubecl::prelude::*;

fn run_batch<R: Runtime>(batch: &mut GpuLstmBatch<R>, inputs: &[Vec<f32>], buffer: usize) -> Vec<Vec<f32>> {
    let inputs: Vec<&[f32]> = inputs.iter().map(|x| x.as_slice()).collect();
    crate::process_in_buffers(batch, &inputs, buffer)
}

fn worst(got: &[f32], want: &[f32]) -> f64 {
    assert!(got.iter().all(|v| v.is_finite()), "non-finite output");
    let peak = want.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1.0) as f64;
    got.iter().zip(want).map(|(a, e)| (a - e).abs() as f64).fold(0.0, f64::max) / peak
}

/// A 3-layer, 18-unit LSTM with deterministic pseudo-random weights (the trainer's LSTM preset
/// shape).
fn lstm_3x18() -> String {
    let h = 18;
    let n = (4 * h * (1 + h) + 6 * h) + 2 * (4 * h * (2 * h) + 6 * h) + h + 1;
    let mut s = 11u64;
    let w: Vec<f64> = (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 40) as f64 / (1u64 << 24) as f64 - 0.5) * 0.4
        })
        .collect();
    serde_json::json!({"version": "0.5.4", "architecture": "LSTM", "sample_rate": 48000,
        "config": {"num_layers": 3, "input_size": 1, "hidden_size": h}, "weights": w})
    .to_string()
}

fn run<R: Runtime>(client: &ComputeClient<R>, device: &str) {
    let dir = shared_nam();
    let refs: Vec<_> = manifest().into_iter().filter(|r| r.model == "core_lstm.nam").collect();
    assert_eq!(refs.len(), 4, "the core's LSTM references");
    let loaded: Vec<_> = refs
        .iter()
        .map(|r| load_file(&dir.join("models").join(&r.model), LoadOptions { fast_tanh: r.fast_tanh }).unwrap())
        .collect();
    let models: Vec<_> = loaded.iter().map(|m| m.dsp.architecture().lstm().unwrap()).collect();
    let inputs: Vec<Vec<f32>> = refs.iter().map(|r| read_f32(&dir.join("refs").join(&r.input))).collect();
    // The references were made with the plugin's load sequence: Reset(2048), then Reset(64).
    let mut batch = GpuLstmBatch::new(client, &models, 64, &[2048, 64]).unwrap();
    let outs = run_batch(&mut batch, &inputs, 64);
    let mut w = 0.0f64;
    for ((r, got), _) in refs.iter().zip(&outs).zip(&inputs) {
        let e = worst(got, &read_f32(&dir.join("refs").join(&r.output)));
        assert!(e <= 1e-4, "{device}: core_lstm {} {}: relative error {e:.3e}", r.variant, r.input);
        w = w.max(e);
    }
    println!("[gpu-nam] {device}: 4 LSTM references in one batch: worst relative error {w:.3e}");

    // A bigger LSTM mixed with the small one, against the CPU engine, three buffer sizes.
    let texts = [lstm_3x18(), std::fs::read_to_string(dir.join("models/core_lstm.nam")).unwrap()];
    let big = load_str(&texts[0], LoadOptions::default()).unwrap();
    let small = load_str(&texts[1], LoadOptions::default()).unwrap();
    let x: Vec<f32> = (0..6_000).map(|t| 0.5 * (t as f32 * 0.021).sin() + 0.2 * (t as f32 * 0.377).sin()).collect();
    for buffer in [32usize, 100, 512] {
        let mut gpu = GpuLstmBatch::new(
            client,
            &[big.dsp.architecture().lstm().unwrap(), small.dsp.architecture().lstm().unwrap()],
            buffer,
            &[buffer],
        )
        .unwrap();
        let outs = run_batch(&mut gpu, &[x.clone(), x.clone()], buffer);
        for ((text, got), name) in texts.iter().zip(&outs).zip(["3x18", "1x3"]) {
            let mut cpu = Model::new(load_str(text, LoadOptions::default()).unwrap().dsp);
            cpu.reset(buffer).unwrap();
            let mut want = vec![0.0f32; x.len()];
            for (a, b) in x.chunks(buffer).zip(want.chunks_mut(buffer)) {
                cpu.process(a, b);
            }
            let e = worst(got, &want);
            let peak = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            assert!(peak > 0.01, "{name}: the reference output must carry signal (peak {peak})");
            assert!(e <= 1e-4, "{device}: LSTM {name} buffer {buffer}: relative error {e:.3e}");
            println!("[gpu-nam] {device}: LSTM {name} (mixed batch) buffer {buffer}: relative error {e:.3e} vs the CPU engine");
        }
    }
}

cubeaudio_kernels::for_each_runtime!(|client, info| (client, &info.to_string()); run);
