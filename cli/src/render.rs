//! `cubeaudio render`: WAV in, every channel through its own model instance, WAV out.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cubeaudio_kernels::device::{Backend, DeviceInfo, DeviceJob, Opened};
use cubeaudio_nam::gpu::split::{render_kernel, split_streams, SplitRenderer};
use cubeaudio_nam::gpu::{GpuLstmBatch, GpuWaveNetBatch, StreamBatch};
use cubeaudio_nam::split::{render_on_threads, SplitPlan, TimeSplitter};
use cubeaudio_nam::{load_file, LoadOptions, LoadedModel, Model, NamError};
use cubeaudio_runtime::wav::SampleFormat;
use cubecl::prelude::*;

use crate::error::{CliError, Result};
use crate::file_stream::{BlockEngine, FileStreams, Streamed};

/// How a render runs.
#[derive(Debug, Clone)]
pub struct RenderOptions {
    /// Where it runs; `auto` falls back to the CPU engine.
    pub backend: Backend,
    /// Frames per processing block. The output does not depend on it, except for LSTM models
    /// without a `sample_rate`: the core prewarms those with one block, so the block size shows
    /// in their first ~0.5 s.
    pub buffer: usize,
    /// NAM's fast tanh (as the plugin) instead of the exact one.
    pub fast_tanh: bool,
    /// Slimmable size in [0, 1] for slimmable models.
    pub slim: Option<f64>,
    /// Sample format of the written files.
    pub format: SampleFormat,
    /// Cut convolutional models' signals in time into chunks ([`cubeaudio_nam::split`]) that
    /// run as parallel streams on a GPU, or on `threads` threads of the CPU engine; off: every
    /// channel is one stream, buffer by buffer, as a live host runs it. The output is the same
    /// either way.
    pub split: bool,
    /// CPU engine threads (at least 1): convolutional models' signals are cut in time across
    /// them (with `split`), LSTMs' channels and files are spread over them.
    pub threads: usize,
}

/// Every core of the machine (what `--threads` defaults to).
pub fn all_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// What a render did.
#[derive(Debug, Clone)]
pub struct RenderReport {
    /// The engine and device that ran, e.g. `cpu`, `cuda on NVIDIA H200`.
    pub backend: String,
    /// Why `auto` did not pick a GPU, when it did not.
    pub fallback: Option<String>,
    /// Frames of the first file.
    pub frames: usize,
    /// Channels of all files together (one model instance each).
    pub channels: usize,
    /// Sample rate of the first file.
    pub input_rate: u32,
    /// The model's sample rate.
    pub model_rate: u32,
    /// Whether any file was converted to the model's rate and back.
    pub resampled: bool,
    /// Time from the first read to the last write: reading, rate conversion, the model (and
    /// preparing it on a device), writing. Files are streamed, so these overlap in blocks.
    pub elapsed: Duration,
    /// Part of `elapsed` spent opening the backend (a GPU's driver and context).
    pub opening: Duration,
    /// Non-finite input samples replaced by 0.
    pub sanitized: u64,
    /// Files rendered in this batch.
    pub files: usize,
    /// Summed duration of the input files.
    pub audio_seconds: f64,
    /// How the engine walked the signals: streamed, or time-split (chunks, overlap).
    pub method: String,
}

impl RenderReport {
    /// Seconds of audio per second of processing.
    pub fn realtime_factor(&self) -> f64 {
        self.audio_seconds / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// The model, parsed once per render, and what every instance is made from.
struct Prototype {
    loaded: LoadedModel,
    opts: RenderOptions,
    path: PathBuf,
}

impl Prototype {
    fn load(path: &Path, opts: &RenderOptions) -> Result<Self> {
        let mut loaded = load_file(path, LoadOptions { fast_tanh: opts.fast_tanh })?;
        if loaded.dsp.in_channels() != 1 || loaded.dsp.out_channels() != 1 {
            return Err(CliError::Request(format!(
                "{}: renders need a mono-in/mono-out model; this one is {}→{} channels",
                path.display(),
                loaded.dsp.in_channels(),
                loaded.dsp.out_channels()
            )));
        }
        if let Some(s) = opts.slim {
            if !loaded.dsp.set_slim(s).map_err(|e| e.in_file(path))? {
                return Err(NamError::Request("this model is not slimmable".into()).in_file(path).into());
            }
        }
        Ok(Self { loaded, opts: opts.clone(), path: path.to_path_buf() })
    }

    fn rate(&self) -> u32 {
        self.loaded.sample_rate.unwrap_or(48_000.0).round() as u32
    }

    /// A CPU instance, reset as the plugin does.
    fn cpu_instance(&self) -> Result<Model> {
        let mut model = Model::new(self.loaded.dsp.clone());
        if let Some(s) = self.opts.slim {
            model.set_slim(s).map_err(|e| e.in_file(&self.path))?;
        }
        model.reset_like_plugin(self.opts.buffer)?;
        Ok(model)
    }
}

/// Model-rate frames per block of a streamed render (rounded up to whole buffers, so the CPU
/// engine and a GPU batch see the buffers a whole-file render would).
const STREAM_BLOCK: usize = 1 << 16;

/// Samples (all channels together) of one segment of a time-split render, at least: a segment
/// is split into chunks that run as parallel streams, each repeating the receptive field as
/// context, so a segment also holds at least four receptive fields per stream (8 Mi samples for
/// the standard WaveNet at 512 streams). Its size bounds the memory a render holds (a few
/// copies of the segment, ~32 MB each for the standard WaveNet). `CUBEAUDIO_SPLIT_SEGMENT`
/// overrides it for measurements.
pub const SPLIT_SEGMENT: usize = 1 << 22;

fn whole_buffers(frames: usize, buffer: usize) -> usize {
    frames.div_ceil(buffer) * buffer
}

/// Every channel its own CPU instance, as a multichannel host would run it.
struct CpuEngine {
    instances: Vec<Model>,
    buffer: usize,
    threads: usize,
}

impl CpuEngine {
    fn new(model: &Prototype, channels: usize) -> Result<Self> {
        let instances = (0..channels).map(|_| model.cpu_instance()).collect::<Result<_>>()?;
        Ok(Self { instances, buffer: model.opts.buffer, threads: model.opts.threads })
    }
}

/// Samples (all channels together) of one segment of a CPU time-split render, at least. Each
/// chunk costs a reset (the prewarm) and the receptive field again as context; a chunk also
/// holds at least 32 of those, so they stay within a few percent of the work.
const CPU_SPLIT_SEGMENT: usize = 1 << 21;

/// A convolutional model on several CPU threads: every segment of the signals cut in time into
/// chunks ([`TimeSplitter`]) that the threads take in turn, each on the thread's instance
/// cleared for it, outputs stitched.
struct CpuSplitEngine {
    /// One instance per thread.
    instances: Vec<Model>,
    buffer: usize,
    splitter: TimeSplitter,
    step: usize,
    sanitized: u64,
    plan: Option<SplitPlan>,
}

impl CpuSplitEngine {
    fn new(model: &Prototype, channels: usize) -> Result<Self> {
        let dsp = model.loaded.dsp.as_ref();
        let (threads, buffer) = (model.opts.threads, model.opts.buffer);
        // Four chunks per thread: threads that finish early take another (a shared core slows
        // one down), and the last round stays short.
        let chunks = 4 * threads;
        let splitter = TimeSplitter::new(dsp, channels, chunks)?;
        let per_chunk = 32 * (splitter.overlap() + dsp.prewarm_samples().max(buffer));
        let step = whole_buffers((CPU_SPLIT_SEGMENT / channels).max(per_chunk * chunks / channels), buffer);
        let instances = (0..threads).map(|_| model.cpu_instance()).collect::<Result<_>>()?;
        Ok(Self { instances, buffer, splitter, step, sanitized: 0, plan: None })
    }
}

impl BlockEngine for CpuSplitEngine {
    fn step(&self) -> usize {
        self.step
    }

    fn process(&mut self, ins: &[&[f32]], outs: &mut [Vec<f32>]) -> Result<()> {
        let cut = self.splitter.cut(ins);
        let rendered = render_on_threads(&cut, &mut self.instances, self.buffer)?;
        for (y, r) in outs.iter_mut().zip(rendered) {
            y.extend(r);
        }
        self.sanitized += cut.non_finite();
        self.plan.get_or_insert(cut.plan);
        Ok(())
    }

    fn sanitized(&self) -> u64 {
        self.sanitized
    }
}

impl BlockEngine for CpuEngine {
    fn step(&self) -> usize {
        whole_buffers(STREAM_BLOCK, self.buffer)
    }

    fn process(&mut self, ins: &[&[f32]], outs: &mut [Vec<f32>]) -> Result<()> {
        let buffer = self.buffer;
        let run = |instances: &mut [Model], ins: &[&[f32]], outs: &mut [Vec<f32>]| {
            for ((instance, x), y) in instances.iter_mut().zip(ins).zip(outs) {
                let from = y.len();
                y.resize(from + x.len(), 0.0);
                for (src, dst) in x.chunks(buffer).zip(y[from..].chunks_mut(buffer)) {
                    instance.process(src, dst);
                }
            }
        };
        // Channels are independent instances: spread over the threads, in equal groups.
        let per = self.instances.len().div_ceil(self.threads.max(1));
        if per >= self.instances.len() {
            run(&mut self.instances, ins, outs);
            return Ok(());
        }
        std::thread::scope(|scope| {
            for ((instances, ins), outs) in
                self.instances.chunks_mut(per).zip(ins.chunks(per)).zip(outs.chunks_mut(per))
            {
                scope.spawn(move || run(instances, ins, outs));
            }
        });
        Ok(())
    }

    fn sanitized(&self) -> u64 {
        self.instances.iter().map(Model::sanitized_samples).sum()
    }
}

/// Every channel a stream of one GPU batch, one launch per buffer for all of them. A channel
/// whose block is shorter (its file ended) is padded with silence to the whole buffer, its own
/// samples kept, while the others go on.
struct GpuStreamEngine {
    batch: Box<dyn StreamBatch>,
    buffer: usize,
    /// Per channel: one buffer of input (for padded channels) and one of output.
    padded: Vec<Vec<f32>>,
    scratch: Vec<Vec<f32>>,
}

impl BlockEngine for GpuStreamEngine {
    fn step(&self) -> usize {
        whole_buffers(STREAM_BLOCK, self.buffer)
    }

    fn process(&mut self, ins: &[&[f32]], outs: &mut [Vec<f32>]) -> Result<()> {
        let len = ins.iter().map(|x| x.len()).max().unwrap_or(0);
        for v in [&mut self.padded, &mut self.scratch] {
            v.resize(ins.len(), Vec::new());
            v.iter_mut().for_each(|s| s.resize(self.buffer, 0.0));
        }
        let mut at = 0;
        while at < len {
            let n = self.buffer.min(len - at);
            for (x, p) in ins.iter().zip(&mut self.padded) {
                if x.len() < at + n {
                    let mine = &x[at.min(x.len())..];
                    p[..mine.len()].copy_from_slice(mine);
                    p[mine.len()..n].fill(0.0);
                }
            }
            let xs: Vec<&[f32]> = ins
                .iter()
                .zip(&self.padded)
                .map(|(x, p)| if x.len() >= at + n { &x[at..at + n] } else { &p[..n] })
                .collect();
            let mut ys: Vec<&mut [f32]> = self.scratch.iter_mut().map(|s| &mut s[..n]).collect();
            self.batch.process(&xs, &mut ys)?;
            for ((x, y), s) in ins.iter().zip(outs.iter_mut()).zip(&self.scratch) {
                let mine = x.len().saturating_sub(at).min(n);
                y.extend_from_slice(&s[..mine]);
            }
            at += n;
        }
        Ok(())
    }

    fn sanitized(&self) -> u64 {
        self.batch.sanitized_samples()
    }
}

/// Convolutional models on a GPU: each block (a segment of every file) time-split into chunks
/// that run as parallel streams ([`SplitRenderer`]), continuing where the last block stopped.
struct GpuSplitEngine<'a, R: Runtime> {
    renderer: SplitRenderer<'a, R>,
    step: usize,
    sanitized: u64,
    plan: Option<SplitPlan>,
}

impl<R: Runtime> BlockEngine for GpuSplitEngine<'_, R> {
    fn step(&self) -> usize {
        self.step
    }

    fn process(&mut self, ins: &[&[f32]], outs: &mut [Vec<f32>]) -> Result<()> {
        let (rendered, sanitized, plan) = self.renderer.render(ins, &mut |_, _| {})?;
        for (y, r) in outs.iter_mut().zip(rendered) {
            y.extend(r);
        }
        self.sanitized += sanitized;
        self.plan.get_or_insert(plan);
        Ok(())
    }

    fn sanitized(&self) -> u64 {
        self.sanitized
    }
}

/// Streams the files through `model` on the device it is given.
struct GpuRender<'a> {
    model: &'a Prototype,
    files: FileStreams,
    progress: &'a mut dyn FnMut(usize, usize),
}

/// What a render did: how the engine walked the signals, and what streaming measured.
type Rendered = (String, Streamed);

impl DeviceJob for GpuRender<'_> {
    type Output = Result<Rendered>;

    fn run<R: Runtime>(self, client: &ComputeClient<R>, _info: &DeviceInfo) -> Self::Output {
        let Self { model, files, progress } = self;
        let buffer = model.opts.buffer;
        let dsp = model.loaded.dsp.as_ref();
        let channels = files.channels();
        if model.opts.split && dsp.receptive_field().is_some() {
            // Short renders do not pay for compiling the shape-specialised kernel.
            let audio: f64 =
                files.shapes().iter().map(|&(c, frames, rate)| c as f64 * frames as f64 / rate as f64).sum();
            let renderer =
                SplitRenderer::new(client, dsp, channels, split_streams())?.with_kernel(render_kernel(audio));
            // Long enough against the context each chunk repeats (four overlaps per stream).
            let segment =
                std::env::var("CUBEAUDIO_SPLIT_SEGMENT").ok().and_then(|v| v.parse().ok()).unwrap_or(SPLIT_SEGMENT);
            let step = (segment / channels).max(4 * renderer.overlap() * split_streams() / channels).max(4096);
            let mut engine = GpuSplitEngine { renderer, step, sanitized: 0, plan: None };
            let streamed = files.run(&mut engine, progress)?;
            let plan = engine.plan.expect("at least one block");
            let method = format!(
                "time-split in segments of {step} samples per channel: {} chunks of {} samples + {} of context",
                plan.chunks, plan.chunk, plan.overlap
            );
            return Ok((method, streamed));
        }
        let method = if dsp.receptive_field().is_none() {
            "streamed (an LSTM is a recurrence: it cannot be split in time)".to_string()
        } else {
            format!("streamed in {buffer}-frame buffers")
        };
        let batch: Box<dyn StreamBatch> = match dsp.architecture().lstm() {
            // The CPU render resets like the plugin (2048, then the block): an LSTM's state
            // depends on how much silence it saw, so the GPU prewarm does the same.
            Some(lstm) => Box::new(GpuLstmBatch::new(client, &vec![lstm; channels], buffer, &[2048, buffer])?),
            None => Box::new(GpuWaveNetBatch::new(client, &vec![dsp; channels], buffer)?),
        };
        let mut engine = GpuStreamEngine { batch, buffer, padded: Vec::new(), scratch: Vec::new() };
        Ok((method, files.run(&mut engine, progress)?))
    }
}

fn render_cpu(model: &Prototype, files: FileStreams, progress: &mut dyn FnMut(usize, usize)) -> Result<Rendered> {
    let (threads, buffer, channels) = (model.opts.threads, model.opts.buffer, files.channels());
    if threads > 1 && model.opts.split && model.loaded.dsp.receptive_field().is_some() {
        let mut engine = CpuSplitEngine::new(model, channels)?;
        let streamed = files.run(&mut engine, progress)?;
        let plan = engine.plan.expect("at least one block");
        let method = format!(
            "time-split on {threads} CPU threads ({}) in segments of {} samples per channel: {} chunks of {} samples + {} of context",
            cubeaudio_nam::simd::describe(),
            engine.step,
            plan.chunks,
            plan.chunk,
            plan.overlap
        );
        return Ok((method, streamed));
    }
    let mut engine = CpuEngine::new(model, channels)?;
    let streamed = files.run(&mut engine, progress)?;
    let spread = if threads > 1 && channels > 1 {
        format!(", channels spread over {} threads", threads.min(channels))
    } else {
        String::new()
    };
    let path = cubeaudio_nam::simd::describe();
    Ok((format!("streamed in {buffer}-frame buffers, one CPU instance per channel ({path}){spread}"), streamed))
}

/// Renders `input` through `model` into `output`; `progress` is told the samples done.
pub fn render_file(
    model: &Path,
    input: &Path,
    output: &Path,
    opts: &RenderOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<RenderReport> {
    render_files(model, &[(input.to_path_buf(), output.to_path_buf())], opts, progress)
}

/// Renders several files as one batch: every channel of every file is a stream of the same GPU
/// batch (one launch per buffer for all of them), or its own CPU instance. Files may differ in
/// length, channel count and sample rate; each output keeps its input's length and rate. Files
/// are streamed from disk to disk in blocks: memory does not grow with their length.
pub fn render_files(
    model_path: &Path,
    jobs: &[(PathBuf, PathBuf)],
    opts: &RenderOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<RenderReport> {
    if jobs.is_empty() {
        return Err(CliError::Request("no input file".into()));
    }
    let outputs: Vec<&Path> = jobs.iter().map(|(_, o)| o.as_path()).collect();
    let mut reads: Vec<(&str, &Path)> = vec![("model", model_path)];
    reads.extend(jobs.iter().map(|(i, _)| ("input", i.as_path())));
    crate::paths::refuse_overwrites(&outputs, &reads)?;
    crate::paths::require_writable_places(&outputs)?;
    let model = Prototype::load(model_path, opts)?;
    let model_rate = model.rate();
    let files = FileStreams::open(jobs, model_rate, opts.format)?;
    let shapes = files.shapes();
    let start = Instant::now();
    let opened = opts.backend.open(true)?;
    let opening = start.elapsed();
    let (backend, fallback, (method, streamed)) = match opened {
        Opened::Cpu { fallback } => ("cpu".to_string(), fallback, render_cpu(&model, files, progress)?),
        Opened::Gpu(device) => {
            let name = device.info().to_string();
            match device.run(GpuRender { model: &model, files, progress: &mut *progress }) {
                Ok(out) => (name, None, out),
                // `auto` also covers models the GPU engine refuses: the CPU engine runs every
                // one, from the start (the failed attempt's temporary outputs are gone).
                Err(why) if opts.backend == Backend::Auto => {
                    let why = format!("{name}: {why}");
                    let files = FileStreams::open(jobs, model_rate, opts.format)?;
                    ("cpu".to_string(), Some(why), render_cpu(&model, files, progress)?)
                }
                Err(e) => return Err(e),
            }
        }
    };
    let (_, first_frames, first_rate) = shapes[0];
    Ok(RenderReport {
        backend,
        fallback,
        frames: first_frames as usize,
        channels: shapes.iter().map(|s| s.0).sum(),
        input_rate: first_rate,
        model_rate,
        resampled: shapes.iter().any(|s| s.2 != model_rate),
        elapsed: start.elapsed(),
        opening,
        sanitized: streamed.sanitized,
        files: shapes.len(),
        audio_seconds: shapes.iter().map(|s| s.1 as f64 / s.2 as f64).sum(),
        method,
    })
}
