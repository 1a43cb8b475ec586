//! The audio thread's side of the bridge allocates nothing and never waits, while a device
//! thread runs a GPU graph, commits arrive and parameters change; parameter sets allocate
//! nothing.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use cubeaudio_runtime::graph::{graph_pair, GraphOptions, GraphSpec};
use cubeaudio_runtime::realtime::realtime_bridge;
use cubeaudio_runtime::registry::Registry;
use cubeaudio_runtime::Engine;
use cubecl::prelude::*;

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; the thread-locals are const-initialised Cells
// (no allocation on access).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(|c| c.get()) {
            COUNT.with(|n| n.set(n.get() + 1));
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if COUNTING.with(|c| c.get()) {
            COUNT.with(|n| n.set(n.get() + 1));
        }
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.with(|c| c.get()) {
            COUNT.with(|n| n.set(n.get() + 1));
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Counts allocations and frees made by `f` on this thread.
fn counted<T>(f: impl FnOnce() -> T) -> (T, u64) {
    COUNT.with(|n| n.set(0));
    COUNTING.with(|c| c.set(true));
    let out = f();
    COUNTING.with(|c| c.set(false));
    (out, COUNT.with(|n| n.get()))
}

const RIG: &str = r#"{"inputs": [{"name": "in"}], "outputs": [{"name": "out"}],
  "processors": [{"id": "gate", "type": "noise_gate", "params": {"threshold_db": -90}},
                 {"id": "g", "type": "gain", "params": {"gain_db": 0}},
                 {"id": "eq", "type": "eq", "params": {"freq_hz": 20000, "q": 0.7, "gain_db": 0}}],
  "connections": [{"from": "in", "to": "gate.in"}, {"from": "gate.out", "to": "g.in"}, {"from": "g.out", "to": "eq.in"},
                  {"from": "eq.out", "to": "out"}]}"#;

/// Audio thread: 2,000 callbacks of 64 frames through the bridge, counted; device thread:
/// the GPU graph; a third thread commits new graphs and turns a parameter.
fn audio_thread_allocates_nothing<R: Runtime>(engine: &Engine<R>) {
    const BLOCK: usize = 64;
    let options = GraphOptions::new(48_000.0, BLOCK, PathBuf::from("."));
    let (mut editor, mut runner) = graph_pair(engine.clone(), Arc::new(Registry::with_builtins()), options);
    let spec = GraphSpec::from_json(RIG).unwrap();
    let params = editor.commit(&spec).unwrap();
    let (mut audio, mut device) = realtime_bridge(1, 1, BLOCK, 2);
    let stop = Arc::new(AtomicBool::new(false));
    let stop_dev = stop.clone();
    let device_thread = std::thread::spawn(move || {
        let mut served = 0u64;
        while !stop_dev.load(Ordering::Acquire) {
            match device.serve(|i, o| runner.process(i, o).map(|_| ())) {
                Ok(true) => served += 1,
                Ok(false) => std::thread::yield_now(),
                Err(e) => panic!("device side: {e}"),
            }
        }
        served
    });
    let stop_edit = stop.clone();
    let editor_thread = std::thread::spawn(move || {
        let mut commits = 0;
        while !stop_edit.load(Ordering::Acquire) && commits < 5 {
            std::thread::sleep(std::time::Duration::from_millis(20));
            editor.commit(&spec).unwrap();
            commits += 1;
            let _ = params.set("g", "gain_db", -(commits as f32));
        }
        commits
    });

    let x: Vec<f32> = (0..BLOCK).map(|i| (i as f32 * 0.1).sin() * 0.5).collect();
    let mut y = vec![0.0f32; BLOCK];
    let mut nonzero_blocks = 0;
    let mut total_allocs = 0;
    let start = std::time::Instant::now();
    for _ in 0..2000 {
        let (r, allocs) = counted(|| audio.process(&[&x], &mut [&mut y]));
        r.unwrap();
        total_allocs += allocs;
        nonzero_blocks += y.iter().any(|v| *v != 0.0) as usize;
        // Pace like an audio callback at 64 frames / 48 kHz, without sleeping inside the count.
        std::thread::sleep(std::time::Duration::from_micros(1000));
    }
    stop.store(true, Ordering::Release);
    let served = device_thread.join().unwrap();
    let commits = editor_thread.join().unwrap();
    let s = audio.stats();
    println!(
        "[graph-test] bridge: 2000 callbacks in {:.2} s, {served} served by the device thread, {commits} commits, {} underruns, {} overruns, {nonzero_blocks} blocks with signal, {total_allocs} allocations on the audio thread",
        start.elapsed().as_secs_f64(),
        s.underruns.load(Ordering::Relaxed),
        s.overruns.load(Ordering::Relaxed)
    );
    assert_eq!(total_allocs, 0, "the audio side allocated");
    assert!(served > 0 && nonzero_blocks > 0, "the device thread must actually have produced audio");
}

/// Issue #16, defect 11: setting a parameter from a real-time thread allocates nothing — by
/// name (a lookup that used to build two `String`s per call) and through a handle resolved
/// once; refusals through a handle allocate nothing either, and a handle of an older graph is
/// refused rather than setting whatever parameter took its slot.
fn parameter_sets_allocate_nothing<R: Runtime>(engine: &Engine<R>) {
    let options = GraphOptions::new(48_000.0, 64, PathBuf::from("."));
    let (mut editor, _runner) = graph_pair(engine.clone(), Arc::new(Registry::with_builtins()), options);
    let spec = GraphSpec::from_json(RIG).unwrap();
    let params = editor.commit(&spec).unwrap();
    let gain = params.handle("g", "gain_db").unwrap();
    let ((), allocs) = counted(|| {
        for k in 0..1000 {
            let v = -((k % 40) as f32);
            params.set("g", "gain_db", v).unwrap();
            params.set_handle(gain, v).unwrap();
            assert_eq!(params.get("g", "gain_db"), Some(v));
            assert!(params.set_handle(gain, f32::NAN).is_err());
            assert!(params.set_handle(gain, 1e9).is_err());
        }
    });
    assert_eq!(allocs, 0, "setting parameters allocated {allocs} times");
    let newer = editor.commit(&spec).unwrap();
    assert_eq!(newer.set_handle(gain, -3.0), Err(cubeaudio_runtime::params::ParamRefused::Stale));
    newer.set_handle(newer.handle("g", "gain_db").unwrap(), -3.0).unwrap();
    assert_eq!(newer.get("g", "gain_db"), Some(-3.0));
    println!("[graph-test] 4,000 parameter sets and 1,000 gets: {allocs} allocations");
}

cubeaudio_kernels::for_each_runtime!(|client, info| (&Engine::new(client.clone(), info.clone())); audio_thread_allocates_nothing, parameter_sets_allocate_nothing);

/// The counter itself works (so a zero above means something).
#[test]
fn counting_allocator_counts() {
    let (_, n) = counted(|| drop(std::hint::black_box(vec![1u8; 10])));
    assert!(n >= 2, "{n}");
}

/// Shape errors come back without allocating, and silence fills an underrun.
#[test]
fn bridge_rejects_bad_shapes_and_fills_underruns_with_silence() {
    let (mut audio, _device) = realtime_bridge(1, 1, 32, 1);
    let x = [0.5f32; 32];
    let mut y = [1.0f32; 32];
    let (r, n) = counted(|| audio.process(&[&x[..16]], &mut [&mut y[..16]]));
    assert!(r.is_err() && n == 0);
    // First block: the latency block (silence); second: nothing served → underrun, silence.
    audio.process(&[&x], &mut [&mut y]).unwrap();
    y.fill(1.0);
    audio.process(&[&x], &mut [&mut y]).unwrap();
    assert!(y.iter().all(|v| *v == 0.0));
    assert_eq!(audio.stats().underruns.load(Ordering::Relaxed), 1);
}

/// A block that comes back after its turn (which played silence) is dropped, not played one
/// slot late: the latency stays what the bridge reports for the rest of the run.
#[test]
fn a_late_block_is_dropped_and_the_latency_stays_fixed() {
    const N: usize = 8;
    let (mut audio, mut device) = realtime_bridge(1, 1, N, 1);
    let block = |k: usize| [k as f32 + 1.0; N];
    let mut y = [0.0f32; N];
    let serve = |device: &mut cubeaudio_runtime::realtime::DeviceSide| {
        device
            .serve(|i, o| {
                o[0].copy_from_slice(i[0]);
                Ok::<(), ()>(())
            })
            .unwrap()
    };
    // Call 0 plays the latency block; call 1's output (block 0's) is not back yet: silence.
    audio.process(&[&block(0)], &mut [&mut y]).unwrap();
    assert!(y.iter().all(|v| *v == 0.0));
    audio.process(&[&block(1)], &mut [&mut y]).unwrap();
    assert!(y.iter().all(|v| *v == 0.0));
    assert_eq!(audio.stats().underruns.load(Ordering::Relaxed), 1);
    // The device catches up on blocks 0 and 1; call 2 must play block 1 (one block of latency),
    // dropping block 0, which missed its turn.
    assert!(serve(&mut device) && serve(&mut device));
    audio.process(&[&block(2)], &mut [&mut y]).unwrap();
    assert_eq!(y, block(1), "the bridge played a late block instead of the one due");
    assert_eq!(audio.stats().late.load(Ordering::Relaxed), 1);
    // And from then on each call plays the previous call's block.
    for k in 3..40 {
        assert!(serve(&mut device));
        audio.process(&[&block(k)], &mut [&mut y]).unwrap();
        assert_eq!(y, block(k - 1));
    }
    assert_eq!(audio.stats().underruns.load(Ordering::Relaxed), 1);
}
