//! A layer array (SPEC §4.3): rechannel, the layers, and the head rechannel conv.

use super::config::LayerArrayConfig;
use super::layer::{Layer, Scratch};
use crate::conv::{Conv1D, Conv1x1};
use crate::error::Result;
use crate::weights::WeightReader;

/// A stack of layers with its input rechannel and head rechannel (SPEC §4.2).
#[derive(Debug, Clone)]
pub struct LayerArray {
    /// Maps the array input to C channels.
    pub rechannel: Conv1x1,
    /// The layers, in order.
    pub layers: Vec<Layer>,
    /// Maps the summed head rows to the array's output.
    pub head_rechannel: Conv1D,
    /// Layer output (C rows) of the last block.
    pub x: Vec<f32>,
    /// Head accumulator (Hs rows).
    pub head_acc: Vec<f32>,
    /// Head rechannel output (Hout rows) of the last block.
    pub out_head: Vec<f32>,
    scratch: Scratch,
}

impl LayerArray {
    /// Reads the array `cfg` describes.
    pub fn read(r: &mut WeightReader, cfg: &LayerArrayConfig, fast_tanh: bool) -> Result<Self> {
        let rechannel = Conv1x1::read(r, cfg.input_size, cfg.channels, 1, false)?;
        let layers = (0..cfg.layers()).map(|l| Layer::read(r, cfg, l, fast_tanh)).collect::<Result<Vec<_>>>()?;
        let h = &cfg.head;
        let head_rechannel = Conv1D::read(r, cfg.head_rows(), h.out_channels, h.kernel_size, h.dilation, 1, h.bias)?;
        Ok(Self::from_parts(rechannel, layers, head_rechannel))
    }

    /// An array from its parts.
    pub fn from_parts(rechannel: Conv1x1, layers: Vec<Layer>, head_rechannel: Conv1D) -> Self {
        Self {
            rechannel,
            layers,
            head_rechannel,
            x: Vec::new(),
            head_acc: Vec::new(),
            out_head: Vec::new(),
            scratch: Scratch::default(),
        }
    }

    /// Residual channels C.
    pub fn channels(&self) -> usize {
        self.rechannel.out_channels()
    }

    /// Channels of the array input.
    pub fn input_size(&self) -> usize {
        self.rechannel.in_channels()
    }

    /// Rows of the head accumulator.
    pub fn head_rows(&self) -> usize {
        self.head_rechannel.in_channels()
    }

    /// Channels of the array output.
    pub fn head_out(&self) -> usize {
        self.head_rechannel.out_channels()
    }

    /// Frames of history all its convs reach back together.
    pub fn lookback(&self) -> usize {
        self.layers.iter().map(|l| l.conv.lookback()).sum::<usize>() + self.head_rechannel.lookback()
    }

    /// Floats `prepare(max_frames)` allocates: every layer's history, the head's, and the block
    /// buffers (bounded by a few rows of the widest layer).
    pub fn state_floats(&self, max_frames: usize) -> usize {
        let widest =
            self.layers.iter().map(|l| l.gate_rows() + l.channels + l.bottleneck + l.condition).max().unwrap_or(0);
        self.layers.iter().map(|l| l.conv.state_floats(max_frames)).sum::<usize>()
            + self.head_rechannel.state_floats(max_frames)
            + max_frames.saturating_mul(4 * widest + self.head_rows() + self.head_out())
    }

    /// Sizes buffers for blocks of up to `max_frames`.
    pub fn prepare(&mut self, max_frames: usize) {
        let t = max_frames;
        let c = self.channels();
        let g = self.layers.iter().map(Layer::gate_rows).max().unwrap_or(0);
        let b = self.layers.iter().map(|l| l.bottleneck).max().unwrap_or(0);
        let dc = self.layers.iter().map(|l| l.condition).max().unwrap_or(0);
        let hs = self.head_rows();
        let film = self.layers.iter().map(Layer::film_rows).max().unwrap_or(0);
        self.x = vec![0.0; t * c];
        self.head_acc = vec![0.0; t * hs];
        self.out_head = vec![0.0; t * self.head_out()];
        self.scratch = Scratch {
            u: vec![0.0; t * c],
            zc: vec![0.0; t * g],
            zm: vec![0.0; t * g],
            m: vec![0.0; t * dc],
            a: vec![0.0; t * b],
            r: vec![0.0; t * c],
            h: vec![0.0; t * hs],
            film: vec![0.0; t * film],
        };
        for l in &mut self.layers {
            l.prepare(max_frames);
        }
        self.head_rechannel.prepare(max_frames);
    }

    /// Zeroes every history.
    pub fn clear(&mut self) {
        for l in &mut self.layers {
            l.clear();
        }
        self.head_rechannel.clear();
    }

    /// Runs the array on `input` (input_size rows); the head accumulator starts from `head_in`
    /// (previous array's `out_head`) or zero. Results land in `self.x` and `self.out_head`.
    pub fn process(&mut self, input: &[f32], cond: &[f32], head_in: Option<&[f32]>, frames: usize) {
        let hs = self.head_rows();
        self.rechannel.process(input, &mut self.x, frames);
        match head_in {
            Some(h) => self.head_acc[..frames * hs].copy_from_slice(&h[..frames * hs]),
            None => self.head_acc[..frames * hs].fill(0.0),
        }
        for layer in &mut self.layers {
            layer.process(&mut self.x, cond, &mut self.head_acc, &mut self.scratch, frames);
        }
        self.head_rechannel.process(&self.head_acc, &mut self.out_head, frames);
    }

    /// Multiply-accumulates per frame.
    pub fn macs(&self) -> usize {
        self.rechannel.macs() + self.layers.iter().map(Layer::macs).sum::<usize>() + self.head_rechannel.macs()
    }
}
