//! Host side of cubeaudio.
//!
//! Entry points:
//! - [`engine::Engine`] — one device (CUDA or wgpu) with staging, launch counting and
//!   [`engine::Completion`] handles; [`engine::CudaEngine`] / [`engine::WgpuEngine`] aliases.
//! - [`processor`] — the processor contract: a static [`processor::Description`] (ports, params
//!   with stable ids), [`processor::ProcessorType::prepare`] (allocates, compiles) and
//!   [`processor::BatchProcessor::process`] (one launch for every instance of a type in a stage).
//! - [`program_type::ProgramType`] — processors whose device step is a kind of the fused graph
//!   program: the graph compiler runs every such processor of a graph in one launch, laid out
//!   per warp by the packer.
//! - [`registry::Registry`] — processor types by name; [`builtins`] registers gain, mix, eq,
//!   noise gate, FIR and cabinet IR.
//! - [`graph`] — [`graph::GraphSpec`] (the `rig.json` format), validation with precise errors,
//!   the [`graph::Schedule`] (stages, batches, arena slot reuse), [`graph::CompiledGraph`],
//!   and [`graph::GraphRunner`] / [`graph::GraphEditor`] for atomic commits at buffer boundaries.
//! - [`params::ParamSetter`] — set parameters from any thread, lock-free.
//! - [`realtime`] — the audio-thread side: a lock-free, allocation-free bridge to the GPU thread.
//! - [`packer::pack`] — the exact warp-alignment packer.

/// A trace span of a buffer's host work (target [`graph::HOST_SPANS`]), entered until dropped.
macro_rules! host_span {
    ($name:literal) => {
        tracing::trace_span!(target: $crate::graph::HOST_SPANS, $name).entered()
    };
}

pub mod builtins;
pub mod engine;
pub mod error;
pub mod graph;
pub mod packer;
pub mod params;
pub mod processor;
pub mod program_type;
pub mod realtime;
pub mod registry;
pub mod streams_type;
pub mod wav;

pub use engine::Engine;
pub use error::{GraphError, ProcessorError, RuntimeError};
