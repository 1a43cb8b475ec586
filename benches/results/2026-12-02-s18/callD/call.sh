#!/usr/bin/env bash
# Call D (session 18): where the one-launch rig's time goes — the stream's threads per cube
# (CUBEAUDIO_NAM_UNITS) — and dual_amp and pedalboard in both modes. Binaries of 3641695.
out="$1"; B=/tmp/cubeaudio-bin; R=.carry/examples/rigs
date -u | tee -a "$out/date.txt"
bench() { # name rig mode [ENV=VALUE]
  env $4 timeout 70 $B/cubeaudio bench --backend cuda --rig $R/$2.json --nam-streams $3 --buffers 64,128 --max-instances 1024 --latency-buffers 20000 --out "$out/$1" > "$out/$1.log" 2>&1
  echo "$1 rc=$?"; grep -E "^Held|^One instance" "$out/$1/rig-bench.md"
}
bench amp_cab-program-units256 amp_cab program CUBEAUDIO_NAM_UNITS=256
bench amp_cab-program-units128 amp_cab program CUBEAUDIO_NAM_UNITS=128
bench dual_amp-program dual_amp program
bench dual_amp-batch dual_amp batch
bench pedalboard-program pedalboard program
bench pedalboard-batch pedalboard batch
date -u | tee -a "$out/date.txt"
tar czf "$out/0-all.tgz" -C "$out" --exclude 0-all.tgz .
