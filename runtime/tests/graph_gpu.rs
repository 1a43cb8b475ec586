//! Compiled graphs on a device: outputs against f64 references, launch counts, parameter
//! smoothing, atomic commits, NaN policy, reset, async.

mod common;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::close;
use cubeaudio_kernels::biquad::BiquadCoefficients;
use cubeaudio_kernels::gain::smoothing_coefficient;
use cubeaudio_runtime::builtins::gate_settings;
use cubeaudio_runtime::graph::{graph_pair, CompiledGraph, Fusion, GraphOptions, GraphSpec};
use cubeaudio_runtime::registry::Registry;
use cubeaudio_runtime::Engine;
use cubecl::prelude::*;
use rand::rngs::SmallRng;
use rand::Rng;

const SR: f64 = 48_000.0;
const MAX: usize = 128;

fn options() -> GraphOptions {
    GraphOptions::new(SR, MAX, PathBuf::from("."))
}

fn rng(test: &str) -> SmallRng {
    common::rng("graph-test", test)
}

fn noise(rng: &mut SmallRng, n: usize, amp: f32) -> Vec<f32> {
    (0..n).map(|_| rng.gen_range(-amp..=amp)).collect()
}

fn db(v: f64) -> f64 {
    10f64.powf(v / 20.0)
}

fn db_to_lin(v: f32) -> f64 {
    10f32.powf(v / 20.0) as f64
}

/// 100 gains in parallel on one input, each to its own graph output: one launch for all 100.
fn hundred_identical_processors_run_in_one_launch<R: Runtime>(engine: &Engine<R>) {
    let mut rng = rng("hundred gains");
    let gains: Vec<f32> = (0..100).map(|_| rng.gen_range(-20.0..6.0)).collect();
    let procs: Vec<String> = gains
        .iter()
        .enumerate()
        .map(|(i, g)| format!(r#"{{"id": "g{i}", "type": "gain", "params": {{"gain_db": {g}}}}}"#))
        .collect();
    let outs: Vec<String> = (0..100).map(|i| format!(r#"{{"name": "o{i}"}}"#)).collect();
    let mut conns = Vec::new();
    for i in 0..100 {
        conns.push(format!(r#"{{"from": "in", "to": "g{i}.in"}}"#));
        conns.push(format!(r#"{{"from": "g{i}.out", "to": "o{i}"}}"#));
    }
    let json = format!(
        r#"{{"inputs": [{{"name": "in"}}], "outputs": [{}], "processors": [{}], "connections": [{}]}}"#,
        outs.join(","),
        procs.join(","),
        conns.join(",")
    );
    let spec = GraphSpec::from_json(&json).unwrap();
    // Fused: the program copies the input in, runs the gains, copies the outputs out.
    for (fusion, launches) in [(Fusion::Packed, 1), (Fusion::CreationOrder, 1), (Fusion::Off, 3)] {
        let options = GraphOptions { fusion, ..options() };
        let mut g = CompiledGraph::compile(engine, &Registry::with_builtins(), &spec, &options).unwrap();
        assert_eq!(g.schedule().batch_count(), 1);
        for frames in [128, 7, 64] {
            let x = noise(&mut rng, frames, 1.0);
            let mut out = vec![vec![f32::NAN; frames]; 100];
            let mut outs: Vec<&mut [f32]> = out.iter_mut().map(|v| v.as_mut_slice()).collect();
            g.process(engine, &[&x], &mut outs).unwrap();
            assert_eq!(g.launches_per_buffer(), launches, "{fusion:?}");
            for (i, o) in out.iter().enumerate() {
                let want: Vec<f64> = x.iter().map(|&v| v as f64 * db_to_lin(gains[i])).collect();
                close(&format!("gain {i}, {fusion:?}"), o, &want, 1e-6);
            }
        }
        println!("[graph-test] 100 parallel gains, {fusion:?}: {launches} launches per buffer");
    }
}

/// f64 twins of the built-ins, with the same per-sample coefficients.
struct Reference {
    gate: (f64, f64),
    gains: Vec<f64>,
    eq: [f64; 2],
    fir_hist: Vec<f64>,
    mix: [f64; 4],
}

const MIXED: &str = r#"{
  "inputs": [{"name": "in"}],
  "outputs": [{"name": "main"}, {"name": "direct"}],
  "processors": [
    {"id": "gate", "type": "noise_gate", "params": {"threshold_db": -30, "attack_ms": 0.5, "release_ms": 5}},
    {"id": "a", "type": "gain", "params": {"gain_db": -6}},
    {"id": "b", "type": "gain", "params": {"gain_db": 3}},
    {"id": "tone", "type": "eq", "settings": {"shape": "peak"}, "params": {"freq_hz": 2000, "q": 0.8, "gain_db": 6}},
    {"id": "smear", "type": "fir", "settings": {"taps": [0.5, 0.25, -0.125, 0.0625, 0.03]}},
    {"id": "sum", "type": "mix", "params": {"level1": 0, "level2": -3, "level3": -6, "level4": 0}}
  ],
  "connections": [
    {"from": "in", "to": "gate.in"},
    {"from": "gate.out", "to": "a.in"}, {"from": "gate.out", "to": "b.in"},
    {"from": "gate.out", "to": "tone.in"}, {"from": "gate.out", "to": "smear.in"},
    {"from": "a.out", "to": "sum.in1"}, {"from": "b.out", "to": "sum.in2"},
    {"from": "tone.out", "to": "sum.in3"}, {"from": "smear.out", "to": "sum.in4"},
    {"from": "sum.out", "to": "main"}, {"from": "smear.out", "to": "direct"}
  ]
}"#;

/// A mixed graph (gate → two gains, an EQ and a FIR in parallel → 4-input mix) against its f64
/// reference, with parameter changes between buffers (smoothed per sample) and launch counts:
/// fused, a program (input, gate, gains, EQ), the FIR, a program (mix, output); unfused, two
/// copies and five batches.
fn mixed_graph_matches_reference_with_smoothed_params<R: Runtime>(engine: &Engine<R>) {
    let mut rng = rng("mixed graph");
    for (fusion, launches) in [(Fusion::Packed, 3), (Fusion::Off, 7)] {
        mixed_graph_run(engine, &mut rng, fusion, launches);
    }
}

fn mixed_graph_run<R: Runtime>(engine: &Engine<R>, rng: &mut SmallRng, fusion: Fusion, launches: u32) {
    let spec = GraphSpec::from_json(MIXED).unwrap();
    let options = GraphOptions { fusion, ..options() };
    let mut g = CompiledGraph::compile(engine, &Registry::with_builtins(), &spec, &options).unwrap();
    let params = g.param_setter();
    // Stages: gate | eq, fir, gain×2 | mix → 5 batches + 2 copies.
    assert_eq!(g.schedule().batch_count(), 5);
    let gate = gate_settings(SR, -30.0, 0.5, 5.0);
    let coef = smoothing_coefficient(SR as f32, 0.020).unwrap() as f64;
    let taps = [0.5, 0.25, -0.125, 0.0625, 0.03];
    let mut r = Reference {
        gate: (0.0, 0.0),
        gains: vec![db(-6.0), db(3.0)],
        eq: [0.0; 2],
        fir_hist: Vec::new(),
        mix: [1.0, db(-3.0), db(-6.0), 1.0].map(|v| db_to_lin((20.0 * f64::log10(v)) as f32)),
    };
    r.gains = vec![db_to_lin(-6.0), db_to_lin(3.0)];
    let mut a_target = db_to_lin(-6.0);
    let mut level2 = db_to_lin(-3.0);
    let mut eq = BiquadCoefficients::peaking(SR, 2000.0, 0.8, 6.0);
    for (n, frames) in [128usize, 128, 33, 128, 1, 100, 128].into_iter().enumerate() {
        if n == 2 {
            params.set("a", "gain_db", 4.0).unwrap();
            params.set("sum", "level2", -20.0).unwrap();
            params.set("tone", "freq_hz", 500.0).unwrap();
            a_target = db_to_lin(4.0);
            level2 = db_to_lin(-20.0);
            eq = BiquadCoefficients::peaking(SR, 500.0, 0.8, 6.0);
        }
        // Loud bursts and near-silence so the gate opens and closes.
        let amp = if n % 2 == 0 { 0.8 } else { 0.002 };
        let x = noise(rng, frames, amp);
        let mut main = vec![f32::NAN; frames];
        let mut direct = vec![f32::NAN; frames];
        g.process(engine, &[&x], &mut [&mut main, &mut direct]).unwrap();
        assert_eq!(g.launches_per_buffer(), launches, "{fusion:?}");
        let (mut want_main, mut want_direct) = (Vec::new(), Vec::new());
        let k = eq.0.map(|v| v as f64);
        for &xi in &x {
            let xi = xi as f64;
            let (env, gg) = &mut r.gate;
            *env = xi.abs().max(*env * gate.envelope_fall as f64);
            let (target, c) = if *env > gate.threshold as f64 { (1.0, gate.attack) } else { (0.0, gate.release) };
            *gg += c as f64 * (target - *gg);
            let gated = xi * *gg;
            r.gains[0] += coef * (a_target - r.gains[0]);
            r.gains[1] += coef * (db_to_lin(3.0) - r.gains[1]);
            let ya = gated * r.gains[0];
            let yb = gated * r.gains[1];
            let ye = k[0] * gated + r.eq[0];
            r.eq[0] = k[1] * gated - k[3] * ye + r.eq[1];
            r.eq[1] = k[2] * gated - k[4] * ye;
            r.fir_hist.push(gated);
            let h = &r.fir_hist;
            let yf: f64 =
                taps.iter().enumerate().filter(|(j, _)| *j < h.len()).map(|(j, t)| t * h[h.len() - 1 - j]).sum();
            let targets = [1.0, level2, db_to_lin(-6.0), 1.0];
            let mut y = 0.0;
            for (j, s) in [ya, yb, ye, yf].into_iter().enumerate() {
                r.mix[j] += coef * (targets[j] - r.mix[j]);
                y += r.mix[j] * s;
            }
            want_main.push(y);
            want_direct.push(yf);
        }
        close(&format!("mixed graph main, {fusion:?}, buffer {n}"), &main, &want_main, 2e-5);
        close(&format!("mixed graph direct, {fusion:?}, buffer {n}"), &direct, &want_direct, 2e-5);
    }
    assert!(params.set("a", "gain_db", 99.0).is_err());
    assert!(params.set("a", "volume", 0.0).is_err());
    println!("[graph-test] mixed graph, {fusion:?}: {launches} launches per buffer, smoothing matches f64");
}

const SIMPLE: &str = r#"{"inputs": [{"name": "in"}], "outputs": [{"name": "out"}],
  "processors": [{"id": "g", "type": "gain", "params": {"gain_db": GAIN}}],
  "connections": [{"from": "in", "to": "g.in"}, {"from": "g.out", "to": "out"}]}"#;

fn simple(gain_db: f32) -> GraphSpec {
    GraphSpec::from_json(&SIMPLE.replace("GAIN", &gain_db.to_string())).unwrap()
}

/// An editor thread commits ×2 and ×3 graphs as fast as it can while the runner processes:
/// every buffer must come entirely from one graph.
fn commits_swap_only_at_buffer_boundaries<R: Runtime>(engine: &Engine<R>) {
    let (mut editor, mut runner) = graph_pair(engine.clone(), Arc::new(Registry::with_builtins()), options());
    let (two, three) = (20.0 * 2f32.log10(), 20.0 * 3f32.log10());
    editor.commit(&simple(two)).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let host = std::thread::spawn(move || {
        let mut n = 0;
        while !stop2.load(Ordering::Acquire) {
            editor.commit(&simple(if n % 2 == 0 { three } else { two })).unwrap();
            n += 1;
        }
        n
    });
    let x: Vec<f32> = (0..MAX).map(|i| 0.001 * (i as f32 + 1.0)).collect();
    let (mut seen2, mut seen3, mut switches) = (0, 0, 0);
    for _ in 0..400 {
        let mut y = vec![0.0f32; MAX];
        let report = runner.process(&[&x], &mut [&mut y]).unwrap();
        switches += report.switched as usize;
        let ratio = y[0] / x[0];
        let factor = if (ratio - 2.0).abs() < 1e-3 { 2.0 } else { 3.0 };
        for (i, (a, b)) in y.iter().zip(&x).enumerate() {
            assert!(
                (a - factor * b).abs() <= 1e-5 * factor,
                "buffer mixes two graphs at frame {i}: {a} vs {factor}×{b}"
            );
        }
        if factor == 2.0 {
            seen2 += 1
        } else {
            seen3 += 1
        }
        if seen2 > 5 && seen3 > 5 && switches > 10 {
            break;
        }
    }
    stop.store(true, Ordering::Release);
    let commits = host.join().unwrap();
    println!(
        "[graph-test] atomic swap: {commits} commits, {switches} switches, ×2 buffers {seen2}, ×3 buffers {seen3}"
    );
    assert!(seen2 > 0 && seen3 > 0 && switches > 1, "the test must actually observe swaps");
}

/// NaN and infinities at the input become silence for that sample; state stays clean.
fn non_finite_input_is_silenced_and_does_not_poison_state<R: Runtime>(engine: &Engine<R>) {
    let spec = GraphSpec::from_json(MIXED).unwrap();
    let mut g = CompiledGraph::compile(engine, &Registry::with_builtins(), &spec, &options()).unwrap();
    let mut x = vec![0.5f32; 64];
    x[3] = f32::NAN;
    x[10] = f32::INFINITY;
    let (mut a, mut b) = (vec![0.0; 64], vec![0.0; 64]);
    g.process(engine, &[&x], &mut [&mut a, &mut b]).unwrap();
    assert_eq!(g.sanitized_samples(), 2);
    for _ in 0..3 {
        g.process(engine, &[&vec![0.5f32; 64]], &mut [&mut a, &mut b]).unwrap();
        assert!(a.iter().chain(&b).all(|v| v.is_finite()), "state poisoned");
    }
}

/// Reset returns to the just-prepared state: the same input gives the same output again.
fn reset_restores_the_prepared_state<R: Runtime>(engine: &Engine<R>) {
    let mut rng = rng("reset");
    let spec = GraphSpec::from_json(MIXED).unwrap();
    let mut g = CompiledGraph::compile(engine, &Registry::with_builtins(), &spec, &options()).unwrap();
    let blocks: Vec<Vec<f32>> = (0..4).map(|_| noise(&mut rng, 128, 0.8)).collect();
    let run = |g: &mut CompiledGraph<R>| -> Vec<f32> {
        let mut all = Vec::new();
        for x in &blocks {
            let (mut a, mut b) = (vec![0.0; 128], vec![0.0; 128]);
            g.process(engine, &[x], &mut [&mut a, &mut b]).unwrap();
            all.extend(a);
        }
        all
    };
    let first = run(&mut g);
    g.reset(engine).unwrap();
    let second = run(&mut g);
    assert_eq!(first, second);
}

/// Two buffers queued before either is fetched give the same output as synchronous calls.
fn async_buffers_equal_sync_ones<R: Runtime>(engine: &Engine<R>) {
    let mut rng = rng("async");
    let spec = GraphSpec::from_json(MIXED).unwrap();
    let reg = Registry::with_builtins();
    let mut sync = CompiledGraph::compile(engine, &reg, &spec, &options()).unwrap();
    let mut asy = CompiledGraph::compile(engine, &reg, &spec, &options()).unwrap();
    let blocks: Vec<Vec<f32>> = (0..4).map(|_| noise(&mut rng, 96, 0.8)).collect();
    let mut want = Vec::new();
    for x in &blocks {
        let (mut a, mut b) = (vec![0.0; 96], vec![0.0; 96]);
        sync.process(engine, &[x], &mut [&mut a, &mut b]).unwrap();
        want.push(a);
    }
    let pending: Vec<_> = blocks.iter().map(|x| asy.process_async(engine, &[x]).unwrap()).collect();
    for (p, w) in pending.into_iter().zip(want) {
        let (mut a, mut b) = (vec![0.0; 96], vec![0.0; 96]);
        p.wait(&mut [&mut a, &mut b]).unwrap();
        assert_eq!(a, w);
    }
}

/// Bad calls are errors: wrong channel count, oversized buffer, no graph committed.
fn bad_calls_are_errors<R: Runtime>(engine: &Engine<R>) {
    let mut g = CompiledGraph::compile(engine, &Registry::with_builtins(), &simple(0.0), &options()).unwrap();
    let x = vec![0.0f32; MAX + 1];
    let mut y = vec![0.0f32; MAX + 1];
    assert!(g.process(engine, &[&x], &mut [&mut y]).is_err());
    assert!(g.process(engine, &[&x[..8], &x[..8]], &mut [&mut y[..8]]).is_err());
    assert!(g.process(engine, &[&x[..8]], &mut []).is_err());
    let (_editor, mut runner) = graph_pair(engine.clone(), Arc::new(Registry::with_builtins()), options());
    assert!(matches!(runner.process(&[&x[..8]], &mut [&mut y[..8]]), Err(cubeaudio_runtime::RuntimeError::NoGraph)));
    let bad = GraphOptions { sample_rate: f64::NAN, ..options() };
    assert!(CompiledGraph::compile(engine, &Registry::with_builtins(), &simple(0.0), &bad).is_err());
}

cubeaudio_kernels::for_each_runtime!(|client, info| (&Engine::new(client.clone(), info.clone()));
    hundred_identical_processors_run_in_one_launch,
    mixed_graph_matches_reference_with_smoothed_params,
    commits_swap_only_at_buffer_boundaries,
    non_finite_input_is_silenced_and_does_not_poison_state,
    reset_restores_the_prepared_state,
    async_buffers_equal_sync_ones,
    bad_calls_are_errors,
);
