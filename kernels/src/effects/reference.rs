//! The [`super`] steps in plain Rust for tests: same parameter layout, f64 arithmetic, except
//! the tremolo's phase, which is accumulated in f32 as the device does (the phase is a long
//! recurrence; computing it in f64 would measure the accumulator's drift, not the kernel).

/// [`super::gate_step`]; `s`: envelope, gain.
pub fn gate(x: f64, p: &[f64], s: &mut [f64]) -> f64 {
    s[0] = x.abs().max(s[0] * p[3]);
    let (target, coef) = if s[0] > p[0] { (1.0, p[1]) } else { (0.0, p[2]) };
    s[1] += coef * (target - s[1]);
    x * s[1]
}

/// [`super::compressor_step`]; `s`: envelope.
pub fn compressor(x: f64, p: &[f64], s: &mut [f64]) -> f64 {
    let a = x.abs();
    let coef = if a > s[0] { p[2] } else { p[3] };
    s[0] += coef * (a - s[0]);
    let gain = if s[0] > p[0] { (s[0] / p[0]).powf(p[1]) } else { 1.0 };
    x * gain * p[4]
}

/// [`super::tremolo_step`]; `phase` is the f32 accumulator, `s`: depth.
pub fn tremolo(x: f64, p: &[f64], phase: &mut f32, s: &mut [f64]) -> f64 {
    let advanced = *phase + p[0] as f32;
    *phase = advanced - advanced.floor();
    s[0] += p[2] * (p[1] - s[0]);
    let lfo = 0.5 - 0.5 * (std::f64::consts::TAU * *phase as f64).cos();
    x * (1.0 - s[0] * lfo)
}

/// [`super::drive_step`]; `s`: pre-gain.
pub fn drive(x: f64, p: &[f64], s: &mut [f64]) -> f64 {
    s[0] += p[2] * (p[0] - s[0]);
    p[1] * (s[0] * x).clamp(-15.0, 15.0).tanh()
}

/// [`super::echo_step`] over a whole-history `ring` (any length above the delay), written at
/// `at`.
pub fn echo(x: f64, p: &[f64], ring: &mut [f64], at: usize) -> f64 {
    let n = ring.len();
    let delayed = ring[(at + n - p[0] as usize) % n];
    let fed = x + p[1] * delayed;
    ring[at % n] = if fed.is_finite() { fed } else { 0.0 };
    p[3] * x + p[2] * delayed
}
