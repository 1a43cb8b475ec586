#!/usr/bin/env bash
# Call D (session 23): amp_cab's one-launch program at 1,024 and 2,048 instances, 128 frames,
# one instance per cube (CUBEAUDIO_INSTANCES_PER_CUBE=1) against the default (two per cube at
# 2,048), stream stages on Auto; Nsight duration and registers at 2,048 for both; PyTorch beside.
out="$1"; B=/tmp/cubeaudio-bin; R=.carry/examples/rigs
date -u > "$out/date.txt"
for g in 1 default; do
  if [ $g = 1 ]; then export CUBEAUDIO_INSTANCES_PER_CUBE=1; else unset CUBEAUDIO_INSTANCES_PER_CUBE; fi
  timeout 60 $B/cubeaudio bench --backend cuda --rig $R/amp_cab.json --latency-buffers 100 --min-instances 1024 --max-instances 2048 --buffers 128 --nam-streams program --out "$out/per-cube-$g" > "$out/per-cube-$g.log" 2>&1
  echo "per cube $g rc=$?"; grep -E "frames" "$out/per-cube-$g.log" | cut -c1-230
  timeout 60 /usr/local/cuda/bin/ncu --clock-control none --metrics launch__registers_per_thread,launch__occupancy_limit_registers,gpu__time_duration.sum,sm__warps_active.avg.pct_of_peak_sustained_active,launch__grid_size -k regex:graph_program --launch-skip 5 --launch-count 2 \
    $B/cubeaudio bench --backend cuda --rig $R/amp_cab.json --latency-buffers 10 --min-instances 2048 --max-instances 2048 --buffers 128 --nam-streams program --out /tmp/n > "$out/ncu-per-cube-$g.txt" 2>&1
  echo "ncu rc=$?"; grep -E "duration|registers_per|grid_size|warps_active" "$out/ncu-per-cube-$g.txt" | head -5
done
timeout 60 python3 .carry/torch_nam.py stream_rt .carry/clean.nam 128 > "$out/torch-stream_rt.log" 2>&1; echo "torch rc=$?"; tail -1 "$out/torch-stream_rt.log"
tar czf /tmp/all.tgz -C "$out" . && mv /tmp/all.tgz "$out/0-all.tgz"
