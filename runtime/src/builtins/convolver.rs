use cubeaudio_kernels::partitioned_conv::RoutedConvolver;
use cubeaudio_kernels::util::Buffer;
use cubecl::prelude::*;

use super::routed_taps;
use crate::engine::Engine;
use crate::error::{ProcessorError, RuntimeError};
use crate::processor::{BatchProcessor, InstanceSetup, ParamView, PrepareContext};

/// Long impulse responses on every channel of a batch: the library's partitioned convolver
/// (direct head of `block` taps, FFT tail), no added latency, any buffer size.
pub(crate) struct ConvolverBatch {
    kernel: RoutedConvolver,
}

impl ConvolverBatch {
    /// `irs[instance][channel]`.
    pub(crate) fn prepare<R: Runtime>(
        engine: &Engine<R>,
        ctx: &PrepareContext,
        instances: &[InstanceSetup],
        irs: &[Vec<Vec<f32>>],
        block: usize,
    ) -> Result<Box<dyn BatchProcessor<R>>, ProcessorError> {
        let kernel = RoutedConvolver::new(engine.client(), &routed_taps(instances, irs), ctx.max_buffer, block)?;
        Ok(Box::new(Self { kernel }))
    }
}

impl<R: Runtime> BatchProcessor<R> for ConvolverBatch {
    fn process(
        &mut self,
        engine: &Engine<R>,
        arena: &Buffer,
        stride: usize,
        _params: ParamView,
        frames: usize,
    ) -> Result<u32, RuntimeError> {
        Ok(self.kernel.process(engine.client(), arena, stride, frames)?)
    }

    fn reset(&mut self, engine: &Engine<R>) -> Result<(), RuntimeError> {
        self.kernel.reset(engine.client());
        Ok(())
    }
}
