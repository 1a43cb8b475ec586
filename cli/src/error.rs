//! Errors of the application's jobs: each keeps the typed error of the layer it came from.

use std::path::PathBuf;

use cubeaudio_kernels::device::DeviceError;
use cubeaudio_nam::NamError;
use cubeaudio_runtime::wav::WavError;
use cubeaudio_runtime::RuntimeError;

/// Why a job failed.
#[allow(missing_docs)] // variant fields are what the variant's message names
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Loading or running a model.
    #[error(transparent)]
    Model(#[from] NamError),
    /// Reading or writing a WAV file.
    #[error(transparent)]
    Wav(#[from] WavError),
    /// A device failed while running.
    #[error(transparent)]
    Fault(#[from] cubeaudio_kernels::device::DeviceFault),
    /// No device of the requested backend.
    #[error(transparent)]
    Device(#[from] DeviceError),
    /// A graph that cannot be built or run.
    #[error("{path}: {error}")]
    Graph { path: PathBuf, error: Box<RuntimeError> },
    /// A running graph failed.
    #[error(transparent)]
    Runtime(Box<RuntimeError>),
    /// A file system operation on `path`.
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// A request that cannot be met (sizes, channel counts, rates).
    #[error("{0}")]
    Request(String),
}

impl From<RuntimeError> for CliError {
    fn from(e: RuntimeError) -> Self {
        Self::Runtime(Box::new(e))
    }
}

/// Result of the application's jobs.
pub type Result<T> = std::result::Result<T, CliError>;
