#!/usr/bin/env bash
# Builds the release test binaries (and the CLI) here and packs them into .carry/ for the GPU
# machine, where scripts/device-test.sh runs them. The GPU machine has no Rust toolchain.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cubeaudio-target}"
mkdir -p .carry
rm -rf .carry/*

exe_of() { # cargo args... -> path of the kernel suite executable
    cargo test --release --no-run --message-format=json "$@" 2>/dev/null |
        python3 -c 'import json,sys
for l in sys.stdin:
    m=json.loads(l)
    if m.get("reason")=="compiler-artifact" and m["target"]["name"]=="suite" and m.get("executable"): print(m["executable"])'
}

cp "$(exe_of -p cubeaudio-kernels)" .carry/suite-spirv
cp "$(exe_of -p cubeaudio-kernels --no-default-features --features wgpu)" .carry/suite-wgsl
test_exe() { # package test-target destination
    cargo test --release --no-run --message-format=json -p "$1" --test "$2" 2>/dev/null |
        python3 -c 'import json,sys
for l in sys.stdin:
    m=json.loads(l)
    if m.get("reason")=="compiler-artifact" and m["target"]["name"]==sys.argv[1] and m.get("executable"): print(m["executable"])' "$2" |
        xargs -I{} cp {} ".carry/$3"
}
# Processing graphs on the device: runtime graphs and bridge, the `ir` processor.
test_exe cubeaudio-runtime graph_gpu graph-gpu
test_exe cubeaudio-runtime realtime graph-realtime
test_exe cubeaudio-runtime ir_gpu ir-gpu
test_exe cubeaudio-runtime pedals_gpu pedals-gpu
# The IR convolution crossover, the graph fusion benchmarks, the kind-cost calibration, the
# NAM host steps and the barrier costs (small).
benches="ir_crossover rig_fusion host_steps kind_costs barrier_cost"
cargo build --release -p cubeaudio-benches $(printf -- '--bin %s ' $benches)
for b in $benches; do cp "$CARGO_TARGET_DIR/release/$b" .carry/; done
# KERNELS_ONLY=1: the kernel suites and the runtime's device tests only (a session that changed
# kernels and runtime but not NAM, CLI or plugin; device-test.sh says which binaries are absent).
if [ "${KERNELS_ONLY:-0}" = 1 ]; then
    strip .carry/* 2>/dev/null || true
    xz -9 -T2 .carry/*
    cargo run --release -q -p cubeaudio-codegen-tests --bin dump_sources -- cuda .carry/cuda-src
    tar czf .carry/cuda-src.tgz -C .carry cuda-src && rm -r .carry/cuda-src
    ls -la .carry
    exit 0
fi
# NAM inside a graph.
test_exe cubeaudio graph nam-graph
# The GPU NAM engines (references, LSTM, architectures, streams, faults): one binary.
test_exe cubeaudio-nam gpu gpu-nam
cargo build --release -p cubeaudio --bin cubeaudio
cp "$CARGO_TARGET_DIR/release/cubeaudio" .carry/cubeaudio
# The live engine's tests and the plugin with its CLAP test host (the bundle is the shared
# library under its CLAP name).
test_exe cubeaudio-nam live nam-live
cargo build --release -p cubeaudio-plugin -p cubeaudio-clap-host
cp "$CARGO_TARGET_DIR/release/libcubeaudio_plugin.so" .carry/cubeaudio-nam.clap
cp "$CARGO_TARGET_DIR/release/cubeaudio-clap-host" .carry/cubeaudio-clap-host
# The packer benchmark only when asked (PACKER=1): the carry limit is 64 MiB.
if [ "${PACKER:-0}" = 1 ]; then
    cargo build --release -p cubeaudio-benches --bin gpu_packer_bench
    cp "$CARGO_TARGET_DIR/release/gpu_packer_bench" .carry/gpu_packer_bench
fi
strip .carry/* 2>/dev/null || true
# xz, not gzip: ~30 % smaller, which keeps the binaries and the real captures inside the carry.
xz -9 -T2 .carry/*
# Generated CUDA sources of every kernel, compiled with nvcc for sm_90 on the GPU machine.
cargo run --release -q -p cubeaudio-codegen-tests --bin dump_sources -- cuda .carry/cuda-src
tar czf .carry/cuda-src.tgz -C .carry cuda-src && rm -r .carry/cuda-src
# The core's references and the real captures (../shared does not travel to the GPU machine).
shared="${CUBEAUDIO_SHARED:-../shared}"
mkdir -p .carry/shared/nam && cp -r "$shared/nam/models" "$shared/nam/refs" "$shared/nam/real" .carry/shared/nam/
# xz: the real captures (JSON text) make gzip overflow the 64 MiB carry.
tar cJf .carry/shared.txz -C .carry shared && rm -r .carry/shared
cp cli/examples/audio/di_guitar.wav cli/examples/models/clean.nam "$shared/anchors/torch_nam.py" .carry/
mkdir -p .carry/examples && cp -r cli/examples/models cli/examples/rigs .carry/examples/
# Trainer-preset-shaped models (feather WaveNet, LSTM 3×18) for the benchmark.
cargo run --release -q -p cubeaudio-benches --bin write_presets -- .carry/presets
ls -la .carry
# The device tool carries 64 MiB with the working tree: say what room is left, so that a call
# carries a subset (e.g. `mkdir .carryA && cp -l .carry/{gpu-nam.xz,shared.txz} .carryA/`, carried
# as `.carryA` and moved to `.carry` first thing on the GPU machine) when everything does not fit.
tree=$(git ls-files -z | xargs -0 cat 2>/dev/null | wc -c)
carry=$(du -sb .carry .gl 2>/dev/null | awk '{s += $1} END {print s}')
limit=$((64 * 1024 * 1024))
echo "carry: .carry + .gl $((carry / 1048576)) MiB, working tree $((tree / 1048576)) MiB, limit 64 MiB"
[ $((tree + carry)) -le $limit ] || echo "WARNING: over the device tool's 64 MiB: carry a subset per call (docs/DEVICE.md)"
