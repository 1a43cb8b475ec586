//! Errors of loading and running NAM models.

use std::path::PathBuf;

/// Everything that can be wrong with a `.nam` file or a request made of a model.
#[derive(Debug, thiserror::Error)]
pub enum NamError {
    #[error("{path}: cannot read: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: {error}")]
    InFile { path: PathBuf, error: Box<NamError> },
    #[error("malformed JSON: {0}")]
    Json(String),
    #[error("missing required key `{0}`")]
    MissingKey(&'static str),
    #[error("version `{version}` {reason}")]
    Version { version: String, reason: String },
    #[error("unknown architecture `{0}` (expected WaveNet, LSTM, ConvNet, Linear or SlimmableContainer)")]
    UnknownArchitecture(String),
    #[error("architecture `{architecture}` is not supported: {reason}")]
    Unsupported { architecture: String, reason: String },
    #[error("config: {0}")]
    Config(String),
    #[error("weight mismatch: the config needs {expected} weights but the file has {actual}")]
    WeightCount { expected: usize, actual: usize },
    #[error("weight {index} is not a finite number")]
    NonFiniteWeight { index: usize },
    #[error("{what} = {value} is outside the supported range (at most {limit})")]
    TooLarge { what: String, value: usize, limit: usize },
    #[error("invalid request: {0}")]
    Request(String),
    #[error("GPU: {0}")]
    Device(#[from] cubeaudio_kernels::device::DeviceFault),
    #[error("GPU kernel: {0}")]
    Kernel(#[from] cubeaudio_kernels::KernelError),
}

impl NamError {
    pub fn config(msg: impl Into<String>) -> Self {
        Self::Config(msg.into())
    }

    /// Attaches the file the error came from.
    pub fn in_file(self, path: impl Into<PathBuf>) -> Self {
        match self {
            e @ (Self::Io { .. } | Self::InFile { .. }) => e,
            e => Self::InFile { path: path.into(), error: Box::new(e) },
        }
    }
}

pub type Result<T> = std::result::Result<T, NamError>;
