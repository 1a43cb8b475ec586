//! The contract every model implements, and the wrapper that gives it the core's lifecycle.

pub use crate::architecture::Architecture;
use crate::error::{NamError, Result};

/// A streaming model over planar blocks (`block[channel * frames + frame]`).
///
/// `prepare` may allocate; `process_block` must not, and is only called with
/// `frames ≤ max_buffer` of the last `prepare`.
pub trait Dsp: Send {
    /// Channels of the input blocks.
    fn in_channels(&self) -> usize;
    /// Channels of the output blocks.
    fn out_channels(&self) -> usize;
    /// Samples of silence the core pushes through after a reset (SPEC §3.2).
    fn prewarm_samples(&self) -> usize;
    /// Allocates buffers for blocks of up to `max_buffer` frames. Conv histories are zeroed;
    /// recurrent state (LSTM) and Linear history are kept, as the core does.
    fn prepare(&mut self, max_buffer: usize);
    /// Processes `frames` frames of planar `input` into planar `output`.
    fn process_block(&mut self, input: &[f32], output: &mut [f32], frames: usize);
    /// Zeroes every piece of state, recurrent state included (a "panic" reset for a stream).
    fn clear_state(&mut self);
    /// Applies a slimmable size in `[0, 1]`; `Ok(false)` when the model is not slimmable.
    /// The caller prepares and prewarms again afterwards.
    fn set_slim(&mut self, _ratio: f64) -> Result<bool> {
        Ok(false)
    }
    /// Past samples (current included) that influence an output; `None` when unbounded.
    fn receptive_field(&self) -> Option<usize> {
        Some(self.prewarm_samples())
    }
    /// The model this one runs now (itself, or a slimmable model's active submodel), for the
    /// GPU engines.
    fn architecture(&self) -> Architecture<'_>;
    /// A copy with the same weights, for another instance of a model parsed once.
    fn boxed_clone(&self) -> Box<dyn Dsp>;
    /// Floating-point operations per output sample (SPEC §12).
    fn flops_per_sample(&self) -> usize;
    /// Floats of state and scratch `prepare(max_buffer)` allocates (histories, block buffers),
    /// so a model's memory is known, and bounded, before it is allocated.
    fn state_floats(&self, max_buffer: usize) -> usize;
}

impl Clone for Box<dyn Dsp> {
    fn clone(&self) -> Self {
        self.boxed_clone()
    }
}

impl std::fmt::Debug for dyn Dsp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Dsp({}→{})", self.in_channels(), self.out_channels())
    }
}

/// Runs `model` on `total` frames of silence in blocks of `block` frames, as the core's prewarm
/// does: `ceil(P / block) · block` zeros.
pub fn prewarm(model: &mut dyn Dsp, block: usize, scratch_in: &mut [f32], scratch_out: &mut [f32]) {
    let p = model.prewarm_samples();
    if p == 0 {
        return;
    }
    let (cin, cout) = (model.in_channels(), model.out_channels());
    scratch_in[..block * cin].fill(0.0);
    let mut done = 0;
    while done < p {
        model.process_block(&scratch_in[..block * cin], &mut scratch_out[..block * cout], block);
        done += block;
    }
}

/// Largest block size accepted by `prepare`, to keep allocations bounded.
pub const MAX_BUFFER: usize = 1 << 16;

/// Refuses buffer sizes outside `1..=MAX_BUFFER`.
pub fn check_buffer(max_buffer: usize) -> Result<()> {
    if max_buffer == 0 || max_buffer > MAX_BUFFER {
        return Err(NamError::Request(format!("buffer size {max_buffer} must be between 1 and {MAX_BUFFER}")));
    }
    Ok(())
}
