//! The whole WaveNet: condition DSP, layer arrays chained through the head path, head scale,
//! optional post-stack head.

use serde_json::{Map, Value};

use super::config::LayerArrayConfig;
use super::layer_array::LayerArray;
use crate::activation::Activation;
use crate::conv::Conv1D;
use crate::dsp::Dsp;
use crate::error::{NamError, Result};
use crate::json::*;
use crate::weights::WeightReader;

/// Post-stack head: `y = Conv1D(act(y))` per block.
#[derive(Debug, Clone)]
pub struct PostHead {
    /// Applied before each block.
    pub activation: Activation,
    /// The blocks, in order.
    pub blocks: Vec<Conv1D>,
    buffers: Vec<Vec<f32>>,
}

impl PostHead {
    fn parse(v: &Value, cin: usize, r: &mut WeightReader, fast_tanh: bool) -> Result<Self> {
        let o = object(v, "head")?;
        let channels = positive(o, "channels", MAX_CHANNELS)?;
        let out = opt_usize(o, "out_channels", 1, MAX_CHANNELS)?.max(1);
        let kernels = match (opt(o, "kernel_sizes"), opt(o, "num_layers")) {
            (Some(k), _) => usize_list(k, "head.kernel_sizes", MAX_KERNEL)?,
            (None, Some(n)) => {
                vec![opt_usize(o, "kernel_size", 1, MAX_KERNEL)?; usize_value(n, "head.num_layers", MAX_LAYERS)?]
            }
            (None, None) => return Err(NamError::config("post-stack `head` needs `kernel_sizes` or `num_layers`")),
        };
        if kernels.is_empty() || kernels.contains(&0) {
            return Err(NamError::config("post-stack head kernel sizes must be ≥ 1"));
        }
        let activation = Activation::parse(
            opt(o, "activation").ok_or_else(|| NamError::config("post-stack head needs `activation`"))?,
            fast_tanh,
        )?;
        let mut blocks = Vec::new();
        let mut c = cin;
        for (j, &k) in kernels.iter().enumerate() {
            let cout = if j + 1 == kernels.len() { out } else { channels };
            blocks.push(Conv1D::read(r, c, cout, k, 1, 1, true)?);
            c = cout;
        }
        Ok(Self { activation, blocks, buffers: Vec::new() })
    }

    fn out_channels(&self) -> usize {
        self.blocks.last().map_or(0, Conv1D::out_channels)
    }

    fn lookback(&self) -> usize {
        self.blocks.iter().map(Conv1D::lookback).sum()
    }

    fn state_floats(&self, max_frames: usize) -> usize {
        let widest = self.blocks.iter().map(|b| b.in_channels().max(b.out_channels())).max().unwrap_or(0);
        self.blocks.iter().map(|b| b.state_floats(max_frames)).sum::<usize>() + 2 * max_frames * widest
    }
}

/// WaveNet (SPEC §4): layer arrays chained, a head scale, optional post-stack head and condition DSP.
#[derive(Debug)]
pub struct WaveNet {
    /// The layer arrays, in order.
    pub arrays: Vec<LayerArray>,
    /// Scale of the last array's output.
    pub head_scale: f32,
    /// Post-stack head, when present.
    pub post_head: Option<PostHead>,
    /// A model whose output is the condition, when present (else the input is).
    pub condition: Option<Box<dyn Dsp>>,
    /// Channels of the input.
    pub in_channels: usize,
    cond_buf: Vec<f32>,
    act_buf: Vec<f32>,
    max_frames: usize,
}

impl Clone for WaveNet {
    fn clone(&self) -> Self {
        // Weights and configuration only: buffers are sized again by `prepare`.
        Self {
            arrays: self.arrays.clone(),
            head_scale: self.head_scale,
            post_head: self.post_head.clone(),
            condition: self.condition.clone(),
            in_channels: self.in_channels,
            cond_buf: Vec::new(),
            act_buf: Vec::new(),
            max_frames: 0,
        }
    }
}

impl WaveNet {
    /// Parses `config`, consumes `weights` exactly, and checks the shapes chain up.
    pub fn parse(
        config: &Map<String, Value>,
        weights: &[f32],
        condition: Option<Box<dyn Dsp>>,
        fast_tanh: bool,
    ) -> Result<(Self, Vec<LayerArrayConfig>)> {
        let layers = opt(config, "layers")
            .and_then(Value::as_array)
            .ok_or_else(|| NamError::config("`layers` must be an array"))?;
        if layers.is_empty() || layers.len() > MAX_LAYERS {
            return Err(NamError::config("`layers` must hold between 1 and 1024 layer arrays"));
        }
        let cfgs = layers.iter().map(LayerArrayConfig::parse).collect::<Result<Vec<_>>>()?;
        let in_channels = opt_usize(config, "in_channels", 1, MAX_CHANNELS)?.max(1);
        let cond_rows = condition.as_ref().map_or(in_channels, |c| c.out_channels());
        let mut receptive = 0usize;
        for (i, c) in cfgs.iter().enumerate() {
            receptive = receptive.saturating_add(c.lookback());
            if c.condition_size != cond_rows {
                return Err(NamError::config(format!(
                    "layer array {i} expects a condition of {} channels but the {} provides {cond_rows}",
                    c.condition_size,
                    if condition.is_some() { "condition_dsp" } else { "input" }
                )));
            }
            let expected_input = if i == 0 { in_channels } else { cfgs[i - 1].channels };
            if c.input_size != expected_input {
                return Err(NamError::config(format!(
                    "layer array {i} has input_size {} but receives {expected_input} channels",
                    c.input_size
                )));
            }
            if i > 0 {
                let hout = cfgs[i - 1].head.out_channels;
                if c.channels != hout {
                    return Err(NamError::config(format!(
                        "layer array {i} has {} channels but array {} outputs a head of {hout}",
                        c.channels,
                        i - 1
                    )));
                }
                if c.head_rows() != hout {
                    return Err(NamError::config(format!(
                        "layer array {i} accumulates {} head rows but array {} passes {hout}",
                        c.head_rows(),
                        i - 1
                    )));
                }
            }
        }
        if receptive > MAX_RECEPTIVE_FIELD {
            return Err(NamError::TooLarge {
                what: "receptive field".into(),
                value: receptive,
                limit: MAX_RECEPTIVE_FIELD,
            });
        }
        // Layer weights are dense per tap: refuse shapes whose parameter count is absurd before
        // allocating them.
        let dense: usize = cfgs
            .iter()
            .map(|c| c.layers() * c.channels * 2 * c.bottleneck * c.kernel_sizes.iter().max().unwrap_or(&1))
            .sum();
        if dense > 1 << 28 {
            return Err(NamError::TooLarge { what: "dense parameter count".into(), value: dense, limit: 1 << 28 });
        }
        let mut r = WeightReader::new(weights);
        let arrays = cfgs.iter().map(|c| LayerArray::read(&mut r, c, fast_tanh)).collect::<Result<Vec<_>>>()?;
        let last_out = arrays.last().map_or(1, LayerArray::head_out);
        let post_head = opt(config, "head").map(|h| PostHead::parse(h, last_out, &mut r, fast_tanh)).transpose()?;
        let head_scale = r.take_one()?;
        r.finish()?;
        Ok((
            Self {
                arrays,
                head_scale,
                post_head,
                condition,
                in_channels,
                cond_buf: Vec::new(),
                act_buf: Vec::new(),
                max_frames: 0,
            },
            cfgs,
        ))
    }

    /// A model from its arrays, without post head or condition DSP.
    pub fn from_parts(arrays: Vec<LayerArray>, head_scale: f32, in_channels: usize) -> Self {
        Self {
            arrays,
            head_scale,
            post_head: None,
            condition: None,
            in_channels,
            cond_buf: Vec::new(),
            act_buf: Vec::new(),
            max_frames: 0,
        }
    }

    fn condition_rows(&self) -> usize {
        self.condition.as_ref().map_or(self.in_channels, |c| c.out_channels())
    }

    /// Multiply-accumulates per sample.
    pub fn macs_per_sample(&self) -> usize {
        self.arrays.iter().map(LayerArray::macs).sum::<usize>()
            + self.post_head.as_ref().map_or(0, |h| h.blocks.iter().map(Conv1D::macs).sum())
    }
}

impl Dsp for WaveNet {
    fn in_channels(&self) -> usize {
        self.in_channels
    }

    fn out_channels(&self) -> usize {
        match &self.post_head {
            Some(h) => h.out_channels(),
            None => self.arrays.last().map_or(1, LayerArray::head_out),
        }
    }

    fn prewarm_samples(&self) -> usize {
        let lead = self.condition.as_ref().map_or(1, |c| c.prewarm_samples());
        lead + self.arrays.iter().map(LayerArray::lookback).sum::<usize>()
            + self.post_head.as_ref().map_or(0, PostHead::lookback)
    }

    fn prepare(&mut self, max_buffer: usize) {
        self.max_frames = max_buffer;
        if let Some(c) = &mut self.condition {
            c.prepare(max_buffer);
        }
        for a in &mut self.arrays {
            a.prepare(max_buffer);
        }
        self.cond_buf = vec![0.0; max_buffer * self.condition_rows()];
        let last_out = self.arrays.last().map_or(1, LayerArray::head_out);
        if let Some(h) = &mut self.post_head {
            let mut widths = vec![last_out];
            for b in &mut h.blocks {
                b.prepare(max_buffer);
                widths.push(b.out_channels());
            }
            h.buffers = widths.iter().map(|w| vec![0.0; max_buffer * w]).collect();
        }
        self.act_buf = vec![0.0; max_buffer * last_out];
    }

    fn clear_state(&mut self) {
        if let Some(c) = &mut self.condition {
            c.clear_state();
        }
        for a in &mut self.arrays {
            a.clear();
        }
        if let Some(h) = &mut self.post_head {
            h.blocks.iter_mut().for_each(Conv1D::clear);
        }
    }

    fn process_block(&mut self, input: &[f32], output: &mut [f32], frames: usize) {
        let cin = self.in_channels;
        let cond_rows = self.condition_rows();
        if let Some(c) = &mut self.condition {
            c.process_block(input, &mut self.cond_buf[..frames * cond_rows], frames);
        } else {
            self.cond_buf[..frames * cin].copy_from_slice(&input[..frames * cin]);
        }
        let cond = &self.cond_buf[..frames * cond_rows];
        for i in 0..self.arrays.len() {
            let (done, rest) = self.arrays.split_at_mut(i);
            let array = &mut rest[0];
            match done.last() {
                None => array.process(input, cond, None, frames),
                Some(prev) => array.process(&prev.x, cond, Some(&prev.out_head), frames),
            }
        }
        let last = self.arrays.last().expect("at least one array");
        let width = last.head_out();
        let y = &mut self.act_buf[..frames * width];
        for (dst, src) in y.iter_mut().zip(&last.out_head[..frames * width]) {
            *dst = self.head_scale * src;
        }
        match &mut self.post_head {
            None => output[..frames * width].copy_from_slice(y),
            Some(h) => {
                h.buffers[0][..frames * width].copy_from_slice(y);
                for j in 0..h.blocks.len() {
                    let (ins, outs) = h.buffers.split_at_mut(j + 1);
                    let cin = h.blocks[j].in_channels();
                    let x = &mut ins[j][..frames * cin];
                    h.activation.apply_block(x, frames, 0);
                    let cout = h.blocks[j].out_channels();
                    h.blocks[j].process(x, &mut outs[0][..frames * cout], frames);
                }
                let w = h.out_channels();
                output[..frames * w].copy_from_slice(&h.buffers[h.blocks.len()][..frames * w]);
            }
        }
    }

    /// SPEC §12: `2·MAC + Σ_l (2G + 2C + Hs) + Hout·[bias] + 1`.
    fn state_floats(&self, max_buffer: usize) -> usize {
        self.condition.as_ref().map_or(0, |c| c.state_floats(max_buffer))
            + self.arrays.iter().map(|a| a.state_floats(max_buffer)).sum::<usize>()
            + self.post_head.as_ref().map_or(0, |h| h.state_floats(max_buffer))
            + max_buffer.saturating_mul(2 * self.condition_rows() + 2)
    }
    fn flops_per_sample(&self) -> usize {
        let elementwise: usize = self
            .arrays
            .iter()
            .map(|a| {
                a.layers.iter().map(|l| 2 * l.gate_rows() + 2 * l.channels + l.head_rows()).sum::<usize>()
                    + if a.head_rechannel.bias.is_some() { a.head_out() } else { 0 }
            })
            .sum();
        2 * self.macs_per_sample() + elementwise + 1
    }
    fn architecture(&self) -> crate::dsp::Architecture<'_> {
        crate::dsp::Architecture::WaveNet(self)
    }
    fn boxed_clone(&self) -> Box<dyn Dsp> {
        Box::new(self.clone())
    }
}
