use cubeaudio_kernels::graph_program::KIND_TREMOLO;

use super::program_batch::pedal_type;
use crate::processor::{smoothing, ParamDesc, Settings, Unit};
use crate::program_type::ProgramType;

/// Tremolo: the level swings between 1 and `1 − depth` with a raised-cosine LFO at `rate_hz`
/// (starting at full level). Settings: `channels`. Params: `rate_hz`, `depth` (smoothed).
/// Runs as a graph-program kind.
pub struct Tremolo;

const DEPTH: ParamDesc =
    ParamDesc { id: 2, name: "depth", min: 0.0, max: 1.0, default: 0.5, unit: Unit::Ratio, smoothing_ms: Some(20.0) };

const PARAMS: [ParamDesc; 2] = [
    ParamDesc { id: 1, name: "rate_hz", min: 0.05, max: 20.0, default: 5.0, unit: Unit::Hertz, smoothing_ms: None },
    DEPTH,
];

pedal_type!(Tremolo, "tremolo", PARAMS);

impl ProgramType for Tremolo {
    fn kind(&self, _settings: &Settings) -> u32 {
        KIND_TREMOLO
    }

    fn device_params(&self, sample_rate: f64, _settings: &Settings, p: &[f32], out: &mut [f32]) {
        out.copy_from_slice(&[(p[0] as f64 / sample_rate) as f32, p[1], smoothing(sample_rate, &DEPTH)]);
    }
}
