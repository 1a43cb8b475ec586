//! Slimmable WaveNet (SPEC §9.2): the full model plus a slimmed copy built on `set_slim`.

use super::config::LayerArrayConfig;
use super::layer_array::LayerArray;
use super::model::WaveNet;
use crate::dsp::Dsp;
use crate::error::{NamError, Result};

/// A WaveNet that can run at a smaller size (SPEC §9.2): the full model and the active slimmed copy.
#[derive(Debug)]
pub struct SlimmableWaveNet {
    full: WaveNet,
    configs: Vec<LayerArrayConfig>,
    active: WaveNet,
}

impl SlimmableWaveNet {
    /// A slimmable model from the full one and its arrays' slimming configs.
    pub fn new(full: WaveNet, configs: Vec<LayerArrayConfig>) -> Result<Self> {
        for (i, c) in configs.iter().enumerate() {
            if c.groups_input != 1
                || c.groups_input_mixin != 1
                || c.layer1x1.is_some_and(|g| g != 1)
                || c.head1x1.is_some_and(|(_, g)| g != 1)
                || c.films.iter().flatten().any(|f| f.groups != 1)
            {
                return Err(NamError::config(format!("slimmable layer array {i} must use groups = 1 everywhere")));
            }
            if c.head.kernel_size != 1 {
                return Err(NamError::config(format!(
                    "slimmable layer array {i} must have a head rechannel of kernel 1"
                )));
            }
        }
        if full.post_head.is_some() || full.condition.is_some() {
            return Err(NamError::config("a slimmable WaveNet cannot have a post-stack head or a condition_dsp"));
        }
        let active = full.clone();
        Ok(Self { full, configs, active })
    }

    /// Builds the WaveNet for `ratio` by slicing every matrix to its leading rows/columns.
    fn slice(&self, ratio: f64) -> WaveNet {
        let widths: Vec<usize> = self
            .configs
            .iter()
            .map(|c| match &c.slimmable {
                Some(allowed) => allowed[((ratio * allowed.len() as f64).floor() as usize).min(allowed.len() - 1)],
                None => c.channels,
            })
            .collect();
        let n = self.full.arrays.len();
        let arrays = self
            .full
            .arrays
            .iter()
            .zip(&self.configs)
            .enumerate()
            .map(|(i, (array, cfg))| {
                let c = widths[i];
                let b = if cfg.layer1x1.is_some() { ((cfg.bottleneck * c) / cfg.channels).max(1) } else { c };
                let input = if i == 0 { array.input_size() } else { widths[i - 1] };
                let hout = if i + 1 < n { widths[i + 1] } else { array.head_out() };
                let layers: Vec<_> = array.layers.iter().map(|l| l.slice(c, b)).collect();
                let hs = layers.last().map_or(b, |l| l.head_rows());
                LayerArray::from_parts(array.rechannel.slice(c, input), layers, array.head_rechannel.slice(hout, hs))
            })
            .collect();
        WaveNet::from_parts(arrays, self.full.head_scale, self.full.in_channels)
    }
}

impl Dsp for SlimmableWaveNet {
    fn in_channels(&self) -> usize {
        self.active.in_channels()
    }
    fn out_channels(&self) -> usize {
        self.active.out_channels()
    }
    fn prewarm_samples(&self) -> usize {
        self.active.prewarm_samples()
    }
    fn prepare(&mut self, max_buffer: usize) {
        self.active.prepare(max_buffer);
    }
    fn clear_state(&mut self) {
        self.active.clear_state();
    }
    fn process_block(&mut self, input: &[f32], output: &mut [f32], frames: usize) {
        self.active.process_block(input, output, frames);
    }
    fn set_slim(&mut self, ratio: f64) -> Result<bool> {
        if !(0.0..=1.0).contains(&ratio) {
            return Err(NamError::Request(format!("slim value {ratio} must be in [0, 1]")));
        }
        self.active = self.slice(ratio);
        Ok(true)
    }
    fn state_floats(&self, max_buffer: usize) -> usize {
        self.active.state_floats(max_buffer)
    }
    fn flops_per_sample(&self) -> usize {
        self.active.flops_per_sample()
    }
    fn architecture(&self) -> crate::dsp::Architecture<'_> {
        crate::dsp::Architecture::WaveNet(&self.active)
    }
    fn boxed_clone(&self) -> Box<dyn Dsp> {
        Box::new(Self { full: self.full.clone(), configs: self.configs.clone(), active: self.active.clone() })
    }
}
