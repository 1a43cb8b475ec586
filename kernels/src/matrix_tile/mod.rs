//! Small matrix tiles multiplied cooperatively by one plane (warp/subgroup).
//!
//! The shape NAM-style networks need: channel counts of 2–32, with the activation of channel
//! `c` held by lane `c`. A sits in shared memory (weights, staged once), B is either spread over
//! the lanes' registers by row or in shared memory, and C accumulates in registers by row.
//! With plane ops a lane reads another lane's B row by `plane_shuffle`; without them rows go
//! through shared memory and a barrier.
// cubecl 0.10's #[cube] adds an undocumented `pub mod <fn>` (expand, launch) beside every
// device function, which no attribute reaches; the functions themselves are documented.
#![allow(missing_docs)]

mod config;
mod launch;

pub use config::{MatrixTileConfig, TileB, TileExchange};
pub use launch::{has_plane_ops, launch_matrix_tile};

use cubecl::prelude::*;

/// `c_regs += A · B` for this lane's rows. `b_regs[j·N + n]` is row `lane + j·plane` of B,
/// `c_regs[j·N + n]` row `lane + j·plane` of C. `tile` holds A (`M×K` row-major) at offset 0 and
/// the `K×N` staging (or source) area for B after it: one shared array, so the generated code
/// declares a single shared buffer (cubecl 0.10 orders several nondeterministically).
#[cube]
pub fn matrix_tile_mac(
    tile: &mut SharedMemory<f32>,
    b_regs: &Array<f32>,
    c_regs: &mut Array<f32>,
    #[comptime] cfg: MatrixTileConfig,
) {
    let b_off = comptime!(cfg.m * cfg.k);
    let lane = UNIT_POS_PLANE as usize;
    let rows = comptime!(cfg.rows_per_lane());
    let n_cols = cfg.n;
    let plane = cfg.plane;

    if comptime!(cfg.b == TileB::Registers(TileExchange::Shared)) {
        #[unroll]
        for j in 0..rows {
            let row = lane + j * plane;
            if row < cfg.k {
                #[unroll]
                for c in 0..n_cols {
                    tile[b_off + row * n_cols + c] = b_regs[j * n_cols + c];
                }
            }
        }
        sync_cube();
    }

    if comptime!(cfg.b == TileB::Registers(TileExchange::Plane)) {
        // Every lane takes part in every shuffle (lanes without a C row too): shuffles are
        // collective.
        for kk in 0..cfg.k {
            let src_lane = (kk % plane) as u32;
            let slot = kk / plane;
            #[unroll]
            for c in 0..n_cols {
                let b = plane_shuffle(b_regs[slot * n_cols + c], src_lane);
                #[unroll]
                for j in 0..rows {
                    let row = lane + j * plane;
                    if row < cfg.m {
                        c_regs[j * n_cols + c] += tile[row * cfg.k + kk] * b;
                    }
                }
            }
        }
    } else {
        #[unroll]
        for j in 0..rows {
            let row = lane + j * plane;
            if row < cfg.m {
                for kk in 0..cfg.k {
                    let w = tile[row * cfg.k + kk];
                    #[unroll]
                    for c in 0..n_cols {
                        c_regs[j * n_cols + c] += w * tile[b_off + kk * n_cols + c];
                    }
                }
            }
        }
    }
}

/// One plane per cube, one tile per cube (`CUBE_POS` selects the instance).
/// `a`: `M×K`, `b`: `K×N`, `c`: `M×N` (accumulated in place), all row-major per instance.
#[cube(launch)]
pub fn matrix_tile_kernel(a: &Array<f32>, b: &Array<f32>, c: &mut Array<f32>, #[comptime] cfg: MatrixTileConfig) {
    let instance = CUBE_POS;
    let lane = UNIT_POS_PLANE as usize;
    let rows = comptime!(cfg.rows_per_lane());
    let n_cols = cfg.n;
    let plane = cfg.plane;
    let a_base = instance * cfg.m * cfg.k;
    let b_base = instance * cfg.k * n_cols;
    let c_base = instance * cfg.m * n_cols;

    let b_off = comptime!(cfg.m * cfg.k);
    let mut tile = SharedMemory::<f32>::new(cfg.m * cfg.k + cfg.k * n_cols);
    let mut i = UNIT_POS as usize;
    while i < cfg.m * cfg.k {
        tile[i] = a[a_base + i];
        i += CUBE_DIM as usize;
    }
    if comptime!(cfg.b == TileB::Shared) {
        let mut i = UNIT_POS as usize;
        while i < cfg.k * n_cols {
            tile[b_off + i] = b[b_base + i];
            i += CUBE_DIM as usize;
        }
    }
    sync_cube();

    let mut b_regs = Array::<f32>::new(rows * n_cols);
    let mut c_regs = Array::<f32>::new(rows * n_cols);
    #[unroll]
    for j in 0..rows {
        let row = lane + j * plane;
        #[unroll]
        for col in 0..n_cols {
            let mut bv = 0.0f32;
            if row < cfg.k {
                bv = b[b_base + row * n_cols + col];
            }
            b_regs[j * n_cols + col] = bv;
            let mut cv = 0.0f32;
            if row < cfg.m {
                cv = c[c_base + row * n_cols + col];
            }
            c_regs[j * n_cols + col] = cv;
        }
    }

    matrix_tile_mac(&mut tile, &b_regs, &mut c_regs, cfg);

    #[unroll]
    for j in 0..rows {
        let row = lane + j * plane;
        if row < cfg.m {
            #[unroll]
            for col in 0..n_cols {
                c[c_base + row * n_cols + col] = c_regs[j * n_cols + col];
            }
        }
    }
}
