#!/usr/bin/env bash
# The plugin as a DAW loads it: scripts/bundle-plugin.sh, then cubeaudio-clap-host loads the
# .clap bundle and runs 1, 8 and 64 instances on the CPU engine and on wgpu (lavapipe in CI),
# checking each against `cubeaudio render`, one launch per cycle on a GPU, and state
# save/restore; then the editor, opened in an X11 window under Xvfb as a DAW embeds it. A wgpu
# run without an adapter (or an editor run without Xvfb) fails under CI=true and is skipped
# loudly elsewhere. Usage: scripts/plugin-test.sh [MODEL]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cubeaudio-target}"
model="${1:-../shared/nam/models/core_wavenet.nam}"
bundle="$(bash scripts/bundle-plugin.sh | sed -n 1p)"  # sed reads on: `head -1` could SIGPIPE the bundler (exit 141)
cargo build --release -q -p cubeaudio-clap-host
host="$CARGO_TARGET_DIR/release/cubeaudio-clap-host"
run() {
    echo "+ CUBEAUDIO_BACKEND=$1 cubeaudio-clap-host --instances $2 --cycles $3 --compare $4"
    CUBEAUDIO_BACKEND="$1" "$host" --bundle "$bundle" --model "$model" --instances "$2" --cycles "$3" --compare "$4"
}
for n in 1 8 64; do run cpu "$n" 3000 "$n"; done
# Host automation moves `slim` mid-run: the model reloads in the background and the plugin
# crossfades to it once settled; with the same model the output stays bit-exact.
echo "+ CUBEAUDIO_BACKEND=cpu cubeaudio-clap-host --instances 4 --cycles 1500 --compare 4 --reload-at 500"
CUBEAUDIO_BACKEND=cpu "$host" --bundle "$bundle" --model "$model" --instances 4 --cycles 1500 --compare 4 --reload-at 500
# lavapipe emulates the GPU on the CPU (~45 ms per cycle for 64 instances): fewer cycles there.
if CUBEAUDIO_BACKEND=wgpu "$host" --bundle "$bundle" --model "$model" --instances 1 --cycles 2000 --compare 1; then
    run wgpu 8 2000 8
    run wgpu 64 300 8
    # A model change on the GPU: the new instance joins the shared engine while the old one
    # plays, then the crossfade; within tolerance of render throughout.
    echo "+ CUBEAUDIO_BACKEND=wgpu cubeaudio-clap-host --instances 2 --cycles 300 --compare 2 --reload-at 100"
    CUBEAUDIO_BACKEND=wgpu "$host" --bundle "$bundle" --model "$model" --instances 2 --cycles 300 --compare 2 --reload-at 100
elif [ "${CI:-}" = true ]; then
    echo "the plugin on wgpu failed (CI requires a wgpu adapter: lavapipe)" >&2
    exit 1
else
    echo "SKIPPED: the plugin on wgpu (no adapter here?)" >&2
fi
# The editor (CLAP GUI extension, embedded in the host's X11 window) open while 2 instances
# play in real time: it must draw (its pixels are checked) and close cleanly, with 0 allocations
# in process and outputs still equal to render.
if command -v xvfb-run >/dev/null; then
    echo "+ xvfb-run cubeaudio-clap-host --editor (CPU engine, real time)"
    CUBEAUDIO_BACKEND=cpu xvfb-run -a -s "-screen 0 1024x768x24" "$host" --bundle "$bundle" --model "$model" \
        --instances 2 --cycles 1000 --realtime --compare 2 --editor
elif [ "${CI:-}" = true ]; then
    echo "the plugin editor test needs xvfb-run (CI installs xvfb)" >&2
    exit 1
else
    echo "SKIPPED: the plugin editor (no xvfb-run here)" >&2
fi
