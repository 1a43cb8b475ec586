//! Errors of loading and running NAM models.

use std::path::PathBuf;

/// Everything that can be wrong with a `.nam` file or a request made of a model.
#[allow(missing_docs)] // variant fields are what the variant's message names
#[derive(Debug, thiserror::Error)]
pub enum NamError {
    /// The file could not be read.
    #[error("{path}: cannot read: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// Any other error, with the file it came from.
    #[error("{path}: {error}")]
    InFile { path: PathBuf, error: Box<NamError> },
    /// An error inside one model of a Sequential (counted from 0).
    #[error("Sequential model {index}: {error}")]
    InModel { index: usize, error: Box<NamError> },
    /// The file is not JSON.
    #[error("malformed JSON: {0}")]
    Json(String),
    /// A key every `.nam` file has is missing.
    #[error("missing required key `{0}`")]
    MissingKey(&'static str),
    /// A file version outside 0.5.0–0.7.x.
    #[error("version `{version}` {reason}")]
    Version { version: String, reason: String },
    /// An architecture name the loader does not know.
    #[error("unknown architecture `{0}` (expected WaveNet, LSTM, ConvNet, Linear, SlimmableContainer or Sequential)")]
    UnknownArchitecture(String),
    /// A known architecture this engine does not run.
    #[error("architecture `{architecture}` is not supported: {reason}")]
    Unsupported { architecture: String, reason: String },
    /// An invalid `config` value.
    #[error("config: {0}")]
    Config(String),
    /// The weights array does not have the length the config implies.
    #[error("weight mismatch: the config needs {expected} weights but the file has {actual}")]
    WeightCount { expected: usize, actual: usize },
    /// A weight is NaN, infinite, or beyond f32's range.
    #[error("weight {index} is not a finite number")]
    NonFiniteWeight { index: usize },
    /// A finite weight beyond [`crate::loader::MAX_WEIGHT`].
    #[error("weight {index} is {value:e}; weights are within ±{limit:e} (real captures stay below 400)")]
    WeightOutOfRange { index: usize, value: f32, limit: f32 },
    /// A size beyond what the engines accept.
    #[error("{what} = {value} is outside the supported range (at most {limit})")]
    TooLarge { what: String, value: usize, limit: usize },
    /// A request a model cannot serve (buffer size, slim value, channel layout, batch limits).
    #[error("invalid request: {0}")]
    Request(String),
    /// The GPU failed while running a batch.
    #[error("GPU: {0}")]
    Device(#[from] cubeaudio_kernels::device::DeviceFault),
    /// A GPU kernel refused its configuration.
    #[error("GPU kernel: {0}")]
    Kernel(#[from] cubeaudio_kernels::KernelError),
}

impl NamError {
    /// A [`NamError::Config`] with this message.
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

/// Result of loading and running models.
pub type Result<T> = std::result::Result<T, NamError>;
