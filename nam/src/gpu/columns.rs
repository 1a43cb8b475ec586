//! The shape-specialised WaveNet kernel: a model's shape (per layer array: channels, bottleneck,
//! taps, layer count, activations, gating, heads) is a compile-time [`ColumnsShape`], weights
//! and dilations stay run-time data, so every capture of one shape shares a compiled kernel and
//! a launch. Built from the library's column tiles ([`cubeaudio_kernels::column_tile`]): each
//! thread owns `frames` positions of one stream and keeps every channel of them in registers
//! through the whole network — rechannel, dilated conv, activation, head sum, layer1x1 residual,
//! head rechannel — so a layer costs one barrier (after its ring write, which other threads'
//! taps read) instead of the interpreter's four stages over shared memory. Several streams share
//! a cube (`streams_per_cube`), a warp's loads of one capture's weights are one broadcast.
//!
//! Histories are the interpreter's rings (same plan, same state layout, same positions), so a
//! batch can move between the two kernels between buffers. What the shape does not cover (FiLM,
//! head1x1, conditions of several channels, post-stack heads, a head rechannel of more than one
//! tap, layers without layer1x1, per-channel PReLU, Sequential chains, ConvNet, Linear) keeps
//! the interpreter ([`super::kernel`]).
// cubecl 0.10's #[cube] adds an undocumented `pub mod <fn>` (expand, launch) beside every
// device function, which no attribute reaches; the functions themselves are documented.
#![allow(missing_docs)]
#![allow(clippy::assign_op_pattern, clippy::eq_op)]

use cubeaudio_kernels::activation::{activate_at, gate_at, ActivationKind, GatingMode};
use cubeaudio_kernels::column_tile::{column_add_bias, column_append, column_dilated_conv, column_fill, column_matmul};
use cubecl::prelude::*;

use super::kernel::{
    ARRAY_HEADER, DEST_OUTPUT, LAYER_RECORD, MAX_TILE, META, NONE, OP_ARRAY, OP_OUT, OUT_RECORD, REGION_HO, REGION_IN,
    REGION_X,
};
use super::knob;
use super::plan::ModelPlan;
use super::row_split::{split_layer_array, RowSplit};

/// Layer arrays a shape may have.
pub const MAX_ARRAYS: usize = 3;

/// Streams per multiprocessor from which a split shape carries four positions per thread
/// instead of two ([`ColumnsShape::choose`]).
pub const LARGE_BATCH_PER_MULTIPROCESSOR: usize = 8;
/// Multiprocessors assumed where the runtime does not say (wgpu).
pub(crate) const DEFAULT_MULTIPROCESSORS: usize = 64;

/// One layer array's compile-time shape (every layer of the array alike).
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub struct ArrayShape {
    /// Rows the rechannel reads (1 for the first array, the previous array's channels after).
    pub input_rows: usize,
    /// Channels of the residual stream.
    pub channels: usize,
    /// Rows of the activation (and of the head accumulator).
    pub bottleneck: usize,
    /// Rows of the layer conv (bottleneck, or twice it when gated or blended).
    pub gate_rows: usize,
    /// Rows out of the head rechannel.
    pub head_out: usize,
    /// Taps of the layer convs.
    pub taps: usize,
    /// Layers.
    pub layers: usize,
    /// The layers' activation.
    pub activation: ActivationKind,
    /// The gate's activation (gated and blended layers).
    pub secondary: ActivationKind,
    /// 0 none, 1 gated, 2 blended.
    pub gating: u32,
    /// The head rechannel has a bias.
    pub head_bias: bool,
}

impl ArrayShape {
    /// Offset of a layer's layer1x1 from its conv weights: the plan lays out conv, bias and the
    /// one-row mixin before it ([`super::plan`]).
    pub fn layer1x1_at(&self) -> usize {
        self.gate_rows * self.channels * self.taps + 2 * self.gate_rows
    }

    /// Floats of one layer's weight block: conv, bias, mixin, layer1x1 and its bias (activation
    /// parameters apart).
    pub fn layer_block(&self) -> usize {
        self.layer1x1_at() + self.channels * self.bottleneck + self.channels
    }
}

/// What [`ColumnsShape::choose`] needs to know of the batch and the device.
#[derive(Debug, Clone, Copy)]
pub struct ColumnsBatch {
    /// Streams in the batch.
    pub streams: usize,
    /// Few enough streams per multiprocessor to split rows over threads.
    pub few: bool,
    /// A forced split (`CUBEAUDIO_NAM_SPLITS`, `set_row_splits`; 1: unsplit).
    pub forced_splits: Option<usize>,
    /// Forced positions per thread (`CUBEAUDIO_NAM_COLUMNS`, `set_positions`; 1, 2, 4 or 8).
    pub forced_positions: Option<usize>,
    /// Whether split rows stage their weights in shared memory (`CUBEAUDIO_NAM_STAGE_WEIGHTS`,
    /// `set_weight_staging`; `None`: wherever they fit).
    pub staging: Option<bool>,
    /// The device's threads per cube.
    pub max_units: usize,
    /// The device's multiprocessors, where the runtime reports them (CUDA; wgpu does not).
    pub multiprocessors: Option<usize>,
}

/// The compile-time shape of a columns launch: the model's arrays and how threads take frames.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub struct ColumnsShape {
    /// Layer arrays (the first `count`; the rest repeat the first and are never used).
    pub arrays: [ArrayShape; MAX_ARRAYS],
    /// Layer arrays in the model.
    pub count: usize,
    /// Positions per thread.
    pub frames: usize,
    /// Threads per stream (a tile is `frames · lanes` positions, at most [`MAX_TILE`]).
    pub lanes: usize,
    /// Streams per cube.
    pub streams_per_cube: usize,
    /// Threads sharing one position's rows ([`super::row_split`]; 1: a thread owns every row).
    pub splits: usize,
    /// Rows split over threads: each layer's weights staged in shared memory, the next layer's
    /// fetched while this one computes ([`super::row_split::split_layer_array`]).
    pub staged: bool,
}

impl ColumnsShape {
    /// Plan offset of array `i`'s record from the plan's start.
    pub fn record_at(&self, i: usize) -> usize {
        1 + self.arrays[..i].iter().map(|a| ARRAY_HEADER + a.layers * LAYER_RECORD).sum::<usize>()
    }

    fn widest(&self, rows: impl Fn(&ArrayShape) -> usize) -> usize {
        self.arrays[..self.count].iter().map(rows).max().unwrap_or(1)
    }

    /// Registers of one position (residual, conv rows, head sum, head out, input).
    pub fn rows_per_position(&self) -> usize {
        self.widest(|a| a.channels + a.gate_rows + a.bottleneck) + self.widest(|a| a.head_out) + 1
    }

    /// Threads per cube.
    pub fn units(&self) -> u32 {
        (self.lanes * self.splits * self.streams_per_cube) as u32
    }

    /// Rows of a stream's shared block when rows are split: the widest exchange (a later array's
    /// input channels, an activation or head sum).
    pub fn shared_rows(&self) -> usize {
        self.widest(|a| a.bottleneck.max(a.input_rows))
    }

    /// Floats of the split kernel's weight stage: two blocks of the widest layer's weights.
    pub fn stage_floats(&self) -> usize {
        2 * self.widest(ArrayShape::layer_block)
    }

    /// The largest power of two up to `most` that divides every array's channels and bottleneck
    /// (the rows [`super::row_split`] splits).
    pub fn max_splits(&self, most: usize) -> usize {
        let arrays = &self.arrays[..self.count];
        let mut s = 1;
        while s * 2 <= most
            && arrays.iter().all(|a| a.channels.is_multiple_of(s * 2) && a.bottleneck.is_multiple_of(s * 2))
        {
            s *= 2;
        }
        s
    }

    /// Label for reports.
    pub fn label(&self) -> String {
        let staged = if self.staged { ", weights staged in shared memory" } else { "" };
        let split =
            if self.splits > 1 { format!(", rows split over {} threads{staged}", self.splits) } else { String::new() };
        format!("columns {} × {} frames{split}, {} streams per cube", self.lanes, self.frames, self.streams_per_cube)
    }

    /// The arrays of `plan` when its model is a WaveNet the columns kernel runs, else `None`.
    pub fn arrays_of(plan: &ModelPlan) -> Option<([ArrayShape; MAX_ARRAYS], usize)> {
        use cubeaudio_kernels::activation::ActivationKind as K;
        if plan.general {
            return None;
        }
        let p = &plan.plan;
        let n_ops = *p.first()? as usize;
        if !(2..=MAX_ARRAYS + 1).contains(&n_ops) {
            return None;
        }
        let kind = |code: u32| {
            [
                K::Identity,
                K::Tanh,
                K::FastTanh,
                K::Sigmoid,
                K::ReLU,
                K::LeakyReLU,
                K::Hardtanh,
                K::LeakyHardtanh,
                K::Softsign,
                K::SiLU,
                K::Hardswish,
            ]
            .into_iter()
            .find(|k| cubeaudio_kernels::activation::activation_code(*k) == code)
        };
        let mut arrays = Vec::new();
        let mut at = 1;
        for ai in 0..n_ops - 1 {
            let rec = p.get(at..at + ARRAY_HEADER)?;
            let (c, hs, hout, hk, layers) =
                (rec[3] as usize, rec[4] as usize, rec[5] as usize, rec[6], rec[9] as usize);
            let src_ok = if ai == 0 { rec[1] == REGION_IN } else { rec[1] == REGION_X };
            if rec[0] != OP_ARRAY || !src_ok || hk != 1 || rec[15] != REGION_IN || layers == 0 {
                return None;
            }
            let first = p.get(at + ARRAY_HEADER..at + ARRAY_HEADER + LAYER_RECORD)?;
            let shape = ArrayShape {
                input_rows: rec[2] as usize,
                channels: c,
                bottleneck: first[9] as usize,
                gate_rows: first[8] as usize,
                head_out: hout,
                taps: first[0] as usize,
                layers,
                activation: kind(first[2])?,
                secondary: kind(first[3])?,
                gating: first[10],
                head_bias: rec[8] != 0,
            };
            for l in 0..layers {
                let r = p.get(at + ARRAY_HEADER + l * LAYER_RECORD..at + ARRAY_HEADER + (l + 1) * LAYER_RECORD)?;
                // Same shape as the first layer; layer1x1 present, no head1x1, a one-row
                // condition, no FiLM site.
                let same = r[0] == first[0] && r[2] == first[2] && r[3] == first[3] && r[8..11] == first[8..11];
                // One contiguous weight block per layer (the split kernel stages it whole).
                let contiguous = r[11].checked_sub(r[4]) == Some(shape.layer1x1_at() as u32);
                if !same
                    || !contiguous
                    || r[11] == NONE
                    || r[12] != NONE
                    || r[13] != 1
                    || r[16..].iter().step_by(2).any(|&o| o != NONE)
                {
                    return None;
                }
            }
            if hs != shape.bottleneck || shape.gate_rows != shape.bottleneck * if shape.gating == 0 { 1 } else { 2 } {
                return None;
            }
            arrays.push(shape);
            at += ARRAY_HEADER + layers * LAYER_RECORD;
        }
        for w in arrays.windows(2) {
            if w[1].input_rows != w[0].channels || w[1].bottleneck != w[0].head_out {
                return None;
            }
        }
        let out = p.get(at..at + OUT_RECORD)?;
        let last = arrays.last()?;
        if out[0] != OP_OUT || out[1] != REGION_HO || out[2] != DEST_OUTPUT || out[3] != 1 || last.head_out != 1 {
            return None;
        }
        if at + OUT_RECORD != p.len() || arrays[0].input_rows != 1 {
            return None;
        }
        let count = arrays.len();
        let mut all = [arrays[0]; MAX_ARRAYS];
        all[..count].copy_from_slice(&arrays);
        Some((all, count))
    }

    /// The launch shape for a batch whose every stream has `arrays` (from [`Self::arrays_of`]):
    /// as many positions per thread as fit ~128 registers of columns (2 for the standard model,
    /// 4 for nano), since each weight load then feeds that many FMAs — measured on an H200 for
    /// the standard model at 128 frames, one stream took 0.37 ms of device time per buffer with
    /// one position per thread, 0.17 ms with two, 0.36 ms with four (registers spill).
    /// `CUBEAUDIO_NAM_COLUMNS=F` (or `batch.forced_positions`) forces `F` (1, 2, 4, 8).
    ///
    /// Batches of few streams, and any batch whose layer weights stage in shared memory, split
    /// rows over threads instead (below), one stream per cube, two positions per thread (four
    /// from [`LARGE_BATCH_PER_MULTIPROCESSOR`] streams per multiprocessor). Otherwise cubes are
    /// 256 or 512 threads (at most `max_units`, the device's limit; `CUBEAUDIO_NAM_CUBE_THREADS`
    /// forces a power of two): the streams of a cube share its barriers, and CUDA's launch bound
    /// is the cube's size, so nvcc budgets registers per thread as 65,536 / threads.
    pub fn choose(arrays: [ArrayShape; MAX_ARRAYS], count: usize, max_buffer: usize, batch: ColumnsBatch) -> Self {
        let ColumnsBatch { streams, few, forced_splits, forced_positions, staging, max_units, multiprocessors } = batch;
        let tile = max_buffer.next_power_of_two().clamp(8, MAX_TILE);
        let mut shape =
            ColumnsShape { arrays, count, frames: 1, lanes: tile, streams_per_cube: 1, splits: 1, staged: false };
        let per_position = shape.rows_per_position();
        // Two blocks of a layer's weights next to the exchange block, in 48 KiB of static
        // shared memory (every backend's floor); `staging` may turn it off.
        let stages = (shape.stage_floats() + shape.shared_rows() * tile) * 4 <= 48 * 1024 && staging.unwrap_or(true);
        // A position's rows split over up to 4 threads, two positions per thread, one stream per
        // cube: for few streams (`few`: at most two per multiprocessor), and at every batch size
        // where the weights stage. `forced_splits` (`CUBEAUDIO_NAM_SPLITS`, or the batch's
        // `set_row_splits`) forces the split (1: unsplit). Standard model on an H200, queued
        // device time per buffer: one stream of 64 frames split over 4 threads × 2 positions
        // 0.054 ms, over 8 × 2 0.060, 4 × 4 0.081, 8 × 1 0.093, 2 × 4 0.152, the interpreter
        // 0.099 (2026-12-01, nineteenth measurement); staged 0.042 ms, and against the unsplit
        // kernel at 64 / 128 frames: 512 streams 0.099 / 0.195 ms vs 0.254 / 0.257, 1,024
        // 0.190 / 0.372 vs 0.261 / 0.422, 2,048 0.364 / 0.720 vs 0.430 / 0.843 (2026-12-02,
        // twentieth measurement).
        let splits = match forced_splits {
            Some(s) => shape.max_splits(s.max(1)),
            None if few || stages => shape.max_splits(4),
            None => 1,
        };
        if splits > 1 {
            // Two positions per thread, four past eight streams per multiprocessor, where each
            // staged weight feeding four FMAs beats having twice the threads in flight. Standard
            // model on an H200, queued device time per buffer, 2 → 4 positions over 4 splits
            // (2026-12-02, twenty-first measurement): 128 frames, 512 streams 187 → 203 µs,
            // 2,048 699 → 626, 3,584 1,205 → 1,052; 64 frames 99 → 104, 361 → 329, 613 → 559.
            // Only where the device reports its multiprocessors: on Vulkan's assumed count four
            // positions started at 512 streams and were slower there (queued 0.639 vs 0.416 ms
            // at 128 frames, 2026-12-02).
            let large = multiprocessors.is_some_and(|sms| streams >= LARGE_BATCH_PER_MULTIPROCESSOR * sms);
            let positions = if large { 4 } else { 2 };
            shape.frames = forced_positions.filter(|f| [1, 2, 4, 8].contains(f)).unwrap_or(positions).min(tile);
            shape.lanes = tile / shape.frames;
            shape.splits = shape.max_splits(splits.min((max_units / shape.lanes).max(1)));
            shape.staged = stages;
            return shape;
        }
        let frames = match forced_positions {
            Some(f) if [1, 2, 4, 8].contains(&f) => f,
            _ => [4, 2, 1].into_iter().find(|f| f * per_position <= 128).unwrap_or(1),
        };
        shape.frames = frames.min(tile);
        shape.lanes = tile / shape.frames;
        // Wide shapes (more than 64 registers of columns per thread) with more than one wave of
        // 256-thread cubes take 512-thread cubes: CUDA's launch bound then holds nvcc to 128
        // registers per thread, 16 warps per multiprocessor instead of 8 (211 registers at 256
        // threads). Standard model on an H200, 128 frames, queued device time per buffer
        // (2026-12-01): 2,048 streams 1.052 → 0.844 ms, 1,024 streams 0.520 → 0.422 ms; with one
        // wave or less the larger cubes leave multiprocessors idle (512 streams 0.257 → 0.407 ms).
        let per_cube = (256 / shape.lanes).max(1);
        let wide = shape.frames * per_position > 64;
        let default =
            if wide && streams > per_cube * multiprocessors.unwrap_or(DEFAULT_MULTIPROCESSORS) { 512 } else { 256 };
        let threads = knob("CUBEAUDIO_NAM_CUBE_THREADS")
            .filter(|t| t.is_power_of_two() && (32..=1024).contains(t))
            .unwrap_or(default)
            .min(max_units.max(shape.lanes));
        shape.streams_per_cube = (threads / shape.lanes).clamp(1, streams.max(1));
        shape
    }
}

/// One layer array over this thread's positions: `x` ← rechannel(`src`), the layers, then
/// `head` ← head rechannel of the head sum (which starts from `head`, the previous array's
/// output, unless `first`).
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
    #[comptime] a: ArrayShape,
    #[comptime] first: bool,
    #[comptime] ff: usize,
) {
    let c = comptime!(a.channels);
    let b = comptime!(a.bottleneck);
    let g = comptime!(a.gate_rows);
    let w_re = wb + plan[rec + 10] as usize;
    let w_head = wb + plan[rec + 11] as usize;
    #[unroll]
    for i in 0..comptime!(c * ff) {
        x[i] = 0.0;
    }
    column_matmul::<Array<f32>>(x, weights, w_re, src, c, a.input_rows, ff);
    let mut h = Array::<f32>::new(comptime!(b * ff));
    #[unroll]
    for i in 0..comptime!(b * ff) {
        if comptime!(first) {
            h[i] = 0.0;
        } else {
            h[i] = head[i];
        }
    }
    let mut z = Array::<f32>::new(comptime!(g * ff));
    let mut lp = rec + ARRAY_HEADER;
    let end = lp + comptime!(a.layers * LAYER_RECORD);
    while lp < end {
        let d = plan[lp + 1] as usize;
        let w = wb + plan[lp + 4] as usize;
        let ring = sb + plan[lp + 5] as usize;
        let size = plan[lp + 6] as usize;
        let pa = wb + plan[lp + 7] as usize;
        let w_l1 = wb + plan[lp + 11] as usize;
        let pa_sec = wb + plan[lp + 14] as usize;
        let w_bias = w + g * c * a.taps;
        column_append(state, ring, size, x, pos, valid, c, ff);
        sync_storage();
        sync_cube();
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
        // x += bias + layer1x1(a), summed into x itself: a separate `bias + layer1x1` tile (the
        // interpreter's order) held c · ff more registers, and registers bound occupancy.
        column_add_bias::<Array<f32>>(x, weights, w_l1 + c * b, c, ff);
        column_matmul::<Array<f32>>(x, weights, w_l1, &z, c, b, ff);
        lp += LAYER_RECORD;
    }
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
/// the interpreter's ([`super::kernel::wavenet_streams_kernel`]); `streams` records in `meta`.
/// Launched unchecked: every index is in range by construction (see the engine's launch).
#[allow(unused_assignments)]
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
    let ff = comptime!(shape.frames);
    let lanes = comptime!(shape.lanes);
    let splits = comptime!(shape.splits);
    let slot = UNIT_POS as usize / comptime!(lanes * splits);
    let j = (UNIT_POS as usize / lanes) % splits;
    let lane = UNIT_POS as usize % lanes;
    let mut s = CUBE_POS * shape.streams_per_cube + slot;
    // Threads past the last stream run its program for the barriers and write nothing.
    let live = s < streams as usize;
    if !live {
        s = streams as usize - 1;
    }
    let m = s * META;
    let p0 = meta[m] as usize;
    let wb = meta[m + 1] as usize;
    let sb = meta[m + 2] as usize;
    let in_off = meta[m + 3] as usize;
    let out_off = meta[m + 4] as usize;
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
            let inside = t < total;
            valid[f] = select(inside && live, 1u32, 0u32);
            let mut v = 0.0f32;
            if inside {
                v = input[in_off + t];
            }
            signal[f] = v;
        }
        if comptime!(splits > 1) {
            split_tile(
                plan,
                weights,
                state,
                output,
                p0,
                wb,
                sb,
                out_off + start,
                scale,
                &signal,
                &pos,
                &valid,
                slot,
                j,
                lane,
                shape,
            );
        } else {
            let mut xa = Array::<f32>::new(comptime!(widest_c * ff));
            let mut xb = Array::<f32>::new(comptime!(widest_c * ff));
            let mut head = Array::<f32>::new(comptime!(widest_h * ff));
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
                    shape.arrays[2],
                    false,
                    ff,
                );
            }
            #[unroll]
            for f in 0..ff {
                if valid[f] != 0 {
                    output[out_off + start + lane + f * lanes] = scale * head[f];
                }
            }
        }
        start += comptime!(shape.frames * shape.lanes);
    }
}

/// One tile of a stream with its rows split over `shape.splits` threads ([`super::row_split`]):
/// the arrays over this thread's rows, then split 0 writes the output of `base + lane + f · lanes`.
#[allow(clippy::too_many_arguments)]
#[cube]
fn split_tile(
    plan: &Array<u32>,
    weights: &Array<f32>,
    state: &mut Array<f32>,
    output: &mut Array<f32>,
    p0: usize,
    wb: usize,
    sb: usize,
    base: usize,
    scale: f32,
    signal: &Array<f32>,
    pos: &Array<u32>,
    valid: &Array<u32>,
    slot: usize,
    j: usize,
    lane: usize,
    #[comptime] shape: ColumnsShape,
) {
    let ff = comptime!(shape.frames);
    let lanes = comptime!(shape.lanes);
    let splits = comptime!(shape.splits);
    let tile = comptime!(shape.frames * shape.lanes);
    let rows = comptime!(shape.shared_rows());
    let own_c = comptime!(shape.arrays[..shape.count].iter().map(|a| a.channels).max().unwrap_or(1) / shape.splits);
    let widest_h = comptime!(shape.arrays[..shape.count].iter().map(|a| a.head_out).max().unwrap_or(1));
    let mut shared = SharedMemory::<f32>::new(comptime!(rows * tile * shape.streams_per_cube));
    let staged = comptime!(shape.staged);
    let blocks = comptime!(if shape.staged { shape.stage_floats() } else { 1 });
    let mut stage = SharedMemory::<f32>::new(blocks);
    let at = RowSplit { block: slot * comptime!(rows * tile), j, lane };
    let mut xa = Array::<f32>::new(comptime!(own_c * ff));
    let mut xb = Array::<f32>::new(comptime!(own_c * ff));
    let mut head = Array::<f32>::new(comptime!(widest_h * ff));
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
        &mut head,
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
            &mut head,
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
            &mut head,
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
    if j == 0 {
        #[unroll]
        for f in 0..ff {
            if valid[f] != 0 {
                output[base + lane + f * lanes] = scale * head[f];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The standard WaveNet's two arrays (16 then 8 channels, 10 layers of 3 taps each).
    fn standard() -> [ArrayShape; MAX_ARRAYS] {
        let array = |input_rows, channels, head_out| ArrayShape {
            input_rows,
            channels,
            bottleneck: channels,
            gate_rows: channels,
            head_out,
            taps: 3,
            layers: 10,
            activation: ActivationKind::Tanh,
            secondary: ActivationKind::Identity,
            gating: 0,
            head_bias: false,
        };
        let a = array(1, 16, 8);
        [a, array(16, 8, 1), a]
    }

    fn batch(streams: usize, multiprocessors: usize) -> ColumnsBatch {
        ColumnsBatch {
            streams,
            few: streams <= 2 * multiprocessors,
            forced_splits: None,
            forced_positions: None,
            staging: None,
            max_units: 1024,
            multiprocessors: Some(multiprocessors),
        }
    }

    #[test]
    fn large_batches_carry_four_positions_per_thread_and_few_streams_two() {
        let sms = 132;
        for (streams, positions) in [
            (1, 2),
            (512, 2),
            (LARGE_BATCH_PER_MULTIPROCESSOR * sms - 1, 2),
            (LARGE_BATCH_PER_MULTIPROCESSOR * sms, 4),
            (4096, 4),
        ] {
            let shape = ColumnsShape::choose(standard(), 2, 128, batch(streams, sms));
            assert_eq!(
                (shape.splits, shape.frames, shape.lanes),
                (4, positions, 128 / positions),
                "{streams} streams: {}",
                shape.label()
            );
            assert!(shape.staged, "{streams} streams: {}", shape.label());
        }
        let forced = ColumnsBatch { forced_positions: Some(2), ..batch(4096, sms) };
        assert_eq!(ColumnsShape::choose(standard(), 2, 128, forced).frames, 2);
        let unknown = ColumnsBatch { multiprocessors: None, ..batch(4096, sms) };
        assert_eq!(ColumnsShape::choose(standard(), 2, 128, unknown).frames, 2, "no multiprocessor count: two");
    }
}
