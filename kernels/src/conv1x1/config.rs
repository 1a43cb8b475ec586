use crate::activation::ActivationKind;
use crate::util::{at_most, nonzero};
use crate::KernelError;

pub(crate) const KERNEL: &str = "conv1x1";

/// Where a unit reads its input column from.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum InputSource {
    /// The cube stages a `K × tile` input tile in shared memory; suits large K shared by many
    /// outputs.
    Shared,
    /// Each unit keeps its own input column in registers; no shared memory, no sync.
    Registers,
}

/// Compile-time shape of a pointwise convolution `y[M×N] = act(W[M×K]·x[K×N] + b)`.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub struct Conv1x1Config {
    /// M: rows of W and of the output.
    pub out_channels: usize,
    /// K: columns of W, rows of the input.
    pub in_channels: usize,
    /// Whether `b` is added.
    pub has_bias: bool,
    /// Applied to every output element.
    pub activation: ActivationKind,
    /// Where the input tile is read from.
    pub input: InputSource,
    /// Frames per cube (one unit per frame).
    pub tile_frames: usize,
}

/// Upper bound on K and M: a unit keeps a column of each in registers.
pub const MAX_CHANNELS: usize = 256;

impl Conv1x1Config {
    /// An `M × K` convolution with bias, no activation, shared-memory input, 64-frame tiles.
    pub fn new(out_channels: usize, in_channels: usize) -> Self {
        Self {
            out_channels,
            in_channels,
            has_bias: true,
            activation: ActivationKind::Identity,
            input: InputSource::Shared,
            tile_frames: 64,
        }
    }

    /// Checks the sizes against the block's limits.
    pub fn validate(&self) -> Result<(), KernelError> {
        nonzero(KERNEL, "out_channels", self.out_channels)?;
        nonzero(KERNEL, "in_channels", self.in_channels)?;
        nonzero(KERNEL, "tile_frames", self.tile_frames)?;
        at_most(KERNEL, "out_channels", self.out_channels, MAX_CHANNELS)?;
        at_most(KERNEL, "in_channels", self.in_channels, MAX_CHANNELS)?;
        at_most(KERNEL, "tile_frames", self.tile_frames, 1024)
    }

    /// Elements of W.
    pub fn weights_len(&self) -> usize {
        self.out_channels * self.in_channels
    }
}
