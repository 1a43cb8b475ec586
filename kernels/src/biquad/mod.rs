//! A bank of independent biquads (transposed direct form II), each channel through its own
//! cascade of `sections` filters. One unit per channel: a biquad is a recurrence, so parallelism
//! comes from the number of filters per launch (many channels, many streams).
//!
//! Coefficients per section: `[b0, b1, b2, a1, a2]` (a0 normalised to 1); state per section
//! `[s1, s2]`, kept on the device between buffers.
// cubecl 0.10's #[cube] adds an undocumented `pub mod <fn>` (expand, launch) beside every
// device function, which no attribute reaches; the functions themselves are documented.
#![allow(missing_docs)]

mod launch;

pub use launch::{BiquadBank, BiquadCoefficients};

use cubecl::prelude::*;

/// One TDF-II step; returns the output and updates the two state words in place.
#[cube]
pub fn biquad_tdf2_step(x: f32, coeffs: &Array<f32>, c_base: usize, state: &mut Array<f32>, s_base: usize) -> f32 {
    let y = coeffs[c_base] * x + state[s_base];
    state[s_base] = coeffs[c_base + 1] * x - coeffs[c_base + 3] * y + state[s_base + 1];
    state[s_base + 1] = coeffs[c_base + 2] * x - coeffs[c_base + 4] * y;
    y
}

/// One unit per channel runs its cascade of `sections` TDF-II biquads over `frames` samples; `state` carries two values per section between launches.
#[cube(launch)]
pub fn biquad_bank_kernel(
    input: &Array<f32>,
    output: &mut Array<f32>,
    coeffs: &Array<f32>,
    state: &mut Array<f32>,
    channels: u32,
    frames: u32,
    #[comptime] sections: usize,
) {
    let c = ABSOLUTE_POS;
    if c < channels as usize {
        let n = frames as usize;
        // Registers hold the state during the buffer; global memory only at the edges.
        let mut local = Array::<f32>::new(sections * 2);
        #[unroll]
        for s in 0..sections * 2 {
            local[s] = state[c * sections * 2 + s];
        }
        for t in 0..n {
            let mut v = input[c * n + t];
            #[unroll]
            for s in 0..sections {
                v = biquad_tdf2_step(v, coeffs, (c * sections + s) * 5, &mut local, s * 2);
            }
            output[c * n + t] = v;
        }
        #[unroll]
        for s in 0..sections * 2 {
            state[c * sections * 2 + s] = local[s];
        }
    }
}
