//! One launch per buffer for a whole batch of streams of the convolutional NAM architectures
//! (WaveNet in all its options, ConvNet, Linear): cube `s` runs stream `s` — its own program
//! (plan + weights) and its own history — a tile of up to [`MAX_TILE`] frames at a time
//! ([`StreamsShape`]), activations in shared memory, histories in device rings.
//!
//! A stream's plan is a short program of three ops over shared-memory regions:
//! [`OP_ARRAY`] (a WaveNet layer array: rechannel, its layers, head rechannel), [`OP_CONV`]
//! (a causal conv with a ring, optional activations before and after: ConvNet blocks, Linear
//! FIRs, post-stack heads) and [`OP_OUT`] (scale rows into a region or the output). Streams of
//! different models and architectures share the launch: the plan is read at run time, so one
//! compiled kernel serves every model within [`MAX_ROWS`].
//!
//! The `general` variant adds what the common captures never use — FiLM, head1x1, a condition
//! of several channels (condition_dsp, whose program runs first and leaves its output in the
//! COND region) — behind compile-time switches, so the standard models' kernel carries none of
//! it.
// cubecl 0.10's #[cube] adds an undocumented `pub mod <fn>` (expand, launch) beside every
// device function, which no attribute reaches; the functions themselves are documented.
#![allow(missing_docs)]
// Device code: `total - total` makes a zero of the run-time index type, and cubecl 0.10 expands
// neither `div_ceil` nor iterator adaptors into device IR.
#![allow(clippy::eq_op, clippy::manual_div_ceil, clippy::explicit_counter_loop, clippy::assign_op_pattern)]

use crate::activation::activate_dynamic;
use crate::delay_line::{append_and_stage, ring_at};
use crate::routed::finite_or_zero;
use crate::tile_conv::{tile_conv, TileConvConfig, TileConvPath};
use cubecl::prelude::*;

/// Largest frames per tile (a shared-memory row); rings are sized for it, so any tile up to it
/// runs the same plan.
pub const MAX_TILE: usize = 128;
/// Largest row count of any activation block (channels, gate rows, head rows, condition).
pub const MAX_ROWS: usize = 32;

/// The compiled shape of a launch: activation blocks of `rows × tile` floats in shared memory
/// (5 of them, 6 in the general variant, plus the input row). Bigger tiles cut the serial
/// stages per buffer (each layer is 4 barrier-separated stages per tile); the engine picks the
/// largest tile the device's shared memory and the buffer size allow.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub struct StreamsShape {
    /// Shared-memory rows of each block (the widest layer of any stream).
    pub rows: usize,
    /// Frames per tile.
    pub tile: usize,
    /// FiLM, head1x1 and multi-channel conditions compiled in (and the COND region).
    pub general: bool,
    /// The layer conv reads shared memory only: taps inside the tile from X, older taps staged
    /// from the ring into A and HO first (when they fit; the general variant, whose ring holds
    /// FiLM-modulated inputs, always reads the ring). Off only to measure the difference.
    pub staged: bool,
    /// How the staged variant's matrix stages (layer conv, layer1x1) compute their products:
    /// scalar register tiles or tensor cores ([`tile_conv`](crate::tile_conv)).
    pub conv: TileConvPath,
}

impl StreamsShape {
    /// Shared-memory blocks of `rows × tile` the variant uses.
    pub fn blocks(&self) -> usize {
        if self.general {
            6
        } else {
            5
        }
    }

    /// Shared-memory floats a stream needs: the blocks and the input row.
    pub fn shared_floats(&self) -> usize {
        self.blocks() * self.rows * self.tile + self.tile
    }

    /// Shared memory the launch needs, in bytes.
    pub fn shared_bytes(&self) -> usize {
        4 * self.shared_floats()
    }
}
/// u32 per stream in the meta array: plan, weights, state, input, output offsets and cursor.
pub const META: usize = 8;

/// Ops of a plan (first u32 of each record).
pub const OP_ARRAY: u32 = 1;
/// Op: write rows to the output or the head accumulator.
pub const OP_OUT: u32 = 2;
/// Op: a dilated convolution reading a ring (head rechannel, ConvNet block, Linear).
pub const OP_CONV: u32 = 3;
/// u32 per record (see `plan.rs` for the fields).
pub const ARRAY_HEADER: usize = 16;
/// u32 per layer record.
pub const LAYER_RECORD: usize = 32;
/// u32 per `OP_OUT` record.
pub const OUT_RECORD: usize = 5;
/// u32 per `OP_CONV` record.
pub const CONV_RECORD: usize = 16;

/// Shared-memory regions ops name (blocks of `rows × tile`; IN is the one input row).
pub const REGION_X: u32 = 0;
/// Region Z: X's partner in the ping-pong between convolutions and arrays.
pub const REGION_Z: u32 = 1;
// A and HO are adjacent: the layer conv stages its older taps across both (see `append_and_stage`).
/// Region H: a layer array's head accumulator.
pub const REGION_H: u32 = 2;
/// Region A: a layer's activation output.
pub const REGION_A: u32 = 3;
/// Region HO: a convolution's output (head rechannel, ConvNet and post-stack blocks).
pub const REGION_HO: u32 = 4;
/// Region of the condition rows (general variant).
pub const REGION_COND: u32 = 5;
/// Region of the one input row.
pub const REGION_IN: u32 = 6;
/// `OP_OUT` destination: the stream's output samples.
pub const DEST_OUTPUT: u32 = 7;
/// An absent optional block (layer1x1, head1x1, FiLM site).
pub const NONE: u32 = u32::MAX;

#[cube]
fn region_at(id: u32, block: usize, in_at: usize) -> usize {
    let mut at = id as usize * block;
    if id == REGION_IN {
        at = in_at;
    }
    at
}

/// `init` plus one output row of a causal dilated conv at position `at`:
/// `Σ_tap Σ_row w · x[at − d·(K−1−tap)]` over the `rows` rows of the ring at `ring` (absolute),
/// weights per row then per tap from `w`.
#[cube]
fn ring_conv(
    init: f32,
    weights: &Array<f32>,
    state: &Array<f32>,
    w: usize,
    rows: usize,
    kk: usize,
    d: usize,
    ring: usize,
    size: usize,
    at: usize,
) -> f32 {
    let mut acc = init;
    for tap in 0..kk {
        let back = d * (kk - 1 - tap);
        let mut xi = ring_at(ring, size, 0, at + size - back);
        let mut wi = w + tap;
        for _r in 0..rows {
            acc += weights[wi] * state[xi];
            xi += size;
            wi += kk;
        }
    }
    acc
}

/// PReLU with one slope per row, the slopes at the parameter offset (other activations take
/// 5 parameters there, see `activate_dynamic`).
pub const PRELU_ROWS: u32 = 6;

#[allow(unused_assignments)]
#[cube]
fn act(x: f32, code: u32, weights: &Array<f32>, p: usize, row: usize) -> f32 {
    let mut y = x;
    if code == PRELU_ROWS {
        y = select(x > 0.0, x, weights[p + row] * x);
    } else {
        y = activate_dynamic(x, code, weights[p], weights[p + 1], weights[p + 2], weights[p + 3], weights[p + 4]);
    }
    y
}

/// FiLM of row `r`, frame `t`: `v · (P_r · c + b_r)`, plus `P_{dim+r} · c + b_{dim+r}` with
/// shift; `c` is the condition column. `spec` = dim | shift << 16; weights at `off`: the
/// projection's rows (row-major, `dc` wide) then its bias.
#[cube]
fn film(
    v: f32,
    r: usize,
    t: usize,
    sh: &SharedMemory<f32>,
    cond_at: usize,
    dc: usize,
    weights: &Array<f32>,
    off: usize,
    spec: u32,
    #[comptime] tile: usize,
) -> f32 {
    let dim = (spec & 0xffff) as usize;
    let shift = spec >> 16;
    let mut out_rows = dim;
    if shift != 0 {
        out_rows = 2 * dim;
    }
    let bias = off + out_rows * dc;
    let mut scale = weights[bias + r];
    for j in 0..dc {
        scale += weights[off + r * dc + j] * sh[cond_at + j * tile + t];
    }
    let mut y = v * scale;
    if shift != 0 {
        let mut b = weights[bias + dim + r];
        for j in 0..dc {
            b += weights[off + (dim + r) * dc + j] * sh[cond_at + j * tile + t];
        }
        y += b;
    }
    y
}

/// [`film`] at the site recorded at `plan[at]` (offset, spec), or `v` when the site is absent.
#[cube]
fn film_site(
    v: f32,
    r: usize,
    t: usize,
    sh: &SharedMemory<f32>,
    cond_at: usize,
    dc: usize,
    weights: &Array<f32>,
    wb: usize,
    plan: &Array<u32>,
    at: usize,
    #[comptime] tile: usize,
) -> f32 {
    let off = plan[at];
    let mut y = v;
    if off != NONE {
        y = film(v, r, t, sh, cond_at, dc, weights, wb + off as usize, plan[at + 1], tile);
    }
    y
}

/// The general variant's rest of `z` for row `o`: conv_post FiLM, the mixin of the
/// (mixin_pre-modulated) condition, mixin_post and activation_pre FiLMs.
#[cube]
fn finish_z(
    conv: f32,
    o: usize,
    t: usize,
    sh: &SharedMemory<f32>,
    cond_at: usize,
    dc: usize,
    weights: &Array<f32>,
    wb: usize,
    w_mix: usize,
    plan: &Array<u32>,
    films: usize,
    #[comptime] tile: usize,
) -> f32 {
    let acc = film_site(conv, o, t, sh, cond_at, dc, weights, wb, plan, films + 2, tile);
    let mut zm = 0.0f32;
    for j in 0..dc {
        let mv = film_site(sh[cond_at + j * tile + t], j, t, sh, cond_at, dc, weights, wb, plan, films + 4, tile);
        zm += weights[w_mix + o * dc + j] * mv;
    }
    zm = film_site(zm, o, t, sh, cond_at, dc, weights, wb, plan, films + 6, tile);
    film_site(acc + zm, o, t, sh, cond_at, dc, weights, wb, plan, films + 8, tile)
}

/// Launched unchecked (no per-access bounds test): cubecl's checked mode spends ~6 instructions
/// on each array access, and this kernel is bound by instruction issue on address arithmetic.
/// Every index is in range by construction — see `GpuWaveNetBatch::launch`. Cube `s` runs
/// stream `s`: its input at its meta record's input offset, its output at the output offset.
#[cube(launch_unchecked)]
pub fn wavenet_streams_kernel(
    meta: &Array<u32>,
    plan: &Array<u32>,
    weights: &Array<f32>,
    state: &mut Array<f32>,
    input: &Array<f32>,
    output: &mut Array<f32>,
    frames: u32,
    tick: u32,
    #[comptime] shape: StreamsShape,
) {
    let m = CUBE_POS * META;
    let mut sh = SharedMemory::<f32>::new(shape.shared_floats());
    let source = input.to_slice();
    let mut sink = output.to_slice_mut();
    run_stream(
        CUBE_POS,
        &source,
        meta[m + 3] as usize,
        &mut sink,
        meta[m + 4] as usize,
        meta,
        plan,
        weights,
        state,
        &mut sh,
        frames,
        tick,
        shape,
    );
}

/// One buffer of stream `stream` (its `meta` record: plan, weights and state offsets, cursor) by
/// the whole cube: `frames` samples from `input[in_off..]` to `output[out_off..]`, tile by tile
/// through `sh` (its first [`StreamsShape::shared_floats`]). A graph program runs it as a step
/// with its arena as both input and output (different slots). `tick`: frames run since `meta`'s
/// cursors were uploaded.
#[allow(unused_assignments, clippy::too_many_arguments)] // runtime branches assign variables declared before them
#[cube]
pub fn run_stream(
    stream: usize,
    input: &Slice<f32>,
    in_off: usize,
    output: &mut Slice<f32, ReadWrite>,
    out_off: usize,
    meta: &Array<u32>,
    plan: &Array<u32>,
    weights: &Array<f32>,
    state: &mut Array<f32>,
    sh: &mut SharedMemory<f32>,
    frames: u32,
    tick: u32,
    #[comptime] shape: StreamsShape,
) {
    let tile = shape.tile;
    let block = shape.rows * shape.tile;
    let z_at = block;
    let h_at = 2 * block;
    let a_at = 3 * block;
    let ho_at = 4 * block;
    let in_at = shape.blocks() * block;
    let m = stream * META;
    let p0 = meta[m] as usize;
    let wb = meta[m + 1] as usize;
    let sb = meta[m + 2] as usize;
    // Frames run since the host uploaded `meta` (ring positions wrap with the u32 cursor).
    let cursor = (meta[m + 5] + tick) as usize;
    let n_ops = plan[p0] as usize;
    let total = frames as usize;
    let unit = UNIT_POS as usize;
    let step = CUBE_DIM as usize;

    // Runtime zero: a plain `0` would be a compile-time value the loop cannot advance.
    let mut start = total - total;
    while start < total {
        let mut n = total - start;
        if n > tile {
            n = tile;
        }
        let pos = cursor + start;
        let mut i = unit;
        while i < tile {
            let mut v = 0.0f32;
            if i < n {
                v = input[in_off + start + i];
            }
            sh[in_at + i] = v;
            i += step;
        }
        sync_cube();

        let mut ap = p0 + 1;
        for _op in 0..n_ops {
            let op = plan[ap];
            if op == OP_ARRAY {
                let src = region_at(plan[ap + 1], block, in_at);
                let input_rows = plan[ap + 2] as usize;
                let c = plan[ap + 3] as usize;
                let hs = plan[ap + 4] as usize;
                let hout = plan[ap + 5] as usize;
                let hk = plan[ap + 6] as usize;
                let hd = plan[ap + 7] as usize;
                let head_bias = plan[ap + 8];
                let layers = plan[ap + 9] as usize;
                let w_re = wb + plan[ap + 10] as usize;
                let w_head = wb + plan[ap + 11] as usize;
                let head_ring = plan[ap + 12] as usize;
                let head_size = plan[ap + 13] as usize;
                let head_from_prev = plan[ap + 14];
                let cond_at = region_at(plan[ap + 15], block, in_at);

                // Rechannel into Z (the first array reads the raw input, later ones the previous
                // layers' x), then move it to X; the head accumulator starts from the previous
                // array's head.
                let mut i = unit;
                while i < c * tile {
                    let r = i / tile;
                    let t = i % tile;
                    let mut acc = 0.0f32;
                    let mut wi = w_re + r * input_rows;
                    let mut si = src + t;
                    for _k in 0..input_rows {
                        acc += weights[wi] * sh[si];
                        wi += 1;
                        si += tile;
                    }
                    sh[z_at + i] = acc;
                    i += step;
                }
                sync_cube();
                let mut i = unit;
                while i < block {
                    let r = i / tile;
                    if r < c {
                        sh[i] = sh[z_at + i];
                    }
                    if r < hs {
                        let mut h = 0.0f32;
                        if head_from_prev != 0 {
                            h = sh[ho_at + i];
                        }
                        sh[h_at + i] = h;
                    }
                    i += step;
                }
                sync_cube();

                let mut lp = ap + ARRAY_HEADER;
                for _l in 0..layers {
                    let kk = plan[lp] as usize;
                    let d = plan[lp + 1] as usize;
                    let code = plan[lp + 2];
                    let sec = plan[lp + 3];
                    let w = wb + plan[lp + 4] as usize;
                    let ring = plan[lp + 5] as usize;
                    let size = plan[lp + 6] as usize;
                    let pa = wb + plan[lp + 7] as usize;
                    let g = plan[lp + 8] as usize;
                    let b = plan[lp + 9] as usize;
                    let gating = plan[lp + 10];
                    let l1x1 = plan[lp + 11];
                    let h1x1 = plan[lp + 12];
                    let dc = plan[lp + 13] as usize;
                    let pa_sec = wb + plan[lp + 14] as usize;
                    let films = lp + 16;

                    let w_bias = w + g * c * kk;
                    let w_mix = w_bias + g;
                    let mut staged = false;
                    if comptime!(shape.staged && !shape.general) {
                        staged = (kk - 1) * c <= 2 * shape.rows;
                    }
                    if staged {
                        append_and_stage(state, sh, 0, c, kk, d, n, sb + ring, size, pos, a_at, tile);
                        sync_cube();
                    } else {
                        // History: this tile's layer input (FiLM-modulated first, with
                        // conv_pre) goes into the ring, which the conv below reads.
                        if comptime!(shape.general) {
                            let mut i = unit;
                            while i < c * tile {
                                let t = i % tile;
                                if t < n {
                                    let v =
                                        film_site(sh[i], i / tile, t, sh, cond_at, dc, weights, wb, plan, films, tile);
                                    state[ring_at(sb + ring, size, i / tile, pos + t)] = v;
                                }
                                i += step;
                            }
                            sync_storage();
                            sync_cube();
                        } else {
                            append_and_stage(state, sh, 0, c, 1, 0, n, sb + ring, size, pos, 0, tile);
                            sync_storage();
                            sync_cube();
                        }
                    }

                    // z = conv(x) + bias + mixin · condition: register-tiled over shared memory
                    // when staged; otherwise (FiLM variant, or taps that do not fit the stage
                    // blocks) from the ring, two output rows per thread so each history load
                    // feeds two FMAs, an odd last row computed twice and written once.
                    if staged {
                        tile_conv(
                            weights,
                            sh,
                            w,
                            w_bias,
                            w_mix,
                            g,
                            c,
                            kk,
                            d,
                            0,
                            in_at,
                            z_at,
                            a_at,
                            comptime!(TileConvConfig { tile: shape.tile, path: shape.conv, mix: true, add: false }),
                        );
                    } else {
                        let mut i = unit;
                        while i < (g + 1) / 2 * tile {
                            let o = i / tile * 2;
                            let t = i % tile;
                            let mut o2 = o + 1;
                            if o2 >= g {
                                o2 = o;
                            }
                            let mut acc = weights[w_bias + o];
                            let mut acc2 = weights[w_bias + o2];
                            if comptime!(!shape.general) {
                                acc += weights[w_mix + o] * sh[in_at + t];
                                acc2 += weights[w_mix + o2] * sh[in_at + t];
                            }
                            for tap in 0..kk {
                                let back = d * (kk - 1 - tap);
                                let mut xi = ring_at(sb + ring, size, 0, pos + t + size - back);
                                let mut wi = w + o * c * kk + tap;
                                let mut wi2 = w + o2 * c * kk + tap;
                                for _ci in 0..c {
                                    let x = state[xi];
                                    acc += weights[wi] * x;
                                    acc2 += weights[wi2] * x;
                                    xi += size;
                                    wi += kk;
                                    wi2 += kk;
                                }
                            }
                            if comptime!(shape.general) {
                                acc = finish_z(acc, o, t, sh, cond_at, dc, weights, wb, w_mix, plan, films, tile);
                                acc2 = finish_z(acc2, o2, t, sh, cond_at, dc, weights, wb, w_mix, plan, films, tile);
                            }
                            sh[z_at + o * tile + t] = acc;
                            if o2 != o {
                                sh[z_at + o2 * tile + t] = acc2;
                            }
                            i += step;
                        }
                    }
                    sync_cube();

                    // a = act(z[0:B]) (⊙ sec(z[B:2B]) when gated, blended when blended)
                    let mut i = unit;
                    while i < b * tile {
                        let z = sh[z_at + i];
                        let mut y = act(z, code, weights, pa, i / tile);
                        if gating != 0 {
                            let zs = sh[z_at + b * tile + i];
                            let alpha = act(zs, sec, weights, pa_sec, i / tile);
                            if gating == 1 {
                                y = y * alpha;
                            } else {
                                y = alpha * y + (1.0 - alpha) * z;
                            }
                        }
                        if comptime!(shape.general) {
                            y = film_site(y, i / tile, i % tile, sh, cond_at, dc, weights, wb, plan, films + 10, tile);
                        }
                        sh[a_at + i] = y;
                        i += step;
                    }
                    sync_cube();

                    // x += layer1x1(a) + bias (register-tiled when staged, else two rows per
                    // thread as in the ring conv); head += a (or head1x1(a) + bias). The two
                    // loops write different regions and only read `a`: no barrier between them.
                    let w_l1 = wb + l1x1 as usize;
                    if staged && l1x1 != NONE {
                        tile_conv(
                            weights,
                            sh,
                            w_l1,
                            w_l1 + c * b,
                            0,
                            c,
                            b,
                            1,
                            0,
                            a_at,
                            in_at,
                            0,
                            0,
                            comptime!(TileConvConfig { tile: shape.tile, path: shape.conv, mix: false, add: true }),
                        );
                    } else if l1x1 != NONE {
                        let mut i = unit;
                        while i < (c + 1) / 2 * tile {
                            let r = i / tile * 2;
                            let t = i % tile;
                            let mut r2 = r + 1;
                            if r2 >= c {
                                r2 = r;
                            }
                            let mut acc = weights[w_l1 + c * b + r];
                            let mut acc2 = weights[w_l1 + c * b + r2];
                            let mut wi = w_l1 + r * b;
                            let mut wi2 = w_l1 + r2 * b;
                            let mut ai = a_at + t;
                            for _j in 0..b {
                                let av = sh[ai];
                                acc += weights[wi] * av;
                                acc2 += weights[wi2] * av;
                                wi += 1;
                                wi2 += 1;
                                ai += tile;
                            }
                            if comptime!(shape.general) {
                                // Core quirk (SPEC §11.3): this FiLM only acts in blended layers.
                                if gating == 2 {
                                    acc = film_site(acc, r, t, sh, cond_at, dc, weights, wb, plan, films + 12, tile);
                                    acc2 = film_site(acc2, r2, t, sh, cond_at, dc, weights, wb, plan, films + 12, tile);
                                }
                            }
                            sh[r * tile + t] += acc;
                            if r2 != r {
                                sh[r2 * tile + t] += acc2;
                            }
                            i += step;
                        }
                    }
                    let mut i = unit;
                    while i < hs * tile {
                        if comptime!(shape.general) {
                            if h1x1 != NONE {
                                let r = i / tile;
                                let t = i % tile;
                                let w_h1 = wb + h1x1 as usize;
                                let mut acc = weights[w_h1 + hs * b + r];
                                let mut wi = w_h1 + r * b;
                                let mut ai = a_at + t;
                                for _j in 0..b {
                                    acc += weights[wi] * sh[ai];
                                    wi += 1;
                                    ai += tile;
                                }
                                sh[h_at + i] +=
                                    film_site(acc, r, t, sh, cond_at, dc, weights, wb, plan, films + 14, tile);
                            } else {
                                sh[h_at + i] += sh[a_at + i];
                            }
                        } else {
                            sh[h_at + i] += sh[a_at + i];
                        }
                        i += step;
                    }
                    sync_cube();
                    lp += LAYER_RECORD;
                }

                // Head rechannel: a causal conv with its own history of the head accumulator.
                append_and_stage(state, sh, h_at, hs, 1, 0, n, sb + head_ring, head_size, pos, 0, tile);
                sync_storage();
                sync_cube();
                let w_hb = w_head + hout * hs * hk;
                let mut i = unit;
                while i < hout * tile {
                    let o = i / tile;
                    let t = i % tile;
                    let mut acc = 0.0f32;
                    if head_bias != 0 {
                        acc = weights[w_hb + o];
                    }
                    acc = ring_conv(
                        acc,
                        weights,
                        state,
                        w_head + o * hs * hk,
                        hs,
                        hk,
                        hd,
                        sb + head_ring,
                        head_size,
                        pos + t,
                    );
                    sh[ho_at + i] = acc;
                    i += step;
                }
                sync_cube();
                ap = lp;
            } else if op == OP_OUT {
                let src = region_at(plan[ap + 1], block, in_at);
                let dst = plan[ap + 2];
                let rows = plan[ap + 3] as usize;
                let scale = weights[wb + plan[ap + 4] as usize];
                if dst == DEST_OUTPUT {
                    // A graph's arena holds finite values only (its NaN policy): an output past
                    // f32 lands as silence, as every engine's output does.
                    let mut i = unit;
                    while i < n {
                        output[out_off + start + i] = finite_or_zero(scale * sh[src + i]);
                        i += step;
                    }
                } else {
                    // Into the input row: one model of a Sequential feeding the next, whose
                    // histories must never take in a non-finite sample (the CPU engine's policy).
                    let sanitize = dst == REGION_IN;
                    let to = region_at(dst, block, in_at);
                    let mut i = unit;
                    while i < rows * tile {
                        let mut v = scale * sh[src + i];
                        if sanitize {
                            v = finite_or_zero(v);
                        }
                        sh[to + i] = v;
                        i += step;
                    }
                }
                sync_cube();
                ap += OUT_RECORD;
            } else {
                // OP_CONV: dst = post(conv(pre(src))) over a ring of pre(src).
                let src = region_at(plan[ap + 1], block, in_at);
                let rows_in = plan[ap + 2] as usize;
                let pre = plan[ap + 3];
                let pre_pa = wb + plan[ap + 4] as usize;
                let ring = plan[ap + 5] as usize;
                let size = plan[ap + 6] as usize;
                let kk = plan[ap + 7] as usize;
                let d = plan[ap + 8] as usize;
                let w = wb + plan[ap + 9] as usize;
                let has_bias = plan[ap + 10];
                let dst = region_at(plan[ap + 11], block, in_at);
                let rows_out = plan[ap + 12] as usize;
                let post = plan[ap + 13];
                let post_pa = wb + plan[ap + 14] as usize;
                if pre != 0 {
                    let mut i = unit;
                    while i < rows_in * tile {
                        sh[src + i] = act(sh[src + i], pre, weights, pre_pa, i / tile);
                        i += step;
                    }
                    sync_cube();
                }
                append_and_stage(state, sh, src, rows_in, 1, 0, n, sb + ring, size, pos, 0, tile);
                sync_storage();
                sync_cube();
                let w_bias = w + rows_out * rows_in * kk;
                let mut i = unit;
                while i < rows_out * tile {
                    let o = i / tile;
                    let t = i % tile;
                    let mut acc = 0.0f32;
                    if has_bias != 0 {
                        acc = weights[w_bias + o];
                    }
                    acc =
                        ring_conv(acc, weights, state, w + o * rows_in * kk, rows_in, kk, d, sb + ring, size, pos + t);
                    if post != 0 {
                        acc = act(acc, post, weights, post_pa, o);
                    }
                    sh[dst + i] = acc;
                    i += step;
                }
                sync_cube();
                ap += CONV_RECORD;
            }
        }
        // Ring writes of this tile (the staged layers') before the next tile reads them.
        sync_storage();
        sync_cube();
        start += tile;
    }
}
