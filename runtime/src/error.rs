//! Errors of the runtime: graph validation (what and where), processors, devices.

use std::path::PathBuf;
use std::sync::Arc;

use cubeaudio_kernels::device::{DeviceError, DeviceFault};
use cubeaudio_kernels::KernelError;

use crate::wav::WavError;

/// Why a graph was refused. Every variant names the processors and ports involved.
#[allow(missing_docs)] // variant fields are what the variant's message names
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GraphError {
    /// The rig is not valid JSON of the rig format.
    #[error("rig: {0}")]
    Parse(String),
    /// Two processors share an id.
    #[error("processor id `{0}` is used twice")]
    DuplicateId(String),
    /// Two graph ports share a name.
    #[error("graph port `{0}` is declared twice")]
    DuplicatePort(String),
    /// A processor names a type the registry does not hold.
    #[error("processor `{id}`: unknown type `{type_name}` (known: {known})")]
    UnknownType { id: String, type_name: String, known: String },
    /// A connection endpoint names nothing that exists, or the wrong direction.
    #[error("`{endpoint}`: {reason}")]
    BadEndpoint { endpoint: String, reason: String },
    /// An input is connected twice.
    #[error(
        "`{to}` already takes its signal from `{first}`; an input takes one source (also connected from `{second}`)"
    )]
    InputTaken { to: String, first: String, second: String },
    /// A connection joins ports of different channel counts.
    #[error("`{from}` ({from_channels} channels) cannot feed `{to}` ({to_channels} channels)")]
    ChannelMismatch { from: String, from_channels: usize, to: String, to_channels: usize },
    /// A required input has no connection.
    #[error("required input `{0}` is not connected")]
    Unconnected(String),
    /// The connections form a cycle (the processors on it, in order).
    #[error("cycle: {}", .0.join(" → "))]
    Cycle(Vec<String>),
    /// A parameter name or value the processor's type refuses.
    #[error("processor `{id}`: parameter `{param}`: {reason}")]
    Param { id: String, param: String, reason: String },
    /// A processor's type refused its settings or could not prepare it.
    #[error("processor `{id}` ({type_name}): {error}")]
    Processor { id: String, type_name: String, error: ProcessorError },
    /// A processor type described a port with an impossible channel count.
    #[error("processor `{id}`: port `{port}` has {channels} channels; a port has 1..={limit}")]
    PortChannels { id: String, port: &'static str, channels: usize, limit: usize },
    /// Nothing would be read back.
    #[error("the graph has no outputs")]
    NoOutputs,
    /// The graph exceeds a size limit.
    #[error("{what} = {value} exceeds the limit of {limit}")]
    TooLarge { what: &'static str, value: usize, limit: usize },
}

/// Errors while running a graph or a device.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RuntimeError {
    /// The graph was refused.
    #[error(transparent)]
    Graph(#[from] GraphError),
    /// A kernel refused its configuration.
    #[error(transparent)]
    Kernel(#[from] KernelError),
    /// The device failed while running.
    #[error(transparent)]
    Device(#[from] DeviceFault),
    /// No device could be opened.
    #[error(transparent)]
    NoDevice(#[from] DeviceError),
    /// A request that does not fit the graph (buffer sizes, channel counts).
    #[error("{0}")]
    Request(String),
    /// `process` was called before any graph was committed.
    #[error("no graph committed yet")]
    NoGraph,
}

/// Why a processor type refused an instance's settings or could not prepare a batch: the
/// answer of [`crate::processor::ProcessorType::describe`] and `prepare`.
#[allow(missing_docs)] // variant fields are what the variant's message names
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProcessorError {
    /// A setting is missing or has a value the type cannot use.
    #[error("setting `{setting}`: {reason}")]
    Setting { setting: &'static str, reason: String },
    /// A setting the type does not know (a typo is an error rather than a default).
    #[error("unknown setting `{setting}` (known: {known})")]
    UnknownSetting { setting: String, known: String },
    /// A file a setting names is unusable for this processor (wrong rate, too long, silent…).
    #[error("{path}: {reason}")]
    File { path: PathBuf, reason: String },
    /// A WAV file a setting names cannot be read.
    #[error(transparent)]
    Wav(#[from] WavError),
    /// A kernel refused the configuration.
    #[error(transparent)]
    Kernel(#[from] KernelError),
    /// The device failed while preparing.
    #[error(transparent)]
    Device(#[from] DeviceFault),
    /// A processor defined outside this crate failed with its own error (e.g. a model file
    /// that does not load), kept whole for `source()`.
    #[error(transparent)]
    External(Arc<dyn std::error::Error + Send + Sync>),
}

impl ProcessorError {
    /// Wraps a processor's own error type.
    pub fn external(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::External(Arc::new(e))
    }
}

/// Errors compare by what they say: the external variant holds a foreign error type.
impl PartialEq for ProcessorError {
    fn eq(&self, other: &Self) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other) && self.to_string() == other.to_string()
    }
}
