use crate::util::{at_most, nonzero};
use crate::KernelError;

pub(crate) const KERNEL: &str = "matrix_tile";

/// How lanes exchange the rows of B they hold.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum TileExchange {
    /// `plane_shuffle` broadcasts: no shared memory, no barrier (needs plane ops).
    Plane,
    /// Rows are written to shared memory and read back after a barrier (works everywhere).
    Shared,
}

/// Where B comes from.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum TileB {
    /// Distributed over lanes by row, as a previous per-channel step leaves it.
    Registers(TileExchange),
    /// Already in shared memory.
    Shared,
}

/// `C[M×N] += A[M×K] · B[K×N]`, done by one plane of `plane` lanes. Lane `l` owns rows
/// `l, l + plane, …` of both B and C (`rows_per_lane = ceil(max(M, K) / plane)`).
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub struct MatrixTileConfig {
    /// Rows of A and C.
    pub m: usize,
    /// Columns of A, rows of B.
    pub k: usize,
    /// Columns of B and C.
    pub n: usize,
    /// Lanes of the plane that computes the tile.
    pub plane: usize,
    /// Where B is read from.
    pub b: TileB,
}

impl MatrixTileConfig {
    /// Rows of B and C each lane owns.
    pub fn rows_per_lane(&self) -> usize {
        self.m.max(self.k).div_ceil(self.plane)
    }

    /// Checks the sizes against the block's limits.
    pub fn validate(&self) -> Result<(), KernelError> {
        nonzero(KERNEL, "m", self.m)?;
        nonzero(KERNEL, "k", self.k)?;
        nonzero(KERNEL, "n", self.n)?;
        nonzero(KERNEL, "plane", self.plane)?;
        crate::util::power_of_two(KERNEL, "plane", self.plane)?;
        at_most(KERNEL, "m", self.m, 128)?;
        at_most(KERNEL, "k", self.k, 128)?;
        at_most(KERNEL, "n", self.n, 64)?;
        at_most(KERNEL, "plane", self.plane, 128)
    }
}
