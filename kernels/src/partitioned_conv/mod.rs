//! Uniformly partitioned FFT convolution (overlap-save) for long impulse responses such as
//! cabinet IRs, streaming one block of `B` frames per call with `B` frames of block latency
//! removed by the overlap-save scheme (output is the exact causal convolution).
//!
//! Per channel: the IR is cut into `P = ceil(len / B)` partitions, each zero-padded to `2B` and
//! transformed once at setup. Every block, `[previous block | this block]` is transformed into a
//! frequency-domain delay line (FDL) of `P` spectra; the output spectrum is
//! `Σ_p FDL[now − p] · H[p]`, whose inverse transform's second half is the output block.
//! Three launches per block: input FFT (one cube per channel), spectrum MAC (one unit per bin,
//! all channels), inverse FFT (one cube per channel).
// cubecl 0.10's #[cube] adds an undocumented `pub mod <fn>` (expand, launch) beside every
// device function, which no attribute reaches; the functions themselves are documented.
#![allow(missing_docs)]

mod launch;

pub use launch::{PartitionedConvolver, MAX_BLOCK, MAX_IR_LEN};

use cubecl::prelude::*;

use crate::fft::{bit_reverse, fft_load_bit_reversed, fft_shared};

/// Transforms `[prev | input]` of channel `CUBE_POS` into FDL slot `slot`, then keeps `input`
/// as the next `prev`.
#[allow(unused_assignments)] // a cube `if` assigns a runtime variable declared before it
#[cube(launch)]
pub fn pconv_input_kernel(
    input: &Array<f32>,
    prev: &mut Array<f32>,
    fdl: &mut Array<f32>,
    twiddles: &Array<f32>,
    slot: u32,
    partitions: u32,
    #[comptime] block: usize,
) {
    let n = comptime!(2 * block);
    let bits = comptime!((2 * block).trailing_zeros() as usize);
    let c = CUBE_POS;
    let mut data = SharedMemory::<f32>::new(2 * n);
    let mut i = UNIT_POS as usize;
    while i < n {
        let mut v = 0.0f32;
        if i < block {
            v = prev[c * block + i];
        } else {
            v = input[c * block + i - block];
        }
        let r = bit_reverse(i, bits);
        data[2 * r] = v;
        data[2 * r + 1] = 0.0;
        i += CUBE_DIM as usize;
    }
    sync_cube();
    fft_shared(&mut data, twiddles, n, false);
    let base = (c * partitions as usize + slot as usize) * 2 * n;
    let mut j = UNIT_POS as usize;
    while j < 2 * n {
        fdl[base + j] = data[j];
        j += CUBE_DIM as usize;
    }
    let mut k = UNIT_POS as usize;
    while k < block {
        prev[c * block + k] = input[c * block + k];
        k += CUBE_DIM as usize;
    }
}

/// `acc[c, bin] = Σ_p FDL[c, slot − p] · H[c, p]` (complex), one unit per (channel, bin).
#[cube(launch)]
pub fn pconv_mac_kernel(
    fdl: &Array<f32>,
    spectra: &Array<f32>,
    acc: &mut Array<f32>,
    slot: u32,
    partitions: u32,
    #[comptime] block: usize,
) {
    let n = comptime!(2 * block);
    let idx = ABSOLUTE_POS;
    if idx < acc.len() / 2 {
        let c = idx / n;
        let bin = idx % n;
        let parts = partitions as usize;
        let mut re = 0.0f32;
        let mut im = 0.0f32;
        for p in 0..parts {
            let s = (slot as usize + parts - p) % parts;
            let x = (c * parts + s) * 2 * n + 2 * bin;
            let h = (c * parts + p) * 2 * n + 2 * bin;
            let xr = fdl[x];
            let xi = fdl[x + 1];
            let hr = spectra[h];
            let hi = spectra[h + 1];
            re += xr * hr - xi * hi;
            im += xr * hi + xi * hr;
        }
        acc[2 * idx] = re;
        acc[2 * idx + 1] = im;
    }
}

/// Inverse-transforms channel `CUBE_POS`'s accumulated spectrum and writes the second half.
#[cube(launch)]
pub fn pconv_output_kernel(acc: &Array<f32>, output: &mut Array<f32>, twiddles: &Array<f32>, #[comptime] block: usize) {
    let n = comptime!(2 * block);
    let c = CUBE_POS;
    let mut data = SharedMemory::<f32>::new(2 * n);
    fft_load_bit_reversed(acc, c * 2 * n, &mut data, n);
    fft_shared(&mut data, twiddles, n, true);
    let scale = comptime!(1.0f32 / (2 * block) as f32);
    let mut t = UNIT_POS as usize;
    while t < block {
        output[c * block + t] = data[2 * (block + t)] * scale;
        t += CUBE_DIM as usize;
    }
}
