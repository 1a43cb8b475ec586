use cubecl::prelude::*;

use super::{graph_program_kernel, IDLE, ITEM_STATE, KINDS, KIND_ECHO, KIND_GAIN, KIND_MIX, KIND_TREMOLO, RECORD};
use super::{scratch_floats, StreamStages, CONV_RECORD, KIND_DRIVE, KIND_NAMES, STREAM_RECORD};
use super::{DeviceKindSet, DeviceKinds};
use crate::fft::twiddles;
use crate::partitioned_conv::{tail_spectra, MAX_BLOCK, MAX_IR_LEN, MAX_SPECTRA_BYTES};
use crate::routed::MIX_INPUTS;
use crate::util::{at_most, finite, len_eq, nonzero, Buffer, IndexBuffer};
use crate::wavenet_columns::{ColumnsShape, DEFAULT_MULTIPROCESSORS};
use crate::wavenet_streams::{StreamsShape, META};
use crate::KernelError;

const KERNEL: &str = "graph_program";

/// Most units of one cube (portable: every wgpu adapter allows 256 invocations per workgroup).
/// A stage laid out over more slots runs in several rounds.
pub const MAX_PROGRAM_UNITS: usize = 256;
/// Largest echo ring, in samples (2 s at 768 kHz fits).
pub const MAX_RING: usize = 1 << 21;
/// Most instances of one program in one launch (cubes along one dimension).
pub const MAX_INSTANCES: usize = 65_535;
/// Most instances one cube runs.
pub const MAX_INSTANCES_PER_CUBE: usize = 16;
/// Warp width layouts are made of; a stage's layout is a whole number of warps.
pub const LAYOUT_WARP: usize = 32;
/// Shared memory a program may take for an instance's arena and the convolutions' scratch, in
/// floats: 16 KiB, what every wgpu adapter grants a workgroup.
pub const LOCAL_ARENA_FLOATS: usize = 4096;

/// One channel of one processor in a program.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgramItem {
    /// One of the `KIND_*` constants.
    pub kind: u32,
    /// Arena slot it writes.
    pub output: u32,
    /// Arena slots it reads: the first only, except for a mix.
    pub inputs: [u32; MIX_INPUTS],
    /// Echo only: samples in its ring (a power of two above the longest delay); 0 otherwise.
    pub ring: usize,
}

/// One channel of a convolution with an impulse response, run by the whole cube after its
/// stage's items (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct ProgramConvolution {
    /// Arena slot it reads.
    pub input: u32,
    /// Arena slot it writes.
    pub output: u32,
    /// The impulse response (1 ..= [`MAX_IR_LEN`] finite samples).
    pub ir: Vec<f32>,
}

impl ProgramConvolution {
    /// Tail partitions of `block` samples after the head.
    fn partitions(&self, block: usize) -> usize {
        self.ir.len().saturating_sub(block).div_ceil(block)
    }
}

/// One model stream (a convolutional NAM model) run by the whole cube after its stage's items
/// and convolutions, with [`run_stream`](crate::wavenet_streams::run_stream).
#[derive(Debug, Clone, PartialEq)]
pub struct ProgramStream {
    /// Arena slot it reads.
    pub input: u32,
    /// Arena slot it writes.
    pub output: u32,
}

/// The model streams' tables for one buffer, as the plan interpreter reads them: `streams`
/// records of [`META`] u32s in `meta` (instance after instance, the program's streams of one
/// instance in stage order), their plans, weights and histories. Their owner builds them
/// (`cubeaudio-nam`); the program binds them. `meta` and `plan` hold clones of their owner's
/// handles (no allocation).
pub struct StreamTables<'a> {
    /// Per stream: plan, weights, state offsets, (unused) input and output offsets, cursor.
    pub meta: IndexBuffer,
    /// The plans.
    pub plan: IndexBuffer,
    /// The weights.
    pub weights: &'a Buffer,
    /// The histories.
    pub state: &'a Buffer,
    /// Frames run since the cursors in `meta` were uploaded.
    pub tick: u32,
}

/// What a program runs: its items, the layout of every stage, and the graph's inputs and
/// outputs.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgramSpec {
    /// Every item; parameters are laid out item after item, [`KIND_PARAMS`](super::KIND_PARAMS)
    /// each (a device kind: its set's count).
    pub items: Vec<ProgramItem>,
    /// Per stage, its slots in warp order: the item each runs, or [`IDLE`]; a whole number of
    /// [`LAYOUT_WARP`]-wide warps. Every item is in exactly one stage, once.
    pub stages: Vec<Vec<u32>>,
    /// (graph input channel, arena slot) copied in before the first stage.
    pub input_routes: Vec<(u32, u32)>,
    /// (arena slot, graph output channel) copied out after the last stage.
    pub output_routes: Vec<(u32, u32)>,
    /// Arena slots of one instance (slot 0 is silence).
    pub slots: usize,
    /// Floats per slot: the largest buffer.
    pub stride: usize,
    /// Graph input channels of one instance.
    pub inputs: usize,
    /// Graph output channels of one instance.
    pub outputs: usize,
    /// Instances run by one launch ([`ProgramSpec::instances_per_cube`] per cube).
    pub instances: usize,
    /// Per stage, the convolutions the cube runs after the stage's items (a shorter list: the
    /// later stages have none).
    pub convolutions: Vec<Vec<ProgramConvolution>>,
    /// The convolutions' block `B` (head taps and FFT partition; a power of two up to
    /// [`MAX_BLOCK`]); unused without convolutions.
    pub conv_block: usize,
    /// Per stage, the model streams the cube runs last in it (a shorter list: the later stages
    /// have none).
    pub streams: Vec<Vec<ProgramStream>>,
    /// How the streams run (their compiled shape); unused without streams.
    pub stream_step: Option<StreamStep>,
    /// Hold each instance's arena in shared memory during the launch when it fits
    /// ([`LOCAL_ARENA_FLOATS`] with the convolutions' scratch); else the stages read and write
    /// device memory.
    pub local_arena: bool,
    /// Instances one cube runs (at most [`MAX_INSTANCES_PER_CUBE`]); `None`: chosen by
    /// [`GraphProgram::new`] ([`instances_per_cube`]).
    pub instances_per_cube: Option<usize>,
    /// Whether the model streams of up to [`MAX_UNROLLED_STAGES`](super::MAX_UNROLLED_STAGES)
    /// stages run outside the stage loop, where the streams run on the columns kernel
    /// ([`StreamStages`]): the same results, bit for bit, from code that CUDA's compiler budgets
    /// far fewer registers per thread for.
    pub unroll_streams: UnrollStreams,
    /// The kinds from `KIND_DEVICE` on: per-sample steps defined outside the library
    /// ([`DeviceKindSet::none`] for the built-in kinds only).
    pub device_kinds: DeviceKindSet,
}

impl ProgramSpec {
    /// Parameters of one instance.
    pub fn params_per_instance(&self) -> usize {
        self.items.iter().map(|i| self.kind_params(i.kind)).sum()
    }

    /// Device parameters of an item of `kind` (a built-in kind or one of the device-kind set;
    /// 0 for neither).
    pub fn kind_params(&self, kind: u32) -> usize {
        self.device_kinds.params_of(kind)
    }

    /// The name of `kind`, for errors and reports.
    pub fn kind_name(&self, kind: u32) -> &'static str {
        KIND_NAMES.get(kind as usize).copied().or_else(|| self.device_kinds.get(kind).map(|k| k.name)).unwrap_or("?")
    }

    /// The state an item of `kind` starts from for its parameters.
    pub fn initial_state(&self, kind: u32, params: &[f32]) -> [f32; ITEM_STATE] {
        match self.device_kinds.get(kind) {
            Some(k) => (k.initial_state)(params),
            None => initial_state(kind, params),
        }
    }

    /// Floats of one instance's arena.
    pub fn arena_per_instance(&self) -> usize {
        self.slots * self.stride
    }

    fn convs(&self) -> impl Iterator<Item = &ProgramConvolution> {
        self.convolutions.iter().flatten()
    }

    /// Model streams of one instance.
    pub fn streams_per_instance(&self) -> usize {
        self.streams.iter().map(Vec::len).sum()
    }

    /// How the streams run, when the program has any.
    fn step(&self) -> Option<StreamStep> {
        self.stream_step.filter(|_| self.streams_per_instance() > 0)
    }

    /// Most streams one stage of an instance runs.
    fn widest_stream_stage(&self) -> usize {
        self.streams.iter().map(Vec::len).max().unwrap_or(0)
    }

    /// Samples of each convolution's input and output ring: the largest buffer and two blocks.
    fn conv_ring(&self) -> usize {
        (self.stride + 2 * self.conv_block).next_power_of_two()
    }

    fn check(&self) -> Result<(), KernelError> {
        let invalid = |reason: String| KernelError::Invalid { kernel: KERNEL, reason };
        nonzero(KERNEL, "stride", self.stride)?;
        nonzero(KERNEL, "instances", self.instances)?;
        at_most(KERNEL, "instances", self.instances, MAX_INSTANCES)?;
        if let Some(g) = self.instances_per_cube {
            nonzero(KERNEL, "instances per cube", g)?;
            at_most(KERNEL, "instances per cube", g, MAX_INSTANCES_PER_CUBE)?;
        }
        nonzero(KERNEL, "arena slots", self.slots)?;
        let mut seen = vec![false; self.items.len()];
        for (s, layout) in self.stages.iter().enumerate() {
            if layout.len() % LAYOUT_WARP != 0 {
                return Err(invalid(format!("stage {s}: {} slots is not a whole number of warps", layout.len())));
            }
            for &e in layout.iter().filter(|&&e| e != IDLE) {
                match seen.get_mut(e as usize) {
                    None => return Err(invalid(format!("stage {s} places item {e} of {}", self.items.len()))),
                    Some(true) => return Err(invalid(format!("item {e} is placed twice"))),
                    Some(v) => *v = true,
                }
            }
        }
        if let Some(e) = seen.iter().position(|&v| !v) {
            return Err(invalid(format!("item {e} is in no stage")));
        }
        let slot = |what: &str, s: u32| {
            if (s as usize) < self.slots {
                Ok(())
            } else {
                Err(invalid(format!("{what} slot {s} is outside the arena's {} slots", self.slots)))
            }
        };
        for (e, item) in self.items.iter().enumerate() {
            if item.kind as usize >= KINDS && self.device_kinds.get(item.kind).is_none() {
                return Err(invalid(format!(
                    "item {e}: kind {} is neither one of the {KINDS} built-in kinds nor one of the {} of the \
                     device-kind set `{}`",
                    item.kind,
                    self.device_kinds.kinds().len(),
                    self.device_kinds.type_name()
                )));
            }
            slot("output", item.output)?;
            if item.output == 0 {
                return Err(invalid(format!("item {e} writes the silent slot 0")));
            }
            for &i in &item.inputs {
                slot("input", i)?;
            }
            if item.kind == KIND_ECHO {
                if !item.ring.is_power_of_two() || item.ring < 2 || item.ring > MAX_RING {
                    return Err(invalid(format!(
                        "item {e}: echo ring of {} samples must be a power of two in 2..={MAX_RING}",
                        item.ring
                    )));
                }
            } else if item.ring != 0 {
                return Err(invalid(format!("item {e}: a {} has no ring", self.kind_name(item.kind))));
            }
        }
        if self.convolutions.len() > self.stages.len() {
            return Err(invalid(format!(
                "convolutions for {} stages in a program of {}",
                self.convolutions.len(),
                self.stages.len()
            )));
        }
        if self.convs().next().is_some() {
            nonzero(KERNEL, "convolution block", self.conv_block)?;
            crate::util::power_of_two(KERNEL, "convolution block", self.conv_block)?;
            at_most(KERNEL, "convolution block", self.conv_block, MAX_BLOCK)?;
        }
        for (c, conv) in self.convs().enumerate() {
            slot("convolution input", conv.input)?;
            slot("convolution output", conv.output)?;
            if conv.output == 0 {
                return Err(invalid(format!("convolution {c} writes the silent slot 0")));
            }
            if conv.ir.is_empty() {
                return Err(invalid(format!("convolution {c}: the impulse response is empty")));
            }
            at_most(KERNEL, "impulse response length", conv.ir.len(), MAX_IR_LEN)?;
            if let Some(i) = conv.ir.iter().position(|v| !v.is_finite()) {
                return Err(invalid(format!("convolution {c}: impulse response sample {i} is not finite")));
            }
        }
        if self.streams.len() > self.stages.len() {
            return Err(invalid(format!(
                "streams for {} stages in a program of {}",
                self.streams.len(),
                self.stages.len()
            )));
        }
        if self.streams_per_instance() > 0 && self.stream_step.is_none() {
            return Err(invalid("model streams without their shape".into()));
        }
        at_most(KERNEL, "units of the streams", self.stream_step.map_or(0, |s| s.units()), 1024)?;
        for (k, stream) in self.streams.iter().flatten().enumerate() {
            slot("stream input", stream.input)?;
            slot("stream output", stream.output)?;
            if stream.output == 0 || stream.output == stream.input {
                return Err(invalid(format!(
                    "stream {k} writes slot {} (its input or the silent slot)",
                    stream.output
                )));
            }
        }
        for &(c, s) in &self.input_routes {
            slot("input route", s)?;
            if c as usize >= self.inputs {
                return Err(invalid(format!("input route reads channel {c} of {}", self.inputs)));
            }
        }
        for &(s, c) in &self.output_routes {
            slot("output route", s)?;
            if c as usize >= self.outputs {
                return Err(invalid(format!("output route writes channel {c} of {}", self.outputs)));
            }
        }
        Ok(())
    }
}

/// Whether a program runs its columns streams outside the stage loop ([`StreamStages`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnrollStreams {
    /// Unrolled where the launch has more cubes than the device has multiprocessors. Unrolled,
    /// the standard WaveNet's body takes 128 registers per thread instead of 252 (two 256-thread
    /// cubes per multiprocessor instead of one) and spills some: on an H200 `amp_cab` at 128
    /// frames took 591 instead of 796 µs of device time per buffer for 1,024 instances, 159
    /// instead of 214 for 256, but one instance at 64 frames 91.5 instead of 76.1 µs — a lone
    /// cube gains nothing from the second slot and waits on its spills (docs/PERFORMANCE.md,
    /// twenty-ninth measurement).
    #[default]
    Auto,
    /// Always unrolled.
    Always,
    /// Always in the stage loop.
    Never,
}

impl UnrollStreams {
    /// Whether a launch of `cubes` on `multiprocessors` runs unrolled.
    pub fn unrolls(self, cubes: usize, multiprocessors: usize) -> bool {
        match self {
            UnrollStreams::Auto => cubes > multiprocessors,
            UnrollStreams::Always => true,
            UnrollStreams::Never => false,
        }
    }

    /// `CUBEAUDIO_PROGRAM_UNROLL`: `1` always, `0` never, anything else (or unset) auto.
    pub fn from_env() -> Self {
        match std::env::var("CUBEAUDIO_PROGRAM_UNROLL").as_deref() {
            Ok("1") => UnrollStreams::Always,
            Ok("0") => UnrollStreams::Never,
            _ => UnrollStreams::Auto,
        }
    }
}

/// The state an item starts from for its parameters: smoothers at their targets, envelopes,
/// phases and gates at zero.
pub fn initial_state(kind: u32, params: &[f32]) -> [f32; ITEM_STATE] {
    match kind {
        KIND_GAIN | KIND_DRIVE => [params[0], 0.0, 0.0, 0.0],
        KIND_MIX => [params[0], params[1], params[2], params[3]],
        KIND_TREMOLO => [0.0, params[1], 0.0, 0.0],
        _ => [0.0; ITEM_STATE],
    }
}

/// Appends per stage the (first, end) range of its cooperative steps (convolutions or streams),
/// numbered stage after stage; `count(s)`: stage `s`'s steps.
fn stage_ranges(layout: &mut Vec<u32>, stages: usize, count: impl Fn(usize) -> usize) {
    let mut first = 0u32;
    for s in 0..stages {
        let end = first + count(s) as u32;
        layout.extend([first, end]);
        first = end;
    }
}

/// How a program's model streams run: the plan interpreter (any plan; `units` per cube at
/// least), or the columns kernel (one WaveNet shape compiled in, far fewer instructions per
/// sample).
// One per program, built when the graph is committed: its size does not matter, and `Copy`
// keeps the spec plain data.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamStep {
    /// [`run_stream`](crate::wavenet_streams::run_stream): the whole cube on one stream at a time.
    Interpreter {
        /// The interpreter's compiled shape.
        shape: StreamsShape,
        /// Units a cube needs at least.
        units: usize,
    },
    /// [`run_columns`](crate::wavenet_columns::run_columns): `lanes · splits` threads per
    /// stream, as many streams of a stage at once as the cube has slots for.
    Columns(ColumnsShape),
}

impl StreamStep {
    /// What runs the streams, for reports.
    pub fn label(&self) -> String {
        match self {
            StreamStep::Interpreter { .. } => "the plan interpreter".into(),
            StreamStep::Columns(c) => format!("the columns kernel ({})", c.label()),
        }
    }

    /// Units a cube needs at least (one stream's).
    pub fn units(&self) -> usize {
        match self {
            StreamStep::Interpreter { units, .. } => *units,
            StreamStep::Columns(c) => c.lanes * c.splits,
        }
    }
}

/// Static shared memory every backend offers a cube.
pub const MAX_SHARED_BYTES: usize = 48 * 1024;

/// The columns shape a program's cube of `units` runs: as many stream slots as the cube holds
/// and a stage has streams (`widest`), fewer where their shared memory would not fit beside the
/// program's (`scratch` and the local arena, which is given up before a lone slot is); an error
/// where even a lone slot does not fit.
fn columns_in_cube(
    shape: ColumnsShape,
    units: usize,
    widest: usize,
    scratch: usize,
    local_arena: &mut usize,
) -> Result<ColumnsShape, KernelError> {
    let per = shape.lanes * shape.splits;
    let mut shape = ColumnsShape { streams_per_cube: (units / per).clamp(1, widest.max(1)), ..shape };
    let fits = |s: &ColumnsShape, arena: usize| (scratch + arena + s.shared_floats()) * 4 <= MAX_SHARED_BYTES;
    while shape.streams_per_cube > 1 && !fits(&shape, *local_arena) {
        shape.streams_per_cube -= 1;
    }
    if !fits(&shape, *local_arena) {
        *local_arena = 0;
    }
    if !fits(&shape, *local_arena) {
        return Err(KernelError::Invalid {
            kernel: KERNEL,
            reason: format!(
                "the streams' shared memory ({} floats) does not fit beside the program's",
                shape.shared_floats()
            ),
        });
    }
    Ok(shape)
}

/// Instances per cube [`GraphProgram::new`] takes when the spec does not say: one, except where
/// the model streams run on the columns kernel and the launch has more instances than the
/// device has `multiprocessors` — then as many as a full cube holds with every instance's
/// widest stage of streams side by side in the cube's stream slots. A cube of one instance
/// leaves the threads of every slot but its streams' idle while they run (an `amp_cab`
/// amp takes 128 of the cube's 256), and registers allow one such cube per multiprocessor.
pub fn instances_per_cube(
    step: Option<StreamStep>,
    widest_streams: usize,
    instances: usize,
    multiprocessors: usize,
    cube_units: usize,
) -> usize {
    match step {
        Some(StreamStep::Columns(c)) if instances > multiprocessors && widest_streams > 0 => {
            (cube_units / (c.lanes * c.splits * widest_streams)).clamp(1, MAX_INSTANCES_PER_CUBE)
        }
        _ => 1,
    }
}

/// Whether a program's `unrolled` stages fit a cube's `max_shared_bytes` beside its `fixed`
/// shared floats (scratch and local arena); a program with nothing unrolled always does.
fn unrolled_fits(unrolled: &StreamStages, step: Option<StreamStep>, fixed: usize, max_shared_bytes: usize) -> bool {
    match step {
        Some(StreamStep::Columns(shape)) if unrolled.count > 0 => {
            (fixed + unrolled.shared_floats(&shape)) * 4 <= max_shared_bytes
        }
        _ => true,
    }
}

/// How a cube runs: its instances, units, shared arena floats and stream step.
struct CubePlan {
    group: usize,
    units: usize,
    local_arena: usize,
    step: Option<StreamStep>,
}

impl CubePlan {
    /// Stream slots of the cube (one per stream at a time; the interpreter runs one).
    fn slots(&self) -> usize {
        match self.step {
            Some(StreamStep::Columns(c)) => c.streams_per_cube,
            _ => 1,
        }
    }
}

/// The cube `spec` launches with (`width`: its stages' layout rows; `scratch`: the cooperative
/// steps' shared floats): its instances ([`instances_per_cube`] unless the spec says), fewer
/// where the cube's shared memory holds fewer stream slots than its instances' streams (they
/// would run one after the other). The streams keep their batch's shape: four positions per
/// thread instead of two, which would halve a stream's threads and fit twice the instances, made
/// the program slower on an H200 (`amp_cab` 256 instances, device time per buffer: 64 frames,
/// three per cube with four positions 294.5 µs against two per cube with two 136.5; 128 frames,
/// two per cube with four 315.2 against one with two 269.7 — twenty-sixth measurement).
fn plan_cube(
    spec: &ProgramSpec,
    width: usize,
    has_convs: bool,
    scratch: usize,
    multiprocessors: usize,
    cap: usize,
) -> Result<CubePlan, KernelError> {
    let widest = spec.widest_stream_stage();
    let cube = |group: usize, step: Option<StreamStep>| -> Result<CubePlan, KernelError> {
        // Convolutions are cube-wide transforms and sums: a full cube serves them best.
        let units = if has_convs { cap } else { (group * width).min(cap) };
        let units = step.map_or(units, |s| units.max(s.units()));
        let arena = group * spec.arena_per_instance();
        let mut local_arena = if spec.local_arena && arena + scratch <= LOCAL_ARENA_FLOATS { arena } else { 0 };
        // As launched: the interpreter with the cube's units, the columns kernel with its slots.
        let step = match step {
            Some(StreamStep::Interpreter { shape, .. }) => Some(StreamStep::Interpreter { shape, units }),
            Some(StreamStep::Columns(shape)) => {
                Some(StreamStep::Columns(columns_in_cube(shape, units, widest * group, scratch, &mut local_arena)?))
            }
            None => None,
        };
        Ok(CubePlan { group, units, local_arena, step })
    };
    let chosen = spec.instances_per_cube.is_none();
    let step = spec.step();
    let wanted = spec
        .instances_per_cube
        .unwrap_or_else(|| instances_per_cube(step, widest, spec.instances, multiprocessors, cap))
        .min(spec.instances);
    let mut plan = cube(wanted, step)?;
    while chosen && plan.group > 1 && plan.slots() < plan.group * widest {
        plan = cube(plan.group - 1, step)?;
    }
    Ok(plan)
}

/// A [`ProgramSpec`] on the device, with every instance's parameters, state and echo rings.
pub struct GraphProgram {
    spec: ProgramSpec,
    program: IndexBuffer,
    layout: IndexBuffer,
    routes: IndexBuffer,
    dims: IndexBuffer,
    params: Buffer,
    applied: Vec<f32>,
    initial: Vec<f32>,
    state: Buffer,
    rings: Buffer,
    conv_data: Buffer,
    /// Floats of the instance's arena held in shared memory during a launch (0: none).
    local_arena: usize,
    ring_floats: usize,
    /// Items' state floats of one instance, then one delay-line slot per convolution.
    state_floats: usize,
    ring_period: usize,
    cursor: usize,
    units: usize,
    /// Instances per cube.
    group: usize,
    /// How the streams run as launched (the columns kernel with its slots per cube).
    step: Option<StreamStep>,
    /// The stages whose streams run outside the stage loop.
    unrolled: StreamStages,
    /// Whether unrolled stages were asked for but their shared memory does not fit the device.
    unroll_declined: bool,
    /// Bound where a program has no graph input or output (a stage inside a larger graph).
    unused: (Buffer, Buffer),
    /// Bound for the stream tables of a program without streams.
    no_streams: (IndexBuffer, Buffer),
}

impl GraphProgram {
    /// Checks `spec` and uploads it with every instance's parameters (`params`: instance after
    /// instance, [`ProgramSpec::params_per_instance`] each).
    pub fn new<R: Runtime>(client: &ComputeClient<R>, spec: ProgramSpec, params: &[f32]) -> Result<Self, KernelError> {
        spec.check()?;
        launch_of::<R>(&spec.device_kinds)?;
        let per = spec.params_per_instance();
        len_eq(KERNEL, "parameters", per * spec.instances, params.len())?;
        finite(KERNEL, "parameter", params)?;
        let width = spec.stages.iter().map(Vec::len).max().unwrap_or(0).max(LAYOUT_WARP);
        let has_convs = spec.convs().next().is_some();
        let mut layout = vec![IDLE; spec.stages.len() * width];
        for (s, stage) in spec.stages.iter().enumerate() {
            layout[s * width..][..stage.len()].copy_from_slice(stage);
        }
        let conv_stages = layout.len();
        stage_ranges(&mut layout, spec.stages.len(), |s| spec.convolutions.get(s).map_or(0, Vec::len));
        let stream_ranges = layout.len();
        stage_ranges(&mut layout, spec.stages.len(), |s| spec.streams.get(s).map_or(0, Vec::len));
        let mut program = Vec::with_capacity(spec.items.len() * RECORD);
        let (mut param_at, mut ring_at) = (0u32, 0usize);
        for item in &spec.items {
            program.extend([item.kind, item.output]);
            program.extend(item.inputs);
            program.extend([param_at, ring_at as u32, item.ring.saturating_sub(1) as u32]);
            param_at += spec.kind_params(item.kind) as u32;
            ring_at += item.ring;
        }
        // Convolutions: twiddles first (the transform reads them from offset 0), then per
        // convolution its head padded to B and its tail spectra; per instance its rings and
        // delay line after the echo rings.
        let conv_records = program.len();
        let block = spec.conv_block;
        let conv_ring = spec.conv_ring();
        let mut data_floats = if has_convs { 2 * block } else { 1 };
        for conv in spec.convs() {
            let at = data_floats;
            let parts = conv.partitions(block);
            data_floats += block + parts * 4 * block;
            let record: [u32; CONV_RECORD] = [
                conv.input,
                conv.output,
                at as u32,
                conv.ir.len().min(block) as u32,
                parts as u32,
                ring_at as u32,
                (conv_ring - 1) as u32,
            ];
            program.extend(record);
            ring_at += 2 * conv_ring + parts * 4 * block;
        }
        at_most(KERNEL, "bytes of convolution spectra", 4 * data_floats, MAX_SPECTRA_BYTES)?;
        let stream_records = program.len();
        for stream in spec.streams.iter().flatten() {
            let record: [u32; STREAM_RECORD] = [stream.input, stream.output];
            program.extend(record);
        }
        let ring_floats = ring_at;
        at_most(KERNEL, "ring and delay-line floats of all instances", ring_floats * spec.instances, 1 << 28)?;
        at_most(KERNEL, "arena floats of all instances", spec.arena_per_instance() * spec.instances, 1 << 28)?;
        let state_floats = spec.items.len() * ITEM_STATE + spec.convs().count();
        let stride = spec.stride as u32;
        let routes: Vec<u32> = spec
            .input_routes
            .iter()
            .flat_map(|&(c, s)| [c * stride, s * stride])
            .chain(spec.output_routes.iter().flat_map(|&(s, c)| [s * stride, c * stride]))
            .collect();
        // Every ring is a power of two, so positions modulo the largest are positions modulo each.
        let conv_period = if has_convs { conv_ring } else { 1 };
        let ring_period = spec.items.iter().map(|i| i.ring).max().unwrap_or(1).max(conv_period).max(1);
        let mut conv_data = vec![0.0f32; data_floats];
        if has_convs {
            conv_data[..2 * block].copy_from_slice(&twiddles(2 * block));
            let mut at = 2 * block;
            for conv in spec.convs() {
                let head = conv.ir.len().min(block);
                conv_data[at..at + head].copy_from_slice(&conv.ir[..head]);
                let parts = conv.partitions(block);
                let spectra = tail_spectra(&[&conv.ir], block, parts);
                conv_data[at + block..][..spectra.len()].copy_from_slice(&spectra);
                at += block + parts * 4 * block;
            }
        }
        let interpreter = match spec.step() {
            Some(StreamStep::Interpreter { shape, .. }) => Some(shape),
            _ => None,
        };
        let scratch = scratch_floats(if has_convs { block } else { 0 }, interpreter);
        let multiprocessors =
            client.properties().hardware.num_streaming_multiprocessors.map_or(DEFAULT_MULTIPROCESSORS, |n| n as usize);
        // `CUBEAUDIO_PROGRAM_UNITS` (a power of two from 256 to the device's limit) widens the
        // cube past the portable 256 threads: more instances per cube, while CUDA's launch
        // bound then holds nvcc to fewer registers per thread.
        let cap = std::env::var("CUBEAUDIO_PROGRAM_UNITS")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|&u| {
                u.is_power_of_two()
                    && u >= MAX_PROGRAM_UNITS
                    && u <= client.properties().hardware.max_units_per_cube as usize
            })
            .unwrap_or(MAX_PROGRAM_UNITS);
        let plan = plan_cube(&spec, width, has_convs, scratch, multiprocessors, cap)?;
        // Streams leave the loop only on the columns kernel and when asked; either way a loop
        // compiles the convolutions' code only where one of its stages has some.
        let cubes = spec.instances.div_ceil(plan.group);
        let unroll =
            spec.unroll_streams.unrolls(cubes, multiprocessors) && matches!(plan.step, Some(StreamStep::Columns(_)));
        let streams: Vec<usize> = if unroll { spec.streams.iter().map(Vec::len).collect() } else { Vec::new() };
        let convolutions: Vec<bool> = spec.convolutions.iter().map(|c| !c.is_empty()).collect();
        let mut unrolled = StreamStages::of(&streams, &convolutions, plan.group, plan.slots());
        // Every unrolled round inlines the columns body with shared arrays of its own (cubecl
        // allocates each `SharedMemory::new` apart), where the loop has one set: unrolled, the
        // program needs `rounds` sets. A device that cannot hold them (NVIDIA's Vulkan driver,
        // 48 KiB a workgroup; CUDA opts in to 227 KiB) runs the streams in the loop instead —
        // the same arithmetic in the same order — where the launch would otherwise be refused.
        let max_shared = client.properties().hardware.max_shared_memory_size;
        let unroll_declined = !unrolled_fits(&unrolled, plan.step, scratch + plan.local_arena, max_shared);
        if unroll_declined {
            unrolled = StreamStages::of(&[], &convolutions, plan.group, plan.slots());
        }
        let CubePlan { group, units, local_arena, step } = plan;
        let dims = [
            stride,
            spec.stages.len() as u32,
            width as u32,
            spec.input_routes.len() as u32,
            spec.output_routes.len() as u32,
            spec.arena_per_instance() as u32,
            per as u32,
            state_floats as u32,
            ring_floats as u32,
            (spec.inputs * spec.stride) as u32,
            (spec.outputs * spec.stride) as u32,
            conv_records as u32,
            conv_stages as u32,
            (spec.items.len() * ITEM_STATE) as u32,
            stream_records as u32,
            stream_ranges as u32,
            spec.streams_per_instance() as u32,
            group as u32,
            spec.instances as u32,
        ];
        let mut this = Self {
            program: IndexBuffer::upload(client, &program),
            layout: IndexBuffer::upload(client, &layout),
            routes: IndexBuffer::upload(client, &routes),
            dims: IndexBuffer::upload(client, &dims),
            params: Buffer::upload(client, params),
            applied: params.to_vec(),
            initial: params.to_vec(),
            state: Buffer::upload(client, &[0.0]),
            rings: Buffer::upload(client, &[0.0]),
            conv_data: Buffer::upload(client, &conv_data),
            local_arena,
            ring_floats,
            state_floats,
            ring_period,
            cursor: 0,
            units,
            group,
            step,
            unrolled,
            unroll_declined,
            unused: (Buffer::upload(client, &[0.0]), Buffer::upload(client, &[0.0])),
            no_streams: (IndexBuffer::upload(client, &[0]), Buffer::upload(client, &[0.0])),
            spec,
        };
        this.reset(client);
        Ok(this)
    }

    /// The program.
    pub fn spec(&self) -> &ProgramSpec {
        &self.spec
    }

    /// Units per cube the program launches with.
    pub fn units(&self) -> usize {
        self.units
    }

    /// Instances each cube runs.
    pub fn instances_per_cube(&self) -> usize {
        self.group
    }

    /// How the program runs its model streams (the columns shape with its slots per cube as
    /// launched), if it has any.
    pub fn stream_step(&self) -> Option<StreamStep> {
        self.step
    }

    /// Stages whose model streams run outside the stage loop ([`ProgramSpec::unroll_streams`]).
    pub fn unrolled_stages(&self) -> usize {
        self.unrolled.count
    }

    /// Whether the streams were to run unrolled but stay in the loop because the unrolled
    /// rounds' shared memory exceeds what the device grants a cube.
    pub fn unroll_declined(&self) -> bool {
        self.unroll_declined
    }

    /// Whether each instance's arena sits in shared memory during a launch.
    pub fn local_arena(&self) -> bool {
        self.local_arena > 0
    }

    /// New parameter values for every instance (as in [`GraphProgram::new`]); uploaded only when
    /// one changed. Smoothed ones glide there from the current values.
    pub fn set_params<R: Runtime>(&mut self, client: &ComputeClient<R>, params: &[f32]) -> Result<(), KernelError> {
        len_eq(KERNEL, "parameters", self.applied.len(), params.len())?;
        finite(KERNEL, "parameter", params)?;
        if params != self.applied.as_slice() {
            self.params = Buffer::upload(client, params);
            self.applied.copy_from_slice(params);
        }
        Ok(())
    }

    /// Runs `frames` samples of every instance: reads `input` (instance after instance,
    /// `inputs × stride` floats each) into `arena` (instance after instance,
    /// [`ProgramSpec::arena_per_instance`] each; a longer arena is fine), runs every stage, writes `output` (`outputs ×
    /// stride` per instance). `input`/`output` may be `None` where the program has no graph
    /// input/output routes; `streams` are the model streams' tables, required when the program
    /// has streams.
    pub fn process<R: Runtime>(
        &mut self,
        client: &ComputeClient<R>,
        input: Option<&Buffer>,
        output: Option<&Buffer>,
        arena: &Buffer,
        frames: usize,
        streams: Option<StreamTables>,
    ) -> Result<(), KernelError> {
        nonzero(KERNEL, "frames", frames)?;
        at_most(KERNEL, "frames", frames, self.spec.stride)?;
        let n = self.spec.instances;
        // A program inside a larger graph may use the first slots of its arena only.
        if arena.len < self.spec.arena_per_instance() * n {
            return Err(KernelError::SizeMismatch {
                kernel: KERNEL,
                what: "arena",
                expected: self.spec.arena_per_instance() * n,
                actual: arena.len,
            });
        }
        let input = match input {
            Some(b) => {
                len_eq(KERNEL, "input", self.spec.inputs * self.spec.stride * n, b.len)?;
                b
            }
            None if self.spec.input_routes.is_empty() => &self.unused.0,
            None => {
                return Err(KernelError::Invalid { kernel: KERNEL, reason: "the program reads graph inputs".into() })
            }
        };
        let output = match output {
            Some(b) => {
                len_eq(KERNEL, "output", self.spec.outputs * self.spec.stride * n, b.len)?;
                b
            }
            None if self.spec.output_routes.is_empty() => &self.unused.1,
            None => {
                return Err(KernelError::Invalid { kernel: KERNEL, reason: "the program writes graph outputs".into() })
            }
        };
        let tables = match (self.spec.step(), streams) {
            (None, _) => None,
            (Some(_), Some(t)) => {
                len_eq(KERNEL, "stream records", self.spec.streams_per_instance() * n * META, t.meta.len)?;
                Some(t)
            }
            (Some(_), None) => {
                return Err(KernelError::Invalid { kernel: KERNEL, reason: "the program runs model streams".into() })
            }
        };
        let (interpreter, columns) = match self.step {
            Some(StreamStep::Interpreter { shape, .. }) => (Some(shape), None),
            Some(StreamStep::Columns(shape)) => (None, Some(shape)),
            None => (None, None),
        };
        let (meta, plan, weights, stream_state, tick) = match &tables {
            Some(t) => (&t.meta, &t.plan, t.weights, t.state, t.tick),
            None => (&self.no_streams.0, &self.no_streams.0, &self.no_streams.1, &self.no_streams.1, 0),
        };
        let args = ProgramArgs {
            cubes: n.div_ceil(self.group) as u32,
            units: self.units as u32,
            input,
            output,
            arena,
            program: &self.program,
            layout: &self.layout,
            routes: &self.routes,
            params: &self.params,
            state: &self.state,
            rings: &self.rings,
            dims: &self.dims,
            conv_data: &self.conv_data,
            meta,
            plan,
            weights,
            stream_state,
            tick,
            cursor: self.cursor as u32,
            frames: frames as u32,
            conv_block: self.spec.conv_block * usize::from(self.spec.convs().next().is_some()),
            local_arena: self.local_arena,
            interpreter,
            columns,
            unrolled: self.unrolled,
            device_kinds: !self.spec.device_kinds.kinds().is_empty(),
        };
        launch_of::<R>(&self.spec.device_kinds)?(client, &args);
        self.cursor = (self.cursor + frames) % self.ring_period;
        Ok(())
    }

    /// Back to the state right after [`GraphProgram::new`]: smoothers at the initial targets,
    /// envelopes, phases and rings at zero. The parameters last set stay.
    pub fn reset<R: Runtime>(&mut self, client: &ComputeClient<R>) {
        let per = self.spec.params_per_instance();
        let mut state = Vec::with_capacity(self.state_floats * self.spec.instances);
        for i in 0..self.spec.instances {
            let params = &self.initial[i * per..(i + 1) * per];
            let mut at = 0;
            for item in &self.spec.items {
                let k = self.spec.kind_params(item.kind);
                state.extend(self.spec.initial_state(item.kind, &params[at..at + k]));
                at += k;
            }
            state.resize((i + 1) * self.state_floats, 0.0);
        }
        self.state = Buffer::upload(client, &state);
        self.rings = Buffer::upload(client, &vec![0.0; self.ring_floats * self.spec.instances]);
        self.cursor = 0;
    }
}

/// The program's launch on `R` with `kinds`, or why there is none.
fn launch_of<R: Runtime>(kinds: &DeviceKindSet) -> Result<super::device_kinds::Launch<R>, KernelError> {
    kinds.launch::<R>().ok_or_else(|| KernelError::Invalid {
        kernel: KERNEL,
        reason: format!(
            "the device-kind set `{}` was not built for the runtime `{}`",
            kinds.type_name(),
            std::any::type_name::<R>()
        ),
    })
}

/// Everything one launch of the program binds.
pub(super) struct ProgramArgs<'a> {
    cubes: u32,
    units: u32,
    input: &'a Buffer,
    output: &'a Buffer,
    arena: &'a Buffer,
    program: &'a IndexBuffer,
    layout: &'a IndexBuffer,
    routes: &'a IndexBuffer,
    params: &'a Buffer,
    state: &'a Buffer,
    rings: &'a Buffer,
    dims: &'a IndexBuffer,
    conv_data: &'a Buffer,
    meta: &'a IndexBuffer,
    plan: &'a IndexBuffer,
    weights: &'a Buffer,
    stream_state: &'a Buffer,
    tick: u32,
    cursor: u32,
    frames: u32,
    conv_block: usize,
    local_arena: usize,
    interpreter: Option<StreamsShape>,
    columns: Option<ColumnsShape>,
    unrolled: StreamStages,
    device_kinds: bool,
}

/// The program's launch with the device kinds `K` on `R` (see [`DeviceKindSet`]).
pub(super) fn launch_program<K: DeviceKinds, R: Runtime>(client: &ComputeClient<R>, a: &ProgramArgs<'_>) {
    // SAFETY: every table was checked against the arena, parameter, state and ring sizes in
    // `GraphProgram::new`, and the buffers' lengths against the spec in `process`, so every
    // index the kernel forms is in range; the stream tables' offsets are their owner's (the NAM
    // batch builds them for these streams and launches its own kernel on them unchecked too);
    // every item's kind is a built-in one or one of `K`'s (checked in `new` against the set).
    unsafe {
        graph_program_kernel::launch_unchecked::<K, R>(
            client,
            CubeCount::Static(a.cubes, 1, 1),
            CubeDim::new_1d(a.units),
            a.input.arg(),
            a.output.arg(),
            a.arena.arg(),
            a.program.arg(),
            a.layout.arg(),
            a.routes.arg(),
            a.params.arg(),
            a.state.arg(),
            a.rings.arg(),
            a.dims.arg(),
            a.conv_data.arg(),
            a.meta.arg(),
            a.plan.arg(),
            a.weights.arg(),
            a.stream_state.arg(),
            a.tick,
            a.cursor,
            a.frames,
            a.conv_block,
            a.local_arena,
            a.interpreter,
            a.columns,
            a.unrolled,
            a.device_kinds,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wavenet_columns::standard_arrays;

    /// A columns step whose stream takes `lanes · splits` threads (the standard model's arrays).
    fn columns(lanes: usize, splits: usize) -> Option<StreamStep> {
        let arrays = standard_arrays();
        let shape = ColumnsShape { arrays, count: 2, frames: 2, lanes, streams_per_cube: 1, splits, staged: true };
        Some(StreamStep::Columns(shape))
    }

    #[test]
    fn instances_share_a_cube_only_past_one_cube_per_multiprocessor() {
        // The standard model at 64 frames: 32 lanes × 4 splits, 128 of the cube's 256 threads.
        let amp = columns(32, 4);
        assert_eq!(instances_per_cube(amp, 1, 132, 132, 256), 1, "one cube per multiprocessor already");
        assert_eq!(instances_per_cube(amp, 1, 133, 132, 256), 2);
        assert_eq!(instances_per_cube(amp, 2, 1_000, 132, 256), 1, "two amps of a stage fill the cube");
        // At 128 frames the stream is 256 threads: a whole cube, unless the cube is wider.
        assert_eq!(instances_per_cube(columns(64, 4), 1, 1_000, 132, 256), 1);
        assert_eq!(instances_per_cube(columns(64, 4), 1, 1_000, 132, 512), 2);
        // Narrow streams: as many as fit, at most MAX_INSTANCES_PER_CUBE.
        assert_eq!(instances_per_cube(columns(8, 1), 1, 1_000, 132, 256), MAX_INSTANCES_PER_CUBE);
        assert_eq!(instances_per_cube(None, 0, 1_000, 132, 256), 1, "no streams");
    }

    #[test]
    fn unrolled_rounds_each_take_the_columns_shared_memory() {
        // The standard model at 64 frames, two slots a cube: a stage of four streams is two rounds.
        let Some(StreamStep::Columns(one)) = columns(32, 4) else { unreachable!() };
        let shape = ColumnsShape { streams_per_cube: 2, ..one };
        let step = Some(StreamStep::Columns(shape));
        let stages = StreamStages::of(&[0, 2], &[false, false], 2, 2);
        assert_eq!(stages.count, 1);
        let per_round = shape.shared_floats() + 8;
        assert_eq!(stages.shared_floats(&shape), 2 * per_round);
        assert_eq!(StreamStages::of(&[], &[], 2, 2).shared_floats(&shape), 0, "nothing unrolled");
        let unsplit = ColumnsShape { splits: 1, staged: false, ..shape };
        assert_eq!(stages.shared_floats(&unsplit), 0, "the unsplit body has no shared arrays");
        // Refused exactly past the device's limit; the loop (nothing unrolled) always fits.
        let bytes = (100 + 2 * per_round) * 4;
        assert!(unrolled_fits(&stages, step, 100, bytes));
        assert!(!unrolled_fits(&stages, step, 100, bytes - 4));
        assert!(unrolled_fits(&StreamStages::default(), step, 100, 0));
        assert!(unrolled_fits(&stages, None, 100, 0), "no columns step");
    }
}
