//! Errors of the runtime: graph validation (what and where), processors, devices.

use cubeaudio_kernels::KernelError;

/// Why a graph was refused. Every variant names the processors and ports involved.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GraphError {
    #[error("rig: {0}")]
    Parse(String),
    #[error("processor id `{0}` is used twice")]
    DuplicateId(String),
    #[error("graph port `{0}` is declared twice")]
    DuplicatePort(String),
    #[error("processor `{id}`: unknown type `{type_name}` (known: {known})")]
    UnknownType { id: String, type_name: String, known: String },
    #[error("`{endpoint}`: {reason}")]
    BadEndpoint { endpoint: String, reason: String },
    #[error("`{to}` already takes its signal from `{first}`; an input takes one source (also connected from `{second}`)")]
    InputTaken { to: String, first: String, second: String },
    #[error("`{from}` ({from_channels} channels) cannot feed `{to}` ({to_channels} channels)")]
    ChannelMismatch { from: String, from_channels: usize, to: String, to_channels: usize },
    #[error("required input `{0}` is not connected")]
    Unconnected(String),
    #[error("cycle: {}", .0.join(" → "))]
    Cycle(Vec<String>),
    #[error("processor `{id}`: parameter `{param}`: {reason}")]
    Param { id: String, param: String, reason: String },
    #[error("processor `{id}` ({type_name}): {message}")]
    Processor { id: String, type_name: String, message: String },
    #[error("the graph has no outputs")]
    NoOutputs,
    #[error("{what} = {value} exceeds the limit of {limit}")]
    TooLarge { what: &'static str, value: usize, limit: usize },
}

/// Errors while running a graph or a device.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RuntimeError {
    #[error(transparent)]
    Graph(#[from] GraphError),
    #[error(transparent)]
    Kernel(#[from] KernelError),
    #[error("device error: {0}")]
    Device(String),
    #[error("{0}")]
    Request(String),
    #[error("no graph committed yet")]
    NoGraph,
}
