#!/usr/bin/env bash
# Session 26, call D: what calls A–C left — the CUDA columns suite's shards 3, 4 and 7 of 8
# (cut at call A's limit), the Vulkan columns suite in 8 shards, the rest of gpu-nam (CUDA and
# Vulkan in two processes), nam-graph's Vulkan every-column-shape test (failed in call A), side
# by side; then the standard model through Vulkan with cubecl-spirv as released and with its
# storage barrier at workgroup scope (cubeaudio-wgscope), alternated.
out="$1"; B=/tmp/cubeaudio-bin; export CUBEAUDIO_SHARED="$PWD/.carry/shared" CUBEAUDIO_EXAMPLES="$PWD/.carry/examples" RUST_BACKTRACE=1
date -u > "$out/date.txt"
left() { echo $(( ${LIMIT:-540} - ($(date +%s) - T0) )); }
tl=$(( $(left) - 130 )); echo "tests limited to $tl s"
pids=(); names=()
job() { local name=$1; shift; timeout $tl "$@" > "$out/$name.log" 2>&1 & pids+=($!); names+=("$name"); }
for k in 3 4 7; do CUBEAUDIO_COLUMNS_SHARD=$k/8 job columns-cuda-$k $B/gpu-nam --nocapture --test-threads=1 --exact columns::cuda::run; done
for k in 0 1 2 3 4 5 6 7; do CUBEAUDIO_COLUMNS_SHARD=$k/8 job columns-wgpu-$k $B/gpu-nam --nocapture --test-threads=1 --exact columns::wgpu::run; done
job gpu-nam-cuda $B/gpu-nam --nocapture --test-threads=1 cuda:: --skip columns::cuda::run
job gpu-nam-wgpu $B/gpu-nam --nocapture --test-threads=1 wgpu:: --skip columns::wgpu::run
job nam-graph-wgpu-columns $B/nam-graph --nocapture --test-threads=1 --exact wgpu::every_column_shape_runs_as_a_stream
for i in "${!pids[@]}"; do wait "${pids[$i]}"; rc=$?; echo "${names[$i]} rc=$rc $(grep -hE '^test result' "$out/${names[$i]}.log" | cut -c1-90)"; done
grep -hE 'panicked|Error|error' "$out"/nam-graph-wgpu-columns.log | head -5 | cut -c1-600
for round in 1 2; do
  for v in cubeaudio cubeaudio-wgscope; do
    t=$(( $(left) - 5 )); [ "$t" -gt 20 ] || continue; [ "$t" -gt 50 ] && t=50
    timeout $t $B/$v bench --backend vulkan --model standard=.carry/clean.nam --buffers 128 --max-streams 2048 --latency-buffers 2000 --single-file-seconds 0 --out "$out/vulkan-$v-$round" > "$out/vulkan-$v-$round.log" 2>&1
    echo "vulkan $v round $round rc=$?"; grep -E "^standard buffer 128: (1|64|512|1024|1280|2048) streams|^latency" "$out/vulkan-$v-$round.log" | cut -c1-170
  done
done
echo "seconds left: $(left)"
