use cubecl::prelude::*;

use super::{pconv_exchange_kernel, pconv_input_kernel, pconv_mac_kernel, pconv_output_kernel};
use crate::fft::twiddles;
use crate::routed::{frames_fit, highest, slots_fit, RoutedFir};
use crate::util::{at_most, cube_count_1d, nonzero, power_of_two, Buffer, IndexBuffer};
use crate::KernelError;

const KERNEL: &str = "partitioned_conv";

/// Largest block: its `2B`-point FFT must fit one cube's shared memory.
pub const MAX_BLOCK: usize = 2048;
/// Longest IR accepted: 10 s at 96 kHz.
pub const MAX_IR_LEN: usize = 960_000;
/// Device memory the spectra and the frequency-domain delay lines of one convolver may take:
/// a 10 s IR at 96 kHz in 64-frame blocks takes 31 MB per channel, so ~34 such channels.
pub const MAX_SPECTRA_BYTES: usize = 1 << 30;
/// Partitions one unit of the spectrum MAC sums at most: a 10 s IR at 64-frame blocks has
/// 7,500 partitions, which one unit per bin would walk serially every block.
const PER_SPLIT: usize = 32;

/// Convolution of routed arena channels with their own impulse responses (any lengths up to
/// [`MAX_IR_LEN`]): direct head, partitioned FFT tail (see the module docs). Output equals the
/// causal convolution for any sequence of buffer sizes up to `max_frames`.
#[derive(Debug, Clone)]
pub struct RoutedConvolver {
    channels: usize,
    /// Frames per partition, and the head's length.
    pub block: usize,
    /// Partitions of the longest tail (at least 1).
    pub partitions: usize,
    splits: usize,
    max_frames: usize,
    ring_len: usize,
    slots: IndexBuffer,
    highest_slot: u32,
    head: RoutedFir,
    spectra: Buffer,
    fdl: Buffer,
    acc: Buffer,
    in_ring: Buffer,
    out_ring: Buffer,
    twiddles: Buffer,
    slot: u32,
    position: u64,
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

/// The spectra of every channel's tail partitions (`h[B..]` cut into `partitions` blocks).
pub(crate) fn tail_spectra(irs: &[&[f32]], block: usize, partitions: usize) -> Vec<f32> {
    let n = 2 * block;
    let mut spectra = vec![0.0f32; irs.len() * partitions * 2 * n];
    for (c, ir) in irs.iter().enumerate() {
        for p in 0..partitions {
            let taps = ir.iter().skip(block * (p + 1)).take(block);
            if taps.len() == 0 {
                break;
            }
            let mut re = vec![0.0f64; n];
            let mut im = vec![0.0f64; n];
            for (k, v) in taps.enumerate() {
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
    spectra
}

impl RoutedConvolver {
    /// `channels[c] = ((input slot, output slot), impulse response)`; buffers of up to
    /// `max_frames`; `block` (a power of two up to [`MAX_BLOCK`]) is the head's length and the
    /// tail's partition size.
    pub fn new<R: Runtime>(
        client: &ComputeClient<R>,
        channels: &[((u32, u32), &[f32])],
        max_frames: usize,
        block: usize,
    ) -> Result<Self, KernelError> {
        nonzero(KERNEL, "block", block)?;
        power_of_two(KERNEL, "block", block)?;
        at_most(KERNEL, "block", block, MAX_BLOCK)?;
        nonzero(KERNEL, "channels", channels.len())?;
        for (c, (_, ir)) in channels.iter().enumerate() {
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
        let partitions = channels.iter().map(|(_, ir)| (ir.len().saturating_sub(block)).div_ceil(block)).max();
        let partitions = partitions.unwrap_or(0).max(1);
        // Spectra and delay lines, checked before any of it is computed or allocated.
        let bytes = 2 * channels.len() * partitions * 2 * n * 4;
        at_most(KERNEL, "bytes of spectra and delay lines", bytes, MAX_SPECTRA_BYTES)?;
        let heads: Vec<((u32, u32), &[f32])> =
            channels.iter().map(|(route, ir)| (*route, &ir[..ir.len().min(block)])).collect();
        let head = RoutedFir::new(client, &heads, max_frames)?;
        let splits = partitions.div_ceil(PER_SPLIT);
        let irs: Vec<&[f32]> = channels.iter().map(|(_, ir)| *ir).collect();
        let slots: Vec<u32> = channels.iter().flat_map(|((src, dst), _)| [*src, *dst]).collect();
        // Holds the `2B` inputs of a block completed at a buffer's first frame while the buffer
        // is written after them, and the tails of a buffer plus the block computed past its end.
        let ring_len = (max_frames + 2 * block).next_power_of_two();
        let count = channels.len();
        Ok(Self {
            channels: count,
            block,
            partitions,
            splits,
            max_frames,
            ring_len,
            highest_slot: highest(&slots),
            slots: IndexBuffer::upload(client, &slots),
            head,
            spectra: Buffer::upload(client, &tail_spectra(&irs, block, partitions)),
            fdl: Buffer::filled(client, count * partitions * 2 * n, 0.0),
            acc: Buffer::filled(client, count * splits * 2 * n, 0.0),
            in_ring: Buffer::filled(client, count * ring_len, 0.0),
            out_ring: Buffer::filled(client, count * ring_len, 0.0),
            twiddles: Buffer::upload(client, &twiddles(n)),
            slot: 0,
            position: 0,
        })
    }

    /// Convolves `frames` samples of every route of the arena (`stride` floats per slot); a
    /// route may read and write the same slot. Returns the launches it queued.
    pub fn process<R: Runtime>(
        &mut self,
        client: &ComputeClient<R>,
        arena: &Buffer,
        stride: usize,
        frames: usize,
    ) -> Result<u32, KernelError> {
        frames_fit(frames, stride)?;
        at_most(KERNEL, "frames", frames, self.max_frames)?;
        slots_fit("convolver slot", self.highest_slot, arena, stride)?;
        let (units, ring_len) = (self.block.clamp(1, 256) as u32, self.ring_len as u32);
        // The gather comes first: the head may write the slot it reads (an in-place route).
        self.exchange(client, arena, stride, frames, true);
        self.head.process(client, arena, stride, frames)?;
        let mut launches = 3;
        let block = self.block as u64;
        let mut end = (self.position / block + 1) * block;
        while end <= self.position + frames as u64 {
            // Ring positions are taken modulo 2³², which every power-of-two ring divides.
            let at = end as u32;
            pconv_input_kernel::launch::<R>(
                client,
                CubeCount::Static(self.channels as u32, 1, 1),
                CubeDim::new_1d(units),
                self.in_ring.arg(),
                ring_len,
                at,
                self.fdl.arg(),
                self.twiddles.arg(),
                self.slot,
                self.partitions as u32,
                self.block,
            );
            pconv_mac_kernel::launch::<R>(
                client,
                cube_count_1d(self.channels * self.splits * 2 * self.block, 256),
                CubeDim::new_1d(256),
                self.fdl.arg(),
                self.spectra.arg(),
                self.acc.arg(),
                self.slot,
                self.partitions as u32,
                self.splits as u32,
                PER_SPLIT as u32,
                self.block,
            );
            pconv_output_kernel::launch::<R>(
                client,
                CubeCount::Static(self.channels as u32, 1, 1),
                CubeDim::new_1d(units),
                self.acc.arg(),
                self.splits as u32,
                self.out_ring.arg(),
                ring_len,
                at,
                self.twiddles.arg(),
                self.block,
            );
            self.slot = (self.slot + 1) % self.partitions as u32;
            launches += 3;
            end += block;
        }
        self.exchange(client, arena, stride, frames, false);
        self.position += frames as u64;
        Ok(launches)
    }

    fn exchange<R: Runtime>(
        &self,
        client: &ComputeClient<R>,
        arena: &Buffer,
        stride: usize,
        frames: usize,
        gather: bool,
    ) {
        pconv_exchange_kernel::launch::<R>(
            client,
            cube_count_1d(self.channels * frames, 256),
            CubeDim::new_1d(256),
            arena.arg(),
            self.slots.arg(),
            if gather { self.in_ring.arg() } else { self.out_ring.arg() },
            self.position as u32,
            stride as u32,
            frames as u32,
            self.ring_len as u32,
            gather,
        );
    }

    /// Back to silence: histories, delay line and pending tails cleared (the spectra are kept).
    pub fn reset<R: Runtime>(&mut self, client: &ComputeClient<R>) {
        self.head.reset(client);
        for b in [&mut self.fdl, &mut self.in_ring, &mut self.out_ring] {
            *b = Buffer::filled(client, b.len, 0.0);
        }
        self.slot = 0;
        self.position = 0;
    }
}
