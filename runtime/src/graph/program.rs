//! Processors of graph-program kinds, many stages of them, as one launch
//! ([`cubeaudio_kernels::graph_program::GraphProgram`]), with their parameters converted to
//! device values on the processing thread without allocating.

use std::sync::Arc;

use cubeaudio_kernels::graph_program::{
    DeviceKindSet, GraphProgram, ProgramConvolution, ProgramItem, ProgramSpec, ProgramStream, StreamStep,
    UnrollStreams, KIND_DEVICE, KIND_MIX,
};
use cubeaudio_kernels::routed::MIX_INPUTS;
use cubeaudio_kernels::util::Buffer;
use cubecl::prelude::*;

use super::layout::{stage_layout, Fusion, LayoutStats};
use crate::builtins::convolution_block;
use crate::engine::Engine;
use crate::error::{ProcessorError, RuntimeError};
use crate::processor::{InstanceSetup, PrepareContext, ProcessorType, Settings};
use crate::program_type::kind_costs;
use crate::streams_type::ProgramStreams;

/// One processor of a program: its setup (the slots of one graph instance), its type, and
/// where its parameter values start in the caller's parameter array, per graph instance (the
/// program runs that many instances, one or more per cube).
pub(crate) struct Member<'a, R: Runtime> {
    pub setup: InstanceSetup<'a>,
    pub ty: Arc<dyn ProcessorType<R>>,
    pub param_at: Vec<usize>,
}

/// The graph inputs a program copies in before its first stage and the outputs it copies out
/// after its last (none for a program in the middle of a graph).
pub(crate) struct ProgramIo {
    pub input_routes: Vec<(u32, u32)>,
    pub output_routes: Vec<(u32, u32)>,
    pub inputs: usize,
    pub outputs: usize,
}

/// Where a program's work goes: how each stage is laid out over warps, and how many instances
/// one cube runs (`None`: the program's choice).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Placement {
    pub fusion: Fusion,
    pub instances_per_cube: Option<usize>,
    pub unroll_streams: UnrollStreams,
}

/// One processor's items: each channel is one item with the same device parameters.
struct Source<R: Runtime> {
    ty: Arc<dyn ProcessorType<R>>,
    settings: Settings,
    /// Per graph instance.
    param_at: Vec<usize>,
    param_count: usize,
    device_at: usize,
    device_count: usize,
    channels: usize,
}

/// Host parameter values to device values.
struct Converter<R: Runtime> {
    sources: Vec<Source<R>>,
    sample_rate: f64,
    /// Host values the device values were last computed from.
    seen: Vec<f32>,
    /// No device values computed yet: every processor's are, parameters or not (a type without
    /// parameters has no changed value to notice, but device values all the same).
    fresh: bool,
    /// Device values, graph instance after instance, `per_instance` each.
    device: Vec<f32>,
    per_instance: usize,
}

pub(crate) struct FusedProgram<R: Runtime> {
    program: GraphProgram,
    converter: Converter<R>,
    stats: Vec<LayoutStats>,
    /// The model streams' tables, when the program runs any.
    streams: Option<Box<dyn ProgramStreams<R>>>,
}

/// Takes `offered` (the device-kind set of type `name`, whose kind is `kind`) as the program's
/// set, or refuses: a device kind without its set, or a second set.
fn join_device_kinds(
    program: &mut (DeviceKindSet, &'static str),
    name: &'static str,
    offered: Option<DeviceKindSet>,
    kind: u32,
) -> Result<(), ProcessorError> {
    let refuse = |reason: String| Err(ProcessorError::Setting { setting: "type", reason });
    let Some(set) = offered else {
        return refuse(format!("{name} has kind {kind}, a device kind, but gives no device-kind set"));
    };
    if set.get(kind).is_none() {
        return refuse(format!(
            "{name} has kind {kind}, which its device-kind set `{}` ({} kinds) does not hold",
            set.type_name(),
            set.kinds().len()
        ));
    }
    if program.1.is_empty() {
        *program = (set, name);
    } else if program.0 != set {
        return refuse(format!(
            "one program compiles one device-kind set: {} brings `{}`, {} brings `{}`",
            program.1,
            program.0.type_name(),
            name,
            set.type_name()
        ));
    }
    Ok(())
}

impl ProgramIo {
    /// No graph input or output.
    pub fn none() -> Self {
        Self { input_routes: vec![], output_routes: vec![], inputs: 0, outputs: 0 }
    }
}

impl<R: Runtime> FusedProgram<R> {
    /// Lays out `stages` (each a list of members) and compiles the program.
    pub fn new(
        engine: &Engine<R>,
        ctx: &PrepareContext,
        stages: &[Vec<Member<R>>],
        params: &[f32],
        placement: Placement,
        slots: usize,
        io: ProgramIo,
    ) -> Result<Self, ProcessorError> {
        let instances = stages.iter().flatten().next().map_or(1, |m| m.param_at.len());
        let mut items = Vec::new();
        let mut sources = Vec::new();
        let mut layouts = Vec::new();
        let mut stats = Vec::new();
        let mut convolutions = Vec::new();
        let mut streams = Vec::new();
        let mut stream_members: Vec<&Member<R>> = Vec::new();
        let mut device_at = 0;
        // The program's device-kind set and the type that brought it.
        let mut device_kinds = (DeviceKindSet::none(), "");
        for stage in stages {
            let (mut ids, mut kinds, mut convs, mut of_stage) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for m in stage {
                if m.ty.program().is_none() && m.ty.streams().is_some() {
                    let (ins, outs) = (&m.setup.input_slots, &m.setup.output_slots);
                    if ins.len() != 1 || outs.len() != 1 {
                        return Err(ProcessorError::Setting {
                            setting: "type",
                            reason: format!(
                                "{} runs as a stream of one input and one output channel, not {} and {}",
                                m.ty.name(),
                                ins.len(),
                                outs.len()
                            ),
                        });
                    }
                    of_stage.push(ProgramStream { input: ins[0], output: outs[0] });
                    stream_members.push(m);
                    continue;
                }
                let program = m.ty.program().ok_or_else(|| ProcessorError::Setting {
                    setting: "type",
                    reason: format!("{} has no graph-program kind", m.ty.name()),
                })?;
                if let Some(irs) = program.convolution(ctx, &m.setup)? {
                    let channels = m.setup.output_slots.len();
                    if irs.len() != channels || m.setup.input_slots.len() != channels {
                        return Err(ProcessorError::Setting {
                            setting: "type",
                            reason: format!(
                                "{} gave {} impulse responses for {} input and {channels} output channels",
                                m.ty.name(),
                                irs.len(),
                                m.setup.input_slots.len()
                            ),
                        });
                    }
                    for (ch, ir) in irs.into_iter().enumerate() {
                        let (input, output) = (m.setup.input_slots[ch], m.setup.output_slots[ch]);
                        convs.push(ProgramConvolution { input, output, ir });
                    }
                    continue;
                }
                let kind = program.kind(m.setup.settings);
                if kind >= KIND_DEVICE {
                    join_device_kinds(&mut device_kinds, m.ty.name(), program.device_kinds(), kind)?;
                }
                let ring = program.ring(ctx, &m.setup)?;
                let channels = m.setup.output_slots.len();
                for ch in 0..channels {
                    let inputs: [u32; MIX_INPUTS] = if kind == KIND_MIX {
                        std::array::from_fn(|k| m.setup.input_slots[k * channels + ch])
                    } else {
                        [m.setup.input_slots[ch], 0, 0, 0]
                    };
                    ids.push(items.len() as u32);
                    kinds.push(kind);
                    items.push(ProgramItem { kind, output: m.setup.output_slots[ch], inputs, ring });
                }
                let device_count = device_kinds.0.params_of(kind);
                sources.push(Source {
                    ty: m.ty.clone(),
                    settings: m.setup.settings.clone(),
                    param_at: m.param_at.clone(),
                    param_count: m.setup.description.params.len(),
                    device_at,
                    device_count,
                    channels,
                });
                device_at += device_count * channels;
            }
            let (layout, s) = stage_layout(placement.fusion, &ids, &kinds, &kind_costs(&device_kinds.0))
                .map_err(|e| ProcessorError::Setting { setting: "layout", reason: e.to_string() })?;
            layouts.push(layout);
            stats.push(s);
            convolutions.push(convs);
            streams.push(of_stage);
        }
        let prepared = match stream_members.first() {
            None => None,
            Some(first) => {
                if let Some(m) = stream_members.iter().find(|m| m.ty.name() != first.ty.name()) {
                    return Err(ProcessorError::Setting {
                        setting: "type",
                        reason: format!(
                            "one program runs streams of one type: {} and {}",
                            first.ty.name(),
                            m.ty.name()
                        ),
                    });
                }
                let setups: Vec<InstanceSetup> = stream_members.iter().map(|m| m.setup.clone()).collect();
                let kind = first.ty.streams().expect("checked above");
                Some(kind.prepare_streams(engine, ctx, &setups, instances)?)
            }
        };
        let stream_step = prepared.as_ref().map(|p| p.step());
        let spec = ProgramSpec {
            items,
            stages: layouts,
            input_routes: io.input_routes,
            output_routes: io.output_routes,
            slots,
            stride: ctx.max_buffer,
            inputs: io.inputs,
            outputs: io.outputs,
            instances,
            convolutions,
            conv_block: convolution_block(ctx.max_buffer),
            streams,
            stream_step,
            local_arena: true,
            instances_per_cube: placement.instances_per_cube,
            unroll_streams: placement.unroll_streams,
            device_kinds: device_kinds.0,
        };
        let mut converter = Converter {
            sources,
            sample_rate: ctx.sample_rate,
            seen: vec![f32::NAN; params.len()],
            fresh: true,
            device: vec![0.0; device_at * instances],
            per_instance: device_at,
        };
        converter.convert(params);
        let program = GraphProgram::new(engine.client(), spec, &converter.device)?;
        Ok(Self { program, converter, stats, streams: prepared })
    }

    /// The layout of every stage.
    pub fn stats(&self) -> &[LayoutStats] {
        &self.stats
    }

    /// How the program runs its model streams, if it has any.
    pub fn stream_step(&self) -> Option<StreamStep> {
        self.program.stream_step()
    }

    /// Instances each cube runs.
    pub fn instances_per_cube(&self) -> usize {
        self.program.instances_per_cube()
    }

    /// Stages whose model streams run outside the program's stage loop.
    pub fn unrolled_stages(&self) -> usize {
        self.program.unrolled_stages()
    }

    /// Whether unrolled streams were asked for but did not fit the device's shared memory.
    pub fn unroll_declined(&self) -> bool {
        self.program.unroll_declined()
    }

    /// Applies `params`, then runs every stage over `frames` samples (one launch).
    pub fn process(
        &mut self,
        engine: &Engine<R>,
        params: &[f32],
        input: Option<&Buffer>,
        output: Option<&Buffer>,
        arena: &Buffer,
        frames: usize,
    ) -> Result<(), RuntimeError> {
        {
            let _convert = host_span!("convert");
            if self.converter.convert(params) {
                self.program.set_params(engine.client(), &self.converter.device)?;
            }
        }
        let _launch = host_span!("launch");
        let tables = self.streams.as_mut().map(|s| s.tables(frames));
        self.program.process(engine.client(), input, output, arena, frames, tables)?;
        Ok(())
    }

    pub fn reset(&mut self, engine: &Engine<R>) -> Result<(), RuntimeError> {
        self.program.reset(engine.client());
        if let Some(s) = &mut self.streams {
            s.reset(engine)?;
        }
        Ok(())
    }
}

impl<R: Runtime> Converter<R> {
    /// Device values for `params` (the caller's array), recomputed only where a processor's
    /// values changed; whether any did.
    fn convert(&mut self, params: &[f32]) -> bool {
        // Most buffers change nothing: one comparison of the whole array decides that (source
        // by source it took 42 µs per buffer for 2,048 `amp_cab` instances on the H200's host).
        if !self.fresh && params == self.seen.as_slice() {
            return false;
        }
        let mut changed = false;
        for s in &self.sources {
            for (i, &at) in s.param_at.iter().enumerate() {
                let host = &params[at..at + s.param_count];
                if !self.fresh && host == &self.seen[at..at + s.param_count] {
                    continue;
                }
                changed = true;
                let program = s.ty.program().expect("checked in new");
                let start = i * self.per_instance + s.device_at;
                let (first, rest) =
                    self.device[start..start + s.device_count * s.channels].split_at_mut(s.device_count);
                program.device_params(self.sample_rate, &s.settings, host, first);
                for ch in rest.chunks_mut(s.device_count) {
                    ch.copy_from_slice(first);
                }
            }
        }
        // Every value, also those of processors outside the program, so that the comparison
        // above holds again once nothing changes.
        self.seen.copy_from_slice(params);
        self.fresh = false;
        changed
    }
}
