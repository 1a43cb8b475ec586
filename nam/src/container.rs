//! SlimmableContainer (SPEC §9.1): several submodels, one active, chosen by the slim value.

use crate::dsp::Dsp;
use crate::error::{NamError, Result};

/// Several submodels of one model, one active, chosen by the slim value (A2 and friends).
pub struct SlimmableContainer {
    /// `(max_value, model)`, `max_value` strictly increasing, last ≥ 1.
    submodels: Vec<(f64, Box<dyn Dsp>)>,
    active: usize,
}

impl SlimmableContainer {
    /// A container of `(max_value, model)` pairs, `max_value` strictly increasing, the last ≥ 1; the largest submodel starts active.
    pub fn new(submodels: Vec<(f64, Box<dyn Dsp>)>) -> Result<Self> {
        if submodels.is_empty() {
            return Err(NamError::config("SlimmableContainer needs at least one submodel"));
        }
        if submodels.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err(NamError::config("submodel max_value entries must be strictly increasing"));
        }
        if submodels.last().is_some_and(|s| s.0 < 1.0) {
            return Err(NamError::config("the last submodel's max_value must be ≥ 1.0"));
        }
        let active = submodels.len() - 1;
        Ok(Self { submodels, active })
    }

    fn model(&self) -> &dyn Dsp {
        self.submodels[self.active].1.as_ref()
    }

    fn model_mut(&mut self) -> &mut dyn Dsp {
        self.submodels[self.active].1.as_mut()
    }

    /// Index of the active submodel.
    pub fn active_index(&self) -> usize {
        self.active
    }
}

impl Dsp for SlimmableContainer {
    fn in_channels(&self) -> usize {
        1
    }
    fn out_channels(&self) -> usize {
        1
    }
    fn prewarm_samples(&self) -> usize {
        self.model().prewarm_samples()
    }
    fn receptive_field(&self) -> Option<usize> {
        self.model().receptive_field()
    }
    fn prepare(&mut self, max_buffer: usize) {
        self.model_mut().prepare(max_buffer);
    }
    fn clear_state(&mut self) {
        self.model_mut().clear_state();
    }
    fn process_block(&mut self, input: &[f32], output: &mut [f32], frames: usize) {
        self.model_mut().process_block(input, output, frames);
    }
    fn set_slim(&mut self, ratio: f64) -> Result<bool> {
        if !(0.0..=1.0).contains(&ratio) {
            return Err(NamError::Request(format!("slim value {ratio} must be in [0, 1]")));
        }
        self.active = self.submodels.iter().position(|(v, _)| *v > ratio).unwrap_or(self.submodels.len() - 1);
        Ok(true)
    }
    fn state_floats(&self, max_buffer: usize) -> usize {
        self.model().state_floats(max_buffer)
    }
    fn flops_per_sample(&self) -> usize {
        self.model().flops_per_sample()
    }
    fn architecture(&self) -> crate::dsp::Architecture<'_> {
        self.model().architecture()
    }
    fn boxed_clone(&self) -> Box<dyn Dsp> {
        Box::new(Self {
            submodels: self.submodels.iter().map(|(v, m)| (*v, m.boxed_clone())).collect(),
            active: self.active,
        })
    }
}
