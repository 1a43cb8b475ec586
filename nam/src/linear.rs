//! Linear (FIR, SPEC §7): `y[t] = b + Σ_k w[k]·x[t−k]`, tap 0 on the current sample.

use serde_json::{Map, Value};

use crate::dsp::Dsp;
use crate::error::Result;
use crate::json::*;
use crate::weights::WeightReader;

/// Longest FIR accepted (10 s at 96 kHz).
const MAX_TAPS: usize = 960_000;

/// Linear (SPEC §7): an FIR over the last `receptive_field` samples plus a bias.
#[derive(Debug, Clone)]
pub struct Linear {
    taps: Vec<f32>,
    bias: f32,
    in_channels: usize,
    out_channels: usize,
    /// Per channel: the last `taps − 1` inputs followed by the block; kept across prepare.
    history: Vec<Vec<f32>>,
    max_buffer: usize,
}

impl Linear {
    /// Parses `config`, consuming `weights` exactly.
    pub fn parse(config: &Map<String, Value>, weights: &[f32]) -> Result<Self> {
        let n = positive(config, "receptive_field", MAX_TAPS)?;
        let bias = opt_bool(config, "bias", false)?;
        let in_channels = opt_usize(config, "in_channels", 1, MAX_CHANNELS)?.max(1);
        let out_channels = opt_usize(config, "out_channels", 1, MAX_CHANNELS)?.max(1);
        let mut r = WeightReader::new(weights);
        let taps = r.take(n)?.to_vec();
        let bias = if bias { r.take_one()? } else { 0.0 };
        r.finish()?;
        Ok(Self { taps, bias, in_channels, out_channels, history: Vec::new(), max_buffer: 0 })
    }

    /// `w[k]` multiplies `x[t − k]`.
    pub fn taps(&self) -> &[f32] {
        &self.taps
    }

    /// The bias added to every output.
    pub fn bias(&self) -> f32 {
        self.bias
    }
}

impl Dsp for Linear {
    fn in_channels(&self) -> usize {
        self.in_channels
    }
    fn out_channels(&self) -> usize {
        self.out_channels
    }
    fn prewarm_samples(&self) -> usize {
        0
    }
    fn receptive_field(&self) -> Option<usize> {
        Some(self.taps.len())
    }
    fn prepare(&mut self, max_buffer: usize) {
        let keep = self.taps.len() - 1;
        if self.history.is_empty() || max_buffer > self.max_buffer {
            // The core zero-fills when it grows its buffer for a longer block (SPEC §11.10).
            self.history = vec![vec![0.0; keep + max_buffer]; self.in_channels.min(self.out_channels)];
            self.max_buffer = max_buffer;
        }
    }
    fn clear_state(&mut self) {
        self.history.iter_mut().for_each(|h| h.fill(0.0));
    }
    fn process_block(&mut self, input: &[f32], output: &mut [f32], frames: usize) {
        let keep = self.taps.len() - 1;
        output[..frames * self.out_channels].fill(0.0);
        for (c, h) in self.history.iter_mut().enumerate() {
            for t in 0..frames {
                h[keep + t] = input[c * frames + t];
            }
            for t in 0..frames {
                let now = keep + t;
                let mut acc = self.bias;
                for (k, w) in self.taps.iter().enumerate() {
                    acc += w * h[now - k];
                }
                output[c * frames + t] = acc;
            }
            h.copy_within(frames..frames + keep, 0);
        }
    }
    fn state_floats(&self, max_buffer: usize) -> usize {
        (self.taps.len() + max_buffer).saturating_mul(self.in_channels.min(self.out_channels))
    }
    fn flops_per_sample(&self) -> usize {
        2 * self.taps.len() + 1
    }
    fn architecture(&self) -> crate::dsp::Architecture<'_> {
        crate::dsp::Architecture::Linear(self)
    }
    fn boxed_clone(&self) -> Box<dyn Dsp> {
        Box::new(self.clone())
    }
}
