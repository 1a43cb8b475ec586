//! A processor type with device code of its own, defined outside the runtime and the kernel
//! library, fused into a graph's one launch: `wavefolder`, `sin(drive · x)` with the drive
//! smoothed toward its target (no zipper noise when it moves), then a DC blocker (a folded
//! asymmetric signal carries an offset), then the output level.
//!
//! What a user writes: the per-sample `#[cube]` step (`Fold::step`, its state in registers for
//! the whole buffer), its host description (`DeviceKind`: parameter count, packer cost,
//! starting state, an f64 reference), and the type's `ProgramType` (which kind, which set, how
//! parameter values become device values). The graph compiler lays its items out on warps with
//! the built-in kinds' and compiles the step into the program at commit. A rig of a gate, the
//! wavefolder and a gain runs in one launch and equals the f64 reference, through a drive
//! change mid-run.
//!
//! `cargo run --release -p cubeaudio-runtime --example wavefolder_processor`

use std::sync::Arc;

use cubeaudio_kernels::device::{Backend, DeviceInfo, DeviceJob};
use cubeaudio_kernels::graph_program::{DeviceKind, DeviceKindSet, DeviceKinds, ITEM_STATE, KIND_DEVICE};
use cubeaudio_runtime::builtins::known_settings;
use cubeaudio_runtime::error::ProcessorError;
use cubeaudio_runtime::graph::{CompiledGraph, GraphOptions, GraphSpec};
use cubeaudio_runtime::processor::{
    smoothing, BatchProcessor, Description, InstanceSetup, ParamDesc, PortDesc, PrepareContext, ProcessorType,
    Settings, Unit,
};
use cubeaudio_runtime::program_type::ProgramType;
use cubeaudio_runtime::registry::Registry;
use cubeaudio_runtime::{Engine, RuntimeError};
use cubecl::prelude::*;

const RATE: f64 = 48_000.0;
const BUFFER: usize = 128;

const DRIVE_DB: ParamDesc = ParamDesc {
    id: 1,
    name: "drive_db",
    min: 0.0,
    max: 24.0,
    default: 6.0,
    unit: Unit::Decibels,
    smoothing_ms: Some(20.0),
};
const LEVEL_DB: ParamDesc = ParamDesc {
    id: 2,
    name: "level_db",
    min: -24.0,
    max: 6.0,
    default: -6.0,
    unit: Unit::Decibels,
    smoothing_ms: None,
};

/// The DC blocker's pole: a 5 Hz corner at 48 kHz, whatever the rate (`1 − 2π·5/rate`).
fn dc_pole(sample_rate: f64) -> f64 {
    1.0 - std::f64::consts::TAU * 5.0 / sample_rate
}

/// The device step. Parameters: drive target (linear), smoothing coefficient, output level
/// (linear), DC pole. State: drive, the blocker's previous input and output.
struct Fold;

#[cube]
impl DeviceKinds for Fold {
    fn step(_kind: u32, x: f32, params: &Array<f32>, at: usize, state: &mut Array<f32>) -> f32 {
        state[0] += params[at + 1] * (params[at] - state[0]);
        let folded = f32::sin(state[0] * x);
        let y = folded - state[1] + params[at + 3] * state[2];
        state[1] = folded;
        state[2] = y;
        y * params[at + 2]
    }
}

/// The same step in f64, for the test below and for the set's reference.
fn fold_reference(x: f64, p: &[f64], s: &mut [f64; ITEM_STATE]) -> f64 {
    s[0] += p[1] * (p[0] - s[0]);
    let folded = (s[0] * x).sin();
    let y = folded - s[1] + p[3] * s[2];
    s[1] = folded;
    s[2] = y;
    y * p[2]
}

fn fold_set() -> DeviceKindSet {
    let kind = DeviceKind {
        name: "wavefolder",
        params: 4,
        // A sine and two multiply-adds per sample: about a drive's (84), the built-in tanh.
        cost: 90,
        // The drive starts at its target: no fade-in at the first buffer.
        initial_state: |p| [p[0], 0.0, 0.0, 0.0],
        reference: fold_reference,
    };
    // SAFETY: `Fold::step` reads `params[at..at + 4]` and `state[0..3]` only.
    unsafe { DeviceKindSet::of::<Fold>(vec![kind]) }.expect("one kind of four parameters is a valid set")
}

/// `wavefolder`: mono in, mono out.
struct Wavefolder {
    set: DeviceKindSet,
}

impl<R: Runtime> ProcessorType<R> for Wavefolder {
    fn name(&self) -> &'static str {
        "wavefolder"
    }

    fn describe(&self, settings: &Settings) -> Result<Description, ProcessorError> {
        known_settings(settings, &[])?;
        Ok(Description {
            type_name: "wavefolder",
            inputs: vec![PortDesc { name: "in", channels: 1, required: true }],
            outputs: vec![PortDesc { name: "out", channels: 1, required: true }],
            params: vec![DRIVE_DB, LEVEL_DB],
        })
    }

    /// Unfused (`Fusion::Off`) the type would need a kernel of its own; this one runs only
    /// inside a program, and says so rather than pretending.
    fn prepare(
        &self,
        _engine: &Engine<R>,
        _ctx: &PrepareContext,
        _instances: &[InstanceSetup],
    ) -> Result<Box<dyn BatchProcessor<R>>, ProcessorError> {
        Err(ProcessorError::Setting { setting: "fusion", reason: "wavefolder runs only inside a fused graph".into() })
    }

    fn program(&self) -> Option<&dyn ProgramType> {
        Some(self)
    }
}

impl ProgramType for Wavefolder {
    fn kind(&self, _settings: &Settings) -> u32 {
        KIND_DEVICE
    }

    fn device_kinds(&self) -> Option<DeviceKindSet> {
        Some(self.set.clone())
    }

    fn device_params(&self, sample_rate: f64, _settings: &Settings, params: &[f32], out: &mut [f32]) {
        let db = |v: f32| 10f32.powf(v / 20.0);
        out.copy_from_slice(&[
            db(params[0]),
            smoothing(sample_rate, &DRIVE_DB),
            db(params[1]),
            dc_pole(sample_rate) as f32,
        ]);
    }
}

const RIG: &str = r#"{
  "inputs": [{"name": "in"}], "outputs": [{"name": "out"}],
  "processors": [
    {"id": "gate", "type": "noise_gate", "params": {"threshold_db": -90}},
    {"id": "fold", "type": "wavefolder", "params": {"drive_db": 12, "level_db": -6}},
    {"id": "level", "type": "gain", "params": {"gain_db": 0}}
  ],
  "connections": [
    {"from": "in", "to": "gate.in"}, {"from": "gate.out", "to": "fold.in"},
    {"from": "fold.out", "to": "level.in"}, {"from": "level.out", "to": "out"}
  ]
}"#;

struct Run;

impl DeviceJob for Run {
    type Output = Result<(), RuntimeError>;

    fn run<R: Runtime>(self, client: &ComputeClient<R>, info: &DeviceInfo) -> Self::Output {
        let engine = Engine::new(client.clone(), info.clone());
        let mut registry = Registry::<R>::with_builtins();
        registry.register(Arc::new(Wavefolder { set: fold_set() }));
        let spec = GraphSpec::from_json(RIG).map_err(RuntimeError::from)?;
        let mut graph = CompiledGraph::compile(&engine, &registry, &spec, &GraphOptions::new(RATE, BUFFER, "."))?;
        let params = graph.param_setter();
        let input: Vec<f32> =
            (0..32 * BUFFER).map(|t| 0.4 * (t as f32 * 0.031).sin() + 0.1 * (t as f32 * 0.37).sin()).collect();
        let mut out = vec![0.0f32; input.len()];
        for (b, (x, y)) in input.chunks(BUFFER).zip(out.chunks_mut(BUFFER)).enumerate() {
            if b == 16 {
                params.set("fold", "drive_db", 20.0)?;
            }
            graph.process(&engine, &[x], &mut [y])?;
        }
        println!("on {info}: gate → wavefolder → level in {} launch(es) per buffer", graph.launches_per_buffer());
        assert_eq!(graph.launches_per_buffer(), 1, "the custom kind must be fused with the built-ins");
        // The reference: the gate's steps (open from the first sample at −90 dB), the fold's f64
        // step with the device values the type computes, the gain at 0 dB.
        let gate = cubeaudio_runtime::builtins::gate_settings(RATE, -90.0, 1.0, 100.0);
        let device = |drive_db: f32| {
            let mut p = [0.0f32; 4];
            ProgramType::device_params(
                &Wavefolder { set: fold_set() },
                RATE,
                &Settings::default(),
                &[drive_db, -6.0],
                &mut p,
            );
            p.map(f64::from)
        };
        let (mut env, mut g) = (0.0f64, 0.0f64);
        let mut s = [device(12.0)[0], 0.0, 0.0, 0.0];
        let mut worst = 0.0f64;
        for (t, (&x, &y)) in input.iter().zip(&out).enumerate() {
            let x = x as f64;
            env = x.abs().max(env * gate.envelope_fall as f64);
            let (target, c) = if env > gate.threshold as f64 { (1.0, gate.attack) } else { (0.0, gate.release) };
            g += c as f64 * (target - g);
            let p = device(if t < 16 * BUFFER { 12.0 } else { 20.0 });
            let want = fold_reference(x * g, &p, &mut s);
            worst = worst.max((y as f64 - want).abs());
        }
        println!("wavefolder output vs f64 reference (drive 12 → 20 dB at buffer 16): max |error| {worst:.2e}");
        assert!(worst < 1e-5, "the wavefolder differs from its reference by {worst}");
        Ok(())
    }
}

fn main() {
    let device = match Backend::Auto.open_gpu() {
        Ok(device) => device,
        Err(e) if cubeaudio_kernels::device::required("wgpu") => panic!("a device is required here: {e}"),
        Err(e) => {
            eprintln!("SKIPPED wavefolder_processor example: graphs need a GPU runtime ({e})");
            return;
        }
    };
    if let Err(e) = device.run(Run) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
