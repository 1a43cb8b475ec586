//! Fused launch of many small heterogeneous entities, indexed by a warp layout.
//!
//! Each unit of a cube runs the entity the layout assigns to its slot (or nothing, for padding):
//! one of [`ENTITY_TYPES`] small DSP/physical-model steps with genuinely different code paths.
//! Units of one warp that hold different types execute each branch in turn, so the layout
//! decides how much divergence the launch pays: this is where the warp-alignment packer's
//! layout is used and measured (`benches`, `gpu_packer_bench`).
//!
//! Per entity: a type, 4 state floats, 4 parameters; the output is the sum of its `steps`
//! samples (a compute-bound workload, the state stays in registers).
// cubecl 0.10's #[cube] adds an undocumented `pub mod <fn>` (expand, launch) beside every
// device function, which no attribute reaches; the functions themselves are documented.
#![allow(missing_docs)]

mod launch;

pub use launch::{entity_step_reference, launch_fused_entities, FusedEntities, ENTITY_TYPES};

use cubecl::prelude::*;

#[cube]
fn fract(x: f32) -> f32 {
    x - f32::floor(x)
}

/// One sample of entity type `ty`; `s` is its state (4 floats), `p` its parameters.
#[allow(unused_assignments)] // `y` is declared before the runtime branches that assign it
#[cube]
pub fn entity_step(ty: u32, x: f32, s: &mut Array<f32>, p0: f32, p1: f32) -> f32 {
    let mut y = 0.0f32;
    if ty == 0 {
        // One-pole low-pass.
        s[0] += (0.05 + 0.5 * p0) * (x - s[0]);
        y = s[0];
    } else if ty == 1 {
        // Biquad (TDF-II) with parameter-dependent coefficients.
        let b0 = 0.2 + 0.1 * p0;
        y = b0 * x + s[0];
        s[0] = 0.3 * x - (0.2 + 0.1 * p1) * y + s[1];
        s[1] = 0.1 * x - 0.1 * y;
    } else if ty == 2 {
        // Parabolic sine oscillator, amplitude-modulated by the input.
        s[0] = fract(s[0] + 0.01 + 0.01 * p0);
        let ph = s[0] * 2.0 - 1.0;
        y = 4.0 * ph * (1.0 - f32::abs(ph)) * (0.5 + 0.5 * x);
    } else if ty == 3 {
        // Saw oscillator with a polyBLEP correction.
        let dt = 0.003 + 0.01 * p1;
        s[0] = fract(s[0] + dt);
        let t = s[0];
        let mut blep = 0.0f32;
        if t < dt {
            let u = t / dt;
            blep = u + u - u * u - 1.0;
        } else if t > 1.0 - dt {
            let u = (t - 1.0) / dt;
            blep = u * u + u + u + 1.0;
        }
        y = 2.0 * t - 1.0 - blep + 0.1 * x;
    } else if ty == 4 {
        // Rational tanh waveshaper with drive.
        let d = x * (1.0 + 3.0 * p0);
        let d2 = d * d;
        y = f32::clamp(d * (27.0 + d2) / (27.0 + 9.0 * d2), -1.0, 1.0);
    } else if ty == 5 {
        // Bit crusher.
        let levels = 4.0 + 12.0 * p0;
        y = f32::floor(x * levels + 0.5) / levels;
    } else if ty == 6 {
        // State-variable filter (low-pass output).
        let g = 0.1 + 0.2 * p0;
        let hp = x - s[0] - s[1];
        let bp = g * hp + s[1];
        let lp = g * bp + s[0];
        s[1] = g * hp + bp;
        s[0] = g * bp + lp;
        y = lp;
    } else if ty == 7 {
        // Low-discrepancy (Weyl) noise source gated by the input; not chaotic, so rounding
        // differences between devices stay small.
        s[0] = fract(s[0] + 0.618_034 + 0.01 * p1);
        y = (s[0] * 2.0 - 1.0) * x;
    } else if ty == 8 {
        // Envelope follower, fast attack and slow release.
        let a = f32::abs(x);
        let mut k = 0.01f32;
        if a > s[0] {
            k = 0.3;
        }
        s[0] += k * (a - s[0]);
        y = s[0];
    } else if ty == 9 {
        // Chebyshev T4 harmonic generator mixed with the dry signal.
        let x2 = x * x;
        y = (8.0 * x2 * x2 - 8.0 * x2 + 1.0) * 0.5 * p0 + 0.5 * x;
    } else {
        // Ring modulator with a one-sample feedback.
        s[0] = fract(s[0] + 0.02 + 0.01 * p0);
        y = x * (s[0] * 2.0 - 1.0) + 0.5 * s[1];
        s[1] = 0.5 * y;
    }
    y
}

/// Cube `c` runs instance `c`: unit `u` runs entity `layout[u]` (`u32::MAX`: padding).
/// `types`, `params` (2 per entity), `state` (4 per entity, updated) and `output` (1 per entity)
/// are per instance, back to back.
#[cube(launch)]
pub fn fused_entities_kernel(
    layout: &Array<u32>,
    types: &Array<u32>,
    params: &Array<f32>,
    state: &mut Array<f32>,
    output: &mut Array<f32>,
    entities: u32,
    steps: u32,
) {
    let slot = UNIT_POS as usize;
    let e = layout[slot];
    if e != u32::MAX {
        let base = CUBE_POS * entities as usize + e as usize;
        let ty = types[base];
        let p0 = params[2 * base];
        let p1 = params[2 * base + 1];
        let mut s = Array::<f32>::new(4usize);
        #[unroll]
        for k in 0..4usize {
            s[k] = state[4 * base + k];
        }
        let phase = f32::cast_from(e) * 0.071;
        let mut acc = 0.0f32;
        for t in 0..steps {
            let x = fract(f32::cast_from(t) * 0.0137 + phase) * 1.8 - 0.9;
            acc += entity_step(ty, x, &mut s, p0, p1);
        }
        #[unroll]
        for k in 0..4usize {
            state[4 * base + k] = s[k];
        }
        output[base] = acc;
    }
}
