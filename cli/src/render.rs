//! `cubeaudio render`: WAV in, every channel through its own model instance, WAV out.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cubeaudio_kernels::device::{Backend, DeviceInfo, DeviceJob, Opened};
use cubeaudio_nam::gpu::split::{render_split, split_streams};
use cubeaudio_nam::gpu::{GpuLstmBatch, GpuWaveNetBatch, StreamBatch};
use cubeaudio_nam::{load_file, LoadOptions, LoadedModel, Model, NamError};
use cubeaudio_runtime::wav::{self, SampleFormat};
use cubecl::prelude::*;

use crate::error::{CliError, Result};
use crate::resample::resample;

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
    /// On a GPU, cut convolutional models' signals in time into chunks that run as parallel
    /// streams ([`cubeaudio_nam::gpu::split`]); off: every channel is one stream, buffer by
    /// buffer, as a live host runs it. The output is the same either way.
    pub split: bool,
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
    /// Processing time (resampling and the model), without reading and writing files.
    pub elapsed: Duration,
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

/// Runs `channels` (at the model's rate) on the device it is given: every channel a stream of
/// one batch, one launch per buffer.
struct GpuRender<'a> {
    model: &'a Prototype,
    channels: &'a [Vec<f32>],
    progress: &'a mut dyn FnMut(usize, usize),
}

/// Engine output: rendered channels, samples replaced because not finite, how it ran.
type Rendered = (Vec<Vec<f32>>, u64, String);

impl DeviceJob for GpuRender<'_> {
    type Output = Result<Rendered>;

    fn run<R: Runtime>(self, client: &ComputeClient<R>, _info: &DeviceInfo) -> Self::Output {
        let Self { model, channels, progress } = self;
        let buffer = model.opts.buffer;
        let dsp = model.loaded.dsp.as_ref();
        if model.opts.split && dsp.receptive_field().is_some() {
            let views: Vec<&[f32]> = channels.iter().map(Vec::as_slice).collect();
            let (outs, sanitized, plan) = render_split(client, dsp, &views, split_streams(), progress)?;
            let method = format!(
                "time-split: {} chunks of {} samples + {} of context ({:.2}× the samples' work)",
                plan.chunks,
                plan.chunk,
                plan.overlap,
                plan.work_ratio(&channels.iter().map(Vec::len).collect::<Vec<_>>())
            );
            return Ok((outs, sanitized, method));
        }
        let method = if dsp.receptive_field().is_none() {
            "streamed (an LSTM is a recurrence: it cannot be split in time)".to_string()
        } else {
            format!("streamed in {buffer}-frame buffers")
        };
        let mut batch: Box<dyn StreamBatch> = match dsp.architecture().lstm() {
            // The CPU render resets like the plugin (2048, then the block): an LSTM's state
            // depends on how much silence it saw, so the GPU prewarm does the same.
            Some(lstm) => Box::new(GpuLstmBatch::new(client, &vec![lstm; channels.len()], buffer, &[2048, buffer])?),
            None => Box::new(GpuWaveNetBatch::new(client, &vec![dsp; channels.len()], buffer)?),
        };
        // Channels of different files differ in length: the batch runs to the longest, shorter
        // streams read silence past their end, and each output is cut back to its input's length.
        let len = channels.iter().map(Vec::len).max().unwrap_or(0);
        let total: usize = channels.iter().map(Vec::len).sum();
        let padded: Vec<Cow<[f32]>> = channels
            .iter()
            .map(|c| {
                if c.len() == len {
                    Cow::Borrowed(c.as_slice())
                } else {
                    let mut v = c.clone();
                    v.resize(len, 0.0);
                    Cow::Owned(v)
                }
            })
            .collect();
        let mut outs: Vec<Vec<f32>> = vec![vec![0.0f32; len]; channels.len()];
        let mut at = 0;
        while at < len {
            let n = buffer.min(len - at);
            let ins: Vec<&[f32]> = padded.iter().map(|c| &c[at..at + n]).collect();
            let mut ys: Vec<&mut [f32]> = outs.iter_mut().map(|o| &mut o[at..at + n]).collect();
            batch.process(&ins, &mut ys)?;
            at += n;
            progress(channels.iter().map(|c| c.len().min(at)).sum(), total);
        }
        for (o, c) in outs.iter_mut().zip(channels) {
            o.truncate(c.len());
        }
        Ok((outs, batch.sanitized_samples(), method))
    }
}

fn render_cpu(model: &Prototype, channels: &[Vec<f32>], progress: &mut dyn FnMut(usize, usize)) -> Result<Rendered> {
    let total: usize = channels.iter().map(Vec::len).sum();
    let buffer = model.opts.buffer;
    let mut done = 0;
    let mut rendered = Vec::with_capacity(channels.len());
    let mut sanitized = 0;
    for signal in channels {
        // Each channel gets its own instance, as a multichannel host would run it.
        let mut instance = model.cpu_instance()?;
        let mut out = vec![0.0f32; signal.len()];
        for (src, dst) in signal.chunks(buffer).zip(out.chunks_mut(buffer)) {
            instance.process(src, dst);
            done += src.len();
            progress(done, total);
        }
        sanitized += instance.sanitized_samples();
        rendered.push(out);
    }
    Ok((rendered, sanitized, format!("streamed in {buffer}-frame buffers, one CPU instance per channel")))
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
/// length, channel count and sample rate; each output keeps its input's length and rate.
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
    let files = jobs.iter().map(|(input, _)| wav::read(input)).collect::<std::result::Result<Vec<_>, _>>()?;
    let start = Instant::now();
    // Non-finite samples of files that are resampled become 0 before the engines see them:
    // count them here (the engines count those of the others).
    let replaced_before: u64 = files
        .iter()
        .filter(|f| f.sample_rate != model_rate)
        .flat_map(|f| f.channels.iter().flatten())
        .filter(|v| !v.is_finite())
        .count() as u64;
    let mut at_model_rate: Vec<Vec<f32>> = Vec::new();
    for file in &files {
        at_model_rate.extend(resample(&file.channels, file.sample_rate, model_rate)?);
    }
    let (backend, fallback, (rendered, sanitized, method)) = match opts.backend.open(true)? {
        Opened::Cpu { fallback } => ("cpu".to_string(), fallback, render_cpu(&model, &at_model_rate, progress)?),
        Opened::Gpu(device) => {
            let name = device.info().to_string();
            match device.run(GpuRender { model: &model, channels: &at_model_rate, progress: &mut *progress }) {
                Ok(out) => (name, None, out),
                // `auto` also covers models the GPU engine refuses: the CPU engine runs every one.
                Err(why) if opts.backend == Backend::Auto => {
                    let why = format!("{name}: {why}");
                    ("cpu".to_string(), Some(why), render_cpu(&model, &at_model_rate, progress)?)
                }
                Err(e) => return Err(e),
            }
        }
    };
    let mut rendered = rendered.into_iter();
    let mut written = Vec::with_capacity(jobs.len());
    for (file, (_, output)) in files.iter().zip(jobs) {
        let mine: Vec<Vec<f32>> = rendered.by_ref().take(file.channels.len()).collect();
        let mut back = resample(&mine, model_rate, file.sample_rate)?;
        // Two rate conversions can round the length by a sample: the output keeps the input's.
        for c in &mut back {
            c.resize(file.frames(), 0.0);
        }
        written.push((back, file.sample_rate, output));
    }
    let elapsed = start.elapsed();
    for (back, rate, output) in &written {
        wav::write(output, back, *rate, opts.format)?;
    }
    Ok(RenderReport {
        backend,
        fallback,
        frames: files[0].frames(),
        channels: files.iter().map(|f| f.channels.len()).sum(),
        input_rate: files[0].sample_rate,
        model_rate,
        resampled: files.iter().any(|f| f.sample_rate != model_rate),
        elapsed,
        sanitized: sanitized + replaced_before,
        files: files.len(),
        audio_seconds: files.iter().map(|f| f.frames() as f64 / f.sample_rate as f64).sum(),
        method,
    })
}
