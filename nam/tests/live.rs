//! The shared live engine (`cubeaudio_nam::live`): instances' outputs are the model's output
//! delayed by one block on every engine, host buffers of any length; one launch per cycle for
//! all instances; a missed deadline falls back to the CPU engine without a step; the audio
//! thread's calls allocate nothing.

mod common;

use common::counting::{allocations_during, Counting};

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use common::{relative_error, shared_nam};
use cubeaudio_kernels::device::{required, Backend};
use cubeaudio_nam::live::{Instance, SharedEngine, Wait, WARMUP_BLOCKS};
use cubeaudio_nam::{load_file, LoadOptions, LoadedModel, Model};

#[global_allocator]
static GLOBAL: Counting = Counting;

fn model(name: &str) -> LoadedModel {
    load_file(&shared_nam().join("models").join(name), LoadOptions::default()).unwrap()
}

/// A guitar-like test signal, different per `seed`.
fn signal(len: usize, seed: usize) -> Vec<f32> {
    (0..len)
        .map(|t| {
            let t = t as f32;
            0.4 * (t * (0.01 + 0.003 * seed as f32)).sin() * (1.0 + 0.5 * (t * 0.0007).sin()) + 0.05 * (t * 0.31).cos()
        })
        .collect()
}

/// The model's output for `x` with the plugin's resets at `block`, delayed by `block` frames.
fn delayed_reference(loaded: &LoadedModel, x: &[f32], block: usize) -> Vec<f32> {
    let mut m = Model::new(loaded.dsp.clone());
    m.reset_like_plugin(block).unwrap();
    let mut y = vec![0.0; x.len()];
    for (i, o) in x.chunks(block).zip(y.chunks_mut(block)) {
        m.process(i, o);
    }
    let mut delayed = vec![0.0; block];
    delayed.extend_from_slice(&y[..x.len() - block]);
    delayed
}

/// Runs `x` through `instance` in host buffers whose lengths cycle through `lengths`.
fn run(instance: &mut Instance, x: &[f32], lengths: &[usize], wait: Wait) -> Vec<f32> {
    let mut y = vec![0.0; x.len()];
    let (mut at, mut k) = (0, 0);
    while at < x.len() {
        let n = lengths[k % lengths.len()].min(x.len() - at);
        instance.process(&x[at..at + n], &mut y[at..at + n], wait);
        at += n;
        k += 1;
    }
    y
}

#[test]
fn cpu_instances_are_the_model_delayed_by_one_block_for_any_host_buffers() {
    let engine = SharedEngine::start(Backend::Cpu).unwrap();
    assert_eq!(engine.status().backend, "cpu");
    for name in ["core_wavenet.nam", "core_lstm.nam", "trainer_identity_linear_10.nam"] {
        let loaded = model(name);
        for (block, lengths) in [(64, vec![64]), (128, vec![128, 17, 300, 1]), (96, vec![50])] {
            let mut inst = engine.join(loaded.dsp.as_ref(), block, 48_000.0).unwrap();
            assert_eq!(inst.latency(), block);
            let x = signal(8_000, 1);
            let y = run(&mut inst, &x, &lengths, Wait::Offline);
            let want = delayed_reference(&loaded, &x, block);
            assert_eq!(y, want, "{name}, block {block}, host buffers {lengths:?}: not the model delayed by one block");
        }
    }
}

#[test]
fn the_audio_side_allocates_nothing() {
    let engine = SharedEngine::start(Backend::Cpu).unwrap();
    let loaded = model("core_wavenet.nam");
    let mut inst = engine.join(loaded.dsp.as_ref(), 64, 48_000.0).unwrap();
    let x = signal(4_096, 2);
    let mut y = vec![0.0; 4_096];
    inst.process(&x[..64], &mut y[..64], Wait::Offline);
    let n = allocations_during(|| {
        for (i, o) in x.chunks(37).zip(y.chunks_mut(37)) {
            inst.process(i, o, Wait::Until(Instant::now()));
        }
    });
    assert_eq!(n, 0, "{n} allocations in Instance::process on the CPU engine");
    println!("cpu: 0 allocations over {} host buffers", x.len().div_ceil(37));
}

/// An engine on `backend`, or `None` (skipped loudly) when that runtime has no device here and
/// is not required.
fn gpu_engine(runtime: &str, backend: Backend) -> Option<Arc<SharedEngine>> {
    match SharedEngine::start(backend) {
        Ok(e) => Some(e),
        Err(e) if !required(runtime) => {
            eprintln!("SKIPPED: no {runtime} device for the live engine test ({e})");
            None
        }
        Err(e) => panic!("{runtime} is required here but did not open: {e}"),
    }
}

fn gpu_instances_match_and_share_one_launch_per_cycle(runtime: &str, backend: Backend) {
    let Some(engine) = gpu_engine(runtime, backend) else { return };
    println!("live engine on {}", engine.status().backend);
    let block = 64;
    // Two captures of different shapes and a Linear IR in one batch, an LSTM beside it.
    let names = ["core_wavenet.nam", "trainer_identity_wavenet_minimal.nam", "trainer_identity_linear_10.nam"];
    let loaded: Vec<LoadedModel> = names.iter().map(|n| model(n)).collect();
    let mut instances: Vec<Instance> =
        loaded.iter().map(|l| engine.join(l.dsp.as_ref(), block, 48_000.0).unwrap()).collect();
    for (i, n) in instances.iter().zip(names) {
        assert!(i.status().on_gpu(), "{n}: {:?}", i.fallback());
    }
    let lstm = model("core_lstm.nam");
    let lstm_instance = engine.join(lstm.dsp.as_ref(), block, 48_000.0).unwrap();
    assert!(lstm_instance.fallback().unwrap().contains("LSTM"));
    assert_eq!(engine.status().gpu_instances.load(Ordering::Relaxed), 3);

    let cycles = 60;
    let xs: Vec<Vec<f32>> = (0..names.len()).map(|s| signal(cycles * block, s + 3)).collect();
    let mut ys = vec![vec![0.0f32; cycles * block]; names.len()];
    let launches0 = engine.status().launches.load(Ordering::Relaxed);
    for c in 0..cycles {
        for (s, inst) in instances.iter_mut().enumerate() {
            let r = c * block..(c + 1) * block;
            inst.process(&xs[s][r.clone()], &mut ys[s][r], Wait::Offline);
        }
    }
    // The last cycle's launch may still be running; it is the 60th.
    let deadline = Instant::now() + std::time::Duration::from_secs(20);
    while engine.status().launches.load(Ordering::Relaxed) - launches0 < cycles as u64 && Instant::now() < deadline {
        std::thread::yield_now();
    }
    let launches = engine.status().launches.load(Ordering::Relaxed) - launches0;
    assert_eq!(launches, cycles as u64, "{cycles} host cycles of 3 instances took {launches} launches");
    assert_eq!(engine.status().stalled.load(Ordering::Relaxed), 0);
    for (s, n) in names.iter().enumerate() {
        assert!(instances[s].status().on_gpu(), "{n} left the GPU: {:?}", instances[s].fallback());
        let want = delayed_reference(&loaded[s], &xs[s], block);
        let err = relative_error(&ys[s], &want);
        println!("{n}: {err:.2e} against the CPU engine delayed by one block");
        assert!(err < 1e-4, "{n}: {err:.2e}");
    }

    // A deadline that has passed (once the warm-up is over): the instance leaves the GPU, ramps
    // down, fades the CPU engine in and is exact again one receptive field later.
    let x = signal(16_000, 9);
    let mut inst = engine.join(loaded[0].dsp.as_ref(), block, 48_000.0).unwrap();
    let mut y = vec![0.0; x.len()];
    inst.process(&x[..block], &mut y[..block], Wait::Offline);
    let n = allocations_during(|| {
        for (i, o) in x[block..].chunks(block).zip(y[block..].chunks_mut(block)) {
            inst.process(i, o, Wait::Until(Instant::now()));
        }
    });
    assert_eq!(n, 0, "{n} allocations in Instance::process on the GPU path and its fallback");
    let why = inst.fallback().expect("a passed deadline must fall back");
    assert!(why.contains("deadline"), "{why}");
    let want = delayed_reference(&loaded[0], &x, block);
    let rf = loaded[0].dsp.receptive_field().unwrap();
    // The first WARMUP_BLOCKS blocks may wait past the deadline; the miss comes after them.
    let (_, missed_at) = inst.status().missed().unwrap();
    assert!(missed_at >= u64::from(WARMUP_BLOCKS), "fell back at block {missed_at}, inside the warm-up");
    let settled = ((missed_at as usize + 3) * block + rf).div_ceil(block) * block;
    let err = relative_error(&y[settled..], &want[settled..]);
    assert!(err < 1e-4, "after the fallback: {err:.2e}");
    let step = y.windows(2).map(|w| (w[1] - w[0]).abs()).fold(0.0f32, f32::max);
    let want_step = want.windows(2).map(|w| (w[1] - w[0]).abs()).fold(0.0f32, f32::max);
    assert!(step <= want_step * 1.5 + 1e-3, "a step of {step} at the switch (the signal's own: {want_step})");
    println!("fallback: {why}; exact again after {settled} frames ({err:.2e}); largest step {step:.3e}");
    drop((inst, instances, lstm_instance));
    // Leaving is a message to the device thread: let it arrive.
    std::thread::sleep(std::time::Duration::from_millis(100));

    // An instance its host stops calling (a plugin instance replaced by a new model, waiting to
    // be dropped off the audio thread) holds every cycle up by the stall limit — until it is
    // retired, after which the engine no longer waits for it.
    let mut old = engine.join(loaded[0].dsp.as_ref(), block, 48_000.0).unwrap();
    let mut busy = engine.join(loaded[1].dsp.as_ref(), block, 48_000.0).unwrap();
    let (x, mut y) = (signal(block, 4), vec![0.0f32; block]);
    old.process(&x, &mut y, Wait::Offline);
    busy.process(&x, &mut y, Wait::Offline);
    let stalls_over = |busy: &mut Instance, cycles: usize| {
        let before = engine.status().stalled.load(Ordering::Relaxed);
        for _ in 0..cycles {
            let mut y = vec![0.0f32; block];
            busy.process(&x, &mut y, Wait::Offline);
        }
        engine.status().stalled.load(Ordering::Relaxed) - before
    };
    let unretired = stalls_over(&mut busy, 5);
    old.retire();
    stalls_over(&mut busy, 1); // the cycle in flight may still have waited
    let retired = stalls_over(&mut busy, 20);
    println!("beside an instance no longer called: {unretired} of 5 cycles stalled; after retire(): {retired} of 20");
    assert!(
        unretired >= 4,
        "the idle instance should have held cycles up ({unretired} of 5): the check below means nothing"
    );
    assert_eq!(retired, 0, "cycles still wait for a retired instance");
    assert!(busy.status().on_gpu(), "{:?}", busy.fallback());
    assert_eq!(engine.status().gpu_instances.load(Ordering::Relaxed), 1);
    drop((old, busy));
    std::thread::sleep(std::time::Duration::from_millis(100));

    // A block a retired instance handed in before it was retired must not start a cycle on its
    // own: the others' streams would get a block of silence between two of theirs (a glitch of
    // one receptive field, heard in the plugin after every model change).
    let mut old = engine.join(loaded[0].dsp.as_ref(), block, 48_000.0).unwrap();
    let mut busy = engine.join(loaded[0].dsp.as_ref(), block, 48_000.0).unwrap();
    let x = signal(40 * block, 6);
    let (mut y, mut scratch) = (vec![0.0f32; x.len()], vec![0.0f32; block]);
    for c in 0..40 {
        let r = c * block..(c + 1) * block;
        if c == 20 {
            // The old instance's last block goes in first, then it is retired, and the device
            // thread gets time to act on that block before the busy one's arrives.
            old.process(&x[r.clone()], &mut scratch, Wait::Offline);
            old.retire();
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        busy.process(&x[r.clone()], &mut y[r.clone()], Wait::Offline);
        if c < 20 {
            old.process(&x[r], &mut scratch, Wait::Offline);
        }
    }
    let err = relative_error(&y, &delayed_reference(&loaded[0], &x, block));
    println!("beside an instance retired with a block queued: {err:.2e} against the CPU engine");
    assert!(err < 1e-4, "a retired instance's queued block ran a cycle without the others: {err:.2e}");
}

#[cfg(feature = "cuda")]
#[test]
fn cuda_instances_match_and_share_one_launch_per_cycle() {
    gpu_instances_match_and_share_one_launch_per_cycle("cuda", Backend::Cuda);
}

#[cfg(feature = "wgpu")]
#[test]
fn wgpu_instances_match_and_share_one_launch_per_cycle() {
    gpu_instances_match_and_share_one_launch_per_cycle("wgpu", Backend::Wgpu);
}
