//! Causal dilated Conv1D over a delay line: each block is appended to the ring, then every
//! output frame reads its `K` taps, `d` frames apart, from the ring. Batched over instances,
//! each with its own weights and ring.
// cubecl 0.10's #[cube] adds an undocumented `pub mod <fn>` (expand, launch) beside every
// device function, which no attribute reaches; the functions themselves are documented.
#![allow(missing_docs)]

mod config;
mod launch;

pub use config::{DilatedConvConfig, HistorySource};
pub use launch::DilatedConv;

use cubecl::prelude::*;

use crate::delay_line::{delay_load, delay_load_tile};

/// One output `o` at absolute position `position`, taps read straight from the ring.
#[cube]
pub fn dilated_conv_point_global(
    weights: &Array<f32>,
    w_base: usize,
    ring: &Array<f32>,
    ring_base: usize,
    position: usize,
    o: usize,
    #[comptime] cfg: DilatedConvConfig,
) -> f32 {
    let k_size = cfg.kernel_size;
    let mut acc = 0.0f32;
    for i in 0..cfg.in_channels {
        #[unroll(k_size <= 16)]
        for k in 0..k_size {
            // `+ ring_size` keeps the unsigned arithmetic from wrapping below zero.
            let back = cfg.dilation * (k_size - 1 - k);
            let x = delay_load(ring, ring_base, i, position + cfg.ring_size - back, cfg.ring_size);
            acc += weights[w_base + (o * cfg.in_channels + i) * k_size + k] * x;
        }
    }
    acc
}

/// Cube `(x, y)`: frames `x·tile ..` of instance `y`. Unit `u` computes frame `x·tile + u` for
/// every output channel. The block must already be in the ring at `cursor..cursor + frames`.
#[cube(launch)]
pub fn dilated_conv_kernel(
    weights: &Array<f32>,
    bias: &Array<f32>,
    ring: &Array<f32>,
    output: &mut Array<f32>,
    cursor: u32,
    frames: u32,
    #[comptime] cfg: DilatedConvConfig,
) {
    let n = frames as usize;
    let tile = cfg.tile_frames;
    let instance = CUBE_POS_Y as usize;
    let local = UNIT_POS_X as usize;
    let first = CUBE_POS_X as usize * tile;
    let frame = first + local;
    let w_base = instance * cfg.out_channels * cfg.in_channels * cfg.kernel_size;
    let ring_base = instance * cfg.in_channels * cfg.ring_size;
    let y_base = instance * cfg.out_channels * n;

    if comptime!(cfg.history == HistorySource::SharedTile) {
        let span = comptime!(cfg.tile_frames + cfg.lookback());
        let mut window = SharedMemory::<f32>::new(cfg.in_channels * span);
        // Window column 0 is `lookback` frames before the tile's first frame.
        let start = cursor as usize + first + cfg.ring_size - cfg.lookback();
        delay_load_tile(ring, ring_base, &mut window, start, cfg.in_channels, span, cfg.ring_size);
        sync_cube();
        if frame < n {
            for o in 0..cfg.out_channels {
                let mut acc = 0.0f32;
                if comptime!(cfg.has_bias) {
                    acc = bias[instance * cfg.out_channels + o];
                }
                for i in 0..cfg.in_channels {
                    #[unroll(cfg.kernel_size <= 16)]
                    for k in 0..cfg.kernel_size {
                        let col = local + cfg.lookback() - cfg.dilation * (cfg.kernel_size - 1 - k);
                        acc +=
                            weights[w_base + (o * cfg.in_channels + i) * cfg.kernel_size + k] * window[i * span + col];
                    }
                }
                output[y_base + o * n + frame] = acc;
            }
        }
    } else if frame < n {
        let position = cursor as usize + frame;
        for o in 0..cfg.out_channels {
            let mut acc = dilated_conv_point_global(weights, w_base, ring, ring_base, position, o, cfg);
            if comptime!(cfg.has_bias) {
                acc += bias[instance * cfg.out_channels + o];
            }
            output[y_base + o * n + frame] = acc;
        }
    }
}

/// Appends a block of every instance to its ring (`input`: `instances × C_in × frames`).
#[cube(launch)]
pub fn dilated_conv_push_kernel(
    ring: &mut Array<f32>,
    input: &Array<f32>,
    cursor: u32,
    frames: u32,
    #[comptime] cfg: DilatedConvConfig,
) {
    let i = ABSOLUTE_POS;
    if i < input.len() {
        let n = frames as usize;
        let per_instance = cfg.in_channels * n;
        let instance = i / per_instance;
        let c = (i % per_instance) / n;
        let f = i % n;
        let ring_base = instance * cfg.in_channels * cfg.ring_size;
        crate::delay_line::delay_store(ring, ring_base, c, cursor as usize + f, input[i], cfg.ring_size);
    }
}
