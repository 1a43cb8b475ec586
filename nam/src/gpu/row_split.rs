//! The columns kernel with a position's rows split over threads ([`ColumnsShape::splits`] > 1):
//! for few streams, where one thread per position leaves the multiprocessor nearly empty (one
//! stream of 64 frames is two warps) and the interpreter spends five thousand instructions per
//! sample on reading its plan. Thread `j` of a position computes rows `j · rows / splits`
//! onwards of every layer's conv, activation, head sum and residual; the rows a product needs
//! from the other threads come back through the ring (the conv's own positions, which every
//! layer appends anyway) or a shared block (the activations for the layer1x1, the head sum for
//! the head rechannel, the previous array's channels for the rechannel) — two barriers per
//! layer. Built from the library's column tiles, as the unsplit kernel
//! ([`super::columns`]); same histories, plan and weights, so a batch can move between them.
#![allow(missing_docs)]
#![allow(clippy::assign_op_pattern)]

use cubeaudio_kernels::activation::activate_at;
use cubeaudio_kernels::column_tile::{
    column_add_bias, column_append, column_dilated_conv, column_fill, column_gather, column_load, column_matmul,
    column_share,
};
use cubecl::prelude::*;

use super::columns::ArrayShape;
use super::kernel::{ARRAY_HEADER, LAYER_RECORD};

/// Where this thread sits: its stream's shared block (offset), its split index `j` (which rows
/// it owns) and its lane (which positions).
#[derive(CubeType, Clone, Copy)]
pub struct RowSplit {
    pub block: usize,
    pub j: usize,
    pub lane: usize,
}

/// One layer array over this thread's rows of its positions: `x` (own `channels / splits` rows)
/// ← rechannel(`src`: the previous array's own rows, or the input signal when `first`), the
/// layers, then `head` ← head rechannel of the head sum (which starts from `head`'s own rows, the
/// previous array's output, unless `first`). Every array but the `last` leaves its own rows of
/// the head output in `head`; the last leaves all its rows (every thread computes them).
#[allow(clippy::too_many_arguments)]
#[cube]
pub fn split_layer_array(
    plan: &Array<u32>,
    weights: &Array<f32>,
    state: &mut Array<f32>,
    shared: &mut SharedMemory<f32>,
    rec: usize,
    wb: usize,
    sb: usize,
    src: &Array<f32>,
    x: &mut Array<f32>,
    head: &mut Array<f32>,
    signal: &Array<f32>,
    pos: &Array<u32>,
    valid: &Array<u32>,
    at: RowSplit,
    #[comptime] a: ArrayShape,
    #[comptime] first: bool,
    #[comptime] last: bool,
    #[comptime] ff: usize,
    #[comptime] lanes: usize,
    #[comptime] splits: usize,
) {
    let c = comptime!(a.channels);
    let b = comptime!(a.bottleneck);
    let g = comptime!(a.gate_rows);
    let cs = comptime!(a.channels / splits);
    let bs = comptime!(a.bottleneck / splits);
    let tile = comptime!(ff * lanes);
    let j = at.j;
    let w_re = wb + plan[rec + 10] as usize;
    let w_head = wb + plan[rec + 11] as usize;
    #[unroll]
    for i in 0..comptime!(cs * ff) {
        x[i] = 0.0;
    }
    if comptime!(first) {
        column_matmul(x, weights, w_re + j * cs, signal, cs, 1usize, ff);
    } else {
        // The previous array's channels, every row, through the shared block (after every
        // thread's last read of it).
        let rows_in = comptime!(a.input_rows);
        let own_in = comptime!(a.input_rows / splits);
        sync_cube();
        column_share(shared, at.block + j * own_in * tile, tile, src, at.lane, own_in, ff, lanes);
        sync_cube();
        let mut all = Array::<f32>::new(comptime!(rows_in * ff));
        column_gather(&mut all, shared, at.block, tile, at.lane, rows_in, ff, lanes);
        column_matmul(x, weights, w_re + j * cs * rows_in, &all, cs, rows_in, ff);
    }
    let mut h = Array::<f32>::new(comptime!(bs * ff));
    #[unroll]
    for i in 0..comptime!(bs * ff) {
        if comptime!(first) {
            h[i] = 0.0;
        } else {
            h[i] = head[i];
        }
    }
    let mut z = Array::<f32>::new(comptime!(bs * ff));
    let mut zg = Array::<f32>::new(comptime!(bs * ff));
    let mut now = Array::<f32>::new(comptime!(c * ff));
    let mut all = Array::<f32>::new(comptime!(b * ff));
    let mut lp = rec + ARRAY_HEADER;
    let end = lp + comptime!(a.layers * LAYER_RECORD);
    let per_row = comptime!(c * a.taps);
    while lp < end {
        let d = plan[lp + 1] as usize;
        let w = wb + plan[lp + 4] as usize;
        let ring = sb + plan[lp + 5] as usize;
        let size = plan[lp + 6] as usize;
        let pa = wb + plan[lp + 7] as usize;
        let w_l1 = wb + plan[lp + 11] as usize;
        let pa_sec = wb + plan[lp + 14] as usize;
        let w_bias = w + g * per_row;
        column_append(state, ring + j * cs * size, size, x, pos, valid, cs, ff);
        sync_storage();
        sync_cube();
        column_load(&mut now, state, ring, size, pos, c, ff);
        // z = bias + mixin · input + conv(x) for this thread's value rows (and gate rows).
        let r0 = j * bs;
        column_fill(&mut z, weights, w_bias + r0, bs, ff);
        column_matmul(&mut z, weights, w_bias + g + r0, signal, bs, 1usize, ff);
        column_dilated_conv(&mut z, weights, w + r0 * per_row, state, ring, size, &now, pos, d, bs, c, a.taps, ff);
        if comptime!(a.gating != 0) {
            let rg = b + r0;
            column_fill(&mut zg, weights, w_bias + rg, bs, ff);
            column_matmul(&mut zg, weights, w_bias + g + rg, signal, bs, 1usize, ff);
            column_dilated_conv(&mut zg, weights, w + rg * per_row, state, ring, size, &now, pos, d, bs, c, a.taps, ff);
        }
        #[unroll]
        for o in 0..bs {
            #[unroll]
            for f in 0..ff {
                let v = z[o * ff + f];
                let mut y = activate_at(v, weights, pa, r0 + o, a.activation);
                if comptime!(a.gating != 0) {
                    let alpha = activate_at(zg[o * ff + f], weights, pa_sec, r0 + o, a.secondary);
                    if comptime!(a.gating == 1) {
                        y = y * alpha;
                    } else {
                        y = alpha * y + (1.0 - alpha) * v;
                    }
                }
                z[o * ff + f] = y;
                h[o * ff + f] += y;
            }
        }
        // Every activation row for the layer1x1. The previous layer's reads of the block are
        // done: every thread passed this layer's ring barrier after them.
        column_share(shared, at.block + r0 * tile, tile, &z, at.lane, bs, ff, lanes);
        sync_cube();
        column_gather(&mut all, shared, at.block, tile, at.lane, b, ff, lanes);
        column_add_bias(x, weights, w_l1 + c * b + j * cs, cs, ff);
        column_matmul(x, weights, w_l1 + j * cs * b, &all, cs, b, ff);
        lp += LAYER_RECORD;
    }
    // Every head-sum row for the head rechannel.
    sync_cube();
    column_share(shared, at.block + j * bs * tile, tile, &h, at.lane, bs, ff, lanes);
    sync_cube();
    column_gather(&mut all, shared, at.block, tile, at.lane, b, ff, lanes);
    let rows_out = comptime!(if last { a.head_out } else { a.head_out / splits });
    // The last array's rows (its output) are all computed by every thread.
    let r_out = j * comptime!(if last { 0 } else { rows_out });
    if comptime!(a.head_bias) {
        column_fill(head, weights, w_head + a.head_out * b + r_out, rows_out, ff);
    } else {
        #[unroll]
        for i in 0..comptime!(rows_out * ff) {
            head[i] = 0.0;
        }
    }
    column_matmul(head, weights, w_head + r_out * b, &all, rows_out, b, ff);
}
