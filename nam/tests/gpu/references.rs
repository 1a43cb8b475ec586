//! The GPU convolutional engine against the official core's references: every reference that
//! is not an LSTM (those run in `gpu_lstm.rs`) — WaveNets of every option including
//! condition_dsp, FiLM and head1x1 (A2-max), slimmable models, Linear — becomes one stream of a
//! single batch (one launch per buffer for all of them, architectures mixed), at buffer sizes
//! 32, 64, 128 and 4096, within `1e-4 · max(1, peak)`.
//! Runs on every runtime with a device; like the kernel suite, a missing device fails when
//! `CI=true` or `CUBEAUDIO_REQUIRE` names the runtime, and skips loudly otherwise.


use crate::common::{manifest, read_f32, shared_nam};
use cubeaudio_nam::gpu::GpuWaveNetBatch;
use cubeaudio_nam::{load_file, LoadOptions, LoadedModel};
use cubecl::prelude::*;


struct Case {
    label: String,
    model: LoadedModel,
    input: Vec<f32>,
    expected: Vec<f32>,
}

fn cases() -> Vec<Case> {
    let dir = shared_nam();
    let mut out = Vec::new();
    for r in manifest() {
        let mut model = load_file(&dir.join("models").join(&r.model), LoadOptions { fast_tanh: r.fast_tanh }).unwrap();
        if let Some(s) = r.slim {
            model.dsp.set_slim(s).unwrap();
        }
        if model.dsp.as_lstm().is_some() {
            continue;
        }
        if let Err(e) = cubeaudio_nam::gpu::plan::ModelPlan::build(model.dsp.as_ref()) {
            panic!("{} {}: the GPU engine refuses a reference model: {e}", r.model, r.variant);
        }
        out.push(Case {
            label: format!("{} {} {}", r.model, r.variant, r.input),
            model,
            input: read_f32(&dir.join("refs").join(&r.input)),
            expected: read_f32(&dir.join("refs").join(&r.output)),
        });
    }
    out
}

fn run<R: Runtime>(client: &ComputeClient<R>, device: &str) {
    let cases = cases();
    assert!(cases.len() >= 36, "only {} references run on the GPU engine", cases.len());
    let nets: Vec<_> = cases.iter().map(|c| c.model.dsp.as_ref()).collect();
    for buffer in [64usize, 32, 128, 4096] {
        let mut batch = GpuWaveNetBatch::new(client, &nets, buffer).unwrap();
        let len = cases[0].input.len();
        let mut outs = vec![vec![0.0f32; len]; cases.len()];
        let mut at = 0;
        while at < len {
            let n = buffer.min(len - at);
            let ins: Vec<&[f32]> = cases.iter().map(|c| &c.input[at..at + n]).collect();
            let mut ys: Vec<&mut [f32]> = outs.iter_mut().map(|o| &mut o[at..at + n]).collect();
            batch.process(&ins, &mut ys).unwrap();
            at += n;
        }
        let mut worst = 0.0f64;
        for (case, got) in cases.iter().zip(&outs) {
            let peak = case.expected.iter().fold(0.0f32, |m, v| m.max(v.abs())) as f64;
            let err = got.iter().zip(&case.expected).map(|(a, e)| (a - e).abs() as f64).fold(0.0, f64::max);
            assert!(got.iter().all(|v| v.is_finite()), "{}: non-finite output", case.label);
            assert!(err <= 1e-4 * peak.max(1.0), "{device} buffer {buffer}: {}: max |err| {err:.3e} (peak {peak:.3})", case.label);
            worst = worst.max(err / peak.max(1.0));
        }
        println!("[gpu-nam] {device}: {} streams in one batch, buffer {buffer}: worst relative error {worst:.3e}", cases.len());
    }
}

per_runtime!(run, "gpu-nam");
