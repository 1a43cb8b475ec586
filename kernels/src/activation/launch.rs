use cubecl::prelude::*;

use super::{activation_kernel, gating_kernel, ActivationKind, GatingMode, PRELU_OFFSET};
use crate::util::{cube_count_1d, len_eq, nonzero, Buffer};
use crate::KernelError;

const KERNEL: &str = "activation";
const UNITS: u32 = 256;

fn check_params(kind: ActivationKind, params: &Buffer, channels: usize) -> Result<(), KernelError> {
    let needed = if kind == ActivationKind::PReLU { PRELU_OFFSET + channels } else { PRELU_OFFSET };
    if params.len < needed {
        return Err(KernelError::SizeMismatch { kernel: KERNEL, what: "params", expected: needed, actual: params.len });
    }
    Ok(())
}

/// Applies `kind` to a `channels × frames` block (`output` may not alias `input`).
pub fn launch_activation<R: Runtime>(
    client: &ComputeClient<R>,
    input: &Buffer,
    output: &Buffer,
    params: &Buffer,
    channels: usize,
    frames: usize,
    kind: ActivationKind,
) -> Result<(), KernelError> {
    nonzero(KERNEL, "channels", channels)?;
    nonzero(KERNEL, "frames", frames)?;
    len_eq(KERNEL, "input", channels * frames, input.len)?;
    len_eq(KERNEL, "output", channels * frames, output.len)?;
    check_params(kind, params, channels)?;
    activation_kernel::launch::<R>(
        client,
        cube_count_1d(channels * frames, UNITS as usize),
        CubeDim::new_1d(UNITS),
        input.arg(),
        output.arg(),
        params.arg(),
        frames as u32,
        kind,
    );
    Ok(())
}

/// Gates a `2·channels × frames` block into `channels × frames`.
#[allow(clippy::too_many_arguments)]
pub fn launch_gating<R: Runtime>(
    client: &ComputeClient<R>,
    input: &Buffer,
    output: &Buffer,
    primary_params: &Buffer,
    secondary_params: &Buffer,
    channels: usize,
    frames: usize,
    primary: ActivationKind,
    secondary: ActivationKind,
    mode: GatingMode,
) -> Result<(), KernelError> {
    nonzero(KERNEL, "channels", channels)?;
    nonzero(KERNEL, "frames", frames)?;
    len_eq(KERNEL, "input", 2 * channels * frames, input.len)?;
    len_eq(KERNEL, "output", channels * frames, output.len)?;
    check_params(primary, primary_params, channels)?;
    check_params(secondary, secondary_params, channels)?;
    gating_kernel::launch::<R>(
        client,
        cube_count_1d(channels * frames, UNITS as usize),
        CubeDim::new_1d(UNITS),
        input.arg(),
        output.arg(),
        primary_params.arg(),
        secondary_params.arg(),
        frames as u32,
        primary,
        secondary,
        mode,
    );
    Ok(())
}
