//! The `cubeaudio` application: the jobs behind the command line, as a library so that tests
//! and other front ends (the plugin, live mode) call the same code.
//!
//! - [`render`]: WAV files through a `.nam` model, one instance per channel, on the best backend.
//! - [`graph`]: a WAV file through a processing graph (`rig.json`).
//! - [`bench`]: streams one GPU holds in real time, latency, offline throughput.
//! - [`info`]: what a model is and what it costs.
//! - [`resample`]: rate conversion between the file's and the model's rate, streamed.
//! - [`file_stream`]: files streamed from disk to disk through an engine, in blocks.
//! - [`kernel_cache`]: compiled CUDA kernels kept between runs of one build.

pub mod bench;
pub mod error;
pub mod example_signal;
pub mod file_stream;
pub mod graph;
pub mod host_spans;
pub mod info;
pub mod interrupt;
pub mod kernel_cache;
#[cfg(feature = "live")]
pub mod live;
pub mod paths;
pub mod render;
pub mod resample;
pub mod rig_bench;

pub use error::{CliError, Result};
