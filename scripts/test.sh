#!/usr/bin/env bash
# The project's test command: the README's second command, and what .ci/run calls.
#
# 1. The workspace in its default build: CUDA + wgpu with SPIR-V (Vulkan adapters take SPIR-V).
# 2. The kernel suite again in a WGSL-only build: with SPIR-V compiled in, wgpu never hands a
#    Vulkan adapter WGSL, so this second build is what exercises the WGSL path.
# 3. The CPU engine's parity tests on its portable path (CUBEAUDIO_CPU_SIMD=baseline).
# 4. The plugin: its bundles built and loaded by the CLAP test host (scripts/plugin-test.sh).
# 5. The examples of kernels, runtime and nam.
#
# Kernel tests print the runtime and adapter they ran on. A runtime without a device skips
# loudly; with CI=true (or CUBEAUDIO_REQUIRE=wgpu,cuda) a missing device fails instead.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cubeaudio-target}"
mkdir -p "$CARGO_TARGET_DIR"
log="$CARGO_TARGET_DIR/test-log.txt"
: >"$log"

run() {
    echo "+ $*" | tee -a "$log"
    "$@" 2>&1 | tee -a "$log"
}

# `cubeaudio/live`: the JACK client and its test under jackd (needs libjack-jackd2-dev and
# jackd2, which .ci/run installs). One invocation for the whole workspace: cargo builds each distinct feature set of cubecl
# separately, so splitting this by crate would compile cubecl twice.
run cargo test --release --workspace --features cubeaudio/live -- --nocapture
run cargo test --release -p cubeaudio-kernels --no-default-features --features wgpu -- --nocapture
# The CPU engine's portable path (the run above took AVX2 + FMA where the CPU has them): the
# core's references and the real captures again.
CUBEAUDIO_CPU_SIMD=baseline run cargo test --release -p cubeaudio-nam --test references --test real_captures -- --nocapture
# The plugin bundle loaded by a CLAP host, as a DAW loads it (1, 8, 64 instances; CPU and wgpu).
run bash scripts/plugin-test.sh
# The examples (built by `cargo test` above) run to completion and check their own results.
run cargo run --release -q -p cubeaudio-kernels --example custom_block
run cargo run --release -q -p cubeaudio-runtime --example graph_in_code
run cargo run --release -q -p cubeaudio-runtime --example tilt_processor
run cargo run --release -q -p cubeaudio-runtime --example wavefolder_processor
run cargo run --release -q -p cubeaudio-nam --example gpu_batch

ran=$(grep -c '^\[device-test\] .*: runtime .* | adapter ' "$log" || true)
skipped=$(grep -c '^\[\(device\|kernel\)-test\] SKIPPED' "$log" || true)
echo "device tests: $ran ran on a device, $skipped skipped"
grep -o 'runtime [^|]* | adapter [^(]*' "$log" | sort | uniq -c || true
if [ "$ran" -eq 0 ]; then
    echo "WARNING: no device test ran on any device. Install a Vulkan driver (e.g. Mesa lavapipe:" >&2
    echo "         apt-get install mesa-vulkan-drivers) or run on a machine with a GPU." >&2
fi
