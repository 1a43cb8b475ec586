use cubecl::prelude::*;

use super::fft_kernel;
use crate::util::{at_most, len_eq, nonzero, power_of_two, Buffer};
use crate::KernelError;

const KERNEL: &str = "fft";

/// Largest transform one cube holds in shared memory (2·n f32 = 32 KiB).
pub const MAX_FFT_SIZE: usize = 4096;

/// Shape of a batch of radix-2 FFTs.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub struct FftConfig {
    /// Points per transform (a power of two, 2 to 4096).
    pub size: usize,
    /// Inverse transform instead of forward.
    pub inverse: bool,
    /// Scale the inverse by `1/size`.
    pub normalize: bool,
}

impl FftConfig {
    /// Checks the size.
    pub fn validate(&self) -> Result<(), KernelError> {
        nonzero(KERNEL, "size", self.size)?;
        power_of_two(KERNEL, "size", self.size)?;
        at_most(KERNEL, "size", self.size, MAX_FFT_SIZE)?;
        if self.size < 2 {
            return Err(KernelError::Invalid { kernel: KERNEL, reason: "size must be at least 2".into() });
        }
        Ok(())
    }
}

/// Forward twiddles `e^{−2πik/n}` for `k < n/2`, interleaved, computed in f64.
pub fn twiddles(n: usize) -> Vec<f32> {
    (0..n / 2)
        .flat_map(|k| {
            let angle = -2.0 * std::f64::consts::PI * k as f64 / n as f64;
            [angle.cos() as f32, angle.sin() as f32]
        })
        .collect()
}

/// Transforms `batch` interleaved complex signals of `cfg.size` points.
pub fn launch_fft<R: Runtime>(
    client: &ComputeClient<R>,
    cfg: FftConfig,
    batch: usize,
    input: &Buffer,
    output: &Buffer,
    twiddle_table: &Buffer,
) -> Result<(), KernelError> {
    cfg.validate()?;
    nonzero(KERNEL, "batch", batch)?;
    at_most(KERNEL, "batch", batch, u16::MAX as usize)?;
    len_eq(KERNEL, "input", batch * 2 * cfg.size, input.len)?;
    len_eq(KERNEL, "output", batch * 2 * cfg.size, output.len)?;
    len_eq(KERNEL, "twiddles", cfg.size, twiddle_table.len)?;
    let units = (cfg.size / 2).clamp(1, 256) as u32;
    fft_kernel::launch::<R>(
        client,
        CubeCount::Static(batch as u32, 1, 1),
        CubeDim::new_1d(units),
        input.arg(),
        output.arg(),
        twiddle_table.arg(),
        cfg,
    );
    Ok(())
}
