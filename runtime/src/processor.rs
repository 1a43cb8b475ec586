//! The processor contract.
//!
//! A processor **type** (the "module": gain, eq, nam, …) describes an instance from its settings
//! — ports with channel counts, parameters with stable ids — without touching a device. The
//! graph compiler then hands the type *every* instance of it in one graph stage at once:
//! [`ProcessorType::prepare`] allocates their device state, uploads tables and compiles (the
//! compiled graph runs one silent buffer right after, so every kernel is built before the first
//! real buffer). [`BatchProcessor::process`] then runs all those instances for one buffer — one
//! launch for the lot, wherever their signals live in the arena — and never compiles; its host
//! work is reading parameter values and, when one changed, uploading new targets.

use std::path::Path;

use cubeaudio_kernels::util::Buffer;
use cubecl::prelude::*;

use crate::engine::Engine;
use crate::error::{ProcessorError, RuntimeError};
use crate::program_type::ProgramType;
use crate::streams_type::StreamsType;

/// Most channels one port may have.
pub const MAX_PORT_CHANNELS: usize = 64;

/// The arena slot that always holds silence: where an unconnected optional input reads.
pub const SILENT_SLOT: u32 = 0;

/// Free-form settings of an instance (from `rig.json`): file paths, shapes, channel counts.
pub type Settings = serde_json::Map<String, serde_json::Value>;

/// What a parameter's value means, for hosts and editors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Level in dB.
    Decibels,
    /// Frequency in Hz.
    Hertz,
    /// Time in ms.
    Milliseconds,
    /// Dimensionless (Q, ratios).
    Ratio,
}

/// A parameter: its `id` is stable across versions (hosts store it in sessions), its `name` is
/// what rigs and the API use.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ParamDesc {
    /// Stable id, never reused for another meaning.
    pub id: u32,
    /// Name used in rig files and by `ParamSetter`.
    pub name: &'static str,
    /// Lowest accepted value.
    pub min: f32,
    /// Highest accepted value.
    pub max: f32,
    /// Value when the rig sets none.
    pub default: f32,
    /// What the value means.
    pub unit: Unit,
    /// One-pole smoothing time applied per sample on the device; `None`: the new value applies
    /// from the next buffer's first sample (e.g. filter shapes, recomputed per buffer).
    pub smoothing_ms: Option<f32>,
}

impl ParamDesc {
    /// Whether `value` is finite and within `min..=max`, or why not.
    pub fn check(&self, value: f32) -> Result<(), String> {
        if !value.is_finite() {
            return Err(format!("value {value} is not finite"));
        }
        if value < self.min || value > self.max {
            return Err(format!("value {value} is outside {}..={}", self.min, self.max));
        }
        Ok(())
    }
}

/// An input or output port of a processor.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PortDesc {
    /// Name used in connections (`"amp.in"`).
    pub name: &'static str,
    /// Channels the port carries.
    pub channels: usize,
    /// An optional input reads silence when unconnected.
    pub required: bool,
}

/// What an instance looks like from outside.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Description {
    /// The processor type's name.
    pub type_name: &'static str,
    /// Input ports, in order.
    pub inputs: Vec<PortDesc>,
    /// Output ports, in order.
    pub outputs: Vec<PortDesc>,
    /// Parameters, in order (their index is their position here).
    pub params: Vec<ParamDesc>,
}

impl Description {
    /// Position of the parameter called `name`.
    pub fn param_index(&self, name: &str) -> Option<usize> {
        self.params.iter().position(|p| p.name == name)
    }

    /// Channels of all inputs together.
    pub fn input_channels(&self) -> usize {
        self.inputs.iter().map(|p| p.channels).sum()
    }

    /// Channels of all outputs together.
    pub fn output_channels(&self) -> usize {
        self.outputs.iter().map(|p| p.channels).sum()
    }
}

/// One instance as the graph compiler hands it to [`ProcessorType::prepare`].
#[derive(Debug, Clone)]
pub struct InstanceSetup<'a> {
    /// The instance's id in the rig.
    pub id: &'a str,
    /// Its settings.
    pub settings: &'a Settings,
    /// What `describe` said about it.
    pub description: &'a Description,
    /// Arena slot of every input channel, port after port ([`SILENT_SLOT`] where
    /// an optional input is unconnected).
    pub input_slots: Vec<u32>,
    /// Arena slot of every output channel, port after port.
    pub output_slots: Vec<u32>,
    /// Parameter values at commit time, in description order.
    pub params: Vec<f32>,
}

/// What every instance of a graph shares.
#[derive(Debug, Clone, Copy)]
pub struct PrepareContext<'a> {
    /// Frames per second of every signal.
    pub sample_rate: f64,
    /// Largest buffer `process` will see, and the arena's slot length.
    pub max_buffer: usize,
    /// Relative paths in settings (IR files, models) resolve against this directory.
    pub base_dir: &'a Path,
}

impl PrepareContext<'_> {
    /// One-pole coefficient for a parameter's smoothing time at this sample rate.
    pub fn smoothing(&self, desc: &ParamDesc) -> f32 {
        smoothing(self.sample_rate, desc)
    }
}

/// One-pole coefficient for a parameter's smoothing time at `sample_rate` (1: no smoothing).
pub fn smoothing(sample_rate: f64, desc: &ParamDesc) -> f32 {
    let ms = desc.smoothing_ms.unwrap_or(0.0);
    cubeaudio_kernels::gain::smoothing_coefficient(sample_rate as f32, ms / 1000.0).unwrap_or(1.0)
}

/// Parameter values of the instances of one batch, instance-major.
#[derive(Debug, Clone, Copy)]
pub struct ParamView<'a> {
    /// All values, instance after instance.
    pub values: &'a [f32],
    /// Parameters of one instance.
    pub per_instance: usize,
}

impl ParamView<'_> {
    /// Parameter `param` of instance `instance`.
    pub fn get(&self, instance: usize, param: usize) -> f32 {
        self.values[instance * self.per_instance + param]
    }
}

/// A processor type: describes instances and prepares batches of them.
pub trait ProcessorType<R: Runtime>: Send + Sync {
    /// The name rig files use for this type.
    fn name(&self) -> &'static str;

    /// The ports and parameters of an instance with these settings, or why the settings are
    /// wrong. Touches no device and no file.
    fn describe(&self, settings: &Settings) -> Result<Description, ProcessorError>;

    /// Allocates and uploads the state of `instances` (same type, same stage), reading files
    /// their settings name. Errors name the instance.
    fn prepare(
        &self,
        engine: &Engine<R>,
        ctx: &PrepareContext,
        instances: &[InstanceSetup],
    ) -> Result<Box<dyn BatchProcessor<R>>, ProcessorError>;

    /// How instances run inside a fused graph program, for types whose device code is one of
    /// the program's item kinds or its convolution; `None` (the default) for types that need
    /// launches of their own or run as streams.
    fn program(&self) -> Option<&dyn ProgramType> {
        None
    }

    /// How instances run as model streams of a fused graph program (`nam`); `None` (the
    /// default) for other types.
    fn streams(&self) -> Option<&dyn StreamsType<R>> {
        None
    }
}

/// Every instance of one type in one stage, on the device.
pub trait BatchProcessor<R: Runtime>: Send {
    /// Applies `params`, then processes `frames` samples of every instance: reads their input
    /// slots of `arena`, writes their output slots. Returns the launches it queued.
    fn process(
        &mut self,
        engine: &Engine<R>,
        arena: &Buffer,
        stride: usize,
        params: ParamView,
        frames: usize,
    ) -> Result<u32, RuntimeError>;

    /// Back to the state right after `prepare` (histories cleared, smoothers at their targets).
    fn reset(&mut self, engine: &Engine<R>) -> Result<(), RuntimeError>;
}
