#!/usr/bin/env bash
# Session 26, call C: #15's standard model on CUDA (streams at 64/128 frames, 64 distinct
# captures, one stream over 100,000 buffers, offline at 256/2,048 streams, the 10-minute file
# time-split) with PyTorch's three modes beside it; then the same model through Vulkan with
# cubecl-spirv as released and with its storage barrier at workgroup scope (cubeaudio-wgscope).
out="$1"; B=/tmp/cubeaudio-bin
date -u > "$out/date.txt"
left() { echo $(( ${LIMIT:-560} - ($(date +%s) - T0) )); }
upto() { local l=$(( $(left) - $2 )); [ "$l" -lt "$1" ] && echo "$l" || echo "$1"; }
t=$(upto 280 200); if [ "$t" -gt 60 ]; then
  timeout $t $B/cubeaudio bench --backend cuda --model standard=.carry/clean.nam --buffers 64,128 --distinct 64 --latency-buffers 100000 --out "$out/nam" > "$out/nam.log" 2>&1
  echo "nam rc=$?"; grep -vE '^\| standard' "$out/nam.log" | grep -E "held|Latency|p99|ffline|ingle|×" | cut -c1-260 | tail -30
fi
for mode in "stream_rt .carry/clean.nam 64,128" "latency .carry/clean.nam" "offline .carry/clean.nam"; do
  t=$(upto 60 100); [ "$t" -gt 15 ] || continue
  echo "== torch_nam.py $mode" >> "$out/anchor.log"
  timeout $t python3 .carry/torch_nam.py $mode >> "$out/anchor.log" 2>&1; echo "torch $mode rc=$?"
done
tail -25 "$out/anchor.log"
for v in cubeaudio cubeaudio-wgscope; do
  [ -x $B/$v ] || { echo "not packed: $v"; continue; }
  t=$(upto 60 10); [ "$t" -gt 20 ] || continue
  timeout $t $B/$v bench --backend vulkan --model standard=.carry/clean.nam --buffers 128 --max-streams 2048 --latency-buffers 5000 --single-file-seconds 0 --out "$out/vulkan-$v" > "$out/vulkan-$v.log" 2>&1
  echo "vulkan $v rc=$?"; grep -E "held|Latency|p50" "$out/vulkan-$v.log" | grep -vE '^\| standard' | cut -c1-200 | tail -6
done
echo "seconds left: $(left)"
tar czf /tmp/all.tgz -C "$out" . && mv /tmp/all.tgz "$out/0-all.tgz"
