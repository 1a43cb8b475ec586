//! Probe kernels that measure a device's ceilings rather than compute audio: what the
//! benchmark compares the engines against.
// cubecl 0.10's #[cube] adds an undocumented `pub mod <fn>` (expand, launch) beside every
// device function, which no attribute reaches; the functions themselves are documented.
#![allow(missing_docs)]

use cubecl::prelude::*;

/// Eight independent FMA chains per unit, `iters` long: the device's fp32 arithmetic ceiling.
#[cube(launch)]
pub fn fma_ceiling_kernel(out: &mut Array<f32>, seed: f32, #[comptime] iters: usize) {
    let i = ABSOLUTE_POS;
    let x = seed + i as f32 * 1.0e-9;
    let mut c = Array::<f32>::new(8usize);
    #[unroll]
    for k in 0..8usize {
        c[k] = x + k as f32;
    }
    for _ in 0..iters {
        #[unroll]
        for k in 0..8usize {
            c[k] = c[k] * 0.999_9 + 0.000_1;
        }
    }
    if i < out.len() {
        out[i] = c[0] + c[1] + c[2] + c[3] + c[4] + c[5] + c[6] + c[7];
    }
}
