#!/usr/bin/env bash
# Call R (session 21), after the CUDA and Vulkan suites of this call (binaries of the final
# code: the graph program launched unchecked): amp_cab at 128 frames in one launch (program),
# unchecked against checked (cubeaudio_checked: the previous commit), with phase groups; PyTorch's
# stream_rt beside it; NAM amps inside the program on CUDA against the CPU engine; four launches
# (batch) with phase groups if time is left.
out="$1"; B=/tmp/cubeaudio-bin; R=.carry/examples/rigs
date -u > "$out/date.txt"
left() { echo $(( ${LIMIT:-565} - ($(date +%s) - T0) )); }
echo "seconds left for the benches: $(left)"
rig() { # name, limit, binary, mode, phase groups, max instances
  timeout "$2" $B/$3 bench --backend cuda --rig $R/amp_cab.json --latency-buffers 1000 --min-instances 256 --max-instances $6 --buffers 128 --phase-groups $5 --nam-streams $4 --out "$out/$1" > "$out/$1.log" 2>&1
  echo "$1 rc=$?"; grep -E "frames|Held" "$out/$1.log" | cut -c1-200
}
l=$(left); [ "$l" -gt 30 ] && rig program $(( l > 120 ? 70 : l - 5 )) cubeaudio program 2,4 2048
l=$(left); [ "$l" -gt 30 ] && rig program-checked $(( l > 100 ? 45 : l - 5 )) cubeaudio_checked program 1 1024
l=$(left); if [ "$l" -gt 30 ]; then
  timeout $(( l - 5 < 50 ? l - 5 : 50 )) python3 .carry/torch_nam.py stream_rt .carry/clean.nam 128 > "$out/torch-stream_rt.log" 2>&1; echo "torch rc=$?"; tail -4 "$out/torch-stream_rt.log"
fi
# NAM amps inside the unchecked program on CUDA (the full nam-graph binary does not fit this
# call's device time; CI runs it on lavapipe): amp+cab rigs, instances, every columns shape, G > 1.
l=$(left); if [ "$l" -gt 30 ]; then
  CUBEAUDIO_SHARED="$PWD/.carry/shared" CUBEAUDIO_EXAMPLES="$PWD/.carry/examples" timeout $(( l - 5 < 100 ? l - 5 : 100 )) $B/namgraph-sel --nocapture --test-threads=1 \
    cuda::amp_and_cab_rigs_run_in_one_launch cuda::graph_instances_equal_the_cpu_engine cuda::every_column_shape_runs_as_a_stream cuda::many_instances_share_cubes > "$out/nam-graph-cuda.log" 2>&1
  echo "nam-graph (cuda subset) rc=$?"; grep -hE '^\[device-test\]|^test |^test result|panicked' "$out/nam-graph-cuda.log" | cut -c1-200
fi
l=$(left); [ "$l" -gt 40 ] && rig batch $(( l - 8 < 70 ? l - 8 : 70 )) cubeaudio batch 2,4 2048
tar czf "$out/0-all.tgz" -C "$out" --exclude 0-all.tgz .
