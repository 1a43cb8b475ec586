//! The contract of a processor type whose instances run as **model streams** of a graph
//! program: a cooperative step the cube runs after its stage's items and convolutions — the
//! columns kernel's body for a model shape compiled in
//! (`cubeaudio_kernels::wavenet_columns::run_columns`), or the interpreter of a model's plan
//! (`cubeaudio_kernels::wavenet_streams::run_stream`). `nam` uses
//! it for its convolutional models (WaveNet, ConvNet, Linear), so an amp between pedals and a
//! cab is part of the same single launch.
//!
//! The type owns the streams' tables (plans, weights, histories, cursors) and hands them to the
//! program for every buffer; the program binds them and says which arena slots each stream
//! reads and writes.

use cubeaudio_kernels::graph_program::{StreamStep, StreamTables};
use cubecl::prelude::*;

use crate::engine::Engine;
use crate::error::{ProcessorError, RuntimeError};
use crate::processor::{InstanceSetup, PrepareContext, Settings};

/// A processor type whose instances (one input channel, one output channel) can run as streams
/// of a graph program.
pub trait StreamsType<R: Runtime>: Send + Sync {
    /// Whether an instance with these settings runs as a stream (it may read the files its
    /// settings name to know); one that does not runs as its own batch, which reports what is
    /// wrong with it.
    fn fuses(&self, ctx: &PrepareContext, settings: &Settings) -> bool;

    /// Prepares `copies` copies of `members` (one graph instance's processors of this type in
    /// program order): stream `copy · members.len() + k` is copy `copy` of member `k`. Errors
    /// name the file or setting at fault.
    fn prepare_streams(
        &self,
        engine: &Engine<R>,
        ctx: &PrepareContext,
        members: &[InstanceSetup],
        copies: usize,
    ) -> Result<Box<dyn ProgramStreams<R>>, ProcessorError>;
}

/// Prepared streams: their tables on the device.
pub trait ProgramStreams<R: Runtime>: Send {
    /// How the program runs these streams: the interpreter's compiled shape (and the units a
    /// cube should have) or the columns kernel's.
    fn step(&self) -> StreamStep;

    /// The tables for the next buffer of `frames`; advances the streams' clock. Runs on the
    /// processing thread: allocates nothing.
    fn tables(&mut self, frames: usize) -> StreamTables<'_>;

    /// Back to the state right after preparing.
    fn reset(&mut self, engine: &Engine<R>) -> Result<(), RuntimeError>;
}
