//! Random inputs and comparisons for the kernel suite. Bodies are instantiated per runtime by
//! `cubeaudio_kernels::for_each_runtime!` (feature `testing`), which also decides between a loud
//! skip and a failure when a device is missing.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// A generator seeded freshly per test (printed, and overridable with `CUBEAUDIO_SEED`).
pub fn rng(test: &str) -> SmallRng {
    let seed = std::env::var("CUBEAUDIO_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
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
