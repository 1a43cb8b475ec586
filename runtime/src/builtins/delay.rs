use cubeaudio_kernels::graph_program::{KIND_ECHO, MAX_RING};

use super::program_batch::pedal_type;
use crate::error::ProcessorError;
use crate::processor::{InstanceSetup, ParamDesc, PrepareContext, Settings, Unit};
use crate::program_type::ProgramType;

/// Delay (echo) with feedback: `time_ms` behind, `feedback` of the echo fed back, `mix` the
/// wet level (dry `1 − mix`). Settings: `channels`. Params: `time_ms` (a new time applies at
/// the next buffer), `feedback`, `mix`. Runs as a graph-program kind; each channel holds a
/// ring of the longest time.
pub struct Delay;

const TIME_MS: ParamDesc = ParamDesc {
    id: 1,
    name: "time_ms",
    min: 1.0,
    max: 2000.0,
    default: 350.0,
    unit: Unit::Milliseconds,
    smoothing_ms: None,
};

const PARAMS: [ParamDesc; 3] = [
    TIME_MS,
    ParamDesc { id: 2, name: "feedback", min: 0.0, max: 0.95, default: 0.35, unit: Unit::Ratio, smoothing_ms: None },
    ParamDesc { id: 3, name: "mix", min: 0.0, max: 1.0, default: 0.3, unit: Unit::Ratio, smoothing_ms: None },
];

/// Ring samples at `sample_rate`: a power of two above the longest time.
fn ring(sample_rate: f64) -> usize {
    ((TIME_MS.max as f64 * sample_rate / 1000.0).ceil() as usize + 1).next_power_of_two().min(MAX_RING)
}

pedal_type!(Delay, "delay", PARAMS);

impl ProgramType for Delay {
    fn kind(&self, _settings: &Settings) -> u32 {
        KIND_ECHO
    }

    fn ring(&self, ctx: &PrepareContext, _instance: &InstanceSetup) -> Result<usize, ProcessorError> {
        Ok(ring(ctx.sample_rate))
    }

    fn device_params(&self, sample_rate: f64, _settings: &Settings, p: &[f32], out: &mut [f32]) {
        let samples = (p[0] as f64 * sample_rate / 1000.0).round().clamp(1.0, (ring(sample_rate) - 1) as f64);
        out.copy_from_slice(&[samples as f32, p[1], p[2], 1.0 - p[2]]);
    }
}
