//! One generic test body per kernel, instantiated per compiled runtime by [`kernel_suite!`].
//!
//! A runtime that cannot find its device skips with a loud message, unless it is required:
//! `CUBEAUDIO_REQUIRE=cuda,wgpu` (or `CI=true`, which requires `wgpu`) turns the skip into a
//! failure, so CI can never pass without running the kernels.

use std::fmt::Display;

use cubeaudio_kernels::device::required;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Opens a runtime for a test, or decides between skipping loudly and failing.
pub fn acquire<C, E: Display>(
    test: &str,
    runtime: &str,
    opened: Result<(C, cubeaudio_kernels::device::DeviceInfo), E>,
) -> Option<C> {
    match opened {
        Ok((client, info)) => {
            println!("[kernel-test] {test}: runtime {} | adapter {}", info.runtime, info.adapter);
            Some(client)
        }
        Err(e) if required(runtime) => {
            panic!("[kernel-test] {test}: runtime {runtime} is required here but unavailable: {e}")
        }
        Err(e) => {
            eprintln!(
                "[kernel-test] SKIPPED {test}: runtime {runtime} unavailable: {e} \
                 (set CUBEAUDIO_REQUIRE={runtime} to make this a failure)"
            );
            None
        }
    }
}


/// A generator seeded freshly per test (printed, and overridable with `CUBEAUDIO_SEED`).
pub fn rng(test: &str) -> SmallRng {
    let seed = std::env::var("CUBEAUDIO_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0)
        });
    println!("[kernel-test] {test}: seed {seed}");
    SmallRng::seed_from_u64(seed)
}

pub fn random_vec(rng: &mut SmallRng, len: usize, amplitude: f32) -> Vec<f32> {
    (0..len).map(|_| rng.gen_range(-amplitude..=amplitude)).collect()
}

/// Fails on any non-finite value (unwritten, NaN-poisoned outputs) or an error above
/// `tol · max(1, |expected|)`.
#[track_caller]
pub fn assert_close(what: &str, actual: &[f32], expected: &[f64], tol: f64) {
    assert_eq!(actual.len(), expected.len(), "{what}: length");
    let mut worst = (0usize, 0.0f64);
    for (i, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        assert!(a.is_finite(), "{what}: element {i} is {a} (expected {e}); unwritten or invalid");
        let err = (a as f64 - e).abs() / e.abs().max(1.0);
        if err > worst.1 {
            worst = (i, err);
        }
    }
    println!("[kernel-test] {what}: max scaled |error| {:.3e} at {} (tolerance {tol:.1e})", worst.1, worst.0);
    assert!(
        worst.1 <= tol,
        "{what}: element {} is {} but the reference says {} (|error| {:.3e} > {tol:.1e})",
        worst.0,
        actual[worst.0],
        expected[worst.0],
        worst.1
    );
}

pub fn to_f64(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

/// Instantiates generic test bodies `fn name<R: Runtime>(client: &ComputeClient<R>)` once per
/// runtime compiled in.
#[macro_export]
macro_rules! kernel_suite {
    ($($test:ident),* $(,)?) => {
        #[cfg(feature = "cuda")]
        mod cuda {
            $(
                #[test]
                fn $test() {
                    let name = concat!(module_path!(), "::", stringify!($test));
                    if let Some(client) = $crate::harness::acquire(name, "cuda", cubeaudio_kernels::device::cuda::open(0)) {
                        super::$test::<cubecl::cuda::CudaRuntime>(&client);
                    }
                }
            )*
        }
        #[cfg(feature = "wgpu")]
        mod wgpu {
            $(
                #[test]
                fn $test() {
                    let name = concat!(module_path!(), "::", stringify!($test));
                    if let Some(client) = $crate::harness::acquire(name, "wgpu", cubeaudio_kernels::device::wgpu_device::open_best()) {
                        super::$test::<cubecl::wgpu::WgpuRuntime>(&client);
                    }
                }
            )*
        }
    };
}
