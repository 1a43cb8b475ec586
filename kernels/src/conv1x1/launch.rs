use cubecl::prelude::*;

use super::config::KERNEL;
use super::{conv1x1_kernel, Conv1x1Config};
use crate::activation::{ActivationKind, PRELU_OFFSET};
use crate::util::{at_most, len_eq, nonzero, Buffer};
use crate::KernelError;

/// Runs `instances` independent pointwise convolutions of `frames` frames in one launch.
///
/// Buffers hold all instances back to back: `weights` `instances·M·K`, `bias` `instances·M`
/// (ignored without bias), `input` `instances·K·frames`, `output` `instances·M·frames`.
#[allow(clippy::too_many_arguments)]
pub fn launch_conv1x1<R: Runtime>(
    client: &ComputeClient<R>,
    config: Conv1x1Config,
    instances: usize,
    frames: usize,
    weights: &Buffer,
    bias: &Buffer,
    input: &Buffer,
    output: &Buffer,
    act_params: &Buffer,
) -> Result<(), KernelError> {
    config.validate()?;
    nonzero(KERNEL, "instances", instances)?;
    nonzero(KERNEL, "frames", frames)?;
    at_most(KERNEL, "instances", instances, u16::MAX as usize)?;
    len_eq(KERNEL, "weights", instances * config.weights_len(), weights.len)?;
    if config.has_bias {
        len_eq(KERNEL, "bias", instances * config.out_channels, bias.len)?;
    }
    len_eq(KERNEL, "input", instances * config.in_channels * frames, input.len)?;
    len_eq(KERNEL, "output", instances * config.out_channels * frames, output.len)?;
    let needed = PRELU_OFFSET + if config.activation == ActivationKind::PReLU { config.out_channels } else { 0 };
    if act_params.len < needed {
        return Err(crate::KernelError::SizeMismatch {
            kernel: KERNEL,
            what: "act_params",
            expected: needed,
            actual: act_params.len,
        });
    }
    if config.input == super::InputSource::Shared {
        let bytes = config.in_channels * config.tile_frames * 4;
        at_most(KERNEL, "shared tile bytes", bytes, client.properties().hardware.max_shared_memory_size)?;
    }
    conv1x1_kernel::launch::<R>(
        client,
        CubeCount::Static(frames.div_ceil(config.tile_frames) as u32, instances as u32, 1),
        CubeDim::new_1d(config.tile_frames as u32),
        weights.arg(),
        bias.arg(),
        input.arg(),
        output.arg(),
        act_params.arg(),
        frames as u32,
        config,
    );
    Ok(())
}
