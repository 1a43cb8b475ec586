use crate::util::{at_most, nonzero};
use crate::KernelError;

pub(crate) const KERNEL: &str = "column_tile";

/// Compile-time shape of [`column_layer_kernel`](super::column_layer_kernel): `rows` channels,
/// a conv of `taps` taps, `frames` columns per thread and `lanes` threads per instance (a tile
/// of `frames · lanes` positions), each position's rows split over `splits` threads.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub struct ColumnTileConfig {
    /// Channels in and out of the layer.
    pub rows: usize,
    /// Conv taps (≥ 1).
    pub taps: usize,
    /// Columns per thread.
    pub frames: usize,
    /// Threads per instance along the tile.
    pub lanes: usize,
    /// Threads sharing one position's rows (1: a thread owns every row of its columns).
    pub splits: usize,
    /// Weights read from a shared block the cube stages them into, rather than from global
    /// memory.
    pub staged: bool,
}

impl ColumnTileConfig {
    /// Floats of one instance's weights: conv `W[o][c][tap]`, its bias, matrix `M[o][c]`, its bias.
    pub fn weights_len(&self) -> usize {
        self.rows * self.rows * self.taps + self.rows + self.rows * self.rows + self.rows
    }

    /// Positions in one tile.
    pub fn tile(&self) -> usize {
        self.frames * self.lanes
    }

    /// Threads per instance.
    pub fn threads(&self) -> usize {
        self.lanes * self.splits
    }

    /// Checks the compile-time shape (registers grow with `rows · frames`).
    pub fn validate(&self) -> Result<(), KernelError> {
        nonzero(KERNEL, "rows", self.rows)?;
        at_most(KERNEL, "rows", self.rows, 32)?;
        nonzero(KERNEL, "taps", self.taps)?;
        at_most(KERNEL, "taps", self.taps, 16)?;
        nonzero(KERNEL, "frames per thread", self.frames)?;
        at_most(KERNEL, "frames per thread", self.frames, 8)?;
        nonzero(KERNEL, "lanes", self.lanes)?;
        nonzero(KERNEL, "splits", self.splits)?;
        at_most(KERNEL, "threads per instance", self.threads(), 1024)?;
        if self.staged {
            // Static shared memory: 48 KiB on every backend.
            at_most(KERNEL, "staged weights (floats)", self.weights_len(), 8192)?;
        }
        if !self.rows.is_multiple_of(self.splits) {
            return Err(KernelError::Invalid {
                kernel: KERNEL,
                reason: format!("{} rows cannot be split over {} threads", self.rows, self.splits),
            });
        }
        Ok(())
    }
}
