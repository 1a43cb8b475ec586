#!/usr/bin/env bash
# Call D (session 24): is the standalone NAM batch slower than in session 17 (queued 0.517 against
# 0.373 ms for 1,024 standard streams at 128 frames), or is this machine? The `cubeaudio` of
# 6a864ef (session 17) and of this session's call B, alternated in one call, same flags.
out="$1"; B=/tmp/cubeaudio-bin
date -u > "$out/date.txt"
left() { echo $(( ${LIMIT:-565} - ($(date +%s) - T0) )); }
for run in s17-1 new-1 s17-2 new-2; do
  l=$(left); [ "$l" -gt 50 ] || break
  bin=$B/cubeaudio; case $run in s17-*) bin=$B/cubeaudio-s17;; esac
  timeout 60 $bin bench --backend cuda --model standard=.carry/clean.nam --buffers 128 --max-streams 2048 --latency-buffers 100 --single-file-seconds 0 --out "$out/$run" > "$out/$run.log" 2>&1
  echo "$run rc=$?"; grep -E "buffer 128: (256|512|1024|2048) streams" "$out/$run.log" | sed -E 's/ \| shape.*//' | cut -c1-200
done
tar czf /tmp/all.tgz -C "$out" . && mv /tmp/all.tgz "$out/0-all.tgz"
