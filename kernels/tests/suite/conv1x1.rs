use cubeaudio_kernels::activation::{ActivationKind, ActivationParams};
use cubeaudio_kernels::conv1x1::{launch_conv1x1, Conv1x1Config, InputSource};
use cubeaudio_kernels::util::Buffer;
use cubeaudio_kernels::KernelError;
use cubecl::prelude::*;

use crate::activation::activation_ref;
use crate::harness::{assert_close, random_vec, rng};
use crate::oracle::burn_conv1x1;

/// Batched instances with distinct weights, both input sources, with and without bias and a
/// fused activation; frames not a multiple of the tile. Checked against Burn's matmul.
pub fn conv1x1_matches_burn<R: Runtime>(client: &ComputeClient<R>) {
    let mut rng = rng("conv1x1");
    let params = ActivationParams::default();
    let p = Buffer::upload(client, &params.to_array());
    for (m, k, frames, instances, input, has_bias, activation) in [
        (16, 16, 130, 3, InputSource::Shared, true, ActivationKind::Identity),
        (8, 16, 64, 2, InputSource::Registers, true, ActivationKind::FastTanh),
        (1, 8, 77, 4, InputSource::Shared, false, ActivationKind::Identity),
        (32, 3, 200, 1, InputSource::Registers, false, ActivationKind::LeakyReLU),
    ] {
        let cfg = Conv1x1Config { out_channels: m, in_channels: k, has_bias, activation, input, tile_frames: 32 };
        let w = random_vec(&mut rng, instances * m * k, 0.5);
        let b = random_vec(&mut rng, instances * m, 0.5);
        let x = random_vec(&mut rng, instances * k * frames, 1.0);
        let out = Buffer::filled(client, instances * m * frames, f32::NAN);
        launch_conv1x1(
            client,
            cfg,
            instances,
            frames,
            &Buffer::upload(client, &w),
            &Buffer::upload(client, &b),
            &Buffer::upload(client, &x),
            &out,
            &p,
        )
        .unwrap();
        let mut expected = Vec::new();
        for i in 0..instances {
            let bias = has_bias.then(|| &b[i * m..(i + 1) * m]);
            let y = burn_conv1x1(
                &x[i * k * frames..(i + 1) * k * frames],
                k,
                frames,
                &w[i * m * k..(i + 1) * m * k],
                m,
                bias,
            );
            expected
                .extend(y.iter().enumerate().map(|(j, &v)| activation_ref(activation, v as f64, &params, j / frames)));
        }
        let what = format!("conv1x1 {m}x{k}x{frames} x{instances} {input:?} bias={has_bias} {activation:?}");
        assert_close(&what, &out.read(client, "conv1x1").unwrap(), &expected, 2e-5);
    }
}

pub fn conv1x1_rejects_bad_sizes<R: Runtime>(client: &ComputeClient<R>) {
    let cfg = Conv1x1Config::new(4, 4);
    let w = Buffer::upload(client, &[0.0; 16]);
    let b = Buffer::upload(client, &[0.0; 4]);
    let x = Buffer::upload(client, &[0.0; 40]);
    let y = Buffer::upload(client, &[0.0; 40]);
    let p = Buffer::upload(client, &ActivationParams::default().to_array());
    assert!(matches!(launch_conv1x1(client, cfg, 1, 10, &w, &b, &x, &y, &p), Ok(())));
    assert!(matches!(launch_conv1x1(client, cfg, 1, 0, &w, &b, &x, &y, &p), Err(KernelError::Zero { .. })));
    assert!(matches!(
        launch_conv1x1(client, cfg, 2, 10, &w, &b, &x, &y, &p),
        Err(KernelError::SizeMismatch { what: "weights", .. })
    ));
    assert!(matches!(
        launch_conv1x1(client, cfg, 1, 11, &w, &b, &x, &y, &p),
        Err(KernelError::SizeMismatch { what: "input", .. })
    ));
    let huge = Conv1x1Config::new(100_000, 4);
    assert!(matches!(launch_conv1x1(client, huge, 1, 10, &w, &b, &x, &y, &p), Err(KernelError::TooLarge { .. })));
}

cubeaudio_kernels::for_each_runtime!(conv1x1_matches_burn, conv1x1_rejects_bad_sizes);
