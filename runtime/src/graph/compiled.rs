//! A validated, scheduled graph with every batch prepared on the device.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use cubeaudio_kernels::graph_program::StreamStep;
pub use cubeaudio_kernels::graph_program::UnrollStreams;
use cubeaudio_kernels::routed::copy_routes;
use cubeaudio_kernels::transfer_slot::{fill_finite, Ticket, TransferSlot};
use cubeaudio_kernels::util::{Buffer, IndexBuffer};
use cubecl::prelude::*;

use super::layout::{Fusion, LayoutStats};
use super::program::{FusedProgram, Member, Placement, ProgramIo};
use super::schedule::{Batch, Schedule, SILENT_SLOT};
use super::spec::GraphSpec;
use super::validate::validate;
use crate::engine::Engine;
use crate::error::{GraphError, RuntimeError};
use crate::params::{ParamEntry, ParamIndex, ParamSetter, ParamStore};
use crate::processor::{BatchProcessor, InstanceSetup, ParamView, PrepareContext};
use crate::registry::Registry;

/// Largest arena (slots × max_buffer floats, every instance): 1 GiB.
pub const MAX_ARENA_FLOATS: usize = 1 << 28;
/// Most instances of a graph run together.
pub const MAX_GRAPH_INSTANCES: usize = 65_535;

/// What a graph is compiled for.
#[derive(Debug, Clone)]
pub struct GraphOptions {
    /// Frames per second of every signal in the graph.
    pub sample_rate: f64,
    /// Largest buffer `process` will be given (the arena's slot length).
    pub max_buffer: usize,
    /// Relative paths in settings resolve here (the rig file's directory).
    pub base_dir: PathBuf,
    /// Whether processors of graph-program kinds run fused (default: packed layout).
    pub fusion: Fusion,
    /// Copies of the graph run together (tracks, users): one launch per step for all of them,
    /// each with its own signals, state and parameters; `process` takes and gives every
    /// instance's channels, instance after instance.
    pub instances: usize,
    /// Whether model streams (`nam` with a convolutional model) run inside the graph program.
    pub streams: StreamFusion,
    /// Instances one cube of a graph program runs (1 to 16); `None`: the program's choice
    /// (one, or with many instances of a rig of amps as many as a cube's stream slots hold).
    /// [`GraphOptions::new`] takes `CUBEAUDIO_INSTANCES_PER_CUBE` when set.
    pub instances_per_cube: Option<usize>,
    /// Whether a graph program runs the model streams of up to four stages outside its stage
    /// loop (where they run on the columns kernel): the same output bit for bit, from code that
    /// CUDA's compiler gives ~128 registers per thread instead of ~250 for the standard WaveNet
    /// (two 256-thread cubes per multiprocessor instead of one, with some spills). `Auto`
    /// unrolls where a launch has more cubes than the device has multiprocessors (see
    /// [`UnrollStreams`]); [`GraphOptions::new`] takes `CUBEAUDIO_PROGRAM_UNROLL` (`1` always,
    /// `0` never).
    pub unroll_streams: UnrollStreams,
}

/// Where model streams (`nam`: WaveNet, ConvNet, Linear) run in a fused graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StreamFusion {
    /// Inside the program on a software adapter (lavapipe), where the standalone NAM engine
    /// runs the same plan interpreter and every launch costs; on a hardware GPU inside the
    /// program where it runs every amp on the columns kernel (H200, `amp_cab`, one instance of
    /// 64 frames, 100,000 buffers: p99 142.4 µs in one launch against 185.1 µs in four), as
    /// their own batch where it would interpret their plans (p50 190.0 µs in one launch against
    /// 112.6 µs in four; docs/PERFORMANCE.md, twenty-fourth and twenty-fifth measurements).
    #[default]
    Auto,
    /// Always inside the program: one launch per buffer for a rig of amps, pedals and cabs.
    Program,
    /// Always as their own batch (kernel + copy).
    Batch,
}

impl GraphOptions {
    /// Options with the default fusion (packed).
    pub fn new(sample_rate: f64, max_buffer: usize, base_dir: impl Into<PathBuf>) -> Self {
        Self {
            sample_rate,
            max_buffer,
            base_dir: base_dir.into(),
            fusion: Fusion::default(),
            instances: 1,
            streams: StreamFusion::default(),
            instances_per_cube: std::env::var("CUBEAUDIO_INSTANCES_PER_CUBE").ok().and_then(|v| v.parse().ok()),
            unroll_streams: UnrollStreams::from_env(),
        }
    }
}

struct PreparedBatch<R: Runtime> {
    processor: Box<dyn BatchProcessor<R>>,
    param_base: usize,
    params_per_instance: usize,
    instances: usize,
}

/// What runs per buffer, in order.
enum Step<R: Runtime> {
    /// Stages of graph-program processors, one launch (boxed: its tables are large).
    Program(Box<FusedProgram<R>>),
    /// One (stage, type) batch, its own launches.
    Batch(PreparedBatch<R>),
}

/// How the stages run: consecutive stages of graph-program processors are one program; a stage
/// that also holds other types ends the run with its program processors (they depend on
/// earlier stages only) and runs its other batches after it, each on its own.
enum Planned<'a> {
    Program(Vec<Vec<&'a Batch>>),
    Batch(&'a Batch),
}

fn plan<'a, R: Runtime>(
    schedule: &'a Schedule,
    spec: &GraphSpec,
    registry: &Registry<R>,
    fusion: Fusion,
    streams: bool,
    ctx: &PrepareContext,
) -> Vec<Planned<'a>> {
    let fusable = |b: &Batch| {
        let settings = |i: usize| &spec.processors[i].settings;
        fusion != Fusion::Off
            && registry.get(&b.type_name).is_some_and(|t| match (t.program(), t.streams()) {
                (Some(p), _) => b.processors.iter().all(|&i| p.fuses(settings(i))),
                (None, Some(s)) => streams && b.processors.iter().all(|&i| s.fuses(ctx, settings(i))),
                (None, None) => false,
            })
    };
    let mut plan = Vec::new();
    let mut run: Vec<Vec<&Batch>> = Vec::new();
    for stage in &schedule.stages {
        let (fused, other): (Vec<&Batch>, Vec<&Batch>) = stage.iter().partition(|b| fusable(b));
        if !fused.is_empty() {
            run.push(fused);
        }
        if other.is_empty() {
            continue;
        }
        if !run.is_empty() {
            plan.push(Planned::Program(std::mem::take(&mut run)));
        }
        plan.extend(other.into_iter().map(Planned::Batch));
    }
    if !run.is_empty() {
        plan.push(Planned::Program(run));
    }
    plan
}

/// A graph on a device: every batch prepared and compiled, ready to process buffers.
pub struct CompiledGraph<R: Runtime> {
    schedule: Schedule,
    steps: Vec<Step<R>>,
    /// The first step is a program that copies the graph's inputs into the arena itself.
    program_takes_input: bool,
    /// The last step is a program that copies the graph's outputs out itself.
    program_gives_output: bool,
    arena: Buffer,
    max_buffer: usize,
    /// Input channels of every instance together.
    in_channels: usize,
    /// Output channels of every instance together.
    out_channels: usize,
    instances: usize,
    input_table: Option<IndexBuffer>,
    output_table: IndexBuffer,
    params: Arc<ParamStore>,
    param_values: Vec<f32>,
    setter: ParamSetter,
    /// Two, so buffer k+1 is filled and uploaded while buffer k runs (`process_async`): inputs
    /// go up from page-locked memory on CUDA, outputs come back through a read queued right
    /// behind the launch (`kernels::transfer_slot`).
    slots: Vec<TransferSlot<R>>,
    /// The slot the next buffer uses.
    next: usize,
    sanitized: u64,
    launches: u32,
}

/// A buffer queued on the device; [`Pending::wait`] fetches its output.
#[must_use = "wait on a pending buffer to get its output"]
pub struct Pending<R: Runtime> {
    ticket: Ticket<R>,
    frames: usize,
    stride: usize,
    channels: usize,
}

impl<R: Runtime> Pending<R> {
    /// Blocks until the buffer's output is on the host, then writes it to `outputs` (one slice
    /// of at least `frames` per graph output channel).
    pub fn wait(self, outputs: &mut [&mut [f32]]) -> Result<(), RuntimeError> {
        check_io("outputs", outputs.iter().map(|o| o.len()), self.channels, self.frames)?;
        let (frames, stride) = (self.frames, self.stride);
        let _wait = host_span!("wait");
        self.ticket.fetch(|all| {
            let _copy_out = host_span!("copy_out");
            for (c, out) in outputs.iter_mut().enumerate() {
                out[..frames].copy_from_slice(&all[c * stride..c * stride + frames]);
            }
        })?;
        Ok(())
    }
}

/// Target of the trace spans that mark a buffer's host work, for `cubeaudio bench --rig`'s
/// breakdown: fill, send, params, convert, launch, routes, read_back; then wait, with copy_out
/// inside it. Where nothing listens at trace level (the CLI logs errors by default, a plugin
/// host nothing) a span costs one comparison and allocates nothing.
pub const HOST_SPANS: &str = "cubeaudio::host";

/// Transfer slots of a graph: buffer k+1 is filled while buffer k runs.
const TRANSFER_SLOTS: usize = 2;

fn check_io(what: &str, lens: impl Iterator<Item = usize>, channels: usize, frames: usize) -> Result<(), RuntimeError> {
    let mut n = 0;
    for len in lens {
        if len < frames {
            return Err(RuntimeError::Request(format!("{what}: channel {n} holds {len} frames, the buffer {frames}")));
        }
        n += 1;
    }
    if n != channels {
        return Err(RuntimeError::Request(format!("{what}: {n} channels given, the graph has {channels}")));
    }
    Ok(())
}

impl<R: Runtime> CompiledGraph<R> {
    /// Validates, schedules and prepares `spec`, then runs one silent buffer so every kernel is
    /// compiled before the first real one.
    pub fn compile(
        engine: &Engine<R>,
        registry: &Registry<R>,
        spec: &GraphSpec,
        options: &GraphOptions,
    ) -> Result<Self, RuntimeError> {
        let software = cubeaudio_kernels::device::software(engine.client());
        match options.streams {
            StreamFusion::Auto if !software => {
                // Inside the program where it runs the amps on the columns kernel; where it would
                // interpret their plans, the graph is prepared again with them as a batch.
                let graph = Self::compile_with(engine, registry, spec, options, true)?;
                if graph.stream_steps().iter().all(|s| matches!(s, StreamStep::Columns(_))) {
                    return Ok(graph);
                }
                Self::compile_with(engine, registry, spec, options, false)
            }
            StreamFusion::Auto | StreamFusion::Program => Self::compile_with(engine, registry, spec, options, true),
            StreamFusion::Batch => Self::compile_with(engine, registry, spec, options, false),
        }
    }

    /// [`Self::compile`] with the model streams inside the programs (`streams`) or not.
    fn compile_with(
        engine: &Engine<R>,
        registry: &Registry<R>,
        spec: &GraphSpec,
        options: &GraphOptions,
        streams: bool,
    ) -> Result<Self, RuntimeError> {
        if !(options.sample_rate.is_finite() && (8_000.0..=768_000.0).contains(&options.sample_rate)) {
            return Err(RuntimeError::Request(format!(
                "sample rate {} Hz is outside 8 kHz..768 kHz",
                options.sample_rate
            )));
        }
        if options.max_buffer == 0 || options.max_buffer > 65_536 {
            return Err(RuntimeError::Request(format!(
                "max buffer {} is outside 1..=65536 frames",
                options.max_buffer
            )));
        }
        let copies = options.instances;
        if copies == 0 || copies > MAX_GRAPH_INSTANCES {
            return Err(RuntimeError::Request(format!(
                "{copies} graph instances; 1..={MAX_GRAPH_INSTANCES} run together"
            )));
        }
        let valid = validate(spec, registry)?;
        let schedule = Schedule::build(&valid);
        let arena_floats = schedule.slots.saturating_mul(options.max_buffer).saturating_mul(copies);
        if arena_floats > MAX_ARENA_FLOATS {
            return Err(GraphError::TooLarge {
                what: "signal arena (slots × max buffer × instances)",
                value: arena_floats,
                limit: MAX_ARENA_FLOATS,
            }
            .into());
        }
        let ctx = PrepareContext {
            sample_rate: options.sample_rate,
            max_buffer: options.max_buffer,
            base_dir: &options.base_dir,
        };

        // Parameters batch after batch; within a batch, instance after instance of the graph,
        // then processor after processor: every batch's values stay one contiguous view.
        let slots = schedule.slots as u32;
        let at = |batch: &Batch, copy: usize, k: usize| {
            batch.param_base * copies + (copy * batch.processors.len() + k) * batch.params_per_instance
        };
        let mut initial = vec![0.0f32; schedule.param_count * copies];
        let mut index: ParamIndex = HashMap::new();
        for batch in schedule.stages.iter().flatten() {
            for (k, &i) in batch.processors.iter().enumerate() {
                for (j, desc) in valid.processors[i].description.params.iter().enumerate() {
                    for copy in 0..copies {
                        initial[at(batch, copy, k) + j] = valid.processors[i].params[j];
                    }
                    index.entry(spec.processors[i].id.clone()).or_default().insert(
                        desc.name.to_string(),
                        ParamEntry {
                            at: at(batch, 0, k) + j,
                            instance_stride: batch.processors.len() * batch.params_per_instance,
                            desc: desc.clone(),
                        },
                    );
                }
            }
        }
        // Instance `copy` of processor `i`; its signals are slots of the copy's part of the
        // arena, silence is shared.
        let setup = |i: usize, copy: usize| {
            let shift = |v: &[u32]| -> Vec<u32> {
                v.iter().map(|&s| if s == SILENT_SLOT { s } else { s + copy as u32 * slots }).collect()
            };
            InstanceSetup {
                id: &spec.processors[i].id,
                settings: &spec.processors[i].settings,
                description: &valid.processors[i].description,
                input_slots: shift(&schedule.input_slots[i]),
                output_slots: shift(&schedule.output_slots[i]),
                params: valid.processors[i].params.clone(),
            }
        };
        let type_of = |batch: &Batch| {
            registry
                .get(&batch.type_name)
                .cloned()
                .ok_or_else(|| RuntimeError::Request(format!("type {} vanished", batch.type_name)))
        };
        let stride = options.max_buffer as u32;
        let in_channels: usize = spec.inputs.iter().map(|p| p.channels).sum();
        let out_channels: usize = spec.outputs.iter().map(|p| p.channels).sum();
        let planned = plan(&schedule, spec, registry, options.fusion, streams, &ctx);
        let program_takes_input = matches!(planned.first(), Some(Planned::Program(_)));
        let program_gives_output = matches!(planned.last(), Some(Planned::Program(_)));
        let mut steps = Vec::new();
        for (n, p) in planned.iter().enumerate() {
            match p {
                Planned::Program(stages) => {
                    let mut members = Vec::new();
                    for stage in stages {
                        let mut of_stage = Vec::new();
                        for batch in stage {
                            let ty = type_of(batch)?;
                            for (k, &i) in batch.processors.iter().enumerate() {
                                let param_at = (0..copies).map(|copy| at(batch, copy, k)).collect();
                                of_stage.push(Member { setup: setup(i, 0), ty: ty.clone(), param_at });
                            }
                        }
                        members.push(of_stage);
                    }
                    let (first, last) = (n == 0, n + 1 == planned.len());
                    let io = ProgramIo {
                        input_routes: if first { schedule.input_routes.clone() } else { vec![] },
                        output_routes: if last { schedule.output_routes.clone() } else { vec![] },
                        inputs: if first { in_channels } else { 0 },
                        outputs: if last { out_channels } else { 0 },
                    };
                    let placement = Placement {
                        fusion: options.fusion,
                        instances_per_cube: options.instances_per_cube,
                        unroll_streams: options.unroll_streams,
                    };
                    let program = FusedProgram::new(engine, &ctx, &members, &initial, placement, schedule.slots, io)
                        .map_err(|error| {
                            let ids: Vec<&str> = members.iter().flatten().map(|m| m.setup.id).collect();
                            GraphError::Processor { id: ids.join(", "), type_name: "graph program".into(), error }
                        })?;
                    steps.push(Step::Program(Box::new(program)));
                }
                Planned::Batch(batch) => {
                    let setups: Vec<InstanceSetup> = (0..copies)
                        .flat_map(|copy| batch.processors.iter().map(move |&i| (i, copy)))
                        .map(|(i, copy)| setup(i, copy))
                        .collect();
                    let processor = type_of(batch)?.prepare(engine, &ctx, &setups).map_err(|error| {
                        let ids: Vec<&str> = setups.iter().map(|s| s.id).collect();
                        GraphError::Processor { id: ids.join(", "), type_name: batch.type_name.clone(), error }
                    })?;
                    steps.push(Step::Batch(PreparedBatch {
                        processor,
                        param_base: at(batch, 0, 0),
                        params_per_instance: batch.params_per_instance,
                        instances: batch.processors.len() * copies,
                    }));
                }
            }
        }
        // Copy tables of every instance: instance `copy`'s channels follow the previous ones'.
        let (ins, outs) = (in_channels as u32, out_channels as u32);
        let input_table = (!schedule.input_routes.is_empty()).then(|| {
            let flat: Vec<u32> = (0..copies as u32)
                .flat_map(|n| schedule.input_routes.iter().map(move |&(c, s)| (c + n * ins, s + n * slots)))
                .flat_map(|(c, s)| [c * stride, s * stride])
                .collect();
            IndexBuffer::upload(engine.client(), &flat)
        });
        let flat: Vec<u32> = (0..copies as u32)
            .flat_map(|n| schedule.output_routes.iter().map(move |&(s, c)| (s + n * slots, c + n * outs)))
            .flat_map(|(s, c)| [s * stride, c * stride])
            .collect();
        let params = Arc::new(ParamStore::new(&initial));
        let mut graph = Self {
            arena: engine.zeros(schedule.slots * options.max_buffer * copies),
            steps,
            program_takes_input,
            program_gives_output,
            max_buffer: options.max_buffer,
            in_channels: in_channels * copies,
            out_channels: out_channels * copies,
            instances: copies,
            input_table,
            output_table: IndexBuffer::upload(engine.client(), &flat),
            setter: ParamSetter::new(params.clone(), index, copies),
            param_values: initial,
            params,
            slots: (0..TRANSFER_SLOTS)
                .map(|_| {
                    let floats = (in_channels.max(out_channels) * copies).max(1) * options.max_buffer;
                    TransferSlot::new(engine.client(), floats)
                })
                .collect(),
            next: 0,
            sanitized: 0,
            launches: 0,
            schedule,
        };
        // Prewarm: every kernel compiles now, on the editing thread. Silence still moves some
        // state (an LFO's phase, a ring's cursor), so the graph is reset after it.
        let silence = vec![0.0f32; options.max_buffer];
        let inputs: Vec<&[f32]> = vec![&silence; in_channels * copies];
        let mut out = vec![vec![0.0f32; options.max_buffer]; out_channels * copies];
        let mut outs: Vec<&mut [f32]> = out.iter_mut().map(|v| v.as_mut_slice()).collect();
        graph.process(engine, &inputs, &mut outs)?;
        graph.reset(engine)?;
        Ok(graph)
    }

    /// Stages, batches and arena slots the graph runs with.
    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// A handle that sets this graph's parameters from any thread.
    pub fn param_setter(&self) -> ParamSetter {
        self.setter.clone()
    }

    /// Channels of all graph inputs together, of every instance (instance after instance).
    pub fn input_channels(&self) -> usize {
        self.in_channels
    }

    /// Channels of all graph outputs together, of every instance (instance after instance).
    pub fn output_channels(&self) -> usize {
        self.out_channels
    }

    /// Copies of the graph run together ([`GraphOptions::instances`]).
    pub fn instances(&self) -> usize {
        self.instances
    }

    /// Largest buffer `process` accepts.
    pub fn max_buffer(&self) -> usize {
        self.max_buffer
    }

    /// The graph programs among the steps, in order.
    fn programs(&self) -> impl Iterator<Item = &FusedProgram<R>> {
        self.steps.iter().filter_map(|s| match s {
            Step::Program(p) => Some(p.as_ref()),
            Step::Batch(_) => None,
        })
    }

    /// The layout of every stage run inside a graph program (empty when none is).
    pub fn program_layouts(&self) -> Vec<LayoutStats> {
        self.programs().flat_map(|p| p.stats()).copied().collect()
    }

    /// How each graph program runs its model streams (one entry per program that has any).
    pub fn stream_steps(&self) -> Vec<StreamStep> {
        self.programs().filter_map(|p| p.stream_step()).collect()
    }

    /// Instances each cube of each graph program runs (one entry per program).
    pub fn instances_per_cube(&self) -> Vec<usize> {
        self.programs().map(|p| p.instances_per_cube()).collect()
    }

    /// Stages of each graph program whose model streams run outside its stage loop (one entry per
    /// program; [`GraphOptions::unroll_streams`]).
    pub fn unrolled_stream_stages(&self) -> Vec<usize> {
        self.programs().map(|p| p.unrolled_stages()).collect()
    }

    /// Whether each graph program was to run its streams unrolled but keeps them in the loop,
    /// the unrolled rounds' shared memory being more than the device grants a cube.
    pub fn unroll_declined(&self) -> Vec<bool> {
        self.programs().map(|p| p.unroll_declined()).collect()
    }

    /// Launches the last buffer queued.
    pub fn launches_per_buffer(&self) -> u32 {
        self.launches
    }

    /// Input samples replaced by 0 because they were NaN or infinite.
    pub fn sanitized_samples(&self) -> u64 {
        self.sanitized
    }

    /// Queues one buffer (`inputs`: one slice per graph input channel, same length, at most
    /// `max_buffer`) and returns without waiting for the device.
    pub fn process_async(&mut self, engine: &Engine<R>, inputs: &[&[f32]]) -> Result<Pending<R>, RuntimeError> {
        let frames = inputs.first().map(|x| x.len()).unwrap_or(self.max_buffer);
        if frames == 0 || frames > self.max_buffer {
            return Err(RuntimeError::Request(format!(
                "buffer of {frames} frames; this graph takes 1..={}",
                self.max_buffer
            )));
        }
        check_io("inputs", inputs.iter().map(|x| x.len()), self.in_channels, frames)?;
        if inputs.iter().any(|x| x.len() != frames) {
            return Err(RuntimeError::Request("inputs: every channel must hold the same number of frames".into()));
        }
        let stride = self.max_buffer;
        let mut launches = 0;
        let slot = &mut self.slots[self.next];
        self.next = (self.next + 1) % TRANSFER_SLOTS;
        // Filled and uploaded only where something reads the inputs (no routes: the graph's
        // inputs are unconnected; the slot then sends one float and gives the output buffer).
        let reads_input = self.input_table.is_some();
        if reads_input {
            let _fill = host_span!("fill");
            // Non-finite input becomes silence, counted.
            self.sanitized += fill_finite(slot.host_input(), inputs, stride);
        }
        let in_len = if reads_input { self.in_channels * stride } else { 1 };
        let out_len = self.out_channels * stride;
        // The output copy writes every frame that is read back: no zeros to upload per buffer.
        let (input, output) = {
            let _send = host_span!("send");
            slot.send(in_len)?
        };
        let output = output.prefix(out_len);
        let input = reads_input.then(|| input.prefix(in_len));
        {
            let _params = host_span!("params");
            self.params.snapshot(&mut self.param_values);
        }
        if !self.program_takes_input {
            if let (Some(table), Some(input)) = (&self.input_table, &input) {
                let _routes = host_span!("routes");
                copy_routes(engine.client(), input, &self.arena, table, frames)?;
                launches += 1;
            }
        }
        let last = self.steps.len().saturating_sub(1);
        for (n, step) in self.steps.iter_mut().enumerate() {
            match step {
                Step::Program(p) => {
                    let input = if n == 0 && self.program_takes_input { input.as_ref() } else { None };
                    let output = if n == last && self.program_gives_output { Some(&output) } else { None };
                    p.process(engine, &self.param_values, input, output, &self.arena, frames)?;
                    launches += 1;
                }
                Step::Batch(b) => {
                    let _launch = host_span!("launch");
                    let values = &self.param_values[b.param_base..b.param_base + b.params_per_instance * b.instances];
                    let view = ParamView { values, per_instance: b.params_per_instance };
                    launches += b.processor.process(engine, &self.arena, stride, view, frames)?;
                }
            }
        }
        if !self.program_gives_output {
            let _routes = host_span!("routes");
            copy_routes(engine.client(), &self.arena, &output, &self.output_table, frames)?;
            launches += 1;
        }
        self.launches = launches;
        let sent = (self.next + TRANSFER_SLOTS - 1) % TRANSFER_SLOTS;
        let _read_back = host_span!("read_back");
        Ok(Pending { ticket: self.slots[sent].read_back(out_len)?, frames, stride, channels: self.out_channels })
    }

    /// One buffer, waiting for its output.
    pub fn process(
        &mut self,
        engine: &Engine<R>,
        inputs: &[&[f32]],
        outputs: &mut [&mut [f32]],
    ) -> Result<(), RuntimeError> {
        self.process_async(engine, inputs)?.wait(outputs)
    }

    /// Every processor back to its state after `prepare`; the arena cleared.
    pub fn reset(&mut self, engine: &Engine<R>) -> Result<(), RuntimeError> {
        for step in &mut self.steps {
            match step {
                Step::Program(p) => p.reset(engine)?,
                Step::Batch(b) => b.processor.reset(engine)?,
            }
        }
        self.arena = engine.zeros(self.arena.len);
        Ok(())
    }
}
