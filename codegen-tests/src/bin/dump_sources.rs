//! Writes every registered kernel's source for one target into a folder, so it can be compiled
//! where the compiler lives (CUDA: `nvcc -arch=sm_90` on the GPU machine, see
//! scripts/device-test.sh).
//!
//! `dump_sources <cuda|hip|wgsl|spirv|msl> <out-dir>`

use cubeaudio_codegen_tests::{registry, source, Target};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(target), Some(out)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: dump_sources <cuda|hip|wgsl|spirv|msl> <out-dir>");
        std::process::exit(2);
    };
    let Some(target) = Target::ALL.into_iter().find(|t| t.name() == target) else {
        eprintln!("unknown target {target}");
        std::process::exit(2);
    };
    let ext = match target {
        Target::Cuda => "cu",
        Target::Hip => "hip",
        Target::Wgsl => "wgsl",
        Target::SpirV => "spvasm",
        Target::Msl => "metal",
    };
    std::fs::create_dir_all(out).expect("create output folder");
    for case in registry() {
        let text = source(&case, target).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        std::fs::write(format!("{out}/{}.{ext}", case.name), text).expect("write source");
    }
}
