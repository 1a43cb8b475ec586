//! Layer types shared by the convolutional architectures (WaveNet, ConvNet): Conv1x1, causal
//! dilated Conv1D over a history buffer, and WaveNet's FiLM.

use crate::error::Result;
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
/// rest. The convs run every output row over one block before the next block, so the inputs
/// a block reads stay in L1 whatever the buffer size, and keep a row's sums in registers across
/// all their terms, so each output is
/// read and written once per block instead of once per term (an axpy per term, the first
/// version, moved the output row through memory every time: 2.2× slower on the standard model). Every output still sums its terms in the same order.
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

/// `acc += w · x`, element by element; one rounding per element when `FUSED` (only inside
/// functions compiled for FMA, where `mul_add` is one instruction).
#[inline(always)]
fn fma_block<const F: usize, const FUSED: bool>(acc: &mut [f32; F], w: f32, x: &[f32; F]) {
    for (a, v) in acc.iter_mut().zip(x) {
        *a = if FUSED { w.mul_add(*v, *a) } else { *a + w * v };
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
        init_rows(output, self.bias.as_deref(), self.out_channels(), frames);
        #[cfg(target_arch = "x86_64")]
        if crate::simd::fused() {
            // SAFETY: `fused()` is true only where the CPU has AVX2 and FMA.
            unsafe { self.rows_fused(input, output, frames) };
            return;
        }
        self.rows::<false>(input, output, frames);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn rows_fused(&self, input: &[f32], output: &mut [f32], frames: usize) {
        self.rows::<true>(input, output, frames);
    }

    #[inline(always)]
    fn rows<const FUSED: bool>(&self, input: &[f32], output: &mut [f32], frames: usize) {
        let output = &mut output[..self.out_channels() * frames];
        for_frame_blocks(frames, |t0, f| {
            let mut paired = 0;
            if FUSED && f == 32 {
                for (p, ys) in output.chunks_exact_mut(2 * frames).enumerate() {
                    let (y0, y1) = ys.split_at_mut(frames);
                    self.pair_block(2 * p, y0, y1, t0, input, frames);
                }
                paired = output.len() / (2 * frames) * 2;
            }
            for (o, y) in output.chunks_exact_mut(frames).enumerate().skip(paired) {
                match f {
                    32 => self.row_block::<32, FUSED>(o, y, t0, input, frames),
                    16 => self.row_block::<16, FUSED>(o, y, t0, input, frames),
                    8 => self.row_block::<8, FUSED>(o, y, t0, input, frames),
                    4 => self.row_block::<4, FUSED>(o, y, t0, input, frames),
                    _ => self.row_block::<1, FUSED>(o, y, t0, input, frames),
                }
            }
        });
    }

    /// `y[t0..t0 + F] += Σ_i W[o, i] · input[i][t0..t0 + F]`, inputs in order, the `F` sums in
    /// registers.
    #[inline(always)]
    fn row_block<const F: usize, const FUSED: bool>(
        &self,
        o: usize,
        y: &mut [f32],
        t0: usize,
        input: &[f32],
        frames: usize,
    ) {
        let mut acc = [0.0f32; F];
        acc.copy_from_slice(&y[t0..t0 + F]);
        for i in 0..self.in_channels() {
            let w = self.weight.at(o, i);
            if w != 0.0 {
                let at = i * frames + t0;
                let x: &[f32; F] = input[at..at + F].try_into().expect("F frames");
                fma_block::<F, FUSED>(&mut acc, w, x);
            }
        }
        y[t0..t0 + F].copy_from_slice(&acc);
    }

    /// [`Self::row_block`] for rows `o` and `o + 1` over 32 frames at once (the FMA path): each
    /// input load feeds both rows' multiply-adds.
    #[inline(always)]
    fn pair_block(&self, o: usize, y0: &mut [f32], y1: &mut [f32], t0: usize, input: &[f32], frames: usize) {
        let (mut a0, mut a1) = ([0.0f32; 32], [0.0f32; 32]);
        a0.copy_from_slice(&y0[t0..t0 + 32]);
        a1.copy_from_slice(&y1[t0..t0 + 32]);
        for i in 0..self.in_channels() {
            let (w0, w1) = (self.weight.at(o, i), self.weight.at(o + 1, i));
            let at = i * frames + t0;
            let x: &[f32; 32] = input[at..at + 32].try_into().expect("32 frames");
            if w0 != 0.0 {
                fma_block::<32, true>(&mut a0, w0, x);
            }
            if w1 != 0.0 {
                fma_block::<32, true>(&mut a1, w1, x);
            }
        }
        y0[t0..t0 + 32].copy_from_slice(&a0);
        y1[t0..t0 + 32].copy_from_slice(&a1);
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
        init_rows(output, self.bias.as_deref(), self.out_channels(), frames);
        #[cfg(target_arch = "x86_64")]
        if crate::simd::fused() {
            // SAFETY: `fused()` is true only where the CPU has AVX2 and FMA.
            unsafe { self.rows_fused(output, frames, start) };
            return;
        }
        self.rows::<false>(output, frames, start);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn rows_fused(&self, output: &mut [f32], frames: usize, start: usize) {
        self.rows::<true>(output, frames, start);
    }

    #[inline(always)]
    fn rows<const FUSED: bool>(&self, output: &mut [f32], frames: usize, start: usize) {
        let output = &mut output[..self.out_channels() * frames];
        for_frame_blocks(frames, |t0, f| {
            let mut paired = 0;
            if FUSED && f == 32 {
                for (p, ys) in output.chunks_exact_mut(2 * frames).enumerate() {
                    let (y0, y1) = ys.split_at_mut(frames);
                    self.pair_block(2 * p, y0, y1, t0, start);
                }
                paired = output.len() / (2 * frames) * 2;
            }
            for (o, y) in output.chunks_exact_mut(frames).enumerate().skip(paired) {
                match f {
                    32 => self.row_block::<32, FUSED>(o, y, t0, start),
                    16 => self.row_block::<16, FUSED>(o, y, t0, start),
                    8 => self.row_block::<8, FUSED>(o, y, t0, start),
                    4 => self.row_block::<4, FUSED>(o, y, t0, start),
                    _ => self.row_block::<1, FUSED>(o, y, t0, start),
                }
            }
        });
    }

    /// `y[t0..t0 + F] += Σ_tap Σ_i W_tap[o, i] · x_i[t0 + F frames back by the tap]`, taps then
    /// inputs in order, the `F` sums in registers.
    #[inline(always)]
    fn row_block<const F: usize, const FUSED: bool>(&self, o: usize, y: &mut [f32], t0: usize, start: usize) {
        let k = self.taps.len();
        let mut acc = [0.0f32; F];
        acc.copy_from_slice(&y[t0..t0 + F]);
        for (tap, w) in self.taps.iter().enumerate() {
            let from = start + t0 - self.dilation * (k - 1 - tap);
            for i in 0..w.cols {
                let wv = w.at(o, i);
                // Grouped convs are stored dense: skip their structural zeros.
                if wv != 0.0 {
                    let x: &[f32; F] = self.history.row(i, from, F).try_into().expect("F frames");
                    fma_block::<F, FUSED>(&mut acc, wv, x);
                }
            }
        }
        y[t0..t0 + F].copy_from_slice(&acc);
    }

    /// [`Self::row_block`] for rows `o` and `o + 1` over 32 frames at once (the FMA path): each
    /// history load feeds both rows' multiply-adds.
    #[inline(always)]
    fn pair_block(&self, o: usize, y0: &mut [f32], y1: &mut [f32], t0: usize, start: usize) {
        let k = self.taps.len();
        let (mut a0, mut a1) = ([0.0f32; 32], [0.0f32; 32]);
        a0.copy_from_slice(&y0[t0..t0 + 32]);
        a1.copy_from_slice(&y1[t0..t0 + 32]);
        for (tap, w) in self.taps.iter().enumerate() {
            let from = start + t0 - self.dilation * (k - 1 - tap);
            for i in 0..w.cols {
                let (w0, w1) = (w.at(o, i), w.at(o + 1, i));
                let x: &[f32; 32] = self.history.row(i, from, 32).try_into().expect("32 frames");
                // Grouped convs are stored dense: skip their structural zeros.
                if w0 != 0.0 {
                    fma_block::<32, true>(&mut a0, w0, x);
                }
                if w1 != 0.0 {
                    fma_block::<32, true>(&mut a1, w1, x);
                }
            }
        }
        y0[t0..t0 + 32].copy_from_slice(&a0);
        y1[t0..t0 + 32].copy_from_slice(&a1);
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
