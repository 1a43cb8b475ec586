use cubecl::prelude::*;

use super::config::KERNEL;
use super::{delay_push_kernel, delay_read_kernel, delay_read_tile_kernel, DelayLineConfig};
use crate::util::{at_most, cube_count_1d, len_eq, nonzero, Buffer};
use crate::KernelError;

const UNITS: u32 = 256;

/// A delay line on the device plus its host-side cursor.
#[derive(Debug, Clone)]
pub struct DelayLine {
    /// The ring's shape.
    pub config: DelayLineConfig,
    /// Every channel's ring, `channels × size` values, channel-major.
    pub ring: Buffer,
    cursor: u32,
}

impl DelayLine {
    /// A zeroed delay line.
    pub fn new<R: Runtime>(client: &ComputeClient<R>, config: DelayLineConfig) -> Result<Self, KernelError> {
        config.validate()?;
        let ring = Buffer::filled(client, config.channels * config.size, 0.0);
        Ok(Self { config, ring, cursor: 0 })
    }

    /// Absolute position the next pushed frame will take.
    pub fn cursor(&self) -> u32 {
        self.cursor
    }

    /// Appends a planar `channels × frames` block and advances the cursor.
    pub fn push<R: Runtime>(
        &mut self,
        client: &ComputeClient<R>,
        input: &Buffer,
        frames: usize,
    ) -> Result<(), KernelError> {
        nonzero(KERNEL, "frames", frames)?;
        at_most(KERNEL, "frames", frames, self.config.size)?;
        len_eq(KERNEL, "input", self.config.channels * frames, input.len)?;
        delay_push_kernel::launch::<R>(
            client,
            cube_count_1d(input.len, UNITS as usize),
            CubeDim::new_1d(UNITS),
            self.ring.arg(),
            input.arg(),
            self.cursor,
            frames as u32,
            self.config.size,
        );
        self.cursor = self.cursor.wrapping_add(frames as u32);
        Ok(())
    }

    /// Position of the oldest of `frames` frames that end `delay` frames before the cursor.
    fn window_start(&self, delay: usize, frames: usize) -> Result<u32, KernelError> {
        nonzero(KERNEL, "frames", frames)?;
        at_most(KERNEL, "delay + frames", delay + frames, self.config.size)?;
        Ok(self.cursor.wrapping_sub((delay + frames) as u32))
    }

    /// Reads the `frames` frames that end `delay` frames before the newest one
    /// (`delay = 0`: the last `frames` pushed) into a planar block.
    pub fn read<R: Runtime>(
        &self,
        client: &ComputeClient<R>,
        output: &Buffer,
        delay: usize,
        frames: usize,
    ) -> Result<(), KernelError> {
        let start = self.window_start(delay, frames)?;
        len_eq(KERNEL, "output", self.config.channels * frames, output.len)?;
        delay_read_kernel::launch::<R>(
            client,
            cube_count_1d(output.len, UNITS as usize),
            CubeDim::new_1d(UNITS),
            self.ring.arg(),
            output.arg(),
            start,
            frames as u32,
            self.config.size,
        );
        Ok(())
    }

    /// Like [`read`](Self::read), staged through shared-memory tiles of `tile_frames` frames.
    pub fn read_tiled<R: Runtime>(
        &self,
        client: &ComputeClient<R>,
        output: &Buffer,
        delay: usize,
        frames: usize,
        tile_frames: usize,
    ) -> Result<(), KernelError> {
        let start = self.window_start(delay, frames)?;
        nonzero(KERNEL, "tile_frames", tile_frames)?;
        len_eq(KERNEL, "output", self.config.channels * frames, output.len)?;
        let shared_bytes = self.config.channels * tile_frames * 4;
        at_most(KERNEL, "tile bytes", shared_bytes, client.properties().hardware.max_shared_memory_size)?;
        delay_read_tile_kernel::launch::<R>(
            client,
            CubeCount::Static(frames.div_ceil(tile_frames) as u32, 1, 1),
            CubeDim::new_1d(128),
            self.ring.arg(),
            output.arg(),
            start,
            frames as u32,
            self.config.channels,
            tile_frames,
            self.config.size,
        );
        Ok(())
    }
}
