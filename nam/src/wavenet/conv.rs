//! Conv1x1, causal dilated Conv1D over a history buffer, and FiLM.

use crate::error::Result;
use crate::weights::{read_grouped, Matrix, WeightReader};

/// Input history of a causal conv: frame-major, with `lookback` frames kept before the block.
/// When the buffer fills, the last `lookback` frames are moved to the front (no allocation).
#[derive(Debug, Clone, Default)]
pub struct History {
    channels: usize,
    lookback: usize,
    data: Vec<f32>,
    /// Frame index where the next block is written.
    pos: usize,
}

impl History {
    pub fn new(channels: usize, lookback: usize) -> Self {
        Self { channels, lookback, data: Vec::new(), pos: lookback }
    }

    pub fn prepare(&mut self, max_frames: usize) {
        let capacity = self.lookback + 4 * max_frames.max(1);
        self.data = vec![0.0; capacity * self.channels];
        self.pos = self.lookback;
    }

    pub fn clear(&mut self) {
        self.data.fill(0.0);
        self.pos = self.lookback;
    }

    /// Stores a block and returns the frame index of its first frame.
    pub fn write(&mut self, block: &[f32], frames: usize) -> usize {
        let c = self.channels;
        if (self.pos + frames) * c > self.data.len() {
            let from = (self.pos - self.lookback) * c;
            self.data.copy_within(from..self.pos * c, 0);
            self.pos = self.lookback;
        }
        let start = self.pos;
        self.data[start * c..(start + frames) * c].copy_from_slice(&block[..frames * c]);
        self.pos += frames;
        start
    }

    #[inline]
    pub fn frame(&self, index: usize) -> &[f32] {
        &self.data[index * self.channels..(index + 1) * self.channels]
    }
}

/// `y = W·x (+ b)`, block-diagonal groups stored dense.
#[derive(Debug, Clone)]
pub struct Conv1x1 {
    pub weight: Matrix,
    pub bias: Option<Vec<f32>>,
}

impl Conv1x1 {
    pub fn read(r: &mut WeightReader, inp: usize, out: usize, groups: usize, bias: bool) -> Result<Self> {
        let weight = read_grouped(r, out, inp, 1, groups)?.remove(0);
        let bias = if bias { Some(r.take(out)?.to_vec()) } else { None };
        Ok(Self { weight, bias })
    }

    pub fn out_channels(&self) -> usize {
        self.weight.rows
    }

    pub fn in_channels(&self) -> usize {
        self.weight.cols
    }

    pub fn slice(&self, out: usize, inp: usize) -> Self {
        Self { weight: self.weight.slice(out, inp), bias: self.bias.as_ref().map(|b| b[..out].to_vec()) }
    }

    /// Frame-major block in, frame-major block out (overwritten).
    pub fn process(&self, input: &[f32], output: &mut [f32], frames: usize) {
        let (i, o) = (self.in_channels(), self.out_channels());
        for t in 0..frames {
            let y = &mut output[t * o..(t + 1) * o];
            match &self.bias {
                Some(b) => y.copy_from_slice(b),
                None => y.fill(0.0),
            }
            self.weight.mul_acc(&input[t * i..(t + 1) * i], y);
        }
    }

    pub fn macs(&self) -> usize {
        self.weight.rows * self.weight.cols
    }
}

/// Causal dilated Conv1D: `y[t] = b + Σ_k W_k · x[t − d·(K−1−k)]`.
#[derive(Debug, Clone)]
pub struct Conv1D {
    pub taps: Vec<Matrix>,
    pub bias: Option<Vec<f32>>,
    pub dilation: usize,
    history: History,
}

impl Conv1D {
    #[allow(clippy::too_many_arguments)]
    pub fn read(r: &mut WeightReader, inp: usize, out: usize, kernel: usize, dilation: usize, groups: usize, bias: bool) -> Result<Self> {
        let taps = read_grouped(r, out, inp, kernel, groups)?;
        let bias = if bias { Some(r.take(out)?.to_vec()) } else { None };
        Ok(Self::from_parts(taps, bias, dilation))
    }

    pub fn from_parts(taps: Vec<Matrix>, bias: Option<Vec<f32>>, dilation: usize) -> Self {
        let inp = taps[0].cols;
        let lookback = dilation * (taps.len() - 1);
        Self { taps, bias, dilation, history: History::new(inp, lookback) }
    }

    pub fn kernel_size(&self) -> usize {
        self.taps.len()
    }

    pub fn lookback(&self) -> usize {
        self.dilation * (self.taps.len() - 1)
    }

    pub fn in_channels(&self) -> usize {
        self.taps[0].cols
    }

    pub fn out_channels(&self) -> usize {
        self.taps[0].rows
    }

    pub fn slice(&self, out: usize, inp: usize) -> Self {
        Self::from_parts(
            self.taps.iter().map(|m| m.slice(out, inp)).collect(),
            self.bias.as_ref().map(|b| b[..out].to_vec()),
            self.dilation,
        )
    }

    pub fn prepare(&mut self, max_frames: usize) {
        self.history.prepare(max_frames);
    }

    pub fn clear(&mut self) {
        self.history.clear();
    }

    pub fn process(&mut self, input: &[f32], output: &mut [f32], frames: usize) {
        let o = self.out_channels();
        let start = self.history.write(input, frames);
        let k = self.taps.len();
        for t in 0..frames {
            let y = &mut output[t * o..(t + 1) * o];
            match &self.bias {
                Some(b) => y.copy_from_slice(b),
                None => y.fill(0.0),
            }
            for (tap, w) in self.taps.iter().enumerate() {
                let back = self.dilation * (k - 1 - tap);
                w.mul_acc(self.history.frame(start + t - back), y);
            }
        }
    }

    pub fn macs(&self) -> usize {
        self.taps.iter().map(|m| m.rows * m.cols).sum()
    }
}

/// Feature-wise modulation by the condition: `x ⊙ s[0:dim] (+ s[dim:2dim])`, `s = P(c)`.
#[derive(Debug, Clone)]
pub struct Film {
    pub projection: Conv1x1,
    pub shift: bool,
    pub dim: usize,
}

impl Film {
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

    /// Modulates `x` (frame-major, `dim` rows) in place; `scratch` holds `frames × rows` floats.
    pub fn apply(&self, x: &mut [f32], cond: &[f32], scratch: &mut [f32], frames: usize) {
        let rows = self.projection.out_channels();
        self.projection.process(cond, scratch, frames);
        for t in 0..frames {
            let s = &scratch[t * rows..(t + 1) * rows];
            let xs = &mut x[t * self.dim..(t + 1) * self.dim];
            for (j, v) in xs.iter_mut().enumerate() {
                *v *= s[j];
                if self.shift {
                    *v += s[self.dim + j];
                }
            }
        }
    }
}
