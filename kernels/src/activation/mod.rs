//! Activations and gating, as `#[cube]` functions usable inside any kernel.
//!
//! Parameters that are not compile-time constants live in a small runtime array so that one
//! compiled kernel serves every slope value: see [`ActivationParams`] for the layout.
// cubecl 0.10's #[cube] adds an undocumented `pub mod <fn>` (expand, launch) beside every
// device function, which no attribute reaches; the functions themselves are documented.
#![allow(missing_docs)]

mod launch;

pub use launch::{launch_activation, launch_gating};

use cubecl::prelude::*;

/// Which activation a kernel applies; a compile-time choice (one specialised kernel per kind),
/// or a run-time code ([`activation_code`], read by [`activate_dynamic`]). The discriminants are
/// those codes: explicit, so reordering the variants cannot change what a kernel computes.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
#[repr(u32)]
pub enum ActivationKind {
    /// `x`.
    Identity = 0,
    /// `tanh` as the device's libm computes it.
    Tanh = 1,
    /// NAM's rational approximation (the plugin's default), see [`fast_tanh`].
    FastTanh = 2,
    /// `1 / (1 + e^-x)`, see [`sigmoid`].
    Sigmoid = 3,
    /// `max(0, x)`.
    ReLU = 4,
    /// `x > 0 ? x : slope·x`.
    LeakyReLU = 5,
    /// Per-channel slope.
    PReLU = 6,
    /// `clamp(x, -1, 1)`.
    Hardtanh = 7,
    /// `x` inside `[lo, hi]`, slopes `lo_slope`/`hi_slope` outside.
    LeakyHardtanh = 8,
    /// `x / (1 + |x|)`.
    Softsign = 9,
    /// `x · sigmoid(x)`.
    SiLU = 10,
    /// `x · relu6(x + 3) / 6`.
    Hardswish = 11,
}

/// How the two halves of a gated layer combine (NAM WaveNet `gating_mode`).
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum GatingMode {
    /// `act(a) ⊙ sec(b)`.
    Gated,
    /// `α ⊙ act(a) + (1 − α) ⊙ a` with `α = sec(b)`.
    Blended,
}

/// Host view of the runtime parameter array an activation reads.
///
/// Layout: `[slope, lo, hi, lo_slope, hi_slope, prelu_slope[0..channels]...]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivationParams {
    /// Slope of LeakyReLU below 0.
    pub negative_slope: f32,
    /// Lower bound of the Hardtanh family.
    pub min_val: f32,
    /// Upper bound of the Hardtanh family.
    pub max_val: f32,
    /// Slope of LeakyHardtanh below `min_val`.
    pub min_slope: f32,
    /// Slope of LeakyHardtanh above `max_val`.
    pub max_slope: f32,
    /// PReLU slopes, one per channel.
    pub channel_slopes: Vec<f32>,
}

impl Default for ActivationParams {
    fn default() -> Self {
        Self {
            negative_slope: 0.01,
            min_val: -1.0,
            max_val: 1.0,
            min_slope: 0.01,
            max_slope: 0.01,
            channel_slopes: Vec::new(),
        }
    }
}

/// Index of the first per-channel slope in the parameter array.
pub const PRELU_OFFSET: usize = 5;

impl ActivationParams {
    /// The array the kernels read, in the layout above.
    pub fn to_array(&self) -> Vec<f32> {
        let mut v = vec![self.negative_slope, self.min_val, self.max_val, self.min_slope, self.max_slope];
        v.extend_from_slice(&self.channel_slopes);
        v
    }
}

/// Largest |x| [`fast_tanh`] evaluates; larger inputs give its value there.
pub const FAST_TANH_LIMIT: f32 = 1e9;

/// NAM's fast tanh (SPEC §2.4), float32 constants and arithmetic. The input is clamped to
/// ±1e9 first: beyond ~4.5e9 the rational's numerator and denominator overflow to inf/inf =
/// NaN, which an LSTM's state then carries forever; below 1e9 nothing changes (the function is
/// flat there), so it equals the core wherever the core's result is finite.
#[cube]
pub fn fast_tanh(x_in: f32) -> f32 {
    let x = f32::clamp(x_in, -FAST_TANH_LIMIT, FAST_TANH_LIMIT);
    let ax = f32::abs(x);
    let x2 = x * x;
    let num = x * (2.455_507_5 + 2.455_507_5 * ax + (0.893_229_85 + 0.821_226_7 * ax) * x2);
    let den = 2.445_066_3 + (2.445_066_3 + x2) * f32::abs(x + 0.814_642_7 * x * ax);
    num / den
}

/// `1 / (1 + e^-x)`, written so that large |x| saturates instead of producing NaN.
#[cube]
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + f32::exp(-x))
}

/// tanh that saturates for large |x| on every backend (some libms return NaN from e^x/e^x).
#[cube]
pub fn exact_tanh(x: f32) -> f32 {
    let c = f32::clamp(x, -15.0, 15.0);
    f32::tanh(c)
}

/// Applies `kind` to `x`; `channel` selects the PReLU slope.
#[cube]
pub fn activate(x: f32, params: &Array<f32>, channel: usize, #[comptime] kind: ActivationKind) -> f32 {
    activate_at(x, params, 0, channel, kind)
}

/// [`activate`] with its parameters at offset `at` of `params` (a model's weight array).
#[cube]
pub fn activate_at(x: f32, params: &Array<f32>, at: usize, channel: usize, #[comptime] kind: ActivationKind) -> f32 {
    let mut y = x;
    if comptime!(kind == ActivationKind::Tanh) {
        y = exact_tanh(x);
    }
    if comptime!(kind == ActivationKind::FastTanh) {
        y = fast_tanh(x);
    }
    if comptime!(kind == ActivationKind::Sigmoid) {
        y = sigmoid(x);
    }
    if comptime!(kind == ActivationKind::ReLU) {
        y = select(x > 0.0, x, 0.0);
    }
    if comptime!(kind == ActivationKind::LeakyReLU) {
        y = select(x > 0.0, x, params[at] * x);
    }
    if comptime!(kind == ActivationKind::PReLU) {
        y = select(x > 0.0, x, params[at + PRELU_OFFSET + channel] * x);
    }
    if comptime!(kind == ActivationKind::Hardtanh) {
        y = f32::clamp(x, -1.0, 1.0);
    }
    if comptime!(kind == ActivationKind::LeakyHardtanh) {
        let lo = params[at + 1];
        let hi = params[at + 2];
        let below = (x - lo) * params[at + 3] + lo;
        let above = (x - hi) * params[at + 4] + hi;
        y = select(x < lo, below, select(x > hi, above, x));
    }
    if comptime!(kind == ActivationKind::Softsign) {
        y = x / (1.0 + f32::abs(x));
    }
    if comptime!(kind == ActivationKind::SiLU) {
        y = x * sigmoid(x);
    }
    if comptime!(kind == ActivationKind::Hardswish) {
        y = x * f32::clamp(x + 3.0, 0.0, 6.0) * (1.0 / 6.0);
    }
    y
}

/// Runtime code of an [`ActivationKind`] for kernels that pick the activation per layer at run
/// time (one compiled kernel for every model): see [`activate_dynamic`].
pub fn activation_code(kind: ActivationKind) -> u32 {
    kind as u32
}

/// [`activate`] with the kind chosen at run time (`code` from [`activation_code`]) and its
/// parameters passed directly: `slope` for LeakyReLU/PReLU, `lo, hi, lo_slope, hi_slope` for
/// LeakyHardtanh (others ignore them).
#[allow(unused_assignments)] // `y` is declared before the runtime branches that assign it
#[cube]
pub fn activate_dynamic(x: f32, code: u32, slope: f32, lo: f32, hi: f32, lo_slope: f32, hi_slope: f32) -> f32 {
    let mut y = x;
    if code == 1 {
        y = exact_tanh(x);
    } else if code == 2 {
        y = fast_tanh(x);
    } else if code == 3 {
        y = sigmoid(x);
    } else if code == 4 {
        y = select(x > 0.0, x, 0.0);
    } else if code == 5 || code == 6 {
        y = select(x > 0.0, x, slope * x);
    } else if code == 7 {
        y = f32::clamp(x, -1.0, 1.0);
    } else if code == 8 {
        let below = (x - lo) * lo_slope + lo;
        let above = (x - hi) * hi_slope + hi;
        y = select(x < lo, below, select(x > hi, above, x));
    } else if code == 9 {
        y = x / (1.0 + f32::abs(x));
    } else if code == 10 {
        y = x * sigmoid(x);
    } else if code == 11 {
        y = x * f32::clamp(x + 3.0, 0.0, 6.0) * (1.0 / 6.0);
    }
    y
}

/// Combines the two halves of a gated unit.
#[cube]
pub fn gate(
    a: f32,
    b: f32,
    primary_params: &Array<f32>,
    secondary_params: &Array<f32>,
    channel: usize,
    #[comptime] primary: ActivationKind,
    #[comptime] secondary: ActivationKind,
    #[comptime] mode: GatingMode,
) -> f32 {
    gate_at(a, b, primary_params, 0, secondary_params, 0, channel, primary, secondary, mode)
}

/// [`gate`] with each activation's parameters at an offset of its array (a model's weights).
#[allow(clippy::too_many_arguments)]
#[cube]
pub fn gate_at(
    a: f32,
    b: f32,
    primary_params: &Array<f32>,
    primary_at: usize,
    secondary_params: &Array<f32>,
    secondary_at: usize,
    channel: usize,
    #[comptime] primary: ActivationKind,
    #[comptime] secondary: ActivationKind,
    #[comptime] mode: GatingMode,
) -> f32 {
    let act = activate_at(a, primary_params, primary_at, channel, primary);
    let sec = activate_at(b, secondary_params, secondary_at, channel, secondary);
    let mut y = act * sec;
    if comptime!(mode == GatingMode::Blended) {
        y = sec * act + (1.0 - sec) * a;
    }
    y
}

/// Applies `kind` to every element of a `channels × frames` block.
#[cube(launch)]
pub fn activation_kernel(
    input: &Array<f32>,
    output: &mut Array<f32>,
    params: &Array<f32>,
    frames: u32,
    #[comptime] kind: ActivationKind,
) {
    let pos = ABSOLUTE_POS;
    if pos < input.len() {
        let channel = pos / frames as usize;
        output[pos] = activate(input[pos], params, channel, kind);
    }
}

/// Gates a `2B × frames` block into `B × frames`: rows `[0, B)` through `primary`, rows
/// `[B, 2B)` through `secondary`.
#[cube(launch)]
pub fn gating_kernel(
    input: &Array<f32>,
    output: &mut Array<f32>,
    primary_params: &Array<f32>,
    secondary_params: &Array<f32>,
    frames: u32,
    #[comptime] primary: ActivationKind,
    #[comptime] secondary: ActivationKind,
    #[comptime] mode: GatingMode,
) {
    let pos = ABSOLUTE_POS;
    if pos < output.len() {
        let channel = pos / frames as usize;
        let a = input[pos];
        let b = input[pos + output.len()];
        output[pos] = gate(a, b, primary_params, secondary_params, channel, primary, secondary, mode);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `activate_dynamic` branches on these numbers: they must not move.
    #[test]
    fn activation_codes_are_the_ones_the_device_reads() {
        let expected = [
            (ActivationKind::Identity, 0),
            (ActivationKind::Tanh, 1),
            (ActivationKind::FastTanh, 2),
            (ActivationKind::Sigmoid, 3),
            (ActivationKind::ReLU, 4),
            (ActivationKind::LeakyReLU, 5),
            (ActivationKind::PReLU, 6),
            (ActivationKind::Hardtanh, 7),
            (ActivationKind::LeakyHardtanh, 8),
            (ActivationKind::Softsign, 9),
            (ActivationKind::SiLU, 10),
            (ActivationKind::Hardswish, 11),
        ];
        for (kind, code) in expected {
            assert_eq!(activation_code(kind), code, "{kind:?}");
        }
    }
}
