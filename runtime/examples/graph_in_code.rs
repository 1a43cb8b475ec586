//! A processing graph built in code rather than read from a rig file: a guitar input through a
//! gain into two outputs, one of them through a low-pass EQ; compiled on whichever device opens,
//! run buffer by buffer, a parameter changed from another thread between buffers.
//!
//! `cargo run --release -p cubeaudio-runtime --example graph_in_code`

use std::collections::BTreeMap;
use std::path::PathBuf;

use cubeaudio_kernels::device::{Backend, DeviceInfo, DeviceJob};
use cubeaudio_runtime::graph::{CompiledGraph, Connection, GraphOptions, GraphPort, GraphSpec, ProcessorSpec};
use cubeaudio_runtime::processor::Settings;
use cubeaudio_runtime::registry::Registry;
use cubeaudio_runtime::{Engine, RuntimeError};
use cubecl::prelude::*;

const RATE: f64 = 48_000.0;
const BUFFER: usize = 128;

fn processor(id: &str, type_name: &str, settings: Settings, params: &[(&str, f32)]) -> ProcessorSpec {
    let params: BTreeMap<String, f32> = params.iter().map(|(k, v)| (k.to_string(), *v)).collect();
    ProcessorSpec { id: id.into(), type_name: type_name.into(), settings, params }
}

fn connect(from: &str, to: &str) -> Connection {
    Connection { from: from.into(), to: to.into() }
}

/// `in → drive → dry`, and `drive → tone (low-pass) → wet`.
fn spec() -> GraphSpec {
    let mut lowpass = Settings::new();
    lowpass.insert("shape".into(), "lowpass".into());
    GraphSpec {
        inputs: vec![GraphPort { name: "in".into(), channels: 1 }],
        outputs: vec![GraphPort { name: "dry".into(), channels: 1 }, GraphPort { name: "wet".into(), channels: 1 }],
        processors: vec![
            processor("drive", "gain", Settings::new(), &[("gain_db", 6.0)]),
            processor("tone", "eq", lowpass, &[("freq_hz", 2_000.0), ("q", 0.707)]),
        ],
        connections: vec![
            connect("in", "drive.in"),
            connect("drive.out", "dry"),
            connect("drive.out", "tone.in"),
            connect("tone.out", "wet"),
        ],
    }
}

struct Run;

impl DeviceJob for Run {
    type Output = Result<(), RuntimeError>;

    fn run<R: Runtime>(self, client: &ComputeClient<R>, info: &DeviceInfo) -> Self::Output {
        let engine = Engine::new(client.clone(), info.clone());
        let options = GraphOptions::new(RATE, BUFFER, PathBuf::from("."));
        let mut graph = CompiledGraph::compile(&engine, &Registry::with_builtins(), &spec(), &options)?;
        println!(
            "on {info}: {} stages, {} launches per buffer",
            graph.schedule().stages.len(),
            graph.launches_per_buffer()
        );
        let params = graph.param_setter();
        let input: Vec<f32> = (0..8 * BUFFER).map(|t| 0.25 * (t as f32 * 0.07).sin()).collect();
        let (mut dry, mut wet) = (vec![0.0f32; input.len()], vec![0.0f32; input.len()]);
        for (k, x) in input.chunks(BUFFER).enumerate() {
            if k == 4 {
                // Any thread may do this; the new target is smoothed in from the next buffer.
                params.set("drive", "gain_db", 0.0).map_err(RuntimeError::from)?;
            }
            let at = k * BUFFER;
            let (d, w) = (&mut dry[at..at + x.len()], &mut wet[at..at + x.len()]);
            graph.process(&engine, &[x], &mut [d, w])?;
        }
        // Before the change the dry output is the input at +6 dB exactly (no ramp at start).
        let gain = 10f64.powf(6.0 / 20.0);
        let worst = (0..4 * BUFFER).map(|t| (dry[t] as f64 - gain * input[t] as f64).abs()).fold(0.0, f64::max);
        println!("dry output vs the +6 dB reference, first four buffers: max |error| {worst:.2e}");
        assert!(worst < 1e-5, "gain differs from its reference by {worst}");
        let rms = |v: &[f32]| (v.iter().map(|x| (*x as f64).powi(2)).sum::<f64>() / v.len() as f64).sqrt();
        println!("rms of the last buffer: dry {:.4}, wet {:.4}", rms(&dry[7 * BUFFER..]), rms(&wet[7 * BUFFER..]));
        assert!(wet.iter().all(|v| v.is_finite()));
        Ok(())
    }
}

fn main() {
    let device = match Backend::Auto.open_gpu() {
        Ok(device) => device,
        Err(e) if cubeaudio_kernels::device::required("wgpu") => panic!("a device is required here: {e}"),
        Err(e) => {
            eprintln!("SKIPPED graph_in_code example: graphs need a GPU runtime ({e})");
            return;
        }
    };
    if let Err(e) = device.run(Run) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
