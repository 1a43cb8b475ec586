//! A whole processing graph of small processors in **one launch**: the graph program.
//!
//! A program is a list of *items* (one channel of one processor: a kind, an output slot, up to
//! [`MIX_INPUTS`] input slots, its parameters) and, per graph stage, a *layout* that places
//! the stage's items on the units of a cube. One cube runs `G` instances of the graph (one
//! unless [`GraphProgram`] chooses more, see [`instances_per_cube`]): it first copies their
//! graph inputs into their arenas, then runs the stages one after the other with a cube barrier
//! between them (a stage reads only what earlier stages wrote), each stage's layout row once
//! per instance, then copies the graph's outputs out. Many instances of the same graph (tracks,
//! users) share the launch, each with its own arena, parameters, state and echo rings.
//!
//! Within a stage every unit runs the branch of its item's kind for the whole buffer (the
//! processors are recurrences over samples). Units of one warp that hold different kinds run
//! each branch in turn, so the layout decides what the stage costs: the runtime lays items out
//! with the warp-alignment packer so that a warp runs one branch body.
//!
//! | kind | device step | parameters | state |
//! |---|---|---|---|
//! | [`KIND_GAIN`] | `smooth_step` | target gain, coefficient | gain |
//! | [`KIND_MIX`] | `smooth_step` ×4 | 4 target gains, coefficient | 4 gains |
//! | [`KIND_BIQUAD`] | `biquad_tdf2_step` | b0 b1 b2 a1 a2 | 2 |
//! | [`KIND_GATE`] | [`gate_step`] | [`GATE_PARAMS`] | envelope, gain |
//! | [`KIND_COMPRESSOR`] | [`compressor_step`] | [`COMPRESSOR_PARAMS`] | envelope |
//! | [`KIND_TREMOLO`] | [`tremolo_step`] | [`TREMOLO_PARAMS`] | phase, depth |
//! | [`KIND_DRIVE`] | [`drive_step`] | [`DRIVE_PARAMS`] | pre-gain |
//! | [`KIND_ECHO`] | [`echo_step`] | [`ECHO_PARAMS`] | its ring |
//!
//! Besides its items, a stage may hold **convolutions** (cabinet and room impulse responses,
//! one channel each): cooperative steps that the whole cube runs after the stage's items —
//! [`convolve_cooperative`], the library's partitioned convolver (direct head, FFT tail of
//! `B`-sample partitions) in one cube, its rings and frequency-domain delay line per instance,
//! its spectra shared by every instance. `B` is a compile-time constant of the program.
//!
//! Last in a stage come its **model streams** (convolutional NAM models): the whole cube runs
//! each with [`run_stream`], the plan interpreter of the standalone NAM kernel, reading its
//! input slot and writing its output slot of the instance's arena. Their plans, weights and
//! histories are tables the program binds ([`StreamTables`]), built by whoever owns the models;
//! stream `k` of instance `i` is record `i · K + k` of the tables (`K` streams per instance).
// cubecl 0.10's #[cube] adds an undocumented `pub mod <fn>` (expand, launch) beside every
// device function, which no attribute reaches; the functions themselves are documented.
#![allow(missing_docs)]

mod device_kinds;
mod launch;
pub mod reference;
mod unrolled;

pub use device_kinds::{
    DeviceKind, DeviceKindSet, DeviceKinds, NoDeviceKinds, KIND_DEVICE, MAX_DEVICE_KINDS, MAX_DEVICE_PARAMS,
};

pub use launch::{
    instances_per_cube, GraphProgram, ProgramConvolution, ProgramItem, ProgramSpec, ProgramStream, StreamStep,
    StreamTables, UnrollStreams, LOCAL_ARENA_FLOATS, MAX_INSTANCES_PER_CUBE, MAX_PROGRAM_UNITS, MAX_RING,
    MAX_SHARED_BYTES,
};
pub use unrolled::{StreamStages, UnrolledStage, MAX_UNROLLED_ROUNDS, MAX_UNROLLED_STAGES};

use cubecl::prelude::*;

use crate::biquad::biquad_tdf2_step;
use crate::effects::{
    compressor_step, drive_step, echo_step, gate_step, tremolo_step, COMPRESSOR_PARAMS, DRIVE_PARAMS, ECHO_PARAMS,
    GATE_PARAMS, TREMOLO_PARAMS,
};
use crate::gain::smooth_step;
use crate::partitioned_conv::{convolve_cooperative, cooperative_shared_len, ConvolutionAt};
use crate::routed::{finite_or_zero, non_finite, MIX_INPUTS};
use crate::wavenet_columns::{run_columns, ColumnsShape};
use crate::wavenet_streams::{run_stream, StreamsShape};

/// Smoothed gain.
pub const KIND_GAIN: u32 = 0;
/// Sum of [`MIX_INPUTS`] inputs with smoothed gains.
pub const KIND_MIX: u32 = 1;
/// One TDF-II biquad section.
pub const KIND_BIQUAD: u32 = 2;
/// Noise gate.
pub const KIND_GATE: u32 = 3;
/// Compressor.
pub const KIND_COMPRESSOR: u32 = 4;
/// Tremolo.
pub const KIND_TREMOLO: u32 = 5;
/// Drive (tanh saturation).
pub const KIND_DRIVE: u32 = 6;
/// Echo (delay with feedback).
pub const KIND_ECHO: u32 = 7;
/// Number of kinds (branch bodies).
pub const KINDS: usize = 8;

/// Parameters of each kind, in kind order.
pub const KIND_PARAMS: [usize; KINDS] =
    [2, MIX_INPUTS + 1, 5, GATE_PARAMS, COMPRESSOR_PARAMS, TREMOLO_PARAMS, DRIVE_PARAMS, ECHO_PARAMS];
/// Names of the kinds, for errors and reports.
pub const KIND_NAMES: [&str; KINDS] = ["gain", "mix", "biquad", "gate", "compressor", "tremolo", "drive", "echo"];

/// u32 per item in the program table: kind, output slot, [`MIX_INPUTS`] input slots (the first
/// only, except for a mix), parameter offset, ring offset, ring mask.
pub const RECORD: usize = 9;
/// State floats of every item, kept in registers for the buffer.
pub const ITEM_STATE: usize = 4;
/// Layout entry of a unit with nothing to do in a stage.
pub const IDLE: u32 = u32::MAX;
/// u32 per convolution in the program table (after the items): input slot, output slot, data
/// offset, head taps, partitions, ring area offset, ring mask.
pub const CONV_RECORD: usize = 7;
/// u32 per model stream in the program table (after the convolutions): input slot, output slot.
pub const STREAM_RECORD: usize = 2;

/// The units of cube `c` run instances `c · G ..` of the program (`G` = `dims[17]`, fewer in
/// the last cube; `dims[18]`: the instances of the launch).
///
/// `dims`: stride (floats per slot), stages, the width `W` of a stage's layout row, input
/// routes, output routes, then per instance the length of its arena, parameters, state, rings, input
/// and output, then where the convolution records start in `program`, where the per-stage
/// (first, end) convolution ranges start in `layout`, and the items' state floats of one
/// instance (each convolution's delay-line slot follows them). `routes`: (source,
/// destination) float offsets, the input routes (input → arena) then the output routes
/// (arena → output). `layout[stage · W + k]`: the item of slot `k` of every instance's row, or
/// [`IDLE`]; the cube's units take the `G` rows side by side, in rounds where they are fewer. `cursor`: samples run so far, wrapping at 2³² (every ring is a power of
/// two). `conv_data`: the convolutions' twiddles, heads and spectra; `conv_block`: their `B`
/// (0: the program has none). `local_arena`: floats of shared memory that hold the cube's
/// instances' arenas during the launch (copied in first and out last), or 0: the stages work on `arena`.
/// `stream_*`: the model streams' tables (see [`run_stream`]; one-element stand-ins without
/// streams), `stream_tick` the frames since their cursors were uploaded; `streams`: the
/// interpreter's compiled shape, or `columns`: the columns kernel's (its slots per cube), or
/// neither. Then `dims` goes on with where the stream records start in
/// `program`, where the per-stage (first, end) stream ranges start in `layout`, the streams of
/// one instance, `G` and the instances. `unrolled`: the stages whose columns streams run outside
/// the stage loop, and which of the loops around them compile the convolutions' code (see
/// `run_program`).
///
/// Launched unchecked, as the NAM columns kernel is: every index is in range by construction
/// (tables validated in [`GraphProgram::new`], buffers in [`GraphProgram::process`]), and
/// cubecl's per-access bounds checks (a clamp and a select per load, a test per store) cost
/// `amp_cab`'s program 19 % of its device time (H200, 1,024 instances at 128 frames: 972 →
/// 784 µs, 2026-12-03). Registers stay at ~252 per thread (one cube per multiprocessor).
#[allow(clippy::too_many_arguments)]
#[cube(launch_unchecked)]
pub fn graph_program_kernel<K: DeviceKinds>(
    input: &Array<f32>,
    output: &mut Array<f32>,
    arena: &mut Array<f32>,
    program: &Array<u32>,
    layout: &Array<u32>,
    routes: &Array<u32>,
    params: &Array<f32>,
    state: &mut Array<f32>,
    rings: &mut Array<f32>,
    dims: &Array<u32>,
    conv_data: &Array<f32>,
    stream_meta: &Array<u32>,
    stream_plan: &Array<u32>,
    stream_weights: &Array<f32>,
    stream_state: &mut Array<f32>,
    stream_tick: u32,
    cursor: u32,
    frames: u32,
    #[comptime] conv_block: usize,
    #[comptime] local_arena: usize,
    #[comptime] streams: Option<StreamsShape>,
    #[comptime] columns: Option<ColumnsShape>,
    #[comptime] unrolled: StreamStages,
    #[comptime] device_kinds: bool,
) {
    let len = dims[5] as usize;
    let group = dims[17] as usize;
    let first = CUBE_POS * group;
    // The last cube may hold fewer instances than the others.
    let rest = dims[18] as usize - first;
    let live = select(rest < group, rest, group);
    let a0 = first * len;
    // One shared array (the scratch the convolutions and the streams take in turn, then the
    // local arena): generated code with one shared declaration is laid out the same on every
    // generation.
    let scratch = comptime!(scratch_floats(conv_block, streams));
    let mut sh = SharedMemory::<f32>::new(comptime!((scratch + local_arena).max(1)));
    let local = comptime!(local_arena > 0);
    if local {
        // The cube's instances' arenas in shared memory for the whole launch: every sample an
        // item reads or writes is a shared-memory access instead of a device-memory round trip.
        let mut k = UNIT_POS as usize;
        while k < live * len {
            sh[scratch + k] = arena[a0 + k];
            k += CUBE_DIM as usize;
        }
        sync_cube();
    }
    let mut view =
        if local { sh.slice_mut(scratch, scratch + live * len) } else { arena.slice_mut(a0, a0 + live * len) };
    run_program::<K>(
        &mut view,
        first,
        live,
        &mut sh,
        input,
        output,
        program,
        layout,
        routes,
        params,
        state,
        rings,
        dims,
        conv_data,
        stream_meta,
        stream_plan,
        stream_weights,
        stream_state,
        stream_tick,
        cursor,
        frames,
        conv_block,
        streams,
        columns,
        unrolled,
        device_kinds,
    );
    if local {
        let mut k = UNIT_POS as usize;
        while k < live * len {
            arena[a0 + k] = sh[scratch + k];
            k += CUBE_DIM as usize;
        }
    }
}

/// Shared floats the cooperative steps take in turn: the convolutions' and the streams'.
pub fn scratch_floats(conv_block: usize, streams: Option<StreamsShape>) -> usize {
    let conv = if conv_block > 0 { cooperative_shared_len(conv_block) } else { 0 };
    conv.max(streams.map_or(0, |s| s.shared_floats()))
}

/// The program of the cube's instances over their arenas `arena` (device or shared memory):
/// input copy, stages, output copy. `sh` starts with the cooperative steps' scratch.
///
/// The stages run in loops, except the model streams of the stages `unrolled` names: each of
/// those runs on the columns body at the kernel's top level, after a loop over the stages up to
/// its own. ptxas spends registers on a body nested in loops to keep spills out of them: the
/// standard WaveNet's columns body inside the stage loop took ~250 registers per thread (one
/// 256-thread cube per multiprocessor), against ~128–180 for the same body at the top level.
#[allow(clippy::too_many_arguments)]
#[cube]
fn run_program<K: DeviceKinds>(
    arena: &mut Slice<f32, ReadWrite>,
    first: usize,
    live: usize,
    sh: &mut SharedMemory<f32>,
    input: &Array<f32>,
    output: &mut Array<f32>,
    program: &Array<u32>,
    layout: &Array<u32>,
    routes: &Array<u32>,
    params: &Array<f32>,
    state: &mut Array<f32>,
    rings: &mut Array<f32>,
    dims: &Array<u32>,
    conv_data: &Array<f32>,
    stream_meta: &Array<u32>,
    stream_plan: &Array<u32>,
    stream_weights: &Array<f32>,
    stream_state: &mut Array<f32>,
    stream_tick: u32,
    cursor: u32,
    frames: u32,
    #[comptime] conv_block: usize,
    #[comptime] streams: Option<StreamsShape>,
    #[comptime] columns: Option<ColumnsShape>,
    #[comptime] unrolled: StreamStages,
    #[comptime] device_kinds: bool,
) {
    let unit = UNIT_POS as usize;
    let units = CUBE_DIM as usize;
    let n = frames as usize;
    let in_routes = dims[3] as usize;
    let out_routes = dims[4] as usize;
    let len = dims[5] as usize;

    // Instance `first + g` of the cube works on floats `g · len ..` of `arena`.
    let per_in = in_routes * n;
    let mut k = unit;
    while k < live * per_in {
        let g = k / per_in;
        let r = (k % per_in) / n;
        let t = k % n;
        let d = g * len + routes[2 * r + 1] as usize + t;
        arena[d] = finite_or_zero(input[(first + g) * dims[9] as usize + routes[2 * r] as usize + t]);
        k += units;
    }
    sync_storage();
    sync_cube();

    // One call per possible unrolled stage (MAX_UNROLLED_STAGES); absent ones expand to nothing.
    #[unroll]
    for q in 0..MAX_UNROLLED_STAGES {
        unrolled_stage::<K>(
            arena,
            first,
            live,
            sh,
            program,
            layout,
            params,
            state,
            rings,
            dims,
            conv_data,
            stream_meta,
            stream_plan,
            stream_weights,
            stream_state,
            stream_tick,
            cursor,
            frames,
            conv_block,
            columns,
            comptime!(unrolled.start(q)),
            comptime!(unrolled.entry(q)),
            device_kinds,
        );
    }
    run_stages::<K>(
        comptime!(unrolled.start(unrolled.count)).runtime(),
        dims[1] as usize,
        arena,
        first,
        live,
        sh,
        program,
        layout,
        params,
        state,
        rings,
        dims,
        conv_data,
        stream_meta,
        stream_plan,
        stream_weights,
        stream_state,
        stream_tick,
        cursor,
        frames,
        comptime!(if unrolled.tail_convolutions { conv_block } else { 0 }),
        streams,
        columns,
        comptime!(unrolled.count == 0),
        device_kinds,
    );

    let per_out = out_routes * n;
    let mut k = unit;
    while k < live * per_out {
        let g = k / per_out;
        let r = in_routes + (k % per_out) / n;
        let t = k % n;
        let d = (first + g) * dims[10] as usize + routes[2 * r + 1] as usize + t;
        output[d] = arena[g * len + routes[2 * r] as usize + t];
        k += units;
    }
}

/// The stages from `from` up to and including `entry`'s, then `entry`'s model streams on the
/// columns body outside any loop, then a cube barrier; nothing without an entry.
#[allow(clippy::too_many_arguments)]
#[cube]
fn unrolled_stage<K: DeviceKinds>(
    arena: &mut Slice<f32, ReadWrite>,
    first: usize,
    live: usize,
    sh: &mut SharedMemory<f32>,
    program: &Array<u32>,
    layout: &Array<u32>,
    params: &Array<f32>,
    state: &mut Array<f32>,
    rings: &mut Array<f32>,
    dims: &Array<u32>,
    conv_data: &Array<f32>,
    stream_meta: &Array<u32>,
    stream_plan: &Array<u32>,
    stream_weights: &Array<f32>,
    stream_state: &mut Array<f32>,
    stream_tick: u32,
    cursor: u32,
    frames: u32,
    #[comptime] conv_block: usize,
    #[comptime] columns: Option<ColumnsShape>,
    #[comptime] from: usize,
    #[comptime] entry: Option<UnrolledStage>,
    #[comptime] device_kinds: bool,
) {
    if comptime!(entry.is_some()) {
        let e = comptime!(entry.unwrap());
        run_stages::<K>(
            comptime!(from).runtime(),
            comptime!(e.stage + 1).runtime(),
            arena,
            first,
            live,
            sh,
            program,
            layout,
            params,
            state,
            rings,
            dims,
            conv_data,
            stream_meta,
            stream_plan,
            stream_weights,
            stream_state,
            stream_tick,
            cursor,
            frames,
            comptime!(if e.convolutions { conv_block } else { 0 }),
            None,
            columns,
            false,
            device_kinds,
        );
        columns_step(
            comptime!(e.stage).runtime(),
            arena,
            first,
            live,
            program,
            layout,
            dims,
            stream_meta,
            stream_plan,
            stream_weights,
            stream_state,
            stream_tick,
            frames,
            comptime!(columns.unwrap()),
            comptime!(Some(e.rounds)),
        );
        sync_storage();
        sync_cube();
    }
}

/// Stages `from..to`, each followed by a cube barrier (a stage reads only what earlier stages
/// wrote): its items, its convolutions, then its model streams where `with_streams`.
#[allow(clippy::too_many_arguments)]
#[cube]
fn run_stages<K: DeviceKinds>(
    from: usize,
    to: usize,
    arena: &mut Slice<f32, ReadWrite>,
    first: usize,
    live: usize,
    sh: &mut SharedMemory<f32>,
    program: &Array<u32>,
    layout: &Array<u32>,
    params: &Array<f32>,
    state: &mut Array<f32>,
    rings: &mut Array<f32>,
    dims: &Array<u32>,
    conv_data: &Array<f32>,
    stream_meta: &Array<u32>,
    stream_plan: &Array<u32>,
    stream_weights: &Array<f32>,
    stream_state: &mut Array<f32>,
    stream_tick: u32,
    cursor: u32,
    frames: u32,
    #[comptime] conv_block: usize,
    #[comptime] streams: Option<StreamsShape>,
    #[comptime] columns: Option<ColumnsShape>,
    #[comptime] with_streams: bool,
    #[comptime] device_kinds: bool,
) {
    let unit = UNIT_POS as usize;
    let units = CUBE_DIM as usize;
    let n = frames as usize;
    let stride = dims[0] as usize;
    let width = dims[2] as usize;
    let len = dims[5] as usize;
    let conv_records = dims[11] as usize;
    let conv_stages = dims[12] as usize;
    for stage in from..to {
        // The stage's layout row once per instance of the cube, rows side by side: rows are
        // whole warps, so a warp still runs one instance's packed warp.
        let mut v = unit;
        while v < live * width {
            let g = v / width;
            let item = layout[stage * width + v % width];
            if item != IDLE {
                let i = first + g;
                run_item::<K>(
                    arena,
                    g * len,
                    program,
                    item as usize,
                    params,
                    i * dims[6] as usize,
                    state,
                    i * dims[7] as usize,
                    rings,
                    i * dims[8] as usize,
                    cursor as usize,
                    stride,
                    n,
                    device_kinds,
                );
            }
            v += units;
        }
        if comptime!(conv_block > 0) {
            let c_first = layout[conv_stages + 2 * stage] as usize;
            let c_end = layout[conv_stages + 2 * stage + 1] as usize;
            // Cube-wide steps: the cube's instances one after the other.
            for g in 0..live {
                let i = first + g;
                for c in c_first..c_end {
                    let r = conv_records + c * CONV_RECORD;
                    // The delay line's slot lives in the instance's state, after the items'.
                    let slot_at = i * dims[7] as usize + dims[13] as usize + c;
                    let at = ConvolutionAt {
                        data_at: program[r + 2] as usize,
                        head: program[r + 3] as usize,
                        partitions: program[r + 4] as usize,
                        area: i * dims[8] as usize + program[r + 5] as usize,
                        mask: program[r + 6] as usize,
                        slot: state[slot_at] as usize,
                    };
                    let src = g * len + program[r] as usize * stride;
                    let dst = g * len + program[r + 1] as usize * stride;
                    let slot =
                        convolve_cooperative(arena, src, dst, conv_data, rings, at, cursor as usize, n, sh, conv_block);
                    if unit == 0 {
                        state[slot_at] = slot as f32;
                    }
                }
            }
        }
        if comptime!(with_streams && columns.is_some()) {
            columns_step(
                stage,
                arena,
                first,
                live,
                program,
                layout,
                dims,
                stream_meta,
                stream_plan,
                stream_weights,
                stream_state,
                stream_tick,
                frames,
                comptime!(columns.unwrap()),
                None,
            );
        }
        if comptime!(with_streams && streams.is_some()) {
            let shape = comptime!(streams.unwrap());
            let records = dims[14] as usize;
            let ranges = dims[15] as usize;
            let per_instance = dims[16] as usize;
            let s_first = layout[ranges + 2 * stage] as usize;
            let s_end = layout[ranges + 2 * stage + 1] as usize;
            for g in 0..live {
                for k in s_first..s_end {
                    let r = records + k * STREAM_RECORD;
                    let source = arena.to_slice();
                    run_stream(
                        (first + g) * per_instance + k,
                        &source,
                        g * len + program[r] as usize * stride,
                        arena,
                        g * len + program[r + 1] as usize * stride,
                        stream_meta,
                        stream_plan,
                        stream_weights,
                        stream_state,
                        sh,
                        frames,
                        stream_tick,
                        shape,
                    );
                }
            }
        }
        sync_storage();
        sync_cube();
    }
}

/// Stage `stage`'s model streams of every instance of the cube on the columns body, the cube's
/// `slots` at a time, one per slot of `lanes · splits` threads; a slot (or thread) without one
/// only passes the barriers. `rounds`: how many times the slots go round, known when the
/// program is built (the rounds then unrolled), or `None`: as many as the stage needs.
#[allow(clippy::too_many_arguments)]
#[cube]
fn columns_step(
    stage: usize,
    arena: &mut Slice<f32, ReadWrite>,
    first: usize,
    live: usize,
    program: &Array<u32>,
    layout: &Array<u32>,
    dims: &Array<u32>,
    stream_meta: &Array<u32>,
    stream_plan: &Array<u32>,
    stream_weights: &Array<f32>,
    stream_state: &mut Array<f32>,
    stream_tick: u32,
    frames: u32,
    #[comptime] shape: ColumnsShape,
    #[comptime] rounds: Option<usize>,
) {
    let ranges = dims[15] as usize;
    let s_first = layout[ranges + 2 * stage] as usize;
    let count = layout[ranges + 2 * stage + 1] as usize - s_first;
    let slots = comptime!(shape.streams_per_cube);
    if comptime!(rounds.is_some()) {
        #[unroll]
        for q in 0..comptime!(rounds.unwrap()) {
            columns_round(
                q * slots,
                s_first,
                count,
                arena,
                first,
                live,
                program,
                dims,
                stream_meta,
                stream_plan,
                stream_weights,
                stream_state,
                stream_tick,
                frames,
                shape,
            );
        }
    } else {
        let mut w0 = 0;
        while w0 < live * count {
            columns_round(
                w0,
                s_first,
                count,
                arena,
                first,
                live,
                program,
                dims,
                stream_meta,
                stream_plan,
                stream_weights,
                stream_state,
                stream_tick,
                frames,
                shape,
            );
            w0 += slots;
        }
    }
}

/// Streams `w0 ..` of a stage's (instance-major, `count` per instance, the first record
/// `s_first`), one per stream slot of the cube.
#[allow(clippy::too_many_arguments)]
#[cube]
fn columns_round(
    w0: usize,
    s_first: usize,
    count: usize,
    arena: &mut Slice<f32, ReadWrite>,
    first: usize,
    live: usize,
    program: &Array<u32>,
    dims: &Array<u32>,
    stream_meta: &Array<u32>,
    stream_plan: &Array<u32>,
    stream_weights: &Array<f32>,
    stream_state: &mut Array<f32>,
    stream_tick: u32,
    frames: u32,
    #[comptime] shape: ColumnsShape,
) {
    let stride = dims[0] as usize;
    let len = dims[5] as usize;
    let records = dims[14] as usize;
    let per_instance = dims[16] as usize;
    let slots = comptime!(shape.streams_per_cube);
    let slot = UNIT_POS as usize / comptime!(shape.lanes * shape.splits);
    let on = slot < slots && w0 + slot < live * count;
    let w = select(on, w0 + slot, w0);
    let g = w / count;
    let k = s_first + w % count;
    let r = records + k * STREAM_RECORD;
    // The stream reads one slot and writes another of the same arena.
    let source = arena.to_slice();
    run_columns(
        (first + g) * per_instance + k,
        on,
        slot,
        &source,
        g * len + program[r] as usize * stride,
        arena,
        g * len + program[r + 1] as usize * stride,
        stream_meta,
        stream_plan,
        stream_weights,
        stream_state,
        frames,
        stream_tick,
        shape,
        true,
        false,
    );
}

/// Samples of an item's input loaded ahead of the one it processes. Every output store goes to
/// the arena the next input load reads, so the compiler keeps each load behind the previous
/// store and a sample waits a whole memory round trip (`kind_costs` on the H200, one instance,
/// arena in device memory: a gain 84 ns per sample, 53 ns read ahead). Eight ahead measured no
/// faster and slowed 1,000 instances 1.3–1.7× (registers), so four.
/// Exact: sample `t + AHEAD` of the input is one this item has not written yet (an item writes
/// samples before `t` of another slot, `stride` ≥ `n` floats away, or of its own input).
pub const AHEAD: usize = 4;

/// Loads the first `AHEAD` input samples at `src` into `ahead[base..]` (a sample past the
/// buffer reads sample 0 and is never used).
#[cube]
fn ahead_start(ahead: &mut Array<f32>, arena: &Slice<f32, ReadWrite>, src: usize, n: usize, base: usize) {
    #[unroll]
    for j in 0..AHEAD {
        ahead[base + j] = arena[src + select(j < n, j, 0)];
    }
}

/// Input sample `t` at `src`, and loads sample `t + AHEAD` behind it.
#[cube]
fn ahead_next(
    ahead: &mut Array<f32>,
    arena: &Slice<f32, ReadWrite>,
    src: usize,
    t: usize,
    n: usize,
    base: usize,
) -> f32 {
    let x = ahead[base];
    #[unroll]
    for j in 0..AHEAD - 1 {
        ahead[base + j] = ahead[base + j + 1];
    }
    let k = t + AHEAD;
    ahead[base + AHEAD - 1] = arena[src + select(k < n, k, 0)];
    x
}

/// One item for the whole buffer: its state in registers, one branch per kind.
#[allow(clippy::too_many_arguments)]
#[cube]
fn run_item<K: DeviceKinds>(
    arena: &mut Slice<f32, ReadWrite>,
    base: usize,
    program: &Array<u32>,
    item: usize,
    params: &Array<f32>,
    p0: usize,
    state: &mut Array<f32>,
    s0: usize,
    rings: &mut Array<f32>,
    r0: usize,
    cursor: usize,
    stride: usize,
    n: usize,
    #[comptime] device_kinds: bool,
) {
    let r = item * RECORD;
    let kind = program[r];
    let dst = base + program[r + 1] as usize * stride;
    let src = base + program[r + 2] as usize * stride;
    let pb = p0 + program[r + 6] as usize;
    let sb = s0 + item * ITEM_STATE;
    let mut s = Array::<f32>::new(ITEM_STATE);
    #[unroll]
    for j in 0..ITEM_STATE {
        s[j] = state[sb + j];
    }
    let mut ahead = Array::<f32>::new(comptime!(MIX_INPUTS * AHEAD));
    if kind == KIND_GAIN {
        ahead_start(&mut ahead, arena, src, n, 0);
        for t in 0..n {
            let x = ahead_next(&mut ahead, arena, src, t, n, 0);
            s[0] = smooth_step(s[0], params[pb], params[pb + 1]);
            arena[dst + t] = finite_or_zero(x * s[0]);
        }
    } else if kind == KIND_MIX {
        let coef = params[pb + MIX_INPUTS];
        #[unroll]
        for j in 0..MIX_INPUTS {
            ahead_start(&mut ahead, arena, base + program[r + 2 + j] as usize * stride, n, j * AHEAD);
        }
        for t in 0..n {
            let mut acc = 0.0f32;
            #[unroll]
            for j in 0..MIX_INPUTS {
                s[j] = smooth_step(s[j], params[pb + j], coef);
                acc +=
                    s[j] * ahead_next(&mut ahead, arena, base + program[r + 2 + j] as usize * stride, t, n, j * AHEAD);
            }
            arena[dst + t] = finite_or_zero(acc);
        }
    } else if kind == KIND_BIQUAD {
        ahead_start(&mut ahead, arena, src, n, 0);
        for t in 0..n {
            let x = ahead_next(&mut ahead, arena, src, t, n, 0);
            let y = biquad_tdf2_step(x, params, pb, &mut s, 0);
            // A resonant section can overflow on finite input: restart it from silence.
            if non_finite(y) || non_finite(s[0]) || non_finite(s[1]) {
                s[0] = 0.0;
                s[1] = 0.0;
            }
            arena[dst + t] = finite_or_zero(y);
        }
    } else if kind == KIND_GATE {
        ahead_start(&mut ahead, arena, src, n, 0);
        for t in 0..n {
            let x = ahead_next(&mut ahead, arena, src, t, n, 0);
            arena[dst + t] = finite_or_zero(gate_step(x, params, pb, &mut s, 0));
        }
    } else if kind == KIND_COMPRESSOR {
        ahead_start(&mut ahead, arena, src, n, 0);
        for t in 0..n {
            let x = ahead_next(&mut ahead, arena, src, t, n, 0);
            arena[dst + t] = finite_or_zero(compressor_step(x, params, pb, &mut s, 0));
        }
    } else if kind == KIND_TREMOLO {
        ahead_start(&mut ahead, arena, src, n, 0);
        for t in 0..n {
            let x = ahead_next(&mut ahead, arena, src, t, n, 0);
            arena[dst + t] = finite_or_zero(tremolo_step(x, params, pb, &mut s, 0));
        }
    } else if kind == KIND_DRIVE {
        ahead_start(&mut ahead, arena, src, n, 0);
        for t in 0..n {
            let x = ahead_next(&mut ahead, arena, src, t, n, 0);
            arena[dst + t] = finite_or_zero(drive_step(x, params, pb, &mut s, 0));
        }
    } else if comptime!(device_kinds) {
        if kind == KIND_ECHO {
            echo_item(arena, &mut ahead, program, r, params, pb, rings, r0, cursor, src, dst, n);
        } else {
            // A kind of the program's device-kind set (checked against the set on the host).
            let k = kind - KIND_DEVICE;
            ahead_start(&mut ahead, arena, src, n, 0);
            for t in 0..n {
                let x = ahead_next(&mut ahead, arena, src, t, n, 0);
                arena[dst + t] = finite_or_zero(K::step(k, x, params, pb, &mut s));
            }
        }
    } else {
        echo_item(arena, &mut ahead, program, r, params, pb, rings, r0, cursor, src, dst, n);
    }
    #[unroll]
    for j in 0..ITEM_STATE {
        state[sb + j] = s[j];
    }
}

/// An echo item for the whole buffer (its ring at `r0` plus its record's offset).
#[allow(clippy::too_many_arguments)]
#[cube]
fn echo_item(
    arena: &mut Slice<f32, ReadWrite>,
    ahead: &mut Array<f32>,
    program: &Array<u32>,
    r: usize,
    params: &Array<f32>,
    pb: usize,
    rings: &mut Array<f32>,
    r0: usize,
    cursor: usize,
    src: usize,
    dst: usize,
    n: usize,
) {
    let ring0 = r0 + program[r + 7] as usize;
    let mask = program[r + 8] as usize;
    ahead_start(ahead, arena, src, n, 0);
    for t in 0..n {
        let x = ahead_next(ahead, arena, src, t, n, 0);
        arena[dst + t] = finite_or_zero(echo_step(x, params, pb, rings, ring0, mask, cursor + t));
    }
}
