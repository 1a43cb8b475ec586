//! `cubeaudio render`: WAV in, every channel through its own model instance, WAV out.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rubato::{FftFixedIn, Resampler};

use crate::error::{NamError, Result};
use crate::loader::{load_file, LoadOptions};
use crate::model::Model;

/// Output sample format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Float32,
    Int16,
    Int24,
}

/// Where a render runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// CUDA, else a hardware Vulkan/Metal adapter, else the CPU engine (also when the GPU engine
    /// does not run the model). A software adapter (lavapipe) is used only when named
    /// (`Vulkan`/`Wgpu`): it renders ~60× slower than the CPU engine.
    Auto,
    Cpu,
    Cuda,
    /// wgpu on a Vulkan adapter.
    Vulkan,
    /// wgpu on its best adapter (Vulkan or Metal).
    Wgpu,
}

#[derive(Debug, Clone)]
pub struct RenderOptions {
    pub backend: Backend,
    pub buffer: usize,
    pub fast_tanh: bool,
    pub slim: Option<f64>,
    pub format: OutputFormat,
}

#[derive(Debug, Clone)]
pub struct RenderReport {
    /// The engine and device that ran, e.g. `cpu`, `cuda on NVIDIA H200`.
    pub backend: String,
    /// Why `auto` did not pick a GPU, when it did not.
    pub fallback: Option<String>,
    pub frames: usize,
    pub channels: usize,
    pub input_rate: u32,
    pub model_rate: u32,
    pub resampled: bool,
    pub elapsed: Duration,
    pub sanitized: u64,
    /// Files rendered in this batch.
    pub files: usize,
    /// Summed duration of the input files.
    pub audio_seconds: f64,
}

impl RenderReport {
    pub fn audio_seconds(&self) -> f64 {
        self.audio_seconds
    }

    pub fn realtime_factor(&self) -> f64 {
        self.audio_seconds() / self.elapsed.as_secs_f64().max(1e-9)
    }
}

fn wav_err(path: &Path, e: impl std::fmt::Display) -> NamError {
    NamError::Request(format!("{}: {e}", path.display()))
}

/// Reads any 8/16/24/32-bit int or 32-bit float WAV into per-channel f32 in [-1, 1].
pub fn read_wav(path: &Path) -> Result<(Vec<Vec<f32>>, u32)> {
    let mut reader = hound::WavReader::open(path).map_err(|e| wav_err(path, format!("cannot read WAV: {e}")))?;
    let spec = reader.spec();
    if spec.sample_rate == 0 {
        return Err(wav_err(path, "sample rate is 0"));
    }
    if spec.channels == 0 {
        return Err(wav_err(path, "has no channels"));
    }
    let ch = spec.channels as usize;
    let interleaved: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader.samples::<f32>().collect::<std::result::Result<_, _>>(),
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample - 1)) as f32;
            reader.samples::<i32>().map(|s| s.map(|v| v as f32 * scale)).collect::<std::result::Result<_, _>>()
        }
    }
    .map_err(|e| wav_err(path, format!("corrupt sample data: {e}")))?;
    if interleaved.is_empty() {
        return Err(wav_err(path, "contains no samples"));
    }
    let frames = interleaved.len() / ch;
    let channels = (0..ch).map(|c| (0..frames).map(|t| interleaved[t * ch + c]).collect()).collect();
    Ok((channels, spec.sample_rate))
}

/// Writes to `path.tmp` and renames, so a failed render leaves no partial output file.
pub fn write_wav(path: &Path, channels: &[Vec<f32>], rate: u32, format: OutputFormat) -> Result<()> {
    let (bits, sample_format) = match format {
        OutputFormat::Float32 => (32, hound::SampleFormat::Float),
        OutputFormat::Int16 => (16, hound::SampleFormat::Int),
        OutputFormat::Int24 => (24, hound::SampleFormat::Int),
    };
    let spec = hound::WavSpec { channels: channels.len() as u16, sample_rate: rate, bits_per_sample: bits, sample_format };
    let tmp = PathBuf::from(format!("{}.tmp", path.display()));
    let result = (|| -> std::result::Result<(), hound::Error> {
        let mut w = hound::WavWriter::create(&tmp, spec)?;
        let frames = channels.first().map_or(0, Vec::len);
        let full = ((1i64 << (bits - 1)) - 1) as f32;
        for t in 0..frames {
            for c in channels {
                match format {
                    OutputFormat::Float32 => w.write_sample(c[t])?,
                    _ => w.write_sample((c[t].clamp(-1.0, 1.0) * full).round() as i32)?,
                }
            }
        }
        w.finalize()
    })();
    match result {
        Ok(()) => std::fs::rename(&tmp, path).map_err(|e| wav_err(path, format!("cannot write: {e}"))),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(wav_err(path, format!("cannot write: {e}")))
        }
    }
}

/// Offline resampling of whole channels, delay-compensated, output length `len·to/from`.
pub fn resample(channels: &[Vec<f32>], from: u32, to: u32) -> Result<Vec<Vec<f32>>> {
    if from == to {
        return Ok(channels.to_vec());
    }
    let n = channels.len();
    let len = channels.first().map_or(0, Vec::len);
    let chunk = 1024;
    let mut rs = FftFixedIn::<f64>::new(from as usize, to as usize, chunk, 2, n)
        .map_err(|e| NamError::Request(format!("cannot resample {from} Hz → {to} Hz: {e}")))?;
    let delay = rs.output_delay();
    let expected = (len as u64 * to as u64).div_ceil(from as u64) as usize;
    let mut out: Vec<Vec<f64>> = vec![Vec::with_capacity(expected + delay + chunk); n];
    let mut pos = 0;
    let input: Vec<Vec<f64>> = channels.iter().map(|c| c.iter().map(|&v| v as f64).collect()).collect();
    let err = |e: rubato::ResampleError| NamError::Request(format!("resampling failed: {e}"));
    while out[0].len() < expected + delay {
        let need = rs.input_frames_next();
        let block: Vec<&[f64]> = input.iter().map(|c| &c[pos.min(len)..(pos + need).min(len)]).collect();
        let produced = if pos + need <= len {
            rs.process(&block, None).map_err(err)?
        } else if pos < len {
            rs.process_partial(Some(&block), None).map_err(err)?
        } else {
            // Past the end: flush the filter's tail with silence.
            rs.process_partial::<&[f64]>(None, None).map_err(err)?
        };
        for (o, p) in out.iter_mut().zip(produced) {
            o.extend(p);
        }
        pos += need;
    }
    Ok(out.into_iter().map(|c| c[delay..delay + expected].iter().map(|&v| v as f32).collect()).collect())
}

enum AnyBatch<R: cubecl::Runtime> {
    WaveNet(crate::gpu::GpuWaveNetBatch<R>),
    Lstm(crate::gpu::GpuLstmBatch<R>),
}

impl<R: cubecl::Runtime> AnyBatch<R> {
    fn process(&mut self, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) -> Result<()> {
        match self {
            Self::WaveNet(b) => b.process(inputs, outputs),
            Self::Lstm(b) => b.process(inputs, outputs),
        }
    }

    fn sanitized_samples(&self) -> u64 {
        match self {
            Self::WaveNet(b) => b.sanitized_samples(),
            Self::Lstm(b) => b.sanitized_samples(),
        }
    }
}

/// GPU render: every channel is a stream of one batch, one launch per buffer.
fn render_gpu<R: cubecl::Runtime>(
    client: &cubecl::prelude::ComputeClient<R>,
    model_path: &Path,
    channels: &[Vec<f32>],
    opts: &RenderOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<(Vec<Vec<f32>>, u64)> {
    let loaded: Vec<_> = (0..channels.len())
        .map(|_| {
            let mut m = load_file(model_path, LoadOptions { fast_tanh: opts.fast_tanh })?;
            if let Some(s) = opts.slim {
                if !m.dsp.set_slim(s).map_err(|e| e.in_file(model_path))? {
                    return Err(NamError::Request("this model is not slimmable".into()).in_file(model_path));
                }
            }
            Ok(m)
        })
        .collect::<Result<_>>()?;
    // One batch per render: every channel runs the same model, so all are LSTMs or none is.
    let mut batch = if loaded.iter().all(|m| m.dsp.as_lstm().is_some()) {
        let nets: Vec<_> = loaded.iter().filter_map(|m| m.dsp.as_lstm()).collect();
        // The CPU render resets like the plugin (2048, then the block): an LSTM's state
        // depends on how much silence it saw, so the GPU prewarm does the same.
        AnyBatch::Lstm(crate::gpu::GpuLstmBatch::new(client, &nets, opts.buffer, &[2048, opts.buffer])?)
    } else {
        let nets: Vec<&dyn crate::dsp::Dsp> = loaded.iter().map(|m| m.dsp.as_ref()).collect();
        AnyBatch::WaveNet(crate::gpu::GpuWaveNetBatch::new(client, &nets, opts.buffer)?)
    };
    // Channels of different files differ in length: the batch runs to the longest, shorter
    // streams read silence past their end, and each output is cut back to its input's length.
    let len = channels.iter().map(Vec::len).max().unwrap_or(0);
    let total: usize = channels.iter().map(Vec::len).sum();
    let padded: Vec<std::borrow::Cow<[f32]>> = channels
        .iter()
        .map(|c| {
            if c.len() == len {
                std::borrow::Cow::Borrowed(c.as_slice())
            } else {
                let mut v = c.clone();
                v.resize(len, 0.0);
                std::borrow::Cow::Owned(v)
            }
        })
        .collect();
    let mut outs: Vec<Vec<f32>> = vec![vec![0.0f32; len]; channels.len()];
    let mut at = 0;
    while at < len {
        let n = opts.buffer.min(len - at);
        let ins: Vec<&[f32]> = padded.iter().map(|c| &c[at..at + n]).collect();
        let mut ys: Vec<&mut [f32]> = outs.iter_mut().map(|o| &mut o[at..at + n]).collect();
        batch.process(&ins, &mut ys)?;
        at += n;
        progress(channels.iter().map(|c| c.len().min(at)).sum(), total);
    }
    for (o, c) in outs.iter_mut().zip(channels) {
        o.truncate(c.len());
    }
    Ok((outs, batch.sanitized_samples()))
}

fn render_cpu(model_path: &Path, channels: &[Vec<f32>], opts: &RenderOptions, progress: &mut dyn FnMut(usize, usize)) -> Result<(Vec<Vec<f32>>, u64)> {
    let total: usize = channels.iter().map(Vec::len).sum();
    let mut done = 0;
    let mut rendered = Vec::with_capacity(channels.len());
    let mut sanitized = 0;
    for signal in channels {
        // Each channel gets its own instance, as a multichannel host would run it.
        let mut model = Model::new(load_file(model_path, LoadOptions { fast_tanh: opts.fast_tanh })?.dsp);
        if let Some(s) = opts.slim {
            model.set_slim(s).map_err(|e| e.in_file(model_path))?;
        }
        model.reset_like_plugin(opts.buffer)?;
        let mut out = vec![0.0f32; signal.len()];
        for (src, dst) in signal.chunks(opts.buffer).zip(out.chunks_mut(opts.buffer)) {
            model.process(src, dst);
            done += src.len();
            progress(done, total);
        }
        sanitized += model.sanitized_samples();
        rendered.push(out);
    }
    Ok((rendered, sanitized))
}

/// Opens the GPU `choice` names and renders on it; `allow_software` admits software adapters.
fn render_on_gpu(
    choice: Backend,
    allow_software: bool,
    model_path: &Path,
    channels: &[Vec<f32>],
    opts: &RenderOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<(String, (Vec<Vec<f32>>, u64))> {
    use cubeaudio_kernels::device;
    if choice == Backend::Cuda {
        #[cfg(feature = "cuda")]
        {
            let (client, info) = device::cuda::open(0).map_err(|e| NamError::Request(format!("CUDA: {e}")))?;
            return Ok((info.to_string(), render_gpu(&client, model_path, channels, opts, progress)?));
        }
        #[allow(unreachable_code)]
        return Err(NamError::Request("CUDA is not compiled into this build".into()));
    }
    #[cfg(feature = "wgpu")]
    {
        let (client, info) = device::wgpu_device::open_best().map_err(|e| NamError::Request(format!("wgpu: {e}")))?;
        if choice == Backend::Vulkan && !info.adapter.contains("(Vulkan") {
            return Err(NamError::Request(format!("no Vulkan adapter (found {})", info.adapter)));
        }
        if info.is_software && !allow_software {
            return Err(NamError::Request(format!("only a software adapter ({}), slower than the CPU engine", info.adapter)));
        }
        return Ok((info.to_string(), render_gpu(&client, model_path, channels, opts, progress)?));
    }
    #[allow(unreachable_code)]
    Err(NamError::Request("wgpu is not compiled into this build".into()))
}

/// Renders `input` through `model` into `output` on `opts.backend`; `progress` is told the
/// samples done.
pub fn render_file(model_path: &Path, input: &Path, output: &Path, opts: &RenderOptions, progress: &mut dyn FnMut(usize, usize)) -> Result<RenderReport> {
    render_files(model_path, &[(input.to_path_buf(), output.to_path_buf())], opts, progress)
}

/// Renders several files as one batch: every channel of every file is a stream of the same GPU
/// batch (one launch per buffer for all of them), or its own CPU instance. Files may differ in
/// length, channel count and sample rate; each output keeps its input's length and rate.
pub fn render_files(model_path: &Path, jobs: &[(PathBuf, PathBuf)], opts: &RenderOptions, progress: &mut dyn FnMut(usize, usize)) -> Result<RenderReport> {
    if jobs.is_empty() {
        return Err(NamError::Request("no input file".into()));
    }
    let loaded = load_file(model_path, LoadOptions { fast_tanh: opts.fast_tanh })?;
    if loaded.dsp.in_channels() != 1 || loaded.dsp.out_channels() != 1 {
        return Err(NamError::Request(format!(
            "{}: renders need a mono-in/mono-out model; this one is {}→{} channels",
            model_path.display(),
            loaded.dsp.in_channels(),
            loaded.dsp.out_channels()
        )));
    }
    let model_rate = loaded.sample_rate.unwrap_or(48_000.0).round() as u32;
    drop(loaded);
    let mut files = Vec::with_capacity(jobs.len());
    for (input, _) in jobs {
        files.push(read_wav(input)?);
    }
    let start = Instant::now();
    let mut at_model_rate: Vec<Vec<f32>> = Vec::new();
    for (channels, rate) in &files {
        at_model_rate.extend(resample(channels, *rate, model_rate)?);
    }
    let mut fallback = None;
    let (backend, (rendered, sanitized)) = match opts.backend {
        Backend::Cpu => ("cpu".to_string(), render_cpu(model_path, &at_model_rate, opts, progress)?),
        Backend::Cuda | Backend::Vulkan | Backend::Wgpu => render_on_gpu(opts.backend, true, model_path, &at_model_rate, opts, progress)?,
        Backend::Auto => {
            // Software adapters (lavapipe) emulate the GPU on the same CPU: measured ~60× slower
            // than the CPU engine for a render, so `auto` takes them only when asked explicitly.
            let tried = render_on_gpu(Backend::Cuda, false, model_path, &at_model_rate, opts, progress)
                .or_else(|cuda| render_on_gpu(Backend::Wgpu, false, model_path, &at_model_rate, opts, progress).map_err(|wgpu| format!("{cuda}; {wgpu}")));
            match tried {
                Ok(r) => r,
                Err(why) => {
                    fallback = Some(why);
                    ("cpu".to_string(), render_cpu(model_path, &at_model_rate, opts, progress)?)
                }
            }
        }
    };
    let mut rendered = rendered.into_iter();
    let mut written = Vec::with_capacity(jobs.len());
    for ((channels, rate), (_, output)) in files.iter().zip(jobs) {
        let mine: Vec<Vec<f32>> = rendered.by_ref().take(channels.len()).collect();
        let mut back = resample(&mine, model_rate, *rate)?;
        // Two rate conversions can round the length by a sample: the output keeps the input's.
        for c in &mut back {
            c.resize(channels[0].len(), 0.0);
        }
        written.push((back, *rate, output));
    }
    let elapsed = start.elapsed();
    for (back, rate, output) in &written {
        write_wav(output, back, *rate, opts.format)?;
    }
    let (first, input_rate) = &files[0];
    Ok(RenderReport {
        backend,
        fallback,
        frames: first[0].len(),
        channels: files.iter().map(|(c, _)| c.len()).sum(),
        input_rate: *input_rate,
        model_rate,
        resampled: files.iter().any(|(_, r)| *r != model_rate),
        elapsed,
        sanitized,
        files: files.len(),
        audio_seconds: files.iter().map(|(c, r)| c[0].len() as f64 / *r as f64).sum(),
    })
}
