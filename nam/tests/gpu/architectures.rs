//! Architectures and options no reference file exercises, on the GPU convolutional engine
//! against the CPU engine: ConvNet (with and without BatchNorm, per-channel PReLU), a long
//! Linear FIR, a WaveNet with per-channel PReLU layers and a post-stack head, and Sequential
//! chains (calibration gains, nesting) — all in one
//! batch (one launch per buffer), at a power-of-two buffer and at one that leaves partial
//! tiles. Random weights; device policy as elsewhere.

use crate::common::{linear_ir_json, sequential_json, shared_model_text};
use cubeaudio_nam::gpu::GpuWaveNetBatch;
use cubeaudio_nam::{load_str, LoadOptions, LoadedModel, Model, NamError};
use cubecl::prelude::*;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    }
}

/// Loads `config` with as many random weights as it consumes: the loader reports the exact
/// count when given too many. `fix` may adjust them (e.g. positive BatchNorm variances).
pub(crate) fn model(architecture: &str, config: &str, seed: u64, scale: f32, fix: impl Fn(&mut [f32])) -> LoadedModel {
    let mut rng = Rng(seed);
    let json = |w: &[f32]| {
        format!(
            r#"{{"version": "0.5.4", "architecture": "{architecture}", "config": {config}, "weights": {w:?}, "sample_rate": 48000}}"#
        )
    };
    let probe: Vec<f32> = (0..200_000).map(|_| scale * rng.next()).collect();
    let n = match load_str(&json(&probe), LoadOptions::default()) {
        Err(NamError::WeightCount { expected, .. }) => expected,
        other => panic!("{architecture}: expected a weight-count error, got {:?}", other.map(|m| m.architecture)),
    };
    let mut weights = probe[..n].to_vec();
    fix(&mut weights);
    load_str(&json(&weights), LoadOptions::default()).unwrap_or_else(|e| panic!("{architecture} {config}: {e}"))
}

/// BatchNorm blocks of a ConvNet of `channels` (input 1): conv (2 taps, no bias), then mean,
/// var, weight, bias (one per channel) and eps. Variances and eps must be positive.
fn positive_variances(channels: usize, blocks: usize) -> impl Fn(&mut [f32]) {
    move |w: &mut [f32]| {
        let mut at = 0;
        for b in 0..blocks {
            let cin = if b == 0 { 1 } else { channels };
            at += cin * channels * 2 + channels;
            for v in &mut w[at..at + channels] {
                *v = v.abs() + 0.2;
            }
            at += 3 * channels;
            w[at] = 1e-5;
            at += 1;
        }
    }
}

fn models() -> Vec<(&'static str, LoadedModel)> {
    let slopes = |n: usize| format!("{:?}", (0..n).map(|i| 0.02 + 0.05 * i as f32).collect::<Vec<_>>());
    vec![
        (
            "ConvNet + BatchNorm, tanh",
            model(
                "ConvNet",
                r#"{"channels": 6, "dilations": [1, 2, 4, 8, 16], "batchnorm": true, "activation": "Tanh"}"#,
                1,
                2.0,
                positive_variances(6, 5),
            ),
        ),
        (
            "ConvNet, per-channel PReLU",
            model(
                "ConvNet",
                &format!(
                    r#"{{"channels": 5, "dilations": [1, 3, 9, 27], "batchnorm": false, "activation": {{"type": "PReLU", "negative_slopes": {}}}}}"#,
                    slopes(5)
                ),
                2,
                1.5,
                |_| {},
            ),
        ),
        ("Linear, 300 taps + bias", model("Linear", r#"{"receptive_field": 300, "bias": true}"#, 3, 0.5, |_| {})),
        (
            "WaveNet, PReLU layers + post-stack head",
            model(
                "WaveNet",
                &format!(
                    r#"{{"layers": [
                        {{"input_size": 1, "condition_size": 1, "channels": 4, "kernel_size": 3, "dilations": [1, 2, 4, 8], "activation": {{"type": "PReLU", "negative_slopes": {}}}, "gated": false, "head": {{"out_channels": 3, "kernel_size": 2, "bias": true}}}},
                        {{"input_size": 4, "condition_size": 1, "channels": 3, "kernel_size": 2, "dilations": [16, 32], "activation": "Tanh", "gated": true, "head": {{"out_channels": 2, "kernel_size": 1, "bias": true}}}}
                    ],
                    "head": {{"channels": 5, "out_channels": 1, "kernel_sizes": [3, 2], "activation": "SiLU"}},
                    "head_scale": 4.0}}"#,
                    slopes(4)
                ),
                4,
                1.6,
                |_| {},
            ),
        ),
        (
            "Sequential WaveNet → Linear IR, calibrated +6.3 dB between them",
            sequential(&[shared_model_text("core_wavenet.nam"), linear_ir_json(300, 7, Some(6.0), None)]),
        ),
        (
            "Sequential of a Sequential (WaveNet → IR) → IR",
            sequential(&[
                sequential_json(&[
                    shared_model_text("core_wavenet_a2_max.nam"),
                    linear_ir_json(90, 1, None, Some(4.0)),
                ]),
                linear_ir_json(40, 2, Some(-2.0), None),
            ]),
        ),
    ]
}

fn sequential(models: &[String]) -> LoadedModel {
    load_str(&sequential_json(models), LoadOptions::default()).unwrap_or_else(|e| panic!("{e}"))
}

fn signal(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = Rng(seed | 1);
    (0..n).map(|t| 0.4 * (t as f32 * 0.011 * seed as f32).sin() + 0.3 * rng.next()).collect()
}

fn run<R: Runtime>(client: &ComputeClient<R>, device: &str) {
    let models = models();
    let len = 48 * 100;
    for buffer in [64usize, 100] {
        let inputs: Vec<Vec<f32>> = (0..models.len()).map(|s| signal(len, 7 + s as u64)).collect();
        let dsps: Vec<&dyn cubeaudio_nam::dsp::Dsp> = models.iter().map(|(_, m)| m.dsp.as_ref()).collect();
        let mut batch = GpuWaveNetBatch::new(client, &dsps, buffer).unwrap();
        let ins: Vec<&[f32]> = inputs.iter().map(|x| x.as_slice()).collect();
        let outs = crate::process_in_buffers(&mut batch, &ins, buffer);
        // Fresh CPU instances of the same models (same seeds): the GPU batch borrowed these.
        for (s, (label, fresh)) in self::models().into_iter().enumerate() {
            let mut cpu = Model::new(fresh.dsp);
            cpu.reset(buffer).unwrap();
            let mut want = vec![0.0f32; len];
            let mut at = 0;
            while at < len {
                let n = buffer.min(len - at);
                cpu.process(&inputs[s][at..at + n], &mut want[at..at + n]);
                at += n;
            }
            let peak = want.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1.0);
            let err = outs[s].iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max) / peak;
            let mean = want.iter().sum::<f32>() / len as f32;
            let spread = want.iter().fold(0.0f32, |m, v| m.max((v - mean).abs()));
            assert!(spread > 0.05, "{label}: the CPU output is constant ({mean}), the test proves nothing");
            assert!(err <= 1e-4, "{device} buffer {buffer}: {label}: relative error {err:.3e}");
            println!(
                "[gpu-arch] {device}: {label}, buffer {buffer}: relative error {err:.3e} (output spread {spread:.3})"
            );
        }
    }
}

/// A chain holding an LSTM is refused by the convolutional engine, by name (the render falls
/// back to the CPU engine under `auto`).
fn lstm_chains_are_refused<R: Runtime>(client: &ComputeClient<R>, device: &str) {
    let chain = sequential(&[shared_model_text("core_lstm.nam"), linear_ir_json(16, 1, None, None)]);
    let message = match GpuWaveNetBatch::new(client, &[chain.dsp.as_ref()], 64) {
        Ok(_) => panic!("{device}: a chain holding an LSTM was accepted by the convolutional engine"),
        Err(e) => e.to_string(),
    };
    assert!(message.contains("Sequential (GPU engine)") && message.contains("LSTM"), "{message}");
    println!("[gpu-arch] {device}: LSTM chain refused: {message}");
}

cubeaudio_kernels::for_each_runtime!(|client, info| (client, &info.to_string()); run, lstm_chains_are_refused);
