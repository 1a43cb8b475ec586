//! Device acquisition for graph tests, the kernel suite's policy: a missing runtime skips
//! loudly, unless `CUBEAUDIO_REQUIRE` names it (CI=true requires wgpu), then it fails.
#![allow(dead_code)]

use std::fmt::Display;

use cubeaudio_kernels::device::required;

pub fn acquire<E: Display, T>(test: &str, runtime: &str, opened: Result<T, E>, describe: impl Fn(&T) -> String) -> Option<T> {
    match opened {
        Ok(engine) => {
            println!("[kernel-test] {test}: runtime {runtime} | adapter {}", describe(&engine));
            Some(engine)
        }
        Err(e) if required(runtime) => panic!("[kernel-test] {test}: runtime {runtime} is required here but unavailable: {e}"),
        Err(e) => {
            eprintln!("[kernel-test] SKIPPED {test}: runtime {runtime} unavailable: {e} (set CUBEAUDIO_REQUIRE={runtime} to make this a failure)");
            None
        }
    }
}


/// Instantiates `fn name<R: Runtime>(engine: &Engine<R>)` per compiled runtime.
#[macro_export]
macro_rules! graph_suite {
    ($($test:ident),* $(,)?) => {
        mod cuda {
            $(
                #[test]
                fn $test() {
                    let name = concat!(module_path!(), "::", stringify!($test));
                    if let Some(e) = $crate::common::acquire(name, "cuda", cubeaudio_runtime::engine::CudaEngine::cuda(0), |e| e.info().to_string()) {
                        super::$test(&e);
                    }
                }
            )*
        }
        mod wgpu {
            $(
                #[test]
                fn $test() {
                    let name = concat!(module_path!(), "::", stringify!($test));
                    if let Some(e) = $crate::common::acquire(name, "wgpu", cubeaudio_runtime::engine::WgpuEngine::wgpu(), |e| e.info().to_string()) {
                        super::$test(&e);
                    }
                }
            )*
        }
    };
}
