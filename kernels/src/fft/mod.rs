//! Radix-2 complex FFT of a power-of-two size `n`, computed in shared memory by one cube.
//!
//! Data are interleaved complex (`[re0, im0, re1, im1, …]`). The forward transform uses
//! `e^{−2πik/n}`; the inverse conjugates the twiddles and optionally scales by `1/n`. Twiddles come
//! from a host table computed in f64 ([`twiddles`]) rather than device `sin`/`cos`, whose accuracy
//! varies by backend. One shared array holds the data so generated code has a single shared
//! declaration.
// cubecl 0.10's #[cube] adds an undocumented `pub mod <fn>` (expand, launch) beside every
// device function, which no attribute reaches; the functions themselves are documented.
#![allow(missing_docs)]

mod launch;

pub use launch::{launch_fft, twiddles, FftConfig, MAX_FFT_SIZE};

use cubecl::prelude::*;

/// Reverses the low `bits` bits of `i`.
#[cube]
pub fn bit_reverse(i: usize, #[comptime] bits: usize) -> usize {
    let mut v = i;
    let mut r = 0usize;
    #[unroll]
    for _ in 0..bits {
        r = (r << 1) | (v & 1);
        v >>= 1;
    }
    r
}

/// In-place iterative FFT of `data` (2·n floats, interleaved, already in bit-reversed order).
/// Every unit of the cube must call it; it ends with a barrier.
#[cube]
pub fn fft_shared(
    data: &mut SharedMemory<f32>,
    twiddles: &Array<f32>,
    #[comptime] n: usize,
    #[comptime] inverse: bool,
) {
    let log2n = comptime!(n.trailing_zeros() as usize);
    let mut half = 1usize;
    for _ in 0..log2n {
        let stride = n / (2 * half);
        let mut b = UNIT_POS as usize;
        while b < n / 2 {
            let pos = b % half;
            let i = (b / half) * 2 * half + pos;
            let j = i + half;
            let wr = twiddles[2 * pos * stride];
            let mut wi = twiddles[2 * pos * stride + 1];
            if comptime!(inverse) {
                wi = -wi;
            }
            let xr = data[2 * j];
            let xi = data[2 * j + 1];
            let tr = wr * xr - wi * xi;
            let ti = wr * xi + wi * xr;
            let ur = data[2 * i];
            let ui = data[2 * i + 1];
            data[2 * j] = ur - tr;
            data[2 * j + 1] = ui - ti;
            data[2 * i] = ur + tr;
            data[2 * i + 1] = ui + ti;
            b += CUBE_DIM as usize;
        }
        sync_cube();
        half *= 2;
    }
}

/// Loads transform `CUBE_POS` of `input` into shared memory in bit-reversed order.
#[cube]
pub fn fft_load_bit_reversed(input: &Array<f32>, base: usize, data: &mut SharedMemory<f32>, #[comptime] n: usize) {
    let bits = comptime!(n.trailing_zeros() as usize);
    let mut i = UNIT_POS as usize;
    while i < n {
        let r = bit_reverse(i, bits);
        data[2 * r] = input[base + 2 * i];
        data[2 * r + 1] = input[base + 2 * i + 1];
        i += CUBE_DIM as usize;
    }
    sync_cube();
}

/// One transform per cube: `input`/`output` hold `batch × n` interleaved complex values.
#[cube(launch)]
pub fn fft_kernel(input: &Array<f32>, output: &mut Array<f32>, twiddles: &Array<f32>, #[comptime] cfg: FftConfig) {
    let n = cfg.size;
    let base = CUBE_POS * 2 * n;
    let mut data = SharedMemory::<f32>::new(2 * n);
    fft_load_bit_reversed(input, base, &mut data, n);
    fft_shared(&mut data, twiddles, n, cfg.inverse);
    let mut scale = 1.0f32;
    if comptime!(cfg.inverse && cfg.normalize) {
        scale = comptime!(1.0f32 / n as f32);
    }
    let mut i = UNIT_POS as usize;
    while i < 2 * n {
        output[base + i] = data[i] * scale;
        i += CUBE_DIM as usize;
    }
}
