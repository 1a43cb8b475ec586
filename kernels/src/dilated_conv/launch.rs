use cubecl::prelude::*;

use super::config::KERNEL;
use super::{dilated_conv_kernel, dilated_conv_push_kernel, DilatedConvConfig, HistorySource};
use crate::util::{at_most, cube_count_1d, len_eq, nonzero, Buffer};
use crate::KernelError;

/// A batch of dilated convolutions with their histories (zero after `new`).
#[derive(Debug, Clone)]
pub struct DilatedConv {
    /// The convolution's shape (the same for every instance).
    pub config: DilatedConvConfig,
    /// Independent convolutions, each with its own weights and history.
    pub instances: usize,
    /// Every instance's input history.
    pub ring: Buffer,
    cursor: u32,
}

impl DilatedConv {
    /// `instances` convolutions of one shape with zeroed histories.
    pub fn new<R: Runtime>(
        client: &ComputeClient<R>,
        config: DilatedConvConfig,
        instances: usize,
    ) -> Result<Self, KernelError> {
        config.validate()?;
        nonzero(KERNEL, "instances", instances)?;
        at_most(KERNEL, "instances", instances, u16::MAX as usize)?;
        if config.history == HistorySource::SharedTile {
            let bytes = config.shared_tile_len() * 4;
            at_most(KERNEL, "shared window bytes", bytes, client.properties().hardware.max_shared_memory_size)?;
        }
        let ring = Buffer::filled(client, instances * config.in_channels * config.ring_size, 0.0);
        Ok(Self { config, instances, ring, cursor: 0 })
    }

    /// Processes one block: `input` `instances × C_in × frames`, `output` `instances × C_out × frames`.
    pub fn process<R: Runtime>(
        &mut self,
        client: &ComputeClient<R>,
        weights: &Buffer,
        bias: &Buffer,
        input: &Buffer,
        output: &Buffer,
        frames: usize,
    ) -> Result<(), KernelError> {
        let cfg = self.config;
        nonzero(KERNEL, "frames", frames)?;
        at_most(KERNEL, "frames", frames, cfg.max_frames())?;
        len_eq(KERNEL, "weights", self.instances * cfg.weights_len(), weights.len)?;
        if cfg.has_bias {
            len_eq(KERNEL, "bias", self.instances * cfg.out_channels, bias.len)?;
        }
        len_eq(KERNEL, "input", self.instances * cfg.in_channels * frames, input.len)?;
        len_eq(KERNEL, "output", self.instances * cfg.out_channels * frames, output.len)?;
        dilated_conv_push_kernel::launch::<R>(
            client,
            cube_count_1d(input.len, 256),
            CubeDim::new_1d(256),
            self.ring.arg(),
            input.arg(),
            self.cursor,
            frames as u32,
            cfg,
        );
        dilated_conv_kernel::launch::<R>(
            client,
            CubeCount::Static(frames.div_ceil(cfg.tile_frames) as u32, self.instances as u32, 1),
            CubeDim::new_1d(cfg.tile_frames as u32),
            weights.arg(),
            bias.arg(),
            self.ring.arg(),
            output.arg(),
            self.cursor,
            frames as u32,
            cfg,
        );
        self.cursor = self.cursor.wrapping_add(frames as u32);
        Ok(())
    }
}
