//! Which arithmetic path the CPU engine's hot loops take, decided once per process at run time:
//! the shipped build targets baseline x86-64 (SSE2, no fused multiply-add), and CPUs with AVX2
//! and FMA (every x86-64 of the last decade) run the same loops compiled for them, 8 lanes and
//! one rounding per multiply-add. Outputs of the two paths differ by float rounding (within the
//! references' tolerance, both tested); `CUBEAUDIO_CPU_SIMD=baseline` forces the portable path.

use std::sync::OnceLock;

/// Whether the AVX2 + FMA path runs (detected on first use; `prepare` and the prewarm come
/// first, so the processing path only reads the cached answer).
pub fn fused() -> bool {
    static FUSED: OnceLock<bool> = OnceLock::new();
    *FUSED.get_or_init(|| {
        let forced_off = std::env::var("CUBEAUDIO_CPU_SIMD").is_ok_and(|v| v == "baseline");
        !forced_off && detected()
    })
}

#[cfg(target_arch = "x86_64")]
fn detected() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

#[cfg(not(target_arch = "x86_64"))]
fn detected() -> bool {
    false
}

/// A description of the path, for reports (`render` prints it).
pub fn describe() -> &'static str {
    if fused() {
        "AVX2 + FMA"
    } else {
        "baseline (SSE2 on x86-64)"
    }
}

/// `acc += w · x`, element by element — the multiply-add every hot loop of the CPU engine is
/// made of; one rounding per element when `FUSED` (only inside functions compiled for FMA, where
/// `mul_add` is one instruction).
#[inline(always)]
pub(crate) fn fma_block<const F: usize, const FUSED: bool>(acc: &mut [f32; F], w: f32, x: &[f32; F]) {
    for (a, v) in acc.iter_mut().zip(x) {
        *a = if FUSED { w.mul_add(*v, *a) } else { *a + w * v };
    }
}
