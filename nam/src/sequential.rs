//! Sequential (NeuralAmpModelerCore 0.6, PR #323): complete NAM models run one after another,
//! an amp capture then a cab IR for instance, as one model.
//!
//! The core's semantics, kept here:
//! - between model `i−1` and model `i`, the signal is scaled by the calibration gain
//!   `10^((output_level(i−1) − input_level(i)) / 20)` when both levels are known (a model's
//!   digital full scale is its own: a capture that outputs at +12 dBu feeding one calibrated
//!   for 0 dBu input needs +12 dB), else 1;
//! - a reset resets (and so prewarms) every model on its own silence first, then prewarms the
//!   chain with `1 + Σ (receptive field − 1)` samples of silence, so each model's history holds
//!   what the models before it send on silence;
//! - the chain's receptive field is `1 + Σ (receptive field − 1)`; unbounded with an LSTM.
//!
//! Between models, non-finite samples become 0 (the same policy as a model's input), so one
//! model's overflow cannot poison the next one's history.

use crate::dsp::{prewarm, Architecture, Dsp};
use crate::error::{NamError, Result};
use crate::model::finite_or_zero;

/// Models run one after another; the output of each is the input of the next.
pub struct Sequential {
    models: Vec<Box<dyn Dsp>>,
    /// `gains[i]` scales the input of model `i` (`gains[0]` is 1).
    gains: Vec<f32>,
    /// Two intermediate blocks (ping-pong) of `max_buffer × widest` floats, then prewarm
    /// scratch for the models' own resets.
    scratch: Vec<f32>,
    max_buffer: usize,
}

/// The gain between a model calibrated to output at `output_dbu` and the next one calibrated
/// for `input_dbu`: 1 unless both are known.
pub fn calibration_gain(output_dbu: Option<f64>, input_dbu: Option<f64>) -> f32 {
    match (output_dbu, input_dbu) {
        (Some(out), Some(inp)) => 10f64.powf((out - inp) / 20.0) as f32,
        _ => 1.0,
    }
}

impl std::fmt::Debug for Sequential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sequential").field("models", &self.models).field("gains", &self.gains).finish()
    }
}

impl Sequential {
    /// A chain of `models`; `gains[i]` scales what model `i` receives (`gains[0]` must be 1:
    /// the chain's own input is not scaled). Channels must chain: each model's output channels
    /// are the next one's input channels.
    pub fn new(models: Vec<Box<dyn Dsp>>, gains: Vec<f32>) -> Result<Self> {
        if models.is_empty() {
            return Err(NamError::config("a Sequential needs at least one model in `config.models`"));
        }
        if gains.len() != models.len() || gains[0] != 1.0 || gains.iter().any(|g| !(g.is_finite() && *g > 0.0)) {
            return Err(NamError::config(format!(
                "Sequential calibration gains {gains:?} must be one positive finite gain per model, the first 1"
            )));
        }
        for (i, pair) in models.windows(2).enumerate() {
            let (out, inp) = (pair[0].out_channels(), pair[1].in_channels());
            if out != inp {
                return Err(NamError::config(format!(
                    "Sequential model {i} outputs {out} channel(s) but model {} takes {inp}",
                    i + 1
                )));
            }
        }
        Ok(Self { models, gains, scratch: Vec::new(), max_buffer: 0 })
    }

    /// The models, in order.
    pub fn models(&self) -> impl Iterator<Item = &dyn Dsp> {
        self.models.iter().map(|m| m.as_ref())
    }

    /// The gain applied to each model's input (the first is 1).
    pub fn gains(&self) -> &[f32] {
        &self.gains
    }

    /// Widest block (channels) any model reads or writes.
    fn widest(&self) -> usize {
        self.models.iter().map(|m| m.in_channels().max(m.out_channels())).max().unwrap_or(1)
    }

    /// `1 + Σ (field − 1)`, where a model's field is its receptive field, or its prewarm for
    /// one whose memory is unbounded (an LSTM settles within it).
    fn chain_field(&self) -> usize {
        self.models.iter().fold(1usize, |acc, m| {
            let field = m.receptive_field().unwrap_or_else(|| m.prewarm_samples()).max(1);
            acc.saturating_add(field - 1)
        })
    }
}

impl Dsp for Sequential {
    fn in_channels(&self) -> usize {
        self.models[0].in_channels()
    }
    fn out_channels(&self) -> usize {
        self.models[self.models.len() - 1].out_channels()
    }
    fn prewarm_samples(&self) -> usize {
        self.chain_field()
    }
    fn receptive_field(&self) -> Option<usize> {
        if self.models.iter().any(|m| m.receptive_field().is_none()) {
            return None;
        }
        Some(self.chain_field())
    }
    fn prepare(&mut self, max_buffer: usize) {
        let block = max_buffer * self.widest();
        self.scratch = vec![0.0; 2 * block];
        self.max_buffer = max_buffer;
        // The core's Reset of each model: its own buffers, then its own prewarm on silence.
        let (a, b) = self.scratch.split_at_mut(block);
        for m in &mut self.models {
            m.prepare(max_buffer);
            prewarm(m.as_mut(), max_buffer, a, b);
        }
    }
    fn process_block(&mut self, input: &[f32], output: &mut [f32], frames: usize) {
        let last = self.models.len() - 1;
        let block = self.max_buffer * self.widest();
        for (i, m) in self.models.iter_mut().enumerate() {
            let (cin, cout) = (m.in_channels(), m.out_channels());
            // Model i reads what model i−1 wrote and writes the other half of the scratch.
            let (a, b) = self.scratch.split_at_mut(block);
            let (src, dst) = if i % 2 == 0 { (b, a) } else { (a, b) };
            let src: &[f32] = if i == 0 {
                input
            } else {
                let g = self.gains[i];
                for s in &mut src[..frames * cin] {
                    *s = finite_or_zero(*s) * g;
                }
                src
            };
            if i == last {
                m.process_block(src, output, frames);
            } else {
                m.process_block(src, &mut dst[..frames * cout], frames);
            }
        }
    }
    fn clear_state(&mut self) {
        self.models.iter_mut().for_each(|m| m.clear_state());
    }
    fn set_slim(&mut self, ratio: f64) -> Result<bool> {
        let mut any = false;
        for m in &mut self.models {
            any |= m.set_slim(ratio)?;
        }
        Ok(any)
    }
    fn architecture(&self) -> Architecture<'_> {
        Architecture::Sequential(self)
    }
    fn boxed_clone(&self) -> Box<dyn Dsp> {
        Box::new(Self {
            models: self.models.iter().map(|m| m.boxed_clone()).collect(),
            gains: self.gains.clone(),
            scratch: Vec::new(),
            max_buffer: 0,
        })
    }
    fn flops_per_sample(&self) -> usize {
        self.models.iter().map(|m| m.flops_per_sample()).fold(0, usize::saturating_add)
    }
    fn state_floats(&self, max_buffer: usize) -> usize {
        let own = max_buffer.saturating_mul(self.widest()).saturating_mul(2);
        self.models.iter().map(|m| m.state_floats(max_buffer)).fold(own, usize::saturating_add)
    }
}
