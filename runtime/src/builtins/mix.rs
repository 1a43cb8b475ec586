use cubeaudio_kernels::graph_program::KIND_MIX;
use cubeaudio_kernels::routed::{RoutedMix, MIX_INPUTS};
use cubeaudio_kernels::util::Buffer;
use cubecl::prelude::*;

use super::{channels, db_to_linear, known_settings};
use crate::engine::Engine;
use crate::error::{ProcessorError, RuntimeError};
use crate::processor::{
    smoothing, BatchProcessor, Description, InstanceSetup, ParamDesc, ParamView, PortDesc, PrepareContext,
    ProcessorType, Settings, Unit,
};
use crate::program_type::ProgramType;

/// Sums up to four inputs (`in1` required, `in2`..`in4` optional), each with a smoothed level.
/// Settings: `channels`. Params: `level1`..`level4` (dB).
pub struct Mix;

const NAMES: [&str; MIX_INPUTS] = ["in1", "in2", "in3", "in4"];
const LEVELS: [&str; MIX_INPUTS] = ["level1", "level2", "level3", "level4"];

fn level(k: usize) -> ParamDesc {
    ParamDesc {
        id: k as u32 + 1,
        name: LEVELS[k],
        min: -96.0,
        max: 12.0,
        default: 0.0,
        unit: Unit::Decibels,
        smoothing_ms: Some(20.0),
    }
}

impl<R: Runtime> ProcessorType<R> for Mix {
    fn name(&self) -> &'static str {
        "mix"
    }

    fn describe(&self, settings: &Settings) -> Result<Description, ProcessorError> {
        known_settings(settings, &["channels"])?;
        let c = channels(settings)?;
        Ok(Description {
            type_name: "mix",
            inputs: NAMES
                .iter()
                .enumerate()
                .map(|(k, name)| PortDesc { name, channels: c, required: k == 0 })
                .collect(),
            outputs: vec![PortDesc { name: "out", channels: c, required: true }],
            params: (0..MIX_INPUTS).map(level).collect(),
        })
    }

    fn prepare(
        &self,
        engine: &Engine<R>,
        ctx: &PrepareContext,
        instances: &[InstanceSetup],
    ) -> Result<Box<dyn BatchProcessor<R>>, ProcessorError> {
        let mut routes = Vec::new();
        let mut initial = Vec::new();
        let mut channels = Vec::new();
        for inst in instances {
            let c = inst.output_slots.len();
            channels.push(c);
            for ch in 0..c {
                let ins: [u32; MIX_INPUTS] = std::array::from_fn(|k| inst.input_slots[k * c + ch]);
                routes.push((ins, inst.output_slots[ch]));
                initial.extend((0..MIX_INPUTS).map(|k| db_to_linear(inst.params[k])));
            }
        }
        let coef = ctx.smoothing(&level(0));
        let kernel = RoutedMix::new(engine.client(), &routes, coef, &initial)?;
        Ok(Box::new(MixBatch { targets: initial.clone(), initial, routes, coef, channels, kernel }))
    }

    fn program(&self) -> Option<&dyn ProgramType> {
        Some(self)
    }
}

impl ProgramType for Mix {
    fn kind(&self, _settings: &Settings) -> u32 {
        KIND_MIX
    }

    fn device_params(&self, sample_rate: f64, _settings: &Settings, params: &[f32], out: &mut [f32]) {
        for k in 0..MIX_INPUTS {
            out[k] = db_to_linear(params[k]);
        }
        out[MIX_INPUTS] = smoothing(sample_rate, &level(0));
    }
}

struct MixBatch {
    routes: Vec<([u32; MIX_INPUTS], u32)>,
    coef: f32,
    channels: Vec<usize>,
    initial: Vec<f32>,
    targets: Vec<f32>,
    kernel: RoutedMix,
}

impl<R: Runtime> BatchProcessor<R> for MixBatch {
    fn process(
        &mut self,
        engine: &Engine<R>,
        arena: &Buffer,
        stride: usize,
        params: ParamView,
        frames: usize,
    ) -> Result<u32, RuntimeError> {
        let mut j = 0;
        for (i, &c) in self.channels.iter().enumerate() {
            for _ in 0..c {
                for k in 0..MIX_INPUTS {
                    self.targets[j] = db_to_linear(params.get(i, k));
                    j += 1;
                }
            }
        }
        self.kernel.set_targets(engine.client(), &self.targets)?;
        self.kernel.process(engine.client(), arena, stride, frames)?;
        Ok(1)
    }

    fn reset(&mut self, engine: &Engine<R>) -> Result<(), RuntimeError> {
        self.kernel = RoutedMix::new(engine.client(), &self.routes, self.coef, &self.initial)?;
        Ok(())
    }
}
