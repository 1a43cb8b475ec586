//! Column tiles: each thread owns `frames` columns (positions in time) of a signal of a few
//! channels and keeps every channel of them in registers, so the products of a layer — a dilated
//! causal conv over a ring, a 1×1 matrix, an activation — run with no barrier and no shared
//! memory between them; only the ring write that other threads' taps read needs one.
//!
//! Register layout of a column tile: `rows × frames`, row-major (`tile[r · frames + f]`). Every
//! shape (rows, taps, frames) is a compile-time value: the loops unroll and each weight is read
//! at a constant offset from its base, then feeds `frames` FMAs. Weights as in the rest of the
//! library: a conv `W[o][c][tap]` at `w + (o · rows_in + c) · taps + tap`, a matrix `W[o][c]` at
//! `w + o · rows_in + c`, read from any [`List`]: the weights array, or a shared block they were
//! staged into ([`stage_fetch`], [`stage_commit`]). Positions are absolute frame counters into
//! power-of-two rings ([`crate::delay_line::ring_at`]).
// cubecl 0.10's #[cube] adds an undocumented `pub mod <fn>` (expand, launch) beside every
// device function, which no attribute reaches; the functions themselves are documented.
#![allow(missing_docs)]

mod config;
mod launch;
mod stage;

pub use config::ColumnTileConfig;
pub use launch::{launch_column_layer, ColumnLayerArgs};
pub use stage::{stage_commit, stage_fetch};

use cubecl::prelude::*;

use crate::delay_line::ring_at;

/// `tile[r][f] = weights[at + r]` (a bias per row) for `rows` rows.
#[cube]
pub fn column_fill<W: List<f32>>(
    tile: &mut Array<f32>,
    weights: &W,
    at: usize,
    #[comptime] rows: usize,
    #[comptime] frames: usize,
) {
    column_bias::<W>(tile, weights, at, rows, frames, false);
}

/// `tile[r][f] += weights[at + r]` (a bias per row) for `rows` rows.
#[cube]
pub fn column_add_bias<W: List<f32>>(
    tile: &mut Array<f32>,
    weights: &W,
    at: usize,
    #[comptime] rows: usize,
    #[comptime] frames: usize,
) {
    column_bias::<W>(tile, weights, at, rows, frames, true);
}

/// A bias per row, written over the tile or added to it.
#[cube]
fn column_bias<W: List<f32>>(
    tile: &mut Array<f32>,
    weights: &W,
    at: usize,
    #[comptime] rows: usize,
    #[comptime] frames: usize,
    #[comptime] add: bool,
) {
    #[unroll]
    for r in 0..rows {
        let v = weights.read(at + r);
        #[unroll]
        for f in 0..frames {
            if comptime!(add) {
                tile[r * frames + f] += v;
            } else {
                tile[r * frames + f] = v;
            }
        }
    }
}

/// `acc[o][f] += Σ_c W[o][c] · x[c][f]` (`W` row-major at `w`, `rows_out × rows_in`).
#[cube]
pub fn column_matmul<W: List<f32>>(
    acc: &mut Array<f32>,
    weights: &W,
    w: usize,
    x: &Array<f32>,
    #[comptime] rows_out: usize,
    #[comptime] rows_in: usize,
    #[comptime] frames: usize,
) {
    #[unroll]
    for o in 0..rows_out {
        #[unroll]
        for c in 0..rows_in {
            let wv = weights.read(w + o * rows_in + c);
            #[unroll]
            for f in 0..frames {
                acc[o * frames + f] += wv * x[c * frames + f];
            }
        }
    }
}

/// The dilated causal conv of column tiles: `acc[o][f] += Σ_tap Σ_c W[o][c][tap] ·
/// x_c(pos[f] − d · (taps − 1 − tap))`. The last tap (the columns' own positions) comes from
/// `now` (`rows_in × frames` registers); older taps from the ring of `rows_in` rows at `ring`
/// (run-time power-of-two `size`) in `history`, which must hold those positions.
#[cube]
pub fn column_dilated_conv<W: List<f32>>(
    acc: &mut Array<f32>,
    weights: &W,
    w: usize,
    history: &Array<f32>,
    ring: usize,
    size: usize,
    now: &Array<f32>,
    pos: &Array<u32>,
    d: usize,
    #[comptime] rows_out: usize,
    #[comptime] rows_in: usize,
    #[comptime] taps: usize,
    #[comptime] frames: usize,
) {
    // One input row of one older tap at a time (`frames` loads, then its products) rather than
    // every older tap of every row first, which asked for (taps − 1) · rows_in · frames live
    // values and gained nothing measurable (eleventh measurement, 2026-11-30). Registers bound
    // the columns kernel's occupancy; nvcc still hoists loads into what the launch bound allows
    // (211 → 205 registers for the standard model at 256 threads, Nsight Compute, 2026-12-01).
    #[unroll]
    for tap in 0..comptime!(taps - 1) {
        let back = d * (taps - 1 - tap);
        #[unroll]
        for c in 0..rows_in {
            let mut xv = Array::<f32>::new(frames);
            #[unroll]
            for f in 0..frames {
                xv[f] = history[ring_at(ring, size, 0, pos[f] as usize + size - back) + c * size];
            }
            #[unroll]
            for o in 0..rows_out {
                let wv = weights.read(w + (o * rows_in + c) * taps + tap);
                #[unroll]
                for f in 0..frames {
                    acc[o * frames + f] += wv * xv[f];
                }
            }
        }
    }
    #[unroll]
    for c in 0..rows_in {
        #[unroll]
        for o in 0..rows_out {
            let wv = weights.read(w + (o * rows_in + c) * taps + taps - 1);
            #[unroll]
            for f in 0..frames {
                acc[o * frames + f] += wv * now[c * frames + f];
            }
        }
    }
}

/// Appends the column tile `x` (`rows × frames`) to the ring at `ring` (run-time `size`) at
/// positions `pos[f]`, columns with `valid[f] = 0` left out (past the end of a partial tile).
#[cube]
pub fn column_append(
    history: &mut Array<f32>,
    ring: usize,
    size: usize,
    x: &Array<f32>,
    pos: &Array<u32>,
    valid: &Array<u32>,
    #[comptime] rows: usize,
    #[comptime] frames: usize,
) {
    #[unroll]
    for f in 0..frames {
        if valid[f] != 0 {
            let at = ring_at(ring, size, 0, pos[f] as usize);
            #[unroll]
            for r in 0..rows {
                history[at + r * size] = x[r * frames + f];
            }
        }
    }
}

/// `tile[r][f]` = row `r` of the ring at `ring` (run-time `size`) at position `pos[f]`, for
/// `rows` rows: a layer's own positions of every channel, after the threads that own the other
/// channels appended theirs (rows split over threads, [`column_share`]).
#[cube]
pub fn column_load(
    tile: &mut Array<f32>,
    history: &Array<f32>,
    ring: usize,
    size: usize,
    pos: &Array<u32>,
    #[comptime] rows: usize,
    #[comptime] frames: usize,
) {
    #[unroll]
    for f in 0..frames {
        let at = ring_at(ring, size, 0, pos[f] as usize);
        #[unroll]
        for r in 0..rows {
            tile[r * frames + f] = history[at + r * size];
        }
    }
}

/// Rows split over threads: a position's rows are computed by `splits` threads, `rows` each,
/// and a product that needs all of them (a 1×1 matrix, a head) reads them back from a shared
/// block. Writes this thread's `rows × frames` tile into the block at `at` (its first row's
/// offset; rows `stride` apart), columns `lane + f · lanes`. A barrier must separate it from
/// [`column_gather`].
#[cube]
pub fn column_share(
    shared: &mut SharedMemory<f32>,
    at: usize,
    stride: usize,
    tile: &Array<f32>,
    lane: usize,
    #[comptime] rows: usize,
    #[comptime] frames: usize,
    #[comptime] lanes: usize,
) {
    #[unroll]
    for r in 0..rows {
        #[unroll]
        for f in 0..frames {
            shared[at + r * stride + lane + f * lanes] = tile[r * frames + f];
        }
    }
}

/// Reads `rows × frames` of a shared block written by [`column_share`] (same layout) into `tile`.
#[cube]
pub fn column_gather(
    tile: &mut Array<f32>,
    shared: &SharedMemory<f32>,
    at: usize,
    stride: usize,
    lane: usize,
    #[comptime] rows: usize,
    #[comptime] frames: usize,
    #[comptime] lanes: usize,
) {
    #[unroll]
    for r in 0..rows {
        #[unroll]
        for f in 0..frames {
            tile[r * frames + f] = shared[at + r * stride + lane + f * lanes];
        }
    }
}

/// A test and example kernel: one layer of column tiles per instance (cube `i`, threads own
/// frames `t + k · lanes`, and rows `j · rows / splits` onwards when `splits` threads share a
/// position): `x` of the tile goes into the instance's ring, then `z = bias + conv(x)` and
/// `y = x + M · z + bias_M` are written out, the weights read from global memory or (`staged`)
/// from a shared block the cube filled with [`stage_fetch`] and [`stage_commit`]. Shapes from
/// [`ColumnTileConfig`]; `d` and the ring size at run time.
#[cube(launch)]
pub fn column_layer_kernel(
    weights: &Array<f32>,
    history: &mut Array<f32>,
    x_in: &Array<f32>,
    z_out: &mut Array<f32>,
    y_out: &mut Array<f32>,
    d: u32,
    size: u32,
    cursor: u32,
    #[comptime] cfg: ColumnTileConfig,
) {
    let frames = cfg.frames;
    let tile = comptime!(cfg.frames * cfg.lanes);
    let rows = cfg.rows;
    // This thread's rows: all of them unless split.
    let own = comptime!(cfg.rows / cfg.splits);
    let inst = CUBE_POS;
    let size = size as usize;
    let ring = inst * rows * size;
    let w = inst * cfg.weights_len();
    let lane = UNIT_POS as usize % cfg.lanes;
    let r0 = (UNIT_POS as usize / cfg.lanes) * own;

    let mut pos = Array::<u32>::new(frames);
    let mut valid = Array::<u32>::new(frames);
    let mut x = Array::<f32>::new(comptime!(own * frames));
    #[unroll]
    for f in 0..frames {
        let t = lane + f * cfg.lanes;
        pos[f] = cursor + t as u32;
        valid[f] = 1;
        #[unroll]
        for r in 0..own {
            x[r * frames + f] = x_in[(inst * rows + r0 + r) * tile + t];
        }
    }
    let mut z = Array::<f32>::new(comptime!(own * frames));
    let mut y = Array::<f32>::new(comptime!(own * frames));
    let ring_at_r0 = ring + r0 * size;
    let dilation = d as usize;
    if comptime!(cfg.staged) {
        // The loads go out before the ring write; the ring's barrier covers the stores.
        let len = comptime!(cfg.weights_len());
        let mut staged = SharedMemory::<f32>::new(len);
        let mut regs = Array::<f32>::new(comptime!(cfg.weights_len().div_ceil(cfg.threads())));
        stage_fetch(&mut regs, weights, w, UNIT_POS as usize, cfg.threads(), len);
        column_append(history, ring_at_r0, size, &x, &pos, &valid, own, frames);
        stage_commit(&mut staged, 0, &regs, UNIT_POS as usize, cfg.threads(), len);
        sync_storage();
        sync_cube();
        layer_products::<SharedMemory<f32>>(
            &staged, 0, history, ring, size, &x, &pos, dilation, lane, r0, &mut z, &mut y, cfg,
        );
    } else {
        column_append(history, ring_at_r0, size, &x, &pos, &valid, own, frames);
        sync_storage();
        sync_cube();
        layer_products::<Array<f32>>(
            weights, w, history, ring, size, &x, &pos, dilation, lane, r0, &mut z, &mut y, cfg,
        );
    }
    #[unroll]
    for f in 0..frames {
        let t = lane + f * cfg.lanes;
        #[unroll]
        for r in 0..own {
            let at = (inst * rows + r0 + r) * tile + t;
            z_out[at] = z[r * frames + f];
            y_out[at] = y[r * frames + f];
        }
    }
}

/// [`column_layer_kernel`]'s products once the tile is in the ring: `z` and `y` of this
/// thread's rows from the weights at `w` in `weights`.
#[allow(clippy::too_many_arguments)]
#[cube]
fn layer_products<W: List<f32>>(
    weights: &W,
    w: usize,
    history: &Array<f32>,
    ring: usize,
    size: usize,
    x: &Array<f32>,
    pos: &Array<u32>,
    d: usize,
    lane: usize,
    r0: usize,
    z: &mut Array<f32>,
    y: &mut Array<f32>,
    #[comptime] cfg: ColumnTileConfig,
) {
    let frames = cfg.frames;
    let tile = comptime!(cfg.frames * cfg.lanes);
    let rows = cfg.rows;
    let own = comptime!(cfg.rows / cfg.splits);
    let w_bias = w + rows * rows * cfg.taps;
    let w_m = w_bias + rows;
    let w_mb = w_m + rows * rows;
    column_fill::<W>(z, weights, w_bias + r0, own, frames);
    // The residual the way the NAM columns kernel sums it: into x itself, bias first.
    #[unroll]
    for i in 0..comptime!(own * frames) {
        y[i] = x[i];
    }
    column_add_bias::<W>(y, weights, w_mb + r0, own, frames);
    if comptime!(cfg.splits == 1) {
        column_dilated_conv::<W>(z, weights, w, history, ring, size, x, pos, d, rows, rows, cfg.taps, frames);
        column_matmul::<W>(y, weights, w_m, z, rows, rows, frames);
    } else {
        // The other threads' rows of the tile's own positions come back through the ring,
        // `z`'s through shared memory.
        let mut now = Array::<f32>::new(comptime!(rows * frames));
        column_load(&mut now, history, ring, size, pos, rows, frames);
        let w_conv = w + r0 * rows * cfg.taps;
        column_dilated_conv::<W>(z, weights, w_conv, history, ring, size, &now, pos, d, own, rows, cfg.taps, frames);
        let mut shared = SharedMemory::<f32>::new(comptime!(rows * tile));
        column_share(&mut shared, r0 * tile, tile, z, lane, own, frames, cfg.lanes);
        sync_cube();
        let mut all = Array::<f32>::new(comptime!(rows * frames));
        column_gather(&mut all, &shared, 0, tile, lane, rows, frames, cfg.lanes);
        column_matmul::<W>(y, weights, w_m + r0 * rows, &all, own, rows, frames);
    }
}
