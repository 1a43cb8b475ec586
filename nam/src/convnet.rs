//! ConvNet (SPEC §6): kernel-2 dilated convs, optional inference BatchNorm, activation, head.

use serde_json::{Map, Value};

use crate::activation::Activation;
use crate::conv::{Conv1D, Conv1x1};
use crate::dsp::Dsp;
use crate::error::{NamError, Result};
use crate::json::*;
use crate::weights::WeightReader;

/// A folded BatchNorm: per-channel `(scale, loc)`.
pub type BatchNorm = (Vec<f32>, Vec<f32>);

#[derive(Debug, Clone)]
struct Block {
    conv: Conv1D,
    /// `(scale, loc)` of the folded BatchNorm.
    batchnorm: Option<(Vec<f32>, Vec<f32>)>,
}

/// ConvNet (SPEC §6): dilated convolutions with folded BatchNorm, an activation, and a linear head.
#[derive(Debug, Clone)]
pub struct ConvNet {
    blocks: Vec<Block>,
    activation: Activation,
    head: Conv1x1,
    in_channels: usize,
    buffers: [Vec<f32>; 2],
}

impl ConvNet {
    /// Parses `config`, consuming `weights` exactly.
    pub fn parse(config: &Map<String, Value>, weights: &[f32], fast_tanh: bool) -> Result<Self> {
        let channels = positive(config, "channels", MAX_CHANNELS)?;
        let dilations = usize_list(
            opt(config, "dilations").ok_or_else(|| NamError::config("missing key `dilations`"))?,
            "dilations",
            MAX_DILATION,
        )?;
        if dilations.is_empty() || dilations.contains(&0) {
            return Err(NamError::config("`dilations` must be a non-empty list of values ≥ 1"));
        }
        let batchnorm = opt_bool(config, "batchnorm", false)?;
        let activation = Activation::parse(
            opt(config, "activation").ok_or_else(|| NamError::config("missing key `activation`"))?,
            fast_tanh,
        )?;
        activation.check_rows(channels)?;
        let groups = opt_usize(config, "groups", 1, MAX_CHANNELS)?.max(1);
        let in_channels = opt_usize(config, "in_channels", 1, MAX_CHANNELS)?.max(1);
        let out = opt_usize(config, "out_channels", 1, MAX_CHANNELS)?.max(1);
        let mut r = WeightReader::new(weights);
        let mut blocks = Vec::new();
        for (i, &d) in dilations.iter().enumerate() {
            let cin = if i == 0 { in_channels } else { channels };
            let conv = Conv1D::read(&mut r, cin, channels, 2, d, groups, !batchnorm)?;
            let bn = if batchnorm {
                let mean = r.take(channels)?;
                let var = r.take(channels)?;
                let weight = r.take(channels)?;
                let bias = r.take(channels)?;
                let eps = r.take_one()?;
                let scale: Vec<f32> = (0..channels).map(|c| weight[c] / (eps + var[c]).sqrt()).collect();
                let loc = (0..channels).map(|c| bias[c] - scale[c] * mean[c]).collect();
                Some((scale, loc))
            } else {
                None
            };
            blocks.push(Block { conv, batchnorm: bn });
        }
        let head = Conv1x1::read(&mut r, channels, out, 1, true)?;
        r.finish()?;
        Ok(Self { blocks, activation, head, in_channels, buffers: [Vec::new(), Vec::new()] })
    }

    /// Each block's conv and folded BatchNorm `(scale, loc)`, in order.
    pub fn blocks(&self) -> impl Iterator<Item = (&Conv1D, Option<&BatchNorm>)> {
        self.blocks.iter().map(|b| (&b.conv, b.batchnorm.as_ref()))
    }

    /// The activation after every block.
    pub fn activation(&self) -> &Activation {
        &self.activation
    }

    /// The head that maps the last block's channels to the output.
    pub fn head(&self) -> &Conv1x1 {
        &self.head
    }
}

impl Dsp for ConvNet {
    fn in_channels(&self) -> usize {
        self.in_channels
    }
    fn out_channels(&self) -> usize {
        self.head.out_channels()
    }
    fn prewarm_samples(&self) -> usize {
        1 + self.blocks.iter().map(|b| b.conv.dilation).sum::<usize>()
    }
    fn prepare(&mut self, max_buffer: usize) {
        let c = self.head.in_channels().max(self.in_channels);
        self.buffers = [vec![0.0; max_buffer * c], vec![0.0; max_buffer * c]];
        self.blocks.iter_mut().for_each(|b| b.conv.prepare(max_buffer));
    }
    fn clear_state(&mut self) {
        self.blocks.iter_mut().for_each(|b| b.conv.clear());
    }
    fn process_block(&mut self, input: &[f32], output: &mut [f32], frames: usize) {
        let [a, b] = &mut self.buffers;
        a[..frames * self.in_channels].copy_from_slice(&input[..frames * self.in_channels]);
        let (mut cur, mut next) = (a, b);
        for block in &mut self.blocks {
            let c = block.conv.out_channels();
            block.conv.process(&cur[..frames * block.conv.in_channels()], &mut next[..frames * c], frames);
            if let Some((scale, loc)) = &block.batchnorm {
                for (j, row) in next[..frames * c].chunks_exact_mut(frames).enumerate() {
                    row.iter_mut().for_each(|v| *v = *v * scale[j] + loc[j]);
                }
            }
            self.activation.apply_block(&mut next[..frames * c], frames, 0);
            std::mem::swap(&mut cur, &mut next);
        }
        self.head.process(&cur[..frames * self.head.in_channels()], output, frames);
    }
    fn state_floats(&self, max_buffer: usize) -> usize {
        let c = self.head.in_channels().max(self.in_channels);
        self.blocks.iter().map(|b| b.conv.state_floats(max_buffer)).sum::<usize>() + 2 * max_buffer * c
    }
    fn flops_per_sample(&self) -> usize {
        2 * (self.blocks.iter().map(|b| b.conv.macs()).sum::<usize>() + self.head.macs())
    }
    fn architecture(&self) -> crate::dsp::Architecture<'_> {
        crate::dsp::Architecture::ConvNet(self)
    }
    fn boxed_clone(&self) -> Box<dyn Dsp> {
        Box::new(self.clone())
    }
}
