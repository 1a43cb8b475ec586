#!/usr/bin/env bash
# Session 27, call B: the columns suite whole on CUDA and Vulkan, 8 case-balanced shards each.
out="$1"; B=/tmp/cubeaudio-bin; date -u > "$out/date.txt"
pids=()
for rt in cuda wgpu; do for k in 0 1 2 3 4 5 6 7; do
  CUBEAUDIO_COLUMNS_SHARD="$k/8" CUBEAUDIO_SHARED="$PWD/.carry/shared" timeout ${SHARD_LIMIT:-440} $B/gpu-nam --nocapture --test-threads=1 --exact columns::$rt::run >"$out/columns-$rt-$k.log" 2>&1 &
  pids+=($!)
done; done
s=0; for p in "${pids[@]}"; do wait $p || s=1; done
date -u >> "$out/date.txt"
for f in "$out"/columns-*.log; do echo "$(basename $f): $(grep -c 'columns kernel,' $f) cases, $(grep -h 'test result' $f | cut -c1-60)"; done
grep -h "panicked\|relative error [0-9.e-]* exceeds" "$out"/columns-*.log | head
exit $s
