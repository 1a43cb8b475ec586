#!/usr/bin/env bash
# Builds the plugin and lays out its bundles: cubeaudio-nam.clap (the shared library under the
# CLAP name) and cubeaudio-nam.vst3 (the VST3 bundle layout for this platform), in
# $CARGO_TARGET_DIR/bundles or the folder given. docs/PLUGIN.md says where they go.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cubeaudio-target}"
out="${1:-$CARGO_TARGET_DIR/bundles}"
cargo build --release -q -p cubeaudio-plugin
case "$(uname -s)" in
    Linux) lib=libcubeaudio_plugin.so; arch="$(uname -m)-linux"; ext=so ;;
    Darwin) lib=libcubeaudio_plugin.dylib; arch=MacOS; ext=dylib ;;
    *) lib=cubeaudio_plugin.dll; arch="$(uname -m)-win"; ext=vst3 ;;
esac
mkdir -p "$out"
rm -rf "$out/cubeaudio-nam.clap" "$out/cubeaudio-nam.vst3"
cp "$CARGO_TARGET_DIR/release/$lib" "$out/cubeaudio-nam.clap"
mkdir -p "$out/cubeaudio-nam.vst3/Contents/$arch"
cp "$CARGO_TARGET_DIR/release/$lib" "$out/cubeaudio-nam.vst3/Contents/$arch/cubeaudio-nam.$ext"
echo "$out/cubeaudio-nam.clap"
echo "$out/cubeaudio-nam.vst3"
