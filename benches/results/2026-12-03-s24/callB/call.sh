#!/usr/bin/env bash
# Call B (session 24), binaries of the final code (input fill as copy-and-check, the converter's
# whole-array check, host spans): the kernel suites on CUDA and Vulkan (SPIR-V, WGSL),
# pedals-gpu, graph-gpu, the nam-graph tests that run amps inside the program on CUDA; amp_cab
# at exactly 2,000 instances.
out="$1"; B=/tmp/cubeaudio-bin; R=.carry/examples/rigs
date -u > "$out/date.txt"
left() { echo $(( ${LIMIT:-565} - ($(date +%s) - T0) )); }
export CUBEAUDIO_REQUIRE=cuda,wgpu
$B/suite-spirv --nocapture --test-threads=4 > "$out/suite-cuda-spirv.log" 2>&1; echo "suite-spirv rc=$?"
$B/suite-wgsl --nocapture --test-threads=4 > "$out/suite-wgsl.log" 2>&1; echo "suite-wgsl rc=$?"
grep -h "test result\|FAILED\|panicked" "$out"/suite-*.log | head
for t in pedals-gpu graph-gpu; do
  l=$(left); [ "$l" -gt 30 ] || continue
  timeout $(( l - 5 < 80 ? l - 5 : 80 )) $B/$t --nocapture --test-threads=1 > "$out/$t.log" 2>&1; echo "$t rc=$?"
  grep -hE '^test result|panicked|FAILED' "$out/$t.log"
done
l=$(left); if [ "$l" -gt 60 ]; then
  timeout 50 $B/cubeaudio bench --backend cuda --rig $R/amp_cab.json --latency-buffers 1000 --min-instances 2000 --max-instances 2000 --buffers 128 --phase-groups 1 --nam-streams program --out "$out/exact2000" > "$out/exact2000.log" 2>&1
  echo "2000 rc=$?"; grep -E "frames|host|One instance" "$out/exact2000.log" | cut -c1-400
fi
echo "seconds left: $(left)"
l=$(left); if [ "$l" -gt 30 ]; then
  CUBEAUDIO_SHARED="$PWD/.carry/shared" CUBEAUDIO_EXAMPLES="$PWD/.carry/examples" timeout $(( l - 5 < 120 ? l - 5 : 120 )) $B/nam-graph --nocapture --test-threads=1 \
    cuda::amp_and_cab_rigs_run_in_one_launch cuda::graph_instances_equal_the_cpu_engine cuda::every_column_shape_runs_as_a_stream cuda::many_instances_share_cubes > "$out/nam-graph-cuda.log" 2>&1
  echo "nam-graph (cuda subset) rc=$?"; grep -hE '^test result|panicked' "$out/nam-graph-cuda.log" | cut -c1-200
fi
tar czf /tmp/all.tgz -C "$out" . && mv /tmp/all.tgz "$out/0-all.tgz"
