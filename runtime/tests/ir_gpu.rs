//! The `ir` processor on a device: IRs read from WAV files, convolved in direct form or by the
//! partitioned FFT convolver (`"auto"` picks by length), through buffers that do not align with
//! the convolver's blocks, against f64 direct convolution; a 10 s IR; refusals.

mod common;

use std::path::{Path, PathBuf};

use common::close;
use cubeaudio_runtime::builtins::{convolution_block, direct_max_taps};
use cubeaudio_runtime::graph::{CompiledGraph, Fusion, GraphOptions, GraphSpec};
use cubeaudio_runtime::registry::Registry;
use cubeaudio_runtime::wav::{self, SampleFormat};
use cubeaudio_runtime::Engine;
use cubecl::prelude::*;
use rand::rngs::SmallRng;
use rand::Rng;

const SR: f64 = 48_000.0;

fn rng(test: &str) -> SmallRng {
    common::rng("ir-test", test)
}

/// A folder of this test's own, removed by the caller.
fn folder(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cubeaudio-ir-{what}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `in → ir → out` with the IR at `dir/ir.wav` and the given `convolution` setting.
fn graph<R: Runtime>(
    engine: &Engine<R>,
    dir: &Path,
    convolution: &str,
    max_buffer: usize,
    fusion: Fusion,
) -> CompiledGraph<R> {
    let json = format!(
        r#"{{"inputs": [{{"name": "in"}}], "outputs": [{{"name": "out"}}],
          "processors": [{{"id": "cab", "type": "ir", "settings":
            {{"path": "ir.wav", "normalize": false, "convolution": "{convolution}"}}}}],
          "connections": [{{"from": "in", "to": "cab.in"}}, {{"from": "cab.out", "to": "out"}}]}}"#
    );
    let options = GraphOptions { fusion, ..GraphOptions::new(SR, max_buffer, dir.to_path_buf()) };
    CompiledGraph::compile(engine, &Registry::with_builtins(), &GraphSpec::from_json(&json).unwrap(), &options)
        .unwrap_or_else(|e| panic!("{convolution}: {e}"))
}

/// Runs `x` through `g` in buffers of the given sizes (cycled); returns the output and the
/// launch counts seen.
fn run<R: Runtime>(engine: &Engine<R>, g: &mut CompiledGraph<R>, x: &[f32], sizes: &[usize]) -> (Vec<f32>, Vec<u32>) {
    let (mut y, mut launches, mut at) = (Vec::with_capacity(x.len()), Vec::new(), 0);
    for &n in sizes.iter().cycle() {
        if at == x.len() {
            break;
        }
        let n = n.min(x.len() - at);
        let mut out = vec![f32::NAN; n];
        g.process(engine, &[&x[at..at + n]], &mut [&mut out]).unwrap();
        launches.push(g.launches_per_buffer());
        y.extend(out);
        at += n;
    }
    (y, launches)
}

/// A 12,000-tap cabinet-like IR: `"direct"`, `"partitioned"` and `"auto"` (which must pick the
/// partitioned convolver: longer than the crossover) unfused, and `"partitioned"` and `"auto"`
/// as the graph program's convolution (one launch per buffer, counted), all equal the f64
/// convolution, through buffers of 1 to 128 frames, past the frequency-domain delay line's wrap.
fn every_convolution_equals_f64<R: Runtime>(engine: &Engine<R>) {
    let mut rng = rng("ir modes");
    let dir = folder("modes");
    let h: Vec<f32> = (0..12_000).map(|i| rng.gen_range(-1.0..1.0) * (-(i as f32) / 1500.0).exp() * 0.1).collect();
    assert!(h.len() > direct_max_taps(engine.info()));
    wav::write(&dir.join("ir.wav"), std::slice::from_ref(&h), SR as u32, SampleFormat::Float32).unwrap();
    let sizes = [128, 1, 37, 128, 100, 64, 127];
    let x: Vec<f32> = (0..14_040).map(|_| rng.gen_range(-1.0..1.0)).collect();
    let want: Vec<f64> = (0..x.len())
        .map(|t| h.iter().take(t + 1).enumerate().map(|(k, &hk)| hk as f64 * x[t - k] as f64).sum())
        .collect();
    // "direct" is never fused: the FIR kernel runs whatever the fusion.
    let (direct, direct_launches) = run(engine, &mut graph(engine, &dir, "direct", 128, Fusion::Packed), &x, &sizes);
    close("ir direct, 12,000 taps", &direct, &want, 2e-5);
    assert!(direct_launches.iter().all(|&l| l == direct_launches[0] && l > 1), "{direct_launches:?}");
    for mode in ["partitioned", "auto"] {
        let (y, launches) = run(engine, &mut graph(engine, &dir, mode, 128, Fusion::Off), &x, &sizes);
        close(&format!("ir {mode}, 12,000 taps, block {}", convolution_block(128)), &y, &want, 2e-5);
        // The convolver's launches vary with the blocks a buffer completes; direct form's do not.
        assert!(launches.iter().any(|l| !direct_launches.contains(l)), "{mode} ran the direct kernel: {launches:?}");
        let (y, launches) = run(engine, &mut graph(engine, &dir, mode, 128, Fusion::Packed), &x, &sizes);
        close(
            &format!("ir {mode} in the graph program, 12,000 taps, block {}", convolution_block(128)),
            &y,
            &want,
            2e-5,
        );
        assert!(launches.iter().all(|&l| l == 1), "{mode} fused: {launches:?}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// A 10 s IR (480,000 samples) of a few spikes, so the reference is cheap: the last spike's echo
/// arrives after 480,000 frames of 4,096-frame buffers, exactly.
fn a_ten_second_ir_reaches_its_last_sample<R: Runtime>(engine: &Engine<R>) {
    let mut rng = rng("ir 10 s");
    let dir = folder("long");
    let spikes = [(0usize, 0.5f32), (777, -0.25), (100_000, 0.125), (479_999, 0.75)];
    let mut h = vec![0.0f32; 480_000];
    for &(at, v) in &spikes {
        h[at] = v;
    }
    wav::write(&dir.join("ir.wav"), &[h], SR as u32, SampleFormat::Float32).unwrap();
    let x: Vec<f32> = (0..480_100).map(|_| rng.gen_range(-1.0..1.0)).collect();
    let want: Vec<f64> = (0..x.len())
        .map(|t| spikes.iter().filter(|(at, _)| *at <= t).map(|&(at, v)| v as f64 * x[t - at] as f64).sum())
        .collect();
    for fusion in [Fusion::Off, Fusion::Packed] {
        let (y, _) = run(engine, &mut graph(engine, &dir, "auto", 4096, fusion), &x, &[4096, 1000]);
        close(&format!("ir auto, 10 s IR, block 512, {fusion:?}"), &y, &want, 2e-5);
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// Refusals name what is wrong: an IR longer than direct form takes, or longer than any
/// convolver takes, and an unknown `convolution`.
fn refusals_name_the_problem<R: Runtime>(engine: &Engine<R>) {
    let dir = folder("refusals");
    let options = GraphOptions::new(SR, 128, dir.clone());
    let compile = |convolution: &str| {
        let json = format!(
            r#"{{"inputs": [{{"name": "in"}}], "outputs": [{{"name": "out"}}],
              "processors": [{{"id": "cab", "type": "ir", "settings": {{"path": "ir.wav", "convolution": {convolution}}}}}],
              "connections": [{{"from": "in", "to": "cab.in"}}, {{"from": "cab.out", "to": "out"}}]}}"#
        );
        let spec = GraphSpec::from_json(&json).unwrap();
        CompiledGraph::compile(engine, &Registry::with_builtins(), &spec, &options).err().map(|e| e.to_string())
    };
    wav::write(&dir.join("ir.wav"), &[vec![0.01; 20_000]], SR as u32, SampleFormat::Float32).unwrap();
    let e = compile("\"direct\"").expect("a 20,000-tap IR in direct form must be refused");
    assert!(e.contains("20000 samples") && e.contains("16384"), "{e}");
    assert!(compile("\"auto\"").is_none());
    let e = compile("\"fast\"").expect("an unknown convolution must be refused");
    assert!(e.contains("convolution"), "{e}");
    wav::write(&dir.join("ir.wav"), &[vec![0.01; 960_001]], SR as u32, SampleFormat::Float32).unwrap();
    let e = compile("\"auto\"").expect("an IR past 10 s at 96 kHz must be refused");
    assert!(e.contains("960000"), "{e}");
    std::fs::remove_dir_all(dir).unwrap();
}

cubeaudio_kernels::for_each_runtime!(|client, info| (&Engine::new(client.clone(), info.clone()));
    every_convolution_equals_f64,
    a_ten_second_ir_reaches_its_last_sample,
    refusals_name_the_problem,
);
