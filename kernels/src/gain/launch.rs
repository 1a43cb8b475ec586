use cubecl::prelude::*;

use super::{smoothed_gain_kernel, smoothed_mix_kernel};
use crate::util::{cube_count_1d, len_eq, nonzero, Buffer};
use crate::KernelError;

const KERNEL: &str = "gain";

/// Per-sample coefficient of a one-pole smoother reaching ~63% of a step in `time_s`.
pub fn smoothing_coefficient(sample_rate: f32, time_s: f32) -> Result<f32, KernelError> {
    if !(sample_rate.is_finite() && sample_rate > 0.0) {
        return Err(KernelError::Invalid {
            kernel: KERNEL,
            reason: format!("sample rate {sample_rate} must be positive"),
        });
    }
    if !(time_s.is_finite() && time_s >= 0.0) {
        return Err(KernelError::Invalid {
            kernel: KERNEL, reason: format!("smoothing time {time_s} s must be ≥ 0")
        });
    }
    if time_s == 0.0 {
        return Ok(1.0);
    }
    Ok(1.0 - (-1.0 / (time_s as f64 * sample_rate as f64)).exp() as f32)
}

fn check_targets(targets: &[f32], channels: usize) -> Result<(), KernelError> {
    len_eq(KERNEL, "targets", channels, targets.len())?;
    if let Some(i) = targets.iter().position(|t| !t.is_finite()) {
        return Err(KernelError::Invalid {
            kernel: KERNEL,
            reason: format!("target of channel {i} is {}", targets[i]),
        });
    }
    Ok(())
}

/// Per-channel smoothed gain with its state on the device.
#[derive(Debug, Clone)]
pub struct SmoothedGain {
    /// Independent signals.
    pub channels: usize,
    /// Per-sample one-pole coefficient (1 = no smoothing).
    pub coef: f32,
    state: Buffer,
}

impl SmoothedGain {
    /// Starts at `initial` (no ramp on the first buffer when the target equals it).
    pub fn new<R: Runtime>(
        client: &ComputeClient<R>,
        channels: usize,
        coef: f32,
        initial: f32,
    ) -> Result<Self, KernelError> {
        nonzero(KERNEL, "channels", channels)?;
        if !(coef > 0.0 && coef <= 1.0) {
            return Err(KernelError::Invalid {
                kernel: KERNEL,
                reason: format!("coefficient {coef} must be in (0, 1]"),
            });
        }
        Ok(Self { channels, coef, state: Buffer::filled(client, channels, initial) })
    }

    /// Processes one planar `channels × frames` block toward `targets` (one per channel).
    pub fn process<R: Runtime>(
        &mut self,
        client: &ComputeClient<R>,
        input: &Buffer,
        output: &Buffer,
        targets: &Buffer,
        frames: usize,
    ) -> Result<(), KernelError> {
        nonzero(KERNEL, "frames", frames)?;
        len_eq(KERNEL, "input", self.channels * frames, input.len)?;
        len_eq(KERNEL, "output", self.channels * frames, output.len)?;
        len_eq(KERNEL, "targets", self.channels, targets.len)?;
        smoothed_gain_kernel::launch::<R>(
            client,
            cube_count_1d(self.channels, 64),
            CubeDim::new_1d(64),
            input.arg(),
            output.arg(),
            self.state.arg(),
            targets.arg(),
            self.coef,
            frames as u32,
        );
        Ok(())
    }

    /// Uploads host targets after checking them (finite, one per channel).
    pub fn targets<R: Runtime>(&self, client: &ComputeClient<R>, targets: &[f32]) -> Result<Buffer, KernelError> {
        check_targets(targets, self.channels)?;
        Ok(Buffer::upload(client, targets))
    }
}

/// Per-channel smoothed dry/wet mix.
#[derive(Debug, Clone)]
pub struct SmoothedMix {
    inner: SmoothedGain,
}

impl SmoothedMix {
    /// Dry/wet mixes of `channels` signals starting at `initial` (0 dry, 1 wet).
    pub fn new<R: Runtime>(
        client: &ComputeClient<R>,
        channels: usize,
        coef: f32,
        initial: f32,
    ) -> Result<Self, KernelError> {
        Ok(Self { inner: SmoothedGain::new(client, channels, coef, initial)? })
    }

    /// Uploads wet targets, one per channel, for `process`.
    pub fn targets<R: Runtime>(&self, client: &ComputeClient<R>, targets: &[f32]) -> Result<Buffer, KernelError> {
        self.inner.targets(client, targets)
    }

    /// Mixes `dry` and `wet` into `output`, moving each channel's mix towards its target per sample.
    #[allow(clippy::too_many_arguments)]
    pub fn process<R: Runtime>(
        &mut self,
        client: &ComputeClient<R>,
        dry: &Buffer,
        wet: &Buffer,
        output: &Buffer,
        targets: &Buffer,
        frames: usize,
    ) -> Result<(), KernelError> {
        let g = &self.inner;
        nonzero(KERNEL, "frames", frames)?;
        for (what, b) in [("dry", dry), ("wet", wet), ("output", output)] {
            len_eq(KERNEL, what, g.channels * frames, b.len)?;
        }
        len_eq(KERNEL, "targets", g.channels, targets.len)?;
        smoothed_mix_kernel::launch::<R>(
            client,
            cube_count_1d(g.channels, 64),
            CubeDim::new_1d(64),
            dry.arg(),
            wet.arg(),
            output.arg(),
            g.state.arg(),
            targets.arg(),
            g.coef,
            frames as u32,
        );
        Ok(())
    }
}
