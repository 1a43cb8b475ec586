#!/usr/bin/env bash
# Call E (session 23): amp_cab's one-launch program at 2,048 instances, 128 frames, with the
# amps' columns shape of the 1,024 point forced (rows split over 4 threads:
# CUBEAUDIO_NAM_SPLITS=4; the batch picks unsplit rows past 2 waves of streams), one and two
# instances per cube; PyTorch beside.
out="$1"; B=/tmp/cubeaudio-bin; R=.carry/examples/rigs
date -u > "$out/date.txt"
export CUBEAUDIO_NAM_SPLITS=4
for g in 1 2; do
  CUBEAUDIO_INSTANCES_PER_CUBE=$g timeout 60 $B/cubeaudio bench --backend cuda --rig $R/amp_cab.json --latency-buffers 100 --min-instances 2048 --max-instances 2048 --buffers 128 --phase-groups 1 --nam-streams program --out "$out/splits4-per-cube-$g" > "$out/splits4-per-cube-$g.log" 2>&1
  echo "splits 4, per cube $g rc=$?"; grep -E "frames|Inside" "$out/splits4-per-cube-$g.log" | cut -c1-250
done
unset CUBEAUDIO_NAM_SPLITS
timeout 60 python3 .carry/torch_nam.py stream_rt .carry/clean.nam 128 > "$out/torch-stream_rt.log" 2>&1; echo "torch rc=$?"; tail -1 "$out/torch-stream_rt.log"
tar czf /tmp/all.tgz -C "$out" . && mv /tmp/all.tgz "$out/0-all.tgz"
