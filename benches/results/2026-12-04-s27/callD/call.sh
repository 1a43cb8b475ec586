#!/usr/bin/env bash
# Session 27, call C1: the kernel suites and the graph tests on CUDA and Vulkan with the
# interleaving program; rig_fusion (the pedal stage, 1 and 1,000 instances, interleaved or not);
# the models table on CUDA and PyTorch's stream_rt in the same call.
out="$1"; B=/tmp/cubeaudio-bin; p=.carry/presets; date -u > "$out/date.txt"
left() { echo $(( ${LIMIT:-400} - ($(date +%s) - T0) )); }
( $B/suite-spirv --nocapture --test-threads=8 >"$out/suite-cuda-spirv.log" 2>&1; echo "suite-spirv rc=$?" ) &
pa=$!
( $B/suite-wgsl --nocapture --test-threads=4 >"$out/suite-wgsl.log" 2>&1; echo "suite-wgsl rc=$?" ) &
pb=$!
for t in graph-gpu graph-realtime ir-gpu pedals-gpu; do timeout 120 $B/$t --nocapture --test-threads=1 >"$out/$t.log" 2>&1; echo "$t rc=$?"; done
wait $pa; wait $pb
grep -h "test result" "$out"/*.log; grep -h "panicked" "$out"/*.log | head -5
grep -hE "^\[pedals-test\] 3 instances" "$out/pedals-gpu.log" | cut -c1-200
date -u >> "$out/date.txt"; echo "tests done, seconds left $(left)"
for rt in cuda wgpu; do
  timeout 60 $B/rig_fusion --runtime $rt --buffers 300 --out "$out/rig-fusion-$rt" > "$out/rig-fusion-$rt.log" 2>&1
  echo "rig_fusion $rt rc=$?"; grep -E '^pedal program' "$out/rig-fusion-$rt.log" | cut -c1-190
done
t=$(( $(left) - 45 )); [ $t -gt 150 ] && t=150
if [ $t -gt 40 ]; then
  timeout $t $B/cubeaudio bench --backend cuda --model standard=.carry/clean.nam --model lite=$p/lite.nam --model feather=$p/feather.nam \
    --model nano=$p/nano.nam --model a2_full=.carry/core_A2.nam --model a2_lite=.carry/core_A2.nam@0.25 --model lstm_3x18=$p/lstm_3x18.nam \
    --buffers 128 --latency-buffers 2000 --single-file-seconds 0 --out "$out/models" > "$out/models.log" 2>&1
  echo "models rc=$? ($t s allowed)"; tail -30 "$out/models/bench.md" 2>/dev/null | cut -c1-200
fi
t=$(( $(left) - 5 )); [ $t -gt 60 ] && t=60
[ $t -gt 15 ] && { timeout $t python3 .carry/torch_nam.py stream_rt .carry/clean.nam 128 > "$out/anchor.log" 2>&1; echo "torch rc=$?"; tail -6 "$out/anchor.log"; }
date -u >> "$out/date.txt"; echo "seconds left: $(left)"
