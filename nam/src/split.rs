//! One long signal, cut in time: a convolutional model's output at a sample depends only on the
//! receptive field before it, so a signal can be cut into chunks, each run by its own instance
//! fed `overlap` (receptive field − 1) samples of what precedes it, its warm-up outputs dropped
//! and the rest stitched. Every instance is prewarmed like the streaming render and sees, before
//! each kept output, the same receptive field of input: the result is the streaming render's
//! (the first chunk's missing past is the silence the prewarm plays). LSTMs have no finite
//! receptive field (a recurrence): they cannot be split in time.
//!
//! [`TimeSplitter`] does the cutting and stitching for both engines: the GPU runs the chunks as
//! the streams of one batch ([`crate::gpu::split`]), the CPU on threads ([`render_on_threads`]).

use crate::dsp::Dsp;
use crate::error::{NamError, Result};
use crate::model::Model;

/// How signals are cut: chunks of `chunk` kept samples, each preceded by `overlap` samples of
/// context, `chunks` chunks in all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SplitPlan {
    /// Output samples each chunk keeps.
    pub chunk: usize,
    /// Context samples each chunk runs before its first kept output.
    pub overlap: usize,
    /// Chunks of every signal together.
    pub chunks: usize,
}

impl SplitPlan {
    /// Chunks for signals of `lengths` samples with a receptive field of `receptive_field`,
    /// aiming at `streams` chunks; a chunk keeps at least three overlaps, so the work repeated
    /// for context stays under a third. Each signal gets chunks in proportion to its length
    /// (rounded down, at least one), so signals of equal length cut without padding.
    pub fn new(lengths: &[usize], receptive_field: usize, streams: usize) -> Self {
        let overlap = receptive_field.saturating_sub(1);
        let total: usize = lengths.iter().sum();
        let share = |l: usize| ((streams.max(1) as u128 * l as u128) / total.max(1) as u128).max(1) as usize;
        let chunk = lengths.iter().map(|&l| l.div_ceil(share(l))).max().unwrap_or(0).max(3 * overlap).max(256);
        let chunks = lengths.iter().map(|&l| l.div_ceil(chunk).max(1)).sum();
        Self { chunk, overlap, chunks }
    }

    /// Samples every chunk runs (context and kept).
    pub fn window(&self) -> usize {
        self.overlap + self.chunk
    }

    /// Samples of work per sample of output (1 + overlap / chunk, plus the last chunks' padding).
    pub fn work_ratio(&self, lengths: &[usize]) -> f64 {
        let total: usize = lengths.iter().sum();
        (self.chunks * self.window()) as f64 / total.max(1) as f64
    }
}

/// Cuts signals that arrive in segments (a long file read block by block) into chunks: each
/// [`TimeSplitter::cut`] continues every signal where the previous one stopped, its first
/// chunk given the last `overlap` samples before it as context, so the stitched outputs of the
/// segments, joined, are the whole signal's while memory holds one segment.
#[derive(Debug, Clone)]
pub struct TimeSplitter {
    field: usize,
    chunks: usize,
    /// Per signal, the last samples cut (up to the receptive field − 1): the context of the
    /// next segment's first chunk. Empty at the start: the silence the prewarm plays.
    pasts: Vec<Vec<f32>>,
}

/// One segment of every signal, cut: each signal padded with its context before and zeros up to
/// whole chunks after; the chunks are windows of it.
#[derive(Debug)]
pub struct Cut {
    /// How the segment was cut.
    pub plan: SplitPlan,
    lengths: Vec<usize>,
    padded: Vec<Vec<f32>>,
}

impl TimeSplitter {
    /// A splitter of `signals` signals through `model`, aiming at `chunks` chunks per segment.
    /// Refuses models without a finite receptive field (LSTM) with [`NamError::Unsupported`].
    pub fn new(model: &dyn Dsp, signals: usize, chunks: usize) -> Result<Self> {
        let Some(field) = model.receptive_field() else {
            return Err(NamError::Unsupported {
                architecture: "LSTM".into(),
                reason: "a recurrence has no finite receptive field, so it cannot be split in time; stream it".into(),
            });
        };
        Ok(Self { field, chunks, pasts: vec![Vec::new(); signals] })
    }

    /// Context samples a chunk needs before its first kept output.
    pub fn overlap(&self) -> usize {
        self.field.saturating_sub(1)
    }

    /// Cuts the next segment of every signal (segments may differ in length).
    pub fn cut(&mut self, signals: &[&[f32]]) -> Cut {
        assert_eq!(signals.len(), self.pasts.len(), "one segment per signal");
        let lengths: Vec<usize> = signals.iter().map(|s| s.len()).collect();
        let plan = SplitPlan::new(&lengths, self.field, self.chunks);
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
        Cut { plan, lengths, padded }
    }
}

impl Cut {
    /// The chunks' input windows (context, then the kept part), signal by signal.
    pub fn windows(&self) -> Vec<&[f32]> {
        let plan = self.plan;
        let windows: Vec<&[f32]> = self
            .padded
            .iter()
            .flat_map(|p| {
                (0..(p.len() - plan.overlap) / plan.chunk)
                    .map(move |j| &p[j * plan.chunk..j * plan.chunk + plan.window()])
            })
            .collect();
        debug_assert_eq!(windows.len(), plan.chunks);
        windows
    }

    /// Samples of the segment, all signals together.
    pub fn total(&self) -> usize {
        self.lengths.iter().sum()
    }

    /// Every signal's output from the chunks' outputs (one per window, in order, each the
    /// window's length): their warm-up dropped, the rest joined and cut to the signal's length.
    pub fn stitch(&self, outs: Vec<Vec<f32>>) -> Vec<Vec<f32>> {
        let plan = self.plan;
        let mut chunks = outs.into_iter();
        self.lengths
            .iter()
            .map(|&len| {
                let mut y = Vec::with_capacity(len);
                for o in chunks.by_ref().take(len.div_ceil(plan.chunk).max(1)) {
                    y.extend_from_slice(&o[plan.overlap..]);
                }
                y.truncate(len);
                y
            })
            .collect()
    }

    /// The signals' own non-finite samples (context samples are read by two chunks: counted
    /// once, where they belong).
    pub fn non_finite(&self) -> u64 {
        let plan = self.plan;
        self.padded
            .iter()
            .zip(&self.lengths)
            .flat_map(|(p, &len)| &p[plan.overlap..plan.overlap + len])
            .filter(|v| !v.is_finite())
            .count() as u64
    }
}

/// Runs every window of `cut` through `models` (one per thread, each cleared — state zeroed
/// and prewarmed, as a fresh instance after its reset — before every window) in blocks of
/// `buffer` frames; returns the stitched outputs. Threads take the next window as they finish
/// one, so a slower thread (a busy core) takes fewer.
pub fn render_on_threads(cut: &Cut, models: &mut [Model], buffer: usize) -> Result<Vec<Vec<f32>>> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let windows = cut.windows();
    let next = AtomicUsize::new(0);
    let results: Vec<Vec<(usize, Vec<f32>)>> = std::thread::scope(|scope| {
        let jobs: Vec<_> = models
            .iter_mut()
            .take(windows.len().max(1))
            .map(|model| {
                let (windows, next) = (&windows, &next);
                scope.spawn(move || -> Result<Vec<(usize, Vec<f32>)>> {
                    let mut done = Vec::new();
                    loop {
                        let k = next.fetch_add(1, Ordering::Relaxed);
                        let Some(x) = windows.get(k) else { return Ok(done) };
                        model.clear()?;
                        let mut y = vec![0.0; x.len()];
                        for (xb, yb) in x.chunks(buffer).zip(y.chunks_mut(buffer)) {
                            model.process(xb, yb);
                        }
                        done.push((k, y));
                    }
                })
            })
            .collect();
        jobs.into_iter().map(|j| j.join().expect("a render thread panicked")).collect::<Result<_>>()
    })?;
    let mut outs = vec![Vec::new(); windows.len()];
    for (k, y) in results.into_iter().flatten() {
        outs[k] = y;
    }
    Ok(cut.stitch(outs))
}
