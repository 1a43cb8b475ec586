use cubeaudio_kernels::graph_program::KIND_DRIVE;

use super::db_to_linear;
use super::program_batch::pedal_type;
use crate::processor::{smoothing, ParamDesc, Settings, Unit};
use crate::program_type::ProgramType;

/// Drive: a smoothed pre-gain into tanh saturation, then an output level. Settings:
/// `channels`. Params: `drive_db` (smoothed), `level_db`. Runs as a graph-program kind.
pub struct Drive;

const DRIVE_DB: ParamDesc = ParamDesc {
    id: 1,
    name: "drive_db",
    min: 0.0,
    max: 48.0,
    default: 12.0,
    unit: Unit::Decibels,
    smoothing_ms: Some(20.0),
};

const PARAMS: [ParamDesc; 2] = [
    DRIVE_DB,
    ParamDesc {
        id: 2,
        name: "level_db",
        min: -48.0,
        max: 12.0,
        default: -6.0,
        unit: Unit::Decibels,
        smoothing_ms: None,
    },
];

pedal_type!(Drive, "drive", PARAMS);

impl ProgramType for Drive {
    fn kind(&self, _settings: &Settings) -> u32 {
        KIND_DRIVE
    }

    fn device_params(&self, sample_rate: f64, _settings: &Settings, p: &[f32], out: &mut [f32]) {
        out.copy_from_slice(&[db_to_linear(p[0]), db_to_linear(p[1]), smoothing(sample_rate, &DRIVE_DB)]);
    }
}
