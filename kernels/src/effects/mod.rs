//! Per-sample steps of the small effects a pedalboard is made of: noise gate, compressor,
//! tremolo, drive and echo. Each is a `#[cube]` function over one sample with its parameters
//! in an array (at `p`) and its recursive state in a small local array (at `s`), so a kernel
//! keeps the state in registers for a whole buffer and any kernel can compose them: the routed
//! gate kernel, and the fused graph program ([`crate::graph_program`]) that runs every kind in
//! one launch. [`reference`] holds the same steps in plain Rust, f64, for tests.
//!
//! Parameters are device values, already converted on the host (linear levels, one-pole
//! coefficients, phase increments), so a step does no per-sample transcendental work it can
//! avoid: only the compressor's gain curve (`exp`/`ln`) and the tremolo's LFO (`cos`).
// cubecl 0.10's #[cube] adds an undocumented `pub mod <fn>` (expand, launch) beside every
// device function, which no attribute reaches; the functions themselves are documented.
#![allow(missing_docs)]

pub mod reference;

use cubecl::prelude::*;

use crate::activation::exact_tanh;
use crate::gain::smooth_step;
use crate::routed::finite_or_zero;

/// Parameters of [`gate_step`]: threshold (linear), attack, release and envelope-fall
/// coefficients.
pub const GATE_PARAMS: usize = 4;
/// Parameters of [`compressor_step`]: threshold (linear), slope `1/ratio − 1`, attack and
/// release coefficients, make-up gain (linear).
pub const COMPRESSOR_PARAMS: usize = 5;
/// Parameters of [`tremolo_step`]: LFO phase increment per sample, depth target, depth
/// smoothing coefficient.
pub const TREMOLO_PARAMS: usize = 3;
/// Parameters of [`drive_step`]: pre-gain target (linear), output level (linear), pre-gain
/// smoothing coefficient.
pub const DRIVE_PARAMS: usize = 3;
/// Parameters of [`echo_step`]: delay in samples (an integer ≥ 1, below the ring size),
/// feedback, wet level, dry level.
pub const ECHO_PARAMS: usize = 4;

/// Noise gate: a peak envelope (instant rise, exponential fall) at `s`, the gate gain at
/// `s + 1` moving toward 1 with the attack coefficient while the envelope is above the
/// threshold and toward 0 with the release one, so opening and closing never click.
#[cube]
pub fn gate_step(x: f32, p: &Array<f32>, pb: usize, s: &mut Array<f32>, sb: usize) -> f32 {
    let env = f32::max(f32::abs(x), s[sb] * p[pb + 3]);
    s[sb] = env;
    if env > p[pb] {
        s[sb + 1] = smooth_step(s[sb + 1], 1.0, p[pb + 1]);
    } else {
        s[sb + 1] = smooth_step(s[sb + 1], 0.0, p[pb + 2]);
    }
    x * s[sb + 1]
}

/// Feed-forward compressor: a peak envelope at `s` (attack coefficient while |x| rises above
/// it, release while it falls); above the threshold the gain is `(env / threshold)^slope` with
/// `slope = 1/ratio − 1` (hard knee), then the make-up gain.
#[cube]
pub fn compressor_step(x: f32, p: &Array<f32>, pb: usize, s: &mut Array<f32>, sb: usize) -> f32 {
    let a = f32::abs(x);
    let coef = select(a > s[sb], p[pb + 2], p[pb + 3]);
    let env = smooth_step(s[sb], a, coef);
    s[sb] = env;
    let threshold = p[pb];
    let mut gain = 1.0f32;
    if env > threshold {
        gain = f32::exp(p[pb + 1] * f32::ln(env / threshold));
    }
    x * gain * p[pb + 4]
}

/// Tremolo: the phase at `s` advances by the increment and wraps to [0, 1); the depth at
/// `s + 1` chases its target; the level is `1 − depth · (1 − cos 2πφ) / 2` (full level at
/// phase 0, so a tremolo starts without a jump).
#[cube]
pub fn tremolo_step(x: f32, p: &Array<f32>, pb: usize, s: &mut Array<f32>, sb: usize) -> f32 {
    let advanced = s[sb] + p[pb];
    s[sb] = advanced - f32::floor(advanced);
    let depth = smooth_step(s[sb + 1], p[pb + 1], p[pb + 2]);
    s[sb + 1] = depth;
    let lfo = 0.5 - 0.5 * f32::cos(6.283_185_5 * s[sb]);
    x * (1.0 - depth * lfo)
}

/// Drive: a smoothed pre-gain at `s` into a saturating tanh, then the output level.
#[cube]
pub fn drive_step(x: f32, p: &Array<f32>, pb: usize, s: &mut Array<f32>, sb: usize) -> f32 {
    let pre = smooth_step(s[sb], p[pb], p[pb + 2]);
    s[sb] = pre;
    p[pb + 1] * exact_tanh(pre * x)
}

/// Echo over a ring of `mask + 1` samples at `ring0` (a power of two), written at `at` (the
/// channel's running sample count): reads the sample `delay` behind, writes the input plus the
/// feedback of what it read (finite only, so a runaway feedback is silence, not NaN forever),
/// returns the dry and wet mix.
#[cube]
pub fn echo_step(
    x: f32,
    p: &Array<f32>,
    pb: usize,
    ring: &mut Array<f32>,
    ring0: usize,
    mask: usize,
    at: usize,
) -> f32 {
    // + mask + 1 keeps the index non-negative: the delay never exceeds the mask.
    let delay = p[pb] as usize;
    let delayed = ring[ring0 + ((at + mask + 1 - delay) & mask)];
    ring[ring0 + (at & mask)] = finite_or_zero(x + p[pb + 1] * delayed);
    p[pb + 3] * x + p[pb + 2] * delayed
}
