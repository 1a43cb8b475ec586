//! Counters of the process-wide engine for test hosts, as plain C symbols of the bundle: a
//! host loading the plugin as a DAW does can check launches per cycle without a private API.

use std::sync::atomic::Ordering;

use cubeaudio_nam::live::SharedEngine;

/// Writes up to `len` counters into `out` — cycles, launches, stalled cycles, instances on the
/// GPU, last and longest cycle round trip (ns), 1 if a GPU runs the engine — and returns how
/// many it wrote (0 while no instance has started the engine).
///
/// # Safety
/// `out` must be valid for `len` writes of `u64`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cubeaudio_plugin_engine_counters(out: *mut u64, len: usize) -> usize {
    let Some(engine) = SharedEngine::global_if_started() else { return 0 };
    let s = engine.status();
    let values = [
        s.cycles.load(Ordering::Relaxed),
        s.launches.load(Ordering::Relaxed),
        s.stalled.load(Ordering::Relaxed),
        s.gpu_instances.load(Ordering::Relaxed) as u64,
        s.last_cycle_ns.load(Ordering::Relaxed),
        s.max_cycle_ns.load(Ordering::Relaxed),
        u64::from(engine.on_gpu()),
    ];
    let n = len.min(values.len());
    for (i, v) in values.iter().take(n).enumerate() {
        // SAFETY: the caller gives `len ≥ n` writable slots.
        unsafe { out.add(i).write(*v) };
    }
    n
}

/// Allocations made inside the plugin's `process` calls so far, every instance of the
/// process together (should stay 0).
#[unsafe(no_mangle)]
pub extern "C" fn cubeaudio_plugin_process_allocations() -> u64 {
    crate::alloc_count::IN_PROCESS.load(Ordering::Relaxed)
}

/// Copies the engine's backend line (e.g. `cuda on NVIDIA H200`, `cpu`) into `buf` (at most
/// `len` bytes, not terminated) and returns its full length in bytes.
///
/// # Safety
/// `buf` must be valid for `len` writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cubeaudio_plugin_engine_backend(buf: *mut u8, len: usize) -> usize {
    let Some(engine) = SharedEngine::global_if_started() else { return 0 };
    let text = engine.status().backend.as_bytes();
    let n = len.min(text.len());
    // SAFETY: the caller gives `len ≥ n` writable bytes; the regions cannot overlap.
    unsafe { std::ptr::copy_nonoverlapping(text.as_ptr(), buf, n) };
    text.len()
}

/// Model replacements completed so far (a new model or slim value loaded while playing, the
/// crossfade to it over), every instance of the process together.
#[unsafe(no_mangle)]
pub extern "C" fn cubeaudio_plugin_replacements() -> u64 {
    crate::REPLACEMENTS.load(Ordering::Relaxed)
}
