#!/usr/bin/env bash
# Runs the kernel suite (and, with BENCH=1, the GPU benchmarks) on the GPU machine, on CUDA and on Vulkan (NVIDIA ICD), through both the
# SPIR-V and the WGSL compilers, from binaries built here by scripts/pack-device.sh.
#
# Expects, in the repository root on the GPU machine: .carry/*.xz (the binaries) and .gl/*.deb
# (the Vulkan loader; see docs/DEVICE.md). Writes logs to $OUT (or ./device-out).
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-device-out}"
mkdir -p "$out" /tmp/cubeaudio-bin

for f in .gl/*.deb; do dpkg -x "$f" / ; done
ldconfig
export CUDA_PATH=/usr/local/cuda
export LD_LIBRARY_PATH="/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
# xz through Python's lzma/tarfile: the GPU machine's image need not have xz-utils.
unxz_to() { python3 -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"; }
for f in .carry/*.xz; do unxz_to "$f" "/tmp/cubeaudio-bin/$(basename "$f" .xz)"; done
[ -f .carry/cuda-src.tgz ] && tar xzf .carry/cuda-src.tgz -C /tmp/cubeaudio-bin
# The core's references travel compressed; tests and benches read them from .carry/shared.
[ -f .carry/shared.txz ] && python3 -c 'import sys,tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' .carry/shared.txz .carry
chmod +x /tmp/cubeaudio-bin/*

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/device.txt"

status=0
# A binary pack-device.sh did not pack (KERNELS_ONLY=1, PLUGIN=…) is named, never silently passed.
packed() {
    [ -x "/tmp/cubeaudio-bin/$1" ] && return 0
    echo "NOT PACKED, NOT RUN: $1" | tee -a "$out/not-run.txt"
    return 1
}
# Both runtimes are required here: a missing device is a failure, not a skip.
export CUBEAUDIO_REQUIRE=cuda,wgpu
# TESTS=0 skips the test binaries (a benchmark-only call). The suites are compile-bound (NVRTC
# and the SPIR-V pipeline per kernel, on the host's cores), so they run as groups side by side;
# each group's binaries in turn. TEST_LIMIT=S stops every group S seconds after the tests start
# (the device call's own limit would otherwise kill the call and lose the logs): a group stopped
# so is a failure and is named in timed-out.txt, never a pass.
if [ "${TESTS:-1}" = 1 ]; then
b=/tmp/cubeaudio-bin
tests_start=$(date +%s)
# Runs "$@" with what is left of TEST_LIMIT; a run stopped by it is recorded under $name.
limited() {
    local name=$1; shift
    if [ -n "${TEST_LIMIT:-}" ]; then
        local left=$(( TEST_LIMIT - ($(date +%s) - tests_start) ))
        if [ "$left" -le 0 ]; then echo "TIMED OUT (not started): $name" | tee -a "$out/timed-out.txt"; return 1; fi
        timeout "$left" "$@"; local rc=$?
        [ "$rc" = 124 ] && echo "TIMED OUT after ${TEST_LIMIT} s: $name" | tee -a "$out/timed-out.txt"
        return $rc
    fi
    "$@"
}
pids=()
# The kernel suites: CUDA + Vulkan through SPIR-V, then Vulkan through WGSL.
( s=0
  packed suite-spirv && { limited suite-spirv $b/suite-spirv --nocapture --test-threads=4 >"$out/suite-cuda-spirv.log" 2>&1 || s=1; }
  packed suite-wgsl && { limited suite-wgsl $b/suite-wgsl --nocapture --test-threads=4 >"$out/suite-wgsl.log" 2>&1 || s=1; }
  exit $s ) &
pids+=($!)
# The GPU NAM engines (nam/tests/gpu/): the core's references (convolutional and LSTM),
# ConvNet/Linear/post-stack heads against the CPU engine, streams joining and leaving, faults.
# The columns suite compiles a kernel per shape and case (NVRTC or the Vulkan driver, up to
# 145 s a case for the widest shapes): on each runtime it runs as COLUMNS_SHARDS processes
# (CUBEAUDIO_COLUMNS_SHARD=K/N, cases balanced by their shape's cost; 0: not run, and said), the rest of
# gpu-nam in one more; every process must pass.
if packed gpu-nam; then
    shards="${COLUMNS_SHARDS:-8}"
    gpunam=(env CUBEAUDIO_SHARED="$PWD/.carry/shared" $b/gpu-nam --nocapture --test-threads=1)
    [ "$shards" = 0 ] && echo "NOT RUN: gpu-nam columns::{cuda,wgpu}::run (COLUMNS_SHARDS=0)" | tee -a "$out/not-run.txt"
    for rt in cuda wgpu; do
        for k in $(seq 0 $((shards - 1))); do
            CUBEAUDIO_COLUMNS_SHARD="$k/$shards" limited "gpu-nam columns $rt shard $k/$shards" "${gpunam[@]}" --exact columns::$rt::run >"$out/gpu-nam-columns-$rt-$k.log" 2>&1 &
            pids+=($!)
        done
    done
    limited gpu-nam "${gpunam[@]}" --skip columns::cuda::run --skip columns::wgpu::run ${GPUNAM_ARGS:-} >"$out/gpu-nam.log" 2>&1 &
    pids+=($!)
fi
# Processing graphs (runtime built-ins, the audio-thread bridge, NAM in a graph) on CUDA and
# Vulkan, then the two example rigs through the CLI on CUDA (the tests that run the CLI binary
# by its build path are skipped: it is not there; CI runs them on lavapipe).
( s=0
  for t in graph-gpu graph-realtime ir-gpu pedals-gpu; do
      packed $t && { limited $t $b/$t --nocapture --test-threads=1 >"$out/$t.log" 2>&1 || s=1; }
  done
  if packed nam-graph; then
      CUBEAUDIO_SHARED="$PWD/.carry/shared" CUBEAUDIO_EXAMPLES="$PWD/.carry/examples" limited nam-graph $b/nam-graph --nocapture --test-threads=1 \
          --skip example_rigs --skip an_overflow_inside_a_graph --skip rig_bench_runs_from_the_command_line >"$out/nam-graph.log" 2>&1 || s=1
  fi
  if packed cubeaudio; then
      for rig in amp_cab dual_amp; do
          limited "rig $rig" $b/cubeaudio graph --config .carry/examples/rigs/$rig.json --input .carry/di_guitar.wav \
              --output "/tmp/$rig.wav" >"$out/rig-$rig.log" 2>&1 || s=1
          tail -1 "$out/rig-$rig.log" >>"$out/rigs.log"
      done
  fi
  exit $s ) &
pids+=($!)
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
echo "tests took $(( $(date +%s) - tests_start )) s"
grep -hE '^\[(gpu-(nam|arch|faults)|device-test)\]|^test result|panicked' "$out"/gpu-nam*.log 2>/dev/null | cut -c1-240
grep -hE '^\[device-test\]|^test result|panicked' "$out"/graph-gpu.log "$out"/graph-realtime.log "$out"/ir-gpu.log "$out"/pedals-gpu.log "$out"/nam-graph.log 2>/dev/null
grep -hE '^\[(graph|pedals)-test\].*launches' "$out/graph-gpu.log" "$out/pedals-gpu.log" 2>/dev/null | cut -c1-200
grep -hE '^\[close\]' "$out/ir-gpu.log" 2>/dev/null
cat "$out/rigs.log" 2>/dev/null
fi

if [ "${NAMBENCH:-0}" = 1 ]; then
    # NAM streams per GPU, latency, offline throughput, ceilings (docs/PERFORMANCE.md). First the
    # one-stream latency through cubecl's copies (CUBEAUDIO_TRANSFERS=cubecl) against the default
    # (the batch's page-locked transfer slots), then every model with the defaults.
    m=.carry/shared/nam/models
    CUBEAUDIO_TRANSFERS=cubecl /tmp/cubeaudio-bin/cubeaudio bench --backend cuda --model standard=.carry/clean.nam \
        --buffers 64 --max-streams 1 --single-file-seconds 0 --latency-buffers "${LATENCY_BUFFERS:-100000}" --out "$out/nam-bench-cubecl-copies" 2>"$out/nam-bench-cubecl-copies.log" || status=1
    p=.carry/presets
    /tmp/cubeaudio-bin/cubeaudio bench --backend cuda --model standard=.carry/clean.nam \
        --model lite=$p/lite.nam --model feather=$p/feather.nam --model nano=$p/nano.nam \
        --model a2_full=$m/core_A2.nam --model a2_lite=$m/core_A2.nam@0.25 --model lstm_3x18=$p/lstm_3x18.nam \
        --buffers "${BENCH_BUFFERS:-64,128}" --distinct 64 --latency-buffers "${LATENCY_BUFFERS:-100000}" \
        --out "$out/nam-bench" 2>"$out/nam-bench.log" || status=1
    # The same GPU through Vulkan (standard model, 128 frames, and the long file).
    /tmp/cubeaudio-bin/cubeaudio bench --backend vulkan --model standard=.carry/clean.nam --buffers 128 \
        --latency-buffers 20000 --out "$out/nam-bench-vulkan" 2>"$out/nam-bench-vulkan.log" || status=1
    # Where the standard model's round trip goes on the host (docs/PERFORMANCE.md, twentieth).
    if packed host_steps; then
        /tmp/cubeaudio-bin/host_steps --model .carry/clean.nam --streams 1,256,1024,2048 >"$out/host-steps.log" 2>&1 || status=1
    fi
    # The anchor: PyTorch running the standard WaveNet as a user would, in the same call.
    for mode in "stream_rt .carry/clean.nam 64,128" "latency .carry/clean.nam" "offline .carry/clean.nam"; do
        echo "== torch_nam.py $mode" >>"$out/anchor.log"
        python3 .carry/torch_nam.py $mode >>"$out/anchor.log" 2>&1 || status=1
    done
    tail -40 "$out/anchor.log"
    grep -hE "ceilings|latency|single file|offline" "$out/nam-bench-cubecl-copies.log" "$out/nam-bench.log" "$out/nam-bench-vulkan.log"
fi

if [ "${LONG:-0}" = 1 ]; then
    # A 10-minute guitar-like file through the standard model on CUDA, Vulkan and the CPU engine;
    # the GPU renders must match the CPU render.
    python3 - <<'PY'
import numpy as np, wave
w = wave.open('.carry/di_guitar.wav'); x = np.frombuffer(w.readframes(w.getnframes()), dtype='<i2').astype(np.float32) / 32768
reps = int(np.ceil(600 * 48000 / len(x))); rng = np.random.default_rng(7)
y = np.concatenate([x * rng.uniform(0.3, 1.0) for _ in range(reps)])[: 600 * 48000]
o = wave.open('/tmp/ten-minutes.wav', 'wb'); o.setnchannels(1); o.setsampwidth(2); o.setframerate(48000)
o.writeframes((np.clip(y, -1, 1) * 32767).astype('<i2').tobytes()); o.close()
PY
    # GPUs time-split the file (the default); cuda-stream walks it as one stream. The CPU engine
    # on every core (the default) and on one thread: the same bytes, and how it scales.
    for b in cuda vulkan cuda-stream cpu cpu-1thread; do
        flags="--backend ${b%-*}"; [ "$b" = cuda-stream ] && flags="$flags --stream"
        [ "$b" = cpu-1thread ] && flags="$flags --threads 1"
        echo -n "$b: " >>"$out/ten-minutes.log"
        /tmp/cubeaudio-bin/cubeaudio render --model .carry/clean.nam --input /tmp/ten-minutes.wav --output /tmp/ten-$b.wav $flags --buffer 512 2>&1 | tail -1 | tee -a "$out/ten-minutes.log"
    done
    python3 - <<'PY' | tee -a "$out/ten-minutes.log"
import numpy as np, wave
def read(p):
    w = wave.open(p) if False else None
    import struct
    data = open(p, 'rb').read(); i = data.find(b'data'); n = struct.unpack('<I', data[i+4:i+8])[0]
    return np.frombuffer(data[i+8:i+8+n], dtype='<f4')
cpu = read('/tmp/ten-cpu.wav'); peak = np.abs(cpu).max()
for b in ['cuda', 'vulkan', 'cuda-stream']:
    g = read(f'/tmp/ten-{b}.wav'); err = np.abs(g - cpu).max()
    print(f'{b} vs cpu over {len(cpu)/48000:.0f} s: max |err| {err:.3e}, peak {peak:.3f}, relative {err/max(1,peak):.3e}')
PY
    cmp /tmp/ten-cpu.wav /tmp/ten-cpu-1thread.wav && echo "cpu on every core = cpu on one thread, byte for byte" | tee -a "$out/ten-minutes.log" || status=1
    nproc | sed 's/^/cores: /' | tee -a "$out/ten-minutes.log"
fi

if [ "${PLUGIN:-0}" = 1 ]; then
    # The live engine (nam/tests/live.rs) on CUDA and Vulkan, then the plugin bundle in the CLAP
    # test host: offline correctness on CUDA for 1, 8, 64 instances of the standard model, then
    # real time (cycles paced at the buffer) for 64 instances over 10,000 cycles at 128 frames,
    # and larger counts at 64 and 128 frames (docs/PLUGIN.md, docs/PERFORMANCE.md).
    b=/tmp/cubeaudio-bin
    CUBEAUDIO_SHARED="$PWD/.carry/shared" $b/nam-live --nocapture --test-threads=1 >"$out/nam-live.log" 2>&1 || status=1
    grep -E '^test |live engine on|against|fallback' "$out/nam-live.log"
    host() { CUBEAUDIO_BACKEND=cuda $b/cubeaudio-clap-host --bundle $b/cubeaudio-nam.clap --model .carry/clean.nam "$@"; }
    for n in 1 8 64; do host --instances $n --cycles 2000 --compare 8 >>"$out/plugin.log" 2>&1 || status=1; done
    host --instances 64 --cycles 10000 --buffer 128 --realtime --compare 8 --json "$out/plugin-64-128.json" >>"$out/plugin.log" 2>&1 || status=1
    for buffer in 64 128; do
        for n in ${PLUGIN_COUNTS:-128 256 512 1024}; do
            host --instances $n --cycles 2000 --buffer $buffer --realtime --compare 0 --json "$out/plugin-$n-$buffer.json" >>"$out/plugin.log" 2>&1 || true
        done
    done
    grep -E 'instances of|cycles of|engine:|against|restored|^ok|Error' "$out/plugin.log" | cut -c1-200
fi

# The IR convolution crossover (direct form against the partitioned convolver), CUDA and Vulkan.
if [ "${IRBENCH:-0}" = 1 ]; then
    /tmp/cubeaudio-bin/ir_crossover --runtime cuda --out "$out/ir-crossover-cuda" >"$out/ir-crossover-cuda.log" 2>&1 || status=1
    /tmp/cubeaudio-bin/ir_crossover --runtime wgpu --out "$out/ir-crossover-vulkan" >"$out/ir-crossover-vulkan.log" 2>&1 || status=1
fi

# What fusing graphs buys: the example rigs under each fusion mode, the pedal stage's packed
# against creation-order layout (1 and 1,000 instances), CUDA and Vulkan.
if [ "${RIGBENCH:-0}" = 1 ]; then
    rigs=cli/examples/rigs/pedals.json,cli/examples/rigs/pedalboard.json,cli/examples/rigs/amp_cab.json,cli/examples/rigs/dual_amp.json
    for rt in cuda wgpu; do
        /tmp/cubeaudio-bin/rig_fusion --runtime $rt --rigs $rigs --out "$out/rig-fusion-$rt" >"$out/rig-fusion-$rt.log" 2>&1 || status=1
        grep -vE '^\|' "$out/rig-fusion-$rt.log" | cut -c1-200
    done
    # `cubeaudio bench --rig`: instances held in real time and one instance's latency.
    if packed cubeaudio; then
        for rig in ${RIGBENCH_RIGS:-amp_cab pedals}; do
            /tmp/cubeaudio-bin/cubeaudio bench --backend cuda --rig cli/examples/rigs/$rig.json --buffers 64,128 \
                --latency-buffers ${RIG_LATENCY_BUFFERS:-100000} --out "$out/rig-bench-$rig" >"$out/rig-bench-$rig.log" 2>&1 || status=1
            grep -E 'instances:|Held|One instance' "$out/rig-bench-$rig.log" | cut -c1-200
        done
    fi
fi

# Measurements of one session (knob sweeps), with the binaries unpacked above: EXTRA="cmd".
if [ -n "${EXTRA:-}" ]; then
    bash -c "$EXTRA" || status=1
fi

# The generated CUDA C++ of every kernel must compile for Hopper (codegen-tests snapshots).
if [ "${NVCC:-1}" = 1 ]; then
nvcc_ok=0; nvcc_fail=0
for src in /tmp/cubeaudio-bin/cuda-src/*.cu; do
    if /usr/local/cuda/bin/nvcc -arch=sm_90 -std=c++17 -c "$src" -o /tmp/cubeaudio-bin/kernel.o >>"$out/nvcc.log" 2>&1; then
        nvcc_ok=$((nvcc_ok + 1))
    else
        nvcc_fail=$((nvcc_fail + 1)); echo "nvcc FAILED: $src" | tee -a "$out/nvcc.log"; status=1
    fi
done
echo "nvcc sm_90: $nvcc_ok compiled, $nvcc_fail failed" | tee -a "$out/nvcc.log"
fi

if [ "${BENCH:-0}" = 1 ]; then
    # Packer layouts on the GPU (docs/PERFORMANCE.md); needs `PACKER=1 bash scripts/pack-device.sh`.
    /tmp/cubeaudio-bin/gpu_packer_bench --runtime cuda --out "$out/packer-cuda" >"$out/bench-packer-cuda.log" 2>&1 || status=1
    /tmp/cubeaudio-bin/gpu_packer_bench --runtime wgpu --out "$out/packer-vulkan" >"$out/bench-packer-vulkan.log" 2>&1 || status=1
    cat "$out"/bench-packer-*.log
fi

for log in "$out"/suite-*.log; do
    [ -f "$log" ] || continue
    echo "== $(basename "$log")"
    grep -E '^test result|FAILED|panicked' "$log" | head -20
    grep -o 'runtime [^|]* | adapter [^(]*' "$log" | sort | uniq -c
done
# The device tool brings back only a few files of $out: everything goes back as one archive.
if [ "${PACK_OUT:-1}" = 1 ]; then
    tar czf /tmp/device-out.tgz -C "$out" . && find "$out" -mindepth 1 -delete && mv /tmp/device-out.tgz "$out/all.tgz"
fi
exit $status
