#!/usr/bin/env bash
# Call C (session 18): amp_cab with the amp inside the program (1 launch) and as its own batch
# (4 launches), side by side on the same device; the PyTorch anchor's one-stream latency.
out="$1"; B=/tmp/cubeaudio-bin; R=.carry/examples/rigs
date -u | tee -a "$out/date.txt"
for mode in program batch; do
  timeout 100 $B/cubeaudio bench --backend cuda --rig $R/amp_cab.json --nam-streams $mode --buffers 64,128 --max-instances 2048 --latency-buffers 100000 --out "$out/rig-$mode" > "$out/rig-$mode.log" 2>&1; echo "bench --rig $mode rc=$?"
  grep -E "^Held|^One instance" "$out/rig-$mode/rig-bench.md"
done
timeout 60 $B/cubeaudio bench --backend vulkan --rig $R/amp_cab.json --nam-streams program --buffers 128 --max-instances 1024 --latency-buffers 20000 --out "$out/rig-vulkan-program" > "$out/rig-vulkan-program.log" 2>&1; echo "vulkan program rc=$?"
grep -E "^Held|^One instance" "$out/rig-vulkan-program/rig-bench.md"
echo "== torch_nam.py latency" >> "$out/anchor.log"; timeout 60 python3 .carry/torch_nam.py latency .carry/clean.nam >> "$out/anchor.log" 2>&1
tail -8 "$out/anchor.log"
date -u | tee -a "$out/date.txt"
tar czf "$out/0-all.tgz" -C "$out" --exclude 0-all.tgz .
