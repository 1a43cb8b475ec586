//! Kinds whose device code is not the library's: a set defined here (outside the crate, as a
//! user's would be) runs inside the graph program beside the built-in kinds, warps mixing both.

use cubeaudio_kernels::graph_program::reference::ReferenceProgram;
use cubeaudio_kernels::graph_program::{
    DeviceKind, DeviceKindSet, DeviceKinds, GraphProgram, ProgramItem, ProgramSpec, UnrollStreams, IDLE, ITEM_STATE,
    KIND_BIQUAD, KIND_DEVICE, KIND_GAIN, KIND_MIX, KIND_TREMOLO,
};
use cubeaudio_kernels::util::Buffer;
use cubecl::prelude::*;
use rand::seq::SliceRandom;
use rand::Rng;

use crate::harness::{assert_close, rng};

const STRIDE: usize = 128;
const INSTANCES: usize = 3;

/// Kind 0, a wavefolder: `sin(drive · x) · level`, the drive smoothed toward its target
/// (parameters: drive target, level, coefficient; state: drive). Kind 1, a DC blocker:
/// `y = x − x₁ + r · y₁` (parameter: r; state: x₁, y₁).
struct FoldAndBlock;

#[cube]
impl DeviceKinds for FoldAndBlock {
    fn step(kind: u32, x: f32, params: &Array<f32>, at: usize, state: &mut Array<f32>) -> f32 {
        if kind == 0 {
            state[0] += params[at + 2] * (params[at] - state[0]);
            f32::sin(state[0] * x) * params[at + 1]
        } else {
            let y = x - state[0] + params[at] * state[1];
            state[0] = x;
            state[1] = y;
            y
        }
    }
}

fn fold_reference(x: f64, p: &[f64], s: &mut [f64; ITEM_STATE]) -> f64 {
    s[0] += p[2] * (p[0] - s[0]);
    (s[0] * x).sin() * p[1]
}

fn block_reference(x: f64, p: &[f64], s: &mut [f64; ITEM_STATE]) -> f64 {
    let y = x - s[0] + p[0] * s[1];
    s[0] = x;
    s[1] = y;
    y
}

fn set() -> DeviceKindSet {
    // SAFETY: the fold reads `params[at..at + 3]` and `state[0]`, the blocker `params[at]` and
    // `state[0..2]`, as their descriptions say.
    unsafe {
        DeviceKindSet::of::<FoldAndBlock>(vec![
            DeviceKind {
                name: "fold",
                params: 3,
                cost: 90,
                initial_state: |p| [p[0], 0.0, 0.0, 0.0],
                reference: fold_reference,
            },
            DeviceKind {
                name: "dc_block",
                params: 1,
                cost: 70,
                initial_state: |_| [0.0; ITEM_STATE],
                reference: block_reference,
            },
        ])
    }
    .unwrap()
}

const FOLD: u32 = KIND_DEVICE;
const BLOCK: u32 = KIND_DEVICE + 1;

fn params_of(rng: &mut impl Rng, kind: u32) -> Vec<f32> {
    let coef = rng.gen_range(0.001..0.05);
    match kind {
        FOLD => vec![rng.gen_range(1.0..6.0), rng.gen_range(0.3..1.0), coef],
        BLOCK => vec![rng.gen_range(0.99..0.999)],
        KIND_GAIN => vec![rng.gen_range(0.25..2.0), coef],
        KIND_TREMOLO => vec![rng.gen_range(1.0..12.0) / 48_000.0, rng.gen_range(0.2..1.0), coef],
        KIND_BIQUAD => vec![0.2, 0.4, 0.2, -0.3, 0.1],
        _ => vec![0.5, 0.5, 0.5, 0.5, coef],
    }
}

/// Stage 0: 40 items over the two inputs — folds, DC blockers, gains and tremolos in a shuffled
/// layout (warps mix device and built-in kinds, two rounds of the cube); stage 1: a biquad on
/// every fold, a DC blocker on every gain; stage 2: mixes of four to the outputs. Three
/// instances, parameters changed between buffers, buffers of several sizes: equal to the f64
/// reference; reset replays; a kind past the set's is refused.
pub fn graph_program_runs_device_kinds<R: Runtime>(client: &ComputeClient<R>) {
    let mut rng = rng("graph_program_device_kinds");
    let kinds = [FOLD, BLOCK, KIND_GAIN, KIND_TREMOLO];
    let mut items = Vec::new();
    for k in 0..40u32 {
        items.push(ProgramItem { kind: kinds[k as usize % 4], output: 3 + k, inputs: [1 + k % 2, 0, 0, 0], ring: 0 });
    }
    for k in 0..10u32 {
        let (kind, from) = if k % 2 == 0 { (KIND_BIQUAD, 4 * k) } else { (BLOCK, 4 * (k - 1) + 2) };
        items.push(ProgramItem { kind, output: 43 + k, inputs: [3 + from, 0, 0, 0], ring: 0 });
    }
    for m in 0..4u32 {
        let inputs = [43 + m, 47 - m, 3 + 4 * m + 1, 3 + 4 * m + 3];
        items.push(ProgramItem { kind: KIND_MIX, output: 53 + m, inputs, ring: 0 });
    }
    let pad = |mut v: Vec<u32>, warps: usize| {
        v.resize(v.len().div_ceil(32).max(warps) * 32, IDLE);
        v
    };
    let mut first_stage = pad((0..40).collect(), 10);
    first_stage.shuffle(&mut rng);
    let stages = vec![first_stage, pad((40..50).collect(), 1), pad((50..54).collect(), 1)];
    let spec = ProgramSpec {
        items,
        stages,
        input_routes: vec![(0, 1), (1, 2)],
        output_routes: (0..4).map(|c| (53 + c, c)).collect(),
        slots: 57,
        stride: STRIDE,
        inputs: 2,
        outputs: 4,
        instances: INSTANCES,
        convolutions: vec![],
        conv_block: 0,
        streams: vec![],
        stream_step: None,
        local_arena: false,
        instances_per_cube: Some(1),
        unroll_streams: UnrollStreams::Never,
        device_kinds: set(),
    };
    let make = |rng: &mut rand::rngs::SmallRng| -> Vec<f32> {
        (0..INSTANCES)
            .flat_map(|_| spec.items.iter().flat_map(|i| params_of(rng, i.kind)).collect::<Vec<_>>())
            .collect()
    };
    let (first, second) = (make(&mut rng), make(&mut rng));
    assert_eq!(first.len(), spec.params_per_instance() * INSTANCES);
    let mut program = GraphProgram::new(client, spec.clone(), &first).unwrap();
    let mut reference = ReferenceProgram::new(&spec, &first);
    let arena = Buffer::upload(client, &vec![0.0; spec.arena_per_instance() * INSTANCES]);
    let buffers = [128usize, 1, 77, 128, 64, 128];
    let inputs: Vec<Vec<Vec<Vec<f32>>>> = buffers
        .iter()
        .map(|&n| {
            (0..INSTANCES)
                .map(|_| (0..2).map(|_| (0..n).map(|_| rng.gen_range(-0.8f32..0.8)).collect()).collect())
                .collect()
        })
        .collect();
    let run = |program: &mut GraphProgram, b: usize, n: usize| -> Vec<f32> {
        let host: Vec<f32> = inputs[b]
            .iter()
            .flat_map(|inst| inst.iter().flat_map(|ch| ch.iter().copied().chain(std::iter::repeat_n(0.0, STRIDE - n))))
            .collect();
        let outbuf = Buffer::upload(client, &vec![f32::NAN; INSTANCES * 4 * STRIDE]);
        program.process(client, Some(&Buffer::upload(client, &host)), Some(&outbuf), &arena, n, None).unwrap();
        let got = outbuf.read(client, "graph_program").unwrap();
        (0..INSTANCES * 4).flat_map(|c| got[c * STRIDE..c * STRIDE + n].to_vec()).collect()
    };
    let mut replay = Vec::new();
    for (b, &n) in buffers.iter().enumerate() {
        if b == 3 {
            program.set_params(client, &second).unwrap();
            reference.set_params(&second);
        }
        let got = run(&mut program, b, n);
        let want: Vec<f64> = reference.process(&inputs[b], n).into_iter().flatten().flatten().collect();
        // f32 against f64 through a smoothed sine, a resonant-free biquad and DC blockers whose
        // pole at up to 0.999 gathers rounding over the buffers; a wrong kind, parameter or
        // state is off by far more.
        assert_close(&format!("device kinds, buffer {b} ({n} frames)"), &got, &want, 1e-4);
        if b < 2 {
            replay.push(got);
        }
    }
    program.set_params(client, &first).unwrap();
    program.reset(client);
    for (b, &n) in buffers.iter().enumerate().take(2) {
        assert_eq!(run(&mut program, b, n), replay[b], "buffer {b} after reset differs from the first run");
    }
    // A kind the set does not hold, and a device kind with no set, are refused by name.
    let mut past = spec.clone();
    past.items[0].kind = KIND_DEVICE + 2;
    let e = GraphProgram::new(client, past, &first).err().expect("a kind past the set's was accepted").to_string();
    assert!(e.contains("FoldAndBlock") && e.contains("kind 10"), "{e}");
    let none = ProgramSpec { device_kinds: DeviceKindSet::none(), ..spec.clone() };
    assert!(GraphProgram::new(client, none, &first).is_err(), "device kinds without their set were accepted");
}

cubeaudio_kernels::for_each_runtime!(graph_program_runs_device_kinds);
