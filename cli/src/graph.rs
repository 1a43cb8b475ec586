//! `cubeaudio graph`: a WAV through a processing graph described by a rig file (docs/GRAPHS.md).

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cubeaudio_kernels::device::{Backend, DeviceInfo, DeviceJob};
use cubeaudio_nam::gpu::processor::registry;
use cubeaudio_runtime::graph::{CompiledGraph, GraphOptions, GraphSpec, StreamFusion};
use cubeaudio_runtime::wav::{SampleFormat, WavReader, WavWriter};
use cubeaudio_runtime::Engine;
use cubecl::prelude::*;

use crate::error::{CliError, Result};

/// What a graph render did.
#[derive(Debug, Clone)]
pub struct GraphReport {
    /// Runtime and device.
    pub backend: String,
    /// Processors in the rig.
    pub processors: usize,
    /// Stages of the schedule.
    pub stages: usize,
    /// (stage, type) batches of the schedule.
    pub batches: usize,
    /// Kernel launches per buffer.
    pub launches_per_buffer: u32,
    /// What runs the model streams inside each graph program that has any.
    pub stream_steps: Vec<String>,
    /// Signal slots of the arena.
    pub arena_slots: usize,
    /// Frames rendered.
    pub frames: usize,
    /// The input's (and the graph's) sample rate.
    pub sample_rate: u32,
    /// Time from the first read to the last write: reading, the graph, writing (streamed in blocks).
    pub elapsed: Duration,
    /// Non-finite input samples replaced by 0.
    pub sanitized: u64,
    /// Channels written.
    pub output_channels: usize,
}

impl GraphReport {
    /// Seconds of audio per second of processing.
    pub fn realtime_factor(&self) -> f64 {
        self.frames as f64 / self.sample_rate as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Largest rig file read (real ones are a few kB).
pub const MAX_RIG_BYTES: u64 = 4 << 20;

/// The rig file at `rig`, read (bounded by [`MAX_RIG_BYTES`]) and parsed, and the folder its
/// relative paths (models, IRs) resolve against.
pub fn read_rig(rig: &Path) -> Result<(GraphSpec, PathBuf)> {
    let text = cubeaudio_nam::loader::read_text_bounded(rig, MAX_RIG_BYTES)?;
    let spec = GraphSpec::from_json(&text)
        .map_err(|e| CliError::Graph { path: rig.to_path_buf(), error: Box::new(e.into()) })?;
    let base_dir = rig.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf();
    Ok((spec, base_dir))
}

/// Renders `input` through the rig at `rig` into `output`. Graphs run on a GPU runtime only
/// (there is no CPU graph engine): `auto` takes CUDA, else wgpu's best adapter, software
/// (lavapipe) included, and the report says which.
pub fn render_graph(
    rig: &Path,
    input: &Path,
    output: &Path,
    backend: Backend,
    buffer: usize,
    streams: StreamFusion,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<GraphReport> {
    crate::paths::refuse_overwrites(&[output], &[("rig", rig), ("input", input)])?;
    crate::paths::require_writable_places(&[output])?;
    let (spec, base_dir) = read_rig(rig)?;
    let signal = WavReader::open(input)?;
    let options = GraphOptions { streams, ..GraphOptions::new(signal.sample_rate() as f64, buffer, base_dir) };
    let device = backend.open_gpu()?;
    device.run(GraphRender { rig, spec: &spec, options: &options, signal, output, progress })
}

struct GraphRender<'a> {
    rig: &'a Path,
    spec: &'a GraphSpec,
    options: &'a GraphOptions,
    signal: WavReader<BufReader<File>>,
    output: &'a Path,
    progress: &'a mut dyn FnMut(usize, usize),
}

impl DeviceJob for GraphRender<'_> {
    type Output = Result<GraphReport>;

    fn run<R: Runtime>(self, client: &ComputeClient<R>, info: &DeviceInfo) -> Self::Output {
        let Self { rig, spec, options, mut signal, output, progress } = self;
        let engine = Engine::new(client.clone(), info.clone());
        let in_channels: usize = spec.inputs.iter().map(|p| p.channels).sum();
        if signal.channels() != in_channels {
            return Err(CliError::Request(format!(
                "the input has {} channel(s) but {} declares {in_channels} graph input channel(s)",
                signal.channels(),
                rig.display()
            )));
        }
        let in_rig = |error| CliError::Graph { path: PathBuf::from(rig), error: Box::new(error) };
        let mut graph = CompiledGraph::compile(&engine, &registry::<R>(), spec, options).map_err(in_rig)?;
        let rate = signal.sample_rate();
        let len = signal.frames() as usize;
        let mut writer = WavWriter::create(output, graph.output_channels(), rate, SampleFormat::Float32)?;
        // Streamed from disk to disk in blocks of whole buffers: memory does not grow with the file.
        let block = (1usize << 16).div_ceil(options.max_buffer) * options.max_buffer;
        let mut ins = vec![Vec::with_capacity(block); in_channels];
        let mut outs = vec![vec![0.0f32; block]; graph.output_channels()];
        let start = Instant::now();
        let mut at = 0;
        loop {
            ins.iter_mut().for_each(Vec::clear);
            let got = signal.read_into(block, &mut ins)?;
            if got == 0 {
                break;
            }
            let mut done = 0;
            while done < got {
                let n = options.max_buffer.min(got - done);
                let xs: Vec<&[f32]> = ins.iter().map(|c| &c[done..done + n]).collect();
                let mut ys: Vec<&mut [f32]> = outs.iter_mut().map(|o| &mut o[done..done + n]).collect();
                graph.process(&engine, &xs, &mut ys)?;
                done += n;
            }
            let views: Vec<&[f32]> = outs.iter().map(|o| &o[..got]).collect();
            writer.write(&views)?;
            at += got;
            progress(at, len);
        }
        let elapsed = start.elapsed();
        writer.commit()?;
        let s = graph.schedule();
        Ok(GraphReport {
            backend: engine.info().to_string(),
            processors: spec.processors.len(),
            stages: s.stages.len(),
            batches: s.batch_count(),
            launches_per_buffer: graph.launches_per_buffer(),
            stream_steps: graph.stream_steps().iter().map(|s| s.label()).collect(),
            arena_slots: s.slots,
            frames: at,
            sample_rate: rate,
            elapsed,
            sanitized: graph.sanitized_samples(),
            output_channels: graph.output_channels(),
        })
    }
}
