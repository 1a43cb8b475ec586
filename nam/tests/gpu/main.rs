//! The GPU NAM engines on every runtime with a device, one test binary (each binary links all
//! of cubecl; one keeps the build and the GPU machine's carry small):
//! - [`references`]: the convolutional engine against every non-LSTM reference of the core;
//! - [`lstm`]: the LSTM engine against the core's LSTM references and the CPU engine;
//! - [`architectures`]: ConvNet, Linear, post-stack heads, per-channel PReLU vs the CPU engine;
//! - [`streams`]: streams joining and leaving, async buffers;
//! - [`faults`]: non-finite input, refused requests, oversized batches, reset.
//!
//! Like the kernel suite, a missing device fails when `CI=true` or `CUBEAUDIO_REQUIRE` names the
//! runtime, and skips loudly otherwise.

#[path = "../common/mod.rs"]
mod common;

mod architectures;
mod faults;
mod lstm;
mod references;
mod streams;
