//! NAM for hosts that call back in real time (plugins, JACK): every instance in a process
//! belongs to one [`SharedEngine`], whose device thread runs all instances' blocks of a host
//! cycle in **one launch**, and each instance's audio-thread end ([`Instance`]) only copies
//! blocks through lock-free queues.
//!
//! # The latency contract
//! An instance works in blocks of `block` frames (the host's largest buffer) and reports
//! `block` frames of latency: the block filled during host cycle *n* is launched when every
//! instance of the engine has handed in its block of cycle *n*, and is played during cycle
//! *n + 1*. The device so has one host period, less the host's own work, for the upload, the
//! launch and the read-back. The output is the model's output delayed by exactly `block`
//! frames, whichever engine produced it.
//!
//! During an instance's first [`WARMUP_BLOCKS`] blocks a late block is waited for (up to
//! [`WARMUP_WAIT`]): the first launches after a batch grows allocate its buffers. After that,
//! if the result is not there by the caller's deadline (a missed launch, a lost device), the
//! instance leaves the GPU for good and continues on its own CPU engine, prepared when it
//! joined: the late block is replaced by a ramp from the last output sample to silence (no step,
//! so no click), the CPU output fades in over the next block, and for convolutional models it is
//! exact again one receptive field later. [`Instance::fallback`] says why it happened. With no
//! GPU at all, or for LSTM models (a recurrence of one stream per cube, cheap on the CPU),
//! instances run on the CPU engine from the start, with the same latency.

mod engine;
mod instance;

pub use engine::{EngineStatus, SharedEngine};
pub use instance::{Instance, InstanceStatus, Miss, Wait, OFFLINE_LIMIT, WARMUP_BLOCKS, WARMUP_WAIT};
