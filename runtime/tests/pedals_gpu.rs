//! The pedal types (compressor, tremolo, drive, delay) and the fused graph program on a
//! device: a chain against f64, the example pedal rig in one launch under every layout, equal
//! to the unfused graph, with the packer's layout measured.

mod common;

use std::sync::Arc;

use common::{close, rng};
use cubeaudio_kernels::effects::reference as fx;
use cubeaudio_kernels::gain::smoothing_coefficient;
use cubeaudio_kernels::graph_program::{DeviceKind, DeviceKindSet, DeviceKinds, ITEM_STATE, KIND_DEVICE};
use cubeaudio_runtime::error::ProcessorError;
use cubeaudio_runtime::graph::{CompiledGraph, Fusion, GraphOptions, GraphSpec};
use cubeaudio_runtime::processor::{
    BatchProcessor, Description, InstanceSetup, PortDesc, PrepareContext, ProcessorType, Settings,
};
use cubeaudio_runtime::program_type::ProgramType;
use cubeaudio_runtime::registry::Registry;
use cubeaudio_runtime::Engine;
use cubecl::prelude::*;
use rand::rngs::SmallRng;
use rand::Rng;

const SR: f64 = 48_000.0;
const MAX: usize = 128;
const PEDALS: &str = include_str!("../../cli/examples/rigs/pedals.json");

const CHAIN: &str = r#"{
  "inputs": [{"name": "in"}], "outputs": [{"name": "out"}],
  "processors": [
    {"id": "comp", "type": "compressor", "params": {"threshold_db": -18, "ratio": 5, "attack_ms": 2, "release_ms": 80, "makeup_db": 4}},
    {"id": "trem", "type": "tremolo", "params": {"rate_hz": 7, "depth": 0.8}},
    {"id": "fuzz", "type": "drive", "params": {"drive_db": 18, "level_db": -6}},
    {"id": "echo", "type": "delay", "params": {"time_ms": 3, "feedback": 0.5, "mix": 0.4}}
  ],
  "connections": [
    {"from": "in", "to": "comp.in"}, {"from": "comp.out", "to": "trem.in"},
    {"from": "trem.out", "to": "fuzz.in"}, {"from": "fuzz.out", "to": "echo.in"},
    {"from": "echo.out", "to": "out"}
  ]
}"#;

fn noise(rng: &mut SmallRng, n: usize, amp: f32) -> Vec<f32> {
    (0..n).map(|_| rng.gen_range(-amp..=amp)).collect()
}

fn lin(db: f64) -> f64 {
    10f64.powf(db / 20.0)
}

fn coef(ms: f64) -> f64 {
    smoothing_coefficient(SR as f32, (ms / 1000.0) as f32).unwrap() as f64
}

/// Compressor → tremolo → drive → delay against the f64 steps with parameters converted here
/// from the rig's units (dB, ms, Hz), buffers of every size, a depth and a delay time changed
/// mid-stream; fused (one launch) and unfused (a launch per pedal plus two copies).
fn effect_chain_matches_f64<R: Runtime>(engine: &Engine<R>) {
    let mut rng = rng("pedals-test", "effect chain");
    for (fusion, launches) in [(Fusion::Packed, 1), (Fusion::Off, 6)] {
        let spec = GraphSpec::from_json(CHAIN).unwrap();
        let options = GraphOptions { fusion, ..GraphOptions::new(SR, MAX, ".") };
        let mut g = CompiledGraph::compile(engine, &Registry::with_builtins(), &spec, &options).unwrap();
        let setter = g.param_setter();
        let comp = [lin(-18.0), 1.0 / 5.0 - 1.0, coef(2.0), coef(80.0), lin(4.0)];
        let mut trem = [7.0 / SR, 0.8, coef(20.0)];
        let fuzz = [lin(18.0), lin(-6.0), coef(20.0)];
        let mut echo = [144.0, 0.5, 0.4, 0.6];
        let (mut sc, mut phase, mut st, mut sf) = ([0.0], 0.0f32, [0.8], [lin(18.0)]);
        let mut ring = vec![0.0f64; 131_072];
        let mut at = 0;
        for (n, frames) in [128usize, 128, 17, 1, 128, 99, 128, 128].into_iter().enumerate() {
            if n == 3 {
                setter.set("trem", "depth", 0.3).unwrap();
                setter.set("echo", "time_ms", 1.5).unwrap();
                trem[1] = 0.3;
                echo[0] = 72.0;
            }
            let x = noise(&mut rng, frames, if n % 3 == 0 { 0.9 } else { 0.05 });
            let mut y = vec![f32::NAN; frames];
            g.process(engine, &[&x], &mut [&mut y]).unwrap();
            assert_eq!(g.launches_per_buffer(), launches, "{fusion:?}");
            let want: Vec<f64> = x
                .iter()
                .map(|&v| {
                    let a = fx::compressor(v as f64, &comp, &mut sc);
                    let b = fx::tremolo(a, &trem, &mut phase, &mut st);
                    let c = fx::drive(b, &fuzz, &mut sf);
                    let d = fx::echo(c, &echo, &mut ring, at);
                    at += 1;
                    d
                })
                .collect();
            close(&format!("effect chain, {fusion:?}, buffer {n}"), &y, &want, 1e-6);
        }
        println!("[pedals-test] effect chain, {fusion:?}: {launches} launches per buffer, equal to f64");
    }
}

/// The example pedal rig (eight pedals of seven types in one stage, two blends, a blend and a
/// level) runs in one launch packed and in creation order, equal to the unfused graph's 12
/// launches; the packer puts every kind of the pedal stage in a warp of its own.
fn pedal_rig_layouts_agree<R: Runtime>(engine: &Engine<R>) {
    let mut rng = rng("pedals-test", "pedal rig");
    let spec = GraphSpec::from_json(PEDALS).unwrap();
    let input: Vec<Vec<f32>> = [128usize, 64, 128, 5, 128].iter().map(|&n| noise(&mut rng, n, 0.7)).collect();
    let mut outputs = Vec::new();
    for (fusion, launches) in [(Fusion::Packed, 1), (Fusion::CreationOrder, 1), (Fusion::Off, 12)] {
        let options = GraphOptions { fusion, ..GraphOptions::new(SR, MAX, ".") };
        let mut g = CompiledGraph::compile(engine, &Registry::with_builtins(), &spec, &options).unwrap();
        let mut out = Vec::new();
        for x in &input {
            let mut y = vec![f32::NAN; x.len()];
            g.process(engine, &[x], &mut [&mut y]).unwrap();
            assert_eq!(g.launches_per_buffer(), launches, "{fusion:?}");
            out.extend(y);
        }
        let layouts = g.program_layouts();
        match fusion {
            Fusion::Packed => {
                assert_eq!(layouts[0].items, 8);
                assert_eq!((layouts[0].warps, layouts[0].mixed_warps), (7, 0), "one warp per kind: {layouts:?}");
            }
            Fusion::CreationOrder => assert_eq!((layouts[0].warps, layouts[0].mixed_warps), (1, 1), "{layouts:?}"),
            Fusion::Off => assert!(layouts.is_empty()),
        }
        println!("[pedals-test] pedal rig, {fusion:?}: {launches} launches per buffer, layouts {layouts:?}");
        outputs.push(out);
    }
    let reference: Vec<f64> = outputs[2].iter().map(|&v| v as f64).collect();
    close("pedal rig, packed against unfused", &outputs[0], &reference, 1e-6);
    close("pedal rig, creation order against unfused", &outputs[1], &reference, 1e-6);
}

/// Three instances of the pedal rig in one graph (one launch fused, each instance its own
/// input, state and parameters) equal three single-instance graphs; unfused, each batch serves
/// every instance (the same 12 launches as one instance).
fn instances_equal_separate_graphs<R: Runtime>(engine: &Engine<R>) {
    let mut rng = rng("pedals-test", "instances");
    let spec = GraphSpec::from_json(PEDALS).unwrap();
    let copies = 3;
    let frames = [128usize, 77, 128, 128];
    let input: Vec<Vec<Vec<f32>>> =
        frames.iter().map(|&n| (0..copies).map(|_| noise(&mut rng, n, 0.7)).collect()).collect();
    let levels = [-2.0f32, -20.0, 4.0];
    let mut separate = vec![Vec::new(); copies];
    for (copy, out) in separate.iter_mut().enumerate() {
        let mut g = CompiledGraph::compile(engine, &Registry::with_builtins(), &spec, &GraphOptions::new(SR, MAX, "."))
            .unwrap();
        g.param_setter().set("level", "gain_db", levels[copy]).unwrap();
        g.param_setter().set("echo", "time_ms", 10.0 + copy as f32).unwrap();
        for x in &input {
            let mut y = vec![f32::NAN; x[copy].len()];
            g.process(engine, &[&x[copy]], &mut [&mut y]).unwrap();
            out.extend(y);
        }
    }
    for (fusion, launches) in [(Fusion::Packed, 1), (Fusion::Off, 12)] {
        let options = GraphOptions { fusion, instances: copies, ..GraphOptions::new(SR, MAX, ".") };
        let mut g = CompiledGraph::compile(engine, &Registry::with_builtins(), &spec, &options).unwrap();
        assert_eq!((g.instances(), g.input_channels(), g.output_channels()), (copies, copies, copies));
        let setter = g.param_setter();
        for (copy, level) in levels.iter().enumerate() {
            setter.set_in(copy, "level", "gain_db", *level).unwrap();
            setter.set_in(copy, "echo", "time_ms", 10.0 + copy as f32).unwrap();
        }
        assert!(setter.set_in(copies, "level", "gain_db", 0.0).is_err());
        let mut got = vec![Vec::new(); copies];
        for x in &input {
            let ins: Vec<&[f32]> = x.iter().map(Vec::as_slice).collect();
            let mut ys = vec![vec![f32::NAN; x[0].len()]; copies];
            let mut outs: Vec<&mut [f32]> = ys.iter_mut().map(|v| v.as_mut_slice()).collect();
            g.process(engine, &ins, &mut outs).unwrap();
            assert_eq!(g.launches_per_buffer(), launches, "{fusion:?}");
            for (o, y) in got.iter_mut().zip(ys) {
                o.extend(y);
            }
        }
        for copy in 0..copies {
            let want: Vec<f64> = separate[copy].iter().map(|&v| v as f64).collect();
            close(&format!("instance {copy} of 3, {fusion:?}, against its own graph"), &got[copy], &want, 1e-6);
        }
        println!("[pedals-test] 3 instances of the pedal rig, {fusion:?}: {launches} launches per buffer");
    }
}

/// Two device-kind sets (user-defined per-sample steps), for the refusals below.
struct Halve;
struct Negate;

#[cube]
impl DeviceKinds for Halve {
    fn step(_kind: u32, x: f32, params: &Array<f32>, at: usize, _state: &mut Array<f32>) -> f32 {
        x * params[at]
    }
}

#[cube]
impl DeviceKinds for Negate {
    fn step(_kind: u32, x: f32, _params: &Array<f32>, _at: usize, _state: &mut Array<f32>) -> f32 {
        -x
    }
}

fn one_kind<K: DeviceKinds>(name: &'static str) -> DeviceKindSet {
    let kind =
        DeviceKind { name, params: 1, cost: 60, initial_state: |_| [0.0; ITEM_STATE], reference: |x, p, _| x * p[0] };
    // SAFETY: both steps read `params[at]` at most, and no state.
    unsafe { DeviceKindSet::of::<K>(vec![kind]) }.unwrap()
}

/// A mono processor type of a device kind (`kind`, from `set`), for the refusals below.
struct Custom {
    name: &'static str,
    kind: u32,
    set: Option<DeviceKindSet>,
}

impl<R: Runtime> ProcessorType<R> for Custom {
    fn name(&self) -> &'static str {
        self.name
    }

    fn describe(&self, _settings: &Settings) -> Result<Description, ProcessorError> {
        Ok(Description {
            type_name: self.name,
            inputs: vec![PortDesc { name: "in", channels: 1, required: true }],
            outputs: vec![PortDesc { name: "out", channels: 1, required: true }],
            params: vec![],
        })
    }

    fn prepare(
        &self,
        _engine: &Engine<R>,
        _ctx: &PrepareContext,
        _instances: &[InstanceSetup],
    ) -> Result<Box<dyn BatchProcessor<R>>, ProcessorError> {
        Err(ProcessorError::Setting { setting: "fusion", reason: "fused only".into() })
    }

    fn program(&self) -> Option<&dyn ProgramType> {
        Some(self)
    }
}

impl ProgramType for Custom {
    fn kind(&self, _settings: &Settings) -> u32 {
        self.kind
    }

    fn device_kinds(&self) -> Option<DeviceKindSet> {
        self.set.clone()
    }

    fn device_params(&self, _sample_rate: f64, _settings: &Settings, _params: &[f32], out: &mut [f32]) {
        out.fill(0.5);
    }
}

/// User device kinds in a graph: a rig of two processors of one set runs in one launch (the
/// halving kind twice: a quarter of the input); one program compiles one set, so a second set,
/// a kind the set lacks, or a device kind without a set refuse the commit, naming the type.
fn device_kinds_fuse_and_refuse<R: Runtime>(engine: &Engine<R>) {
    let rig = |a: &str, b: &str| {
        GraphSpec::from_json(&format!(
            r#"{{"inputs": [{{"name": "in"}}], "outputs": [{{"name": "out"}}],
            "processors": [{{"id": "a", "type": "{a}"}}, {{"id": "b", "type": "{b}"}}],
            "connections": [{{"from": "in", "to": "a.in"}}, {{"from": "a.out", "to": "b.in"}},
                {{"from": "b.out", "to": "out"}}]}}"#
        ))
        .unwrap()
    };
    let halve = one_kind::<Halve>("halve");
    let mut registry = Registry::<R>::with_builtins();
    let types = [
        Custom { name: "halve", kind: KIND_DEVICE, set: Some(halve.clone()) },
        Custom { name: "halve_too", kind: KIND_DEVICE, set: Some(halve) },
        Custom { name: "negate", kind: KIND_DEVICE, set: Some(one_kind::<Negate>("negate")) },
        Custom { name: "beyond", kind: KIND_DEVICE + 1, set: Some(one_kind::<Halve>("halve")) },
        Custom { name: "setless", kind: KIND_DEVICE, set: None },
    ];
    for t in types {
        registry.register(Arc::new(t));
    }
    let options = GraphOptions::new(SR, MAX, ".");
    let mut g = CompiledGraph::compile(engine, &registry, &rig("halve", "halve_too"), &options).unwrap();
    let x: Vec<f32> = (0..MAX).map(|t| (t as f32 * 0.1).sin()).collect();
    let mut y = vec![f32::NAN; MAX];
    g.process(engine, &[&x], &mut [&mut y]).unwrap();
    assert_eq!(g.launches_per_buffer(), 1);
    close("two processors of one device-kind set", &y, &x.iter().map(|&v| v as f64 * 0.25).collect::<Vec<_>>(), 1e-7);
    for (a, b, says) in [
        ("halve", "negate", "one device-kind set"),
        ("beyond", "halve", "does not hold"),
        ("halve", "setless", "gives no device-kind set"),
    ] {
        match CompiledGraph::compile(engine, &registry, &rig(a, b), &options) {
            Ok(_) => panic!("{a} → {b} was accepted"),
            Err(e) => assert!(e.to_string().contains(says), "{a} → {b}: expected {says:?}, got {e}"),
        }
    }
}

cubeaudio_kernels::for_each_runtime!(|client, info| (&Engine::new(client.clone(), info.clone()));
    effect_chain_matches_f64,
    pedal_rig_layouts_agree,
    instances_equal_separate_graphs,
    device_kinds_fuse_and_refuse,
);
