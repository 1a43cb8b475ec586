//! A model with the core's lifecycle: prepare + prewarm, blocks of any length, NaN policy.
//!
//! Non-finite input policy: NaN/±inf input samples are replaced by 0 before they reach the
//! network, so they cannot poison its history (a conv history or LSTM state holding a NaN would
//! ruin every later output). The count of replaced samples is reported.

use crate::dsp::{check_buffer, prewarm, Dsp};
use crate::error::{NamError, Result};

/// Largest state (histories and block buffers) one instance allocates: 2 GiB. Histories hold
/// the look-back plus four blocks (copies amortised), so state grows with the block size: the
/// standard WaveNet needs 23 MB at 4,096-frame blocks and 335 MB at the largest (65,536), the
/// widest real capture (32 channels) about three times that; shapes within every per-field
/// limit could otherwise ask for tens of GB.
pub const MAX_STATE_BYTES: usize = 2 << 30;

/// A model with the core's lifecycle: reset and prewarm, any block size, the NaN policy.
pub struct Model {
    dsp: Box<dyn Dsp>,
    max_buffer: usize,
    scratch_in: Vec<f32>,
    scratch_out: Vec<f32>,
    sanitized: u64,
}

impl Model {
    /// Wraps a loaded network; call [`reset`](Self::reset) before processing.
    pub fn new(dsp: Box<dyn Dsp>) -> Self {
        Self { dsp, max_buffer: 0, scratch_in: Vec::new(), scratch_out: Vec::new(), sanitized: 0 }
    }

    /// Channels of the input.
    pub fn in_channels(&self) -> usize {
        self.dsp.in_channels()
    }

    /// Channels of the output.
    pub fn out_channels(&self) -> usize {
        self.dsp.out_channels()
    }

    /// The architecture underneath.
    pub fn dsp(&self) -> &dyn Dsp {
        self.dsp.as_ref()
    }

    /// The core's `Reset(sr, max_buffer)`: allocate for blocks of `max_buffer`, zero conv
    /// histories, prewarm with silence in blocks of `max_buffer`.
    pub fn reset(&mut self, max_buffer: usize) -> Result<()> {
        check_buffer(max_buffer)?;
        let bytes = self.dsp.state_floats(max_buffer).saturating_mul(4);
        if bytes > MAX_STATE_BYTES {
            return Err(NamError::TooLarge {
                what: format!("state for {max_buffer}-frame blocks (bytes)"),
                value: bytes,
                limit: MAX_STATE_BYTES,
            });
        }
        self.dsp.prepare(max_buffer);
        self.max_buffer = max_buffer;
        self.scratch_in = vec![0.0; max_buffer * self.dsp.in_channels()];
        self.scratch_out = vec![0.0; max_buffer * self.dsp.out_channels()];
        prewarm(self.dsp.as_mut(), max_buffer, &mut self.scratch_in, &mut self.scratch_out);
        Ok(())
    }

    /// What the plugin does on load: `ResetAndPrewarm(sr, 2048)`, then for the host block size.
    pub fn reset_like_plugin(&mut self, host_block: usize) -> Result<()> {
        self.reset(2048)?;
        self.reset(host_block)
    }

    /// Picks a slimmable size; resets and prewarms with the current buffer size as the core
    /// does when the active submodel changes.
    pub fn set_slim(&mut self, ratio: f64) -> Result<()> {
        if !ratio.is_finite() {
            return Err(NamError::Request(format!("slim value {ratio} is not a number")));
        }
        if !self.dsp.set_slim(ratio)? {
            return Err(NamError::Request("this model is not slimmable".into()));
        }
        if self.max_buffer > 0 {
            self.reset(self.max_buffer)?;
        }
        Ok(())
    }

    /// Samples replaced by 0 because they were NaN or infinite.
    pub fn sanitized_samples(&self) -> u64 {
        self.sanitized
    }

    /// Processes any number of interleaved frames (`[frame * channels + channel]`; for mono
    /// models simply the samples). Allocates nothing.
    ///
    /// Panics if called before [`reset`](Self::reset) or with mismatched lengths: both are
    /// programming errors, not data errors.
    pub fn process(&mut self, input: &[f32], output: &mut [f32]) {
        let (cin, cout) = (self.dsp.in_channels(), self.dsp.out_channels());
        assert!(self.max_buffer > 0, "Model::process before reset");
        let frames = input.len() / cin;
        assert_eq!(output.len(), frames * cout, "output length");
        let mut done = 0;
        while done < frames {
            let n = (frames - done).min(self.max_buffer);
            for t in 0..n {
                for c in 0..cin {
                    let s = input[(done + t) * cin + c];
                    self.scratch_in[c * n + t] = if s.is_finite() {
                        s
                    } else {
                        self.sanitized += 1;
                        0.0
                    };
                }
            }
            self.dsp.process_block(&self.scratch_in[..n * cin], &mut self.scratch_out[..n * cout], n);
            for t in 0..n {
                for c in 0..cout {
                    output[(done + t) * cout + c] = finite_or_zero(self.scratch_out[c * n + t]);
                }
            }
            done += n;
        }
    }

    /// Zeroes all state (recurrent state too) and prewarms again.
    pub fn clear(&mut self) -> Result<()> {
        self.dsp.clear_state();
        if self.max_buffer > 0 {
            self.reset(self.max_buffer)?;
        }
        Ok(())
    }
}

/// What a model's output sample becomes: itself, or 0 when it is NaN or ±inf. Inputs are finite
/// (non-finite ones are replaced) and weights bounded ([`crate::loader::MAX_WEIGHT`]), but the
/// largest finite samples (~3e38) still sum past f32 inside a convolution (inf − inf = NaN): those
/// outputs become silence, and the histories that held them pass within the receptive field.
#[inline]
pub fn finite_or_zero(x: f32) -> f32 {
    if x.is_finite() {
        x
    } else {
        0.0
    }
}
