//! The GPU NAM engines on every runtime with a device, one test binary (each binary links all
//! of cubecl; one keeps the build and the GPU machine's carry small):
//! - [`references`]: the convolutional engine against every non-LSTM reference of the core;
//! - [`lstm`]: the LSTM engine against the core's LSTM references and the CPU engine;
//! - [`architectures`]: ConvNet, Linear, post-stack heads, per-channel PReLU vs the CPU engine;
//! - [`streams`]: streams joining and leaving, async buffers;
//! - [`faults`]: non-finite input, refused requests, oversized batches, reset;
//! - [`real_captures`]: the 29 real user captures against the core's outputs.
//! - [`split`]: the time-split renderer against the streaming render.
//! - [`columns`]: the shape-specialised columns kernel against the core, kernel switches.
//!
//! Each body runs once per runtime through `cubeaudio_kernels::for_each_runtime!`: a missing
//! device fails when `CI=true` or `CUBEAUDIO_REQUIRE` names the runtime, and skips loudly
//! otherwise.

#[path = "../common/mod.rs"]
mod common;

/// Runs `inputs` (one signal per stream, all of one length) through `batch` in buffers of
/// `buffer` frames, the last one shorter; returns each stream's output.
pub(crate) fn process_in_buffers(
    batch: &mut dyn cubeaudio_nam::gpu::StreamBatch,
    inputs: &[&[f32]],
    buffer: usize,
) -> Vec<Vec<f32>> {
    let len = inputs[0].len();
    let mut outs = vec![vec![0.0f32; len]; inputs.len()];
    let mut at = 0;
    while at < len {
        let n = buffer.min(len - at);
        let ins: Vec<&[f32]> = inputs.iter().map(|x| &x[at..at + n]).collect();
        let mut ys: Vec<&mut [f32]> = outs.iter_mut().map(|o| &mut o[at..at + n]).collect();
        batch.process(&ins, &mut ys).unwrap();
        at += n;
    }
    outs
}

mod architectures;
mod columns;
mod faults;
mod lstm;
mod real_captures;
mod references;
mod split;
mod streams;
