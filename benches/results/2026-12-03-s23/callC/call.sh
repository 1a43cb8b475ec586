#!/usr/bin/env bash
# Call C (session 23): phase groups with a host thread per group (the bench's new pacing),
# amp_cab's program at 128 frames (stream stages on Auto), 2, 4 and 8 groups; PyTorch's
# stream_rt beside.
out="$1"; B=/tmp/cubeaudio-bin; R=.carry/examples/rigs
date -u > "$out/date.txt"
timeout 200 $B/cubeaudio bench --backend cuda --rig $R/amp_cab.json --latency-buffers 100 --min-instances 512 --max-instances 4096 --buffers 128 --phase-groups 2,4,8 --nam-streams program --out "$out/phased" > "$out/phased.log" 2>&1
echo "phased rc=$?"; grep -E "frames|Held|One instance" "$out/phased.log" | cut -c1-230
timeout 60 python3 .carry/torch_nam.py stream_rt .carry/clean.nam 128 > "$out/torch-stream_rt.log" 2>&1; echo "torch rc=$?"; tail -2 "$out/torch-stream_rt.log"
tar czf /tmp/all.tgz -C "$out" . && mv /tmp/all.tgz "$out/0-all.tgz"
