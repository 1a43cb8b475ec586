//! The shape-specialised columns kernel (`nam::gpu::columns`) against the official core: every
//! reference and real capture whose shape it covers, in batches of one shape (distinct captures
//! of it as the streams of one launch), at buffers 32, 64, 128 and 4096, and the batch repeated
//! past one stream per multiprocessor (several streams per cube, a partial last cube), within `1e-4 · max(1, peak)`; and a batch that changes kernels between
//! buffers (interpreter ↔ columns share the histories) keeps its output. On a software adapter
//! (lavapipe, CI) only the shapes of at most 4 channels run, on the first quarter second: its
//! shader compiler takes minutes on the unrolled 16-channel kernel; hardware runs everything.

use crate::common::{manifest, read_f32, real_manifest, relative_error, shared_nam};
use cubeaudio_nam::gpu::columns::{arrays_of, ArrayShape};
use cubeaudio_nam::gpu::plan::ModelPlan;
use cubeaudio_nam::gpu::{GpuWaveNetBatch, KernelChoice};
use cubeaudio_nam::{load_file, LoadOptions, LoadedModel};
use cubecl::prelude::*;

struct Stream {
    label: String,
    model: LoadedModel,
    input: Vec<f32>,
    expected: Vec<f32>,
}

/// Every reference and real capture the columns kernel runs, grouped by shape, each group with
/// its shape's [`cost`].
fn groups(software: bool) -> Vec<(usize, Vec<Stream>)> {
    let dir = shared_nam();
    let frames = if software { 12_000 } else { usize::MAX };
    let cut = |mut v: Vec<f32>| {
        v.truncate(frames);
        v
    };
    let mut all = Vec::new();
    for r in manifest() {
        let mut model = load_file(&dir.join("models").join(&r.model), LoadOptions { fast_tanh: r.fast_tanh }).unwrap();
        if let Some(s) = r.slim {
            model.dsp.set_slim(s).unwrap();
        }
        all.push(Stream {
            label: format!("{} {} {}", r.model, r.variant, r.input),
            model,
            input: cut(read_f32(&dir.join("refs").join(&r.input))),
            expected: cut(read_f32(&dir.join("refs").join(&r.output))),
        });
    }
    for c in real_manifest().into_iter().filter(|c| c.buffer == 64) {
        let model =
            load_file(&dir.join("real/models").join(format!("{}.nam", c.name)), LoadOptions::default()).unwrap();
        all.push(Stream {
            label: format!("{} {}", c.name, c.input),
            model,
            input: cut(read_f32(&dir.join("refs").join(&c.input))),
            expected: cut(read_f32(&dir.join("real").join(&c.output))),
        });
    }
    let mut groups: Vec<(_, Vec<Stream>)> = Vec::new();
    for s in all {
        if s.model.dsp.architecture().lstm().is_some() {
            continue;
        }
        let Some(shape) = ModelPlan::build(s.model.dsp.as_ref()).ok().as_ref().and_then(arrays_of) else {
            continue;
        };
        if software && shape.0[..shape.1].iter().any(|a| a.channels > 4) {
            continue;
        }
        match groups.iter_mut().find(|(k, _)| *k == shape) {
            Some((_, g)) => g.push(s),
            None => groups.push((shape, vec![s])),
        }
    }
    groups.into_iter().map(|((arrays, count), g)| (cost(&arrays[..count]), g)).collect()
}

fn run<R: Runtime>(client: &ComputeClient<R>, device: &str) {
    let software = device.contains("(software)");
    let (costs, groups): (Vec<usize>, Vec<Vec<Stream>>) = groups(software).into_iter().unzip();
    let streams: usize = groups.iter().map(Vec::len).sum();
    let (want_groups, want_streams) = if software { (2, 6) } else { (12, 40) };
    assert!(
        groups.len() >= want_groups && streams >= want_streams,
        "{device}: the columns kernel covers {} shapes, {streams} streams",
        groups.len()
    );
    if software {
        eprintln!("[gpu-nam] {device}: columns kernel on the shapes of at most 4 channels only (software adapter)");
    }
    let sms = client.properties().hardware.num_streaming_multiprocessors.unwrap_or(64) as usize;
    // (shape, the case's index in the shape's `cases`, the case)
    let all: Vec<(usize, usize, Case)> = groups
        .iter()
        .enumerate()
        .flat_map(|(g, group)| cases(group.len(), sms, software).into_iter().enumerate().map(move |(i, c)| (g, i, c)))
        .collect();
    let total = all.len();
    let (k, n) = shard();
    // Cases, not shapes, are shared out: a wide shape's nine cases in one process (NVRTC
    // 40–150 s each) outran a device call while the other shards idled (session 27).
    let case_costs: Vec<usize> = all.iter().map(|&(g, _, _)| costs[g]).collect();
    let shards = shards_by_cost(&case_costs, n);
    let mut mine: Vec<(usize, usize, Case)> =
        all.into_iter().zip(shards).filter(|&(_, s)| s == k).map(|(c, _)| c).collect();
    if let Some((shape, case)) = only() {
        mine.retain(|&(g, i, _)| i == case && groups[g][0].label.contains(&shape));
        assert!(!mine.is_empty(), "{CUBEAUDIO_COLUMNS_ONLY}: no case {case} of a shape `{shape}` in this shard");
        eprintln!("[gpu-nam] {device}: {CUBEAUDIO_COLUMNS_ONLY}: case {case} of `{shape}` alone — not the suite");
    }
    if n > 1 {
        eprintln!(
            "[gpu-nam] {device}: shard {k}/{n} of the columns suite ({CUBEAUDIO_COLUMNS_SHARD}): {} of {total} cases; the other shards run the rest — this process alone is not the whole suite",
            mine.len()
        );
    }
    for (g, _, c) in mine {
        check(client, device, &groups[g], c.buffer, c.copies, c.splits, c.staging);
    }
    if k == 0 {
        switches_kernels(client, device, &groups[0]);
    }
}

/// One batch of the suite: a shape's captures repeated `copies` times, in buffers of `buffer`
/// frames, rows split as `splits` forces and weights staged as `staging` does (`None`: the
/// engine's choice).
#[derive(Debug, Clone, Copy)]
struct Case {
    buffer: usize,
    copies: usize,
    splits: Option<usize>,
    staging: Option<bool>,
}

/// The cases of a shape with `captures` captures on a device of `sms` multiprocessors.
fn cases(captures: usize, sms: usize, software: bool) -> Vec<Case> {
    let case = |buffer, copies, splits, staging| Case { buffer, copies, splits, staging };
    // Few streams: rows split over threads (`gpu::row_split`) by default; unsplit forced.
    // Split rows stage each layer's weights in shared memory where they fit; also read from
    // global memory (what shapes too wide to stage run).
    let mut all: Vec<Case> = [64usize, 32, 128, 4096].iter().map(|&b| case(b, 1, None, None)).collect();
    all.push(case(64, 1, None, Some(false)));
    all.push(case(64, 1, Some(1), None));
    all.push(case(128, 2, Some(2), None));
    // Past one stream per multiprocessor: more cubes, a partial last one.
    all.push(case(64, (sms + 1).div_ceil(captures), Some(1), None));
    // Past one wave of 256-thread cubes at 128 frames (4 streams of 64 threads per cube),
    // unsplit: wide shapes then take 512-thread cubes, whose launch bound caps nvcc's
    // registers. (Split rows are one stream per cube at any batch size: the kernel checked
    // above, in more cubes.)
    if !software {
        all.push(case(128, (4 * sms + 1).div_ceil(captures), Some(1), None));
    }
    all
}

/// What a shape's cases cost to compile and run, for balancing shards: the unrolled body grows
/// with every layer's rows × channels (NVRTC took 5 s for a case of 4 channels, 40–145 s for
/// the 32-channel shapes on the GPU machine, session 26).
fn cost(arrays: &[ArrayShape]) -> usize {
    arrays.iter().map(|a| a.layers * a.channels * (a.channels + a.gate_rows + a.bottleneck)).sum()
}

/// The shard of each of the items costing `costs`, out of `n`: the costliest first, each to
/// the least loaded shard (the lowest on a tie), so that no shard holds two of the widest shapes'
/// cases while another holds only small ones (round-robin put the two 32-channel shapes with two
/// others each on shards 3 and 4 of 8, which alone ran past a device call).
fn shards_by_cost(costs: &[usize], n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..costs.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(costs[i]));
    let mut load = vec![0usize; n.max(1)];
    let mut shard = vec![0; costs.len()];
    for i in order {
        let s = (0..load.len()).min_by_key(|&s| load[s]).unwrap_or(0);
        load[s] += costs[i];
        shard[i] = s;
    }
    shard
}

#[test]
fn shards_balance_the_costliest_shapes() {
    let costs = [1, 50, 2, 40, 3, 60, 4, 5];
    let shards = shards_by_cost(&costs, 3);
    // The three widest shapes on three shards, then each smaller one where the load is least.
    assert_eq!((shards[5], shards[1], shards[3]), (0, 1, 2));
    let load = |s: usize| costs.iter().zip(&shards).filter(|&(_, &k)| k == s).map(|(c, _)| c).sum::<usize>();
    assert_eq!([load(0), load(1), load(2)], [60, 53, 52]);
    assert!(shards_by_cost(&costs, 1).iter().all(|&s| s == 0), "one shard runs everything");
    assert_eq!(shards_by_cost(&[], 4), Vec::<usize>::new());
}

/// Names the slice of the suite one process runs, `K/N` (cases balanced by their shape's
/// [`cost`] over the N shards): the suite compiles a kernel per shape and case (NVRTC, seconds each for the wide
/// shapes), more than one device call holds in one process; scripts/device-test.sh runs the N
/// shards side by side.
const CUBEAUDIO_COLUMNS_SHARD: &str = "CUBEAUDIO_COLUMNS_SHARD";

/// `SHAPE:K` runs case `K` (from 0, in [`cases`] order) of the shapes whose first capture's
/// label contains `SHAPE` alone: a case a call's limits cut, run again by itself.
const CUBEAUDIO_COLUMNS_ONLY: &str = "CUBEAUDIO_COLUMNS_ONLY";

fn only() -> Option<(String, usize)> {
    let text = std::env::var(CUBEAUDIO_COLUMNS_ONLY).ok()?;
    let parsed = text.rsplit_once(':').and_then(|(s, k)| Some((s.to_string(), k.trim().parse().ok()?)));
    Some(parsed.unwrap_or_else(|| panic!("{CUBEAUDIO_COLUMNS_ONLY}={text}: expected SHAPE:K, e.g. pel_w32x12:8")))
}

fn shard() -> (usize, usize) {
    let Ok(text) = std::env::var(CUBEAUDIO_COLUMNS_SHARD) else { return (0, 1) };
    let parsed = text.split_once('/').and_then(|(k, n)| Some((k.trim().parse().ok()?, n.trim().parse().ok()?)));
    match parsed {
        Some((k, n)) if k < n => (k, n),
        _ => panic!("{CUBEAUDIO_COLUMNS_SHARD}={text}: expected K/N with K < N, e.g. 0/4"),
    }
}

/// `group` repeated `copies` times as one batch in buffers of `buffer` frames against the core,
/// the rows split as `splits` forces and weights staged as `staging` does (`None`: the engine's
/// choice).
fn check<R: Runtime>(
    client: &ComputeClient<R>,
    device: &str,
    group: &[Stream],
    buffer: usize,
    copies: usize,
    splits: Option<usize>,
    staging: Option<bool>,
) {
    let started = std::time::Instant::now();
    let nets: Vec<_> = (0..copies).flat_map(|_| group.iter().map(|s| s.model.dsp.as_ref())).collect();
    let mut batch = GpuWaveNetBatch::new(client, &nets, buffer).unwrap();
    batch.set_kernel(KernelChoice::Columns).unwrap();
    batch.set_row_splits(splits).unwrap();
    batch.set_weight_staging(staging).unwrap();
    let shape =
        batch.columns().unwrap_or_else(|| panic!("{device}: {} did not take the columns kernel", group[0].label));
    if let Some(s) = splits {
        assert_eq!(
            shape.splits,
            shape.max_splits(s),
            "{device}: {} split over {} threads",
            group[0].label,
            shape.splits
        );
    }
    // Two layers of weights of up to 16 channels (gated) fit the stage next to the exchange
    // block; forced off, none is staged.
    let narrow = shape.arrays[..shape.count].iter().all(|a| a.channels <= 16 && a.bottleneck <= 16);
    if staging == Some(false) || shape.splits == 1 {
        assert!(!shape.staged, "{device}: {} staged weights it was told not to", group[0].label);
    } else if narrow {
        assert!(shape.staged, "{device}: {} did not stage its weights", group[0].label);
    }
    let inputs: Vec<&[f32]> = (0..copies).flat_map(|_| group.iter().map(|s| s.input.as_slice())).collect();
    let outs = crate::process_in_buffers(&mut batch, &inputs, buffer);
    let mut worst = 0.0f64;
    for (i, got) in outs.iter().enumerate() {
        let s = &group[i % group.len()];
        let err = relative_error(got, &s.expected);
        assert!(err <= 1e-4, "{device} buffer {buffer} ({}): {}: relative error {err:.3e}", shape.label(), s.label);
        worst = worst.max(err);
    }
    println!(
        "[gpu-nam] {device}: columns kernel, {} streams of {} captures ({} …), buffer {buffer}, {}: worst relative error {worst:.3e} ({:.1?} with compilation)",
        nets.len(),
        group.len(),
        group[0].label,
        shape.label(),
        started.elapsed()
    );
}

/// A batch moved interpreter → columns → interpreter between buffers gives the core's output.
fn switches_kernels<R: Runtime>(client: &ComputeClient<R>, device: &str, group: &[Stream]) {
    let nets: Vec<_> = group.iter().map(|s| s.model.dsp.as_ref()).collect();
    let mut batch = GpuWaveNetBatch::new(client, &nets, 64).unwrap();
    batch.set_kernel(KernelChoice::Interpreter).unwrap();
    let len = group[0].input.len();
    let mut outs = vec![vec![0.0f32; len]; group.len()];
    let (mut at, mut k) = (0, 0);
    while at < len {
        let n = 64.min(len - at);
        if k % 50 == 25 {
            let next = if batch.columns().is_some() { KernelChoice::Interpreter } else { KernelChoice::Columns };
            batch.set_kernel(next).unwrap();
        }
        let ins: Vec<&[f32]> = group.iter().map(|s| &s.input[at..at + n]).collect();
        let mut ys: Vec<&mut [f32]> = outs.iter_mut().map(|o| &mut o[at..at + n]).collect();
        batch.process(&ins, &mut ys).unwrap();
        at += n;
        k += 1;
    }
    for (s, got) in group.iter().zip(&outs) {
        let err = relative_error(got, &s.expected);
        assert!(err <= 1e-4, "{device}: kernels switched every 50 buffers: {}: relative error {err:.3e}", s.label);
    }
    println!("[gpu-nam] {device}: {} streams switched between the interpreter and the columns kernel every 50 buffers: within tolerance", group.len());
}

/// Gated and blended layers (no reference file has such a WaveNet the columns kernel covers): a
/// gated 4-channel array into a gated 2-channel one (and the same blended), random weights,
/// against the CPU engine — rows split by default (one stream, weights staged), unsplit, split
/// over 2 forced, and split with weights read from global memory.
fn gated_matches_the_cpu_engine<R: Runtime>(client: &ComputeClient<R>, device: &str) {
    for gating in [r#""gated": true"#, r#""gating_mode": "blended""#] {
        gated_layers_match(client, device, gating);
    }
}

fn gated_layers_match<R: Runtime>(client: &ComputeClient<R>, device: &str, gating: &str) {
    let config = r#"{"layers": [
        {"input_size": 1, "condition_size": 1, "channels": 4, "kernel_size": 3, "dilations": [1, 2, 4, 8], "activation": "Tanh", GATING, "head": {"out_channels": 2, "kernel_size": 1, "bias": false}},
        {"input_size": 4, "condition_size": 1, "channels": 2, "kernel_size": 3, "dilations": [16, 32], "activation": "Tanh", GATING, "head": {"out_channels": 1, "kernel_size": 1, "bias": true}}
    ], "head_scale": 4.0}"#
        .replace("GATING", gating);
    let fresh = || crate::architectures::model("WaveNet", &config, 11, 1.6, |_| {});
    let len = 48 * 60;
    let input: Vec<f32> = (0..len).map(|t| 0.5 * (t as f32 * 0.013).sin() + 0.2 * (t as f32 * 0.31).cos()).collect();
    let buffer = 64;
    let mut cpu = cubeaudio_nam::Model::new(fresh().dsp);
    cpu.reset(buffer).unwrap();
    let mut want = vec![0.0f32; len];
    for (x, y) in input.chunks(buffer).zip(want.chunks_mut(buffer)) {
        cpu.process(x, y);
    }
    let peak = want.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1.0);
    let spread = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(spread > 0.05, "the CPU output is near zero ({spread}), the test proves nothing");
    // The last case: four positions per thread over split rows, what large batches take.
    let cases = [
        (None, None, None),
        (Some(1), None, None),
        (Some(2), None, None),
        (Some(2), Some(false), None),
        (Some(2), None, Some(4)),
    ];
    for (splits, staging, positions) in cases {
        let model = fresh();
        let mut batch = GpuWaveNetBatch::new(client, &[model.dsp.as_ref()], buffer).unwrap();
        batch.set_kernel(KernelChoice::Columns).unwrap();
        batch.set_row_splits(splits).unwrap();
        batch.set_weight_staging(staging).unwrap();
        batch.set_positions(positions).unwrap();
        let shape =
            batch.columns().unwrap_or_else(|| panic!("{device}: the gated model did not take the columns kernel"));
        assert_eq!(shape.splits, if splits == Some(1) { 1 } else { 2 }, "{device}: {}", shape.label());
        assert_eq!(shape.staged, shape.splits > 1 && staging.is_none(), "{device}: {}", shape.label());
        if let Some(p) = positions {
            assert_eq!(shape.frames, p, "{device}: {}", shape.label());
        }
        let got = crate::process_in_buffers(&mut batch, &[&input], buffer).remove(0);
        let err = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max) / peak;
        assert!(err <= 1e-4, "{device}: {gating}, {}: relative error {err:.3e}", shape.label());
        println!(
            "[gpu-nam] {device}: WaveNet with {gating}, {}: relative error {err:.3e} against the CPU engine",
            shape.label()
        );
    }
}

cubeaudio_kernels::for_each_runtime!(|client, info| (client, &info.to_string()); run, gated_matches_the_cpu_engine);
