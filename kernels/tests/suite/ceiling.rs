use cubeaudio_kernels::ceiling::fma_ceiling_kernel;
use cubeaudio_kernels::util::Buffer;
use cubecl::prelude::*;

use crate::harness::assert_close;

/// The FMA probe computes what it claims (eight chains `c ← 0.9999·c + 0.0001` per unit), so
/// the benchmark's TFLOP/s figure counts real work; f64 reference, units beyond the buffer are
/// not written.
pub fn fma_ceiling_matches_reference<R: Runtime>(client: &ComputeClient<R>) {
    const ITERS: usize = 64;
    let (units, written) = (512usize, 500usize);
    let out = Buffer::filled(client, written, f32::NAN);
    let seed = 0.5f32;
    fma_ceiling_kernel::launch::<R>(client, CubeCount::Static(2, 1, 1), CubeDim::new_1d(256), out.arg(), seed, ITERS);
    let expected: Vec<f64> = (0..written)
        .map(|i| {
            let x = (seed + i as f32 * 1.0e-9) as f64;
            (0..8).map(|k| (0..ITERS).fold(x + k as f64, |c, _| c * 0.999_9f32 as f64 + 0.000_1f32 as f64)).sum()
        })
        .collect();
    assert!(units > written);
    assert_close("fma ceiling", &out.read(client, "fma_ceiling").unwrap(), &expected, 1e-5);
}

cubeaudio_kernels::for_each_runtime!(fma_ceiling_matches_reference);
