//! `nam`: NAM amp models as a processor type of the runtime's graphs. In a fused graph (the
//! default) a convolutional model (WaveNet in all its options, ConvNet, Linear) is a **stream**
//! of the graph program: the cube that runs the instance's pedals and cab runs the model's plan
//! too, in the same launch ([`StreamsType`]). Unfused, and for LSTMs, every `nam` instance of a
//! graph stage runs in one launch of the batched kernel, reading its input straight from the
//! graph's arena; one copy launch puts the outputs back.
//!
//! Settings: `model` (path to a `.nam`, relative to the rig file). No parameters: put `gain`
//! processors before and after for input and output level. The model's sample rate must equal
//! the graph's. Every architecture runs on the GPU graph: WaveNet (all options), ConvNet and
//! Linear share the convolutional batch, LSTMs have their own (a stage with both runs two
//! batches: 2 launches each).

use std::sync::Arc;

use cubeaudio_kernels::graph_program::{StreamStep, StreamTables};
use cubeaudio_kernels::routed::copy_routes;
use cubeaudio_kernels::util::{Buffer, IndexBuffer};
use cubeaudio_runtime::engine::Engine;
use cubeaudio_runtime::processor::{
    BatchProcessor, Description, InstanceSetup, ParamView, PortDesc, PrepareContext, ProcessorType, Settings,
};
use cubeaudio_runtime::registry::Registry;
use cubeaudio_runtime::streams_type::{ProgramStreams, StreamsType};
use cubeaudio_runtime::{ProcessorError, RuntimeError};
use cubecl::prelude::*;

use super::{GpuLstmBatch, GpuWaveNetBatch, KernelChoice};
use crate::error::NamError;
use crate::loader::{load_file, LoadOptions, LoadedModel};

/// The `nam` processor type.
pub struct NamProcessor;

/// Adds `nam` to a registry.
pub fn register<R: Runtime>(registry: &mut Registry<R>) {
    registry.register(Arc::new(NamProcessor));
}

/// Every processor type a rig may use: the runtime's built-ins and `nam`.
pub fn registry<R: Runtime>() -> Registry<R> {
    let mut r = Registry::with_builtins();
    register(&mut r);
    r
}

fn model_setting(settings: &Settings) -> Result<&str, ProcessorError> {
    settings
        .get("model")
        .and_then(|v| v.as_str())
        .ok_or(ProcessorError::Setting { setting: "model", reason: "the path to a .nam file is required".into() })
}

/// The kernel an instance asks for (`"kernel": "auto" | "columns" | "interpreter"`; absent:
/// `CUBEAUDIO_NAM_KERNEL`, else auto), as [`KernelChoice`] says.
fn kernel_setting(settings: &Settings) -> Result<KernelChoice, ProcessorError> {
    match settings.get("kernel") {
        None => Ok(KernelChoice::from_env()),
        Some(v) => match v.as_str() {
            Some("auto") => Ok(KernelChoice::Auto),
            Some("columns") => Ok(KernelChoice::Columns),
            Some("interpreter") => Ok(KernelChoice::Interpreter),
            _ => Err(ProcessorError::Setting {
                setting: "kernel",
                reason: format!("{v} is not one of \"auto\", \"columns\", \"interpreter\""),
            }),
        },
    }
}

/// The kernel of a batch of `members`: theirs when they agree, else auto.
fn members_kernel<'a>(mut members: impl Iterator<Item = &'a Settings>) -> Result<KernelChoice, ProcessorError> {
    let Some(first) = members.next() else { return Ok(KernelChoice::from_env()) };
    let kernel = kernel_setting(first)?;
    for m in members {
        if kernel_setting(m)? != kernel {
            return Ok(KernelChoice::Auto);
        }
    }
    Ok(kernel)
}

/// A model's error as a processor's: device faults stay device faults.
fn prepare_error(e: NamError) -> ProcessorError {
    match e {
        NamError::Device(f) => ProcessorError::Device(f),
        NamError::Kernel(k) => ProcessorError::Kernel(k),
        e => ProcessorError::external(e),
    }
}

/// A model's error while running: device faults stay device faults.
fn run_error(e: NamError) -> RuntimeError {
    match e {
        NamError::Device(f) => RuntimeError::Device(f),
        NamError::Kernel(k) => RuntimeError::Kernel(k),
        e => RuntimeError::Request(e.to_string()),
    }
}

impl<R: Runtime> ProcessorType<R> for NamProcessor {
    fn name(&self) -> &'static str {
        "nam"
    }

    fn describe(&self, settings: &Settings) -> Result<Description, ProcessorError> {
        cubeaudio_runtime::builtins::known_settings(settings, &["model", "kernel"])?;
        model_setting(settings)?;
        kernel_setting(settings)?;
        Ok(Description {
            type_name: "nam",
            inputs: vec![PortDesc { name: "in", channels: 1, required: true }],
            outputs: vec![PortDesc { name: "out", channels: 1, required: true }],
            params: Vec::new(),
        })
    }

    fn prepare(
        &self,
        engine: &Engine<R>,
        ctx: &PrepareContext,
        instances: &[InstanceSetup],
    ) -> Result<Box<dyn BatchProcessor<R>>, ProcessorError> {
        let mut loaded: Vec<LoadedModel> = Vec::with_capacity(instances.len());
        for inst in instances {
            loaded.push(load_member(ctx, inst.settings)?);
        }
        let stride = ctx.max_buffer as u32;
        // Convolutional models and LSTMs run on different kernels: one batch of each kind present.
        let (mut wavenets, mut lstms) = (Vec::new(), Vec::new());
        for (m, inst) in loaded.iter().zip(instances) {
            match m.dsp.architecture().lstm() {
                Some(l) => lstms.push((l, inst)),
                None => wavenets.push((m.dsp.as_ref(), inst)),
            }
        }
        let mut parts: Vec<Part<R>> = Vec::new();
        if !wavenets.is_empty() {
            let nets: Vec<_> = wavenets.iter().map(|(w, _)| *w).collect();
            let members: Vec<&InstanceSetup> = wavenets.iter().map(|(_, i)| *i).collect();
            let (offsets, routes) = io(&members, stride);
            let kernel = members_kernel(members.iter().map(|i| i.settings))?;
            let mut batch =
                GpuWaveNetBatch::with_kernel(engine.client(), &nets, ctx.max_buffer, kernel).map_err(prepare_error)?;
            batch.set_input_offsets(&offsets).map_err(prepare_error)?;
            parts.push(Part::new(engine, Kind::WaveNet(Box::new(batch)), nets.len(), ctx.max_buffer, &routes, offsets));
        }
        if !lstms.is_empty() {
            let nets: Vec<crate::lstm::Lstm> = lstms.iter().map(|(l, _)| (*l).clone()).collect();
            let members: Vec<&InstanceSetup> = lstms.iter().map(|(_, i)| *i).collect();
            let (offsets, routes) = io(&members, stride);
            let batch = lstm_batch(engine, &nets, ctx.max_buffer, &offsets).map_err(prepare_error)?;
            parts.push(Part::new(
                engine,
                Kind::Lstm(Box::new(batch), nets),
                lstms.len(),
                ctx.max_buffer,
                &routes,
                offsets,
            ));
        }
        Ok(Box::new(NamBatch { parts }))
    }

    fn streams(&self) -> Option<&dyn StreamsType<R>> {
        Some(self)
    }
}

/// The model an instance's settings name, checked against the graph's rate and, for the
/// convolutional architectures, against what the kernel runs; errors name the file.
fn load_member(ctx: &PrepareContext, settings: &Settings) -> Result<LoadedModel, ProcessorError> {
    let path = ctx.base_dir.join(model_setting(settings)?);
    let model = load_file(&path, LoadOptions::default()).map_err(prepare_error)?;
    let rate = model.sample_rate.unwrap_or(48_000.0);
    if (rate - ctx.sample_rate).abs() > 0.5 {
        let reason =
            format!("the model expects {rate} Hz but the graph runs at {} Hz; resample the input", ctx.sample_rate);
        return Err(ProcessorError::File { path, reason });
    }
    if model.dsp.architecture().lstm().is_none() {
        // Refuse what the kernel cannot run here, naming the file, not at batch build.
        super::plan::ModelPlan::build(model.dsp.as_ref()).map_err(|e| prepare_error(e.in_file(&path)))?;
    }
    Ok(model)
}

impl<R: Runtime> StreamsType<R> for NamProcessor {
    /// Convolutional models that load: LSTMs run their own batch (a per-sample recurrence is
    /// not a plan of the interpreter), and a model that does not load runs unfused so that its
    /// batch reports why.
    fn fuses(&self, ctx: &PrepareContext, settings: &Settings) -> bool {
        load_member(ctx, settings).is_ok_and(|m| m.dsp.architecture().lstm().is_none())
    }

    fn prepare_streams(
        &self,
        engine: &Engine<R>,
        ctx: &PrepareContext,
        members: &[InstanceSetup],
        copies: usize,
    ) -> Result<Box<dyn ProgramStreams<R>>, ProcessorError> {
        let loaded: Vec<LoadedModel> =
            members.iter().map(|m| load_member(ctx, m.settings)).collect::<Result<_, _>>()?;
        // Copy after copy, each the members in order (the program's stream records).
        let nets: Vec<&dyn crate::dsp::Dsp> = (0..copies).flat_map(|_| loaded.iter().map(|m| m.dsp.as_ref())).collect();
        // The batch's own choice of kernel (the members' `kernel` setting, by default auto: the
        // columns kernel on a hardware GPU where every model has one shape, the interpreter on
        // a software adapter); the program runs its streams with the same step.
        let kernel = members_kernel(members.iter().map(|m| m.settings))?;
        let mut batch =
            GpuWaveNetBatch::with_kernel(engine.client(), &nets, ctx.max_buffer, kernel).map_err(prepare_error)?;
        // Two positions per thread inside the program, whatever the batch size, unless forced
        // (`CUBEAUDIO_NAM_COLUMNS`). The standalone batch takes four from 8 streams per
        // multiprocessor, where it wins; inside the program that body took 255 registers per
        // thread (one cube per multiprocessor): `amp_cab` at 2,048 instances and 128 frames ran
        // 2,130 µs of device time per buffer, 1,158 µs at two positions (H200, docs/
        // PERFORMANCE.md, twenty-ninth measurement). Outputs do not depend on it.
        let four = batch.columns_shape().is_some_and(|s| s.splits > 1 && s.frames > 2);
        if four && std::env::var_os("CUBEAUDIO_NAM_COLUMNS").is_none() {
            batch.set_positions(Some(2)).map_err(prepare_error)?;
        }
        Ok(Box::new(NamStreams { batch }))
    }
}

/// `nam` instances as streams of a graph program: a batch of the interpreter's streams whose
/// tables the program binds.
struct NamStreams<R: Runtime> {
    batch: GpuWaveNetBatch<R>,
}

impl<R: Runtime> ProgramStreams<R> for NamStreams<R> {
    fn step(&self) -> StreamStep {
        match self.batch.columns_shape() {
            Some(shape) => StreamStep::Columns(shape),
            None => {
                let (shape, units) = self.batch.shape();
                StreamStep::Interpreter { shape, units: units as usize }
            }
        }
    }

    fn tables(&mut self, frames: usize) -> StreamTables<'_> {
        self.batch.program_tables(frames)
    }

    fn reset(&mut self, _engine: &Engine<R>) -> Result<(), RuntimeError> {
        self.batch.reset().map_err(run_error)
    }
}

/// Input offsets and output copy routes of a batch's streams in the arena.
fn io(members: &[&InstanceSetup], stride: u32) -> (Vec<u32>, Vec<u32>) {
    let offsets = members.iter().map(|i| i.input_slots[0] * stride).collect();
    let routes =
        members.iter().enumerate().flat_map(|(s, i)| [s as u32 * stride, i.output_slots[0] * stride]).collect();
    (offsets, routes)
}

/// An LSTM batch prewarmed as `reset(max_buffer)`, reading the arena at `offsets`.
fn lstm_batch<R: Runtime>(
    engine: &Engine<R>,
    nets: &[crate::lstm::Lstm],
    max_buffer: usize,
    offsets: &[u32],
) -> crate::error::Result<GpuLstmBatch<R>> {
    let refs: Vec<&crate::lstm::Lstm> = nets.iter().collect();
    let mut batch = GpuLstmBatch::new(engine.client(), &refs, max_buffer, &[max_buffer])?;
    batch.set_input_offsets(offsets)?;
    Ok(batch)
}

enum Kind<R: Runtime> {
    // Batches boxed: hundreds of bytes each, of different sizes; made once per graph commit.
    WaveNet(Box<GpuWaveNetBatch<R>>),
    /// The models are kept to rebuild the batch on `reset`.
    Lstm(Box<GpuLstmBatch<R>>, Vec<crate::lstm::Lstm>),
}

/// One batch of one kind, its own output buffer, and where each stream's output lands.
struct Part<R: Runtime> {
    kind: Kind<R>,
    output: Buffer,
    routes: IndexBuffer,
    offsets: Vec<u32>,
    max_buffer: usize,
}

impl<R: Runtime> Part<R> {
    fn new(
        engine: &Engine<R>,
        kind: Kind<R>,
        streams: usize,
        max_buffer: usize,
        routes: &[u32],
        offsets: Vec<u32>,
    ) -> Self {
        Self {
            kind,
            output: engine.zeros(streams * max_buffer),
            routes: IndexBuffer::upload(engine.client(), routes),
            offsets,
            max_buffer,
        }
    }
}

struct NamBatch<R: Runtime> {
    parts: Vec<Part<R>>,
}

impl<R: Runtime> BatchProcessor<R> for NamBatch<R> {
    fn process(
        &mut self,
        engine: &Engine<R>,
        arena: &Buffer,
        stride: usize,
        _params: ParamView,
        frames: usize,
    ) -> Result<u32, RuntimeError> {
        let mut launches = 0;
        for part in &mut self.parts {
            // The kernels read their input binding and write a separate output (one buffer may
            // not be bound read-only and writable in one dispatch); one copy lands it in the arena.
            match &mut part.kind {
                Kind::WaveNet(b) => {
                    check_stride(stride, b.max_buffer())?;
                    b.launch_device(arena, &part.output, frames)
                }
                Kind::Lstm(b, _) => {
                    check_stride(stride, b.max_buffer())?;
                    b.launch_device(arena, &part.output, frames)
                }
            }
            copy_routes(engine.client(), &part.output, arena, &part.routes, frames)?;
            launches += 2;
        }
        Ok(launches)
    }

    fn reset(&mut self, engine: &Engine<R>) -> Result<(), RuntimeError> {
        let err = run_error;
        for part in &mut self.parts {
            match &mut part.kind {
                Kind::WaveNet(b) => b.reset().map_err(err)?,
                // Back to the state right after `prepare`: initial (h, c) and the same prewarm.
                Kind::Lstm(b, nets) => **b = lstm_batch(engine, nets, part.max_buffer, &part.offsets).map_err(err)?,
            }
        }
        Ok(())
    }
}

fn check_stride(stride: usize, max_buffer: usize) -> Result<(), RuntimeError> {
    if stride == max_buffer {
        Ok(())
    } else {
        Err(RuntimeError::Request(format!("arena stride {stride} differs from the NAM batch's {max_buffer}")))
    }
}
