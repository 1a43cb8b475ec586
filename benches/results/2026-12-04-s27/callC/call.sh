#!/usr/bin/env bash
# Session 27, call C2: the one columns case no call has finished on CUDA (pel_w32x12, 530
# streams at 128 frames), alone; beside it nam-graph on CUDA and Vulkan with the interleaving
# program (every test but every_column_shape_runs_as_a_stream, which passed this session in call A
# on the same columns code, 300 s).
out="$1"; B=/tmp/cubeaudio-bin; date -u > "$out/date.txt"
CUBEAUDIO_COLUMNS_ONLY=pel_w32x12:8 CUBEAUDIO_SHARED="$PWD/.carry/shared" timeout ${CASE_LIMIT:-300} $B/gpu-nam --nocapture --test-threads=1 --exact columns::cuda::run >"$out/columns-cuda-pel_w32x12-8.log" 2>&1 &
p1=$!
CUBEAUDIO_SHARED="$PWD/.carry/shared" CUBEAUDIO_EXAMPLES="$PWD/.carry/examples" timeout ${CASE_LIMIT:-300} $B/nam-graph --nocapture --test-threads=1 \
  --skip example_rigs --skip an_overflow_inside_a_graph --skip rig_bench_runs_from_the_command_line --skip every_column_shape_runs_as_a_stream >"$out/nam-graph.log" 2>&1 &
p2=$!
s=0; wait $p1 || s=1; echo "columns case rc=$?"; wait $p2 || s=1
date -u >> "$out/date.txt"
grep -hE "columns kernel,|test result|panicked" "$out/columns-cuda-pel_w32x12-8.log" | cut -c1-260
grep -hE "^test |test result|panicked" "$out/nam-graph.log" | cut -c1-200
exit $s
