#!/usr/bin/env bash
# Call E (session 24): the standalone columns kernel without the branches on liveness (a slot
# without a stream runs the last stream's arithmetic, writes masked, as before 7decfed) against
# the session-17 binary, alternated in one call; amp_cab's program (its code unchanged) at
# 1,024 and 2,048 instances with the same binary.
out="$1"; B=/tmp/cubeaudio-bin; R=.carry/examples/rigs
date -u > "$out/date.txt"
left() { echo $(( ${LIMIT:-565} - ($(date +%s) - T0) )); }
for run in fixed-1 s17-1 fixed-2 s17-2; do
  l=$(left); [ "$l" -gt 50 ] || break
  bin=$B/cubeaudio; case $run in s17-*) bin=$B/cubeaudio-s17;; esac
  timeout 60 $bin bench --backend cuda --model standard=.carry/clean.nam --buffers 128 --max-streams 4096 --latency-buffers 100 --single-file-seconds 0 --out "$out/$run" > "$out/$run.log" 2>&1
  echo "$run rc=$?"; grep -E "buffer 128: (256|512|1024|2048|4096) streams" "$out/$run.log" | sed -E 's/ \| shape.*//' | cut -c1-200
done
l=$(left); if [ "$l" -gt 60 ]; then
  timeout 50 $B/cubeaudio bench --backend cuda --rig $R/amp_cab.json --latency-buffers 100 --min-instances 1024 --max-instances 2048 --buffers 128 --phase-groups 1 --nam-streams program --out "$out/amp_cab" > "$out/amp_cab.log" 2>&1
  echo "amp_cab rc=$?"; grep -E "frames" "$out/amp_cab.log" | cut -c1-300
fi
tar czf /tmp/all.tgz -C "$out" . && mv /tmp/all.tgz "$out/0-all.tgz"
