use cubeaudio_kernels::gain::smoothing_coefficient;
use cubeaudio_kernels::graph_program::KIND_COMPRESSOR;

use super::db_to_linear;
use super::program_batch::pedal_type;
use crate::processor::{ParamDesc, Settings, Unit};
use crate::program_type::ProgramType;

/// Feed-forward compressor: peak envelope with attack and release, hard knee above
/// `threshold_db`, `ratio`, make-up gain. Settings: `channels`. Params: `threshold_db`,
/// `ratio`, `attack_ms`, `release_ms`, `makeup_db`. Runs as a graph-program kind.
pub struct Compressor;

const PARAMS: [ParamDesc; 5] = [
    ParamDesc {
        id: 1,
        name: "threshold_db",
        min: -60.0,
        max: 0.0,
        default: -20.0,
        unit: Unit::Decibels,
        smoothing_ms: None,
    },
    ParamDesc { id: 2, name: "ratio", min: 1.0, max: 20.0, default: 4.0, unit: Unit::Ratio, smoothing_ms: None },
    ParamDesc {
        id: 3,
        name: "attack_ms",
        min: 0.05,
        max: 200.0,
        default: 5.0,
        unit: Unit::Milliseconds,
        smoothing_ms: None,
    },
    ParamDesc {
        id: 4,
        name: "release_ms",
        min: 5.0,
        max: 3000.0,
        default: 120.0,
        unit: Unit::Milliseconds,
        smoothing_ms: None,
    },
    ParamDesc { id: 5, name: "makeup_db", min: 0.0, max: 30.0, default: 0.0, unit: Unit::Decibels, smoothing_ms: None },
];

pedal_type!(Compressor, "compressor", PARAMS);

impl ProgramType for Compressor {
    fn kind(&self, _settings: &Settings) -> u32 {
        KIND_COMPRESSOR
    }

    fn device_params(&self, sample_rate: f64, _settings: &Settings, p: &[f32], out: &mut [f32]) {
        let coef = |ms: f32| smoothing_coefficient(sample_rate as f32, ms / 1000.0).unwrap_or(1.0);
        out.copy_from_slice(&[db_to_linear(p[0]), 1.0 / p[1] - 1.0, coef(p[2]), coef(p[3]), db_to_linear(p[4])]);
    }
}
