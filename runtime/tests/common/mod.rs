//! Helpers shared by the runtime's device tests.

use rand::rngs::SmallRng;
use rand::SeedableRng;

/// A generator seeded from `CUBEAUDIO_SEED` or the clock; the seed is printed under `label`
/// (e.g. `[graph-test]`) so a failure can be replayed.
pub fn rng(label: &str, test: &str) -> SmallRng {
    let seed = std::env::var("CUBEAUDIO_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
    });
    println!("[{label}] {test}: seed {seed}");
    SmallRng::seed_from_u64(seed)
}

/// `got` equals `want` within `tol`, the error scaled by `max(1, |want|)`; every sample finite.
#[track_caller]
pub fn close(what: &str, got: &[f32], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let mut worst = (0, 0.0f64);
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(g.is_finite(), "{what}: sample {i} is {g}");
        let e = (*g as f64 - w).abs() / w.abs().max(1.0);
        if e > worst.1 {
            worst = (i, e);
        }
    }
    println!("[close] {what}: max scaled error {:.2e} at {}", worst.1, worst.0);
    assert!(
        worst.1 <= tol,
        "{what}: sample {} is {} but the reference says {} (error {:.2e})",
        worst.0,
        got[worst.0],
        want[worst.0],
        worst.1
    );
}
