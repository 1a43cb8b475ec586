//! Weights staged in shared memory, one block ahead: the threads of a cube copy the next block
//! (a layer's weights) from global memory in one coalesced sweep while they compute with the
//! current one. [`stage_fetch`] issues the loads into registers early; [`stage_commit`] stores
//! them once every thread is done with the block they overwrite (double buffering: two blocks).
//!
//! Why: a column tile reads each weight once per tile, at a constant offset, to feed `frames`
//! FMAs. When a cube holds one instance (a stream split over threads), every thread's weight
//! loads miss L1 and wait on L2 in dependent batches, as many as the registers allow to be in
//! flight; a sweep puts all of a block's loads in flight at once and hides them behind a
//! block's arithmetic, and the products then read shared memory (a warp reads one address: a
//! broadcast).

use cubecl::prelude::*;

/// Loads this thread's part of `len` floats at `from` into `regs` (at least `len / units`
/// rounded up floats): thread `unit` of `units` takes floats `unit + k · units`, so a warp's
/// loads are consecutive addresses.
#[cube]
pub fn stage_fetch(
    regs: &mut Array<f32>,
    weights: &Array<f32>,
    from: usize,
    unit: usize,
    #[comptime] units: usize,
    #[comptime] len: usize,
) {
    #[unroll]
    for k in 0..comptime!(len.div_ceil(units)) {
        let i = unit + k * units;
        if i < len {
            regs[k] = weights[from + i];
        }
    }
}

/// Stores what [`stage_fetch`] loaded into the shared block at `at`. A barrier must separate it
/// from the last read of that block before and the first read after.
#[cube]
pub fn stage_commit(
    shared: &mut SharedMemory<f32>,
    at: usize,
    regs: &Array<f32>,
    unit: usize,
    #[comptime] units: usize,
    #[comptime] len: usize,
) {
    #[unroll]
    for k in 0..comptime!(len.div_ceil(units)) {
        let i = unit + k * units;
        if i < len {
            shared[at + i] = regs[k];
        }
    }
}
