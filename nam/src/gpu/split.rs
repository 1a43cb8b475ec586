//! One long signal, fast: a convolutional model's output at a sample depends only on the
//! receptive field before it, so a file can be cut in time into chunks, each chunk a stream of
//! one batch fed `overlap` (≥ receptive field − 1) samples of what precedes it, their warm-up
//! outputs dropped and the rest stitched. Every stream is prewarmed like the streaming render
//! and sees, before each kept output, the same receptive field of input: the result is the
//! streaming render's (the first chunk's missing past is the silence the prewarm plays).
//! LSTMs have no finite receptive field (a recurrence): they cannot be split in time.

use cubecl::prelude::*;

use super::engine::GpuWaveNetBatch;
use crate::dsp::Dsp;
use crate::error::{NamError, Result};

/// Frames per launch of a split render (the output does not depend on it). The engine sizes
/// every layer's ring for its look-back plus a whole buffer (a power of two), so large buffers
/// multiply the histories: at 4096 frames the standard model needs ~8 MB per stream, at 512
/// ~1 MB (docs/PERFORMANCE.md, seventh measurement). `CUBEAUDIO_SPLIT_BUFFER` overrides it
/// for measurements (a power of two from 64 to 4096).
pub const SPLIT_BUFFER: usize = 512;

fn split_buffer() -> usize {
    std::env::var("CUBEAUDIO_SPLIT_BUFFER")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|b| b.is_power_of_two() && (64..=4096).contains(b))
        .unwrap_or(SPLIT_BUFFER)
}
/// Streams a split render aims for unless told: enough to fill an H200's 132 multiprocessors
/// several times over, few enough that the histories stay mostly in L2 (docs/PERFORMANCE.md).
pub const DEFAULT_SPLIT_STREAMS: usize = 512;

/// Streams a split render aims at: `CUBEAUDIO_SPLIT_STREAMS` (for measurements) or
/// [`DEFAULT_SPLIT_STREAMS`].
pub fn split_streams() -> usize {
    std::env::var("CUBEAUDIO_SPLIT_STREAMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(DEFAULT_SPLIT_STREAMS)
}

/// How signals are cut: chunks of `chunk` kept samples, each preceded by `overlap` samples of
/// context, `chunks` streams in all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SplitPlan {
    /// Output samples each stream keeps.
    pub chunk: usize,
    /// Context samples each stream runs before its first kept output.
    pub overlap: usize,
    /// Streams (chunks of every signal together).
    pub chunks: usize,
}

impl SplitPlan {
    /// Chunks for signals of `lengths` samples with a receptive field of `receptive_field`,
    /// aiming at `streams` streams; a chunk keeps at least three overlaps, so the work repeated
    /// for context stays under a third.
    pub fn new(lengths: &[usize], receptive_field: usize, streams: usize) -> Self {
        let overlap = receptive_field.saturating_sub(1);
        let total: usize = lengths.iter().sum();
        let chunk = total.div_ceil(streams.max(1)).max(3 * overlap).max(256);
        let chunks = lengths.iter().map(|&l| l.div_ceil(chunk).max(1)).sum();
        Self { chunk, overlap, chunks }
    }

    /// Samples every stream runs (context and kept).
    pub fn window(&self) -> usize {
        self.overlap + self.chunk
    }

    /// Samples of work per sample of output (1 + overlap / chunk, plus the last chunks' padding).
    pub fn work_ratio(&self, lengths: &[usize]) -> f64 {
        let total: usize = lengths.iter().sum();
        (self.chunks * self.window()) as f64 / total.max(1) as f64
    }
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
    field: usize,
    streams: usize,
    /// Per signal, the last samples rendered (up to the receptive field − 1): the context of
    /// the next segment's first chunk. Empty at the start: the silence the prewarm plays.
    pasts: Vec<Vec<f32>>,
}

impl<'a, R: Runtime> SplitRenderer<'a, R> {
    /// A renderer of `signals` signals, aiming at `streams` streams per segment. Refuses models
    /// without a finite receptive field (LSTM) with [`NamError::Unsupported`].
    pub fn new(client: &'a ComputeClient<R>, model: &'a dyn Dsp, signals: usize, streams: usize) -> Result<Self> {
        let Some(field) = model.receptive_field() else {
            return Err(NamError::Unsupported {
                architecture: "LSTM".into(),
                reason: "a recurrence has no finite receptive field, so it cannot be split in time; stream it".into(),
            });
        };
        Ok(Self { client, model, field, streams, pasts: vec![Vec::new(); signals] })
    }

    /// Context samples a chunk needs before its first kept output.
    pub fn overlap(&self) -> usize {
        self.field.saturating_sub(1)
    }

    /// Renders the next segment of every signal (segments may differ in length; an empty one
    /// gives an empty output). Returns the outputs, the samples the engine replaced because
    /// they were not finite, and the plan it used.
    pub fn render(
        &mut self,
        signals: &[&[f32]],
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<(Vec<Vec<f32>>, u64, SplitPlan)> {
        assert_eq!(signals.len(), self.pasts.len(), "one segment per signal");
        let (client, model) = (self.client, self.model);
        let started = std::time::Instant::now();
        let lengths: Vec<usize> = signals.iter().map(|s| s.len()).collect();
        let plan = SplitPlan::new(&lengths, self.field, self.streams);
        // Each signal with `overlap` samples of context before it (what preceded it, silence
        // at the start) and zeros after it up to whole chunks; streams read windows of it.
        let padded: Vec<Vec<f32>> = signals
            .iter()
            .zip(&self.pasts)
            .map(|(s, past)| {
                let chunks = s.len().div_ceil(plan.chunk).max(1);
                let mut v = vec![0.0f32; plan.overlap + chunks * plan.chunk];
                v[plan.overlap - past.len()..plan.overlap].copy_from_slice(past);
                v[plan.overlap..plan.overlap + s.len()].copy_from_slice(s);
                v
            })
            .collect();
        for ((past, p), s) in self.pasts.iter_mut().zip(&padded).zip(signals) {
            let end = plan.overlap + s.len();
            *past = p[end - plan.overlap..end].to_vec();
        }
        let windows: Vec<&[f32]> = padded
            .iter()
            .flat_map(|p| {
                (0..(p.len() - plan.overlap) / plan.chunk)
                    .map(move |j| &p[j * plan.chunk..j * plan.chunk + plan.window()])
            })
            .collect();
        debug_assert_eq!(windows.len(), plan.chunks);
        let buffer = split_buffer().min(plan.window());
        let sliced = started.elapsed();
        let mut batch = GpuWaveNetBatch::new(client, &vec![model; plan.chunks], buffer)?;
        let prepared = started.elapsed();
        let mut outs: Vec<Vec<f32>> = vec![vec![0.0f32; plan.window()]; plan.chunks];
        let total: usize = lengths.iter().sum();
        let mut at = 0;
        while at < plan.window() {
            let n = buffer.min(plan.window() - at);
            let ins: Vec<&[f32]> = windows.iter().map(|w| &w[at..at + n]).collect();
            let mut ys: Vec<&mut [f32]> = outs.iter_mut().map(|o| &mut o[at..at + n]).collect();
            batch.process(&ins, &mut ys)?;
            at += n;
            let kept = at.saturating_sub(plan.overlap) as f64 / plan.chunk as f64;
            progress(((total as f64) * kept.min(1.0)) as usize, total);
        }
        let processed = started.elapsed();
        let mut streams = outs.into_iter();
        let rendered = lengths
            .iter()
            .map(|&len| {
                let mut y = Vec::with_capacity(len);
                for o in streams.by_ref().take(len.div_ceil(plan.chunk).max(1)) {
                    y.extend_from_slice(&o[plan.overlap..]);
                }
                y.truncate(len);
                y
            })
            .collect();
        tracing::debug!(
            ?plan,
            buffer,
            "split render: signals cut in {sliced:?}, batch prepared (plans, uploads, prewarm) by {prepared:?}, processed by {processed:?}, stitched by {:?}",
            started.elapsed()
        );
        // Context samples are read by two streams: count the signals' own non-finite samples once.
        let sanitized = signals.iter().flat_map(|s| s.iter()).filter(|v| !v.is_finite()).count() as u64;
        Ok((rendered, sanitized, plan))
    }
}
