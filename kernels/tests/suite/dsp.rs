//! Classic DSP blocks: smoothed gain/mix, biquad bank, FIR, FFT, partitioned convolution.

use cubeaudio_kernels::biquad::{BiquadBank, BiquadCoefficients};
use cubeaudio_kernels::fft::{launch_fft, twiddles, FftConfig};
use cubeaudio_kernels::fir::FirBank;
use cubeaudio_kernels::gain::{smoothing_coefficient, SmoothedGain, SmoothedMix};
use cubeaudio_kernels::partitioned_conv::{RoutedConvolver, MAX_IR_LEN};
use cubeaudio_kernels::util::Buffer;
use cubeaudio_kernels::KernelError;
use cubecl::prelude::*;
use rand::Rng;

use crate::harness::{assert_close, random_vec, rng};

/// Targets change between buffers; the per-sample ramp must equal the f64 one-pole recurrence
/// and carry across buffer boundaries.
pub fn smoothed_gain_and_mix_follow_recurrence<R: Runtime>(client: &ComputeClient<R>) {
    let mut rng = rng("gain");
    let channels = 3;
    let coef = smoothing_coefficient(48_000.0, 0.002).unwrap();
    let mut gain = SmoothedGain::new(client, channels, coef, 1.0).unwrap();
    let mut mix = SmoothedMix::new(client, channels, coef, 0.0).unwrap();
    let mut g_state = [1.0f64; 3];
    let mut m_state = [0.0f64; 3];
    for frames in [64usize, 1, 200, 33] {
        let targets: Vec<f32> = (0..channels).map(|_| rng.gen_range(0.0..2.0)).collect();
        let mix_targets: Vec<f32> = (0..channels).map(|_| rng.gen_range(0.0..1.0)).collect();
        let x = random_vec(&mut rng, channels * frames, 1.0);
        let wet = random_vec(&mut rng, channels * frames, 1.0);
        let (xb, wb) = (Buffer::upload(client, &x), Buffer::upload(client, &wet));
        let out = Buffer::filled(client, x.len(), f32::NAN);
        gain.process(client, &xb, &out, &gain.targets(client, &targets).unwrap(), frames).unwrap();
        let mixed = Buffer::filled(client, x.len(), f32::NAN);
        mix.process(client, &xb, &wb, &mixed, &mix.targets(client, &mix_targets).unwrap(), frames).unwrap();
        let (mut eg, mut em) = (vec![0.0; x.len()], vec![0.0; x.len()]);
        for c in 0..channels {
            for t in 0..frames {
                let i = c * frames + t;
                g_state[c] += coef as f64 * (targets[c] as f64 - g_state[c]);
                m_state[c] += coef as f64 * (mix_targets[c] as f64 - m_state[c]);
                eg[i] = x[i] as f64 * g_state[c];
                em[i] = x[i] as f64 + m_state[c] * (wet[i] as f64 - x[i] as f64);
            }
        }
        assert_close(&format!("smoothed gain block {frames}"), &out.read(client, "gain").unwrap(), &eg, 1e-5);
        assert_close(&format!("smoothed mix block {frames}"), &mixed.read(client, "gain").unwrap(), &em, 1e-5);
    }
    assert!(matches!(gain.targets(client, &[1.0, f32::NAN, 1.0]), Err(KernelError::Invalid { .. })));
    assert!(smoothing_coefficient(0.0, 0.01).is_err());
}

pub fn biquad_bank_matches_f64_cascade<R: Runtime>(client: &ComputeClient<R>) {
    let mut rng = rng("biquad");
    let (channels, sections) = (37, 3);
    let coeffs: Vec<BiquadCoefficients> = (0..channels * sections)
        .map(|i| match i % 3 {
            0 => BiquadCoefficients::peaking(
                48_000.0,
                rng.gen_range(100.0..8000.0),
                rng.gen_range(0.5..4.0),
                rng.gen_range(-12.0..12.0),
            ),
            1 => BiquadCoefficients::lowpass(48_000.0, rng.gen_range(1000.0..16000.0), 0.707),
            _ => BiquadCoefficients::highpass(48_000.0, rng.gen_range(40.0..200.0), 0.707),
        })
        .collect();
    let mut bank = BiquadBank::new(client, channels, sections, &coeffs).unwrap();
    let mut state = vec![[0.0f64; 2]; channels * sections];
    for frames in [128usize, 5, 300] {
        let x = random_vec(&mut rng, channels * frames, 1.0);
        let out = Buffer::filled(client, x.len(), f32::NAN);
        bank.process(client, &Buffer::upload(client, &x), &out, frames).unwrap();
        let mut expected = vec![0.0f64; x.len()];
        for c in 0..channels {
            for t in 0..frames {
                let mut v = x[c * frames + t] as f64;
                for s in 0..sections {
                    let k = coeffs[c * sections + s].0.map(|v| v as f64);
                    let st = &mut state[c * sections + s];
                    let y = k[0] * v + st[0];
                    st[0] = k[1] * v - k[3] * y + st[1];
                    st[1] = k[2] * v - k[4] * y;
                    v = y;
                }
                expected[c * frames + t] = v;
            }
        }
        // A low-cutoff high-pass in f32 TDF-II carries ~1e-4 of rounding noise against exact
        // arithmetic on the same coefficients; that is the format's limit, not a kernel error.
        assert_close(&format!("biquad bank block {frames}"), &out.read(client, "biquad").unwrap(), &expected, 2e-4);
    }
    let bad = vec![BiquadCoefficients([f32::NAN, 0.0, 0.0, 0.0, 0.0]); 2];
    assert!(matches!(BiquadBank::new(client, 2, 1, &bad), Err(KernelError::Invalid { .. })));
    assert!(matches!(BiquadBank::new(client, 2, 2, &bad), Err(KernelError::SizeMismatch { .. })));
}

fn convolve_f64(x: &[f32], h: &[f32]) -> Vec<f64> {
    (0..x.len()).map(|t| h.iter().enumerate().take(t + 1).map(|(k, &hk)| hk as f64 * x[t - k] as f64).sum()).collect()
}

pub fn fir_bank_streams_exact_convolution<R: Runtime>(client: &ComputeClient<R>) {
    let mut rng = rng("fir");
    let (channels, taps) = (4, 300);
    let h = random_vec(&mut rng, channels * taps, 0.2);
    let blocks = [64usize, 1, 512, 100, 256];
    let total: usize = blocks.iter().sum();
    let x = random_vec(&mut rng, channels * total, 1.0);
    let mut fir = FirBank::new(client, channels, taps, 512, &h).unwrap();
    let mut got = vec![0.0f32; channels * total];
    let mut at = 0;
    for frames in blocks {
        let block: Vec<f32> = (0..channels).flat_map(|c| x[c * total + at..c * total + at + frames].to_vec()).collect();
        let out = Buffer::filled(client, block.len(), f32::NAN);
        fir.process(client, &Buffer::upload(client, &block), &out, frames).unwrap();
        let y = out.read(client, "fir").unwrap();
        for c in 0..channels {
            got[c * total + at..c * total + at + frames].copy_from_slice(&y[c * frames..(c + 1) * frames]);
        }
        at += frames;
    }
    let expected: Vec<f64> = (0..channels)
        .flat_map(|c| convolve_f64(&x[c * total..(c + 1) * total], &h[c * taps..(c + 1) * taps]))
        .collect();
    assert_close("fir bank", &got, &expected, 2e-5);
    let one = Buffer::upload(client, &vec![0.0; channels * 513]);
    assert!(matches!(fir.process(client, &one, &one, 513), Err(KernelError::TooLarge { .. })));
}

fn dft_f64(x: &[f32], inverse: bool) -> Vec<f64> {
    let n = x.len() / 2;
    let sign = if inverse { 1.0 } else { -1.0 };
    (0..n)
        .flat_map(|k| {
            let (mut re, mut im) = (0.0f64, 0.0f64);
            for t in 0..n {
                let a = sign * 2.0 * std::f64::consts::PI * ((k * t) % n) as f64 / n as f64;
                let (xr, xi) = (x[2 * t] as f64, x[2 * t + 1] as f64);
                re += xr * a.cos() - xi * a.sin();
                im += xr * a.sin() + xi * a.cos();
            }
            let scale = if inverse { 1.0 / n as f64 } else { 1.0 };
            [re * scale, im * scale]
        })
        .collect()
}

pub fn fft_matches_dft<R: Runtime>(client: &ComputeClient<R>) {
    let mut rng = rng("fft");
    for (size, inverse) in [(2usize, false), (8, true), (64, false), (256, true), (1024, false), (4096, false)] {
        let batch = 3;
        let x = random_vec(&mut rng, batch * 2 * size, 1.0);
        let out = Buffer::filled(client, x.len(), f32::NAN);
        let cfg = FftConfig { size, inverse, normalize: true };
        launch_fft(client, cfg, batch, &Buffer::upload(client, &x), &out, &Buffer::upload(client, &twiddles(size)))
            .unwrap();
        let expected: Vec<f64> = x.chunks(2 * size).flat_map(|c| dft_f64(c, inverse)).collect();
        // Scale by sqrt(n): an unnormalised transform's values grow like sqrt(n) for noise.
        let tol = 2e-7 * (size as f64).sqrt().max(1.0) * (size as f64).log2().max(1.0);
        assert_close(&format!("fft n={size} inverse={inverse}"), &out.read(client, "fft").unwrap(), &expected, tol);
    }
    let buf = Buffer::upload(client, &[0.0; 12]);
    let bad = FftConfig { size: 6, inverse: false, normalize: false };
    assert!(matches!(launch_fft(client, bad, 1, &buf, &buf, &buf), Err(KernelError::NotPowerOfTwo { .. })));
}

/// Routed channels of an arena convolved with a 1 s cabinet-like IR (decaying noise), a 5,000-tap
/// IR on an in-place route and a 77-tap IR (head only), through buffers of sizes that do not
/// align with the 128-frame blocks (1 to 1,000 frames), past the FDL's wrap: equal to the f64
/// direct convolution. Then `reset` replays the start exactly, and bad setups are refused.
pub fn partitioned_convolution_equals_direct<R: Runtime>(client: &ComputeClient<R>) {
    let mut rng = rng("partitioned_conv");
    let (block, max_frames) = (128, 1000);
    let long: Vec<f32> = (0..48_000).map(|i| rng.gen_range(-1.0..1.0) * (-(i as f32) / 4000.0).exp() * 0.05).collect();
    let mid: Vec<f32> = (0..5_000).map(|i| rng.gen_range(-1.0..1.0) * (-(i as f32) / 800.0).exp() * 0.1).collect();
    let short = random_vec(&mut rng, 77, 0.3);
    let irs = [long, mid, short];
    // (input slot, output slot): the mid IR reads and writes slot 2.
    let routes = [(0u32, 3u32), (2, 2), (1, 4)];
    let channels: Vec<((u32, u32), &[f32])> = routes.iter().zip(&irs).map(|(r, h)| (*r, h.as_slice())).collect();
    let mut conv = RoutedConvolver::new(client, &channels, max_frames, block).unwrap();
    assert_eq!(conv.partitions, 374);
    let sizes = [1usize, 37, 128, 500, 64, 1000, 255, 129];
    let buffers: Vec<usize> = sizes.iter().copied().cycle().take(8 * 25).collect();
    let total: usize = buffers.iter().sum(); // 52,850 frames: 412 blocks > 374 partitions
    let x: Vec<Vec<f32>> = (0..3).map(|_| random_vec(&mut rng, total, 1.0)).collect();
    let run = |conv: &mut RoutedConvolver, buffers: &[usize]| {
        let mut got = vec![Vec::new(); 3];
        let mut at = 0;
        for &frames in buffers {
            let mut arena = vec![f32::NAN; 5 * max_frames];
            for (c, &(src, _)) in routes.iter().enumerate() {
                arena[src as usize * max_frames..][..frames].copy_from_slice(&x[c][at..at + frames]);
            }
            let buf = Buffer::upload(client, &arena);
            let launches = conv.process(client, &buf, max_frames, frames).unwrap();
            let blocks = (at + frames) / block - at / block;
            assert_eq!(launches as usize, 3 + 3 * blocks, "launches for {frames} frames at {at}");
            let y = buf.read(client, "partitioned_conv").unwrap();
            for (c, &(_, dst)) in routes.iter().enumerate() {
                got[c].extend_from_slice(&y[dst as usize * max_frames..][..frames]);
            }
            at += frames;
        }
        got
    };
    let got = run(&mut conv, &buffers);
    for (c, name) in ["1 s IR", "5,000-tap IR in place", "77-tap IR"].iter().enumerate() {
        let expected = convolve_f64(&x[c][..total], &irs[c]);
        assert_close(&format!("partitioned conv, {name}, block 128, buffers 1…1000"), &got[c], &expected, 2e-5);
    }
    conv.reset(client);
    let again = run(&mut conv, &buffers[..6]);
    for c in 0..3 {
        assert_eq!(again[c], got[c][..again[c].len()], "channel {c} after reset");
    }

    let short: &[f32] = &irs[2];
    let one = |ir: &[f32], block| RoutedConvolver::new(client, &[((0, 1), ir)], 64, block);
    assert!(matches!(one(short, 100), Err(KernelError::NotPowerOfTwo { .. })));
    assert!(matches!(one(short, 4096), Err(KernelError::TooLarge { .. })));
    assert!(matches!(one(&[], 64), Err(KernelError::Invalid { .. })));
    assert!(matches!(one(&[0.0, f32::NAN], 64), Err(KernelError::Invalid { .. })));
    assert!(matches!(one(&vec![0.0; MAX_IR_LEN + 1], 64), Err(KernelError::TooLarge { .. })));
    // 35 channels of 10 s at 96 kHz in 64-frame blocks: past the memory bound, refused before
    // anything is computed.
    let longest = vec![0.0f32; MAX_IR_LEN];
    let many: Vec<((u32, u32), &[f32])> = (0..35).map(|c| ((c, c), longest.as_slice())).collect();
    assert!(matches!(
        RoutedConvolver::new(client, &many, 64, 64),
        Err(KernelError::TooLarge { what: "bytes of spectra and delay lines", .. })
    ));
    let mut small = one(short, 64).unwrap();
    let arena = Buffer::upload(client, &[0.0; 2 * 128]);
    assert!(matches!(small.process(client, &arena, 128, 65), Err(KernelError::TooLarge { .. })));
    // Slot 1 (the output) lies past an arena of one slot.
    let one_slot = Buffer::upload(client, &[0.0; 64]);
    assert!(matches!(small.process(client, &one_slot, 64, 32), Err(KernelError::TooLarge { .. })));
}

cubeaudio_kernels::for_each_runtime!(
    smoothed_gain_and_mix_follow_recurrence,
    biquad_bank_matches_f64_cascade,
    fir_bank_streams_exact_convolution,
    fft_matches_dft,
    partitioned_convolution_equals_direct,
);
