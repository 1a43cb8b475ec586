//! One long signal, fast, on a GPU: the chunks of a time-split render ([`crate::split`]) run as
//! the streams of one batch, one launch per buffer for all of them.

use cubecl::prelude::*;

use super::engine::{GpuWaveNetBatch, KernelChoice};
use super::knob;
use super::PendingBuffer;
use crate::dsp::Dsp;
use crate::error::Result;
pub use crate::split::SplitPlan;
use crate::split::TimeSplitter;

/// Frames per launch of a split render (the output does not depend on it). The engine sizes
/// every layer's ring for its look-back plus a whole buffer (a power of two), so large buffers
/// multiply the histories: at 4096 frames the standard model needs ~8 MB per stream, at 512
/// ~1 MB (docs/PERFORMANCE.md, seventh measurement). `CUBEAUDIO_SPLIT_BUFFER` overrides it
/// for measurements (a power of two from 64 to 4096).
pub const SPLIT_BUFFER: usize = 512;

fn split_buffer() -> usize {
    knob("CUBEAUDIO_SPLIT_BUFFER").filter(|b| b.is_power_of_two() && (64..=4096).contains(b)).unwrap_or(SPLIT_BUFFER)
}
/// Audio (channel-seconds) below which a render takes the plan interpreter rather than the
/// shape-specialised columns kernel: the columns kernel processes a render ~1.7× faster (2,048
/// standard streams × 512 frames: 3,812× real time against the interpreter's 2,290×,
/// PERFORMANCE.md seventh and twentieth measurements) but compiles for seconds per model shape
/// (NVRTC, unrolled layers), which a render pays once: a 10-minute file took 4.75 s with it
/// (126×, 2026-12-02) against 0.67 s with the interpreter (898×, 2026-11-30). Break-even at
/// ~4 s of compilation against 1.7e-4 s saved per second of audio: about 6 hours.
pub const COLUMNS_RENDER_SECONDS: f64 = 6.0 * 3600.0;

/// The kernel for a render of `audio_seconds` (channel-seconds) of audio:
/// `CUBEAUDIO_NAM_KERNEL` when set, else the interpreter below [`COLUMNS_RENDER_SECONDS`].
pub fn render_kernel(audio_seconds: f64) -> KernelChoice {
    match KernelChoice::from_env() {
        KernelChoice::Auto if audio_seconds < COLUMNS_RENDER_SECONDS => KernelChoice::Interpreter,
        chosen => chosen,
    }
}

/// Streams a split render aims for unless told: enough to fill an H200's 132 multiprocessors
/// several times over, few enough that the histories stay mostly in L2 (docs/PERFORMANCE.md).
pub const DEFAULT_SPLIT_STREAMS: usize = 512;

/// Streams a split render aims at: `CUBEAUDIO_SPLIT_STREAMS` (for measurements) or
/// [`DEFAULT_SPLIT_STREAMS`].
pub fn split_streams() -> usize {
    knob("CUBEAUDIO_SPLIT_STREAMS").filter(|&n| n > 0).unwrap_or(DEFAULT_SPLIT_STREAMS)
}

/// Renders every signal through `model` as a time-split batch (one launch per
/// [`SPLIT_BUFFER`] frames for all chunks of all signals), aiming at `streams` streams;
/// `progress` is told the output samples done of the total. Returns the outputs, the samples
/// the engine replaced because they were not finite, and the plan it used. Refuses models
/// without a finite receptive field (LSTM) with [`NamError::Unsupported`].
pub fn render_split<R: Runtime>(
    client: &ComputeClient<R>,
    model: &dyn Dsp,
    signals: &[&[f32]],
    streams: usize,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<(Vec<Vec<f32>>, u64, SplitPlan)> {
    SplitRenderer::new(client, model, signals.len(), streams)?.render(signals, progress)
}

/// A time-split render of signals that arrive in segments (a long file read block by block):
/// each [`SplitRenderer::render`] continues every signal where the previous one stopped, its
/// first chunk given the last `overlap` samples before it as context, so the outputs of the
/// segments, joined, are the whole signal's — bit for bit — while memory holds one segment.
pub struct SplitRenderer<'a, R: Runtime> {
    client: &'a ComputeClient<R>,
    model: &'a dyn Dsp,
    splitter: TimeSplitter,
    kernel: KernelChoice,
    /// The last segment's batch, reset and reused by a segment of as many chunks: building one
    /// (plans, allocations, uploads) took ~60 ms a segment of the standard model (H200).
    batch: Option<GpuWaveNetBatch<R>>,
    built: usize,
}

impl<'a, R: Runtime> SplitRenderer<'a, R> {
    /// A renderer of `signals` signals, aiming at `streams` streams per segment. Refuses models
    /// without a finite receptive field (LSTM) with [`crate::NamError::Unsupported`].
    pub fn new(client: &'a ComputeClient<R>, model: &'a dyn Dsp, signals: usize, streams: usize) -> Result<Self> {
        Ok(Self {
            client,
            model,
            splitter: TimeSplitter::new(model, signals, streams)?,
            kernel: KernelChoice::from_env(),
            batch: None,
            built: 0,
        })
    }

    /// Runs the batches with `kernel` (see [`render_kernel`]) instead of `CUBEAUDIO_NAM_KERNEL`'s
    /// or the engine's choice.
    pub fn with_kernel(mut self, kernel: KernelChoice) -> Self {
        self.kernel = kernel;
        self
    }

    /// Context samples a chunk needs before its first kept output.
    pub fn overlap(&self) -> usize {
        self.splitter.overlap()
    }

    /// Batches built so far (a segment of as many chunks as the last reuses its batch).
    pub fn batches_built(&self) -> usize {
        self.built
    }

    /// Renders the next segment of every signal (segments may differ in length; an empty one
    /// gives an empty output). Returns the outputs, the samples the engine replaced because
    /// they were not finite, and the plan it used.
    pub fn render(
        &mut self,
        signals: &[&[f32]],
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<(Vec<Vec<f32>>, u64, SplitPlan)> {
        let started = std::time::Instant::now();
        let cut = self.splitter.cut(signals);
        let plan = cut.plan;
        let windows = cut.windows();
        let buffer = split_buffer().min(plan.window());
        let sliced = started.elapsed();
        let mut batch = match self.batch.take() {
            Some(mut batch) if batch.streams() == plan.chunks && batch.max_buffer() == buffer => {
                batch.reset()?;
                batch
            }
            _ => {
                self.built += 1;
                GpuWaveNetBatch::with_kernel(self.client, &vec![self.model; plan.chunks], buffer, self.kernel)?
            }
        };
        let prepared = started.elapsed();
        let mut outs: Vec<Vec<f32>> = vec![vec![0.0f32; plan.window()]; plan.chunks];
        let total = cut.total();
        // Two buffers in flight: buffer k+1 is uploaded and queued before buffer k is read
        // back, so the host's copies overlap the device's work.
        let mut queued: Option<(PendingBuffer<R>, usize, usize)> = None;
        let mut at = 0;
        while at < plan.window() || queued.is_some() {
            let next = if at < plan.window() {
                let n = buffer.min(plan.window() - at);
                let ins: Vec<&[f32]> = windows.iter().map(|w| &w[at..at + n]).collect();
                let pending = batch.process_async(&ins)?;
                at += n;
                Some((pending, at - n, n))
            } else {
                None
            };
            if let Some((pending, from, n)) = std::mem::replace(&mut queued, next) {
                let mut ys: Vec<&mut [f32]> = outs.iter_mut().map(|o| &mut o[from..from + n]).collect();
                pending.wait(&mut ys)?;
                let kept = (from + n).saturating_sub(plan.overlap) as f64 / plan.chunk as f64;
                progress(((total as f64) * kept.min(1.0)) as usize, total);
            }
        }
        let processed = started.elapsed();
        let rendered = cut.stitch(outs);
        self.batch = Some(batch);
        tracing::debug!(
            ?plan,
            buffer,
            "split render: signals cut in {sliced:?}, batch prepared (plans, uploads, prewarm) by {prepared:?}, processed by {processed:?}, stitched by {:?}",
            started.elapsed()
        );
        Ok((rendered, cut.non_finite(), plan))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_renders_take_the_interpreter_and_long_ones_the_engines_choice() {
        if std::env::var("CUBEAUDIO_NAM_KERNEL").is_ok() {
            // The variable overrides the policy by design; the policy is what is tested here.
            eprintln!("SKIPPED: CUBEAUDIO_NAM_KERNEL is set");
            return;
        }
        assert_eq!(render_kernel(600.0), KernelChoice::Interpreter);
        assert_eq!(render_kernel(COLUMNS_RENDER_SECONDS - 1.0), KernelChoice::Interpreter);
        assert_eq!(render_kernel(COLUMNS_RENDER_SECONDS), KernelChoice::Auto);
    }
}
