#!/usr/bin/env bash
# Call F (session 23): amp_cab's one-launch program at 2,048 instances, 128 frames, one instance
# per cube, the amps' columns at two positions per thread (CUBEAUDIO_NAM_COLUMNS=2; the batch
# takes four from 8 streams per multiprocessor); PyTorch beside.
out="$1"; B=/tmp/cubeaudio-bin; R=.carry/examples/rigs
date -u > "$out/date.txt"
CUBEAUDIO_NAM_COLUMNS=2 CUBEAUDIO_INSTANCES_PER_CUBE=1 timeout 45 $B/cubeaudio bench --backend cuda --rig $R/amp_cab.json --latency-buffers 100 --min-instances 2048 --max-instances 2048 --buffers 128 --phase-groups 1 --nam-streams program --out "$out/positions2-per-cube-1" > "$out/positions2-per-cube-1.log" 2>&1
echo "positions 2, per cube 1 rc=$?"; grep -E "frames|Inside" "$out/positions2-per-cube-1.log" | cut -c1-250
timeout 55 python3 .carry/torch_nam.py stream_rt .carry/clean.nam 128 > "$out/torch-stream_rt.log" 2>&1; echo "torch rc=$?"; tail -1 "$out/torch-stream_rt.log"
tar czf /tmp/all.tgz -C "$out" . && mv /tmp/all.tgz "$out/0-all.tgz"
