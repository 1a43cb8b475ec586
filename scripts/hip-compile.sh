#!/usr/bin/env bash
# Compiles the generated HIP source of every registered kernel with hipcc for AMD targets, as
# scripts/device-test.sh compiles the CUDA sources with nvcc: proof that an AMD compiler accepts
# what cubecl 0.10 emits. Debian 12's ROCm 5.2 (`apt-get install hipcc libamdhip64-dev`;
# .ci/run installs it) compiles device code without an AMD GPU.
#
# HIP_ARCHS overrides the targets (default: gfx90a, CDNA2 / MI200; gfx1030, RDNA2 / RX 6800).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cubeaudio-target}"
archs="${HIP_ARCHS:-gfx90a gfx1030}"
if ! command -v hipcc >/dev/null; then
    echo "hip-compile: hipcc not found (apt-get install hipcc libamdhip64-dev)" >&2
    exit 1
fi
src="$CARGO_TARGET_DIR/hip-src"
rm -rf "$src" && mkdir -p "$src"
cargo run --release -q -p cubeaudio-codegen-tests --bin dump_sources -- hip "$src"
ok=0; failed=0
for f in "$src"/*.hip; do
    for arch in $archs; do
        if hipcc -x hip --offload-arch="$arch" --offload-device-only -c "$f" -o "$src/$(basename "$f" .hip).$arch.o" 2>"$src/$(basename "$f" .hip).$arch.log"; then
            ok=$((ok + 1))
        else
            failed=$((failed + 1))
            echo "hipcc FAILED: $(basename "$f") for $arch" >&2
            head -20 "$src/$(basename "$f" .hip).$arch.log" >&2
        fi
    done
done
echo "hipcc ($(hipcc --version 2>/dev/null | grep -m1 -o 'HIP version: [^ ]*' || echo 'version unknown')) for $archs: $ok compiled, $failed failed"
[ "$failed" -eq 0 ]
