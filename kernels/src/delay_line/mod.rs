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
pub use launch::DelayLine;

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
