use cubeaudio_kernels::delay_line::{DelayLine, DelayLineConfig};
use cubeaudio_kernels::util::Buffer;
use cubeaudio_kernels::KernelError;
use cubecl::prelude::*;

use crate::harness::{assert_close, random_vec, rng, to_f64};

/// Pushes blocks of varying sizes through a small ring so the cursor wraps many times, and
/// reads windows at every delay against a host model of the whole signal.
pub fn push_and_read_wrap_around<R: Runtime>(client: &ComputeClient<R>) {
    let mut rng = rng("delay_line");
    let cfg = DelayLineConfig { channels: 3, size: 64 };
    let mut line = DelayLine::new(client, cfg).unwrap();
    let mut history: Vec<Vec<f32>> = vec![Vec::new(); cfg.channels];
    for (step, frames) in [5usize, 64, 17, 33, 1, 40, 63, 29].into_iter().enumerate() {
        let block = random_vec(&mut rng, cfg.channels * frames, 1.0);
        for c in 0..cfg.channels {
            history[c].extend_from_slice(&block[c * frames..(c + 1) * frames]);
        }
        line.push(client, &Buffer::upload(client, &block), frames).unwrap();
        for (delay, len) in [(0usize, frames), (3, 7.min(cfg.size - 3)), (cfg.size - 9, 9)] {
            let available = history[0].len();
            if delay + len > available {
                continue;
            }
            let expected: Vec<f32> = (0..cfg.channels)
                .flat_map(|c| history[c][available - delay - len..available - delay].to_vec())
                .collect();
            let out = Buffer::filled(client, cfg.channels * len, f32::NAN);
            line.read(client, &out, delay, len).unwrap();
            assert_close(
                &format!("read step {step} delay {delay}"),
                &out.read(client, "delay_line").unwrap(),
                &to_f64(&expected),
                0.0,
            );
            let tiled = Buffer::filled(client, cfg.channels * len, f32::NAN);
            line.read_tiled(client, &tiled, delay, len, 8).unwrap();
            assert_close(
                &format!("tiled step {step} delay {delay}"),
                &tiled.read(client, "delay_line").unwrap(),
                &to_f64(&expected),
                0.0,
            );
        }
    }
}

pub fn bad_parameters_are_typed_errors<R: Runtime>(client: &ComputeClient<R>) {
    let err = DelayLine::new(client, DelayLineConfig { channels: 2, size: 48 }).unwrap_err();
    assert!(matches!(err, KernelError::NotPowerOfTwo { what: "size", value: 48, .. }), "{err}");
    assert!(matches!(DelayLine::new(client, DelayLineConfig { channels: 0, size: 8 }), Err(KernelError::Zero { .. })));
    let mut line = DelayLine::new(client, DelayLineConfig { channels: 2, size: 8 }).unwrap();
    let block = Buffer::upload(client, &[0.0; 18]);
    assert!(matches!(line.push(client, &block, 9), Err(KernelError::TooLarge { .. })));
    assert!(matches!(line.push(client, &block, 0), Err(KernelError::Zero { .. })));
    assert!(matches!(line.push(client, &block, 8), Err(KernelError::SizeMismatch { .. })));
    let out = Buffer::upload(client, &[0.0; 8]);
    assert!(matches!(line.read(client, &out, 5, 4), Err(KernelError::TooLarge { .. })));
    assert_eq!(line.cursor(), 0, "a refused push must not move the cursor");
}

cubeaudio_kernels::for_each_runtime!(push_and_read_wrap_around, bad_parameters_are_typed_errors);
