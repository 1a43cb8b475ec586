#!/usr/bin/env bash
# Runs the kernel suite (and, with BENCH=1, the GPU benchmarks) on the GPU machine, on CUDA and on Vulkan (NVIDIA ICD), through both the
# SPIR-V and the WGSL compilers, from binaries built here by scripts/pack-device.sh.
#
# Expects, in the repository root on the GPU machine: .carry/*.gz (the binaries) and .gl/*.deb
# (the Vulkan loader; see docs/DEVICE.md). Writes logs to $OUT (or ./device-out).
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-device-out}"
mkdir -p "$out" /tmp/cubeaudio-bin

for f in .gl/*.deb; do dpkg -x "$f" / ; done
ldconfig
export CUDA_PATH=/usr/local/cuda
export LD_LIBRARY_PATH="/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
for f in .carry/*.gz; do gunzip -c "$f" >"/tmp/cubeaudio-bin/$(basename "$f" .gz)"; done
tar xzf .carry/cuda-src.tgz -C /tmp/cubeaudio-bin
chmod +x /tmp/cubeaudio-bin/*

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/device.txt"

status=0
# Both runtimes are required here: a missing device is a failure, not a skip.
export CUBEAUDIO_REQUIRE=cuda,wgpu
/tmp/cubeaudio-bin/suite-spirv --nocapture --test-threads=4 >"$out/suite-cuda-spirv.log" 2>&1 || status=1
/tmp/cubeaudio-bin/suite-wgsl --nocapture --test-threads=4 >"$out/suite-wgsl.log" 2>&1 || status=1

# The generated CUDA C++ of every kernel must compile for Hopper (codegen-tests snapshots).
nvcc_ok=0; nvcc_fail=0
for src in /tmp/cubeaudio-bin/cuda-src/*.cu; do
    if /usr/local/cuda/bin/nvcc -arch=sm_90 -std=c++17 -c "$src" -o /tmp/cubeaudio-bin/kernel.o >>"$out/nvcc.log" 2>&1; then
        nvcc_ok=$((nvcc_ok + 1))
    else
        nvcc_fail=$((nvcc_fail + 1)); echo "nvcc FAILED: $src" | tee -a "$out/nvcc.log"; status=1
    fi
done
echo "nvcc sm_90: $nvcc_ok compiled, $nvcc_fail failed" | tee -a "$out/nvcc.log"

if [ "${BENCH:-0}" = 1 ]; then
    # Packer layouts on the GPU (docs/PERFORMANCE.md).
    /tmp/cubeaudio-bin/gpu_packer_bench --runtime cuda --out "$out/packer-cuda" >"$out/bench-packer-cuda.log" 2>&1 || status=1
    /tmp/cubeaudio-bin/gpu_packer_bench --runtime wgpu --out "$out/packer-vulkan" >"$out/bench-packer-vulkan.log" 2>&1 || status=1
    cat "$out"/bench-packer-*.log
fi

for log in "$out"/suite-*.log; do
    echo "== $(basename "$log")"
    grep -E '^test result|FAILED|panicked' "$log" | head -20
    grep -o 'runtime [^|]* | adapter [^(]*' "$log" | sort | uniq -c
done
exit $status
