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

/// Run-time shape of one [`append_and_stage`](super::append_and_stage) call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageArgs {
    /// Rows of the block.
    pub rows: usize,
    /// Taps of the conv that will read the stage (K ≥ 1).
    pub taps: usize,
    /// Frames between taps.
    pub dilation: usize,
    /// Valid frames of the tile.
    pub frames: usize,
    /// Ring size per row (a power of two ≥ the look-back plus the tile).
    pub size: usize,
    /// Absolute position of the tile's first frame.
    pub position: u32,
}

/// Runs [`append_and_stage`](super::append_and_stage) once: `ring` (`rows × size`), `block`
/// (`rows × tile`), `staged` (`(taps − 1)·rows × tile`, at least one float).
pub fn launch_append_and_stage<R: Runtime>(
    client: &ComputeClient<R>,
    tile: usize,
    args: StageArgs,
    ring: &Buffer,
    block: &Buffer,
    staged: &Buffer,
) -> Result<(), KernelError> {
    nonzero(KERNEL, "rows", args.rows)?;
    nonzero(KERNEL, "taps", args.taps)?;
    nonzero(KERNEL, "tile", tile)?;
    at_most(KERNEL, "frames", args.frames, tile)?;
    crate::util::power_of_two(KERNEL, "size", args.size)?;
    let look_back = args.dilation * (args.taps - 1);
    if args.size < look_back + tile {
        return Err(KernelError::Invalid {
            kernel: KERNEL,
            reason: format!(
                "ring of {} frames cannot hold a look-back of {look_back} plus a tile of {tile}",
                args.size
            ),
        });
    }
    len_eq(KERNEL, "ring", args.rows * args.size, ring.len)?;
    len_eq(KERNEL, "block", args.rows * tile, block.len)?;
    let stage_len = (args.taps - 1) * args.rows * tile;
    len_eq(KERNEL, "staged", stage_len.max(1), staged.len)?;
    let dims = crate::util::IndexBuffer::upload(
        client,
        &[
            args.rows as u32,
            args.taps as u32,
            args.dilation as u32,
            args.frames as u32,
            args.size as u32,
            args.position,
        ],
    );
    let shared_len = args.rows * tile + stage_len;
    at_most(KERNEL, "shared floats", shared_len, client.properties().hardware.max_shared_memory_size / 4)?;
    super::append_and_stage_kernel::launch::<R>(
        client,
        CubeCount::Static(1, 1, 1),
        CubeDim::new_1d(UNITS),
        ring.arg(),
        block.arg(),
        staged.arg(),
        dims.arg(),
        tile,
        shared_len,
    );
    Ok(())
}
