use cubeaudio_kernels::dilated_conv::{DilatedConv, DilatedConvConfig, HistorySource};
use cubeaudio_kernels::util::Buffer;
use cubeaudio_kernels::KernelError;
use cubecl::prelude::*;

use crate::harness::{assert_close, random_vec, rng, to_f64};
use crate::oracle::{burn_causal_conv1d, causal_conv1d_f64};

/// Streams a long signal through the GPU conv in blocks of changing size (the ring wraps many
/// times) and compares the concatenated output with one Burn conv1d over the whole signal and
/// with an f64 loop.
pub fn dilated_conv_streams_like_burn<R: Runtime>(client: &ComputeClient<R>) {
    let mut rng = rng("dilated_conv");
    for (cin, cout, kernel, dilation, history, bias) in [
        (16, 32, 3, 1, HistorySource::SharedTile, true),
        (16, 32, 3, 64, HistorySource::Global, true),
        (4, 4, 3, 512, HistorySource::Global, false),
        (2, 3, 6, 17, HistorySource::SharedTile, true),
        (1, 8, 16, 1, HistorySource::Global, true),
    ] {
        let instances = 2;
        let blocks = [64usize, 32, 100, 1, 64, 128, 7, 200];
        let total: usize = blocks.iter().sum();
        let mut cfg = DilatedConvConfig::new(cin, cout, kernel, dilation, 256);
        cfg.history = history;
        cfg.has_bias = bias;
        cfg.tile_frames = 32;
        let w = random_vec(&mut rng, instances * cfg.weights_len(), 0.5);
        let b = random_vec(&mut rng, instances * cout, 0.5);
        let signal = random_vec(&mut rng, instances * cin * total, 1.0);
        let (w_buf, b_buf) = (Buffer::upload(client, &w), Buffer::upload(client, &b));
        let mut conv = DilatedConv::new(client, cfg, instances).unwrap();
        let mut got = vec![vec![0.0f32; cout * total]; instances];
        let mut at = 0;
        for frames in blocks {
            let mut block = Vec::with_capacity(instances * cin * frames);
            for i in 0..instances {
                for c in 0..cin {
                    let row = (i * cin + c) * total;
                    block.extend_from_slice(&signal[row + at..row + at + frames]);
                }
            }
            let out = Buffer::filled(client, instances * cout * frames, f32::NAN);
            conv.process(client, &w_buf, &b_buf, &Buffer::upload(client, &block), &out, frames).unwrap();
            let y = out.read(client, "dilated_conv").unwrap();
            for (i, g) in got.iter_mut().enumerate() {
                for o in 0..cout {
                    let src = (i * cout + o) * frames;
                    g[o * total + at..o * total + at + frames].copy_from_slice(&y[src..src + frames]);
                }
            }
            at += frames;
        }
        for i in 0..instances {
            let x = &signal[i * cin * total..(i + 1) * cin * total];
            let wi = &w[i * cfg.weights_len()..(i + 1) * cfg.weights_len()];
            let bi = bias.then(|| &b[i * cout..(i + 1) * cout]);
            let what = format!("dilated conv {cin}->{cout} K{kernel} d{dilation} {history:?} instance {i}");
            let burn = burn_causal_conv1d(x, cin, total, wi, cout, kernel, dilation, bi);
            assert_close(&format!("{what} vs burn"), &got[i], &to_f64(&burn), 2e-5);
            let exact = causal_conv1d_f64(x, cin, total, wi, cout, kernel, dilation, bi);
            assert_close(&format!("{what} vs f64"), &got[i], &exact, 2e-5);
        }
    }
}

pub fn dilated_conv_rejects_bad_config<R: Runtime>(client: &ComputeClient<R>) {
    let mut cfg = DilatedConvConfig::new(2, 2, 3, 4, 16);
    cfg.ring_size = 24;
    assert!(matches!(DilatedConv::new(client, cfg, 1), Err(KernelError::NotPowerOfTwo { .. })));
    cfg.ring_size = 8;
    assert!(matches!(DilatedConv::new(client, cfg, 1), Err(KernelError::Invalid { .. })));
    let cfg = DilatedConvConfig::new(2, 2, 3, 4, 16);
    let mut conv = DilatedConv::new(client, cfg, 1).unwrap();
    let w = Buffer::upload(client, &vec![0.0; cfg.weights_len()]);
    let b = Buffer::upload(client, &[0.0; 2]);
    let big = cfg.max_frames() + 1;
    let x = Buffer::upload(client, &vec![0.0; 2 * big]);
    assert!(matches!(conv.process(client, &w, &b, &x, &x, big), Err(KernelError::TooLarge { .. })));
    assert!(matches!(conv.process(client, &w, &b, &x, &x, 0), Err(KernelError::Zero { .. })));
}

cubeaudio_kernels::for_each_runtime!(dilated_conv_streams_like_burn, dilated_conv_rejects_bad_config);
