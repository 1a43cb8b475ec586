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

#[derive(Debug, Clone)]
pub struct RenderOptions {
    pub buffer: usize,
    pub fast_tanh: bool,
    pub slim: Option<f64>,
    pub format: OutputFormat,
}

#[derive(Debug, Clone)]
pub struct RenderReport {
    pub frames: usize,
    pub channels: usize,
    pub input_rate: u32,
    pub model_rate: u32,
    pub resampled: bool,
    pub elapsed: Duration,
    pub sanitized: u64,
}

impl RenderReport {
    pub fn audio_seconds(&self) -> f64 {
        self.frames as f64 / self.input_rate as f64
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

/// Renders `input` through `model` into `output`; `progress` is told the frames done.
pub fn render_file(model_path: &Path, input: &Path, output: &Path, opts: &RenderOptions, progress: &mut dyn FnMut(usize, usize)) -> Result<RenderReport> {
    let (channels, input_rate) = read_wav(input)?;
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
    let start = Instant::now();
    let at_model_rate = resample(&channels, input_rate, model_rate)?;
    let total: usize = at_model_rate.iter().map(Vec::len).sum();
    let mut done = 0;
    let mut rendered = Vec::with_capacity(channels.len());
    let mut sanitized = 0;
    let mut first = Some(loaded);
    for signal in &at_model_rate {
        // Each channel gets its own instance, as a multichannel host would run it.
        let dsp = match first.take() {
            Some(m) => m.dsp,
            None => load_file(model_path, LoadOptions { fast_tanh: opts.fast_tanh })?.dsp,
        };
        let mut model = Model::new(dsp);
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
    let back = resample(&rendered, model_rate, input_rate)?;
    let elapsed = start.elapsed();
    write_wav(output, &back, input_rate, opts.format)?;
    Ok(RenderReport {
        frames: channels[0].len(),
        channels: channels.len(),
        input_rate,
        model_rate,
        resampled: input_rate != model_rate,
        elapsed,
        sanitized,
    })
}
