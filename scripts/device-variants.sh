#!/usr/bin/env bash
# Compares launch shapes of the convolutional NAM kernel on the GPU machine, all in one call
# (the same machine for every variant: fresh machines differ by up to ~20 %). Each variant is a
# set of the measurement knobs of nam/src/gpu/engine.rs (`choose_shape`), comma-separated:
#   VARIANTS="CUBEAUDIO_NAM_RT=2 CUBEAUDIO_NAM_RT=4,CUBEAUDIO_NAM_FT=4,CUBEAUDIO_NAM_UNITS=256" \
#     bash scripts/device-variants.sh
# First the GPU NAM tests under each of TEST_VARIANTS (outputs must not depend on the shape;
# TEST_VARIANTS=none skips them),
# then `cubeaudio bench` (standard model, BUFS) under each of VARIANTS. Logs in $OUT.
# Expects .carry/ and .gl/ as scripts/device-test.sh does (built by scripts/pack-device.sh).
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-device-out}"; mkdir -p "$out" /tmp/cubeaudio-bin
for f in .gl/*.deb; do dpkg -x "$f" / ; done; ldconfig
export CUDA_PATH=/usr/local/cuda LD_LIBRARY_PATH="/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
for f in .carry/*.gz; do gunzip -c "$f" >"/tmp/cubeaudio-bin/$(basename "$f" .gz)"; done
tar xzf .carry/shared.tgz -C .carry; chmod +x /tmp/cubeaudio-bin/*
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$out/device.txt"
export CUBEAUDIO_REQUIRE=cuda,wgpu
status=0
tests="${TEST_VARIANTS:-CUBEAUDIO_NAM_RT=2 CUBEAUDIO_NAM_RT=4,CUBEAUDIO_NAM_FT=4}"
[ "$tests" = none ] && tests=""
for v in $tests; do
    env ${v//,/ } CUBEAUDIO_SHARED="$PWD/.carry/shared" /tmp/cubeaudio-bin/gpu-nam --nocapture --test-threads=1 >/tmp/gpu-nam.log 2>&1 || status=1
    echo "== $v" >>"$out/tests.log"
    grep -E '^\[gpu-(nam|arch|faults)\]|^test result|panicked' /tmp/gpu-nam.log | sed 's/ on NVIDIA[^:]*//' | cut -c1-220 >>"$out/tests.log"
done
for v in ${VARIANTS:-CUBEAUDIO_NAM_RT=2}; do
    echo "== $v" >>"$out/bench.log"
    env ${v//,/ } /tmp/cubeaudio-bin/cubeaudio bench --backend cuda --model standard=.carry/clean.nam \
        --buffers "${BUFS:-64,128}" --max-streams "${MAX_STREAMS:-8192}" --latency-buffers 20000 --out /tmp/variant-bench 2>>"$out/bench.log" >/dev/null || status=1
done
[ -f "$out/tests.log" ] && grep -E "test result|panicked" "$out/tests.log"
exit $status
