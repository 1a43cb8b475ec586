#!/usr/bin/env bash
# Call A (session 24): amp_cab's one-launch program at 128 frames with the defaults of main
# (two positions per thread inside the program, d9100e1) from 1,024 instances up, synchronous
# and two in flight, with the host breakdown per buffer; exactly 2,000 instances; one instance
# at 64 frames over 100,000 buffers; PyTorch's stream_rt beside; pedals-gpu, graph-gpu and the
# nam-graph tests that run amps inside the program.
out="$1"; B=/tmp/cubeaudio-bin; R=.carry/examples/rigs
date -u > "$out/date.txt"
left() { echo $(( ${LIMIT:-565} - ($(date +%s) - T0) )); }
export CUBEAUDIO_REQUIRE=cuda,wgpu
timeout 200 $B/cubeaudio bench --backend cuda --rig $R/amp_cab.json --latency-buffers 100000 --min-instances 1024 --max-instances 4096 --buffers 128 --phase-groups 1 --nam-streams program --out "$out/sweep" > "$out/sweep.log" 2>&1
echo "sweep rc=$?"; grep -E "frames|host|Held|One instance" "$out/sweep.log" | cut -c1-330
l=$(left); if [ "$l" -gt 100 ]; then
  timeout 60 $B/cubeaudio bench --backend cuda --rig $R/amp_cab.json --latency-buffers 100 --min-instances 2000 --max-instances 2000 --buffers 128 --phase-groups 1 --nam-streams program --out "$out/exact2000" > "$out/exact2000.log" 2>&1
  echo "2000 rc=$?"; grep -E "frames|host" "$out/exact2000.log" | cut -c1-330
fi
echo "seconds left: $(left)"
l=$(left); if [ "$l" -gt 40 ]; then
  timeout $(( l - 5 < 50 ? l - 5 : 50 )) python3 .carry/torch_nam.py stream_rt .carry/clean.nam 128 > "$out/torch-stream_rt.log" 2>&1; echo "torch rc=$?"; tail -2 "$out/torch-stream_rt.log"
fi
for t in pedals-gpu graph-gpu; do
  l=$(left); [ "$l" -gt 30 ] || continue
  timeout $(( l - 5 < 80 ? l - 5 : 80 )) $B/$t --nocapture --test-threads=1 > "$out/$t.log" 2>&1; echo "$t rc=$?"
  grep -hE '^test result|panicked|FAILED' "$out/$t.log"
done
l=$(left); if [ "$l" -gt 30 ]; then
  CUBEAUDIO_SHARED="$PWD/.carry/shared" CUBEAUDIO_EXAMPLES="$PWD/.carry/examples" timeout $(( l - 5 < 120 ? l - 5 : 120 )) $B/nam-graph --nocapture --test-threads=1 \
    cuda::amp_and_cab_rigs_run_in_one_launch cuda::graph_instances_equal_the_cpu_engine cuda::every_column_shape_runs_as_a_stream cuda::many_instances_share_cubes > "$out/nam-graph-cuda.log" 2>&1
  echo "nam-graph (cuda subset) rc=$?"; grep -hE '^test |^test result|panicked' "$out/nam-graph-cuda.log" | cut -c1-200
fi
tar czf /tmp/all.tgz -C "$out" . && mv /tmp/all.tgz "$out/0-all.tgz"
