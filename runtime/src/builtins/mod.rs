//! Built-in processor types: `gain`, `mix`, `eq`, `noise_gate`, `fir`, `ir` (cabinet impulse
//! response from a WAV). Each runs every instance of a stage in one launch of a
//! [`cubeaudio_kernels::routed`] kernel.

mod eq;
mod fir;
mod gain;
mod gate;
mod ir;
mod mix;

use std::sync::Arc;

use cubecl::prelude::*;

pub use eq::Eq;
pub use fir::Fir;
pub use gain::{Gain, GAIN_DB};
pub use gate::{gate_settings, NoiseGate};
pub use ir::ImpulseResponse;
pub use mix::Mix;

use crate::processor::{PortDesc, Settings};
use crate::registry::Registry;

pub fn register<R: Runtime>(registry: &mut Registry<R>) {
    registry.register(Arc::new(Gain));
    registry.register(Arc::new(Mix));
    registry.register(Arc::new(Eq));
    registry.register(Arc::new(NoiseGate));
    registry.register(Arc::new(Fir));
    registry.register(Arc::new(ImpulseResponse));
}

/// `channels` setting (default 1).
pub(crate) fn channels(settings: &Settings) -> Result<usize, String> {
    match settings.get("channels") {
        None => Ok(1),
        Some(v) => match v.as_u64() {
            Some(c) if (1..=crate::graph::MAX_PORT_CHANNELS as u64).contains(&c) => Ok(c as usize),
            _ => Err(format!("setting `channels` must be an integer in 1..={}, got {v}", crate::graph::MAX_PORT_CHANNELS)),
        },
    }
}

/// Refuses settings this type does not know, so a typo is an error rather than a default.
pub(crate) fn known_settings(settings: &Settings, known: &[&str]) -> Result<(), String> {
    match settings.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(format!("unknown setting `{k}` (known: {})", known.join(", "))),
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

pub(crate) fn db_to_linear(db: f32) -> f32 {
    10f32.powf(db / 20.0)
}
