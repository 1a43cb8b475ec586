//! Any bytes as a rig file: parsed, validated against the built-in processor types and
//! scheduled (all host side, no device): an error or a schedule, never a panic or a hang.
#![no_main]

use cubeaudio_runtime::graph::{validate, GraphSpec, Schedule};
use cubeaudio_runtime::registry::Registry;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(spec) = GraphSpec::from_json(text) else { return };
    let registry = Registry::<cubecl::wgpu::WgpuRuntime>::with_builtins();
    if let Ok(graph) = validate(&spec, &registry) {
        let _ = Schedule::build(&graph);
    }
});
