#!/usr/bin/env bash
# Call C (session 24), the call B binaries: amp_cab's one-launch program at 128 frames from
# 1,024 instances (synchronous and two in flight, host split by step), one instance at 64
# frames over 100,000 buffers; the same through Vulkan from 256 instances; the standard NAM model's streams (#15; its inputs go through the
# same fill) and PyTorch's stream_rt and latency beside it.
out="$1"; B=/tmp/cubeaudio-bin; R=.carry/examples/rigs
date -u > "$out/date.txt"
left() { echo $(( ${LIMIT:-565} - ($(date +%s) - T0) )); }
timeout 200 $B/cubeaudio bench --backend cuda --rig $R/amp_cab.json --latency-buffers 100000 --min-instances 1024 --max-instances 4096 --buffers 128 --phase-groups 1 --nam-streams program --out "$out/sweep" > "$out/sweep.log" 2>&1
echo "sweep rc=$?"; grep -E "frames|host|Held|One instance" "$out/sweep.log" | cut -c1-400
l=$(left); if [ "$l" -gt 300 ]; then
  timeout 80 $B/cubeaudio bench --backend vulkan --rig $R/amp_cab.json --latency-buffers 1000 --min-instances 256 --max-instances 4096 --buffers 128 --phase-groups 1 --nam-streams program --out "$out/vulkan" > "$out/vulkan.log" 2>&1
  echo "vulkan rc=$?"; grep -E "frames|Held|One instance" "$out/vulkan.log" | cut -c1-330
fi
l=$(left); if [ "$l" -gt 200 ]; then
  timeout $(( l - 110 < 200 ? l - 110 : 200 )) $B/cubeaudio bench --backend cuda --model standard=.carry/clean.nam --buffers 64,128 --latency-buffers 20000 --single-file-seconds 0 --out "$out/nam" > "$out/nam.log" 2>&1
  echo "nam rc=$?"; grep -E "holds|misses|latency|held" "$out/nam.log" | cut -c1-260 | tail -30
fi
l=$(left); if [ "$l" -gt 40 ]; then
  timeout $(( l - 5 < 60 ? l - 5 : 60 )) python3 .carry/torch_nam.py stream_rt .carry/clean.nam 64,128 > "$out/torch-stream_rt.log" 2>&1; echo "torch rc=$?"; tail -3 "$out/torch-stream_rt.log"
fi
l=$(left); if [ "$l" -gt 30 ]; then
  timeout $(( l - 5 < 40 ? l - 5 : 40 )) python3 .carry/torch_nam.py latency .carry/clean.nam > "$out/torch-latency.log" 2>&1; echo "torch latency rc=$?"; tail -2 "$out/torch-latency.log"
fi
tar czf /tmp/all.tgz -C "$out" . && mv /tmp/all.tgz "$out/0-all.tgz"
