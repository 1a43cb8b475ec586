use cubeaudio_kernels::activation::{launch_activation, launch_gating, ActivationKind, ActivationParams, GatingMode};
use cubeaudio_kernels::util::Buffer;
use cubecl::prelude::*;

use crate::harness::{assert_close, random_vec, rng};

const ALL: [ActivationKind; 12] = [
    ActivationKind::Identity,
    ActivationKind::Tanh,
    ActivationKind::FastTanh,
    ActivationKind::Sigmoid,
    ActivationKind::ReLU,
    ActivationKind::LeakyReLU,
    ActivationKind::PReLU,
    ActivationKind::Hardtanh,
    ActivationKind::LeakyHardtanh,
    ActivationKind::Softsign,
    ActivationKind::SiLU,
    ActivationKind::Hardswish,
];

/// NAM's fast tanh evaluated in f64: the GPU must match the formula, not the true tanh.
pub fn fast_tanh_ref(x: f64) -> f64 {
    let ax = x.abs();
    let x2 = x * x;
    x * (2.45550750702956 + 2.45550750702956 * ax + (0.893229853513558 + 0.821226666969744 * ax) * x2)
        / (2.44506634652299 + (2.44506634652299 + x2) * (x + 0.814642734961073 * x * ax).abs())
}

pub fn activation_ref(kind: ActivationKind, x: f64, p: &ActivationParams, channel: usize) -> f64 {
    let sig = |x: f64| 1.0 / (1.0 + (-x).exp());
    match kind {
        ActivationKind::Identity => x,
        ActivationKind::Tanh => x.tanh(),
        ActivationKind::FastTanh => fast_tanh_ref(x),
        ActivationKind::Sigmoid => sig(x),
        ActivationKind::ReLU => x.max(0.0),
        ActivationKind::LeakyReLU => {
            if x > 0.0 {
                x
            } else {
                p.negative_slope as f64 * x
            }
        }
        ActivationKind::PReLU => {
            if x > 0.0 {
                x
            } else {
                p.channel_slopes[channel] as f64 * x
            }
        }
        ActivationKind::Hardtanh => x.clamp(-1.0, 1.0),
        ActivationKind::LeakyHardtanh => {
            let (lo, hi) = (p.min_val as f64, p.max_val as f64);
            if x < lo {
                (x - lo) * p.min_slope as f64 + lo
            } else if x > hi {
                (x - hi) * p.max_slope as f64 + hi
            } else {
                x
            }
        }
        ActivationKind::Softsign => x / (1.0 + x.abs()),
        ActivationKind::SiLU => x * sig(x),
        ActivationKind::Hardswish => x * (x + 3.0).clamp(0.0, 6.0) / 6.0,
    }
}

fn random_params(rng: &mut rand::rngs::SmallRng, channels: usize) -> ActivationParams {
    use rand::Rng;
    ActivationParams {
        negative_slope: rng.gen_range(0.0..0.3),
        min_val: rng.gen_range(-2.0..-0.5),
        max_val: rng.gen_range(0.5..2.0),
        min_slope: rng.gen_range(0.0..0.2),
        max_slope: rng.gen_range(0.0..0.2),
        channel_slopes: (0..channels).map(|_| rng.gen_range(0.0..0.5)).collect(),
    }
}

pub fn every_activation_matches_reference<R: Runtime>(client: &ComputeClient<R>) {
    let mut rng = rng("activation");
    let (channels, frames) = (5, 203);
    let mut input = random_vec(&mut rng, channels * frames, 6.0);
    // Saturation and sign edge cases that naive exp-based formulas get wrong.
    input[..8].copy_from_slice(&[0.0, -0.0, 30.0, -30.0, 100.0, -100.0, 1e-7, -1e-7]);
    let params = random_params(&mut rng, channels);
    let x = Buffer::upload(client, &input);
    let p = Buffer::upload(client, &params.to_array());
    for kind in ALL {
        let out = Buffer::filled(client, input.len(), f32::NAN);
        launch_activation(client, &x, &out, &p, channels, frames, kind).unwrap();
        let got = out.read(client, "activation").unwrap();
        let expected: Vec<f64> =
            input.iter().enumerate().map(|(i, &v)| activation_ref(kind, v as f64, &params, i / frames)).collect();
        assert_close(&format!("{kind:?}"), &got, &expected, 2e-6);
    }
}

pub fn gating_matches_reference<R: Runtime>(client: &ComputeClient<R>) {
    let mut rng = rng("gating");
    let (channels, frames) = (4, 97);
    let input = random_vec(&mut rng, 2 * channels * frames, 4.0);
    let params = random_params(&mut rng, channels);
    let x = Buffer::upload(client, &input);
    let p = Buffer::upload(client, &params.to_array());
    for (mode, primary, secondary) in [
        (GatingMode::Gated, ActivationKind::Tanh, ActivationKind::Sigmoid),
        (GatingMode::Gated, ActivationKind::FastTanh, ActivationKind::Sigmoid),
        (GatingMode::Blended, ActivationKind::PReLU, ActivationKind::Sigmoid),
        (GatingMode::Blended, ActivationKind::LeakyHardtanh, ActivationKind::Softsign),
    ] {
        let out = Buffer::filled(client, channels * frames, f32::NAN);
        launch_gating(client, &x, &out, &p, &p, channels, frames, primary, secondary, mode).unwrap();
        let got = out.read(client, "gating").unwrap();
        let expected: Vec<f64> = (0..channels * frames)
            .map(|i| {
                let c = i / frames;
                let a = input[i] as f64;
                let b = input[i + channels * frames] as f64;
                let act = activation_ref(primary, a, &params, c);
                let sec = activation_ref(secondary, b, &params, c);
                match mode {
                    GatingMode::Gated => act * sec,
                    GatingMode::Blended => sec * act + (1.0 - sec) * a,
                }
            })
            .collect();
        assert_close(&format!("{mode:?} {primary:?}/{secondary:?}"), &got, &expected, 2e-6);
    }
}

pub fn bad_sizes_are_typed_errors<R: Runtime>(client: &ComputeClient<R>) {
    let x = Buffer::upload(client, &[0.0; 10]);
    let out = Buffer::upload(client, &[0.0; 9]);
    let p = Buffer::upload(client, &ActivationParams::default().to_array());
    assert!(launch_activation(client, &x, &out, &p, 2, 5, ActivationKind::Tanh).is_err());
    assert!(launch_activation(client, &x, &x, &p, 2, 0, ActivationKind::Tanh).is_err());
    // PReLU needs one slope per channel.
    assert!(launch_activation(client, &x, &x, &p, 2, 5, ActivationKind::PReLU).is_err());
}

cubeaudio_kernels::for_each_runtime!(
    every_activation_matches_reference,
    gating_matches_reference,
    bad_sizes_are_typed_errors
);
