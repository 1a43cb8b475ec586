//! Layer types shared by the convolutional architectures (WaveNet, ConvNet): Conv1x1, causal
//! dilated Conv1D over a history buffer, and WaveNet's FiLM.

use crate::error::Result;
use crate::simd::fma_block;
use crate::weights::{read_grouped, Matrix, WeightReader};

/// Input history of a causal conv, planar: one row per channel holding `lookback` past frames
/// then the current block. When a row fills, its last `lookback` frames move to the front (no
/// allocation).
#[derive(Debug, Clone, Default)]
pub struct History {
    channels: usize,
    lookback: usize,
    stride: usize,
    data: Vec<f32>,
    /// Column where the next block is written.
    pos: usize,
}

impl History {
    /// An empty history of `channels` rows reaching `lookback` frames back.
    pub fn new(channels: usize, lookback: usize) -> Self {
        Self { channels, lookback, stride: 0, data: Vec::new(), pos: lookback }
    }

    /// Floats `prepare(max_frames)` allocates.
    pub fn floats(&self, max_frames: usize) -> usize {
        (self.lookback + 4 * max_frames.max(1)).saturating_mul(self.channels)
    }

    /// Sizes the rows for blocks of up to `max_frames`.
    pub fn prepare(&mut self, max_frames: usize) {
        self.stride = self.lookback + 4 * max_frames.max(1);
        self.data = vec![0.0; self.stride * self.channels];
        self.pos = self.lookback;
    }

    /// Zeroes the history.
    pub fn clear(&mut self) {
        self.data.fill(0.0);
        self.pos = self.lookback;
    }

    /// Stores a planar block and returns the column of its first frame.
    pub fn write(&mut self, block: &[f32], frames: usize) -> usize {
        if self.pos + frames > self.stride {
            for row in self.data.chunks_exact_mut(self.stride) {
                row.copy_within(self.pos - self.lookback..self.pos, 0);
            }
            self.pos = self.lookback;
        }
        let start = self.pos;
        for (row, src) in self.data.chunks_exact_mut(self.stride).zip(block.chunks_exact(frames)) {
            row[start..start + frames].copy_from_slice(src);
        }
        self.pos += frames;
        start
    }

    /// `frames` frames of channel `c` starting at column `from`.
    #[inline]
    pub fn row(&self, c: usize, from: usize, frames: usize) -> &[f32] {
        &self.data[c * self.stride + from..c * self.stride + from + frames]
    }
}

/// Calls `block(t0, F)` over `0..frames` in blocks of 32 frames, then 16, 8, 4 and 1 for the
/// rest. The convs run every output row over one block before the next block, so the inputs a
/// block reads stay in L1 whatever the buffer size, and keep a row's sums in registers across
/// all their terms, so each output is read and written once per block instead of once per term
/// (an axpy per term, the first version, moved the output row through memory every time: 2.2×
/// slower on the standard model). Every output still sums its terms in the same order.
#[inline(always)]
fn for_frame_blocks(frames: usize, mut block: impl FnMut(usize, usize)) {
    let mut t0 = 0;
    while t0 < frames {
        let f = match frames - t0 {
            n if n >= 32 => 32,
            n if n >= 16 => 16,
            n if n >= 8 => 8,
            n if n >= 4 => 4,
            _ => 1,
        };
        block(t0, f);
        t0 += f;
    }
}

/// What a conv sums into an output row over a block of frames: `(weight, input block)` terms,
/// always in the same order. Both convs are written as terms; [`conv_rows`] does the blocking,
/// the register sums and the choice of arithmetic path for them.
trait RowTerms {
    /// Calls `term(w, x)` for every term of output row `o` over frames `[t0, t0 + F)`, in order.
    fn terms<const F: usize>(&self, o: usize, t0: usize, term: impl FnMut(f32, &[f32; F]));
    /// The same for rows `o` and `o + 1` together: `term(w_o, w_o+1, x)`.
    fn pair_terms<const F: usize>(&self, o: usize, t0: usize, term: impl FnMut(f32, f32, &[f32; F]));
}

/// Adds every output row's terms to `output` (`rows × frames`, planar, holding the biases).
fn conv_rows<K: RowTerms>(k: &K, output: &mut [f32], rows: usize, frames: usize) {
    #[cfg(target_arch = "x86_64")]
    if crate::simd::fused() {
        // SAFETY: `fused()` is true only where the CPU has AVX2 and FMA.
        unsafe { conv_rows_fused(k, output, rows, frames) };
        return;
    }
    blocked_rows::<K, false>(k, output, rows, frames);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn conv_rows_fused<K: RowTerms>(k: &K, output: &mut [f32], rows: usize, frames: usize) {
    blocked_rows::<K, true>(k, output, rows, frames);
}

/// On the FMA path, 32-frame blocks go two output rows at a time (each input load feeds both
/// rows' multiply-adds: +30–35 % on nano and 32/12, docs/PERFORMANCE.md).
#[inline(always)]
fn blocked_rows<K: RowTerms, const FUSED: bool>(k: &K, output: &mut [f32], rows: usize, frames: usize) {
    let output = &mut output[..rows * frames];
    for_frame_blocks(frames, |t0, f| {
        let mut paired = 0;
        if FUSED && f == 32 {
            for (p, ys) in output.chunks_exact_mut(2 * frames).enumerate() {
                let (y0, y1) = ys.split_at_mut(frames);
                pair_block(k, 2 * p, y0, y1, t0);
            }
            paired = rows / 2 * 2;
        }
        for (o, y) in output.chunks_exact_mut(frames).enumerate().skip(paired) {
            match f {
                32 => row_block::<K, 32, FUSED>(k, o, y, t0),
                16 => row_block::<K, 16, FUSED>(k, o, y, t0),
                8 => row_block::<K, 8, FUSED>(k, o, y, t0),
                4 => row_block::<K, 4, FUSED>(k, o, y, t0),
                _ => row_block::<K, 1, FUSED>(k, o, y, t0),
            }
        }
    });
}

/// `y[t0..t0 + F] += ` row `o`'s terms, the `F` sums in registers. Zero weights are skipped:
/// grouped convs are stored dense, with structural zeros.
#[inline(always)]
fn row_block<K: RowTerms, const F: usize, const FUSED: bool>(k: &K, o: usize, y: &mut [f32], t0: usize) {
    let mut acc = [0.0f32; F];
    acc.copy_from_slice(&y[t0..t0 + F]);
    k.terms::<F>(o, t0, |w, x| {
        if w != 0.0 {
            fma_block::<F, FUSED>(&mut acc, w, x);
        }
    });
    y[t0..t0 + F].copy_from_slice(&acc);
}

/// [`row_block`] for rows `o` and `o + 1` over 32 frames on the FMA path.
#[inline(always)]
fn pair_block<K: RowTerms>(k: &K, o: usize, y0: &mut [f32], y1: &mut [f32], t0: usize) {
    let (mut a0, mut a1) = ([0.0f32; 32], [0.0f32; 32]);
    a0.copy_from_slice(&y0[t0..t0 + 32]);
    a1.copy_from_slice(&y1[t0..t0 + 32]);
    k.pair_terms::<32>(o, t0, |w0, w1, x| {
        if w0 != 0.0 {
            fma_block::<32, true>(&mut a0, w0, x);
        }
        if w1 != 0.0 {
            fma_block::<32, true>(&mut a1, w1, x);
        }
    });
    y0[t0..t0 + 32].copy_from_slice(&a0);
    y1[t0..t0 + 32].copy_from_slice(&a1);
}

/// A [`Conv1x1`] over one planar input block.
struct MixTerms<'a> {
    conv: &'a Conv1x1,
    input: &'a [f32],
    frames: usize,
}

impl RowTerms for MixTerms<'_> {
    #[inline(always)]
    fn terms<const F: usize>(&self, o: usize, t0: usize, mut term: impl FnMut(f32, &[f32; F])) {
        for i in 0..self.conv.in_channels() {
            let at = i * self.frames + t0;
            term(self.conv.weight.at(o, i), self.input[at..at + F].try_into().expect("F frames"));
        }
    }
    #[inline(always)]
    fn pair_terms<const F: usize>(&self, o: usize, t0: usize, mut term: impl FnMut(f32, f32, &[f32; F])) {
        let w = &self.conv.weight;
        for i in 0..self.conv.in_channels() {
            let at = i * self.frames + t0;
            term(w.at(o, i), w.at(o + 1, i), self.input[at..at + F].try_into().expect("F frames"));
        }
    }
}

/// A [`Conv1D`] over its history, the block written at `start`.
struct DilatedTerms<'a> {
    conv: &'a Conv1D,
    start: usize,
}

impl DilatedTerms<'_> {
    /// Where tap `tap`'s inputs for frame `t0` begin in the history.
    #[inline(always)]
    fn from(&self, tap: usize, t0: usize) -> usize {
        self.start + t0 - self.conv.dilation * (self.conv.taps.len() - 1 - tap)
    }
}

impl RowTerms for DilatedTerms<'_> {
    #[inline(always)]
    fn terms<const F: usize>(&self, o: usize, t0: usize, mut term: impl FnMut(f32, &[f32; F])) {
        for (tap, w) in self.conv.taps.iter().enumerate() {
            let from = self.from(tap, t0);
            for i in 0..w.cols {
                term(w.at(o, i), self.conv.history.row(i, from, F).try_into().expect("F frames"));
            }
        }
    }
    #[inline(always)]
    fn pair_terms<const F: usize>(&self, o: usize, t0: usize, mut term: impl FnMut(f32, f32, &[f32; F])) {
        for (tap, w) in self.conv.taps.iter().enumerate() {
            let from = self.from(tap, t0);
            for i in 0..w.cols {
                term(w.at(o, i), w.at(o + 1, i), self.conv.history.row(i, from, F).try_into().expect("F frames"));
            }
        }
    }
}

/// Fills each output row with its bias (or zero).
#[inline]
fn init_rows(output: &mut [f32], bias: Option<&[f32]>, rows: usize, frames: usize) {
    for (o, row) in output[..rows * frames].chunks_exact_mut(frames).enumerate() {
        row.fill(bias.map_or(0.0, |b| b[o]));
    }
}

/// `y = W·x (+ b)`, block-diagonal groups stored dense.
#[derive(Debug, Clone)]
pub struct Conv1x1 {
    /// `out × in` weights.
    pub weight: Matrix,
    /// One bias per output channel.
    pub bias: Option<Vec<f32>>,
}

impl Conv1x1 {
    /// Reads `out × in` weights (grouped as the file stores them) and the bias.
    pub fn read(r: &mut WeightReader, inp: usize, out: usize, groups: usize, bias: bool) -> Result<Self> {
        let weight = read_grouped(r, out, inp, 1, groups)?.remove(0);
        let bias = if bias { Some(r.take(out)?.to_vec()) } else { None };
        Ok(Self { weight, bias })
    }

    /// Rows of W.
    pub fn out_channels(&self) -> usize {
        self.weight.rows
    }

    /// Columns of W.
    pub fn in_channels(&self) -> usize {
        self.weight.cols
    }

    /// The top-left `out × inp` corner (a slimmed copy).
    pub fn slice(&self, out: usize, inp: usize) -> Self {
        Self { weight: self.weight.slice(out, inp), bias: self.bias.as_ref().map(|b| b[..out].to_vec()) }
    }

    /// Planar block in (`in × frames`), planar block out (overwritten).
    pub fn process(&self, input: &[f32], output: &mut [f32], frames: usize) {
        let rows = self.out_channels();
        init_rows(output, self.bias.as_deref(), rows, frames);
        conv_rows(&MixTerms { conv: self, input, frames }, output, rows, frames);
    }

    /// Multiply-accumulates per frame.
    pub fn macs(&self) -> usize {
        self.weight.rows * self.weight.cols
    }
}

/// Causal dilated Conv1D: `y[t] = b + Σ_k W_k · x[t − d·(K−1−k)]`.
#[derive(Debug, Clone)]
pub struct Conv1D {
    /// One `out × in` matrix per tap, oldest tap first.
    pub taps: Vec<Matrix>,
    /// One bias per output channel.
    pub bias: Option<Vec<f32>>,
    /// Distance between taps, in frames.
    pub dilation: usize,
    history: History,
}

impl Conv1D {
    /// Reads the taps (grouped as the file stores them) and the bias.
    #[allow(clippy::too_many_arguments)]
    pub fn read(
        r: &mut WeightReader,
        inp: usize,
        out: usize,
        kernel: usize,
        dilation: usize,
        groups: usize,
        bias: bool,
    ) -> Result<Self> {
        let taps = read_grouped(r, out, inp, kernel, groups)?;
        let bias = if bias { Some(r.take(out)?.to_vec()) } else { None };
        Ok(Self::from_parts(taps, bias, dilation))
    }

    /// A convolution from its parts, with an empty history.
    pub fn from_parts(taps: Vec<Matrix>, bias: Option<Vec<f32>>, dilation: usize) -> Self {
        let inp = taps[0].cols;
        let lookback = dilation * (taps.len() - 1);
        Self { taps, bias, dilation, history: History::new(inp, lookback) }
    }

    /// Taps (K).
    pub fn kernel_size(&self) -> usize {
        self.taps.len()
    }

    /// Frames of history one output reaches back.
    pub fn lookback(&self) -> usize {
        self.dilation * (self.taps.len() - 1)
    }

    /// Input channels.
    pub fn in_channels(&self) -> usize {
        self.taps[0].cols
    }

    /// Output channels.
    pub fn out_channels(&self) -> usize {
        self.taps[0].rows
    }

    /// The top-left `out × inp` corner of every tap (a slimmed copy).
    pub fn slice(&self, out: usize, inp: usize) -> Self {
        Self::from_parts(
            self.taps.iter().map(|m| m.slice(out, inp)).collect(),
            self.bias.as_ref().map(|b| b[..out].to_vec()),
            self.dilation,
        )
    }

    /// Floats of history `prepare(max_frames)` allocates.
    pub fn state_floats(&self, max_frames: usize) -> usize {
        self.history.floats(max_frames)
    }

    /// Sizes the history for blocks of up to `max_frames`.
    pub fn prepare(&mut self, max_frames: usize) {
        self.history.prepare(max_frames);
    }

    /// Zeroes the history.
    pub fn clear(&mut self) {
        self.history.clear();
    }

    /// Planar block in (`in × frames`), planar block out (`out × frames`).
    pub fn process(&mut self, input: &[f32], output: &mut [f32], frames: usize) {
        let start = self.history.write(input, frames);
        let rows = self.out_channels();
        init_rows(output, self.bias.as_deref(), rows, frames);
        conv_rows(&DilatedTerms { conv: self, start }, output, rows, frames);
    }

    /// Multiply-accumulates per frame.
    pub fn macs(&self) -> usize {
        self.taps.iter().map(|m| m.rows * m.cols).sum()
    }
}

/// Feature-wise modulation by the condition: `x ⊙ s[0:dim] (+ s[dim:2dim])`, `s = P(c)`.
#[derive(Debug, Clone)]
pub struct Film {
    /// Maps the condition to the scale (and shift) rows.
    pub projection: Conv1x1,
    /// Whether the projection also gives a shift.
    pub shift: bool,
    /// Rows modulated.
    pub dim: usize,
}

impl Film {
    /// Reads the projection from the weights.
    pub fn read(r: &mut WeightReader, cond: usize, dim: usize, shift: bool, groups: usize) -> Result<Self> {
        let out = if shift { 2 * dim } else { dim };
        Ok(Self { projection: Conv1x1::read(r, cond, out, groups, true)?, shift, dim })
    }

    /// Slices to a smaller `dim` by taking the leading rows of the projection (core quirk:
    /// with shift these are not matched scale/shift pairs, SPEC §9.2).
    pub fn slice(&self, dim: usize) -> Self {
        let rows = if self.shift { 2 * dim } else { dim };
        Self { projection: self.projection.slice(rows, self.projection.in_channels()), shift: self.shift, dim }
    }

    /// Modulates `x` (planar, `dim` rows) in place; `scratch` holds `rows × frames` floats.
    pub fn apply(&self, x: &mut [f32], cond: &[f32], scratch: &mut [f32], frames: usize) {
        let rows = self.projection.out_channels();
        self.projection.process(cond, scratch, frames);
        let (scale, shift) = scratch[..rows * frames].split_at(self.dim * frames);
        for (j, v) in x[..self.dim * frames].iter_mut().enumerate() {
            *v *= scale[j];
            if self.shift {
                *v += shift[j];
            }
        }
    }
}
