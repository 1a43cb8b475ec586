//! Uniformly partitioned FFT convolution (overlap-save) for long impulse responses — cabinet and
//! room IRs — on routed channels of an arena, with no added latency and any buffer size.
//!
//! An IR `h` of one channel is split at the block size `B`: the head `h[..B]` runs in direct
//! form ([`crate::routed::RoutedFir`]), the tail `h[B..]` in the frequency domain. The tail's
//! output at `t` only needs inputs up to `t − B`, so it is computed one block ahead: when the
//! input block ending at `e` is complete, `z = x ∗ h[B..]` over that block is written to the
//! output ring at `[e, e + B)`, and the buffers that play those positions add it to the head's
//! output. Host buffers need not align with blocks: a buffer completes zero or more blocks.
//!
//! Per channel: the tail is cut into `P` partitions of `B` taps, each zero-padded to `2B` and
//! transformed once at setup. Each completed block, `[previous block | this block]` (read from
//! the input ring) is transformed into a frequency-domain delay line (FDL) of `P` spectra; the
//! output spectrum `Σ_p FDL[now − p] · H[p]` is summed in `splits` partial sums (one unit per
//! split and bin, so a 10 s IR is not one unit's serial loop), and the second half of its inverse
//! transform is the block's tail. Launches per buffer: gather, head, three per completed block
//! (input FFT, spectrum MAC, inverse FFT), add.
// cubecl 0.10's #[cube] adds an undocumented `pub mod <fn>` (expand, launch) beside every
// device function, which no attribute reaches; the functions themselves are documented.
#![allow(missing_docs)]

mod launch;

pub(crate) use launch::tail_spectra;
pub use launch::{RoutedConvolver, MAX_BLOCK, MAX_IR_LEN, MAX_SPECTRA_BYTES};

use cubecl::prelude::*;

use crate::fft::{bit_reverse, fft_shared};
use crate::routed::finite_or_zero;

/// The arena's side of the convolver, one unit per (channel, frame), `frames` frames at
/// `cursor` of each channel's ring (`ring_len` floats, a power of two; `stride` floats per arena
/// slot). `gather`: input slot `slots[2c]` into the input ring. Else: the output ring (the tails)
/// added to what the head wrote to output slot `slots[2c + 1]`.
#[cube(launch)]
pub fn pconv_exchange_kernel(
    arena: &mut Array<f32>,
    slots: &Array<u32>,
    ring: &mut Array<f32>,
    cursor: u32,
    stride: u32,
    frames: u32,
    ring_len: u32,
    #[comptime] gather: bool,
) {
    let n = frames as usize;
    let idx = ABSOLUTE_POS;
    if idx < slots.len() / 2 * n {
        let c = idx / n;
        let t = idx % n;
        let r = c * ring_len as usize + ((cursor as usize + t) & (ring_len as usize - 1));
        if comptime!(gather) {
            ring[r] = arena[slots[2 * c] as usize * stride as usize + t];
        } else {
            let at = slots[2 * c + 1] as usize * stride as usize + t;
            arena[at] = finite_or_zero(arena[at] + ring[r]);
        }
    }
}

/// `Σ head[k] · x[t − k]` over taps `k = first, first + step, … < at.head`, the input ring's
/// position of `x[t]` being `position` (plus a ring length, so `position − k` never wraps
/// below zero); four taps per step so that their loads are in flight together.
#[cube]
fn head_sum(
    data: &Array<f32>,
    rings: &Array<f32>,
    at: ConvolutionAt,
    in_ring: usize,
    position: usize,
    first: usize,
    step: usize,
) -> f32 {
    let mut y = 0.0f32;
    let mut k = first;
    while k + 3 * step < at.head {
        let x0 = rings[in_ring + ((position - k) & at.mask)];
        let x1 = rings[in_ring + ((position - k - step) & at.mask)];
        let x2 = rings[in_ring + ((position - k - 2 * step) & at.mask)];
        let x3 = rings[in_ring + ((position - k - 3 * step) & at.mask)];
        let h = at.data_at + k;
        y += data[h] * x0;
        y += data[h + step] * x1;
        y += data[h + 2 * step] * x2;
        y += data[h + 3 * step] * x3;
        k += 4 * step;
    }
    while k < at.head {
        y += data[at.data_at + k] * rings[in_ring + ((position - k) & at.mask)];
        k += step;
    }
    y
}

/// `f − step` modulo `parts` for `f < parts` and `step < parts`.
#[cube]
fn back(f: usize, step: usize, parts: usize) -> usize {
    let g = f + parts - step;
    select(g >= parts, g - parts, g)
}

/// The `n` real samples of a ring (at `base`, `mask + 1` floats) from position `start` into
/// `data` as complex values in bit-reversed order, ready for [`fft_shared`]; no barrier.
#[cube]
fn load_ring_bit_reversed(
    ring: &Array<f32>,
    base: usize,
    start: usize,
    mask: usize,
    data: &mut SharedMemory<f32>,
    #[comptime] n: usize,
) {
    let bits = comptime!(n.trailing_zeros() as usize);
    let mut i = UNIT_POS as usize;
    while i < n {
        let r = bit_reverse(i, bits);
        data[2 * r] = ring[base + ((start + i) & mask)];
        data[2 * r + 1] = 0.0;
        i += CUBE_DIM as usize;
    }
}

/// Transforms the `2B` input samples of channel `CUBE_POS` that end at `end` (read from its
/// input ring) into FDL slot `slot`.
#[cube(launch)]
pub fn pconv_input_kernel(
    ring: &Array<f32>,
    ring_len: u32,
    end: u32,
    fdl: &mut Array<f32>,
    twiddles: &Array<f32>,
    slot: u32,
    partitions: u32,
    #[comptime] block: usize,
) {
    let n = comptime!(2 * block);
    let c = CUBE_POS;
    let mask = ring_len as usize - 1;
    // ring_len ≥ 2B, and a power of two dividing the u32 range, so this never goes below zero
    // and wraps consistently with `end`.
    let start = end as usize + ring_len as usize - n;
    let mut data = SharedMemory::<f32>::new(2 * n);
    load_ring_bit_reversed(ring, c * ring_len as usize, start, mask, &mut data, n);
    sync_cube();
    fft_shared(&mut data, twiddles, n, false);
    let base = (c * partitions as usize + slot as usize) * 2 * n;
    let mut j = UNIT_POS as usize;
    while j < 2 * n {
        fdl[base + j] = data[j];
        j += CUBE_DIM as usize;
    }
}

/// Partial output spectra: `acc[c, s, bin] = Σ_{p in split s} FDL[c, slot − p] · H[c, p]`
/// (complex), one unit per (channel, split, bin); split `s` covers partitions
/// `s · per_split .. (s + 1) · per_split` (`splits · per_split ≥ partitions`).
#[cube(launch)]
pub fn pconv_mac_kernel(
    fdl: &Array<f32>,
    spectra: &Array<f32>,
    acc: &mut Array<f32>,
    slot: u32,
    partitions: u32,
    splits: u32,
    per_split: u32,
    #[comptime] block: usize,
) {
    let n = comptime!(2 * block);
    let idx = ABSOLUTE_POS;
    if idx < acc.len() / 2 {
        let parts = partitions as usize;
        let k = splits as usize;
        let bin = idx % n;
        let s = (idx / n) % k;
        let c = idx / (n * k);
        let first = s * per_split as usize;
        let mut last = first + per_split as usize;
        if last > parts {
            last = parts;
        }
        let mut re = 0.0f32;
        let mut im = 0.0f32;
        for p in first..last {
            let f = (slot as usize + parts - p) % parts;
            let x = (c * parts + f) * 2 * n + 2 * bin;
            let h = (c * parts + p) * 2 * n + 2 * bin;
            let xr = fdl[x];
            let xi = fdl[x + 1];
            let hr = spectra[h];
            let hi = spectra[h + 1];
            re += xr * hr - xi * hi;
            im += xr * hi + xi * hr;
        }
        acc[2 * idx] = re;
        acc[2 * idx + 1] = im;
    }
}

/// Sums channel `CUBE_POS`'s `splits` partial spectra, inverse-transforms them and writes the
/// second half (the tail of the block that ended at `end`) to the output ring at `[end, end + B)`.
#[cube(launch)]
pub fn pconv_output_kernel(
    acc: &Array<f32>,
    splits: u32,
    ring: &mut Array<f32>,
    ring_len: u32,
    end: u32,
    twiddles: &Array<f32>,
    #[comptime] block: usize,
) {
    let n = comptime!(2 * block);
    let bits = comptime!((2 * block).trailing_zeros() as usize);
    let c = CUBE_POS;
    let k = splits as usize;
    let mut data = SharedMemory::<f32>::new(2 * n);
    let mut i = UNIT_POS as usize;
    while i < n {
        let mut re = 0.0f32;
        let mut im = 0.0f32;
        for s in 0..k {
            let at = ((c * k + s) * n + i) * 2;
            re += acc[at];
            im += acc[at + 1];
        }
        let r = bit_reverse(i, bits);
        data[2 * r] = re;
        data[2 * r + 1] = im;
        i += CUBE_DIM as usize;
    }
    sync_cube();
    fft_shared(&mut data, twiddles, n, true);
    let scale = comptime!(1.0f32 / (2 * block) as f32);
    let mask = ring_len as usize - 1;
    let mut t = UNIT_POS as usize;
    while t < block {
        ring[c * ring_len as usize + ((end as usize + t) & mask)] = data[2 * (block + t)] * scale;
        t += CUBE_DIM as usize;
    }
}

/// Floats of shared memory [`convolve_cooperative`] needs for `block`: the `2B`-point transform
/// and the partial sums of the spectrum MAC and of the head (at least one per unit of a
/// 256-unit cube).
pub fn cooperative_shared_len(block: usize) -> usize {
    4 * block + 2 * (2 * block).max(256)
}

/// Where one channel's convolution lives, for [`convolve_cooperative`]: `data` holds its head
/// (`head` taps at `data_at`, padded to `B`) followed by `partitions` tail spectra of `2B`
/// complex bins; `rings` holds, from `area`, its input ring and output ring (`mask + 1` floats
/// each, a power of two ≥ the largest buffer + `2B`) and its frequency-domain delay line
/// (`partitions` spectra); `slot` is the delay line's newest spectrum.
#[derive(CubeType, Clone, Copy)]
pub struct ConvolutionAt {
    pub data_at: usize,
    pub head: usize,
    pub partitions: usize,
    pub area: usize,
    pub mask: usize,
    pub slot: usize,
}

/// One channel's convolution of `n` samples at stream position `cursor` (wrapping at 2³²),
/// computed by **every unit of the cube** (it contains barriers): `arena[src..src + n]` in,
/// `arena[dst..dst + n]` out — the same maths as [`RoutedConvolver`] (direct head, the tail one
/// block ahead through the FDL), in one cube instead of five launches. `data` starts with the
/// twiddles of the `2B`-point transform. Returns the delay line's newest slot after the buffer.
#[allow(clippy::too_many_arguments)]
#[cube]
pub fn convolve_cooperative(
    arena: &mut Slice<f32, ReadWrite>,
    src: usize,
    dst: usize,
    data: &Array<f32>,
    rings: &mut Array<f32>,
    at: ConvolutionAt,
    cursor: usize,
    n: usize,
    sh: &mut SharedMemory<f32>,
    #[comptime] block: usize,
) -> usize {
    let unit = UNIT_POS as usize;
    let units = CUBE_DIM as usize;
    let bins = comptime!(2 * block);
    let bits = comptime!((2 * block).trailing_zeros() as usize);
    let spectrum = comptime!(4 * block);
    let ring_len = at.mask + 1;
    let in_ring = at.area;
    let out_ring = at.area + ring_len;
    let fdl = at.area + 2 * ring_len;
    let spectra = at.data_at + block;
    let parts = at.partitions;

    let mut t = unit;
    while t < n {
        rings[in_ring + ((cursor + t) & at.mask)] = arena[src + t];
        t += units;
    }
    sync_storage();
    sync_cube();

    // Tails of the blocks this buffer completes: `first` frames from `cursor` to the next block
    // end (positions are offsets from `cursor`, so the u32 wrap never matters: every ring
    // divides 2³²).
    let mut slot = at.slot;
    if parts > 0 {
        let mut first = block - (cursor & (block - 1));
        while first <= n {
            let start = cursor + first + ring_len - bins;
            load_ring_bit_reversed(rings, in_ring, start, at.mask, sh, bins);
            sync_cube();
            fft_shared(sh, data, bins, false);
            let newest = fdl + slot * spectrum;
            let mut j = unit;
            while j < spectrum {
                rings[newest + j] = sh[j];
                j += units;
            }
            sync_storage();
            sync_cube();

            // Σ_p FDL[slot − p] · H[p], partitions split over `groups` units per bin, four
            // partitions per step so that their loads are in flight together (the delay line
            // is in device memory: one partition at a time waits a memory round trip each).
            let mut groups = units / bins;
            if groups < 1 {
                groups = 1;
            }
            let step = groups % parts;
            let mut j = unit;
            while j < groups * bins {
                let g = j / bins;
                let bin = 2 * (j % bins);
                let mut re = 0.0f32;
                let mut im = 0.0f32;
                let mut p = g;
                // FDL slot of partition p: `slot − p` modulo `parts`, stepped without a division.
                let mut f = (slot + parts - g % parts) % parts;
                while p < parts {
                    // Past the last partition a lane re-reads partition `p` and weighs it 0.
                    let f1 = back(f, step, parts);
                    let f2 = back(f1, step, parts);
                    let f3 = back(f2, step, parts);
                    let on1 = p + groups < parts;
                    let on2 = p + 2 * groups < parts;
                    let on3 = p + 3 * groups < parts;
                    let x0 = fdl + f * spectrum + bin;
                    let x1 = fdl + select(on1, f1, f) * spectrum + bin;
                    let x2 = fdl + select(on2, f2, f) * spectrum + bin;
                    let x3 = fdl + select(on3, f3, f) * spectrum + bin;
                    let h0 = spectra + p * spectrum + bin;
                    let h1 = spectra + select(on1, p + groups, p) * spectrum + bin;
                    let h2 = spectra + select(on2, p + 2 * groups, p) * spectrum + bin;
                    let h3 = spectra + select(on3, p + 3 * groups, p) * spectrum + bin;
                    let (xr0, xi0, hr0, hi0) = (rings[x0], rings[x0 + 1], data[h0], data[h0 + 1]);
                    let (xr1, xi1, hr1, hi1) = (rings[x1], rings[x1 + 1], data[h1], data[h1 + 1]);
                    let (xr2, xi2, hr2, hi2) = (rings[x2], rings[x2 + 1], data[h2], data[h2 + 1]);
                    let (xr3, xi3, hr3, hi3) = (rings[x3], rings[x3 + 1], data[h3], data[h3 + 1]);
                    let w1 = select(on1, 1.0f32, 0.0f32);
                    let w2 = select(on2, 1.0f32, 0.0f32);
                    let w3 = select(on3, 1.0f32, 0.0f32);
                    re += xr0 * hr0 - xi0 * hi0;
                    im += xr0 * hi0 + xi0 * hr0;
                    re += w1 * (xr1 * hr1 - xi1 * hi1);
                    im += w1 * (xr1 * hi1 + xi1 * hr1);
                    re += w2 * (xr2 * hr2 - xi2 * hi2);
                    im += w2 * (xr2 * hi2 + xi2 * hr2);
                    re += w3 * (xr3 * hr3 - xi3 * hi3);
                    im += w3 * (xr3 * hi3 + xi3 * hr3);
                    f = back(f3, step, parts);
                    p += 4 * groups;
                }
                sh[spectrum + 2 * j] = re;
                sh[spectrum + 2 * j + 1] = im;
                j += units;
            }
            sync_cube();
            let mut i = unit;
            while i < bins {
                let mut re = 0.0f32;
                let mut im = 0.0f32;
                for g in 0..groups {
                    re += sh[spectrum + 2 * (g * bins + i)];
                    im += sh[spectrum + 2 * (g * bins + i) + 1];
                }
                let r = bit_reverse(i, bits);
                sh[2 * r] = re;
                sh[2 * r + 1] = im;
                i += units;
            }
            sync_cube();
            fft_shared(sh, data, bins, true);
            let scale = comptime!(1.0f32 / (2 * block) as f32);
            let mut k = unit;
            while k < block {
                rings[out_ring + ((cursor + first + k) & at.mask)] = sh[2 * (block + k)] * scale;
                k += units;
            }
            sync_storage();
            sync_cube();
            slot = (slot + 1) % parts;
            first += block;
        }
    }

    // Head in direct form plus the tails: one unit per frame, or the taps split over the
    // units a short buffer leaves idle (partial sums in shared memory).
    let mut groups = units / n;
    if groups < 1 {
        groups = 1;
    }
    if groups == 1 {
        let mut t = unit;
        while t < n {
            let y = rings[out_ring + ((cursor + t) & at.mask)]
                + head_sum(data, rings, at, in_ring, cursor + t + ring_len, 0, 1);
            arena[dst + t] = finite_or_zero(y);
            t += units;
        }
    } else {
        let mut j = unit;
        while j < groups * n {
            let g = j / n;
            let t = j % n;
            sh[j] = head_sum(data, rings, at, in_ring, cursor + t + ring_len, g, groups);
            j += units;
        }
        sync_cube();
        let mut t = unit;
        while t < n {
            let mut y = rings[out_ring + ((cursor + t) & at.mask)];
            for g in 0..groups {
                y += sh[g * n + t];
            }
            arena[dst + t] = finite_or_zero(y);
            t += units;
        }
    }
    sync_cube();
    slot
}
