//! `cubeaudio graph`: a WAV through a processing graph described by a rig file (docs/GRAPHS.md).

use std::path::Path;
use std::time::{Duration, Instant};

use cubeaudio_kernels::device;
use cubeaudio_runtime::graph::{CompiledGraph, GraphOptions, GraphSpec};
use cubeaudio_runtime::registry::Registry;
use cubeaudio_runtime::Engine;
use cubecl::prelude::*;

use crate::error::{NamError, Result};
use crate::render::{read_wav, write_wav, OutputFormat};

/// Where a graph runs. Graphs run on a GPU runtime only (there is no CPU graph engine); `Auto`
/// takes CUDA, else wgpu's best adapter, software (lavapipe) included, and says which.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphBackend {
    Auto,
    Cuda,
    Wgpu,
}

#[derive(Debug, Clone)]
pub struct GraphReport {
    pub backend: String,
    pub processors: usize,
    pub stages: usize,
    pub batches: usize,
    pub launches_per_buffer: u32,
    pub arena_slots: usize,
    pub frames: usize,
    pub sample_rate: u32,
    pub elapsed: Duration,
    pub sanitized: u64,
    pub output_channels: usize,
}

impl GraphReport {
    pub fn realtime_factor(&self) -> f64 {
        self.frames as f64 / self.sample_rate as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Every processor type a rig may use: the runtime's built-ins and `nam`.
pub fn registry<R: Runtime>() -> Registry<R> {
    let mut r = Registry::with_builtins();
    crate::gpu::processor::register(&mut r);
    r
}

fn request(e: impl std::fmt::Display) -> NamError {
    NamError::Request(e.to_string())
}

pub fn render_graph(
    rig: &Path,
    input: &Path,
    output: &Path,
    backend: GraphBackend,
    buffer: usize,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<GraphReport> {
    let text = std::fs::read_to_string(rig).map_err(|e| NamError::Request(format!("{}: {e}", rig.display())))?;
    let spec = GraphSpec::from_json(&text).map_err(|e| NamError::Request(format!("{}: {e}", rig.display())))?;
    let (channels, rate) = read_wav(input)?;
    let base_dir = rig.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf();
    let options = GraphOptions { sample_rate: rate as f64, max_buffer: buffer, base_dir };
    let mut cuda_error = None;
    if matches!(backend, GraphBackend::Auto | GraphBackend::Cuda) {
        #[cfg(feature = "cuda")]
        match device::cuda::open(0) {
            Ok((client, info)) => return run(Engine::new(client, info), rig, &spec, &options, channels, rate, output, progress),
            Err(e) if backend == GraphBackend::Cuda => return Err(NamError::Request(format!("CUDA: {e}"))),
            Err(e) => cuda_error = Some(e.to_string()),
        }
        #[cfg(not(feature = "cuda"))]
        if backend == GraphBackend::Cuda {
            return Err(NamError::Request("this build has no CUDA runtime".into()));
        }
    }
    #[cfg(feature = "wgpu")]
    {
        let (client, info) = device::wgpu_device::open_best().map_err(|e| {
            NamError::Request(format!("no GPU runtime for the graph: wgpu: {e}{}", cuda_error.as_ref().map(|c| format!("; CUDA: {c}")).unwrap_or_default()))
        })?;
        if let Some(c) = &cuda_error {
            eprintln!("backend auto: CUDA unavailable ({c}); using {info}");
        }
        run(Engine::new(client, info), rig, &spec, &options, channels, rate, output, progress)
    }
    #[cfg(not(feature = "wgpu"))]
    Err(NamError::Request(format!("no GPU runtime for the graph (CUDA: {})", cuda_error.unwrap_or_default())))
}

#[allow(clippy::too_many_arguments)]
fn run<R: Runtime>(
    engine: Engine<R>,
    rig: &Path,
    spec: &GraphSpec,
    options: &GraphOptions,
    channels: Vec<Vec<f32>>,
    rate: u32,
    output: &Path,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<GraphReport> {
    let in_channels: usize = spec.inputs.iter().map(|p| p.channels).sum();
    if channels.len() != in_channels {
        return Err(NamError::Request(format!(
            "the input has {} channel(s) but {} declares {in_channels} graph input channel(s)",
            channels.len(),
            rig.display()
        )));
    }
    let registry = registry::<R>();
    let mut graph = CompiledGraph::compile(&engine, &registry, spec, options).map_err(|e| NamError::Request(format!("{}: {e}", rig.display())))?;
    let len = channels.first().map_or(0, Vec::len);
    let mut outs = vec![vec![0.0f32; len]; graph.output_channels()];
    let start = Instant::now();
    let mut at = 0;
    while at < len {
        let n = options.max_buffer.min(len - at);
        let ins: Vec<&[f32]> = channels.iter().map(|c| &c[at..at + n]).collect();
        let mut ys: Vec<&mut [f32]> = outs.iter_mut().map(|o| &mut o[at..at + n]).collect();
        graph.process(&engine, &ins, &mut ys).map_err(request)?;
        at += n;
        progress(at, len);
    }
    let elapsed = start.elapsed();
    write_wav(output, &outs, rate, OutputFormat::Float32)?;
    let s = graph.schedule();
    Ok(GraphReport {
        backend: engine.info().to_string(),
        processors: spec.processors.len(),
        stages: s.stages.len(),
        batches: s.batch_count(),
        launches_per_buffer: graph.launches_per_buffer(),
        arena_slots: s.slots,
        frames: len,
        sample_rate: rate,
        elapsed,
        sanitized: graph.sanitized_samples(),
        output_channels: outs.len(),
    })
}
