//! Batched kernels over a signal **arena**: one device buffer holding every intermediate signal
//! of a processing graph, one slot of `stride` frames per channel. A route table says, per
//! channel of a batch, which slots it reads and which slot it writes, so one launch serves every
//! instance of a processor type in a graph stage wherever their signals live — no gather or
//! scatter copies between processors.
//!
//! Kernels take the arena as their one read-write binding (Vulkan/WebGPU refuse the same buffer
//! bound read-only and writable in one dispatch). Within a launch, no channel writes a slot that
//! another channel of the same launch reads; the scheduler guarantees it.
//!
//! | kernel | units | per channel |
//! |---|---|---|
//! | [`routed_copy_kernel`] | one per (route, frame) | `dst[d + t] = src[s + t]` between two buffers |
//! | [`routed_gain_kernel`] | one per channel | smoothed gain (one-pole per sample) |
//! | [`routed_mix_kernel`] | one per channel | sum of [`MIX_INPUTS`] inputs, each with its smoothed gain |
//! | [`routed_biquad_kernel`] | one per channel | one TDF-II section |
//! | [`routed_gate_kernel`] | one per channel | noise gate (peak envelope, attack/release gain) |
//! | [`routed_fir_kernel`] | one cube per channel | FIR of its own length over its own ring |
// cubecl 0.10's #[cube] adds an undocumented `pub mod <fn>` (expand, launch) beside every
// device function, which no attribute reaches; the functions themselves are documented.
#![allow(missing_docs)]

mod launch;

pub(crate) use launch::{frames_fit, highest, slots_fit};

pub use launch::{
    check_copy_routes, copy_routes, GateSettings, RoutedBiquad, RoutedFir, RoutedGain, RoutedGate, RoutedMix,
    MAX_FIR_TAPS,
};

use cubecl::prelude::*;

use crate::biquad::biquad_tdf2_step;
use crate::effects::gate_step;
use crate::gain::smooth_step;

/// Inputs of one mix channel; unconnected inputs point at a silent slot.
pub const MIX_INPUTS: usize = 4;
/// u32 per FIR channel in its table: input slot, output slot, taps offset, tap count, ring
/// offset, ring size.
pub const FIR_RECORD: usize = 6;

/// Whether `x` is NaN or ±inf, decided on its bits (exponent all ones) so that no fast-math
/// compiler can fold the test away.
#[cube]
pub fn non_finite(x: f32) -> bool {
    (u32::reinterpret(x) & 0x7f80_0000u32) == 0x7f80_0000u32
}

/// `x`, or 0 when it is NaN or ±inf. Every write into a graph's arena goes through it, so the
/// arena holds finite values only and no processor's state ever takes in a non-finite one: an
/// overflow (an FIR whose taps each pass validation but sum past f32) is silence for the
/// samples it hits, not a filter poisoned for ever.
#[cube]
pub fn finite_or_zero(x: f32) -> f32 {
    select(non_finite(x), 0.0f32, x)
}

/// `routes[2r]` and `routes[2r + 1]` are source and destination element offsets of route `r`;
/// what lands is [`finite_or_zero`].
#[cube(launch)]
pub fn routed_copy_kernel(src: &Array<f32>, dst: &mut Array<f32>, routes: &Array<u32>, frames: u32) {
    let n = frames as usize;
    let i = ABSOLUTE_POS;
    let r = i / n;
    if r * 2 < routes.len() {
        let t = i % n;
        let d = routes[2 * r + 1] as usize + t;
        dst[d] = finite_or_zero(src[routes[2 * r] as usize + t]);
    }
}

/// `routes[2c]`, `routes[2c + 1]`: input and output slot of channel `c`.
#[cube(launch)]
pub fn routed_gain_kernel(
    arena: &mut Array<f32>,
    routes: &Array<u32>,
    state: &mut Array<f32>,
    targets: &Array<f32>,
    coef: f32,
    stride: u32,
    frames: u32,
) {
    let c = ABSOLUTE_POS;
    if c < state.len() {
        let s = stride as usize;
        let (src, dst) = (routes[2 * c] as usize * s, routes[2 * c + 1] as usize * s);
        let target = targets[c];
        let mut g = state[c];
        for t in 0..frames as usize {
            g = smooth_step(g, target, coef);
            arena[dst + t] = finite_or_zero(arena[src + t] * g);
        }
        state[c] = g;
    }
}

/// `routes[5c .. 5c + 4]`: input slots, `routes[5c + 4]`: output slot; gains of channel `c` at
/// `state[4c ..]` chase `targets[4c ..]`.
#[cube(launch)]
pub fn routed_mix_kernel(
    arena: &mut Array<f32>,
    routes: &Array<u32>,
    state: &mut Array<f32>,
    targets: &Array<f32>,
    coef: f32,
    stride: u32,
    frames: u32,
) {
    let c = ABSOLUTE_POS;
    if c * MIX_INPUTS < state.len() {
        let s = stride as usize;
        let r = c * (MIX_INPUTS + 1);
        let dst = routes[r + MIX_INPUTS] as usize * s;
        let mut g = Array::<f32>::new(MIX_INPUTS);
        #[unroll]
        for k in 0..MIX_INPUTS {
            g[k] = state[c * MIX_INPUTS + k];
        }
        for t in 0..frames as usize {
            let mut acc = 0.0f32;
            #[unroll]
            for k in 0..MIX_INPUTS {
                g[k] = smooth_step(g[k], targets[c * MIX_INPUTS + k], coef);
                acc += g[k] * arena[routes[r + k] as usize * s + t];
            }
            arena[dst + t] = finite_or_zero(acc);
        }
        #[unroll]
        for k in 0..MIX_INPUTS {
            state[c * MIX_INPUTS + k] = g[k];
        }
    }
}

/// One biquad section per channel: coefficients at `coeffs[5c ..]`, state at `state[2c ..]`.
/// A finite input can still overflow a resonant section: the state then restarts from silence
/// (output 0 for that sample) instead of carrying inf/NaN for ever.
#[cube(launch)]
pub fn routed_biquad_kernel(
    arena: &mut Array<f32>,
    routes: &Array<u32>,
    coeffs: &Array<f32>,
    state: &mut Array<f32>,
    stride: u32,
    frames: u32,
) {
    let c = ABSOLUTE_POS;
    if c * 2 < state.len() {
        let s = stride as usize;
        let (src, dst) = (routes[2 * c] as usize * s, routes[2 * c + 1] as usize * s);
        let mut local = Array::<f32>::new(2usize);
        local[0] = state[2 * c];
        local[1] = state[2 * c + 1];
        for t in 0..frames as usize {
            let y = biquad_tdf2_step(arena[src + t], coeffs, 5 * c, &mut local, 0);
            if non_finite(y) || non_finite(local[0]) || non_finite(local[1]) {
                local[0] = 0.0;
                local[1] = 0.0;
            }
            arena[dst + t] = finite_or_zero(y);
        }
        state[2 * c] = local[0];
        state[2 * c + 1] = local[1];
    }
}

/// Noise gate per channel. `gate[4c ..]`: threshold (linear), attack, release and envelope
/// release coefficients; `state[2c ..]`: envelope and gate gain.
///
/// The envelope is a peak follower (instant rise, exponential fall); the gate opens while it is
/// above the threshold, and its gain moves toward 1 with the attack coefficient and toward 0 with
/// the release one, so opening and closing never click.
#[cube(launch)]
pub fn routed_gate_kernel(
    arena: &mut Array<f32>,
    routes: &Array<u32>,
    gate: &Array<f32>,
    state: &mut Array<f32>,
    stride: u32,
    frames: u32,
) {
    let c = ABSOLUTE_POS;
    if c * 2 < state.len() {
        let s = stride as usize;
        let (src, dst) = (routes[2 * c] as usize * s, routes[2 * c + 1] as usize * s);
        let mut local = Array::<f32>::new(2usize);
        local[0] = state[2 * c];
        local[1] = state[2 * c + 1];
        for t in 0..frames as usize {
            arena[dst + t] = finite_or_zero(gate_step(arena[src + t], gate, 4 * c, &mut local, 0));
        }
        state[2 * c] = local[0];
        state[2 * c + 1] = local[1];
    }
}

/// FIR per channel, one cube per channel: the cube first appends its `frames` inputs to the
/// channel's ring, then each unit computes outputs `UNIT_POS, UNIT_POS + CUBE_DIM, …`.
/// `table[FIR_RECORD · c ..]` as in [`FIR_RECORD`]; every ring advances by `frames` per call, so
/// one `cursor` serves all (ring sizes are powers of two and divide 2³²).
#[cube(launch)]
pub fn routed_fir_kernel(
    arena: &mut Array<f32>,
    table: &Array<u32>,
    taps: &Array<f32>,
    rings: &mut Array<f32>,
    cursor: u32,
    stride: u32,
    frames: u32,
) {
    let r = CUBE_POS * FIR_RECORD;
    let s = stride as usize;
    let n = frames as usize;
    let src = table[r] as usize * s;
    let dst = table[r + 1] as usize * s;
    let tap0 = table[r + 2] as usize;
    let tap_count = table[r + 3] as usize;
    let ring0 = table[r + 4] as usize;
    let mask = table[r + 5] as usize - 1;
    let step = CUBE_DIM as usize;
    let base = cursor as usize;
    let mut t = UNIT_POS as usize;
    while t < n {
        rings[ring0 + ((base + t) & mask)] = arena[src + t];
        t += step;
    }
    sync_storage();
    sync_cube();
    let mut t = UNIT_POS as usize;
    while t < n {
        // + mask + 1 keeps the index non-negative; k < tap_count ≤ ring size.
        let newest = base + t + mask + 1;
        let mut acc = 0.0f32;
        for k in 0..tap_count {
            acc += taps[tap0 + k] * rings[ring0 + ((newest - k) & mask)];
        }
        arena[dst + t] = finite_or_zero(acc);
        t += step;
    }
}
