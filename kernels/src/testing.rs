//! Device tests on every runtime, for this crate's suites and every crate built on it (feature
//! `testing`): one generic body per test, instantiated once per compiled runtime by
//! [`for_each_runtime!`](crate::for_each_runtime), as cubecl's `testgen_*` macros do.
//!
//! A runtime that cannot find its device skips with a loud message, unless it is required
//! ([`crate::device::required`]: `CUBEAUDIO_REQUIRE=cuda,wgpu`, or `CI=true`, which requires
//! `wgpu`): then the test fails, so CI can never pass without running on a device. Every test
//! that ran prints `[device-test] <test>: runtime <r> | adapter <a>`, which `scripts/test.sh`
//! counts.

use std::fmt::Display;

use crate::device::{required, DeviceInfo};

#[cfg(feature = "cuda")]
pub use cubecl::cuda::CudaRuntime;
#[cfg(feature = "wgpu")]
pub use cubecl::wgpu::WgpuRuntime;

/// The result of opening `runtime` for `test`: the device, or `None` after a loud skip; panics
/// when the runtime is required and missing.
pub fn acquire<C, E: Display>(
    test: &str,
    runtime: &str,
    opened: Result<(C, DeviceInfo), E>,
) -> Option<(C, DeviceInfo)> {
    match opened {
        Ok((client, info)) => {
            println!("[device-test] {test}: runtime {} | adapter {}", info.runtime, info.adapter);
            Some((client, info))
        }
        Err(e) if required(runtime) => {
            panic!("[device-test] {test}: runtime {runtime} is required here but unavailable: {e}")
        }
        Err(e) => {
            eprintln!("[device-test] SKIPPED {test}: runtime {runtime} unavailable: {e} (set CUBEAUDIO_REQUIRE={runtime} to make this a failure)");
            None
        }
    }
}

/// Instantiates generic test bodies once per compiled runtime, in modules `cuda` and `wgpu` (so
/// `cargo test cuda::` runs one runtime).
///
/// `for_each_runtime!(a, b)` calls `a::<R>(&client)` with `client: &ComputeClient<R>`.
/// `for_each_runtime!(|client, info| (EXPR, …); a, b)` calls `a::<R>(EXPR, …)`, where `client` is the
/// `&ComputeClient<R>` and `info` the `&DeviceInfo` (e.g. to build an engine from them); the
/// generated modules `use super::*`, so EXPR may name the caller's imports.
#[macro_export]
macro_rules! for_each_runtime {
    ($($test:ident),+ $(,)?) => {
        $crate::for_each_runtime!(|client, _info| (client); $($test),+);
    };
    (|$client:ident, $info:ident| $args:tt; $($test:ident),+ $(,)?) => {
        #[cfg(feature = "cuda")]
        mod cuda {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[test]
                fn $test() {
                    let name = concat!(module_path!(), "::", stringify!($test));
                    if let Some((client, info)) = $crate::testing::acquire(name, "cuda", $crate::device::cuda::open(0)) {
                        let ($client, $info) = (&client, &info);
                        super::$test::<$crate::testing::CudaRuntime> $args;
                    }
                }
            )+
        }
        #[cfg(feature = "wgpu")]
        mod wgpu {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[test]
                fn $test() {
                    let name = concat!(module_path!(), "::", stringify!($test));
                    if let Some((client, info)) = $crate::testing::acquire(name, "wgpu", $crate::device::wgpu_device::open_best()) {
                        let ($client, $info) = (&client, &info);
                        super::$test::<$crate::testing::WgpuRuntime> $args;
                    }
                }
            )+
        }
    };
}
