//! A batch of one graph-program type run on its own (one launch): how such a type runs where
//! the graph is not fused (`Fusion::Off`) or when a caller prepares it directly.

use std::sync::Arc;

use cubeaudio_kernels::util::Buffer;
use cubecl::prelude::*;

use crate::engine::Engine;
use crate::error::{ProcessorError, RuntimeError};
use crate::graph::{FusedProgram, Fusion, Member, Placement, ProgramIo, UnrollStreams};
use crate::processor::{BatchProcessor, InstanceSetup, ParamView, PrepareContext, ProcessorType};

/// `instances` of `ty` as a one-stage program.
pub(crate) fn prepare_program<R: Runtime>(
    ty: Arc<dyn ProcessorType<R>>,
    engine: &Engine<R>,
    ctx: &PrepareContext,
    instances: &[InstanceSetup],
) -> Result<Box<dyn BatchProcessor<R>>, ProcessorError> {
    let per = instances.first().map_or(0, |i| i.description.params.len());
    let members: Vec<Member<R>> = instances
        .iter()
        .enumerate()
        .map(|(k, setup)| Member { setup: setup.clone(), ty: ty.clone(), param_at: vec![k * per] })
        .collect();
    let initial: Vec<f32> = instances.iter().flat_map(|i| i.params.iter().copied()).collect();
    let slots =
        instances.iter().flat_map(|i| i.input_slots.iter().chain(&i.output_slots)).max().map_or(1, |&s| s as usize + 1);
    let program = FusedProgram::new(
        engine,
        ctx,
        &[members],
        &initial,
        Placement { fusion: Fusion::Packed, instances_per_cube: None, unroll_streams: UnrollStreams::Never },
        slots,
        ProgramIo::none(),
    )?;
    Ok(Box::new(ProgramBatch { program }))
}

struct ProgramBatch<R: Runtime> {
    program: FusedProgram<R>,
}

impl<R: Runtime> BatchProcessor<R> for ProgramBatch<R> {
    fn process(
        &mut self,
        engine: &Engine<R>,
        arena: &Buffer,
        _stride: usize,
        params: ParamView,
        frames: usize,
    ) -> Result<u32, RuntimeError> {
        self.program.process(engine, params.values, None, None, arena, frames)?;
        Ok(1)
    }

    fn reset(&mut self, engine: &Engine<R>) -> Result<(), RuntimeError> {
        self.program.reset(engine)
    }
}

/// The `ProcessorType` of a pedal: `channels` setting, one `in` and one `out` port of that many
/// channels, `$params`, run as a graph-program kind (alone: a one-stage program).
macro_rules! pedal_type {
    ($ty:ident, $name:literal, $params:expr) => {
        impl<R: cubecl::prelude::Runtime> $crate::processor::ProcessorType<R> for $ty {
            fn name(&self) -> &'static str {
                $name
            }

            fn describe(
                &self,
                settings: &$crate::processor::Settings,
            ) -> Result<$crate::processor::Description, $crate::error::ProcessorError> {
                super::known_settings(settings, &["channels"])?;
                let (inputs, outputs) = super::mono_ports(super::channels(settings)?);
                Ok($crate::processor::Description { type_name: $name, inputs, outputs, params: $params.to_vec() })
            }

            fn prepare(
                &self,
                engine: &$crate::engine::Engine<R>,
                ctx: &$crate::processor::PrepareContext,
                instances: &[$crate::processor::InstanceSetup],
            ) -> Result<Box<dyn $crate::processor::BatchProcessor<R>>, $crate::error::ProcessorError> {
                super::program_batch::prepare_program(std::sync::Arc::new($ty), engine, ctx, instances)
            }

            fn program(&self) -> Option<&dyn $crate::program_type::ProgramType> {
                Some(self)
            }
        }
    };
}
pub(crate) use pedal_type;
