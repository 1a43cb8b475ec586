//! Files streamed from disk to disk through an engine at the model's rate: each input is read in
//! blocks, converted to the model's rate, processed, converted back and written, so memory
//! holds a few blocks whatever the files' lengths. Outputs go to temporary files that replace
//! their targets only when every file of the batch is complete.

use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use cubeaudio_runtime::wav::{SampleFormat, WavReader, WavWriter};

use crate::error::{CliError, Result};
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

/// One input being read and converted to the model's rate.
struct FileInput {
    reader: WavReader<BufReader<File>>,
    into_model: RateConverter,
    input_ended: bool,
    resampled: bool,
    /// Non-finite samples replaced before the engine saw them (by the rate conversion).
    replaced: u64,
    read: Vec<Vec<f32>>,
    model_in: Vec<Vec<f32>>,
}

/// One output being converted back and written.
struct FileOutput {
    writer: WavWriter,
    back: RateConverter,
    frames: u64,
    written: u64,
    out: Vec<Vec<f32>>,
}

impl FileInput {
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
}

impl FileOutput {
    fn complete(&self) -> bool {
        self.back.done() && self.written == self.frames
    }

    /// Converts a block of model output back and writes what is ready (`input_done`: the
    /// input's last frame was in this block or before); the output keeps the input's length
    /// (two rate conversions can round it by a sample).
    fn write_back(&mut self, outs: &[Vec<f32>], input_done: bool) -> Result<()> {
        let views: Vec<&[f32]> = outs.iter().map(Vec::as_slice).collect();
        self.back.push(&views)?;
        if input_done && !self.back.ended() {
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

/// A block of every channel's model output on its way to the writer thread, with whether each
/// file's input ended by then.
type Written = (Vec<Vec<f32>>, Vec<bool>);

/// Converts back and writes blocks as they come; returns the outputs (for the commit) and the
/// time it worked.
fn write_blocks(
    mut outputs: Vec<FileOutput>,
    blocks: mpsc::Receiver<Written>,
    written: &AtomicU64,
) -> Result<(Vec<FileOutput>, Duration)> {
    let mut busy = Duration::ZERO;
    for (outs, done) in blocks {
        let t = Instant::now();
        let mut rest = outs.as_slice();
        for (f, &input_done) in outputs.iter_mut().zip(&done) {
            let (mine, others) = rest.split_at(f.out.len());
            f.write_back(mine, input_done)?;
            rest = others;
        }
        written.store(outputs.iter().map(|f| f.written).sum(), Ordering::Relaxed);
        busy += t.elapsed();
    }
    Ok((outputs, busy))
}

/// The inputs of a render, opened, and their outputs, started.
pub struct FileStreams {
    inputs: Vec<FileInput>,
    outputs: Vec<FileOutput>,
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
        let (mut inputs, mut outputs) = (Vec::with_capacity(jobs.len()), Vec::with_capacity(jobs.len()));
        for (input, output) in jobs {
            let reader = WavReader::open(input)?;
            let (channels, rate) = (reader.channels(), reader.sample_rate());
            let writer = WavWriter::create(output, channels, rate, format)?;
            let into_model = RateConverter::new(channels, rate, model_rate)?;
            let back = RateConverter::new(channels, model_rate, rate)?;
            outputs.push(FileOutput {
                writer,
                back,
                frames: reader.frames(),
                written: 0,
                out: vec![Vec::new(); channels],
            });
            inputs.push(FileInput {
                into_model,
                input_ended: false,
                resampled: rate != model_rate,
                replaced: 0,
                read: vec![Vec::new(); channels],
                model_in: vec![Vec::new(); channels],
                reader,
            });
        }
        Ok(Self { inputs, outputs })
    }

    /// Channels of every file together, in order: the engine's streams.
    pub fn channels(&self) -> usize {
        self.inputs.iter().map(|f| f.model_in.len()).sum()
    }

    /// Per file: channels, frames and sample rate (from the headers).
    pub fn shapes(&self) -> Vec<(usize, u64, u32)> {
        self.inputs
            .iter()
            .zip(&self.outputs)
            .map(|(i, o)| (i.model_in.len(), o.frames, i.reader.sample_rate()))
            .collect()
    }

    /// Runs every file through `engine` and replaces the targets once all are complete;
    /// `progress` is told the frames written of the total. On an error nothing is replaced and
    /// no temporary file is left. Converting back and writing block k runs on a thread while
    /// the engine processes block k+1 (writing took 0.46 s of a 10-minute render on an H200,
    /// as long as the engine, 2026-12-02).
    pub fn run(self, engine: &mut dyn BlockEngine, progress: &mut dyn FnMut(usize, usize)) -> Result<Streamed> {
        let Self { mut inputs, outputs } = self;
        let total: u64 = outputs.iter().map(|f| f.frames).sum();
        let started = Instant::now();
        let step = engine.step().max(1);
        let channels: usize = inputs.iter().map(|f| f.model_in.len()).sum();
        let written = AtomicU64::new(0);
        // Where the time goes, for `RUST_LOG=debug`: reading and converting, the engine, writing.
        let (mut reading, mut running) = (Duration::ZERO, Duration::ZERO);
        let mut blocks = 0usize;
        let (outputs, writing) = std::thread::scope(|scope| -> Result<(Vec<FileOutput>, Duration)> {
            // One block queued: the engine runs at most one block ahead of the writer.
            let (send, receive) = mpsc::sync_channel::<Written>(1);
            let writer = scope.spawn(|| write_blocks(outputs, receive, &written));
            let fed = (|| -> Result<()> {
                loop {
                    let t = Instant::now();
                    for f in &mut inputs {
                        f.next_block(step)?;
                    }
                    let ins: Vec<&[f32]> = inputs.iter().flat_map(|f| f.model_in.iter().map(Vec::as_slice)).collect();
                    let mut outs: Vec<Vec<f32>> = vec![Vec::new(); channels];
                    let read = Instant::now();
                    engine.process(&ins, &mut outs)?;
                    (reading, running) = (reading + (read - t), running + read.elapsed());
                    blocks += 1;
                    let done: Vec<bool> = inputs.iter().map(|f| f.into_model.done()).collect();
                    let last = done.iter().all(|&d| d);
                    if send.send((outs, done)).is_err() {
                        // The writer stopped on an error: joining it below reports that.
                        return Ok(());
                    }
                    progress(written.load(Ordering::Relaxed) as usize, total as usize);
                    if last {
                        return Ok(());
                    }
                }
            })();
            drop(send);
            let wrote = writer.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            fed?;
            wrote
        })?;
        progress(written.load(Ordering::Relaxed) as usize, total as usize);
        if let Some(short) = outputs.iter().find(|f| !f.complete()) {
            return Err(CliError::Request(format!(
                "internal: an output ended at {} of {} frames when its input was done",
                short.written, short.frames
            )));
        }
        let processing = started.elapsed();
        tracing::debug!("{blocks} blocks of {step} frames: reading and converting {reading:?}, the engine {running:?}, converting back and writing (overlapping the engine) {writing:?}");
        let sanitized = engine.sanitized() + inputs.iter().map(|f| f.replaced).sum::<u64>();
        for f in outputs {
            f.writer.commit()?;
        }
        Ok(Streamed { processing, sanitized })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Passes blocks through, or fails at block `fail_at`.
    struct Identity {
        step: usize,
        blocks: usize,
        fail_at: Option<usize>,
    }

    impl BlockEngine for Identity {
        fn step(&self) -> usize {
            self.step
        }
        fn process(&mut self, ins: &[&[f32]], outs: &mut [Vec<f32>]) -> Result<()> {
            self.blocks += 1;
            if self.fail_at == Some(self.blocks) {
                return Err(CliError::Request("the engine failed".into()));
            }
            for (o, x) in outs.iter_mut().zip(ins) {
                o.extend_from_slice(x);
            }
            Ok(())
        }
        fn sanitized(&self) -> u64 {
            0
        }
    }

    /// A scratch folder, (input, output) pairs and each input's planar samples.
    type Files = (PathBuf, Vec<(PathBuf, PathBuf)>, Vec<Vec<Vec<f32>>>);

    fn files(name: &str) -> Files {
        let dir = std::env::temp_dir().join(format!("cubeaudio-file-stream-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut jobs = Vec::new();
        let mut signals = Vec::new();
        for (k, (channels, len)) in [(2usize, 10_007usize), (1, 3_001)].into_iter().enumerate() {
            let signal: Vec<Vec<f32>> =
                (0..channels).map(|c| (0..len).map(|t| ((t * (c + 2) + k) as f32 * 0.01).sin()).collect()).collect();
            let input = dir.join(format!("in{k}.wav"));
            cubeaudio_runtime::wav::write(&input, &signal, 48_000, SampleFormat::Float32).unwrap();
            jobs.push((input, dir.join(format!("out{k}.wav"))));
            signals.push(signal);
        }
        (dir, jobs, signals)
    }

    /// Files of different lengths and channel counts come out whole (the writer thread takes
    /// every block, the last ones included), bit for bit through an identity engine.
    #[test]
    fn every_block_reaches_the_files() {
        let (dir, jobs, signals) = files("whole");
        let streams = FileStreams::open(&jobs, 48_000, SampleFormat::Float32).unwrap();
        let mut engine = Identity { step: 1_000, blocks: 0, fail_at: None };
        let mut last = 0;
        streams.run(&mut engine, &mut |done, _| last = done).unwrap();
        assert_eq!(engine.blocks, 11);
        assert_eq!(last, 10_007 + 3_001);
        for ((_, output), signal) in jobs.iter().zip(&signals) {
            assert_eq!(&cubeaudio_runtime::wav::read(output).unwrap().channels, signal);
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// An engine that fails mid-way leaves no output and no temporary file, though the writer
    /// thread had written earlier blocks.
    #[test]
    fn a_failed_block_leaves_nothing() {
        let (dir, jobs, _) = files("failed");
        let streams = FileStreams::open(&jobs, 48_000, SampleFormat::Float32).unwrap();
        let mut engine = Identity { step: 1_000, blocks: 0, fail_at: Some(5) };
        let err = streams.run(&mut engine, &mut |_, _| {}).unwrap_err();
        assert!(err.to_string().contains("the engine failed"), "{err}");
        let mut left: Vec<String> =
            std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
        left.sort();
        assert_eq!(left, ["in0.wav", "in1.wav"]);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
