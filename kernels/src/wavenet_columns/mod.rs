//! The shape-specialised WaveNet kernel: a model's shape (per layer array: channels, bottleneck,
//! taps, layer count, activations, gating, heads) is a compile-time [`ColumnsShape`], weights
//! and dilations stay run-time data, so every capture of one shape shares a compiled kernel and
//! a launch. Built from the library's column tiles ([`crate::column_tile`]): each thread owns
//! `frames` positions of one stream and keeps every channel of them in registers through the
//! whole network — rechannel, dilated conv, activation, head sum, layer1x1 residual, head
//! rechannel — so a layer costs one barrier (after its ring write, which other threads' taps
//! read) instead of the interpreter's four stages over shared memory. Several streams share a
//! cube (`streams_per_cube`), a warp's loads of one capture's weights are one broadcast; for
//! few streams a position's rows split over threads ([`split`]).
//!
//! Histories are the interpreter's rings ([`crate::wavenet_streams`]: same plan, same state
//! layout, same positions), so a batch can move between the two kernels between buffers, and a
//! graph program can run a stream as one of its steps ([`run_columns`]). What the shape does not
//! cover (FiLM, head1x1, conditions of several channels, post-stack heads, a head rechannel of
//! more than one tap, layers without layer1x1, per-channel PReLU, Sequential chains, ConvNet,
//! Linear) keeps the interpreter. `cubeaudio-nam` derives a model's shape from its plan.
// cubecl 0.10's #[cube] adds an undocumented `pub mod <fn>` (expand, launch) beside every
// device function, which no attribute reaches; the functions themselves are documented.
#![allow(missing_docs)]
#![allow(clippy::assign_op_pattern, clippy::eq_op)]

mod config;
pub mod split;

use cubecl::prelude::*;

pub use config::*;
use split::{split_layer_array, RowSplit};

use crate::activation::{activate_at, gate_at, GatingMode};
use crate::column_tile::{column_add_bias, column_append, column_dilated_conv, column_fill, column_matmul};
use crate::routed::finite_or_zero;
use crate::wavenet_streams::{ARRAY_HEADER, LAYER_RECORD, META};

/// One layer array over this thread's positions: `x` ← rechannel(`src`), the layers, then
/// `head` ← head rechannel of the head sum (which starts from `head`, the previous array's
/// output, unless `first`). A thread not `live` only passes the barriers (it reads and writes
/// nothing), so the threads of a cube may run fewer streams than it has room for.
#[allow(clippy::too_many_arguments)]
#[cube]
fn layer_array(
    plan: &Array<u32>,
    weights: &Array<f32>,
    state: &mut Array<f32>,
    rec: usize,
    wb: usize,
    sb: usize,
    src: &Array<f32>,
    x: &mut Array<f32>,
    head: &mut Array<f32>,
    signal: &Array<f32>,
    pos: &Array<u32>,
    valid: &Array<u32>,
    live: bool,
    #[comptime] a: ArrayShape,
    #[comptime] first: bool,
    #[comptime] ff: usize,
) {
    let c = comptime!(a.channels);
    let b = comptime!(a.bottleneck);
    let g = comptime!(a.gate_rows);
    let mut h = Array::<f32>::new(comptime!(b * ff));
    // Addresses are computed inside the branches that use them: cubecl 0.10's optimiser places
    // one computed before a branch on either side of it from run to run (codegen snapshots).
    if live {
        let w_re = wb + plan[rec + 10] as usize;
        #[unroll]
        for i in 0..comptime!(c * ff) {
            x[i] = 0.0;
        }
        column_matmul::<Array<f32>>(x, weights, w_re, src, c, a.input_rows, ff);
        #[unroll]
        for i in 0..comptime!(b * ff) {
            if comptime!(first) {
                h[i] = 0.0;
            } else {
                h[i] = head[i];
            }
        }
    }
    let mut z = Array::<f32>::new(comptime!(g * ff));
    let mut lp = rec + ARRAY_HEADER;
    let end = lp + comptime!(a.layers * LAYER_RECORD);
    while lp < end {
        if live {
            let ring = sb + plan[lp + 5] as usize;
            let size = plan[lp + 6] as usize;
            column_append(state, ring, size, x, pos, valid, c, ff);
        }
        sync_storage();
        sync_cube();
        if live {
            let d = plan[lp + 1] as usize;
            let w = wb + plan[lp + 4] as usize;
            let ring = sb + plan[lp + 5] as usize;
            let size = plan[lp + 6] as usize;
            let pa = wb + plan[lp + 7] as usize;
            let w_l1 = wb + plan[lp + 11] as usize;
            let pa_sec = wb + plan[lp + 14] as usize;
            let w_bias = w + g * c * a.taps;
            // z = bias + mixin · input + conv(x): the interpreter's order of summation.
            column_fill::<Array<f32>>(&mut z, weights, w_bias, g, ff);
            column_matmul::<Array<f32>>(&mut z, weights, w_bias + g, signal, g, comptime!(1usize), ff);
            column_dilated_conv::<Array<f32>>(&mut z, weights, w, state, ring, size, x, pos, d, g, c, a.taps, ff);
            #[unroll]
            for o in 0..b {
                #[unroll]
                for f in 0..ff {
                    let mut gate = 0.0f32;
                    if comptime!(a.gating != 0) {
                        gate = z[(b + o) * ff + f];
                    }
                    let y = layer_activation(z[o * ff + f], gate, weights, pa, pa_sec, o, a);
                    z[o * ff + f] = y;
                    h[o * ff + f] += y;
                }
            }
            // x += bias + layer1x1(a), summed into x itself: a separate `bias + layer1x1` tile
            // (the interpreter's order) held c · ff more registers, and registers bound
            // occupancy.
            column_add_bias::<Array<f32>>(x, weights, w_l1 + c * b, c, ff);
            column_matmul::<Array<f32>>(x, weights, w_l1, &z, c, b, ff);
        }
        lp += LAYER_RECORD;
    }
    if live {
        let w_head = wb + plan[rec + 11] as usize;
        if comptime!(a.head_bias) {
            column_fill::<Array<f32>>(head, weights, w_head + a.head_out * b, a.head_out, ff);
        } else {
            #[unroll]
            for i in 0..comptime!(a.head_out * ff) {
                head[i] = 0.0;
            }
        }
        column_matmul::<Array<f32>>(head, weights, w_head, &h, a.head_out, b, ff);
    }
}

/// A layer's activation of one value row: `act(v)`, or gated / blended with its gate row `g`
/// (the library's [`gate_at`]); parameters at `pa` and `pa_sec` in `weights`.
#[allow(clippy::too_many_arguments)]
#[cube]
pub fn layer_activation(
    v: f32,
    g: f32,
    weights: &Array<f32>,
    pa: usize,
    pa_sec: usize,
    row: usize,
    #[comptime] a: ArrayShape,
) -> f32 {
    let mode = comptime!(if a.gating == 1 { GatingMode::Gated } else { GatingMode::Blended });
    if comptime!(a.gating == 0) {
        activate_at(v, weights, pa, row, a.activation)
    } else {
        gate_at(v, g, weights, pa, weights, pa_sec, row, a.activation, a.secondary, mode)
    }
}

/// Streams of one WaveNet shape, `shape.streams_per_cube` per cube, one buffer of `frames`
/// positions in tiles of `frames · lanes`. Stream records (`meta`), plan, weights and rings as
/// the interpreter's ([`crate::wavenet_streams::wavenet_streams_kernel`]); `streams` records in
/// `meta`, each stream's input and output at its record's offsets. Launched unchecked: every
/// index is in range by construction (see the NAM engine's launch).
#[cube(launch_unchecked)]
pub fn wavenet_columns_kernel(
    meta: &Array<u32>,
    plan: &Array<u32>,
    weights: &Array<f32>,
    state: &mut Array<f32>,
    input: &Array<f32>,
    output: &mut Array<f32>,
    streams: u32,
    frames: u32,
    tick: u32,
    #[comptime] shape: ColumnsShape,
) {
    let slot = UNIT_POS as usize / comptime!(shape.lanes * shape.splits);
    let mut s = CUBE_POS * shape.streams_per_cube + slot;
    // Threads past the last stream run the last one's arithmetic and write nothing.
    let live = s < streams as usize;
    if !live {
        s = streams as usize - 1;
    }
    let m = s * META;
    let source = input.to_slice();
    let mut sink = output.to_slice_mut();
    run_columns(
        s,
        live,
        slot,
        &source,
        meta[m + 3] as usize,
        &mut sink,
        meta[m + 4] as usize,
        meta,
        plan,
        weights,
        state,
        frames,
        tick,
        shape,
        false,
        true,
    );
}

/// One buffer of stream `stream` (its `meta` record: plan, weights and state offsets, cursor)
/// by the `lanes · splits` threads of `slot`: `frames` samples from `input[in_off..]` to
/// `output[out_off..]`, tile by tile. The cube's threads are `shape.streams_per_cube` slots,
/// each a stream; a thread not `live` (a slot without a stream, or a thread past every slot)
/// only passes the barriers — every thread of the cube calls this together — unless
/// `every_thread_has_a_slot` (the standalone kernel: the cube is exactly its slots), where a
/// slot without a stream runs `stream`'s arithmetic with every write masked instead: no branch
/// on liveness around the body, as the kernel was before it became a library block (with the
/// branches it ran 1,024 standard streams of 128 frames in 0.51 ms of device time against 0.37;
/// docs/PERFORMANCE.md, thirtieth measurement). `finite_only`:
/// non-finite outputs are written as 0 (a graph's policy). A graph program runs it as a step
/// with its arena as both input and output (different slots); `tick`: frames run since
/// `meta`'s cursors were uploaded.
#[allow(unused_assignments, clippy::too_many_arguments)]
#[cube]
pub fn run_columns(
    stream: usize,
    live: bool,
    slot: usize,
    input: &Slice<f32>,
    in_off: usize,
    output: &mut Slice<f32, ReadWrite>,
    out_off: usize,
    meta: &Array<u32>,
    plan: &Array<u32>,
    weights: &Array<f32>,
    state: &mut Array<f32>,
    frames: u32,
    tick: u32,
    #[comptime] shape: ColumnsShape,
    #[comptime] finite_only: bool,
    #[comptime] every_thread_has_a_slot: bool,
) {
    // Whether this thread branches around the body: writes are masked by `valid` either way.
    let mut runs = live;
    if comptime!(every_thread_has_a_slot) {
        runs = true;
    }
    let ff = comptime!(shape.frames);
    let lanes = comptime!(shape.lanes);
    let splits = comptime!(shape.splits);
    let j = (UNIT_POS as usize / lanes) % splits;
    let lane = UNIT_POS as usize % lanes;
    let m = stream * META;
    let p0 = meta[m] as usize;
    let wb = meta[m + 1] as usize;
    let sb = meta[m + 2] as usize;
    let cursor = meta[m + 5] + tick;
    let total = frames as usize;
    let scale = weights[wb + plan[p0 + comptime!(shape.record_at(shape.count)) + 4] as usize];
    let widest_c = comptime!(shape.arrays[..shape.count].iter().map(|a| a.channels).max().unwrap_or(1));
    let widest_h = comptime!(shape.arrays[..shape.count].iter().map(|a| a.head_out).max().unwrap_or(1));

    let mut start = total - total;
    while start < total {
        let mut pos = Array::<u32>::new(ff);
        let mut valid = Array::<u32>::new(ff);
        let mut signal = Array::<f32>::new(ff);
        #[unroll]
        for f in 0..ff {
            let t = start + lane + f * lanes;
            pos[f] = cursor + t as u32;
            let inside = t < total && live;
            valid[f] = select(inside, 1u32, 0u32);
            let mut v = 0.0f32;
            if inside {
                v = input[in_off + t];
            }
            signal[f] = v;
        }
        let mut head = Array::<f32>::new(comptime!(widest_h * ff));
        if comptime!(splits > 1) {
            split_tile(plan, weights, state, &mut head, p0, wb, sb, &signal, &pos, &valid, slot, j, lane, runs, shape);
        } else {
            let mut xa = Array::<f32>::new(comptime!(widest_c * ff));
            let mut xb = Array::<f32>::new(comptime!(widest_c * ff));
            layer_array(
                plan,
                weights,
                state,
                p0 + 1,
                wb,
                sb,
                &signal,
                &mut xa,
                &mut head,
                &signal,
                &pos,
                &valid,
                runs,
                shape.arrays[0],
                true,
                ff,
            );
            if comptime!(shape.count > 1) {
                let rec = p0 + comptime!(shape.record_at(1));
                layer_array(
                    plan,
                    weights,
                    state,
                    rec,
                    wb,
                    sb,
                    &xa,
                    &mut xb,
                    &mut head,
                    &signal,
                    &pos,
                    &valid,
                    runs,
                    shape.arrays[1],
                    false,
                    ff,
                );
            }
            if comptime!(shape.count > 2) {
                let rec = p0 + comptime!(shape.record_at(2));
                layer_array(
                    plan,
                    weights,
                    state,
                    rec,
                    wb,
                    sb,
                    &xb,
                    &mut xa,
                    &mut head,
                    &signal,
                    &pos,
                    &valid,
                    runs,
                    shape.arrays[2],
                    false,
                    ff,
                );
            }
        }
        // With rows split, every thread holds the output rows; split 0 writes them.
        if j == 0 {
            #[unroll]
            for f in 0..ff {
                if valid[f] != 0 {
                    let y = scale * head[f];
                    if comptime!(finite_only) {
                        output[out_off + start + lane + f * lanes] = finite_or_zero(y);
                    } else {
                        output[out_off + start + lane + f * lanes] = y;
                    }
                }
            }
        }
        start += comptime!(shape.frames * shape.lanes);
    }
}

/// One tile of a stream with its rows split over `shape.splits` threads ([`split`]): the arrays
/// over this thread's rows, leaving the output rows (every thread computes them) in `head`.
/// Slot `slot` has its own exchange block and weight stage.
#[allow(clippy::too_many_arguments)]
#[cube]
fn split_tile(
    plan: &Array<u32>,
    weights: &Array<f32>,
    state: &mut Array<f32>,
    head: &mut Array<f32>,
    p0: usize,
    wb: usize,
    sb: usize,
    signal: &Array<f32>,
    pos: &Array<u32>,
    valid: &Array<u32>,
    slot: usize,
    j: usize,
    lane: usize,
    live: bool,
    #[comptime] shape: ColumnsShape,
) {
    let ff = comptime!(shape.frames);
    let lanes = comptime!(shape.lanes);
    let splits = comptime!(shape.splits);
    let tile = comptime!(shape.frames * shape.lanes);
    let rows = comptime!(shape.shared_rows());
    let own_c = comptime!(shape.arrays[..shape.count].iter().map(|a| a.channels).max().unwrap_or(1) / shape.splits);
    let mut shared = SharedMemory::<f32>::new(comptime!(rows * tile * shape.streams_per_cube));
    let staged = comptime!(shape.staged);
    let blocks = comptime!(if shape.staged { shape.stage_floats() } else { 1 });
    let mut stage = SharedMemory::<f32>::new(comptime!(blocks * shape.streams_per_cube));
    let at = RowSplit { block: slot * comptime!(rows * tile), j, lane, stage: slot * blocks, live };
    let mut xa = Array::<f32>::new(comptime!(own_c * ff));
    let mut xb = Array::<f32>::new(comptime!(own_c * ff));
    let first_last = comptime!(shape.count == 1);
    split_layer_array(
        plan,
        weights,
        state,
        &mut shared,
        &mut stage,
        p0 + 1,
        wb,
        sb,
        signal,
        &mut xa,
        head,
        signal,
        pos,
        valid,
        at,
        shape.arrays[0],
        true,
        first_last,
        ff,
        lanes,
        splits,
        staged,
    );
    if comptime!(shape.count > 1) {
        let rec = p0 + comptime!(shape.record_at(1));
        split_layer_array(
            plan,
            weights,
            state,
            &mut shared,
            &mut stage,
            rec,
            wb,
            sb,
            &xa,
            &mut xb,
            head,
            signal,
            pos,
            valid,
            at,
            shape.arrays[1],
            false,
            comptime!(shape.count == 2),
            ff,
            lanes,
            splits,
            staged,
        );
    }
    if comptime!(shape.count > 2) {
        let rec = p0 + comptime!(shape.record_at(2));
        split_layer_array(
            plan,
            weights,
            state,
            &mut shared,
            &mut stage,
            rec,
            wb,
            sb,
            &xb,
            &mut xa,
            head,
            signal,
            pos,
            valid,
            at,
            shape.arrays[2],
            false,
            true,
            ff,
            lanes,
            splits,
            staged,
        );
    }
}
