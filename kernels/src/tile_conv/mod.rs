//! A causal dilated conv (and its K = 1 case, the conv1x1) over activation blocks in shared
//! memory: `dst[o][t] (+)= bias[o] (+ mix[o]·in[t]) + Σ_tap Σ_ci W[o][ci][tap] · x[ci][t − back]`,
//! `back = d·(K−1−tap)`, for one tile of frames. A matrix-tile product over channels × frames:
//! taps inside the tile read `src`, taps that reach back before it read the staged block of
//! that tap (filled from the history ring beforehand, see
//! [`delay_line::append_and_stage`](crate::delay_line::append_and_stage)). Two paths
//! ([`TileConvPath`]): scalar register tiles on every runtime, tensor-core MMAs (tf32, optionally
//! error-compensated) where the device has them. Called by every thread of the cube; row
//! counts, taps and dilation are run-time values.
//!
//! Weights are `W[o][ci][tap]` (PyTorch's Conv1d order) at `w`, one bias per output row at
//! `w_bias`, one mix weight per output row at `w_mix`. Shared-memory blocks are row-major with a
//! row stride of `tile`; the staged block of tap `k` starts at `stage + k·rows_in·tile`.
// cubecl 0.10's #[cube] adds an undocumented `pub mod <fn>` (expand, launch) beside every
// device function, which no attribute reaches; the functions themselves are documented.
#![allow(missing_docs)]
// Device code: cubecl 0.10 expands neither `div_ceil` nor iterator adaptors into device IR.
#![allow(clippy::manual_div_ceil, clippy::too_many_arguments)]

mod config;
mod launch;

pub use config::{TileConvConfig, TileConvPath, MMA_DEPTH, MMA_FRAMES, MMA_ROWS};
pub use launch::{launch_tile_conv, tensor_cores, TileConvArgs};

use cubecl::cmma::{MatrixIdent, MmaDefinition};
use cubecl::prelude::*;

/// The tile conv by the path of `cfg` (see the module documentation).
#[cube]
pub fn tile_conv(
    weights: &Array<f32>,
    sh: &mut SharedMemory<f32>,
    w: usize,
    w_bias: usize,
    w_mix: usize,
    rows_out: usize,
    rows_in: usize,
    kk: usize,
    d: usize,
    src: usize,
    in_at: usize,
    dst: usize,
    stage: usize,
    #[comptime] cfg: TileConvConfig,
) {
    match comptime!(cfg.path) {
        TileConvPath::Scalar { rows, frames } => {
            tile_conv_scalar(
                weights, sh, w, w_bias, w_mix, rows_out, rows_in, kk, d, src, in_at, dst, stage, cfg.tile, rows,
                frames, cfg.mix, cfg.add,
            );
        }
        TileConvPath::TensorCore { split } => {
            tile_conv_mma(
                weights, sh, w, w_bias, w_mix, rows_out, rows_in, kk, d, src, in_at, dst, stage, cfg.tile, split,
                cfg.mix, cfg.add,
            );
        }
    }
}

/// Shared-memory index of input row `ci` at frame `t` for a tap reaching `back` frames back.
#[cube]
fn tap_index(
    src: usize,
    stage: usize,
    tap: usize,
    rows_in: usize,
    ci: usize,
    t: usize,
    back: usize,
    #[comptime] tile: usize,
) -> usize {
    let mut xi = stage + (tap * rows_in + ci) * tile + t;
    if t >= back {
        xi = src + ci * tile + t - back;
    }
    xi
}

/// The scalar path: a thread holds `rt` rows × `ft` frames (frames `t + k·tile/ft`, so a warp's
/// lanes read consecutive words). Rows past `rows_out` are clamped (computed twice, written
/// once). Summation order: bias, mix, then taps, then input rows.
#[cube]
fn tile_conv_scalar(
    weights: &Array<f32>,
    sh: &mut SharedMemory<f32>,
    w: usize,
    w_bias: usize,
    w_mix: usize,
    rows_out: usize,
    rows_in: usize,
    kk: usize,
    d: usize,
    src: usize,
    in_at: usize,
    dst: usize,
    stage: usize,
    #[comptime] tile: usize,
    #[comptime] rt: usize,
    #[comptime] ft: usize,
    #[comptime] mix: bool,
    #[comptime] add: bool,
) {
    let span = comptime!(tile / ft);
    let groups = (rows_out + rt - 1) / rt;
    let mut i = UNIT_POS as usize;
    while i < groups * span {
        let o0 = i / span * rt;
        let t0 = i % span;
        let mut acc = Array::<f32>::new(comptime!(rt * ft));
        let mut wrow = Array::<u32>::new(rt);
        #[unroll]
        for r in 0..rt {
            let mut o = o0 + r;
            if o >= rows_out {
                o = rows_out - 1;
            }
            wrow[r] = (w + o * rows_in * kk) as u32;
            let bias = weights[w_bias + o];
            #[unroll]
            for f in 0..ft {
                let mut v = bias;
                if comptime!(mix) {
                    v += weights[w_mix + o] * sh[in_at + t0 + f * span];
                }
                acc[r * ft + f] = v;
            }
        }
        for tap in 0..kk {
            let back = d * (kk - 1 - tap);
            let mut xs = Array::<u32>::new(ft);
            #[unroll]
            for f in 0..ft {
                xs[f] = tap_index(src, stage, tap, rows_in, 0, t0 + f * span, back, tile) as u32;
            }
            for ci in 0..rows_in {
                let mut xv = Array::<f32>::new(ft);
                #[unroll]
                for f in 0..ft {
                    xv[f] = sh[xs[f] as usize + ci * tile];
                }
                #[unroll]
                for r in 0..rt {
                    let wv = weights[wrow[r] as usize + ci * kk + tap];
                    #[unroll]
                    for f in 0..ft {
                        acc[r * ft + f] += wv * xv[f];
                    }
                }
            }
        }
        #[unroll]
        for r in 0..rt {
            let o = o0 + r;
            if o < rows_out {
                #[unroll]
                for f in 0..ft {
                    let at = dst + o * tile + t0 + f * span;
                    if comptime!(add) {
                        sh[at] += acc[r * ft + f];
                    } else {
                        sh[at] = acc[r * ft + f];
                    }
                }
            }
        }
        i += CUBE_DIM as usize;
    }
}

/// The tensor-core path: warp `p` of the cube computes the 16 × 8 output tiles `p, p + warps, …`
/// (row blocks × frame blocks), one m16n8k8 tf32 MMA per tap and 8 input rows (three with
/// `split`). Rows and input rows past the model's are zero in the fragments and never written.
/// Every lane of a warp takes part in every MMA (the tile loop is warp-uniform).
#[cube]
fn tile_conv_mma(
    weights: &Array<f32>,
    sh: &mut SharedMemory<f32>,
    w: usize,
    w_bias: usize,
    w_mix: usize,
    rows_out: usize,
    rows_in: usize,
    kk: usize,
    d: usize,
    src: usize,
    in_at: usize,
    dst: usize,
    stage: usize,
    #[comptime] tile: usize,
    #[comptime] split: bool,
    #[comptime] mix: bool,
    #[comptime] add: bool,
) {
    let def = MmaDefinition::<tf32, tf32, f32>::new(MMA_ROWS, MMA_FRAMES, MMA_DEPTH);
    let lane = UNIT_POS_PLANE;

    let a_elems = def.elems_per_lane(MatrixIdent::A);
    let a_width = def.vector_size(MatrixIdent::A);
    let size!(NA) = a_width;
    let a_count = comptime!(a_elems / a_width);
    let b_elems = def.elems_per_lane(MatrixIdent::B);
    let b_width = def.vector_size(MatrixIdent::B);
    let size!(NB) = b_width;
    let b_count = comptime!(b_elems / b_width);
    let c_elems = def.elems_per_lane(MatrixIdent::Accumulator);
    let c_width = def.vector_size(MatrixIdent::Accumulator);
    let size!(NC) = c_width;
    let c_count = comptime!(c_elems / c_width);

    let col_blocks = comptime!(tile / MMA_FRAMES);
    let row_blocks = (rows_out + MMA_ROWS - 1) / MMA_ROWS;
    let depth_steps = (rows_in + MMA_DEPTH - 1) / MMA_DEPTH;
    let stride = rows_in * kk;
    let mut item = PLANE_POS as usize;
    while item < row_blocks * col_blocks {
        let o0 = item / col_blocks * MMA_ROWS;
        let t0 = item % col_blocks * MMA_FRAMES;

        let mut acc = Array::<Vector<f32, NC>>::new(c_count);
        #[unroll]
        for i in 0..c_count {
            let mut reg = Vector::empty();
            #[unroll]
            for e in 0..c_width {
                let (row, col) = def.position_of_nth(lane, (i * c_width + e) as u32, MatrixIdent::Accumulator);
                let o = o0 + row as usize;
                let t = t0 + col as usize;
                let mut v = 0.0f32;
                if o < rows_out {
                    v = weights[w_bias + o];
                    if comptime!(mix) {
                        v += weights[w_mix + o] * sh[in_at + t];
                    }
                    if comptime!(add) {
                        v += sh[dst + o * tile + t];
                    }
                }
                reg[e] = v;
            }
            acc[i] = reg;
        }

        for tap in 0..kk {
            let back = d * (kk - 1 - tap);
            for step in 0..depth_steps {
                let c0 = step * MMA_DEPTH;
                let mut a_hi = Array::<Vector<tf32, NA>>::new(a_count);
                let mut a_lo = Array::<Vector<tf32, NA>>::new(a_count);
                #[unroll]
                for i in 0..a_count {
                    let mut hi = Vector::empty();
                    let mut lo = Vector::empty();
                    #[unroll]
                    for e in 0..a_width {
                        let (row, col) = def.position_of_nth(lane, (i * a_width + e) as u32, MatrixIdent::A);
                        let o = o0 + row as usize;
                        let ci = c0 + col as usize;
                        let mut v = 0.0f32;
                        if o < rows_out && ci < rows_in {
                            v = weights[w + o * stride + ci * kk + tap];
                        }
                        let h = <tf32 as Cast>::cast_from(v);
                        hi[e] = h;
                        if comptime!(split) {
                            lo[e] = <tf32 as Cast>::cast_from(v - f32::cast_from(h));
                        }
                    }
                    a_hi[i] = hi;
                    a_lo[i] = lo;
                }
                let mut b_hi = Array::<Vector<tf32, NB>>::new(b_count);
                let mut b_lo = Array::<Vector<tf32, NB>>::new(b_count);
                #[unroll]
                for i in 0..b_count {
                    let mut hi = Vector::empty();
                    let mut lo = Vector::empty();
                    #[unroll]
                    for e in 0..b_width {
                        let (row, col) = def.position_of_nth(lane, (i * b_width + e) as u32, MatrixIdent::B);
                        let ci = c0 + row as usize;
                        let t = t0 + col as usize;
                        let mut v = 0.0f32;
                        if ci < rows_in {
                            v = sh[tap_index(src, stage, tap, rows_in, ci, t, back, tile)];
                        }
                        let h = <tf32 as Cast>::cast_from(v);
                        hi[e] = h;
                        if comptime!(split) {
                            lo[e] = <tf32 as Cast>::cast_from(v - f32::cast_from(h));
                        }
                    }
                    b_hi[i] = hi;
                    b_lo[i] = lo;
                }
                if comptime!(split) {
                    // Small terms first, so they are not lost against the large one.
                    def.execute_inplace(&a_lo, &b_hi, &mut acc);
                    def.execute_inplace(&a_hi, &b_lo, &mut acc);
                }
                def.execute_inplace(&a_hi, &b_hi, &mut acc);
            }
        }

        #[unroll]
        for i in 0..c_count {
            let reg = acc[i];
            #[unroll]
            for e in 0..c_width {
                let (row, col) = def.position_of_nth(lane, (i * c_width + e) as u32, MatrixIdent::Accumulator);
                let o = o0 + row as usize;
                if o < rows_out {
                    sh[dst + o * tile + t0 + col as usize] = reg[e];
                }
            }
        }
        item += (CUBE_DIM / PLANE_DIM) as usize;
    }
}

/// Standalone launch (one cube per instance): copies `src`, the staged taps and the input row
/// into shared memory, runs [`tile_conv`] and writes `dst` back. Used by the tests and as the
/// reference for what the composed kernels do.
#[cube(launch)]
pub fn tile_conv_kernel(
    weights: &Array<f32>,
    src: &Array<f32>,
    stage: &Array<f32>,
    mix_in: &Array<f32>,
    dst: &mut Array<f32>,
    dims: &Array<u32>,
    #[comptime] cfg: TileConvConfig,
    #[comptime] shared_len: usize,
) {
    let tile = cfg.tile;
    let rows_out = dims[0] as usize;
    let rows_in = dims[1] as usize;
    let kk = dims[2] as usize;
    let d = dims[3] as usize;
    let inst = CUBE_POS;
    let weights_len = rows_out * rows_in * kk + 2 * rows_out;
    let w = inst * weights_len;
    let src_len = rows_in * tile;
    let stage_len = (kk - 1) * rows_in * tile;
    let dst_len = rows_out * tile;
    // Shared layout: src | stage | dst | mix row.
    let stage_at = src_len;
    let dst_at = stage_at + stage_len;
    let in_at = dst_at + dst_len;
    let mut sh = SharedMemory::<f32>::new(shared_len);
    let mut i = UNIT_POS as usize;
    while i < src_len {
        sh[i] = src[inst * src_len + i];
        i += CUBE_DIM as usize;
    }
    let mut i = UNIT_POS as usize;
    while i < stage_len {
        sh[stage_at + i] = stage[inst * stage_len + i];
        i += CUBE_DIM as usize;
    }
    let mut i = UNIT_POS as usize;
    while i < dst_len {
        sh[dst_at + i] = dst[inst * dst_len + i];
        i += CUBE_DIM as usize;
    }
    let mut i = UNIT_POS as usize;
    while i < tile {
        sh[in_at + i] = mix_in[inst * tile + i];
        i += CUBE_DIM as usize;
    }
    sync_cube();
    let w_bias = w + rows_out * rows_in * kk;
    tile_conv(
        weights,
        &mut sh,
        w,
        w_bias,
        w_bias + rows_out,
        rows_out,
        rows_in,
        kk,
        d,
        0,
        in_at,
        dst_at,
        stage_at,
        cfg,
    );
    sync_cube();
    let mut i = UNIT_POS as usize;
    while i < dst_len {
        dst[inst * dst_len + i] = sh[dst_at + i];
        i += CUBE_DIM as usize;
    }
}
