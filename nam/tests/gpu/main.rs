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

/// Instantiates a generic body `run(client, device_label)` as one test per runtime (`on_wgpu`,
/// `on_cuda`), like the kernel suite: a missing device fails when required, else skips loudly.
macro_rules! per_runtime {
    ($run:ident, $tag:literal) => {
        #[cfg(feature = "wgpu")]
        #[test]
        fn on_wgpu() {
            match cubeaudio_kernels::device::wgpu_device::open_best() {
                Ok((client, info)) => {
                    println!("[{}] runtime {} | adapter {}", $tag, info.runtime, info.adapter);
                    $run(&client, &info.to_string())
                }
                Err(e) if cubeaudio_kernels::device::required("wgpu") => panic!("wgpu required but unavailable: {e}"),
                Err(e) => eprintln!("[{}] SKIPPED {} on wgpu: {e}", $tag, module_path!()),
            }
        }

        #[cfg(feature = "cuda")]
        #[test]
        fn on_cuda() {
            match cubeaudio_kernels::device::cuda::open(0) {
                Ok((client, info)) => {
                    println!("[{}] runtime {} | adapter {}", $tag, info.runtime, info.adapter);
                    $run(&client, &info.to_string())
                }
                Err(e) if cubeaudio_kernels::device::required("cuda") => panic!("cuda required but unavailable: {e}"),
                Err(e) => eprintln!("[{}] SKIPPED {} on cuda: {e}", $tag, module_path!()),
            }
        }
    };
}

mod architectures;
mod faults;
mod lstm;
mod references;
mod streams;
