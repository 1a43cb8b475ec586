use cubecl::prelude::*;

use super::config::KERNEL;
use super::{column_layer_kernel, ColumnTileConfig};
use crate::util::{len_eq, nonzero, power_of_two, Buffer};
use crate::KernelError;

/// Run-time arguments of [`launch_column_layer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnLayerArgs {
    /// Independent instances (one cube each).
    pub instances: usize,
    /// Frames between taps.
    pub dilation: usize,
    /// Ring size per row (a power of two ≥ `dilation · (taps − 1) + tile`).
    pub ring: usize,
    /// Absolute position of the tile's first frame.
    pub cursor: u32,
}

/// One column-tile layer per instance (see [`column_layer_kernel`]): `weights`
/// (`instances ·` [`ColumnTileConfig::weights_len`]), `history` (`instances · rows · ring`, read
/// for older taps and written with the tile), `x` (`instances · rows · tile`), outputs `z` and
/// `y` of the same shape.
#[allow(clippy::too_many_arguments)]
pub fn launch_column_layer<R: Runtime>(
    client: &ComputeClient<R>,
    cfg: ColumnTileConfig,
    args: ColumnLayerArgs,
    weights: &Buffer,
    history: &Buffer,
    x: &Buffer,
    z: &Buffer,
    y: &Buffer,
) -> Result<(), KernelError> {
    cfg.validate()?;
    nonzero(KERNEL, "instances", args.instances)?;
    power_of_two(KERNEL, "ring", args.ring)?;
    if args.ring < args.dilation * (cfg.taps - 1) + cfg.tile() {
        return Err(KernelError::Invalid {
            kernel: KERNEL,
            reason: format!(
                "a ring of {} frames cannot hold {} frames of taps and a tile of {}",
                args.ring,
                args.dilation * (cfg.taps - 1),
                cfg.tile()
            ),
        });
    }
    let n = args.instances;
    len_eq(KERNEL, "weights", n * cfg.weights_len(), weights.len)?;
    len_eq(KERNEL, "history", n * cfg.rows * args.ring, history.len)?;
    for (what, b) in [("x", x), ("z", z), ("y", y)] {
        len_eq(KERNEL, what, n * cfg.rows * cfg.tile(), b.len)?;
    }
    column_layer_kernel::launch::<R>(
        client,
        CubeCount::Static(n as u32, 1, 1),
        CubeDim::new_1d(cfg.threads() as u32),
        weights.arg(),
        history.arg(),
        x.arg(),
        z.arg(),
        y.arg(),
        args.dilation as u32,
        args.ring as u32,
        args.cursor,
        cfg,
    );
    Ok(())
}
