use cubecl::prelude::*;

use super::{pconv_input_kernel, pconv_mac_kernel, pconv_output_kernel};
use crate::fft::twiddles;
use crate::util::{at_most, cube_count_1d, len_eq, nonzero, power_of_two, Buffer};
use crate::KernelError;

const KERNEL: &str = "partitioned_conv";

/// Largest block: its `2B`-point FFT must fit one cube's shared memory.
pub const MAX_BLOCK: usize = 2048;
/// Longest IR accepted: 10 s at 96 kHz.
pub const MAX_IR_LEN: usize = 960_000;

/// Streaming convolver of `channels` signals, each with its own impulse response.
#[derive(Debug, Clone)]
pub struct PartitionedConvolver {
    /// Independent signals.
    pub channels: usize,
    /// Frames per partition and per `process` call.
    pub block: usize,
    /// Partitions each impulse response is cut into.
    pub partitions: usize,
    spectra: Buffer,
    fdl: Buffer,
    prev: Buffer,
    acc: Buffer,
    twiddles: Buffer,
    slot: u32,
}

/// f64 in-place radix-2 FFT (host side, for the IR spectra at setup).
fn fft_f64(re: &mut [f64], im: &mut [f64]) {
    let n = re.len();
    let bits = n.trailing_zeros();
    for i in 0..n {
        let j = i.reverse_bits() >> (usize::BITS - bits);
        if j > i {
            re.swap(i, j);
            im.swap(i, j);
        }
    }
    let mut half = 1;
    while half < n {
        let step = -std::f64::consts::PI / half as f64;
        for start in (0..n).step_by(2 * half) {
            for k in 0..half {
                let (wr, wi) = ((step * k as f64).cos(), (step * k as f64).sin());
                let (i, j) = (start + k, start + k + half);
                let tr = wr * re[j] - wi * im[j];
                let ti = wr * im[j] + wi * re[j];
                re[j] = re[i] - tr;
                im[j] = im[i] - ti;
                re[i] += tr;
                im[i] += ti;
            }
        }
        half *= 2;
    }
}

impl PartitionedConvolver {
    /// `irs[channel]` is that channel's impulse response (lengths may differ).
    pub fn new<R: Runtime>(client: &ComputeClient<R>, block: usize, irs: &[Vec<f32>]) -> Result<Self, KernelError> {
        nonzero(KERNEL, "block", block)?;
        power_of_two(KERNEL, "block", block)?;
        at_most(KERNEL, "block", block, MAX_BLOCK)?;
        let channels = irs.len();
        nonzero(KERNEL, "channels", channels)?;
        for (c, ir) in irs.iter().enumerate() {
            if ir.is_empty() {
                return Err(KernelError::Invalid {
                    kernel: KERNEL,
                    reason: format!("impulse response of channel {c} is empty"),
                });
            }
            at_most(KERNEL, "impulse response length", ir.len(), MAX_IR_LEN)?;
            if let Some(i) = ir.iter().position(|v| !v.is_finite()) {
                return Err(KernelError::Invalid {
                    kernel: KERNEL,
                    reason: format!("impulse response of channel {c} has a non-finite sample at {i}"),
                });
            }
        }
        let n = 2 * block;
        let partitions = irs.iter().map(|ir| ir.len().div_ceil(block)).max().unwrap_or(1);
        let mut spectra = vec![0.0f32; channels * partitions * 2 * n];
        for (c, ir) in irs.iter().enumerate() {
            for p in 0..partitions {
                let mut re = vec![0.0f64; n];
                let mut im = vec![0.0f64; n];
                for (k, v) in ir.iter().skip(p * block).take(block).enumerate() {
                    re[k] = *v as f64;
                }
                fft_f64(&mut re, &mut im);
                let base = (c * partitions + p) * 2 * n;
                for k in 0..n {
                    spectra[base + 2 * k] = re[k] as f32;
                    spectra[base + 2 * k + 1] = im[k] as f32;
                }
            }
        }
        Ok(Self {
            channels,
            block,
            partitions,
            spectra: Buffer::upload(client, &spectra),
            fdl: Buffer::filled(client, channels * partitions * 2 * n, 0.0),
            prev: Buffer::filled(client, channels * block, 0.0),
            acc: Buffer::filled(client, channels * 2 * n, 0.0),
            twiddles: Buffer::upload(client, &twiddles(n)),
            slot: 0,
        })
    }

    /// Convolves one planar `channels × block` block.
    pub fn process<R: Runtime>(
        &mut self,
        client: &ComputeClient<R>,
        input: &Buffer,
        output: &Buffer,
        frames: usize,
    ) -> Result<(), KernelError> {
        len_eq(KERNEL, "frames (must equal the block size)", self.block, frames)?;
        len_eq(KERNEL, "input", self.channels * self.block, input.len)?;
        len_eq(KERNEL, "output", self.channels * self.block, output.len)?;
        let units = (self.block).clamp(1, 256) as u32;
        pconv_input_kernel::launch::<R>(
            client,
            CubeCount::Static(self.channels as u32, 1, 1),
            CubeDim::new_1d(units),
            input.arg(),
            self.prev.arg(),
            self.fdl.arg(),
            self.twiddles.arg(),
            self.slot,
            self.partitions as u32,
            self.block,
        );
        pconv_mac_kernel::launch::<R>(
            client,
            cube_count_1d(self.channels * 2 * self.block, 256),
            CubeDim::new_1d(256),
            self.fdl.arg(),
            self.spectra.arg(),
            self.acc.arg(),
            self.slot,
            self.partitions as u32,
            self.block,
        );
        pconv_output_kernel::launch::<R>(
            client,
            CubeCount::Static(self.channels as u32, 1, 1),
            CubeDim::new_1d(units),
            self.acc.arg(),
            output.arg(),
            self.twiddles.arg(),
            self.block,
        );
        self.slot = (self.slot + 1) % self.partitions as u32;
        Ok(())
    }
}
