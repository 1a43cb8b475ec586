//! Processing graphs: the declarative [`GraphSpec`], [`validate`], the [`Schedule`], the
//! [`CompiledGraph`] that runs a buffer on the device, and the [`GraphEditor`] /
//! [`GraphRunner`] pair that commits a new graph to the processing side at a buffer boundary.

mod compiled;
mod layout;
mod program;
mod schedule;
mod spec;
mod swap;
mod validate;

pub use compiled::{CompiledGraph, GraphOptions, Pending, StreamFusion, UnrollStreams, HOST_SPANS, MAX_ARENA_FLOATS};
pub use layout::{stage_layout, Fusion, LayoutStats, WARP};
pub(crate) use program::{FusedProgram, Member, Placement, ProgramIo};
pub use schedule::{Batch, Schedule, SILENT_SLOT};
pub use spec::{Connection, GraphPort, GraphSpec, ProcessorSpec, MAX_PORT_CHANNELS, MAX_PROCESSORS};
pub use swap::{graph_pair, BufferReport, GraphEditor, GraphRunner};
pub use validate::{validate, Source, ValidGraph, ValidProcessor};
