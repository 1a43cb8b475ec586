//! Multichannel FIR `y[c,t] = Σ_k h_c[k] · x[c, t − k]` (tap 0 is the current sample), with the
//! input history in a delay line. One unit per output sample, so long filters over short
//! buffers still fill the device; past ~256 taps the partitioned FFT convolution is cheaper.
//! The input history is a [`crate::delay_line::DelayLine`].
// cubecl 0.10's #[cube] adds an undocumented `pub mod <fn>` (expand, launch) beside every
// device function, which no attribute reaches; the functions themselves are documented.
#![allow(missing_docs)]

mod launch;

pub use launch::FirBank;

use cubecl::prelude::*;

use crate::delay_line::delay_load;

/// One unit per (channel, frame): `Σ taps[k] · x[t − k]`, reading the history from the channel's ring.
#[cube(launch)]
pub fn fir_kernel(
    ring: &Array<f32>,
    taps: &Array<f32>,
    output: &mut Array<f32>,
    cursor: u32,
    frames: u32,
    #[comptime] tap_count: usize,
    #[comptime] ring_size: usize,
) {
    let i = ABSOLUTE_POS;
    if i < output.len() {
        let n = frames as usize;
        let c = i / n;
        let position = cursor as usize + i % n + ring_size;
        let mut acc = 0.0f32;
        for k in 0..tap_count {
            acc += taps[c * tap_count + k] * delay_load(ring, 0, c, position - k, ring_size);
        }
        output[i] = acc;
    }
}
