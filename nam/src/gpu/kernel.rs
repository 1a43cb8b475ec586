//! The plan interpreter's device code lives in the kernel library
//! ([`cubeaudio_kernels::wavenet_streams`]) so that a graph program can run a stream as one of its
//! steps; this module keeps the engine's paths to it. The plans are built by [`super::plan`].
pub use cubeaudio_kernels::wavenet_streams::*;
