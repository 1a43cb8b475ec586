use cubeaudio_kernels::routed::{RoutedFir, MAX_FIR_TAPS};
use cubeaudio_kernels::util::Buffer;
use cubecl::prelude::*;

use super::{channels, known_settings, mono_ports, routed_taps};
use crate::engine::Engine;
use crate::error::{ProcessorError, RuntimeError};
use crate::processor::{
    BatchProcessor, Description, InstanceSetup, ParamView, PrepareContext, ProcessorType, Settings,
};

/// FIR with taps given inline. Settings: `channels`, `taps` (array of numbers, applied to every
/// channel; tap 0 is the current sample).
pub struct Fir;

pub(crate) fn taps_setting(settings: &Settings) -> Result<Vec<f32>, ProcessorError> {
    let bad = |reason: String| ProcessorError::Setting { setting: "taps", reason };
    let list =
        settings.get("taps").and_then(|v| v.as_array()).ok_or_else(|| bad("an array of numbers is required".into()))?;
    if list.is_empty() || list.len() > MAX_FIR_TAPS {
        return Err(bad(format!("holds {} values; 1..={MAX_FIR_TAPS} are accepted", list.len())));
    }
    list.iter()
        .enumerate()
        .map(|(k, v)| match v.as_f64() {
            Some(x) if x.is_finite() && x.abs() < 1e6 => Ok(x as f32),
            _ => Err(bad(format!("tap {k} is {v}; taps are finite numbers within ±1e6"))),
        })
        .collect()
}

impl<R: Runtime> ProcessorType<R> for Fir {
    fn name(&self) -> &'static str {
        "fir"
    }

    fn describe(&self, settings: &Settings) -> Result<Description, ProcessorError> {
        known_settings(settings, &["channels", "taps"])?;
        taps_setting(settings)?;
        let (inputs, outputs) = mono_ports(channels(settings)?);
        Ok(Description { type_name: "fir", inputs, outputs, params: Vec::new() })
    }

    fn prepare(
        &self,
        engine: &Engine<R>,
        ctx: &PrepareContext,
        instances: &[InstanceSetup],
    ) -> Result<Box<dyn BatchProcessor<R>>, ProcessorError> {
        let taps = instances
            .iter()
            .map(|i| taps_setting(i.settings).map(|t| vec![t; i.input_slots.len()]))
            .collect::<Result<Vec<_>, _>>()?;
        FirBatch::prepare(engine, ctx, instances, &taps)
    }
}

/// FIR filters of any lengths on every channel of a batch (shared by `fir` and `ir`).
pub(crate) struct FirBatch {
    kernel: RoutedFir,
}

impl FirBatch {
    /// `taps[instance][channel]`.
    pub(crate) fn prepare<R: Runtime>(
        engine: &Engine<R>,
        ctx: &PrepareContext,
        instances: &[InstanceSetup],
        taps: &[Vec<Vec<f32>>],
    ) -> Result<Box<dyn BatchProcessor<R>>, ProcessorError> {
        let kernel = RoutedFir::new(engine.client(), &routed_taps(instances, taps), ctx.max_buffer)?;
        Ok(Box::new(Self { kernel }))
    }
}

impl<R: Runtime> BatchProcessor<R> for FirBatch {
    fn process(
        &mut self,
        engine: &Engine<R>,
        arena: &Buffer,
        stride: usize,
        _params: ParamView,
        frames: usize,
    ) -> Result<u32, RuntimeError> {
        self.kernel.process(engine.client(), arena, stride, frames)?;
        Ok(1)
    }

    fn reset(&mut self, engine: &Engine<R>) -> Result<(), RuntimeError> {
        self.kernel.reset(engine.client());
        Ok(())
    }
}
