#!/bin/bash
# Usage: paired.sh OLD NEW — one-thread CPU render time (20 s of the core's noise, buffer 64,
# minus the fixed cost of a 0.1 s render) per real capture, old and new binaries alternating.
OLD=$1; NEW=$2; D=/work/shared/nam/real/models
t() { local s=$(date +%s.%N); "$@" >/dev/null 2>&1; local e=$(date +%s.%N); echo "$e - $s" | bc; }
for m in kut_std_mesa_v052 pel_lite_m77 pel_feather_od808 mo_nano mo_a2_container mo_lstm_1x16 mo_lstm_2x16 pel_w32x12; do
  best_old=999; best_new=999
  for r in 1 2 3; do
    fo=$(t $OLD render --model $D/$m.nam --input /tmp/noise01.wav --output /tmp/x.wav --backend cpu --buffer 64)
    o=$(t $OLD render --model $D/$m.nam --input /tmp/noise20.wav --output /tmp/x.wav --backend cpu --buffer 64)
    fn=$(t $NEW render --model $D/$m.nam --input /tmp/noise01.wav --output /tmp/x.wav --backend cpu --buffer 64 --threads 1)
    n=$(t $NEW render --model $D/$m.nam --input /tmp/noise20.wav --output /tmp/x.wav --backend cpu --buffer 64 --threads 1)
    o=$(echo "$o - $fo" | bc); n=$(echo "$n - $fn" | bc)
    best_old=$(echo "if ($o < $best_old) $o else $best_old" | bc); best_new=$(echo "if ($n < $best_new) $n else $best_new" | bc)
  done
  echo "$m old_rtf $(echo "scale=1; 19.9/$best_old" | bc) new_rtf $(echo "scale=1; 19.9/$best_new" | bc) speedup $(echo "scale=2; $best_old/$best_new" | bc)"
done
