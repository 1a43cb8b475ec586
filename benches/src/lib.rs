//! Model fixtures for benchmarks: the shipped/shared files, plus trainer-preset shapes that no
//! public file provides (lite, feather and nano WaveNets, LSTM 3×18) built with deterministic random weights —
//! timing depends on the shape, not on the values.

use serde_json::json;

struct Lcg(u64);

impl Lcg {
    fn weights(&mut self, n: usize) -> Vec<f64> {
        (0..n)
            .map(|_| {
                self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((self.0 >> 40) as f64 / (1u64 << 24) as f64 - 0.5) * 0.2
            })
            .collect()
    }
}

fn powers(from: usize, to: usize) -> Vec<usize> {
    (0..).map(|i| 1usize << i).skip_while(|&d| d < from).take_while(|&d| d <= to).collect()
}

/// Weights of a plain array (SPEC §4.4): rechannel, per layer conv+bias+mixin+1x1+bias, head.
fn array_weights(input: usize, c: usize, head: usize, layers: usize, head_bias: bool) -> usize {
    c * input + layers * (3 * c * c + c + c + c * c + c) + head * c + usize::from(head_bias) * head
}

/// The trainer's "feather" WaveNet preset (SPEC §10): 8 → 4 channels.
pub fn feather_wavenet() -> String {
    small_preset(8, 4, 7)
}

/// The trainer's "lite" WaveNet preset: 12 → 6 channels, feather's dilations.
pub fn lite_wavenet() -> String {
    small_preset(12, 6, 13)
}

/// The trainer's "nano" WaveNet preset: 4 → 2 channels, feather's dilations.
pub fn nano_wavenet() -> String {
    small_preset(4, 2, 17)
}

/// The shape the trainer's lite, feather and nano presets share: a first array of `c0`
/// channels over dilations 1..64 with a head of `c1`, then `c1` channels over 128..512, 1..512.
fn small_preset(c0: usize, c1: usize, seed: u64) -> String {
    let d0 = powers(1, 64);
    let mut d1 = vec![128, 256, 512];
    d1.extend(powers(1, 512));
    let n = array_weights(1, c0, c1, d0.len(), false) + array_weights(c0, c1, 1, d1.len(), true) + 1;
    let layer = |input: usize, c: usize, head: usize, dil: &[usize], bias: bool| {
        json!({"input_size": input, "condition_size": 1, "channels": c, "head_size": head, "kernel_size": 3,
               "dilations": dil, "activation": "Tanh", "gated": false, "head_bias": bias})
    };
    json!({"version": "0.5.4", "architecture": "WaveNet", "sample_rate": 48000,
           "config": {"layers": [layer(1, c0, c1, &d0, false), layer(c0, c1, 1, &d1, true)], "head_scale": 0.02},
           "weights": Lcg(seed).weights(n)})
    .to_string()
}

/// The trainer's LSTM preset: 3 layers × 18 hidden units.
pub fn lstm_3x18() -> String {
    let h = 18;
    let n = (4 * h * (1 + h) + 6 * h) + 2 * (4 * h * (2 * h) + 6 * h) + h + 1;
    json!({"version": "0.5.4", "architecture": "LSTM", "sample_rate": 48000,
           "config": {"num_layers": 3, "input_size": 1, "hidden_size": h},
           "weights": Lcg(11).weights(n)})
    .to_string()
}

/// Runs `$body` with `$client` (a `&ComputeClient` of the runtime named by `$name`: `cuda` or
/// `wgpu`) and `$device` (its description), as the GPU benchmarks' `--runtime` asks; an
/// unknown name or a missing device is an error.
#[macro_export]
macro_rules! on_runtime {
    ($name:expr, |$client:ident, $device:ident| $body:expr) => {
        match $name {
            "cuda" => {
                let (client, info) =
                    anyhow::Context::context(cubeaudio_kernels::device::cuda::open(0), "opening CUDA")?;
                let ($client, $device) = (&client, info.to_string());
                $body
            }
            "wgpu" => {
                let (client, info) =
                    anyhow::Context::context(cubeaudio_kernels::device::wgpu_device::open_best(), "opening wgpu")?;
                let ($client, $device) = (&client, info.to_string());
                $body
            }
            other => anyhow::bail!("unknown runtime {other} (cuda or wgpu)"),
        }
    };
}

/// Writes a benchmark's Markdown table to `out/stem.md` and its rows to `out/stem.json`, and
/// prints the table.
pub fn write_report(out: &std::path::Path, stem: &str, md: &str, rows: &impl serde::Serialize) -> std::io::Result<()> {
    std::fs::create_dir_all(out)?;
    std::fs::write(out.join(format!("{stem}.md")), md)?;
    std::fs::write(out.join(format!("{stem}.json")), serde_json::to_string_pretty(rows)?)?;
    print!("{md}");
    Ok(())
}

/// Device parameters of one graph-program item of `kind` at the settings a player would use
/// (the pedals of `cli/examples/rigs/pedals.json`): what the fused-graph benchmarks run. An
/// echo reads 18,000 samples back, so its ring must hold more.
pub fn typical_params(kind: u32) -> Vec<f32> {
    use cubeaudio_kernels::biquad::BiquadCoefficients;
    use cubeaudio_kernels::graph_program::*;
    match kind {
        KIND_GAIN => vec![0.7, 0.001],
        KIND_MIX => vec![0.5, 0.5, 0.5, 0.5, 0.001],
        KIND_BIQUAD => BiquadCoefficients::peaking(48_000.0, 2800.0, 1.2, 6.0).0.to_vec(),
        KIND_GATE => vec![0.001, 0.05, 0.0003, 0.998],
        KIND_COMPRESSOR => vec![0.06, -0.75, 0.007, 0.0001, 2.0],
        KIND_TREMOLO => vec![5.5 / 48_000.0, 0.6, 0.001],
        KIND_DRIVE => vec![16.0, 0.25, 0.001],
        _ => vec![18_000.0, 0.4, 0.5, 0.5],
    }
}
