use cubecl::prelude::*;

use super::biquad_bank_kernel;
use crate::util::{at_most, cube_count_1d, len_eq, nonzero, Buffer};
use crate::KernelError;

const KERNEL: &str = "biquad";

/// `[b0, b1, b2, a1, a2]` of one section, `a0` already divided out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BiquadCoefficients(pub [f32; 5]);

impl BiquadCoefficients {
    /// RBJ cookbook peaking EQ.
    pub fn peaking(sample_rate: f64, freq: f64, q: f64, gain_db: f64) -> Self {
        let a = 10f64.powf(gain_db / 40.0);
        let w0 = 2.0 * std::f64::consts::PI * freq / sample_rate;
        let alpha = w0.sin() / (2.0 * q);
        let a0 = 1.0 + alpha / a;
        Self::normalised([1.0 + alpha * a, -2.0 * w0.cos(), 1.0 - alpha * a], [a0, -2.0 * w0.cos(), 1.0 - alpha / a])
    }

    /// RBJ cookbook second-order low-pass.
    pub fn lowpass(sample_rate: f64, freq: f64, q: f64) -> Self {
        let w0 = 2.0 * std::f64::consts::PI * freq / sample_rate;
        let alpha = w0.sin() / (2.0 * q);
        let c = w0.cos();
        Self::normalised([(1.0 - c) / 2.0, 1.0 - c, (1.0 - c) / 2.0], [1.0 + alpha, -2.0 * c, 1.0 - alpha])
    }

    /// RBJ cookbook second-order high-pass.
    pub fn highpass(sample_rate: f64, freq: f64, q: f64) -> Self {
        let w0 = 2.0 * std::f64::consts::PI * freq / sample_rate;
        let alpha = w0.sin() / (2.0 * q);
        let c = w0.cos();
        Self::normalised([(1.0 + c) / 2.0, -(1.0 + c), (1.0 + c) / 2.0], [1.0 + alpha, -2.0 * c, 1.0 - alpha])
    }

    fn normalised(b: [f64; 3], a: [f64; 3]) -> Self {
        Self([
            (b[0] / a[0]) as f32,
            (b[1] / a[0]) as f32,
            (b[2] / a[0]) as f32,
            (a[1] / a[0]) as f32,
            (a[2] / a[0]) as f32,
        ])
    }

    /// Whether every coefficient is finite (a design at an absurd frequency is not).
    pub fn is_finite(&self) -> bool {
        self.0.iter().all(|c| c.is_finite())
    }
}

/// `channels` cascades of `sections` biquads with device-resident state.
#[derive(Debug, Clone)]
pub struct BiquadBank {
    /// Independent signals.
    pub channels: usize,
    /// Biquads in each channel's cascade.
    pub sections: usize,
    coeffs: Buffer,
    state: Buffer,
}

impl BiquadBank {
    /// `coeffs[channel * sections + section]`.
    pub fn new<R: Runtime>(
        client: &ComputeClient<R>,
        channels: usize,
        sections: usize,
        coeffs: &[BiquadCoefficients],
    ) -> Result<Self, KernelError> {
        nonzero(KERNEL, "channels", channels)?;
        nonzero(KERNEL, "sections", sections)?;
        at_most(KERNEL, "sections", sections, 16)?;
        len_eq(KERNEL, "coefficients", channels * sections, coeffs.len())?;
        if let Some(i) = coeffs.iter().position(|c| !c.is_finite()) {
            return Err(KernelError::Invalid {
                kernel: KERNEL,
                reason: format!("section {i} has non-finite coefficients"),
            });
        }
        let flat: Vec<f32> = coeffs.iter().flat_map(|c| c.0).collect();
        Ok(Self {
            channels,
            sections,
            coeffs: Buffer::upload(client, &flat),
            state: Buffer::filled(client, channels * sections * 2, 0.0),
        })
    }

    /// Replaces the coefficients (state is kept, as a host EQ does on a knob turn).
    pub fn set_coefficients<R: Runtime>(
        &mut self,
        client: &ComputeClient<R>,
        coeffs: &[BiquadCoefficients],
    ) -> Result<(), KernelError> {
        let fresh = Self::new(client, self.channels, self.sections, coeffs)?;
        self.coeffs = fresh.coeffs;
        Ok(())
    }

    /// Filters `frames` samples of every channel from `input` into `output` (planar), carrying the state to the next call.
    pub fn process<R: Runtime>(
        &mut self,
        client: &ComputeClient<R>,
        input: &Buffer,
        output: &Buffer,
        frames: usize,
    ) -> Result<(), KernelError> {
        nonzero(KERNEL, "frames", frames)?;
        len_eq(KERNEL, "input", self.channels * frames, input.len)?;
        len_eq(KERNEL, "output", self.channels * frames, output.len)?;
        biquad_bank_kernel::launch::<R>(
            client,
            cube_count_1d(self.channels, 64),
            CubeDim::new_1d(64),
            input.arg(),
            output.arg(),
            self.coeffs.arg(),
            self.state.arg(),
            self.channels as u32,
            frames as u32,
            self.sections,
        );
        Ok(())
    }
}
