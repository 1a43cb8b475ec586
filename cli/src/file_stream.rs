//! Files streamed from disk to disk through an engine at the model's rate: each input is read in
//! blocks, converted to the model's rate, processed, converted back and written, so memory
//! holds a few blocks whatever the files' lengths. Outputs go to temporary files that replace
//! their targets only when every file of the batch is complete.

use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use cubeaudio_runtime::wav::{SampleFormat, WavReader, WavWriter};

use crate::error::Result;
use crate::resample::RateConverter;

/// Frames read from a file at a time.
const READ_BLOCK: usize = 1 << 16;

/// What processes the model-rate signals, block by block.
pub trait BlockEngine {
    /// Model-rate frames each channel should be given per call (the last block of a file is
    /// shorter, and a file that ended gets empty blocks while others go on).
    fn step(&self) -> usize;

    /// Processes the next block of every channel and appends exactly `ins[c].len()` outputs to
    /// `outs[c]`. Channels keep their state from one call to the next.
    fn process(&mut self, ins: &[&[f32]], outs: &mut [Vec<f32>]) -> Result<()>;

    /// Input samples replaced because they were not finite, so far.
    fn sanitized(&self) -> u64;
}

/// One input being read and its output being written.
struct FileStream {
    reader: WavReader<BufReader<File>>,
    writer: WavWriter,
    into_model: RateConverter,
    back: RateConverter,
    frames: u64,
    written: u64,
    input_ended: bool,
    resampled: bool,
    /// Non-finite samples replaced before the engine saw them (by the rate conversion).
    replaced: u64,
    read: Vec<Vec<f32>>,
    model_in: Vec<Vec<f32>>,
    out: Vec<Vec<f32>>,
}

impl FileStream {
    fn complete(&self) -> bool {
        self.back.done() && self.written == self.frames
    }

    /// Fills `model_in` with the next `step` model-rate frames (fewer at the end).
    fn next_block(&mut self, step: usize) -> Result<()> {
        self.model_in.iter_mut().for_each(Vec::clear);
        while self.into_model.available() < step && !self.input_ended {
            self.read.iter_mut().for_each(Vec::clear);
            if self.reader.read_into(READ_BLOCK, &mut self.read)? == 0 {
                self.input_ended = true;
                self.into_model.finish()?;
            } else {
                if self.resampled {
                    self.replaced += self.read.iter().flatten().filter(|v| !v.is_finite()).count() as u64;
                }
                let views: Vec<&[f32]> = self.read.iter().map(Vec::as_slice).collect();
                self.into_model.push(&views)?;
            }
        }
        self.into_model.take(step, &mut self.model_in);
        Ok(())
    }

    /// Converts a block of model output back and writes what is ready; the output keeps the
    /// input's length (two rate conversions can round it by a sample).
    fn write_back(&mut self, outs: &[Vec<f32>]) -> Result<()> {
        let views: Vec<&[f32]> = outs.iter().map(Vec::as_slice).collect();
        self.back.push(&views)?;
        if self.into_model.done() && !self.back.ended() {
            self.back.finish()?;
        }
        loop {
            self.out.iter_mut().for_each(Vec::clear);
            let n = self.back.take(READ_BLOCK, &mut self.out);
            if n == 0 {
                break;
            }
            let keep = (n as u64).min(self.frames - self.written) as usize;
            let views: Vec<&[f32]> = self.out.iter().map(|c| &c[..keep]).collect();
            self.writer.write(&views)?;
            self.written += keep as u64;
        }
        if self.back.done() && self.written < self.frames {
            let silence = vec![0.0f32; (self.frames - self.written) as usize];
            let views: Vec<&[f32]> = self.out.iter().map(|_| silence.as_slice()).collect();
            self.writer.write(&views)?;
            self.written = self.frames;
        }
        Ok(())
    }
}

/// The inputs of a render, opened, and their outputs, started.
pub struct FileStreams {
    files: Vec<FileStream>,
}

/// What streaming the files did.
#[derive(Debug, Clone, Copy)]
pub struct Streamed {
    /// Time from the first read to the last write (reading, conversion, the engine, writing).
    pub processing: Duration,
    /// Non-finite input samples replaced (by the conversion or the engine).
    pub sanitized: u64,
}

impl FileStreams {
    /// Opens every `(input, output)` pair: headers read, temporary outputs created beside the
    /// targets, converters between each file's rate and `model_rate` ready.
    pub fn open(jobs: &[(PathBuf, PathBuf)], model_rate: u32, format: SampleFormat) -> Result<Self> {
        let mut files = Vec::with_capacity(jobs.len());
        for (input, output) in jobs {
            let reader = WavReader::open(input)?;
            let (channels, rate) = (reader.channels(), reader.sample_rate());
            files.push(FileStream {
                writer: WavWriter::create(output, channels, rate, format)?,
                into_model: RateConverter::new(channels, rate, model_rate)?,
                back: RateConverter::new(channels, model_rate, rate)?,
                frames: reader.frames(),
                written: 0,
                input_ended: false,
                resampled: rate != model_rate,
                replaced: 0,
                read: vec![Vec::new(); channels],
                model_in: vec![Vec::new(); channels],
                out: vec![Vec::new(); channels],
                reader,
            });
        }
        Ok(Self { files })
    }

    /// Channels of every file together, in order: the engine's streams.
    pub fn channels(&self) -> usize {
        self.files.iter().map(|f| f.model_in.len()).sum()
    }

    /// Per file: channels, frames and sample rate (from the headers).
    pub fn shapes(&self) -> Vec<(usize, u64, u32)> {
        self.files.iter().map(|f| (f.model_in.len(), f.frames, f.reader.sample_rate())).collect()
    }

    /// Runs every file through `engine` and replaces the targets once all are complete;
    /// `progress` is told the frames written of the total. On an error nothing is replaced and
    /// no temporary file is left.
    pub fn run(mut self, engine: &mut dyn BlockEngine, progress: &mut dyn FnMut(usize, usize)) -> Result<Streamed> {
        let total: u64 = self.files.iter().map(|f| f.frames).sum();
        let started = Instant::now();
        let step = engine.step().max(1);
        let mut outs: Vec<Vec<f32>> = vec![Vec::new(); self.channels()];
        // Where the time goes, for `RUST_LOG=debug`: reading and converting, the engine, writing.
        let (mut reading, mut running, mut writing) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
        let mut blocks = 0usize;
        while !self.files.iter().all(FileStream::complete) {
            let t = Instant::now();
            for f in &mut self.files {
                f.next_block(step)?;
            }
            let ins: Vec<&[f32]> = self.files.iter().flat_map(|f| f.model_in.iter().map(Vec::as_slice)).collect();
            outs.iter_mut().for_each(Vec::clear);
            let read = Instant::now();
            engine.process(&ins, &mut outs)?;
            let ran = Instant::now();
            let mut rest = outs.as_slice();
            for f in &mut self.files {
                let (mine, others) = rest.split_at(f.model_in.len());
                f.write_back(mine)?;
                rest = others;
            }
            (reading, running, writing) = (reading + (read - t), running + (ran - read), writing + ran.elapsed());
            blocks += 1;
            progress(self.files.iter().map(|f| f.written).sum::<u64>() as usize, total as usize);
        }
        let processing = started.elapsed();
        tracing::debug!("{blocks} blocks of {step} frames: reading and converting {reading:?}, the engine {running:?}, converting back and writing {writing:?}");
        let sanitized = engine.sanitized() + self.files.iter().map(|f| f.replaced).sum::<u64>();
        for f in self.files {
            f.writer.commit()?;
        }
        Ok(Streamed { processing, sanitized })
    }
}
