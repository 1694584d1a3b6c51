#!/usr/bin/env bash
# The plugin's own heap at the process's peak, measured with heaptrack (Debian: apt-get install heaptrack):
# every allocation made by the plugin or by the ONNX Runtime it loaded counts as the plugin's, everything the
# headless host allocates (decoded inputs, the images it hands the plugin, results) as the host's, whoever
# called it (a fetch of an input image through the host's suite is the host's buffer).
#
#   tests/reliability/memory.sh WxH THREADS [FRAMES]      e.g. 1920x1080 1, 1920x1080 8, 8192x8192 1 2
#
# Uses the release bundle and ofx-render (built here), the demo portrait stretched to WxH and the demo track.
set -euo pipefail
cd "$(dirname "$0")/../.."
size=${1:-1920x1080}; threads=${2:-1}; frames=${3:-16}
command -v heaptrack >/dev/null || { echo "memory.sh needs heaptrack (apt-get install heaptrack)" >&2; exit 1; }
target=${CARGO_TARGET_DIR:-target}
cargo run -q --release -p installer -- bundle >/dev/null
cargo build -q --release -p ofx --bin ofx-render
out=$(mktemp -d)
heaptrack -o "$out/trace" "$target/release/ofx-render" --plugin-path "$target" \
    --plugin org.livingportrait.LivingPortrait --input Source=resources/demo/astronaut.png \
    --input-resize "Source=$size" --param driveMode=trackFile --param trackFile=resources/demo/track.json \
    --frames "1-$frames" --bench --threads "$threads" | grep -E "first frame|per frame, median" || true
heaptrack_print -m 0 -n 100000 -p 1 -a 0 -t 0 -l 0 "$out"/trace.* 2>/dev/null | python3 tests/reliability/heap_peak.py
rm -rf "$out"
