#!/usr/bin/env bash
# Fuzzes the parsers users feed files to (docs/FUZZING.md): the .nam loader, the rig parser,
# the WAV reader. Usage: scripts/fuzz.sh [SECONDS per target, default 600] [targets...]
# Needs a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). Runs without a
# sanitizer (safe Rust: what is hunted is panics, hangs and runaway memory): every input must
# finish within 10 s and 2 GB. Seed corpora come from ../shared and the examples; crashes land
# in fuzz/artifacts/<target>/ and fail the run.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-600}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(nam_loader rig_parser wav_reader)
shared="${CUBEAUDIO_SHARED:-../shared}"
export CARGO_TARGET_DIR="${CUBEAUDIO_FUZZ_TARGET:-$HOME/.cache/cubeaudio-fuzz-target}"
corpus="$CARGO_TARGET_DIR/corpus"
mkdir -p "$corpus"/{nam_loader,rig_parser,wav_reader}
cp -n "$shared"/nam/models/*.nam "$shared"/nam/real/models/*.nam "$corpus/nam_loader/" 2>/dev/null || true
cp -n cli/examples/models/*.nam "$corpus/nam_loader/" 2>/dev/null || true
# Sequential seeds (no such file ships in ../shared): a WaveNet then an FIR, and that chain nested.
python3 - "$shared/nam/models" "$corpus/nam_loader" <<'PY'
import json, sys
models, out = sys.argv[1], sys.argv[2]
load = lambda name: json.load(open(f"{models}/{name}"))
chain = lambda ms: {"version": "0.7.0", "architecture": "Sequential", "config": {"models": ms}, "weights": [], "sample_rate": 48000}
amp_cab = chain([load("core_wavenet.nam"), load("trainer_identity_linear_10.nam")])
json.dump(amp_cab, open(f"{out}/seed_sequential.nam", "w"))
json.dump(chain([amp_cab, load("trainer_identity_linear_1.nam")]), open(f"{out}/seed_sequential_nested.nam", "w"))
PY
cp -n cli/examples/rigs/*.json "$corpus/rig_parser/"
cp -n cli/examples/audio/*.wav "$corpus/wav_reader/" 2>/dev/null || true
for t in "${targets[@]}"; do
    echo "== $t: ${seconds} s ($(date -u +%FT%TZ))"
    cargo +nightly fuzz run -s none -O "$t" "$corpus/$t" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=1048576 -print_final_stats=1 2>&1 |
        grep -E '^(stat::|==|INFO: seed corpus|Done|#[0-9]+ +DONE)|panicked|ERROR|SUMMARY|crash-|timeout-|oom-' || true
    if ls fuzz/artifacts/"$t"/ 2>/dev/null | grep -q .; then
        echo "$t: failures in fuzz/artifacts/$t/" >&2
        exit 1
    fi
done
