#!/usr/bin/env bash
# The editor screenshot in docs/PLUGIN.md: cubeaudio-clap-host opens instance 0's editor under
# Xvfb while 8 instances render offline through one launch per cycle (wgpu: lavapipe here, the
# GPU elsewhere) and saves the window as docs/images/plugin-editor.png.
# Usage: scripts/editor-screenshot.sh [MODEL] [BACKEND]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cubeaudio-target}"
model="${1:-../shared/nam/models/core_wavenet.nam}"
backend="${2:-wgpu}"
bundle="$(bash scripts/bundle-plugin.sh | sed -n 1p)"  # sed reads on: `head -1` could SIGPIPE the bundler (exit 141)
cargo build --release -q -p cubeaudio-clap-host
mkdir -p docs/images
CUBEAUDIO_BACKEND="$backend" xvfb-run -a -s "-screen 0 1024x768x24" "$CARGO_TARGET_DIR/release/cubeaudio-clap-host" \
    --bundle "$bundle" --model "$model" --instances 8 --cycles 400 --compare 1 --screenshot docs/images/plugin-editor.png
