//! Arena-routed batch kernels against f64 references: random slot assignments, several buffers
//! of different lengths (state must carry across), output slots poisoned with NaN, and every slot
//! the kernel must not write checked unchanged.

use cubeaudio_kernels::biquad::BiquadCoefficients;
use cubeaudio_kernels::gain::smoothing_coefficient;
use cubeaudio_kernels::routed::{
    check_copy_routes, copy_routes, GateSettings, RoutedBiquad, RoutedFir, RoutedGain, RoutedGate, RoutedMix,
    MAX_FIR_TAPS,
};
use cubeaudio_kernels::util::{Buffer, IndexBuffer};
use cubeaudio_kernels::KernelError;
use cubecl::prelude::*;
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::Rng;

use crate::harness::{assert_close, random_vec, rng};

const STRIDE: usize = 96;
const SLOTS: usize = 24;
const FRAMES: [usize; 4] = [96, 1, 37, 64];

/// `n` distinct (input, output) slot pairs, inputs and outputs disjoint, in random places.
fn random_routes(rng: &mut SmallRng, n: usize) -> Vec<(u32, u32)> {
    let mut slots: Vec<u32> = (0..SLOTS as u32).collect();
    slots.shuffle(rng);
    (0..n).map(|c| (slots[c], slots[n + c])).collect()
}

/// A random arena with NaN in `outputs`; returns the host copy.
fn arena_for(rng: &mut SmallRng, outputs: &[u32]) -> Vec<f32> {
    let mut a = random_vec(rng, SLOTS * STRIDE, 1.0);
    for &o in outputs {
        a[o as usize * STRIDE..(o as usize + 1) * STRIDE].fill(f32::NAN);
    }
    a
}

/// Compares the written frames of every output slot with `expected[c]`, and every other
/// element with the arena before the launch.
fn check_arena(
    what: &str,
    before: &[f32],
    after: &[f32],
    outputs: &[u32],
    expected: &[Vec<f64>],
    frames: usize,
    tol: f64,
) {
    for (c, &o) in outputs.iter().enumerate() {
        let base = o as usize * STRIDE;
        assert_close(&format!("{what} channel {c} ({frames} frames)"), &after[base..base + frames], &expected[c], tol);
    }
    for (i, (a, b)) in after.iter().zip(before).enumerate() {
        let written = outputs.iter().any(|&o| i / STRIDE == o as usize && i % STRIDE < frames);
        if !written {
            assert!(a.to_bits() == b.to_bits(), "{what}: element {i} outside the written frames changed ({b} → {a})");
        }
    }
}

fn input_of(arena: &[f32], slot: u32, frames: usize) -> &[f32] {
    &arena[slot as usize * STRIDE..slot as usize * STRIDE + frames]
}

pub fn routed_gain_smooths_per_channel<R: Runtime>(client: &ComputeClient<R>) {
    let mut rng = rng("routed gain");
    let routes = random_routes(&mut rng, 5);
    let coef = smoothing_coefficient(48_000.0, 0.001).unwrap();
    let initial: Vec<f32> = (0..routes.len()).map(|_| rng.gen_range(0.0..1.0)).collect();
    let mut gain = RoutedGain::new(client, &routes, coef, &initial).unwrap();
    let mut g: Vec<f64> = initial.iter().map(|&v| v as f64).collect();
    let outputs: Vec<u32> = routes.iter().map(|r| r.1).collect();
    for frames in FRAMES {
        let targets: Vec<f32> = (0..routes.len()).map(|_| rng.gen_range(0.0..2.0)).collect();
        gain.set_targets(client, &targets).unwrap();
        let host = arena_for(&mut rng, &outputs);
        let arena = Buffer::upload(client, &host);
        gain.process(client, &arena, STRIDE, frames).unwrap();
        let expected: Vec<Vec<f64>> = routes
            .iter()
            .enumerate()
            .map(|(c, r)| {
                input_of(&host, r.0, frames)
                    .iter()
                    .map(|&x| {
                        g[c] += coef as f64 * (targets[c] as f64 - g[c]);
                        x as f64 * g[c]
                    })
                    .collect()
            })
            .collect();
        check_arena("routed gain", &host, &arena.read(client, "routed").unwrap(), &outputs, &expected, frames, 1e-5);
    }
    assert!(gain.set_targets(client, &[1.0, 1.0, f32::INFINITY, 1.0, 1.0]).is_err());
    let small = Buffer::filled(client, 4 * STRIDE, 0.0);
    assert!(
        matches!(gain.process(client, &small, STRIDE, 8), Err(KernelError::TooLarge { .. })),
        "slots past the arena must be refused"
    );
    assert!(gain.process(client, &small, STRIDE, STRIDE + 1).is_err());
}

pub fn routed_mix_sums_smoothed_inputs<R: Runtime>(client: &ComputeClient<R>) {
    let mut rng = rng("routed mix");
    let mut slots: Vec<u32> = (0..SLOTS as u32).collect();
    slots.shuffle(&mut rng);
    // Two output channels; the second reads one input slot twice (fan-out inside a mix).
    let routes = vec![
        ([slots[0], slots[1], slots[2], slots[3]], slots[8]),
        ([slots[4], slots[5], slots[4], slots[6]], slots[9]),
    ];
    let coef = smoothing_coefficient(48_000.0, 0.0005).unwrap();
    let initial: Vec<f32> = (0..8).map(|_| rng.gen_range(0.0..1.0)).collect();
    let mut mix = RoutedMix::new(client, &routes, coef, &initial).unwrap();
    let mut g: Vec<f64> = initial.iter().map(|&v| v as f64).collect();
    let outputs: Vec<u32> = routes.iter().map(|r| r.1).collect();
    for frames in FRAMES {
        let targets: Vec<f32> = (0..8).map(|_| rng.gen_range(-1.0..2.0)).collect();
        mix.set_targets(client, &targets).unwrap();
        let host = arena_for(&mut rng, &outputs);
        let arena = Buffer::upload(client, &host);
        mix.process(client, &arena, STRIDE, frames).unwrap();
        let mut expected = vec![vec![0.0f64; frames]; 2];
        for (c, (ins, _)) in routes.iter().enumerate() {
            for (t, e) in expected[c].iter_mut().enumerate() {
                for (k, &slot) in ins.iter().enumerate() {
                    let j = c * 4 + k;
                    g[j] += coef as f64 * (targets[j] as f64 - g[j]);
                    *e += g[j] * input_of(&host, slot, frames)[t] as f64;
                }
            }
        }
        check_arena("routed mix", &host, &arena.read(client, "routed").unwrap(), &outputs, &expected, frames, 1e-5);
    }
}

pub fn routed_biquad_matches_f64<R: Runtime>(client: &ComputeClient<R>) {
    let mut rng = rng("routed biquad");
    let routes = random_routes(&mut rng, 7);
    let design = |rng: &mut SmallRng| -> Vec<BiquadCoefficients> {
        (0..routes.len())
            .map(|c| match c % 3 {
                0 => BiquadCoefficients::peaking(
                    48_000.0,
                    rng.gen_range(100.0..8000.0),
                    rng.gen_range(0.5..4.0),
                    rng.gen_range(-12.0..12.0),
                ),
                1 => BiquadCoefficients::lowpass(48_000.0, rng.gen_range(1000.0..16000.0), 0.707),
                _ => BiquadCoefficients::highpass(48_000.0, rng.gen_range(40.0..200.0), 0.707),
            })
            .collect()
    };
    let mut coeffs = design(&mut rng);
    let mut bank = RoutedBiquad::new(client, &routes, &coeffs).unwrap();
    let mut state = vec![[0.0f64; 2]; routes.len()];
    let outputs: Vec<u32> = routes.iter().map(|r| r.1).collect();
    for (i, frames) in FRAMES.into_iter().enumerate() {
        if i == 2 {
            // A knob turn between buffers: new coefficients, state kept.
            coeffs = design(&mut rng);
            bank.set_coefficients(client, &coeffs).unwrap();
        }
        let host = arena_for(&mut rng, &outputs);
        let arena = Buffer::upload(client, &host);
        bank.process(client, &arena, STRIDE, frames).unwrap();
        let expected: Vec<Vec<f64>> = routes
            .iter()
            .enumerate()
            .map(|(c, r)| {
                let k = coeffs[c].0.map(|v| v as f64);
                let st = &mut state[c];
                input_of(&host, r.0, frames)
                    .iter()
                    .map(|&x| {
                        let x = x as f64;
                        let y = k[0] * x + st[0];
                        st[0] = k[1] * x - k[3] * y + st[1];
                        st[1] = k[2] * x - k[4] * y;
                        y
                    })
                    .collect()
            })
            .collect();
        // An f32 recurrence near a high-Q pole drifts from the f64 one by ~1e-5 over a buffer.
        check_arena("routed biquad", &host, &arena.read(client, "routed").unwrap(), &outputs, &expected, frames, 2e-4);
    }
    let mut bad = coeffs.clone();
    bad[3].0[1] = f32::NAN;
    assert!(bank.set_coefficients(client, &bad).is_err());
}

pub fn routed_gate_opens_and_closes_like_reference<R: Runtime>(client: &ComputeClient<R>) {
    let mut rng = rng("routed gate");
    let routes = random_routes(&mut rng, 4);
    let settings: Vec<GateSettings> = (0..routes.len())
        .map(|_| GateSettings {
            threshold: rng.gen_range(0.2..0.5),
            attack: smoothing_coefficient(48_000.0, rng.gen_range(0.0001..0.002)).unwrap(),
            release: smoothing_coefficient(48_000.0, rng.gen_range(0.0001..0.001)).unwrap(),
            envelope_fall: rng.gen_range(0.8..0.95),
        })
        .collect();
    let mut gate = RoutedGate::new(client, &routes, &settings).unwrap();
    let mut state = vec![(0.0f64, 0.0f64); routes.len()];
    let outputs: Vec<u32> = routes.iter().map(|r| r.1).collect();
    let (mut opened, mut closed) = (0, 0);
    for (i, frames) in FRAMES.into_iter().chain(FRAMES).enumerate() {
        let mut host = arena_for(&mut rng, &outputs);
        // Alternate loud and near-silent buffers so the gate really opens and closes.
        if i % 2 == 1 {
            host.iter_mut().filter(|v| v.is_finite()).for_each(|v| *v *= 0.001);
        }
        let arena = Buffer::upload(client, &host);
        gate.process(client, &arena, STRIDE, frames).unwrap();
        let expected: Vec<Vec<f64>> = routes
            .iter()
            .enumerate()
            .map(|(c, r)| {
                let s = settings[c];
                let (env, g) = &mut state[c];
                input_of(&host, r.0, frames)
                    .iter()
                    .map(|&x| {
                        let x = x as f64;
                        *env = x.abs().max(*env * s.envelope_fall as f64);
                        let (target, coef) = if *env > s.threshold as f64 { (1.0, s.attack) } else { (0.0, s.release) };
                        *g += coef as f64 * (target - *g);
                        x * *g
                    })
                    .collect()
            })
            .collect();
        opened += state.iter().filter(|s| s.1 > 0.5).count();
        closed += state.iter().filter(|s| s.1 < 0.5).count();
        check_arena("routed gate", &host, &arena.read(client, "routed").unwrap(), &outputs, &expected, frames, 1e-5);
    }
    assert!(
        opened > 0 && closed > 0,
        "the test signal must both open and close the gate ({opened} open, {closed} closed)"
    );
    let mut bad = settings.clone();
    bad[0].attack = 0.0;
    assert!(gate.set_settings(client, &bad).is_err());
}

pub fn routed_fir_streams_exact_convolution<R: Runtime>(client: &ComputeClient<R>) {
    let mut rng = rng("routed fir");
    let routes = random_routes(&mut rng, 4);
    let lengths = [1usize, 17, 300, 1024];
    let taps: Vec<Vec<f32>> = lengths.iter().map(|&n| random_vec(&mut rng, n, 0.5)).collect();
    let channels: Vec<((u32, u32), &[f32])> = routes.iter().zip(&taps).map(|(r, h)| (*r, h.as_slice())).collect();
    let mut fir = RoutedFir::new(client, &channels, STRIDE).unwrap();
    let mut history: Vec<Vec<f32>> = vec![Vec::new(); routes.len()];
    let outputs: Vec<u32> = routes.iter().map(|r| r.1).collect();
    for frames in FRAMES.into_iter().chain(FRAMES).chain(FRAMES) {
        let host = arena_for(&mut rng, &outputs);
        let arena = Buffer::upload(client, &host);
        fir.process(client, &arena, STRIDE, frames).unwrap();
        let expected: Vec<Vec<f64>> = routes
            .iter()
            .enumerate()
            .map(|(c, r)| {
                let start = history[c].len();
                history[c].extend_from_slice(input_of(&host, r.0, frames));
                (start..history[c].len())
                    .map(|n| {
                        taps[c]
                            .iter()
                            .enumerate()
                            .filter(|(k, _)| *k <= n)
                            .map(|(k, h)| *h as f64 * history[c][n - k] as f64)
                            .sum()
                    })
                    .collect()
            })
            .collect();
        check_arena("routed fir", &host, &arena.read(client, "routed").unwrap(), &outputs, &expected, frames, 1e-5);
    }
    let too_long = vec![0.0f32; MAX_FIR_TAPS + 1];
    assert!(matches!(
        RoutedFir::new(client, &[((0, 1), too_long.as_slice())], STRIDE),
        Err(KernelError::TooLarge { .. })
    ));
    assert!(RoutedFir::new(client, &[((0, 1), [f32::NAN].as_slice())], STRIDE).is_err());
}

pub fn routed_copy_moves_every_route<R: Runtime>(client: &ComputeClient<R>) {
    let mut rng = rng("routed copy");
    let src_host = random_vec(&mut rng, 8 * STRIDE, 1.0);
    let routes: Vec<(u32, u32)> =
        vec![(0, 5 * STRIDE as u32), (3 * STRIDE as u32, 0), (7 * STRIDE as u32, 2 * STRIDE as u32)];
    check_copy_routes(&routes, src_host.len(), SLOTS * STRIDE, STRIDE).unwrap();
    assert!(check_copy_routes(&[(7 * STRIDE as u32 + 1, 0)], src_host.len(), SLOTS * STRIDE, STRIDE).is_err());
    let flat: Vec<u32> = routes.iter().flat_map(|&(s, d)| [s, d]).collect();
    let table = IndexBuffer::upload(client, &flat);
    for frames in FRAMES {
        let dst_host = vec![f32::NAN; SLOTS * STRIDE];
        let (src, dst) = (Buffer::upload(client, &src_host), Buffer::upload(client, &dst_host));
        copy_routes(client, &src, &dst, &table, frames).unwrap();
        let out = dst.read(client, "routed").unwrap();
        for (i, v) in out.iter().enumerate() {
            let hit = routes.iter().find(|(_, d)| i >= *d as usize && i < *d as usize + frames);
            match hit {
                Some((s, d)) => assert_eq!(*v, src_host[*s as usize + i - *d as usize], "copy element {i}"),
                None => assert!(v.is_nan(), "copy wrote element {i} outside its routes"),
            }
        }
    }
    println!("[kernel-test] routed copy: every routed element equal, nothing else written");
    assert!(copy_routes(
        client,
        &Buffer::upload(client, &src_host),
        &Buffer::upload(client, &src_host),
        &IndexBuffer::upload(client, &[1]),
        4
    )
    .is_err());
}

/// Issue #16, defect 8: an overflow never poisons state. An FIR whose taps each pass validation
/// sums a burst past f32 (its output lands as silence, the rest as the f64 reference); a peaking
/// biquad fed finite ±3e38 overflows its recursion (its state restarts, every output finite),
/// and once the burst is past it gives what a filter that never saw the burst gives.
pub fn routed_overflow_never_poisons_state<R: Runtime>(client: &ComputeClient<R>) {
    let taps = [1e38f32; 4];
    let mut fir = RoutedFir::new(client, &[((0, 1), taps.as_slice())], STRIDE).unwrap();
    let peaking = BiquadCoefficients::peaking(48_000.0, 1000.0, 0.7, 12.0);
    let mut bank = RoutedBiquad::new(client, &[(2, 3)], &[peaking]).unwrap();
    let mut rng = rng("routed overflow");
    let mut fresh = [0.0f64; 2];
    let mut fir_history: Vec<f32> = Vec::new();
    let (mut zeroed, mut compared) = (0, 0);
    for buffer in 0..40 {
        let mut host = vec![0.0f32; SLOTS * STRIDE];
        let (fir_in, eq_in) = (&mut host[..STRIDE], &mut vec![0.0f32; STRIDE]);
        if buffer == 0 {
            // The burst: alternating full-scale into the FIR, ±3e38 into the biquad.
            fir_in.iter_mut().enumerate().for_each(|(t, v)| *v = if t % 2 == 0 { 4.0 } else { -4.0 });
            eq_in.iter_mut().enumerate().for_each(|(t, v)| *v = if t % 2 == 0 { 3e38 } else { -3e38 });
        } else if buffer >= 30 {
            // Past the burst (and 29 buffers of silence): ordinary signal.
            eq_in.copy_from_slice(&random_vec(&mut rng, STRIDE, 0.5));
        }
        let fir_input = host[..STRIDE].to_vec();
        host[2 * STRIDE..3 * STRIDE].copy_from_slice(eq_in);
        let arena = Buffer::upload(client, &host);
        fir.process(client, &arena, STRIDE, STRIDE).unwrap();
        bank.process(client, &arena, STRIDE, STRIDE).unwrap();
        let out = arena.read(client, "routed").unwrap();
        let (fir_out, eq_out) = (&out[STRIDE..2 * STRIDE], &out[3 * STRIDE..4 * STRIDE]);
        assert!(fir_out.iter().chain(eq_out).all(|v| v.is_finite()), "buffer {buffer}: non-finite output");
        let start = fir_history.len();
        fir_history.extend_from_slice(&fir_input);
        for (t, y) in fir_out.iter().enumerate() {
            let n = start + t;
            let want: f64 = (0..taps.len().min(n + 1)).map(|k| taps[k] as f64 * fir_history[n - k] as f64).sum();
            if want.abs() > f32::MAX as f64 {
                assert_eq!(*y, 0.0, "an overflowing FIR sum must land as silence");
                zeroed += 1;
            } else {
                assert!((*y as f64 - want).abs() <= 1e-5 * want.abs().max(1.0), "fir {n}: {y} vs {want}");
            }
        }
        if buffer >= 30 {
            let k = peaking.0.map(|v| v as f64);
            for (x, y) in eq_in.iter().zip(eq_out) {
                let x = *x as f64;
                let want = k[0] * x + fresh[0];
                fresh[0] = k[1] * x - k[3] * want + fresh[1];
                fresh[1] = k[2] * x - k[4] * want;
                assert!((*y as f64 - want).abs() <= 1e-4, "biquad after the burst: {y} vs {want}");
                compared += 1;
            }
        }
    }
    println!("[kernel-test] routed overflow: {zeroed} overflowing FIR sums landed as 0, {compared} biquad samples after the burst equal a fresh filter");
    assert!(zeroed > 0 && compared > 0);
}

cubeaudio_kernels::for_each_runtime!(
    routed_overflow_never_poisons_state,
    routed_gain_smooths_per_channel,
    routed_mix_sums_smoothed_inputs,
    routed_biquad_matches_f64,
    routed_gate_opens_and_closes_like_reference,
    routed_fir_streams_exact_convolution,
    routed_copy_moves_every_route,
);
