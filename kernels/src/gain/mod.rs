//! Gain and dry/wet mix with per-sample parameter smoothing.
//!
//! A parameter jumps to its new target at a buffer boundary; the applied value follows it with a
//! one-pole filter `v += coef · (target − v)` per sample, so a knob turn never clicks. One unit
//! per channel walks the buffer in order (the smoother is a recurrence); the current value
//! stays on the device between buffers.
// cubecl 0.10's #[cube] adds an undocumented `pub mod <fn>` (expand, launch) beside every
// device function, which no attribute reaches; the functions themselves are documented.
#![allow(missing_docs)]

mod launch;

pub use launch::{smoothing_coefficient, SmoothedGain, SmoothedMix};

use cubecl::prelude::*;

/// Advances a one-pole smoother by one sample and returns the new value.
#[cube]
pub fn smooth_step(current: f32, target: f32, coef: f32) -> f32 {
    current + coef * (target - current)
}

/// `y[c, t] = x[c, t] · g_c[t]`; `state[c]` is the smoothed gain, `targets[c]` its target.
#[cube(launch)]
pub fn smoothed_gain_kernel(
    input: &Array<f32>,
    output: &mut Array<f32>,
    state: &mut Array<f32>,
    targets: &Array<f32>,
    coef: f32,
    frames: u32,
) {
    let c = ABSOLUTE_POS;
    if c < state.len() {
        let n = frames as usize;
        let target = targets[c];
        let mut g = state[c];
        for t in 0..n {
            g = smooth_step(g, target, coef);
            output[c * n + t] = input[c * n + t] * g;
        }
        state[c] = g;
    }
}

/// `y = (1 − m)·dry + m·wet` with `m` smoothed per channel like the gain.
#[cube(launch)]
pub fn smoothed_mix_kernel(
    dry: &Array<f32>,
    wet: &Array<f32>,
    output: &mut Array<f32>,
    state: &mut Array<f32>,
    targets: &Array<f32>,
    coef: f32,
    frames: u32,
) {
    let c = ABSOLUTE_POS;
    if c < state.len() {
        let n = frames as usize;
        let target = targets[c];
        let mut m = state[c];
        for t in 0..n {
            m = smooth_step(m, target, coef);
            let i = c * n + t;
            output[i] = dry[i] + m * (wet[i] - dry[i]);
        }
        state[c] = m;
    }
}
