#!/usr/bin/env bash
# Registers, spills and stack of every registered kernel as CUDA builds it for an H200 (sm_90a),
# on a machine without a GPU: the generated CUDA source (codegen-tests' dump_sources, the source
# cubecl hands NVRTC) compiled by NVRTC 13.0 and ptxas 13.0 from NVIDIA's PyPI wheels (the GPU
# machine's driver is CUDA 13.0). The driver's own compiler may choose differently (its
# heuristics are not ptxas's, see docs/PERFORMANCE.md, twenty-eighth measurement): Nsight Compute
# on the device has the last word. Fails when a kernel does not compile (.ci/run runs it: the
# CUDA sources checked on every change, not only on the GPU machine).
# Usage: scripts/cuda-registers.sh [KERNEL-NAME-REGEX]   (default: every kernel)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cubeaudio-target}"
pattern="${1:-.}"
tools="${CUBEAUDIO_CUDA_TOOLS:-$HOME/.cache/cubeaudio-cuda-tools}"
if [ ! -x "$tools/nvidia/cu13/bin/ptxas" ]; then
    mkdir -p "$tools/wheels"
    python3 -m pip download -q --no-deps -d "$tools/wheels" \
        "nvidia-cuda-nvrtc==13.0.*" "nvidia-cuda-nvcc==13.0.*" "nvidia-cuda-runtime==13.0.*"
    for w in "$tools"/wheels/*.whl; do python3 -m zipfile -e "$w" "$tools"; done
    chmod +x "$tools/nvidia/cu13/bin/ptxas"
fi
cargo build --release -q -p cubeaudio-codegen-tests --bin dump_sources
src="$(mktemp -d)"
trap 'rm -rf "$src"' EXIT
"$CARGO_TARGET_DIR/release/dump_sources" cuda "$src"
# NVRTC through ctypes (the wheels ship the library, not a command): the options cubecl-cuda
# passes (architecture, include path, line info).
cat >"$src/ptx.py" <<'EOF'
import ctypes, sys
tools, source = sys.argv[1], sys.argv[2]
lib = ctypes.CDLL(f"{tools}/nvidia/cu13/lib/libnvrtc.so.13")
prog = ctypes.c_void_p()
assert lib.nvrtcCreateProgram(ctypes.byref(prog), open(source).read().encode(), b"k.cu", 0, None, None) == 0
opts = [b"--gpu-architecture=compute_90a", f"--include-path={tools}/nvidia/cu13/include".encode(), b"-lineinfo"]
ok = lib.nvrtcCompileProgram(prog, len(opts), (ctypes.c_char_p * len(opts))(*opts)) == 0
n = ctypes.c_size_t()
if not ok:
    lib.nvrtcGetProgramLogSize(prog, ctypes.byref(n))
    log = ctypes.create_string_buffer(n.value)
    lib.nvrtcGetProgramLog(prog, log)
    sys.exit(f"{source}: NVRTC failed\n{log.value.decode()}")
lib.nvrtcGetPTXSize(prog, ctypes.byref(n))
ptx = ctypes.create_string_buffer(n.value)
lib.nvrtcGetPTX(prog, ptx)
sys.stdout.write(ptx.value.decode())
EOF
export LD_LIBRARY_PATH="$tools/nvidia/cu13/lib:${LD_LIBRARY_PATH:-}"
printf '%-60s %9s %7s %12s %11s\n' kernel registers stack "spill stores" "spill loads"
ok=0; failed=0
for cu in "$src"/*.cu; do
    name="$(basename "$cu" .cu)"
    [[ "$name" =~ $pattern ]] || continue
    if ! python3 "$src/ptx.py" "$tools" "$cu" >"$src/$name.ptx" ||
        ! info="$("$tools/nvidia/cu13/bin/ptxas" -arch=sm_90a -v "$src/$name.ptx" -o /dev/null 2>&1)"; then
        failed=$((failed + 1))
        echo "FAILED: $name" >&2
        continue
    fi
    ok=$((ok + 1))
    regs="$(grep -o 'Used [0-9]* registers' <<<"$info" | grep -o '[0-9]*')"
    stack="$(grep -o '[0-9]* bytes stack frame' <<<"$info" | grep -o '^[0-9]*')"
    stores="$(grep -o '[0-9]* bytes spill stores' <<<"$info" | grep -o '^[0-9]*')"
    loads="$(grep -o '[0-9]* bytes spill loads' <<<"$info" | grep -o '^[0-9]*')"
    printf '%-60s %9s %7s %12s %11s\n' "$name" "$regs" "$stack" "$stores" "$loads"
done
echo "cuda-registers: $ok compiled for sm_90a, $failed failed"
[ "$failed" = 0 ] && [ "$ok" -gt 0 ]
