#!/usr/bin/env bash
# Call A (session 23): amp_cab's graph program at 128 frames with the stream stages unrolled
# (CUBEAUDIO_PROGRAM_UNROLL=1) against looped (0), same binary, same call; phase groups; one
# instance at 64 frames; Nsight registers/duration at 1,024 for both; PyTorch's stream_rt beside.
out="$1"; B=/tmp/cubeaudio-bin; R=.carry/examples/rigs
date -u > "$out/date.txt"
left() { echo $(( ${LIMIT:-565} - ($(date +%s) - T0) )); }
echo "seconds left for the benches: $(left)"
rig() { # name, limit, unroll, phase groups, max instances
  CUBEAUDIO_PROGRAM_UNROLL=$3 timeout "$2" $B/cubeaudio bench --backend cuda --rig $R/amp_cab.json --latency-buffers 1000 --min-instances 256 --max-instances $5 --buffers 128 --phase-groups $4 --nam-streams program --out "$out/$1" > "$out/$1.log" 2>&1
  echo "$1 rc=$?"; grep -E "frames|Held|One instance|unrolled|stream stages" "$out/$1.log" | cut -c1-220
}
ncu_run() { # name, unroll
  CUBEAUDIO_PROGRAM_UNROLL=$2 timeout 60 /usr/local/cuda/bin/ncu --clock-control none --metrics launch__registers_per_thread,launch__occupancy_limit_registers,launch__occupancy_limit_shared_mem,gpu__time_duration.sum,sm__warps_active.avg.pct_of_peak_sustained_active,launch__grid_size,launch__block_size -k regex:graph_program --launch-skip 5 --launch-count 3 \
    $B/cubeaudio bench --backend cuda --rig $R/amp_cab.json --latency-buffers 10 --min-instances 1024 --max-instances 1024 --buffers 128 --phase-groups 1 --nam-streams program --out /tmp/ncu-$1 > "$out/ncu-$1.txt" 2>&1
  echo "ncu $1 rc=$?"; grep -E "graph_program|registers|occupancy|duration|warps_active|grid_size|block_size" "$out/ncu-$1.txt" | head -12
}
l=$(left); [ "$l" -gt 30 ] && rig unrolled $(( l > 150 ? 100 : l - 5 )) 1 2,4 2048
l=$(left); [ "$l" -gt 30 ] && rig looped $(( l > 150 ? 100 : l - 5 )) 0 2,4 2048
l=$(left); if [ "$l" -gt 30 ]; then
  timeout $(( l - 5 < 50 ? l - 5 : 50 )) python3 .carry/torch_nam.py stream_rt .carry/clean.nam 128 > "$out/torch-stream_rt.log" 2>&1; echo "torch rc=$?"; tail -4 "$out/torch-stream_rt.log"
fi
l=$(left); [ "$l" -gt 70 ] && ncu_run unrolled 1
l=$(left); [ "$l" -gt 70 ] && ncu_run looped 0
tar czf "$out/0-all.tgz" -C "$out" --exclude 0-all.tgz .
