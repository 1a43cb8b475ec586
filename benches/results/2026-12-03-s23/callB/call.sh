#!/usr/bin/env bash
# Call B (session 23), binaries of the final code (device-kind sets; unrolled stream stages on
# `Auto`): the kernel suites on CUDA and Vulkan (SPIR-V, WGSL); amp_cab's program at 128 frames
# with the default (Auto) and one instance at 64 frames over 100,000 buffers, PyTorch's
# stream_rt beside; pedals-gpu (device kinds in a graph) and graph-gpu; NAM amps inside the
# program on CUDA (the four nam-graph tests that run them).
out="$1"; B=/tmp/cubeaudio-bin; R=.carry/examples/rigs
date -u > "$out/date.txt"
left() { echo $(( ${LIMIT:-565} - ($(date +%s) - T0) )); }
export CUBEAUDIO_REQUIRE=cuda,wgpu
$B/suite-spirv --nocapture --test-threads=4 > "$out/suite-cuda-spirv.log" 2>&1; echo "suite-spirv rc=$?"
$B/suite-wgsl --nocapture --test-threads=4 > "$out/suite-wgsl.log" 2>&1; echo "suite-wgsl rc=$?"
grep -h "test result\|FAILED\|panicked" "$out"/suite-*.log | head
echo "seconds left: $(left)"
l=$(left); if [ "$l" -gt 60 ]; then
  timeout $(( l > 180 ? 130 : l - 40 )) $B/cubeaudio bench --backend cuda --rig $R/amp_cab.json --latency-buffers 100000 --min-instances 256 --max-instances 2048 --buffers 128 --phase-groups 2,4 --nam-streams program --out "$out/auto" > "$out/auto.log" 2>&1
  echo "auto rc=$?"; grep -E "frames|Held|One instance" "$out/auto.log" | cut -c1-230
fi
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
