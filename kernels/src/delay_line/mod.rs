//! Multichannel delay line: a ring of `channels × size` frames (size a power of two, wrap by
//! mask) indexed by a free-running cursor. This is the history store of dilated convolutions,
//! FIR filters and partitioned convolution.
//!
//! Ring layout: `ring[channel * size + (position & (size - 1))]`. Positions are absolute frame
//! counters (u32, wrapping); only their low bits address the ring, so the cursor never needs to
//! be reduced and "`d` frames ago" is `cursor + size - d`.
// cubecl 0.10's #[cube] adds an undocumented `pub mod <fn>` (expand, launch) beside every
// device function, which no attribute reaches; the functions themselves are documented.
#![allow(missing_docs)]

mod config;
mod launch;

pub use config::DelayLineConfig;
pub use launch::{launch_append_and_stage, DelayLine, StageArgs};

use cubecl::prelude::*;

/// Ring index of `position` in `channel`.
#[cube]
pub fn ring_index(channel: usize, position: usize, #[comptime] size: usize) -> usize {
    channel * size + (position & (size - 1))
}

/// The value of `channel` at absolute `position` in a ring starting at `base`.
#[cube]
pub fn delay_load(ring: &Array<f32>, base: usize, channel: usize, position: usize, #[comptime] size: usize) -> f32 {
    ring[base + ring_index(channel, position, size)]
}

/// Writes `value` for `channel` at absolute `position` in a ring starting at `base`.
#[cube]
pub fn delay_store(
    ring: &mut Array<f32>,
    base: usize,
    channel: usize,
    position: usize,
    value: f32,
    #[comptime] size: usize,
) {
    ring[base + ring_index(channel, position, size)] = value;
}

/// Stores one frame (one value per channel) at `position`; unit `c` of the cube stores channel
/// `c`, strided by the cube size.
#[cube]
pub fn delay_store_frame(
    ring: &mut Array<f32>,
    base: usize,
    frame: &Array<f32>,
    frame_offset: usize,
    position: usize,
    #[comptime] channels: usize,
    #[comptime] size: usize,
) {
    let mut c = UNIT_POS as usize;
    while c < channels {
        delay_store(ring, base, c, position, frame[frame_offset + c], size);
        c += CUBE_DIM as usize;
    }
}

/// Loads one frame at `position` into `frame[frame_offset..]`, cooperatively like the store.
#[cube]
pub fn delay_load_frame(
    ring: &Array<f32>,
    base: usize,
    frame: &mut Array<f32>,
    frame_offset: usize,
    position: usize,
    #[comptime] channels: usize,
    #[comptime] size: usize,
) {
    let mut c = UNIT_POS as usize;
    while c < channels {
        frame[frame_offset + c] = delay_load(ring, base, c, position, size);
        c += CUBE_DIM as usize;
    }
}

/// Loads `channels × frames` frames starting at `start` into a shared tile
/// (`tile[channel * frames + frame]`), wrapping around the ring. Cooperative: every unit of the
/// cube must call it; the caller syncs before reading the tile.
#[cube]
pub fn delay_load_tile(
    ring: &Array<f32>,
    base: usize,
    tile: &mut SharedMemory<f32>,
    start: usize,
    #[comptime] channels: usize,
    #[comptime] frames: usize,
    #[comptime] size: usize,
) {
    let mut i = UNIT_POS as usize;
    while i < channels * frames {
        let c = i / frames;
        let f = i % frames;
        tile[i] = delay_load(ring, base, c, start + f, size);
        i += CUBE_DIM as usize;
    }
}

/// Stores a shared tile (`tile[channel * frames + frame]`) at `start`, wrapping around.
#[cube]
pub fn delay_store_tile(
    ring: &mut Array<f32>,
    base: usize,
    tile: &SharedMemory<f32>,
    start: usize,
    #[comptime] channels: usize,
    #[comptime] frames: usize,
    #[comptime] size: usize,
) {
    let mut i = UNIT_POS as usize;
    while i < channels * frames {
        let c = i / frames;
        let f = i % frames;
        delay_store(ring, base, c, start + f, tile[i], size);
        i += CUBE_DIM as usize;
    }
}

/// Writes a planar `channels × frames` block at positions `cursor..cursor + frames`.
#[cube(launch)]
pub fn delay_push_kernel(ring: &mut Array<f32>, input: &Array<f32>, cursor: u32, frames: u32, #[comptime] size: usize) {
    let i = ABSOLUTE_POS;
    if i < input.len() {
        let c = i / frames as usize;
        let f = i % frames as usize;
        delay_store(ring, 0, c, cursor as usize + f, input[i], size);
    }
}

/// Reads positions `start..start + frames` of every channel into a planar block.
#[cube(launch)]
pub fn delay_read_kernel(ring: &Array<f32>, output: &mut Array<f32>, start: u32, frames: u32, #[comptime] size: usize) {
    let i = ABSOLUTE_POS;
    if i < output.len() {
        let c = i / frames as usize;
        let f = i % frames as usize;
        output[i] = delay_load(ring, 0, c, start as usize + f, size);
    }
}

/// Same as [`delay_read_kernel`] through a shared tile per cube (cube `k` reads tile `k`).
#[cube(launch)]
pub fn delay_read_tile_kernel(
    ring: &Array<f32>,
    output: &mut Array<f32>,
    start: u32,
    total_frames: u32,
    #[comptime] channels: usize,
    #[comptime] tile_frames: usize,
    #[comptime] size: usize,
) {
    let mut tile = SharedMemory::<f32>::new(channels * tile_frames);
    let first = CUBE_POS * tile_frames;
    delay_load_tile(ring, 0, &mut tile, start as usize + first, channels, tile_frames, size);
    sync_cube();
    let mut i = UNIT_POS as usize;
    while i < channels * tile_frames {
        let c = i / tile_frames;
        let f = first + i % tile_frames;
        if f < total_frames as usize {
            output[c * total_frames as usize + f] = tile[i];
        }
        i += CUBE_DIM as usize;
    }
}

/// Index of `position` in a ring of run-time `size` (a power of two) of `row`-major rows
/// starting at `base`.
#[cube]
pub fn ring_at(base: usize, size: usize, row: usize, position: usize) -> usize {
    base + row * size + (position & (size - 1))
}

/// The history step of a layer whose conv reads shared memory only ([`crate::tile_conv`]):
/// appends this tile (`n` frames of `rows` rows of shared `region`, row stride `tile`) to the
/// ring at `base` (run-time `size`) at positions `pos..pos + n`, and for every tap but the last
/// (`back = d·(K−1−tap)` > 0; none when `kk` = 1) copies the frames that reach back before the
/// tile from the ring into shared block `tap` (`rows` rows) at `stage`. One round of
/// independent ring loads per layer instead of a chain of them in the conv's inner loop. No
/// barrier: the caller adds a cube barrier, and a storage barrier before this tile's ring
/// frames are read back through global memory (the staged taps are all before `pos`).
#[cube]
pub fn append_and_stage(
    ring: &mut Array<f32>,
    sh: &mut SharedMemory<f32>,
    region: usize,
    rows: usize,
    kk: usize,
    d: usize,
    n: usize,
    base: usize,
    size: usize,
    pos: usize,
    stage: usize,
    #[comptime] tile: usize,
) {
    let mut i = UNIT_POS as usize;
    while i < rows * tile {
        let r = i / tile;
        let t = i % tile;
        if t < n {
            ring[ring_at(base, size, r, pos + t)] = sh[region + i];
        }
        for tap in 0..kk - 1 {
            let back = d * (kk - 1 - tap);
            if t < back {
                sh[stage + (tap * rows + r) * tile + t] = ring[ring_at(base, size, r, pos + t + size - back)];
            }
        }
        i += CUBE_DIM as usize;
    }
}

/// Standalone [`append_and_stage`] for tests: one cube appends `n` frames of a `rows × tile`
/// block to the ring at `pos` and writes the staged taps (`(kk−1)·rows × tile`) to `staged`
/// (frames it does not stage stay as they were).
#[cube(launch)]
pub fn append_and_stage_kernel(
    ring: &mut Array<f32>,
    block: &Array<f32>,
    staged: &mut Array<f32>,
    dims: &Array<u32>,
    #[comptime] tile: usize,
    #[comptime] shared_len: usize,
) {
    let rows = dims[0] as usize;
    let kk = dims[1] as usize;
    let d = dims[2] as usize;
    let n = dims[3] as usize;
    let size = dims[4] as usize;
    let pos = dims[5] as usize;
    let stage = rows * tile;
    let stage_len = (kk - 1) * rows * tile;
    let mut sh = SharedMemory::<f32>::new(shared_len);
    let mut i = UNIT_POS as usize;
    while i < rows * tile {
        sh[i] = block[i];
        i += CUBE_DIM as usize;
    }
    let mut i = UNIT_POS as usize;
    while i < stage_len {
        sh[stage + i] = staged[i];
        i += CUBE_DIM as usize;
    }
    sync_cube();
    append_and_stage(ring, &mut sh, 0, rows, kk, d, n, 0, size, pos, stage, tile);
    sync_cube();
    let mut i = UNIT_POS as usize;
    while i < stage_len {
        staged[i] = sh[stage + i];
        i += CUBE_DIM as usize;
    }
}
