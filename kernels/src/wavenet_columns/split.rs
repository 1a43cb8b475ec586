//! The columns kernel with a position's rows split over threads ([`super::ColumnsShape::splits`] > 1):
//! for few streams, where one thread per position leaves the multiprocessor nearly empty (one
//! stream of 64 frames is two warps) and the interpreter spends five thousand instructions per
//! sample on reading its plan. Thread `j` of a position computes rows `j · rows / splits`
//! onwards of every layer's conv, activation, head sum and residual; the rows a product needs
//! from the other threads come back through the ring (the conv's own positions, which every
//! layer appends anyway) or a shared block (the activations for the layer1x1, the head sum for
//! the head rechannel, the previous array's channels for the rechannel) — two barriers per
//! layer. Built from the library's column tiles, as the unsplit kernel
//! ([`super`]); same histories, plan and weights, so a batch can move between them.
#![allow(missing_docs)]
// `if comptime!(..) { if run_time { .. } }` stays nested: the outer test is resolved while the
// kernel is expanded, the inner one runs on the device.
#![allow(clippy::assign_op_pattern, clippy::collapsible_if)]

use cubecl::prelude::*;

use super::{layer_activation, ArrayShape};
use crate::column_tile::{
    column_add_bias, column_append, column_dilated_conv, column_fill, column_gather, column_load, column_matmul,
    column_share, stage_commit, stage_fetch,
};
use crate::wavenet_streams::{ARRAY_HEADER, LAYER_RECORD};

/// Where this thread sits: its stream's shared block (offset), its split index `j` (which rows
/// it owns), its lane (which positions), its stream's weight stage (offset), and whether it runs
/// a stream at all (a thread not `live` only passes the barriers).
#[derive(CubeType, Clone, Copy)]
pub struct RowSplit {
    pub block: usize,
    pub j: usize,
    pub lane: usize,
    pub stage: usize,
    pub live: bool,
}

/// One layer array over this thread's rows of its positions: `x` (own `channels / splits` rows)
/// ← rechannel(`src`: the previous array's own rows, or the input signal when `first`), the
/// layers, then `head` ← head rechannel of the head sum (which starts from `head`'s own rows, the
/// previous array's output, unless `first`). Every array but the `last` leaves its own rows of
/// the head output in `head`; the last leaves all its rows (every thread computes them).
///
/// `staged`: each layer's weights (conv, bias, mixin, layer1x1: one block, see
/// [`ArrayShape::layer_block`]) are read from a shared block, the next layer's fetched by every
/// thread of the cube while this one computes (`kernels::column_tile::stage_fetch`); `stage`
/// holds two blocks. Otherwise they are read from `weights`.
#[allow(clippy::too_many_arguments)]
#[cube]
pub fn split_layer_array(
    plan: &Array<u32>,
    weights: &Array<f32>,
    state: &mut Array<f32>,
    shared: &mut SharedMemory<f32>,
    stage: &mut SharedMemory<f32>,
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
    #[comptime] staged: bool,
) {
    let c = comptime!(a.channels);
    let b = comptime!(a.bottleneck);
    let cs = comptime!(a.channels / splits);
    let bs = comptime!(a.bottleneck / splits);
    let tile = comptime!(ff * lanes);
    let units = comptime!(lanes * splits);
    let block = comptime!(a.layer_block());
    let j = at.j;
    let live = at.live;
    // Addresses are computed inside the branches that use them (see `split_layer`).
    if live {
        #[unroll]
        for i in 0..comptime!(cs * ff) {
            x[i] = 0.0;
        }
    }
    if comptime!(first) {
        if live {
            let w_re = wb + plan[rec + 10] as usize;
            column_matmul::<Array<f32>>(x, weights, w_re + j * cs, signal, cs, 1usize, ff);
        }
    } else {
        // The previous array's channels, every row, through the shared block (after every
        // thread's last read of it).
        let rows_in = comptime!(a.input_rows);
        let own_in = comptime!(a.input_rows / splits);
        sync_cube();
        if live {
            column_share(shared, at.block + j * own_in * tile, tile, src, at.lane, own_in, ff, lanes);
        }
        sync_cube();
        if live {
            let w_re = wb + plan[rec + 10] as usize;
            let mut all = Array::<f32>::new(comptime!(rows_in * ff));
            column_gather(&mut all, shared, at.block, tile, at.lane, rows_in, ff, lanes);
            column_matmul::<Array<f32>>(x, weights, w_re + j * cs * rows_in, &all, cs, rows_in, ff);
        }
    }
    let mut h = Array::<f32>::new(comptime!(bs * ff));
    if live {
        #[unroll]
        for i in 0..comptime!(bs * ff) {
            if comptime!(first) {
                h[i] = 0.0;
            } else {
                h[i] = head[i];
            }
        }
    }
    let mut now = Array::<f32>::new(comptime!(c * ff));
    let mut regs = Array::<f32>::new(comptime!(if staged { block.div_ceil(units) } else { 1 }));
    let mut lp = rec + ARRAY_HEADER;
    let end = lp + comptime!(a.layers * LAYER_RECORD);
    // The shared block this layer's weights are in.
    let mut cur = 0usize;
    if comptime!(staged) {
        // The first layer's block: every read of the stage is behind a barrier already passed
        // (the previous array's head exchange, or the previous tile's).
        if live {
            let unit = j * lanes + at.lane;
            stage_fetch(&mut regs, weights, wb + plan[lp + 4] as usize, unit, units, block);
            stage_commit(stage, at.stage, &regs, unit, units, block);
        }
    }
    while lp < end {
        let has_next = lp + LAYER_RECORD < end;
        if comptime!(staged) {
            if has_next && live {
                let unit = j * lanes + at.lane;
                stage_fetch(&mut regs, weights, wb + plan[lp + LAYER_RECORD + 4] as usize, unit, units, block);
            }
        }
        let ring = sb + plan[lp + 5] as usize;
        let size = plan[lp + 6] as usize;
        if live {
            column_append(state, ring + j * cs * size, size, x, pos, valid, cs, ff);
        }
        sync_storage();
        sync_cube();
        if live {
            column_load(&mut now, state, ring, size, pos, c, ff);
        }
        let layer = SplitLayer {
            d: plan[lp + 1] as usize,
            ring,
            size,
            pa: wb + plan[lp + 7] as usize,
            pa_sec: wb + plan[lp + 14] as usize,
        };
        if comptime!(staged) {
            split_layer::<SharedMemory<f32>>(
                stage,
                at.stage + cur,
                weights,
                state,
                shared,
                &layer,
                &now,
                x,
                &mut h,
                signal,
                pos,
                at,
                a,
                ff,
                lanes,
                splits,
            );
            if has_next {
                // Every thread passed this layer's barriers: the other block's last reads (the
                // previous layer's) are done.
                cur = block - cur;
                if live {
                    let unit = j * lanes + at.lane;
                    stage_commit(stage, at.stage + cur, &regs, unit, units, block);
                }
            }
        } else {
            let w = wb + plan[lp + 4] as usize;
            split_layer::<Array<f32>>(
                weights, w, weights, state, shared, &layer, &now, x, &mut h, signal, pos, at, a, ff, lanes, splits,
            );
        }
        lp += LAYER_RECORD;
    }
    // Every head-sum row for the head rechannel.
    sync_cube();
    if live {
        column_share(shared, at.block + j * bs * tile, tile, &h, at.lane, bs, ff, lanes);
    }
    sync_cube();
    if live {
        let w_head = wb + plan[rec + 11] as usize;
        let mut all = Array::<f32>::new(comptime!(b * ff));
        column_gather(&mut all, shared, at.block, tile, at.lane, b, ff, lanes);
        let rows_out = comptime!(if last { a.head_out } else { a.head_out / splits });
        // The last array's rows (its output) are all computed by every thread.
        let r_out = j * comptime!(if last { 0 } else { rows_out });
        if comptime!(a.head_bias) {
            column_fill::<Array<f32>>(head, weights, w_head + a.head_out * b + r_out, rows_out, ff);
        } else {
            #[unroll]
            for i in 0..comptime!(rows_out * ff) {
                head[i] = 0.0;
            }
        }
        column_matmul::<Array<f32>>(head, weights, w_head + r_out * b, &all, rows_out, b, ff);
    }
}

/// A layer's run-time record, as the split kernel reads it: dilation, ring and its size, and the
/// activations' parameter offsets (in `weights`).
#[derive(CubeType, Clone, Copy)]
pub struct SplitLayer {
    pub d: usize,
    pub ring: usize,
    pub size: usize,
    pub pa: usize,
    pub pa_sec: usize,
}

/// One layer over this thread's rows, after its ring write: `z` = bias + mixin · input +
/// conv(x) for its value (and gate) rows, the activation, the head sum `h`, then `x` += the
/// layer1x1 of every activation row (through the shared block). The layer's weight block starts
/// at `w` in `lw` (global weights or the stage); `now` holds every channel of the tile's own
/// positions.
#[allow(clippy::too_many_arguments)]
#[cube]
fn split_layer<W: List<f32>>(
    lw: &W,
    w: usize,
    weights: &Array<f32>,
    state: &Array<f32>,
    shared: &mut SharedMemory<f32>,
    layer: &SplitLayer,
    now: &Array<f32>,
    x: &mut Array<f32>,
    h: &mut Array<f32>,
    signal: &Array<f32>,
    pos: &Array<u32>,
    at: RowSplit,
    #[comptime] a: ArrayShape,
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
    let per_row = comptime!(c * a.taps);
    let j = at.j;
    // Addresses are computed inside the branches that use them: cubecl 0.10's optimiser places
    // one computed before a branch on either side of it from run to run (codegen snapshots).
    if at.live {
        let w_bias = w + g * per_row;
        let (d, ring, size) = (layer.d, layer.ring, layer.size);
        let r0 = j * bs;
        let mut z = Array::<f32>::new(comptime!(bs * ff));
        let mut zg = Array::<f32>::new(comptime!(bs * ff));
        column_fill::<W>(&mut z, lw, w_bias + r0, bs, ff);
        column_matmul::<W>(&mut z, lw, w_bias + g + r0, signal, bs, 1usize, ff);
        column_dilated_conv::<W>(&mut z, lw, w + r0 * per_row, state, ring, size, now, pos, d, bs, c, a.taps, ff);
        if comptime!(a.gating != 0) {
            let rg = b + r0;
            column_fill::<W>(&mut zg, lw, w_bias + rg, bs, ff);
            column_matmul::<W>(&mut zg, lw, w_bias + g + rg, signal, bs, 1usize, ff);
            column_dilated_conv::<W>(&mut zg, lw, w + rg * per_row, state, ring, size, now, pos, d, bs, c, a.taps, ff);
        }
        #[unroll]
        for o in 0..bs {
            #[unroll]
            for f in 0..ff {
                let mut gate = 0.0f32;
                if comptime!(a.gating != 0) {
                    gate = zg[o * ff + f];
                }
                let y = layer_activation(z[o * ff + f], gate, weights, layer.pa, layer.pa_sec, r0 + o, a);
                z[o * ff + f] = y;
                h[o * ff + f] += y;
            }
        }
        // Every activation row for the layer1x1. The previous layer's reads of the block are
        // done: every thread passed this layer's ring barrier after them.
        column_share(shared, at.block + r0 * tile, tile, &z, at.lane, bs, ff, lanes);
    }
    sync_cube();
    if at.live {
        let w_l1 = w + comptime!(a.layer1x1_at());
        let mut all = Array::<f32>::new(comptime!(b * ff));
        column_gather(&mut all, shared, at.block, tile, at.lane, b, ff, lanes);
        column_add_bias::<W>(x, lw, w_l1 + c * b + j * cs, cs, ff);
        column_matmul::<W>(x, lw, w_l1 + j * cs * b, &all, cs, b, ff);
    }
}
