use cubecl::ir::features::MmaConfig;
use cubecl::ir::{ElemType, FloatKind};
use cubecl::prelude::*;

use super::config::KERNEL;
use super::{tile_conv_kernel, TileConvConfig, TileConvPath, MMA_DEPTH, MMA_FRAMES, MMA_ROWS};
use crate::util::{at_most, len_eq, nonzero, Buffer, IndexBuffer};
use crate::KernelError;

/// True when the device runs the tensor-core path: warp-level tf32 m16n8k8 MMAs with f32
/// accumulators (CUDA sm_80+ in cubecl 0.10; no wgpu backend exposes them with f32 accuracy)
/// and 32-lane planes, which the fragment layout assumes.
pub fn tensor_cores<R: Runtime>(client: &ComputeClient<R>) -> bool {
    let tf32 = ElemType::Float(FloatKind::TF32);
    let wanted = MmaConfig {
        a_type: tf32.into(),
        b_type: tf32.into(),
        cd_type: ElemType::Float(FloatKind::F32).into(),
        m: MMA_ROWS as u32,
        n: MMA_FRAMES as u32,
        k: MMA_DEPTH as u32,
    };
    let hw = &client.properties().hardware;
    client.features().matmul.mma.contains(&wanted) && hw.plane_size_min == 32 && hw.plane_size_max == 32
}

/// Run-time sizes of a standalone tile conv.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TileConvArgs {
    /// Output rows.
    pub rows_out: usize,
    /// Input rows.
    pub rows_in: usize,
    /// Taps (K ≥ 1).
    pub taps: usize,
    /// Frames between taps.
    pub dilation: usize,
}

impl TileConvArgs {
    /// Floats of one instance's weights: `W[o][ci][tap]`, then the bias, then the mix weights.
    pub fn weights_len(&self) -> usize {
        self.rows_out * self.rows_in * self.taps + 2 * self.rows_out
    }

    /// Floats of one instance's staged taps (`taps − 1` blocks of `rows_in × tile`).
    pub fn stage_len(&self, tile: usize) -> usize {
        (self.taps - 1) * self.rows_in * tile
    }
}

/// Runs `instances` independent tile convs, one cube of `units` threads each (a multiple of 32
/// on the tensor-core path). Per instance: `weights` ([`TileConvArgs::weights_len`]), `src`
/// (`rows_in × tile`), `stage` ([`TileConvArgs::stage_len`]), `mix_in` (`tile`), `dst`
/// (`rows_out × tile`, read first when `cfg.add`).
#[allow(clippy::too_many_arguments)]
pub fn launch_tile_conv<R: Runtime>(
    client: &ComputeClient<R>,
    cfg: TileConvConfig,
    args: TileConvArgs,
    instances: usize,
    units: u32,
    weights: &Buffer,
    src: &Buffer,
    stage: &Buffer,
    mix_in: &Buffer,
    dst: &Buffer,
) -> Result<(), KernelError> {
    cfg.validate()?;
    nonzero(KERNEL, "instances", instances)?;
    nonzero(KERNEL, "rows_out", args.rows_out)?;
    nonzero(KERNEL, "rows_in", args.rows_in)?;
    nonzero(KERNEL, "taps", args.taps)?;
    at_most(KERNEL, "units", units as usize, client.properties().hardware.max_units_per_cube as usize)?;
    let tile = cfg.tile;
    if matches!(cfg.path, TileConvPath::TensorCore { .. }) {
        if !tensor_cores(client) {
            return Err(KernelError::Invalid {
                kernel: KERNEL,
                reason: "this device has no tf32 tensor-core MMA (m16n8k8, 32-lane planes)".into(),
            });
        }
        if !units.is_multiple_of(32) {
            return Err(KernelError::Invalid { kernel: KERNEL, reason: format!("{units} threads is not whole warps") });
        }
    }
    let back = args.dilation * (args.taps - 1);
    if back > 0 && args.stage_len(tile) == 0 {
        return Err(KernelError::Invalid { kernel: KERNEL, reason: "taps reach back but no stage".into() });
    }
    len_eq(KERNEL, "weights", instances * args.weights_len(), weights.len)?;
    len_eq(KERNEL, "src", instances * args.rows_in * tile, src.len)?;
    len_eq(KERNEL, "stage", instances * args.stage_len(tile).max(1), stage.len)?;
    len_eq(KERNEL, "mix_in", instances * tile, mix_in.len)?;
    len_eq(KERNEL, "dst", instances * args.rows_out * tile, dst.len)?;
    let shared_len = (args.rows_in + args.rows_out) * tile + args.stage_len(tile) + tile;
    let limit = client.properties().hardware.max_shared_memory_size / 4;
    at_most(KERNEL, "shared floats", shared_len, limit)?;
    let dims = IndexBuffer::upload(
        client,
        &[args.rows_out as u32, args.rows_in as u32, args.taps as u32, args.dilation as u32],
    );
    tile_conv_kernel::launch::<R>(
        client,
        CubeCount::Static(instances as u32, 1, 1),
        CubeDim::new_1d(units),
        weights.arg(),
        src.arg(),
        stage.arg(),
        mix_in.arg(),
        dst.arg(),
        dims.arg(),
        cfg,
        shared_len,
    );
    Ok(())
}
