use crate::util::{at_most, nonzero};
use crate::KernelError;

pub(crate) const KERNEL: &str = "tile_conv";

/// Rows of one tensor-core tile (`m` of the m16n8k8 tf32 MMA).
pub const MMA_ROWS: usize = 16;
/// Frames of one tensor-core tile (`n`).
pub const MMA_FRAMES: usize = 8;
/// Input rows one MMA consumes (`k`).
pub const MMA_DEPTH: usize = 8;

/// How the products of a tile conv are computed. Both paths give the same result to within
/// fp32 rounding (the tensor-core path only with `split`).
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum TileConvPath {
    /// Scalar FMAs on every runtime: a thread holds `rows × frames` outputs in registers, so each
    /// weight load feeds `frames` FMAs and each input load `rows`.
    Scalar {
        /// Output rows per thread.
        rows: usize,
        /// Frames per thread (a power of two ≤ 4 dividing the tile).
        frames: usize,
    },
    /// Warp-level tensor-core MMAs (tf32 m16n8k8; CUDA sm_80+, see [`super::tensor_cores`]).
    /// Each warp computes 16 × 8 output tiles. With `split`, operands are split `x = hi + lo`
    /// in tf32 and the product taken as `hi·hi + hi·lo + lo·hi` ("3×TF32"), which keeps about
    /// fp32 accuracy at a third of the tensor-core rate; without it, plain tf32 (10-bit
    /// mantissa: ~1e-3 relative error per product).
    TensorCore {
        /// Error-compensated 3×TF32 products.
        split: bool,
    },
}

/// Compile-time shape of a tile conv: frames per tile, the product path and what is fused in.
/// Row counts, taps and dilation are run-time values, so one compiled kernel serves every layer
/// of every model that fits.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub struct TileConvConfig {
    /// Frames per tile (the row stride of every shared-memory block).
    pub tile: usize,
    /// How products are computed.
    pub path: TileConvPath,
    /// Adds `mix[o] · in[t]` (a one-row input mixed into every output row: WaveNet's condition).
    pub mix: bool,
    /// Accumulates into the destination instead of overwriting it (a residual `x += W·a`).
    pub add: bool,
}

impl TileConvConfig {
    /// Checks the compile-time shape.
    pub fn validate(&self) -> Result<(), KernelError> {
        nonzero(KERNEL, "tile", self.tile)?;
        at_most(KERNEL, "tile", self.tile, 1024)?;
        match self.path {
            TileConvPath::Scalar { rows, frames } => {
                nonzero(KERNEL, "rows per thread", rows)?;
                at_most(KERNEL, "rows per thread", rows, 8)?;
                if ![1, 2, 4].contains(&frames) || !self.tile.is_multiple_of(frames) {
                    return Err(KernelError::Invalid {
                        kernel: KERNEL,
                        reason: format!(
                            "frames per thread {frames} must be 1, 2 or 4 and divide the tile {}",
                            self.tile
                        ),
                    });
                }
            }
            TileConvPath::TensorCore { .. } => {
                if !self.tile.is_multiple_of(MMA_FRAMES) {
                    return Err(KernelError::Invalid {
                        kernel: KERNEL,
                        reason: format!(
                            "the tensor-core path needs a tile that is a multiple of {MMA_FRAMES} frames, not {}",
                            self.tile
                        ),
                    });
                }
            }
        }
        Ok(())
    }
}
