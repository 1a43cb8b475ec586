//! `nam` as a graph processor: two amps in one stage (one batched launch) equal the CPU
//! engine; the example rigs render from the command line; a broken rig fails with the
//! validation error. Device policy as in the kernel suite (CI=true requires wgpu).

mod binary;

use std::path::{Path, PathBuf};

use binary::cubeaudio;

use cubeaudio::example_signal::di_signal;
use cubeaudio_kernels::device::required;
use cubeaudio_kernels::graph_program::StreamStep;
use cubeaudio_kernels::wavenet_columns::DEFAULT_MULTIPROCESSORS;
use cubeaudio_nam::gpu::columns::arrays_of;
use cubeaudio_nam::gpu::plan::ModelPlan;
use cubeaudio_nam::gpu::processor::registry;
use cubeaudio_nam::{load_file, LoadOptions, Model};
use cubeaudio_runtime::graph::{CompiledGraph, Fusion, GraphOptions, GraphSpec, StreamFusion, UnrollStreams};
use cubeaudio_runtime::Engine;
use cubecl::prelude::*;

/// `cli/examples`; `CUBEAUDIO_EXAMPLES` overrides it where the binary runs away from the source
/// tree (the GPU machine).
fn examples() -> PathBuf {
    std::env::var_os("CUBEAUDIO_EXAMPLES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples"))
}

const TWO_AMPS: &str = r#"{"inputs": [{"name": "in"}], "outputs": [{"name": "a"}, {"name": "b"}],
  "processors": [{"id": "hot", "type": "gain", "params": {"gain_db": 12}}, {"id": "unity", "type": "gain"},
                 {"id": "amp1", "type": "nam", "settings": {"model": "models/clean.nam"}},
                 {"id": "amp2", "type": "nam", "settings": {"model": "models/clean.nam"}}],
  "connections": [{"from": "in", "to": "unity.in"}, {"from": "unity.out", "to": "amp1.in"}, {"from": "in", "to": "hot.in"}, {"from": "hot.out", "to": "amp2.in"},
                  {"from": "amp1.out", "to": "a"}, {"from": "amp2.out", "to": "b"}]}"#;

fn nam_in_a_graph_equals_the_cpu_engine<R: Runtime>(engine: &Engine<R>) {
    let x: Vec<f32> = di_signal().into_iter().take(12_000).collect();
    let model_path = examples().join("models/clean.nam");
    let mut cpu = [
        Model::new(load_file(&model_path, LoadOptions::default()).unwrap().dsp),
        Model::new(load_file(&model_path, LoadOptions::default()).unwrap().dsp),
    ];
    let hot: Vec<f32> = x.iter().map(|v| v * 10f32.powf(12.0 / 20.0)).collect();
    let (mut want_a, mut want_b) = (vec![0.0; x.len()], vec![0.0; x.len()]);
    for m in &mut cpu {
        m.reset(128).unwrap();
    }
    for ((xa, xb), (ya, yb)) in
        x.chunks(128).zip(hot.chunks(128)).zip(want_a.chunks_mut(128).zip(want_b.chunks_mut(128)))
    {
        cpu[0].process(xa, ya);
        cpu[1].process(xb, yb);
    }

    let spec = GraphSpec::from_json(TWO_AMPS).unwrap();
    // Fused with the amps as streams: the gains (stage 1) and both amps (stage 2), the input
    // and output copies, in one launch. The amps as their own batch: the program of the input
    // copy and the gains, the NAM batch (kernel + copy back), the output copy. Unfused: the
    // input copy, the gains, the NAM batch, the output copy.
    let modes = [
        (Fusion::Packed, StreamFusion::Program, 1),
        (Fusion::Packed, StreamFusion::Batch, 4),
        (Fusion::Off, StreamFusion::Auto, 5),
    ];
    for (fusion, streams, launches) in modes {
        let options = GraphOptions { fusion, streams, ..GraphOptions::new(48_000.0, 128, examples()) };
        let mut g = CompiledGraph::compile(engine, &registry::<R>(), &spec, &options).unwrap();
        assert_eq!(g.schedule().batch_count(), 2);
        let (mut a, mut b) = (vec![0.0; x.len()], vec![0.0; x.len()]);
        for (i, chunk) in x.chunks(128).enumerate() {
            let at = i * 128;
            let n = chunk.len();
            g.process(engine, &[chunk], &mut [&mut a[at..at + n], &mut b[at..at + n]]).unwrap();
            assert_eq!(g.launches_per_buffer(), launches, "{fusion:?}, {streams:?}");
        }
        for (what, got, want) in [("amp1", &a, &want_a), ("amp2 (+12 dB)", &b, &want_b)] {
            let peak = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            let err = got.iter().zip(want.iter()).map(|(g, w)| (g - w).abs()).fold(0.0f32, f32::max);
            println!(
                "[graph-test] {what}, {fusion:?}, {streams:?}: max |GPU graph − CPU engine| = {err:.3e} (peak {peak:.3})"
            );
            assert!(err <= 1e-4 * peak.max(1.0), "{what}, {fusion:?}, {streams:?}: {err}");
            assert!(peak > 0.01, "{what}: the amp must produce signal");
        }
    }
}

/// Two instances of the two-amp rig in one graph: one program launch runs both (a cube each, or
/// both in one cube; the amps as its streams), each instance equal to the CPU engine on its own
/// input.
fn graph_instances_equal_the_cpu_engine<R: Runtime>(engine: &Engine<R>) {
    for per_cube in [1, 2] {
        two_instances_of_two_amps(engine, per_cube);
    }
}

fn two_instances_of_two_amps<R: Runtime>(engine: &Engine<R>, per_cube: usize) {
    let x: Vec<f32> = di_signal().into_iter().take(6_000).collect();
    let inputs = [x.clone(), x.iter().map(|v| v * 0.5).collect::<Vec<f32>>()];
    let model_path = examples().join("models/clean.nam");
    let spec = GraphSpec::from_json(TWO_AMPS).unwrap();
    let options = GraphOptions {
        instances: 2,
        streams: StreamFusion::Program,
        instances_per_cube: Some(per_cube),
        ..GraphOptions::new(48_000.0, 128, examples())
    };
    let mut g = CompiledGraph::compile(engine, &registry::<R>(), &spec, &options).unwrap();
    assert_eq!(g.instances_per_cube(), [per_cube]);
    let mut got = vec![vec![0.0f32; x.len()]; 4];
    for (i, at) in (0..x.len()).step_by(128).enumerate() {
        let n = 128.min(x.len() - at);
        let ins: Vec<&[f32]> = inputs.iter().map(|v| &v[at..at + n]).collect();
        let mut outs: Vec<&mut [f32]> = got.iter_mut().map(|v| &mut v[at..at + n]).collect();
        g.process(engine, &ins, &mut outs).unwrap();
        assert_eq!(g.launches_per_buffer(), 1, "buffer {i}: the launches of one instance");
    }
    for (copy, input) in inputs.iter().enumerate() {
        for (k, gain_db) in [(0usize, 0.0f32), (1, 12.0)] {
            let mut cpu = Model::new(load_file(&model_path, LoadOptions::default()).unwrap().dsp);
            cpu.reset(128).unwrap();
            let driven: Vec<f32> = input.iter().map(|v| v * 10f32.powf(gain_db / 20.0)).collect();
            let mut want = vec![0.0; x.len()];
            for (xa, ya) in driven.chunks(128).zip(want.chunks_mut(128)) {
                cpu.process(xa, ya);
            }
            let out = &got[copy * 2 + k];
            let peak = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            let err = out.iter().zip(&want).map(|(g, w)| (g - w).abs()).fold(0.0f32, f32::max);
            println!(
                "[graph-test] {per_cube} per cube, instance {copy}, amp {k}: max |GPU graph − CPU engine| = {err:.3e} (peak {peak:.3})"
            );
            assert!(err <= 1e-4 * peak.max(1.0) && peak > 0.01, "{per_cube} per cube, instance {copy}, amp {k}: {err}");
        }
    }
}

/// A WaveNet amp and an LSTM amp in one stage (an LSTM is not a stream of the program, so the
/// stage's `nam` batch runs unfused: two NAM batches, 2 launches each) equal the CPU engine;
/// reset brings both back to their prepared state.
fn wavenet_and_lstm_amps_share_a_stage<R: Runtime>(engine: &Engine<R>) {
    let lstm_path = shared_dir().join("nam/models/core_lstm.nam");
    let rig = TWO_AMPS.replace(
        r#"{"id": "amp2", "type": "nam", "settings": {"model": "models/clean.nam"}}"#,
        &format!(r#"{{"id": "amp2", "type": "nam", "settings": {{"model": {:?}}}}}"#, lstm_path.to_str().unwrap()),
    );
    let spec = GraphSpec::from_json(&rig).unwrap();
    let options = GraphOptions::new(48_000.0, 128, examples());
    let mut g = CompiledGraph::compile(engine, &registry::<R>(), &spec, &options).unwrap();
    let x: Vec<f32> = di_signal().into_iter().take(6_000).collect();
    let hot: Vec<f32> = x.iter().map(|v| v * 10f32.powf(12.0 / 20.0)).collect();
    let mut cpu_a = Model::new(load_file(&examples().join("models/clean.nam"), LoadOptions::default()).unwrap().dsp);
    let mut cpu_b = Model::new(load_file(&lstm_path, LoadOptions::default()).unwrap().dsp);
    cpu_a.reset(128).unwrap();
    cpu_b.reset(128).unwrap();
    let run = |g: &mut CompiledGraph<R>| {
        let (mut a, mut b) = (vec![0.0; x.len()], vec![0.0; x.len()]);
        for (i, chunk) in x.chunks(128).enumerate() {
            let at = i * 128;
            let n = chunk.len();
            g.process(engine, &[chunk], &mut [&mut a[at..at + n], &mut b[at..at + n]]).unwrap();
            assert_eq!(
                g.launches_per_buffer(),
                6,
                "input copy and gains, WaveNet batch (2), LSTM batch (2), output copy"
            );
        }
        (a, b)
    };
    let (a, b) = run(&mut g);
    let (mut want_a, mut want_b) = (vec![0.0; x.len()], vec![0.0; x.len()]);
    for ((xa, xb), (ya, yb)) in
        x.chunks(128).zip(hot.chunks(128)).zip(want_a.chunks_mut(128).zip(want_b.chunks_mut(128)))
    {
        cpu_a.process(xa, ya);
        cpu_b.process(xb, yb);
    }
    for (what, got, want) in [("wavenet", &a, &want_a), ("lstm", &b, &want_b)] {
        let peak = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let err = got.iter().zip(want.iter()).map(|(p, q)| (p - q).abs()).fold(0.0f32, f32::max);
        println!(
            "[graph-test] {what} amp in a mixed NAM stage: max |GPU graph − CPU engine| = {err:.3e} (peak {peak:.3})"
        );
        assert!(peak > 0.01 && err <= 1e-4 * peak.max(1.0), "{what}: {err}");
    }
    g.reset(engine).unwrap();
    let (a2, b2) = run(&mut g);
    assert_eq!((a2, b2), (a, b), "reset must return to the prepared state");
}

/// The example rigs with an amp and a cab run in one launch per buffer (counted): the graph
/// program copies the input in, runs the processors before the amp, the amp as its stream, the
/// cab as its convolution and what follows, and copies the output out; their output equals the
/// unfused graph's (the amp then in the NAM batch, the cab in the standalone convolver).
fn amp_and_cab_rigs_run_in_one_launch<R: Runtime>(engine: &Engine<R>) {
    let x: Vec<f32> = di_signal().into_iter().take(9_600).collect();
    for (rig, outputs) in [("amp_cab.json", 1usize), ("dual_amp.json", 2), ("pedalboard.json", 1)] {
        let json = std::fs::read_to_string(examples().join("rigs").join(rig)).unwrap();
        let spec = GraphSpec::from_json(&json).unwrap();
        let mut rendered = Vec::new();
        // The amp as the program's stream (1 launch), as its own batch (the program before it,
        // the NAM batch's 2, the program from the cab on: 4), everything unfused; last the
        // program with its stream stages unrolled (where the amps run on the columns kernel).
        let modes = [
            (Fusion::Packed, StreamFusion::Program, UnrollStreams::Never),
            (Fusion::Packed, StreamFusion::Batch, UnrollStreams::Never),
            (Fusion::Off, StreamFusion::Auto, UnrollStreams::Never),
            (Fusion::Packed, StreamFusion::Program, UnrollStreams::Always),
        ];
        for (fusion, streams, unroll_streams) in modes {
            let options = GraphOptions {
                fusion,
                streams,
                unroll_streams,
                ..GraphOptions::new(48_000.0, 128, examples().join("rigs"))
            };
            let mut g = CompiledGraph::compile(engine, &registry::<R>(), &spec, &options).unwrap();
            let mut y = vec![vec![0.0f32; x.len()]; outputs];
            let mut launches = Vec::new();
            for (i, chunk) in x.chunks(128).enumerate() {
                let at = i * 128;
                let mut outs: Vec<&mut [f32]> = y.iter_mut().map(|c| &mut c[at..at + chunk.len()]).collect();
                g.process(engine, &[chunk], &mut outs).unwrap();
                launches.push(g.launches_per_buffer());
            }
            println!(
                "[graph-test] {rig}, {fusion:?}, {streams:?}, unroll {unroll_streams:?}: launches per buffer {:?}, stream stages unrolled {:?}",
                &launches[..4],
                g.unrolled_stream_stages()
            );
            match (fusion, streams) {
                (Fusion::Packed, StreamFusion::Program) => {
                    assert!(launches.iter().all(|&l| l == 1), "{rig}: {launches:?}")
                }
                (Fusion::Packed, _) => assert!(launches.iter().all(|&l| l == 4), "{rig}: {launches:?}"),
                _ => assert!(launches.iter().all(|&l| l > 4), "{rig} unfused: {launches:?}"),
            }
            rendered.push(y);
        }
        assert!(rendered[3] == rendered[0], "{rig}: the unrolled program must equal the looped one bit for bit");
        for fused in &rendered[..2] {
            for (c, (fused, unfused)) in fused.iter().zip(&rendered[2]).enumerate() {
                let peak = unfused.iter().fold(0.0f32, |m, v| m.max(v.abs()));
                let err = fused.iter().zip(unfused).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
                println!("[graph-test] {rig} output {c}: max |fused − unfused| = {err:.3e} (peak {peak:.3})");
                assert!(peak > 0.01, "{rig}: output {c} must carry signal");
                // The NAM bar; the two cabs differ by their rounding (FFT against a 2,048-term
                // sum), which the EQs after them carry on: the cab alone is checked against f64
                // below.
                assert!(err <= 1e-4 * peak.max(1.0), "{rig} output {c}: {err}");
            }
        }
    }
    // The cab after a real amp, both ways, against the f64 convolution of the amp's output.
    let json = r#"{"inputs": [{"name": "in"}], "outputs": [{"name": "wet"}, {"name": "dry"}],
      "processors": [{"id": "amp", "type": "nam", "settings": {"model": "../models/clean.nam"}},
                     {"id": "cab", "type": "ir", "settings": {"path": "cab_ir.wav"}}],
      "connections": [{"from": "in", "to": "amp.in"}, {"from": "amp.out", "to": "cab.in"},
                      {"from": "cab.out", "to": "wet"}, {"from": "amp.out", "to": "dry"}]}"#;
    let mut h = cubeaudio_runtime::wav::read(&examples().join("rigs/cab_ir.wav")).unwrap().channels.remove(0);
    let norm = h.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt();
    h.iter_mut().for_each(|v| *v = (*v as f64 / norm) as f32);
    for fusion in [Fusion::Packed, Fusion::Off] {
        let options = GraphOptions {
            fusion,
            streams: StreamFusion::Program,
            ..GraphOptions::new(48_000.0, 128, examples().join("rigs"))
        };
        let mut g =
            CompiledGraph::compile(engine, &registry::<R>(), &GraphSpec::from_json(json).unwrap(), &options).unwrap();
        let (mut wet, mut dry) = (vec![0.0f32; x.len()], vec![0.0f32; x.len()]);
        for (i, chunk) in x.chunks(128).enumerate() {
            let (at, n) = (i * 128, chunk.len());
            g.process(engine, &[chunk], &mut [&mut wet[at..at + n], &mut dry[at..at + n]]).unwrap();
        }
        let want: Vec<f64> = (0..dry.len())
            .map(|t| h.iter().take(t + 1).enumerate().map(|(k, &hk)| hk as f64 * dry[t - k] as f64).sum())
            .collect();
        let peak = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let err = wet.iter().zip(&want).map(|(a, b)| (*a as f64 - b).abs()).fold(0.0, f64::max);
        println!("[graph-test] cab after the amp, {fusion:?}: max |cab − f64| = {err:.3e} (peak {peak:.3})");
        assert!(peak > 0.01 && err <= 2e-5 * peak.max(1.0), "{fusion:?}: {err}");
    }
}

/// Every convolutional model of the core's set (WaveNets with FiLM, head1x1 and a condition
/// DSP, A2, slimmable containers, Linear) as streams of one program: all amps in one stage of one
/// launch, two instances of the rig, each output equal to the CPU engine on its input.
fn every_convolutional_model_runs_as_a_stream<R: Runtime>(engine: &Engine<R>) {
    let dir = shared_dir().join("nam/models");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".nam"))
        // What the engines run (an obsolete architecture is refused by design, docs/NAM.md).
        .filter(|n| {
            load_file(&dir.join(n), LoadOptions::default())
                .is_ok_and(|m| m.dsp.architecture().lstm().is_none() && m.sample_rate.unwrap_or(48_000.0) == 48_000.0)
        })
        .collect();
    names.sort();
    assert!(names.len() >= 10, "the core's models: {names:?}");
    let (steps, _, _) = models_as_streams(engine, &dir, &names, None, 64, (2, None), false);
    assert_eq!(steps.len(), 1, "one program: {steps:?}");
}

/// `names` (models in `dir`), each an amp of one rig, `instances` of it (`per_cube` in one cube,
/// `None`: the program's choice), run as streams of one program (one launch per buffer) over the
/// DI in buffers of `buffer` frames (the last one shorter), each output compared with the CPU
/// engine's; `kernel`: the amps' `kernel` setting. Returns how the program ran its streams, and
/// its instances per cube.
fn models_as_streams<R: Runtime>(
    engine: &Engine<R>,
    dir: &Path,
    names: &[String],
    kernel: Option<&str>,
    buffer: usize,
    (instances, per_cube): (usize, Option<usize>),
    unroll_streams: bool,
) -> (Vec<StreamStep>, Vec<usize>, Vec<Vec<f32>>) {
    let kernel = kernel.map(|k| format!(r#", "kernel": {k:?}"#)).unwrap_or_default();
    let processors: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(k, n)| format!(r#"{{"id": "amp{k}", "type": "nam", "settings": {{"model": {n:?}{kernel}}}}}"#))
        .collect();
    let outputs: Vec<String> = (0..names.len()).map(|k| format!(r#"{{"name": "out{k}"}}"#)).collect();
    let connections: Vec<String> = (0..names.len())
        .flat_map(|k| {
            [format!(r#"{{"from": "in", "to": "amp{k}.in"}}"#), format!(r#"{{"from": "amp{k}.out", "to": "out{k}"}}"#)]
        })
        .collect();
    let rig = format!(
        r#"{{"inputs": [{{"name": "in"}}], "outputs": [{}], "processors": [{}], "connections": [{}]}}"#,
        outputs.join(", "),
        processors.join(", "),
        connections.join(", ")
    );
    let spec = GraphSpec::from_json(&rig).unwrap();
    let options = GraphOptions {
        instances,
        streams: StreamFusion::Program,
        instances_per_cube: per_cube,
        unroll_streams: if unroll_streams { UnrollStreams::Always } else { UnrollStreams::Never },
        ..GraphOptions::new(48_000.0, buffer, dir)
    };
    let mut g = CompiledGraph::compile(engine, &registry::<R>(), &spec, &options).unwrap();
    if let Some(per_cube) = per_cube {
        assert_eq!(g.instances_per_cube(), [per_cube], "{names:?}");
    }
    // One stage of amps: unrolled where asked and the amps run on the columns kernel, unless
    // the unrolled rounds' shared memory exceeds the device's (NVIDIA's Vulkan driver: 48 KiB).
    let columns = matches!(g.stream_steps().as_slice(), [StreamStep::Columns(_)]);
    let declined = g.unroll_declined() == [true];
    assert!(!declined || unroll_streams && columns, "{names:?}: declined what was not asked");
    if declined {
        println!("[graph-test] {names:?}, {instances} instances, {per_cube:?} per cube: unrolled rounds exceed the device's shared memory, streams in the loop");
    }
    assert_eq!(g.unrolled_stream_stages(), [usize::from(unroll_streams && columns && !declined)], "{names:?}");
    let x: Vec<f32> = di_signal().into_iter().take(2_400).collect();
    let inputs: Vec<Vec<f32>> =
        (0..instances).map(|i| x.iter().map(|v| v * [1.0, 0.3, -0.6][i % 3]).collect()).collect();
    let mut got = vec![vec![0.0f32; x.len()]; instances * names.len()];
    for at in (0..x.len()).step_by(buffer) {
        let n = buffer.min(x.len() - at);
        let ins: Vec<&[f32]> = inputs.iter().map(|v| &v[at..at + n]).collect();
        let mut outs: Vec<&mut [f32]> = got.iter_mut().map(|v| &mut v[at..at + n]).collect();
        g.process(engine, &ins, &mut outs).unwrap();
        assert_eq!(g.launches_per_buffer(), 1, "every model a stream of the one program");
    }
    let steps = g.stream_steps();
    let step = match steps.first() {
        Some(StreamStep::Columns(c)) => {
            format!("columns, {} slots, {:?} instances per cube", c.streams_per_cube, g.instances_per_cube())
        }
        Some(StreamStep::Interpreter { .. }) => "interpreter".into(),
        None => "none".into(),
    };
    // Instances hear one of three inputs: the CPU engine renders each once per model.
    let wants: Vec<Vec<Vec<f32>>> = inputs
        .iter()
        .take(3)
        .map(|input| {
            names
                .iter()
                .map(|name| {
                    let mut cpu = Model::new(load_file(&dir.join(name), LoadOptions::default()).unwrap().dsp);
                    cpu.reset(buffer).unwrap();
                    let mut want = vec![0.0; x.len()];
                    for (xa, ya) in input.chunks(buffer).zip(want.chunks_mut(buffer)) {
                        cpu.process(xa, ya);
                    }
                    want
                })
                .collect()
        })
        .collect();
    for copy in 0..instances {
        for (k, name) in names.iter().enumerate() {
            let want = &wants[copy % 3][k];
            let out = &got[copy * names.len() + k];
            let peak = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            let err = out.iter().zip(want).map(|(g, w)| (g - w).abs()).fold(0.0f32, f32::max);
            if copy < 4 || copy + 1 == instances {
                println!(
                    "[graph-test] {name} as a stream ({step}), amp {k}, instance {copy}: max |graph − CPU| = {err:.3e} (peak {peak:.3})"
                );
            }
            assert!(err <= 1e-4 * peak.max(1.0), "{name}, amp {k}, instance {copy} ({step}): {err}");
        }
    }
    (steps, g.instances_per_cube(), got)
}

/// `StreamFusion::Auto` puts the amps inside the program where it runs them on the columns
/// kernel or on a software adapter (one launch), and runs them as their own batch on a hardware
/// GPU where the program would interpret their plans (amps of two different shapes).
fn auto_fuses_amps_where_the_program_runs_them_fast<R: Runtime>(engine: &Engine<R>) {
    let software = cubeaudio_kernels::device::software(engine.client());
    let dir = shared_dir().join("nam/models");
    let rig = |a: &str, b: &str| {
        GraphSpec::from_json(&format!(
            r#"{{"inputs": [{{"name": "in"}}], "outputs": [{{"name": "l"}}, {{"name": "r"}}],
                "processors": [{{"id": "a", "type": "nam", "settings": {{"model": {a:?}}}}},
                               {{"id": "b", "type": "nam", "settings": {{"model": {b:?}}}}}],
                "connections": [{{"from": "in", "to": "a.in"}}, {{"from": "in", "to": "b.in"}},
                                {{"from": "a.out", "to": "l"}}, {{"from": "b.out", "to": "r"}}]}}"#
        ))
        .unwrap()
    };
    let x: Vec<f32> = di_signal().into_iter().take(64).collect();
    for (models, columns) in
        [(("core_wavenet.nam", "core_wavenet.nam"), true), (("core_wavenet.nam", "plugin_clean.nam"), false)]
    {
        let spec = rig(models.0, models.1);
        let mut g =
            CompiledGraph::compile(engine, &registry::<R>(), &spec, &GraphOptions::new(48_000.0, 64, &dir)).unwrap();
        let (mut l, mut r) = (vec![0.0; 64], vec![0.0; 64]);
        g.process(engine, &[&x], &mut [&mut l, &mut r]).unwrap();
        let steps = g.stream_steps();
        println!("[graph-test] auto, {models:?}: {} launches, {steps:?}", g.launches_per_buffer());
        if software {
            assert!(matches!(steps.as_slice(), [StreamStep::Interpreter { .. }]), "{models:?}: {steps:?}");
            assert_eq!(g.launches_per_buffer(), 1, "{models:?}");
        } else if columns {
            assert!(matches!(steps.as_slice(), [StreamStep::Columns(_)]), "{models:?}: {steps:?}");
            assert_eq!(g.launches_per_buffer(), 1, "{models:?}");
        } else {
            assert!(steps.is_empty(), "{models:?}: the amps as a batch, not {steps:?}");
            assert!(g.launches_per_buffer() > 1, "{models:?}");
        }
    }
}

/// Every core model the columns kernel runs, as two amps of one stage (two stream slots of a
/// cube) of a one-launch rig with `"kernel": "columns"`, equals the CPU engine — at 64-frame
/// buffers, two instances of the rig, one per cube, and at 48 (the cube's tile not a multiple of
/// the buffer), three instances two per cube (the last cube one). On a software adapter only
/// the shapes of up to 4 channels, which the batch compiles there (its shader compiler takes
/// minutes on wider ones).
fn every_column_shape_runs_as_a_stream<R: Runtime>(engine: &Engine<R>) {
    let dir = shared_dir().join("nam/models");
    let software = cubeaudio_kernels::device::software(engine.client());
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".nam"))
        .filter(|n| {
            let Ok(m) = load_file(&dir.join(n), LoadOptions::default()) else { return false };
            let arrays = ModelPlan::build(m.dsp.as_ref()).ok().as_ref().and_then(arrays_of);
            m.sample_rate.unwrap_or(48_000.0) == 48_000.0
                && arrays.is_some_and(|(a, count)| !software || a[..count].iter().all(|a| a.channels <= 4))
        })
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no core model has a columns shape");
    println!("[graph-test] columns streams: {names:?}");
    for name in &names {
        for (buffer, instances) in [(64, (2, Some(1))), (48, (3, Some(2)))] {
            let amps = [name.clone(), name.clone()];
            let (steps, _, looped) = models_as_streams(engine, &dir, &amps, Some("columns"), buffer, instances, false);
            assert!(
                matches!(steps.as_slice(), [StreamStep::Columns(c)] if c.streams_per_cube >= 1),
                "{name}: {steps:?}"
            );
            // The stage of amps outside the stage loop: the same arithmetic in the same order.
            let (_, _, unrolled) = models_as_streams(engine, &dir, &amps, Some("columns"), buffer, instances, true);
            assert!(unrolled == looped, "{name}, {buffer} frames: unrolled and looped programs differ");
        }
    }
}

/// More instances of a two-amp rig than the device has multiprocessors, the amps on the
/// columns kernel: at 64 frames the program puts several instances in a cube, at 128 as many as
/// its threads hold (one on lavapipe, whose unsplit shape takes 128 threads per stream), and
/// every instance equals the CPU engine.
fn many_instances_share_cubes<R: Runtime>(engine: &Engine<R>) {
    let dir = shared_dir().join("nam/models");
    let hw = &engine.client().properties().hardware;
    let sms = hw.num_streaming_multiprocessors.map_or(DEFAULT_MULTIPROCESSORS, |n| n as usize);
    let amps = ["core_wavenet.nam".to_string(), "core_wavenet.nam".to_string()];
    for buffer in [64, 128] {
        let (steps, per_cube, _) =
            models_as_streams(engine, &dir, &amps, Some("columns"), buffer, (sms + 1, None), buffer == 128);
        assert!(matches!(steps.as_slice(), [StreamStep::Columns(_)]), "{buffer} frames: {steps:?}");
        assert!(buffer > 64 || per_cube[0] > 1, "{buffer} frames: {per_cube:?} instances per cube, {steps:?}");
    }
}

/// `../shared` beside the repository; `CUBEAUDIO_SHARED` overrides it (the GPU machine).
fn shared_dir() -> PathBuf {
    std::env::var_os("CUBEAUDIO_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"))
}

cubeaudio_kernels::for_each_runtime!(|client, info| (&Engine::new(client.clone(), info.clone())); wavenet_and_lstm_amps_share_a_stage, nam_in_a_graph_equals_the_cpu_engine, graph_instances_equal_the_cpu_engine, amp_and_cab_rigs_run_in_one_launch, every_convolutional_model_runs_as_a_stream, every_column_shape_runs_as_a_stream, auto_fuses_amps_where_the_program_runs_them_fast, many_instances_share_cubes);

fn short_di(dir: &Path) -> PathBuf {
    let path = dir.join("di.wav");
    let x: Vec<f32> = di_signal().into_iter().take(24_000).collect();
    cubeaudio_runtime::wav::write(&path, &[x], 48_000, cubeaudio_runtime::wav::SampleFormat::Float32).unwrap();
    path
}

/// `bench --rig` on the pedal rig: points doubling to the limit, one launch per buffer counted
/// for every instance count, the latency percentiles, the report files.
#[test]
fn rig_bench_runs_from_the_command_line() {
    if let Err(e) = cubeaudio_kernels::device::Backend::Auto.open(false) {
        assert!(!required("wgpu"), "no GPU runtime, but one is required: {e}");
        eprintln!("[device-test] SKIPPED rig bench: {e}");
        return;
    }
    let dir = std::env::temp_dir().join(format!("cubeaudio-rig-bench-{}", std::process::id()));
    let rig = examples().join("rigs/pedals.json");
    let (code, stdout, stderr) = cubeaudio(&[
        "bench",
        "--backend",
        "auto",
        "--rig",
        rig.to_str().unwrap(),
        "--buffers",
        "128",
        "--max-instances",
        "2",
        "--latency-buffers",
        "100",
        "--phase-groups",
        "2",
        "--out",
        dir.to_str().unwrap(),
    ]);
    println!("{stdout}{stderr}");
    assert_eq!(code, 0, "{stderr}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("rig-bench.json")).unwrap()).unwrap();
    // Two phase groups, each of at most what held as one group (and at least one instance).
    let phased = report["phase_points"].as_array().unwrap();
    assert!(!phased.is_empty(), "{report}");
    for p in phased {
        assert_eq!(p["groups"], 2, "{p}");
        assert_eq!(p["launches"], 1, "{p}");
        let per_group = p["per_group"].as_u64().unwrap();
        assert!((1..=1).contains(&per_group), "2 phase groups within --max-instances 2: {p}");
    }
    let held = &report["phase_held"][0];
    assert_eq!((held[0].as_u64(), held[1].as_u64()), (Some(128), Some(2)), "{report}");
    let holds = phased.iter().any(|p| p["holds"] == true);
    assert_eq!(held[2].as_u64(), Some(if holds { 2 } else { 0 }), "{report}");
    assert_eq!(held[3].as_bool(), Some(holds), "two held instances are the --max-instances cap: {report}");
    let points = report["points"].as_array().unwrap();
    assert!(!points.is_empty() && points.len() <= 2, "{points:?}");
    for p in points {
        assert_eq!(p["launches"], 1, "the pedal rig is one launch for any instance count: {p}");
        assert!(p["p99_us"].as_f64().unwrap() >= p["p50_us"].as_f64().unwrap());
        let (piped50, piped99) = (p["pipelined_us"][0].as_f64().unwrap(), p["pipelined_us"][1].as_f64().unwrap());
        assert!(piped50 > 0.0 && piped99 >= piped50, "{p}");
        let budget = p["budget_us"].as_f64().unwrap();
        assert_eq!(p["holds_pipelined"].as_bool(), Some(piped99 < 0.5 * budget), "{p}");
    }
    // Held counts: synchronous ≤ either way, each a count that was measured to hold.
    let swept = &report["held"][0];
    let (sync, either) = (swept[1].as_u64().unwrap(), swept[2].as_u64().unwrap());
    assert!(sync <= either, "{swept}");
    let holding = |n: u64, pipelined: bool| {
        n == 0
            || points.iter().any(|p| {
                p["instances"].as_u64() == Some(n)
                    && (p["holds"] == true || (pipelined && p["holds_pipelined"] == true))
            })
    };
    assert!(holding(sync, false) && holding(either, true), "{report}");
    assert_eq!(report["latency"][0], 100);
    assert!(dir.join("rig-bench.md").exists());
}

#[test]
fn example_rigs_render_from_the_command_line() {
    if let Err(e) = cubeaudio_kernels::device::Backend::Auto.open(false) {
        assert!(!required("wgpu"), "no GPU runtime, but one is required: {e}");
        eprintln!("[device-test] SKIPPED example rigs: {e}");
        return;
    }
    let dir = std::env::temp_dir().join(format!("cubeaudio-rigs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let di = short_di(&dir);
    for (rig, channels) in [("amp_cab.json", 1usize), ("dual_amp.json", 2), ("pedals.json", 1), ("pedalboard.json", 1)]
    {
        let out = dir.join(rig.replace(".json", ".wav"));
        let rig_path = examples().join("rigs").join(rig);
        let (code, stdout, stderr) = cubeaudio(&[
            "graph",
            "--config",
            rig_path.to_str().unwrap(),
            "--input",
            di.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
        ]);
        println!("{rig}: {stdout}{stderr}");
        assert_eq!(code, 0, "{rig}: {stderr}");
        assert!(stdout.contains("launches per buffer"), "{stdout}");
        let cubeaudio_runtime::wav::Wav { channels: y, sample_rate: rate } =
            cubeaudio_runtime::wav::read(&out).unwrap();
        assert_eq!((y.len(), rate), (channels, 48_000));
        for c in &y {
            assert_eq!(c.len(), 24_000);
            assert!(c.iter().all(|v| v.is_finite()));
            let rms = (c.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / c.len() as f64).sqrt();
            assert!(rms > 1e-3, "{rig}: output is (nearly) silent, rms {rms}");
        }
    }
    // A rig with a cycle: the validation error, exit ≠ 0, no output file.
    let bad = dir.join("bad.json");
    std::fs::write(
        &bad,
        r#"{"inputs": [{"name": "in"}], "outputs": [{"name": "out"}],
          "processors": [{"id": "a", "type": "mix"}, {"id": "b", "type": "gain"}],
          "connections": [{"from": "in", "to": "a.in1"}, {"from": "a.out", "to": "b.in"}, {"from": "b.out", "to": "a.in2"}, {"from": "b.out", "to": "out"}]}"#,
    )
    .unwrap();
    let out = dir.join("bad.wav");
    let (code, _, stderr) = cubeaudio(&[
        "graph",
        "--config",
        bad.to_str().unwrap(),
        "--input",
        di.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_ne!(code, 0);
    assert!(stderr.contains("cycle: ") && stderr.contains("bad.json"), "{stderr}");
    assert!(!out.exists());
    let (code, _, stderr) = cubeaudio(&[
        "graph",
        "--config",
        dir.join("missing.json").to_str().unwrap(),
        "--input",
        di.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_ne!(code, 0);
    assert!(stderr.contains("missing.json"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue #16, defect 8, as a user meets it: FIR taps that each pass validation overflow f32 on a
/// short burst of huge (finite) samples. Before, the EQ after the FIR took in inf and 47,989 of 48,000 samples were NaN
/// (exit 0). Now every output sample is finite and, once the burst has rung out, the output is
/// the one the rig gives the same input without the burst.
#[test]
fn an_overflow_inside_a_graph_does_not_poison_it() {
    if let Err(e) = cubeaudio_kernels::device::Backend::Auto.open(false) {
        assert!(!required("wgpu"), "no GPU runtime, but one is required: {e}");
        eprintln!("[device-test] SKIPPED graph overflow: {e}");
        return;
    }
    let dir = std::env::temp_dir().join(format!("cubeaudio-overflow-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rig = dir.join("rig.json");
    std::fs::write(
        &rig,
        r#"{"inputs": [{"name": "in"}], "outputs": [{"name": "out"}],
          "processors": [{"id": "boost", "type": "fir", "settings": {"taps": [1e5, 1e5, 1e5, 1e5]}},
                         {"id": "tone", "type": "eq", "params": {"freq_hz": 800, "gain_db": 6, "q": 0.7}}],
          "connections": [{"from": "in", "to": "boost.in"}, {"from": "boost.out", "to": "tone.in"},
                          {"from": "tone.out", "to": "out"}]}"#,
    )
    .unwrap();
    let clean: Vec<f32> = (0..48_000).map(|t| 0.1 * (t as f32 * 0.031).sin()).collect();
    let mut burst = clean.clone();
    burst[1000..1010].fill(1e37);
    let mut outputs = Vec::new();
    for (name, x) in [("clean", clean), ("burst", burst)] {
        let input = dir.join(format!("{name}.wav"));
        let output = dir.join(format!("{name}-out.wav"));
        cubeaudio_runtime::wav::write(&input, &[x], 48_000, cubeaudio_runtime::wav::SampleFormat::Float32).unwrap();
        let (code, stdout, stderr) = cubeaudio(&[
            "graph",
            "--config",
            rig.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
            "--output",
            output.to_str().unwrap(),
        ]);
        println!("{name}: {stdout}{stderr}");
        assert_eq!(code, 0, "{stderr}");
        outputs.push(cubeaudio_runtime::wav::read(&output).unwrap().channels.remove(0));
    }
    let (clean, burst) = (&outputs[0], &outputs[1]);
    let non_finite = burst.iter().filter(|v| !v.is_finite()).count();
    let peak = clean.iter().fold(0.0f32, |m, v| m.max(v.abs())) as f64;
    let tail_err = clean[24_000..].iter().zip(&burst[24_000..]).map(|(a, b)| (a - b).abs() as f64).fold(0.0, f64::max);
    println!("burst: {non_finite} non-finite samples; second half against the clean run: max |err| {tail_err:.3e} (peak {peak:.3e})");
    assert_eq!(non_finite, 0);
    assert!(tail_err <= 1e-5 * peak, "the graph did not recover: {tail_err:.3e}");
}
