use cubeaudio_kernels::gain::smoothing_coefficient;
use cubeaudio_kernels::graph_program::KIND_GATE;
use cubeaudio_kernels::routed::{GateSettings, RoutedGate};
use cubeaudio_kernels::util::Buffer;
use cubecl::prelude::*;

use super::derived::DerivedPerChannel;
use super::{channel_routes, channels, db_to_linear, known_settings, mono_ports};
use crate::engine::Engine;
use crate::error::{ProcessorError, RuntimeError};
use crate::processor::{
    BatchProcessor, Description, InstanceSetup, ParamDesc, ParamView, PrepareContext, ProcessorType, Settings, Unit,
};
use crate::program_type::ProgramType;

/// Noise gate (peak envelope with a 10 ms fall; the gain opens with `attack_ms` and closes with
/// `release_ms`). Settings: `channels`. Params: `threshold_db`, `attack_ms`, `release_ms`.
pub struct NoiseGate;

const PARAMS: [ParamDesc; 3] = [
    ParamDesc {
        id: 1,
        name: "threshold_db",
        min: -120.0,
        max: 0.0,
        default: -60.0,
        unit: Unit::Decibels,
        smoothing_ms: None,
    },
    ParamDesc {
        id: 2,
        name: "attack_ms",
        min: 0.01,
        max: 100.0,
        default: 1.0,
        unit: Unit::Milliseconds,
        smoothing_ms: None,
    },
    ParamDesc {
        id: 3,
        name: "release_ms",
        min: 1.0,
        max: 5000.0,
        default: 100.0,
        unit: Unit::Milliseconds,
        smoothing_ms: None,
    },
];

/// Time constant of the envelope's fall: short enough to follow a note's decay, long enough
/// not to chatter on one cycle of a low E (82 Hz ≈ 12 ms).
const ENVELOPE_FALL_S: f64 = 0.010;

/// The kernel's per-sample settings for these parameter values.
pub fn gate_settings(sample_rate: f64, threshold_db: f32, attack_ms: f32, release_ms: f32) -> GateSettings {
    let sr = sample_rate as f32;
    GateSettings {
        threshold: db_to_linear(threshold_db),
        attack: smoothing_coefficient(sr, attack_ms / 1000.0).unwrap_or(1.0),
        release: smoothing_coefficient(sr, release_ms / 1000.0).unwrap_or(1.0),
        envelope_fall: (-1.0 / (ENVELOPE_FALL_S * sample_rate)).exp() as f32,
    }
}

impl<R: Runtime> ProcessorType<R> for NoiseGate {
    fn name(&self) -> &'static str {
        "noise_gate"
    }

    fn describe(&self, settings: &Settings) -> Result<Description, ProcessorError> {
        known_settings(settings, &["channels"])?;
        let (inputs, outputs) = mono_ports(channels(settings)?);
        Ok(Description { type_name: "noise_gate", inputs, outputs, params: PARAMS.to_vec() })
    }

    fn prepare(
        &self,
        engine: &Engine<R>,
        ctx: &PrepareContext,
        instances: &[InstanceSetup],
    ) -> Result<Box<dyn BatchProcessor<R>>, ProcessorError> {
        let routes = channel_routes(instances);
        let sample_rate = ctx.sample_rate;
        let settings = DerivedPerChannel::new(instances, |_, p| gate_settings(sample_rate, p[0], p[1], p[2]));
        let kernel = RoutedGate::new(engine.client(), &routes, settings.values())?;
        Ok(Box::new(GateBatch { sample_rate, routes, settings, kernel }))
    }

    fn program(&self) -> Option<&dyn ProgramType> {
        Some(self)
    }
}

impl ProgramType for NoiseGate {
    fn kind(&self, _settings: &Settings) -> u32 {
        KIND_GATE
    }

    fn device_params(&self, sample_rate: f64, _settings: &Settings, params: &[f32], out: &mut [f32]) {
        let g = gate_settings(sample_rate, params[0], params[1], params[2]);
        out.copy_from_slice(&[g.threshold, g.attack, g.release, g.envelope_fall]);
    }
}

struct GateBatch {
    sample_rate: f64,
    routes: Vec<(u32, u32)>,
    settings: DerivedPerChannel<GateSettings>,
    kernel: RoutedGate,
}

impl<R: Runtime> BatchProcessor<R> for GateBatch {
    fn process(
        &mut self,
        engine: &Engine<R>,
        arena: &Buffer,
        stride: usize,
        params: ParamView,
        frames: usize,
    ) -> Result<u32, RuntimeError> {
        let sample_rate = self.sample_rate;
        self.settings.update(params, |_, p| gate_settings(sample_rate, p[0], p[1], p[2]));
        self.kernel.set_settings(engine.client(), self.settings.values())?;
        self.kernel.process(engine.client(), arena, stride, frames)?;
        Ok(1)
    }

    fn reset(&mut self, engine: &Engine<R>) -> Result<(), RuntimeError> {
        self.kernel = RoutedGate::new(engine.client(), &self.routes, self.settings.values())?;
        Ok(())
    }
}
