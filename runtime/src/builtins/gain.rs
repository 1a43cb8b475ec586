use cubeaudio_kernels::graph_program::KIND_GAIN;
use cubeaudio_kernels::routed::RoutedGain;
use cubeaudio_kernels::util::Buffer;
use cubecl::prelude::*;

use super::{channel_routes, channels, db_to_linear, known_settings, mono_ports};
use crate::engine::Engine;
use crate::error::{ProcessorError, RuntimeError};
use crate::processor::{
    smoothing, BatchProcessor, Description, InstanceSetup, ParamDesc, ParamView, PrepareContext, ProcessorType,
    Settings, Unit,
};
use crate::program_type::ProgramType;

/// Smoothed gain. Settings: `channels`. Params: `gain_db`.
pub struct Gain;

/// The `gain_db` parameter of `gain`: -96 to +24 dB, smoothed per sample.
pub const GAIN_DB: ParamDesc = ParamDesc {
    id: 1,
    name: "gain_db",
    min: -96.0,
    max: 24.0,
    default: 0.0,
    unit: Unit::Decibels,
    smoothing_ms: Some(20.0),
};

impl<R: Runtime> ProcessorType<R> for Gain {
    fn name(&self) -> &'static str {
        "gain"
    }

    fn describe(&self, settings: &Settings) -> Result<Description, ProcessorError> {
        known_settings(settings, &["channels"])?;
        let (inputs, outputs) = mono_ports(channels(settings)?);
        Ok(Description { type_name: "gain", inputs, outputs, params: vec![GAIN_DB] })
    }

    fn prepare(
        &self,
        engine: &Engine<R>,
        ctx: &PrepareContext,
        instances: &[InstanceSetup],
    ) -> Result<Box<dyn BatchProcessor<R>>, ProcessorError> {
        let routes = channel_routes(instances);
        let channels: Vec<usize> = instances.iter().map(|i| i.input_slots.len()).collect();
        let initial: Vec<f32> = instances
            .iter()
            .zip(&channels)
            .flat_map(|(i, &c)| std::iter::repeat_n(db_to_linear(i.params[0]), c))
            .collect();
        let coef = ctx.smoothing(&GAIN_DB);
        let kernel = RoutedGain::new(engine.client(), &routes, coef, &initial)?;
        Ok(Box::new(GainBatch { targets: initial.clone(), initial, routes, coef, channels, kernel }))
    }

    fn program(&self) -> Option<&dyn ProgramType> {
        Some(self)
    }
}

impl ProgramType for Gain {
    fn kind(&self, _settings: &Settings) -> u32 {
        KIND_GAIN
    }

    fn device_params(&self, sample_rate: f64, _settings: &Settings, params: &[f32], out: &mut [f32]) {
        out[0] = db_to_linear(params[0]);
        out[1] = smoothing(sample_rate, &GAIN_DB);
    }
}

struct GainBatch {
    routes: Vec<(u32, u32)>,
    coef: f32,
    channels: Vec<usize>,
    initial: Vec<f32>,
    targets: Vec<f32>,
    kernel: RoutedGain,
}

impl<R: Runtime> BatchProcessor<R> for GainBatch {
    fn process(
        &mut self,
        engine: &Engine<R>,
        arena: &Buffer,
        stride: usize,
        params: ParamView,
        frames: usize,
    ) -> Result<u32, RuntimeError> {
        let mut k = 0;
        for (i, &c) in self.channels.iter().enumerate() {
            let g = db_to_linear(params.get(i, 0));
            self.targets[k..k + c].fill(g);
            k += c;
        }
        self.kernel.set_targets(engine.client(), &self.targets)?;
        self.kernel.process(engine.client(), arena, stride, frames)?;
        Ok(1)
    }

    fn reset(&mut self, engine: &Engine<R>) -> Result<(), RuntimeError> {
        self.kernel = RoutedGain::new(engine.client(), &self.routes, self.coef, &self.initial)?;
        Ok(())
    }
}
