//! Pointwise (1×1) convolution: `y[:, n] = act(W · x[:, n] + b)` for every frame `n`, batched
//! over independent instances (each with its own weights).
//!
//! Layouts, per instance: `W[M×K]` row-major, `b[M]`, `x[K×N]` and `y[M×N]` planar.
// cubecl 0.10's #[cube] adds an undocumented `pub mod <fn>` (expand, launch) beside every
// device function, which no attribute reaches; the functions themselves are documented.
#![allow(missing_docs)]

mod config;
mod launch;

pub use config::{Conv1x1Config, InputSource, MAX_CHANNELS};
pub use launch::launch_conv1x1;

use cubecl::prelude::*;

use crate::activation::activate;

/// Output `o` of one frame whose input column sits in shared memory at
/// `tile[k * stride + frame]`.
#[cube]
pub fn conv1x1_dot_shared(
    weights: &Array<f32>,
    w_base: usize,
    tile: &SharedMemory<f32>,
    stride: usize,
    frame: usize,
    o: usize,
    #[comptime] in_channels: usize,
) -> f32 {
    let mut acc = 0.0f32;
    #[unroll(in_channels <= 32)]
    for k in 0..in_channels {
        acc += weights[w_base + o * in_channels + k] * tile[k * stride + frame];
    }
    acc
}

/// Output `o` of one frame whose input column is in a unit-local array.
#[cube]
pub fn conv1x1_dot_registers(
    weights: &Array<f32>,
    w_base: usize,
    column: &Array<f32>,
    o: usize,
    #[comptime] in_channels: usize,
) -> f32 {
    let mut acc = 0.0f32;
    #[unroll(in_channels <= 32)]
    for k in 0..in_channels {
        acc += weights[w_base + o * in_channels + k] * column[k];
    }
    acc
}

/// Cube `(x, y)`: frames `x·tile .. (x+1)·tile` of instance `y`; unit `u`: frame `x·tile + u`.
#[cube(launch)]
pub fn conv1x1_kernel(
    weights: &Array<f32>,
    bias: &Array<f32>,
    input: &Array<f32>,
    output: &mut Array<f32>,
    act_params: &Array<f32>,
    frames: u32,
    #[comptime] cfg: Conv1x1Config,
) {
    let m = cfg.out_channels;
    let k_in = cfg.in_channels;
    let tile = cfg.tile_frames;
    let n = frames as usize;
    let instance = CUBE_POS_Y as usize;
    let frame = CUBE_POS_X as usize * tile + UNIT_POS_X as usize;
    let w_base = instance * m * k_in;
    let x_base = instance * k_in * n;
    let y_base = instance * m * n;
    let b_base = instance * m;

    if comptime!(cfg.input == InputSource::Shared) {
        let mut shared = SharedMemory::<f32>::new(k_in * tile);
        let first = CUBE_POS_X as usize * tile;
        let mut i = UNIT_POS as usize;
        while i < k_in * tile {
            let k = i / tile;
            let f = first + i % tile;
            let mut v = 0.0f32;
            if f < n {
                v = input[x_base + k * n + f];
            }
            shared[i] = v;
            i += CUBE_DIM as usize;
        }
        sync_cube();
        if frame < n {
            for o in 0..m {
                let mut acc = conv1x1_dot_shared(weights, w_base, &shared, tile, UNIT_POS_X as usize, o, k_in);
                if comptime!(cfg.has_bias) {
                    acc += bias[b_base + o];
                }
                output[y_base + o * n + frame] = activate(acc, act_params, o, cfg.activation);
            }
        }
    } else {
        if frame < n {
            let mut column = Array::<f32>::new(k_in);
            #[unroll(k_in <= 32)]
            for k in 0..k_in {
                column[k] = input[x_base + k * n + frame];
            }
            for o in 0..m {
                let mut acc = conv1x1_dot_registers(weights, w_base, &column, o, k_in);
                if comptime!(cfg.has_bias) {
                    acc += bias[b_base + o];
                }
                output[y_base + o * n + frame] = activate(acc, act_params, o, cfg.activation);
            }
        }
    }
}
