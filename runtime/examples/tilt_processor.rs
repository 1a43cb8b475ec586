//! A processor type defined outside the runtime crate, fused into a graph's one launch: `tilt`,
//! a high shelf at 800 Hz that lifts the top by `tilt_db` and lowers the whole by half of it
//! (bright or dark at about the same loudness). Its device code is the library's biquad kind;
//! what it adds is its parameters and how they become device values (its own RBJ design here),
//! through `ProgramType`. A rig that uses it next to built-ins runs in one launch; its output
//! equals a plain-Rust f64 biquad with the same design.
//!
//! `cargo run --release -p cubeaudio-runtime --example tilt_processor`

use std::sync::Arc;

use cubeaudio_kernels::device::{Backend, DeviceInfo, DeviceJob};
use cubeaudio_kernels::graph_program::KIND_BIQUAD;
use cubeaudio_runtime::builtins::known_settings;
use cubeaudio_runtime::error::ProcessorError;
use cubeaudio_runtime::graph::{CompiledGraph, GraphOptions, GraphSpec};
use cubeaudio_runtime::processor::{
    BatchProcessor, Description, InstanceSetup, ParamDesc, PortDesc, PrepareContext, ProcessorType, Settings, Unit,
};
use cubeaudio_runtime::program_type::ProgramType;
use cubeaudio_runtime::registry::Registry;
use cubeaudio_runtime::{Engine, RuntimeError};
use cubecl::prelude::*;

const RATE: f64 = 48_000.0;
const BUFFER: usize = 128;

const TILT_DB: ParamDesc =
    ParamDesc { id: 1, name: "tilt_db", min: -12.0, max: 12.0, default: 0.0, unit: Unit::Decibels, smoothing_ms: None };

/// `tilt`: mono in, mono out, one parameter.
struct Tilt;

/// RBJ high shelf (S = 1) at 800 Hz, `tilt_db` up top, scaled by −tilt/2 dB overall:
/// b0 b1 b2 a1 a2 normalised by a0.
fn design(sample_rate: f64, tilt_db: f64) -> [f64; 5] {
    let a = 10f64.powf(tilt_db / 40.0);
    let w0 = std::f64::consts::TAU * 800.0 / sample_rate;
    let (cos, alpha) = (w0.cos(), w0.sin() / 2.0 * 2f64.sqrt());
    let sq = 2.0 * a.sqrt() * alpha;
    let b0 = a * ((a + 1.0) + (a - 1.0) * cos + sq);
    let b1 = -2.0 * a * ((a - 1.0) + (a + 1.0) * cos);
    let b2 = a * ((a + 1.0) + (a - 1.0) * cos - sq);
    let a0 = (a + 1.0) - (a - 1.0) * cos + sq;
    let a1 = 2.0 * ((a - 1.0) - (a + 1.0) * cos);
    let a2 = (a + 1.0) - (a - 1.0) * cos - sq;
    let level = 10f64.powf(-tilt_db / 40.0);
    [level * b0 / a0, level * b1 / a0, level * b2 / a0, a1 / a0, a2 / a0]
}

impl<R: Runtime> ProcessorType<R> for Tilt {
    fn name(&self) -> &'static str {
        "tilt"
    }

    fn describe(&self, settings: &Settings) -> Result<Description, ProcessorError> {
        known_settings(settings, &[])?;
        Ok(Description {
            type_name: "tilt",
            inputs: vec![PortDesc { name: "in", channels: 1, required: true }],
            outputs: vec![PortDesc { name: "out", channels: 1, required: true }],
            params: vec![TILT_DB],
        })
    }

    /// Where the graph does not fuse (`Fusion::Off`) the type must still run on its own; this
    /// example only ever runs fused, and says so rather than pretending.
    fn prepare(
        &self,
        _engine: &Engine<R>,
        _ctx: &PrepareContext,
        _instances: &[InstanceSetup],
    ) -> Result<Box<dyn BatchProcessor<R>>, ProcessorError> {
        Err(ProcessorError::Setting { setting: "fusion", reason: "tilt runs only inside a fused graph".into() })
    }

    fn program(&self) -> Option<&dyn ProgramType> {
        Some(self)
    }
}

impl ProgramType for Tilt {
    fn kind(&self, _settings: &Settings) -> u32 {
        KIND_BIQUAD
    }

    fn device_params(&self, sample_rate: f64, _settings: &Settings, params: &[f32], out: &mut [f32]) {
        for (o, c) in out.iter_mut().zip(design(sample_rate, params[0] as f64)) {
            *o = c as f32;
        }
    }
}

const RIG: &str = r#"{
  "inputs": [{"name": "in"}], "outputs": [{"name": "out"}],
  "processors": [
    {"id": "gate", "type": "noise_gate", "params": {"threshold_db": -90}},
    {"id": "tone", "type": "tilt", "params": {"tilt_db": 6}},
    {"id": "level", "type": "gain", "params": {"gain_db": 0}}
  ],
  "connections": [
    {"from": "in", "to": "gate.in"}, {"from": "gate.out", "to": "tone.in"},
    {"from": "tone.out", "to": "level.in"}, {"from": "level.out", "to": "out"}
  ]
}"#;

struct Run;

impl DeviceJob for Run {
    type Output = Result<(), RuntimeError>;

    fn run<R: Runtime>(self, client: &ComputeClient<R>, info: &DeviceInfo) -> Self::Output {
        let engine = Engine::new(client.clone(), info.clone());
        let mut registry = Registry::<R>::with_builtins();
        registry.register(Arc::new(Tilt));
        let spec = GraphSpec::from_json(RIG).map_err(RuntimeError::from)?;
        let mut graph = CompiledGraph::compile(&engine, &registry, &spec, &GraphOptions::new(RATE, BUFFER, "."))?;
        let input: Vec<f32> = (0..16 * BUFFER).map(|t| 0.3 * ((t * 7919 % 1000) as f32 / 500.0 - 1.0)).collect();
        let mut out = vec![0.0f32; input.len()];
        for (x, y) in input.chunks(BUFFER).zip(out.chunks_mut(BUFFER)) {
            graph.process(&engine, &[x], &mut [y])?;
        }
        println!("on {info}: gate → tilt → level in {} launch(es) per buffer", graph.launches_per_buffer());
        assert_eq!(graph.launches_per_buffer(), 1, "the custom type must be fused with the built-ins");
        // The gate is open from the first sample (threshold −90 dB, instant attack aside): the
        // reference gates with the same steps, then the f64 biquad.
        let gate = cubeaudio_runtime::builtins::gate_settings(RATE, -90.0, 1.0, 100.0);
        let (mut env, mut g) = (0.0f64, 0.0f64);
        let k = design(RATE, 6.0).map(|c| c as f32 as f64);
        let (mut s0, mut s1) = (0.0f64, 0.0f64);
        let mut worst = 0.0f64;
        for (&x, &y) in input.iter().zip(&out) {
            let x = x as f64;
            env = x.abs().max(env * gate.envelope_fall as f64);
            let (target, c) = if env > gate.threshold as f64 { (1.0, gate.attack) } else { (0.0, gate.release) };
            g += c as f64 * (target - g);
            let v = x * g;
            let w = k[0] * v + s0;
            s0 = k[1] * v - k[3] * w + s1;
            s1 = k[2] * v - k[4] * w;
            worst = worst.max((y as f64 - w).abs());
        }
        println!("tilt output vs f64 reference: max |error| {worst:.2e}");
        assert!(worst < 1e-5, "tilt differs from its reference by {worst}");
        Ok(())
    }
}

fn main() {
    let device = match Backend::Auto.open_gpu() {
        Ok(device) => device,
        Err(e) if cubeaudio_kernels::device::required("wgpu") => panic!("a device is required here: {e}"),
        Err(e) => {
            eprintln!("SKIPPED tilt_processor example: graphs need a GPU runtime ({e})");
            return;
        }
    };
    if let Err(e) = device.run(Run) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
