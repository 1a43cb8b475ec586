#!/usr/bin/env bash
# Session 26, call B, after the kernel suites and graph tests: the barrier costs behind
# Vulkan's gap, then #17's pedal stage packed vs creation order on the current program.
out="$1"; B=/tmp/cubeaudio-bin
date -u > "$out/date.txt"
for rt in cuda wgpu; do
  timeout 70 $B/barrier_cost --runtime $rt --out "$out/barrier-$rt" > "$out/barrier-$rt.log" 2>&1
  echo "barrier_cost $rt rc=$?"; grep -E '^(sync|none)' "$out/barrier-$rt.log"
done
for rt in cuda wgpu; do
  timeout 80 $B/rig_fusion --runtime $rt --instances 1,1000 --buffers 300 --out "$out/rig-fusion-$rt" > "$out/rig-fusion-$rt.log" 2>&1
  echo "rig_fusion $rt rc=$?"; grep -vE '^\|' "$out/rig-fusion-$rt.log" | cut -c1-220 | tail -12
done
