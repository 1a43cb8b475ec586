use cubecl::prelude::*;

use super::fir_kernel;
use crate::delay_line::{DelayLine, DelayLineConfig};
use crate::util::{at_most, cube_count_1d, len_eq, nonzero, Buffer};
use crate::KernelError;

const KERNEL: &str = "fir";

/// `channels` FIR filters of `tap_count` taps each, streaming blocks of up to `max_frames`.
#[derive(Debug, Clone)]
pub struct FirBank {
    /// Independent signals, each with its own taps.
    pub channels: usize,
    /// Taps per filter.
    pub tap_count: usize,
    /// Largest block `process` takes.
    pub max_frames: usize,
    taps: Buffer,
    history: DelayLine,
}

impl FirBank {
    /// `taps[channel * tap_count + k]`.
    pub fn new<R: Runtime>(
        client: &ComputeClient<R>,
        channels: usize,
        tap_count: usize,
        max_frames: usize,
        taps: &[f32],
    ) -> Result<Self, KernelError> {
        nonzero(KERNEL, "channels", channels)?;
        nonzero(KERNEL, "tap_count", tap_count)?;
        nonzero(KERNEL, "max_frames", max_frames)?;
        at_most(KERNEL, "tap_count", tap_count, 1 << 16)?;
        at_most(KERNEL, "max_frames", max_frames, 1 << 16)?;
        len_eq(KERNEL, "taps", channels * tap_count, taps.len())?;
        if taps.iter().any(|t| !t.is_finite()) {
            return Err(KernelError::Invalid { kernel: KERNEL, reason: "taps must be finite".into() });
        }
        let ring_size = DelayLineConfig::size_for(tap_count - 1, max_frames);
        Ok(Self {
            channels,
            tap_count,
            max_frames,
            taps: Buffer::upload(client, taps),
            history: DelayLine::new(client, DelayLineConfig { channels, size: ring_size })?,
        })
    }

    /// Filters `frames` samples of every channel from `input` into `output` (planar), keeping the history for the next call.
    pub fn process<R: Runtime>(
        &mut self,
        client: &ComputeClient<R>,
        input: &Buffer,
        output: &Buffer,
        frames: usize,
    ) -> Result<(), KernelError> {
        nonzero(KERNEL, "frames", frames)?;
        at_most(KERNEL, "frames", frames, self.max_frames)?;
        len_eq(KERNEL, "input", self.channels * frames, input.len)?;
        len_eq(KERNEL, "output", self.channels * frames, output.len)?;
        let cursor = self.history.cursor();
        self.history.push(client, input, frames)?;
        fir_kernel::launch::<R>(
            client,
            cube_count_1d(output.len, 256),
            CubeDim::new_1d(256),
            self.history.ring.arg(),
            self.taps.arg(),
            output.arg(),
            cursor,
            frames as u32,
            self.tap_count,
            self.history.config.size,
        );
        Ok(())
    }
}
