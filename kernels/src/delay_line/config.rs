use crate::util::{nonzero, power_of_two};
use crate::KernelError;

pub(crate) const KERNEL: &str = "delay_line";

/// Shape of a delay line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DelayLineConfig {
    /// Independent channels, each with its own ring.
    pub channels: usize,
    /// Frames per channel; a power of two so positions wrap with a mask.
    pub size: usize,
}

impl DelayLineConfig {
    /// Checks the shape: a non-zero channel count and a power-of-two size up to 2^30.
    pub fn validate(&self) -> Result<(), KernelError> {
        nonzero(KERNEL, "channels", self.channels)?;
        nonzero(KERNEL, "size", self.size)?;
        power_of_two(KERNEL, "size", self.size)?;
        // Positions are u32 counters: the ring must divide 2^32 for wrap-around to stay exact.
        crate::util::at_most(KERNEL, "size", self.size, 1 << 30)
    }

    /// Smallest power-of-two size that holds `history` past frames plus a block of `frames`.
    pub fn size_for(history: usize, frames: usize) -> usize {
        (history + frames).max(1).next_power_of_two()
    }
}
