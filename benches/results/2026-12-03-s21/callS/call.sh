#!/usr/bin/env bash
# Call S (session 21): registers and occupancy of the unchecked graph program (amp_cab, 1,024 instances, 128 frames).
out="$1"; B=/tmp/cubeaudio-bin; R=.carry/examples/rigs
timeout 60 /usr/local/cuda/bin/ncu --clock-control none --metrics launch__registers_per_thread,launch__occupancy_limit_registers,launch__occupancy_limit_shared_mem,gpu__time_duration.sum,sm__warps_active.avg.pct_of_peak_sustained_active -k regex:graph_program --launch-skip 5 --launch-count 3 \
  $B/cubeaudio bench --backend cuda --rig $R/amp_cab.json --latency-buffers 10 --min-instances 1024 --max-instances 1024 --buffers 128 --phase-groups 1 --nam-streams program --out /tmp/s > "$out/ncu-program-unchecked.txt" 2>&1
echo "rc=$?"; grep -E "graph_program|registers|occupancy|duration|warps_active" "$out/ncu-program-unchecked.txt" | head -20
