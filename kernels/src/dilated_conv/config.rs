use crate::delay_line::DelayLineConfig;
use crate::util::{at_most, nonzero};
use crate::KernelError;

pub(crate) const KERNEL: &str = "dilated_conv";

/// Where the kernel reads past frames from.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum HistorySource {
    /// Straight from the ring in global memory (any dilation).
    Global,
    /// The cube first copies the `C_in × (tile + d·(K−1))` window into shared memory; suits short
    /// dilations where neighbouring frames reuse the same history.
    SharedTile,
}

/// Compile-time shape of a causal dilated Conv1D
/// `y[o,t] = b[o] + Σ_k Σ_i W[o,i,k] · x[i, t − d·(K−1−k)]` (PyTorch weight order).
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub struct DilatedConvConfig {
    /// Channels read from the history.
    pub in_channels: usize,
    /// Channels written.
    pub out_channels: usize,
    /// Taps per channel pair (K).
    pub kernel_size: usize,
    /// Distance between taps, in frames (d).
    pub dilation: usize,
    /// Whether `b` is added.
    pub has_bias: bool,
    /// Ring size of the input history (power of two ≥ lookback + max block).
    pub ring_size: usize,
    /// Where the taps are read from: the ring in global memory or a staged shared tile.
    pub history: HistorySource,
    /// Frames per cube.
    pub tile_frames: usize,
}

impl DilatedConvConfig {
    /// A config whose ring holds the lookback plus blocks of up to `max_frames`.
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel_size: usize,
        dilation: usize,
        max_frames: usize,
    ) -> Self {
        let lookback = dilation * kernel_size.saturating_sub(1);
        Self {
            in_channels,
            out_channels,
            kernel_size,
            dilation,
            has_bias: true,
            ring_size: DelayLineConfig::size_for(lookback, max_frames),
            history: HistorySource::Global,
            tile_frames: 64,
        }
    }

    /// Frames of history one output reaches back: `d·(K−1)`.
    pub fn lookback(&self) -> usize {
        self.dilation * (self.kernel_size - 1)
    }

    /// Elements of W.
    pub fn weights_len(&self) -> usize {
        self.out_channels * self.in_channels * self.kernel_size
    }

    /// Floats of the shared tile when the history is staged.
    pub fn shared_tile_len(&self) -> usize {
        self.in_channels * (self.tile_frames + self.lookback())
    }

    /// Largest block this ring can take without overwriting history still needed.
    pub fn max_frames(&self) -> usize {
        self.ring_size - self.lookback()
    }

    /// Checks the sizes against the block's limits and the ring against the lookback.
    pub fn validate(&self) -> Result<(), KernelError> {
        nonzero(KERNEL, "in_channels", self.in_channels)?;
        nonzero(KERNEL, "out_channels", self.out_channels)?;
        nonzero(KERNEL, "kernel_size", self.kernel_size)?;
        nonzero(KERNEL, "dilation", self.dilation)?;
        nonzero(KERNEL, "tile_frames", self.tile_frames)?;
        at_most(KERNEL, "in_channels", self.in_channels, 256)?;
        at_most(KERNEL, "out_channels", self.out_channels, 256)?;
        at_most(KERNEL, "kernel_size", self.kernel_size, 64)?;
        at_most(KERNEL, "tile_frames", self.tile_frames, 1024)?;
        DelayLineConfig { channels: self.in_channels, size: self.ring_size }.validate()?;
        if self.ring_size <= self.lookback() {
            return Err(KernelError::Invalid {
                kernel: KERNEL,
                reason: format!("ring of {} frames cannot hold a lookback of {}", self.ring_size, self.lookback()),
            });
        }
        Ok(())
    }
}
