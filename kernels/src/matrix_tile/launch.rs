use cubecl::prelude::*;

use super::config::KERNEL;
use super::{matrix_tile_kernel, MatrixTileConfig, TileB, TileExchange};
use crate::util::{len_eq, nonzero, Buffer};
use crate::KernelError;

/// True when the device promises plane (subgroup) operations.
pub fn has_plane_ops<R: Runtime>(client: &ComputeClient<R>) -> bool {
    client.features().plane.contains(cubecl::ir::features::Plane::Ops)
}

/// `C += A·B` for `instances` independent tiles, one plane each. `cfg.plane` must equal the
/// device's plane width for the plane-exchange path (it is the cube size).
pub fn launch_matrix_tile<R: Runtime>(
    client: &ComputeClient<R>,
    cfg: MatrixTileConfig,
    instances: usize,
    a: &Buffer,
    b: &Buffer,
    c: &Buffer,
) -> Result<(), KernelError> {
    cfg.validate()?;
    nonzero(KERNEL, "instances", instances)?;
    len_eq(KERNEL, "a", instances * cfg.m * cfg.k, a.len)?;
    len_eq(KERNEL, "b", instances * cfg.k * cfg.n, b.len)?;
    len_eq(KERNEL, "c", instances * cfg.m * cfg.n, c.len)?;
    if cfg.b == TileB::Registers(TileExchange::Plane) {
        let hw = &client.properties().hardware;
        if cfg.plane < hw.plane_size_min as usize || cfg.plane > hw.plane_size_max as usize {
            return Err(KernelError::Invalid {
                kernel: KERNEL,
                reason: format!(
                    "plane width {} is outside the device's {}..={}",
                    cfg.plane, hw.plane_size_min, hw.plane_size_max
                ),
            });
        }
    }
    matrix_tile_kernel::launch::<R>(
        client,
        CubeCount::Static(instances as u32, 1, 1),
        CubeDim::new_1d(cfg.plane as u32),
        a.arg(),
        b.arg(),
        c.arg(),
        cfg,
    );
    Ok(())
}
