//! Built-in processor types: `gain`, `mix`, `eq`, `noise_gate`, `compressor`, `tremolo`,
//! `drive`, `delay`, `fir`, `ir` (cabinet impulse response from a WAV).
//!
//! All but `fir` and `ir` are graph-program kinds ([`crate::program_type::ProgramType`]): a
//! fused graph runs them in one launch with everything else of their kind of graph. Run on
//! their own (`Fusion::Off`), `gain`, `mix`, `eq` and `noise_gate` use the
//! [`cubeaudio_kernels::routed`] kernels and the others a one-stage program; `fir` and `ir`
//! always launch their own kernels.

mod compressor;
mod convolver;
mod delay;
mod derived;
mod drive;
mod eq;
mod fir;
mod gain;
mod gate;
mod ir;
mod mix;
mod program_batch;
mod tremolo;

use std::sync::Arc;

use cubecl::prelude::*;

pub use compressor::Compressor;
pub use delay::Delay;
pub use drive::Drive;
pub use eq::Eq;
pub use fir::Fir;
pub use gain::{Gain, GAIN_DB};
pub use gate::{gate_settings, NoiseGate};
pub use ir::{convolution_block, direct_max_taps, ImpulseResponse};
pub use mix::Mix;
pub use tremolo::Tremolo;

use crate::error::ProcessorError;
use crate::processor::{PortDesc, ProcessorType, Settings, MAX_PORT_CHANNELS};

/// Every built-in type, for [`crate::registry::Registry::with_builtins`] (the registry depends
/// on the built-ins, never the other way round).
pub fn all<R: Runtime>() -> Vec<Arc<dyn ProcessorType<R>>> {
    vec![
        Arc::new(Gain),
        Arc::new(Mix),
        Arc::new(Eq),
        Arc::new(NoiseGate),
        Arc::new(Compressor),
        Arc::new(Tremolo),
        Arc::new(Drive),
        Arc::new(Delay),
        Arc::new(Fir),
        Arc::new(ImpulseResponse),
    ]
}

/// `channels` setting (default 1).
pub(crate) fn channels(settings: &Settings) -> Result<usize, ProcessorError> {
    match settings.get("channels") {
        None => Ok(1),
        Some(v) => match v.as_u64() {
            Some(c) if (1..=MAX_PORT_CHANNELS as u64).contains(&c) => Ok(c as usize),
            _ => Err(ProcessorError::Setting {
                setting: "channels",
                reason: format!("must be an integer in 1..={MAX_PORT_CHANNELS}, got {v}"),
            }),
        },
    }
}

/// Refuses settings this type does not know, so a typo is an error rather than a default.
pub fn known_settings(settings: &Settings, known: &[&str]) -> Result<(), ProcessorError> {
    match settings.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(ProcessorError::UnknownSetting { setting: k.clone(), known: known.join(", ") }),
        None => Ok(()),
    }
}

pub(crate) fn mono_ports(channels: usize) -> (Vec<PortDesc>, Vec<PortDesc>) {
    (vec![PortDesc { name: "in", channels, required: true }], vec![PortDesc { name: "out", channels, required: true }])
}

/// (input slot, output slot) of every channel of every instance.
pub(crate) fn channel_routes(instances: &[crate::processor::InstanceSetup]) -> Vec<(u32, u32)> {
    instances.iter().flat_map(|i| i.input_slots.iter().copied().zip(i.output_slots.iter().copied())).collect()
}

/// Every channel's route (as [`channel_routes`]) with its taps, `taps[instance][channel]`.
pub(crate) fn routed_taps<'a>(
    instances: &[crate::processor::InstanceSetup],
    taps: &'a [Vec<Vec<f32>>],
) -> Vec<((u32, u32), &'a [f32])> {
    channel_routes(instances).into_iter().zip(taps.iter().flatten().map(Vec::as_slice)).collect()
}

pub(crate) fn db_to_linear(db: f32) -> f32 {
    10f32.powf(db / 20.0)
}
