#!/usr/bin/env bash
# Call F (session 24): the mended standalone columns kernel against the CPU engine and the core
# on CUDA and Vulkan — gpu-nam's gated test on both runtimes, then the columns suite on CUDA
# (every reference and real capture by shape) for as long as the call lasts.
out="$1"; B=/tmp/cubeaudio-bin
date -u > "$out/date.txt"
left() { echo $(( ${LIMIT:-565} - ($(date +%s) - T0) )); }
export CUBEAUDIO_REQUIRE=cuda,wgpu CUBEAUDIO_SHARED="$PWD/.carry/shared"
timeout 60 $B/gpu-nam --nocapture --test-threads=1 gated_matches_the_cpu_engine > "$out/gated.log" 2>&1
echo "gated rc=$?"; grep -hE '^test |^test result|relative error|panicked' "$out/gated.log" | cut -c1-200
l=$(left); if [ "$l" -gt 20 ]; then
  timeout $(( l - 8 )) $B/gpu-nam --nocapture --test-threads=1 columns::cuda::run > "$out/columns-cuda.log" 2>&1
  echo "columns::cuda::run rc=$? (124: cut by the call's limit)"; grep -c "\[gpu-nam\]" "$out/columns-cuda.log"; grep -hE 'panicked|FAILED|^test result' "$out/columns-cuda.log" | head -5; tail -3 "$out/columns-cuda.log" | cut -c1-250
fi
tar czf /tmp/all.tgz -C "$out" . && mv /tmp/all.tgz "$out/0-all.tgz"
